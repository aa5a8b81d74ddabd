"""Audit events of identity verification (dsar.services.identity). No personal data: levels,
proof kinds, counts, who decided, the evidence *described* by a legal account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dsar.domain.events import AuditEvent, JsonValue


@dataclass(frozen=True)
class VerificationLevelSet(AuditEvent):
    """The level the request needs, why, and against which system of record. ``known``: the
    subject was found there (staff only: the subject is never told)."""

    case: int = 0
    level: str = ""
    requirement: str = ""
    reasons: tuple[str, ...] = ()
    system: str | None = None
    known: bool = False
    channel: str = "none"

    def payload(self) -> dict[str, JsonValue]:
        return {
            "level": self.level,
            "requirement": self.requirement,
            "reasons": list(self.reasons),
            "system": self.system,
            "known": self.known,
            "channel": self.channel,
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-case:{self.case}"


@dataclass(frozen=True)
class VerificationLinkSent(AuditEvent):
    """A single-use link and code went to the contact on file (the ``ordinal``-th send)."""

    case: int = 0
    ordinal: int = 1
    channel: str = "email"
    expires_at: datetime | None = None
    template: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {
            "channel": self.channel,
            "send": self.ordinal,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "template": self.template,
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-link:{self.case}:{self.ordinal}"


@dataclass(frozen=True)
class VerificationProofGiven(AuditEvent):
    proof: str = ""
    via: str = "web"

    def payload(self) -> dict[str, JsonValue]:
        return {"proof": self.proof, "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-proof:{self.proof}:{self.at.isoformat()}"


@dataclass(frozen=True)
class VerificationProofRefused(AuditEvent):
    """A proof attempt that failed: ``why`` is wrong, expired, used or exhausted (never which
    data point was wrong)."""

    proof: str = ""
    why: str = "wrong"
    attempt: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"proof": self.proof, "why": self.why, "attempt": self.attempt}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-refused:{self.proof}:{self.attempt}:{self.at.isoformat()}"


@dataclass(frozen=True)
class VerifiedByHand(AuditEvent):
    """A legal account verified identity by other means: the evidence described (never a copy of
    an ID document) and the level it reaches."""

    by: str = ""
    evidence: str = ""
    level: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"by": self.by, "evidence": self.evidence, "level": self.level}


@dataclass(frozen=True)
class VerificationLevelLowered(AuditEvent):
    """The required level lowered by a named legal approver, proven by their authenticator."""

    from_level: str = ""
    to_level: str = ""
    approver: str = ""
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, JsonValue]:
        return {"from": self.from_level, "to": self.to_level, "approver": self.approver, "reason": self.reason}


@dataclass(frozen=True)
class VerificationRiskFlagged(AuditEvent):
    """A verification risk rule fired (dsar.domain.verification_risk): the rule, its reason
    (the rule's name and counts or kinds, no personal data), the ``verification_risk``
    escalation it went to, and ``joined`` when that escalation was open already (raised by an
    earlier flag, or by the public form's burst flag): the reason is kept here, beside the one
    that escalation was raised with. Once per request and rule."""

    rule: str = ""
    reason: str = ""
    escalation: int = 0
    joined: bool = False
    via: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"rule": self.rule, "reason": self.reason, "escalation": self.escalation, "joined": self.joined, "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-risk:{self.rule}"


@dataclass(frozen=True)
class VerificationDataDeleted(AuditEvent):
    """The request ended: its identity verification's data was deleted (11 CCR 7060: used for
    verification only, kept no longer). ``deleted`` counts each kind (never a value): the
    spent link, code and page session digests, the case's secret salt they were derived from,
    the data points and identifiers the system of record held (copied for comparison), and
    one-time codes of the earlier challenge table. ``kept`` names what stays as the record of
    the request (11 CCR 7101): the level, the proofs given (the methods), the declaration under
    penalty of perjury, the contact on file its letters still go to. ``via``: ``close`` (the
    request's final move) or ``sweep`` (a request that ended before this was built). Once per
    request."""

    case: int | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    kept: tuple[str, ...] = ()
    via: str = "close"

    def payload(self) -> dict[str, JsonValue]:
        return {"case": self.case, "deleted": dict(sorted(self.deleted.items())), "kept": list(self.kept), "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:verification-data-deleted"
