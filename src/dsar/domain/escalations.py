"""Escalations to legal: a request that needs legal's decision outside the plan's sign-off.

Points (:class:`EscalationPoint`): a verification risk flag, a requested verification
downgrade, a request that may be manifestly unfounded or excessive, and support's
legal-sensitive flag (threats, discrimination, minors, regulator or litigation involvement, a
policy exception). An escalation holds the request until legal decides it, has its own
response target (:data:`DEFAULT_RESPONSE_BUSINESS_DAYS` working days, configurable), shows in
legal's queue ordered by that target, raises an alert when the target passes, and records the
time it took to resolve. Its state is derived from the request's audit events, the last word
of each escalation winning, as the legal-sensitive mark is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

DEFAULT_RESPONSE_BUSINESS_DAYS = 2
RAISED = "EscalationRaised"
RESOLVED = "EscalationResolved"
MISSED = "EscalationTargetMissed"


class EscalationPoint(StrEnum):
    VERIFICATION_RISK = "verification_risk"
    VERIFICATION_DOWNGRADE = "verification_downgrade"
    MANIFESTLY_UNFOUNDED_OR_EXCESSIVE = "manifestly_unfounded_or_excessive"
    LEGAL_SENSITIVE = "legal_sensitive"


POINT_TEXT: dict[EscalationPoint, str] = {
    EscalationPoint.VERIFICATION_RISK: "verification risk flagged",
    EscalationPoint.VERIFICATION_DOWNGRADE: "a lower verification level is asked for",
    EscalationPoint.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: "possibly manifestly unfounded or excessive",
    EscalationPoint.LEGAL_SENSITIVE: "flagged legal-sensitive by support",
}


class EscalationDecision(StrEnum):
    """Legal's answer: ``proceed`` releases the hold (the request goes on as planned);
    ``keep_on_hold`` keeps it held with legal's note (for a refusal, deny at sign-off)."""

    PROCEED = "proceed"
    KEEP_ON_HOLD = "keep_on_hold"


class _Event(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Escalation:
    """One escalation of one request (no personal data besides the reason support gave, which
    is sealed in the audit trail like every payload)."""

    number: int
    point: EscalationPoint
    reason: str
    by: str
    raised_at: datetime
    target: date
    held: bool  # the escalation put the request on hold (it releases only its own hold)
    decision: EscalationDecision | None = None
    approver: str | None = None
    resolved_at: datetime | None = None
    missed_alerted: bool = False

    @property
    def open(self) -> bool:
        return self.decision is None

    def missed(self, today: date) -> bool:
        """Legal's response target has passed without a decision (or the decision came late)."""
        end = self.resolved_at.date() if self.resolved_at is not None else today
        return end > self.target

    @property
    def hours_to_resolve(self) -> float | None:
        if self.resolved_at is None:
            return None
        return round((self.resolved_at - self.raised_at).total_seconds() / 3600, 2)


def escalations_of(events: Iterable[_Event]) -> list[Escalation]:
    """Every escalation of a request as its events leave it, in the order raised."""
    out: dict[int, Escalation] = {}
    for e in events:
        d = e.details
        n = int(d.get("number", 0) or 0)
        if e.kind == RAISED:
            out[n] = Escalation(
                n,
                EscalationPoint(str(d.get("point"))),
                str(d.get("reason", "")),
                str(d.get("by", "")),
                e.at,
                date.fromisoformat(str(d.get("target"))),
                bool(d.get("held", False)),
            )
        elif e.kind == RESOLVED and n in out:
            x = out[n]
            out[n] = Escalation(
                x.number, x.point, x.reason, x.by, x.raised_at, x.target, x.held,
                EscalationDecision(str(d.get("decision"))), str(d.get("approver", "")), e.at, x.missed_alerted,
            )  # fmt: skip
        elif e.kind == MISSED and n in out:
            x = out[n]
            out[n] = Escalation(
                x.number, x.point, x.reason, x.by, x.raised_at, x.target, x.held, x.decision, x.approver, x.resolved_at, True
            )
    return list(out.values())
