"""A privacy request and the state machine of its whole life.

The request is an immutable value. :func:`apply_move` is the one way its status changes: it
checks the move against :data:`MOVES`, returns the changed request and the domain events the
move produced, and raises :class:`TransitionNotAllowed` for anything else. Nothing here does
I/O or reads the clock: ``at`` is always passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.domain.events import AuditEvent, HoldChanged, StatusChanged
from dsar.domain.regimes import AccessScope, RequestType


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    MAIL = "mail"
    API = "api"
    CHAT = "chat"  # a chat conversation with support, logged in the staff console


class Status(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    PLANNING = "planning"
    AWAITING_SIGN_OFF = "awaiting_sign_off"
    EXECUTING = "executing"
    RESPONDING = "responding"
    CLOSED = "closed"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.CLOSED, Status.DENIED, Status.WITHDRAWN, Status.FAILED})
OPEN_STATUSES = frozenset(Status) - FINAL_STATUSES
# Statuses in which the statutory clock no longer matters: the subject has had the answer (or
# took the request back). A FAILED request still owes the subject an answer on time.
DEADLINE_STOPPED = frozenset({Status.CLOSED, Status.DENIED, Status.WITHDRAWN})
# Statuses of a verified request that has been answered or is on its way to an answer: an
# earlier request in one of these answers a later duplicate (same type and regime, verified
# with the same contact) too. A denied, withdrawn or failed request answers nothing more.
ANSWERING = frozenset({Status.VERIFIED, Status.PLANNING, Status.AWAITING_SIGN_OFF, Status.EXECUTING, Status.RESPONDING, Status.CLOSED})


class Move(StrEnum):
    """Commands that change a request's status (imperative names)."""

    REQUEST_VERIFICATION = "request_verification"
    CONFIRM_IDENTITY = "confirm_identity"
    START_PLANNING = "start_planning"
    SUBMIT_PLAN = "submit_plan"
    APPROVE_PLAN = "approve_plan"
    FINISH_EXECUTION = "finish_execution"
    CLOSE = "close"
    DENY = "deny"
    WITHDRAW = "withdraw"
    FAIL = "fail"
    # Legal's written decision on an appeal (services/appeals.py) answers it: the appeal closes.
    DECIDE_APPEAL = "decide_appeal"


_BEFORE_EXECUTION = frozenset({Status.RECEIVED, Status.AWAITING_VERIFICATION, Status.VERIFIED, Status.PLANNING, Status.AWAITING_SIGN_OFF})

# The table of allowed moves: move -> (statuses it may start from, status it leads to).
# A denial is final for processing; the denial letter is still sent from DENIED.
MOVES: dict[Move, tuple[frozenset[Status], Status]] = {
    Move.REQUEST_VERIFICATION: (frozenset({Status.RECEIVED}), Status.AWAITING_VERIFICATION),
    Move.CONFIRM_IDENTITY: (frozenset({Status.AWAITING_VERIFICATION}), Status.VERIFIED),
    Move.START_PLANNING: (frozenset({Status.VERIFIED}), Status.PLANNING),
    Move.SUBMIT_PLAN: (frozenset({Status.PLANNING}), Status.AWAITING_SIGN_OFF),
    Move.APPROVE_PLAN: (frozenset({Status.AWAITING_SIGN_OFF}), Status.EXECUTING),
    Move.FINISH_EXECUTION: (frozenset({Status.EXECUTING}), Status.RESPONDING),
    Move.CLOSE: (frozenset({Status.RESPONDING}), Status.CLOSED),
    Move.DENY: (_BEFORE_EXECUTION, Status.DENIED),
    Move.WITHDRAW: (OPEN_STATUSES, Status.WITHDRAWN),
    Move.FAIL: (OPEN_STATUSES, Status.FAILED),
    Move.DECIDE_APPEAL: (frozenset({Status.RECEIVED, Status.AWAITING_VERIFICATION, Status.VERIFIED}), Status.CLOSED),
}

# Moves still allowed while a request is on hold: a hold stops the work, not the ending of it,
# nor the record of a proof the subject gave (a request held while its verification link was out
# is verified when the subject proves who they are; nothing is planned until the hold is lifted).
MOVES_ALLOWED_ON_HOLD = frozenset({Move.DENY, Move.WITHDRAW, Move.FAIL, Move.CONFIRM_IDENTITY})


# --- identity -------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\n\r\u0085\u2028\u2029]")
# Characters that change the direction text is shown in, or show nothing at all: they can make
# a name read as something else in a letter or a console (Trojan Source, CVE-2021-42574).
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# RFC 2047 encoded words: a mail library decodes them in headers, where "=?utf-8?q?a=2C_b?=" can
# become two recipients. No real address needs one.
_ENCODED_WORD = re.compile(r"=\?.*\?=")
MAX_TEXT = 1000


def normalise_email(value: str) -> str:
    """Lower-case and strip an email; raise InvalidInput (without echoing it) if malformed,
    if it carries an RFC 2047 encoded word, control, invisible or direction-changing characters."""
    v = value.strip()
    if len(v) > 254 or _CONTROL.search(v) or _LINE_BREAKS.search(v) or _INVISIBLE.search(v) or _ENCODED_WORD.search(v):
        raise InvalidInput("malformed email address", ["subject.emails: not a valid email address"])
    if not _EMAIL.match(v):
        raise InvalidInput("malformed email address", ["subject.emails: not a valid email address"])
    return v.lower()


def clean_text(value: str | None, field_name: str, *, required: bool = False, limit: int = MAX_TEXT, multiline: bool = False) -> str | None:
    """Trim free text; refuse control characters, invisible or direction-changing characters,
    overlong values, and (unless ``multiline``) line breaks and tabs: a name printed into a letter
    must not start a paragraph of its own."""
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"{field_name} is required", [f"{field_name}: required"])
        return None
    if _CONTROL.search(value):
        raise InvalidInput(f"{field_name} contains control characters", [f"{field_name}: control characters"])
    if _INVISIBLE.search(value):
        raise InvalidInput(
            f"{field_name} contains invisible or direction-changing characters",
            [f"{field_name}: invisible or direction-changing characters"],
        )
    if not multiline and _LINE_BREAKS.search(value.strip()):
        raise InvalidInput(f"{field_name} must be one line", [f"{field_name}: line breaks or tabs"])
    if len(value) > limit:
        raise InvalidInput(f"{field_name} is too long", [f"{field_name}: longer than {limit} characters"])
    return value.strip()


@dataclass(frozen=True)
class SubjectIdentity:
    """Who the request is about. Every field is personal data: encrypted at rest, never logged."""

    name: str
    emails: tuple[str, ...] = ()
    phone: str | None = None
    postal_address: str | None = None
    account_id: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # further data points offered for matching

    def __repr__(self) -> str:  # personal data must not reach logs or tracebacks by accident
        return "SubjectIdentity(<redacted>)"

    @property
    def primary_email(self) -> str | None:
        return self.emails[0] if self.emails else None


_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
MAX_CORRECTIONS = 20


@dataclass(frozen=True)
class Correction:
    """One thing a correction request asks to put right: the attribute (a name the data map's
    ``correctable`` fields use, e.g. ``phone``) and the new value (personal data)."""

    attribute: str
    value: str

    def __repr__(self) -> str:
        return f"Correction({self.attribute}, <redacted>)"


def make_correction(attribute: str, value: str) -> Correction:
    """Validate one requested correction; errors name the attribute, never the value."""
    a = attribute.strip().lower()
    if not _ATTRIBUTE.match(a):
        raise InvalidInput("malformed correction attribute", ["corrections.attribute: lower-case letters, digits and _ (e.g. phone)"])
    v = clean_text(value, f"corrections.{a}", required=True)
    assert v is not None
    return Correction(a, v)


class AgentKind(StrEnum):
    AUTHORIZED_AGENT = "authorized_agent"
    POWER_OF_ATTORNEY = "power_of_attorney"
    PARENT_OR_GUARDIAN = "parent_or_guardian"


@dataclass(frozen=True)
class AuthorizedAgent:
    """Someone acting for the subject (11 CCR 7063; GDPR via representation)."""

    name: str
    email: str | None = None
    kind: AgentKind = AgentKind.AUTHORIZED_AGENT
    organisation: str | None = None

    def __repr__(self) -> str:
        return f"AuthorizedAgent(kind={self.kind.value}, <redacted>)"


# --- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacyRequest:
    id: str
    reference: str
    type: RequestType
    regime: str
    country: str
    subdivision: str | None
    channel: Channel
    received_at: datetime
    subject: SubjectIdentity
    due: date
    access_scope: AccessScope | None = None
    agent: AuthorizedAgent | None = None
    status: Status = Status.RECEIVED
    on_hold: bool = False
    linked_to: str | None = None
    logged_at: datetime | None = None
    # What a correction request asks to change (empty for other types); personal data.
    corrections: tuple[Correction, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    # The language the subject's letters are written in (the form's, the API's `language`,
    # `--language`): one of dsar.domain.letters.LETTER_LANGUAGES.
    language: str = "en"

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None or self.received_at.utcoffset() is None:
            raise InvalidInput("received time must be timezone-aware", ["received_at: no timezone"])

    def __repr__(self) -> str:
        return f"PrivacyRequest({self.reference}, {self.type.value}, {self.regime}, {self.status.value})"


def _fits_type(request: PrivacyRequest, move: Move) -> bool:
    """Only an appeal is offered the appeal decision (services/appeals.py checks it too)."""
    return move is not Move.DECIDE_APPEAL or request.type is RequestType.APPEAL


def allowed_moves(request: PrivacyRequest) -> list[Move]:
    return [
        m
        for m, (sources, _) in MOVES.items()
        if request.status in sources and (not request.on_hold or m in MOVES_ALLOWED_ON_HOLD) and _fits_type(request, m)
    ]


def apply_move(
    request: PrivacyRequest, move: Move, *, at: datetime, reason: str = "", by: str = ""
) -> tuple[PrivacyRequest, list[AuditEvent]]:
    """Apply one move from the table; return the new request and the events it produced."""
    sources, target = MOVES[move]
    if request.status not in sources:
        raise TransitionNotAllowed(f"{request.reference}: cannot {move.value} from {request.status.value}")
    if request.on_hold and move not in MOVES_ALLOWED_ON_HOLD:
        raise TransitionNotAllowed(f"{request.reference}: on hold; cannot {move.value} until the hold is released")
    changed = replace(request, status=target)
    return changed, [StatusChanged(request.id, at, move.value, request.status.value, target.value, reason, by)]


def set_hold(request: PrivacyRequest, on_hold: bool, *, at: datetime, reason: str, by: str = "") -> tuple[PrivacyRequest, list[AuditEvent]]:
    """Put a request on hold or release it. Final requests cannot be held, except a denied one
    whose refusal letter could not go out yet (it waits for the cause to be fixed)."""
    if request.status.is_final and request.status is not Status.DENIED:
        raise TransitionNotAllowed(f"{request.reference}: is {request.status.value}; nothing to hold")
    if request.on_hold == on_hold:
        return request, []
    return replace(request, on_hold=on_hold), [HoldChanged(request.id, at, on_hold, reason, by)]


def duplicate_reason(reference: str) -> str:
    """Why a verified request was ended as the duplicate of an earlier one (no personal data:
    the earlier request's reference only)."""
    return f"duplicate of {reference} (same verified contact)"


def format_reference(year: int, number: int) -> str:
    """Human-friendly reference, e.g. DSR-2026-000123 (sequence restarts each year)."""
    return f"DSR-{year:04d}-{number:06d}"


_REFERENCE = re.compile(r"^DSR-\d{4}-\d{6,}$")


def parse_reference(value: str) -> str:
    v = value.strip().upper()
    if not _REFERENCE.match(v):
        raise InvalidInput("malformed reference; expected e.g. DSR-2026-000123", ["reference: malformed"])
    return v


REFERENCE_SEARCH_HINT = "expected a reference or part of one, e.g. DSR-2026-000123, DSR-2026-00, 2026-123 or 123"


def reference_search(value: str) -> tuple[str | None, str | None]:
    """What staff typed to find a request by its reference, as (the exact reference, a SQL LIKE
    pattern); one of the two is None. Case and spaces around do not matter:

    * a whole reference (``DSR-2026-000123``): that request;
    * the beginning of one (``DSR-2026``, ``dsr-2026-0001``): every reference that starts so;
    * a year and a number (``2026-123``): ``DSR-2026-000123``;
    * a number alone (``123``): that number in every year (``DSR-2025-000123``, ``DSR-2026-000123``).

    The pattern is built from letters, digits and hyphens that were checked, so nothing typed
    is ever a wildcard. Anything else is InvalidInput (never echoed)."""
    v = value.strip().upper()
    if _REFERENCE.match(v):
        return v, None
    if len(v) <= 24 and re.fullmatch(r"DSR(-\d{0,4}(-\d*)?)?", v):
        return None, v + "%"
    found = re.fullmatch(r"(\d{4})-(\d{1,12})", v)
    if found:
        return format_reference(int(found.group(1)), int(found.group(2))), None
    if re.fullmatch(r"\d{1,12}", v):
        return None, f"DSR-%-{int(v):06d}"
    raise InvalidInput(f"reference: {REFERENCE_SEARCH_HINT}", ["reference: malformed"])
