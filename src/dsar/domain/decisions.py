"""Decisions people make on a request: legal's sign-off, an extension, a manual step's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

SIGN_OFF_STEP = "release"
EXTENSION_STEP = "extension"
# Why a request was denied, whoever denied it (legal at sign-off, or failed verification): the
# denial letter states it (GDPR Art. 12(4)) without reading the audit trail back.
DENIAL_STEP = "denial"


def manual_step_key(system: str) -> str:
    """The decision step under which a manual system's confirmation is stored."""
    return f"manual:{system}"


class SignOffDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    """Who decided what, when; ``note`` is sealed at rest."""

    step: str
    decision: str
    approver: str
    note: str | None
    at: datetime
