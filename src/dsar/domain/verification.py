"""Identity verification policy: what proves a requester is the subject, and how a one-time
code is judged. Pure: the services store challenges, send letters and read the clock.

This build has one proof: possession of the mailbox the request gave first, shown by an
8-digit code sent there. Only that verified address is then searched (never the other
identifiers given), so a request naming someone else's address finds nothing unless the
requester can read that mailbox (docs/threats.md, scenarios 1, 2 and 9). A request with
no email cannot get a code and is held for a person to verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dsar.domain.request import PrivacyRequest

CODE_DIGITS = 8
NO_EMAIL_HOLD = "no email for a one-time code: verify by hand"
CODE_REASON = "one-time code to the email given"
UNVERIFIABLE = "identity could not be verified"


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    EXHAUSTED = "exhausted"
    NOT_WAITING = "not_waiting"
    MORE_PROOF = "more_proof"  # the code was right; the level needs more (the web pages ask for it)


@dataclass(frozen=True)
class VerificationPolicy:
    """How long a code stays valid (people read mail late: at least 3 days) and how many
    wrong codes are allowed before the request is refused as unverifiable."""

    code_ttl_hours: int = 72
    max_attempts: int = 5

    def expires(self, issued: datetime) -> datetime:
        return issued + timedelta(hours=self.code_ttl_hours)

    def attempts_left(self, attempts: int) -> int:
        return max(0, self.max_attempts - attempts)

    def judge(self, challenge: Challenge, now: datetime, *, code_matches: bool) -> VerificationOutcome:
        """The outcome of one attempt. A used, expired or exhausted challenge never verifies;
        the last allowed wrong code, or any attempt after expiry, ends in EXHAUSTED."""
        usable = challenge.consumed_at is None and now <= challenge.expires_at and challenge.attempts < self.max_attempts
        if usable and code_matches:
            return VerificationOutcome.VERIFIED
        if challenge.attempts + 1 >= self.max_attempts or now > challenge.expires_at:
            return VerificationOutcome.EXHAUSTED
        return VerificationOutcome.WRONG_CODE


@dataclass(frozen=True)
class Challenge:
    """One code sent to the subject (stored only as a keyed digest)."""

    id: int
    channel: str
    code_digest: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    consumed_at: datetime | None


def code_channel(request: PrivacyRequest) -> str | None:
    """Where a one-time code can go: the first email given, or nowhere."""
    return request.subject.primary_email


def correction_disputes_proof(request: PrivacyRequest) -> bool:
    """11 CCR 7060: verify a correction with data other than the data disputed. The code went
    to an email; a correction of the email needs a person to verify by other means."""
    return any(c.attribute == "email" for c in request.corrections)
