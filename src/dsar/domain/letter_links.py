"""Letters for a subject who can be reached by text message only (issue 17): no email on file,
a phone number on file that a text can go to. Such a subject's letters are not lost (before,
they went nowhere: ``LetterSent`` with channel ``none``): the letter is rendered and kept sealed
as usual, and a text message carries a link to it. The link opens a page on the web app that
sends a fresh one-time code by text to the same number and, with the code, shows the letter's
PDF. Nothing personal travels in the text (the reference, the organisation, the link).

The rules here are pure: the link's form, how long it works, and how a code is judged. The
state (codes sent, wrong codes, openings) is the request's audit events, as escalations are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dsar.domain.events import AuditEvent, JsonValue

LINK_DAYS = 30  # a letter's link works this long after the letter went (or after it was renewed)
CODE_TTL = timedelta(minutes=15)
CODE_DIGITS = 6
CODES_PER_LETTER = 10  # codes one letter's link may ask for, over its life (again after a renewal)
RENEWALS_PER_LETTER = 3  # times the subject may have a link that stopped working renewed
WRONG_CODES = 5  # wrong codes after one code was sent: that code is spent; ask for a new one
CHANNEL = "sms-link"  # LetterSent's channel for a letter delivered this way
LETTER_SMS = "letter_sms"  # the text carrying the link
LETTER_SMS_CODE = "letter_sms_code"  # the text carrying the code


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"  # no letter has this link (mistyped, forged)
    EXPIRED = "expired"
    TOO_MANY_CODES = "too_many_codes"


class CodeProblem(StrEnum):
    WRONG = "wrong"
    EXPIRED = "expired"
    NONE_SENT = "none_sent"
    TOO_MANY = "too_many"  # the last wrong code allowed: ask for a new one


@dataclass(frozen=True)
class LinkParts:
    reference: str
    kind: str
    mac: str


def split_token(token: str) -> LinkParts | None:
    """``REFERENCE.KIND.MAC`` (the reference and the letter's kind are not secret; the MAC is a
    keyed digest of the request's id and the kind). None when it has not that form."""
    parts = (token or "").strip().split(".")
    if len(parts) != 3 or not all(parts) or len(token) > 200:
        return None
    reference, kind, mac = parts
    if not kind.replace("_", "").isalnum() or not mac.isalnum():
        return None
    return LinkParts(reference, kind, mac)


def link_expires(sent_at: datetime) -> datetime:
    """When a link sent (or renewed) at ``sent_at`` stops working."""
    return sent_at + timedelta(days=LINK_DAYS)


@dataclass(frozen=True)
class CodeState:
    """Where a letter's link stands, from its events: codes sent (in all, and since the link was
    last renewed), the last one's digest and expiry, the wrong codes given since it was sent,
    and the link's renewals (how many, the last one's time)."""

    codes_sent: int = 0
    last_digest: str | None = None
    last_expires: datetime | None = None
    wrong_since_last: int = 0
    opened: int = 0
    codes_since_renewal: int = 0
    renewals: int = 0
    renewed_at: datetime | None = None


def judge(state: CodeState, given_digest: str, now: datetime, equal: Callable[[str, str], bool]) -> CodeProblem | None:
    """The code given against the last one sent (``equal``: a constant-time comparison)."""
    if state.last_digest is None or state.last_expires is None:
        return CodeProblem.NONE_SENT
    if state.wrong_since_last >= WRONG_CODES:
        return CodeProblem.TOO_MANY
    if now > state.last_expires:
        return CodeProblem.EXPIRED
    if not equal(state.last_digest, given_digest):
        return CodeProblem.TOO_MANY if state.wrong_since_last + 1 >= WRONG_CODES else CodeProblem.WRONG
    return None


@dataclass(frozen=True)
class LetterLinkCodeSent(AuditEvent):
    """A one-time code to open the letter ``letter`` went by text to the number on file;
    ``digest`` is a keyed digest of the code (never the code), ``expires_at`` when it stops."""

    letter: str = ""
    ordinal: int = 0
    digest: str = ""
    expires_at: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"letter": self.letter, "ordinal": self.ordinal, "digest": self.digest, "expires_at": self.expires_at}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter-link:{self.letter}:code:{self.ordinal}"


@dataclass(frozen=True)
class LetterLinkOpened(AuditEvent):
    """The subject opened the letter ``letter`` with the code number ``ordinal``."""

    letter: str = ""
    ordinal: int = 0
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex)

    def payload(self) -> dict[str, JsonValue]:
        return {"letter": self.letter, "ordinal": self.ordinal}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter-link:{self.letter}:opened:{self.attempt}"


@dataclass(frozen=True)
class LetterLinkRefused(AuditEvent):
    """A code given on the letter's page that did not open it (``reason``: a CodeProblem)."""

    letter: str = ""
    reason: str = ""
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex)

    def payload(self) -> dict[str, JsonValue]:
        return {"letter": self.letter, "reason": self.reason}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter-link:{self.letter}:refused:{self.attempt}"


@dataclass(frozen=True)
class LetterLinkRenewed(AuditEvent):
    """The subject asked, on the page of the letter's link that had stopped working (expired, or
    out of codes), for it again: the text with the link went again to the number on file, and
    the link works another LINK_DAYS days with CODES_PER_LETTER codes; ``number``: the how
    manyth renewal (at most RENEWALS_PER_LETTER). Any code sent before stops working."""

    letter: str = ""
    number: int = 0
    expires_at: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"letter": self.letter, "number": self.number, "expires_at": self.expires_at}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter-link:{self.letter}:renewed:{self.number}"
