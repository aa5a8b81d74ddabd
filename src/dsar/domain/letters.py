"""Letters to the subject: which one a request gets, and the record that one was sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dsar.domain.regimes import RequestType

RESPONSE_LETTER = {
    RequestType.ACCESS: "access_response",
    RequestType.DELETION: "deletion_response",
    RequestType.CORRECTION: "correction_response",
}
DENIAL_LETTER = "denial"
EXTENSION_LETTER = "extension"
VERIFICATION_LETTER = "verification_code"


def message_id(reference: str, kind: str) -> str:
    """Deterministic per request and letter: sending the same letter twice is a no-op."""
    return f"{reference}.{kind}@dsar"


@dataclass(frozen=True)
class SentLetter:
    kind: str
    template: str
    message_id: str
    at: datetime
