"""The yearly request metrics a business publishes (CCPA 11 CCR 7102) and a privacy team reports
to its board: per regime and request type, how many were received in a calendar year, complied
with in whole or in part, denied (by reason: unverifiable, not a consumer, exempt, manifestly
unfounded or excessive, other), still open, and the median and mean days from receipt to the
substantive response (the closing letter, or the refusal).

Read from the engine's records: the request rows, legal's decisions and the audit trail (its
payloads opened under each request's key; a request whose key was shredded after its retention
period counts by its row, with its reason unknown). No personal data: counts and days.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from dsar.domain.decisions import DENIAL_STEP, DenialReason
from dsar.domain.events import AuditEntry
from dsar.domain.letters import COULD_NOT_VERIFY_LETTER, DENIAL_LETTER, PARTIAL_REFUSAL_LETTER, RESPONSE_LETTER
from dsar.domain.regimes import RequestType
from dsar.domain.request import Status
from dsar.domain.verification import UNVERIFIABLE
from dsar.services import queries
from dsar.services.context import ServiceContext
from dsar.services.ports import UnitOfWork

# The letters that carry a substantive response: the answer, or the refusal.
_SUBSTANTIVE = {*RESPONSE_LETTER.values(), DENIAL_LETTER, COULD_NOT_VERIFY_LETTER}
UNKNOWN_REASON = "unknown"  # denied, but the reason is not readable (shredded key, an early build)


@dataclass
class Counts:
    received: int = 0
    complied_in_whole: int = 0
    complied_in_part: int = 0
    denied: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    open: int = 0
    days: list[int] = field(default_factory=list)  # receipt → substantive response, per answered request

    def add(self, other: Counts) -> None:
        self.received += other.received
        self.complied_in_whole += other.complied_in_whole
        self.complied_in_part += other.complied_in_part
        self.denied += other.denied
        self.denied_by_reason.update(other.denied_by_reason)
        self.open += other.open
        self.days += other.days

    def as_json(self) -> dict[str, object]:
        return {
            "received": self.received,
            "complied_in_whole": self.complied_in_whole,
            "complied_in_part": self.complied_in_part,
            "denied": self.denied,
            "denied_by_reason": dict(sorted(self.denied_by_reason.items())),
            "open": self.open,
            "median_days": statistics.median(self.days) if self.days else None,
            "mean_days": round(statistics.fmean(self.days), 1) if self.days else None,
        }


@dataclass
class Metrics:
    year: int
    regime: str | None
    by_regime: dict[str, dict[str, Counts]] = field(default_factory=dict)  # regime → request type → counts

    def by_type(self) -> dict[str, Counts]:
        """All regimes together, per request type (the form CCPA 7102 publishes)."""
        out: dict[str, Counts] = {}
        for types in self.by_regime.values():
            for t, c in types.items():
                out.setdefault(t, Counts()).add(c)
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, object]:
        return {
            "year": self.year,
            "regime": self.regime,
            "by_type": {t: c.as_json() for t, c in self.by_type().items()},
            "by_regime": {r: {t: c.as_json() for t, c in sorted(types.items())} for r, types in sorted(self.by_regime.items())},
        }


def request_metrics(ctx: ServiceContext, year: int, regime: str | None = None) -> Metrics:
    """Requests received in ``year`` (local date of receipt, ``DSAR_TIMEZONE``), optionally of
    one regime; appeals are left out (``dsar request appeals-report`` counts them)."""
    zone = ctx.policy.timezone
    metrics = Metrics(year, regime)
    summaries = queries.request_list(ctx, None, limit=1_000_000, regime=regime)
    with ctx.uow() as uow:
        for s in summaries:
            received = s.received_at.astimezone(zone)
            if received.year != year or s.type == RequestType.APPEAL.value:
                continue
            counts = metrics.by_regime.setdefault(s.regime, {}).setdefault(s.type, Counts())
            counts.received += 1
            if s.status not in (Status.CLOSED, Status.DENIED):
                counts.open += 1
                continue
            events = uow.audit.events(s.id)
            answered = [e.at for e in events if e.kind == "LetterSent" and e.details.get("kind") in _SUBSTANTIVE]
            if answered:
                counts.days.append(_days(received.date(), answered[0].astimezone(zone).date()))
            if s.status is Status.DENIED:
                counts.denied += 1
                counts.denied_by_reason[_denial_reason(uow, s.id, events)] += 1
            elif _in_part(events):
                counts.complied_in_part += 1
            else:
                counts.complied_in_whole += 1
    return metrics


def _days(received: date, answered: date) -> int:
    return (answered - received).days


def _in_part(events: list[AuditEntry]) -> bool:
    """Closed, but something was kept out: legal exempted part of the plan, or the plan kept
    records on a legal ground (the partial-refusal letter)."""
    for e in events:
        if e.kind == "SignOffRecorded" and e.details.get("decision") == "approve" and e.details.get("exemptions"):
            return True
        if e.kind == "LetterSent" and e.details.get("kind") == PARTIAL_REFUSAL_LETTER:
            return True
    return False


def _denial_reason(uow: UnitOfWork, request_id: str, events: list[AuditEntry]) -> str:
    """The reason code of a denial: the engine's own (identity not verified), or legal's code at
    sign-off; ``unknown`` when neither can be read."""
    denial = uow.decisions.get(request_id, DENIAL_STEP)
    if denial is not None and denial.approver == "dsar" and denial.note == UNVERIFIABLE:
        return DenialReason.UNVERIFIABLE.value
    for e in reversed(events):
        if e.kind == "SignOffRecorded" and e.details.get("decision") == "deny":
            reason = e.details.get("reason")
            return str(reason) if reason in {r.value for r in DenialReason} else DenialReason.OTHER.value
    return UNKNOWN_REASON
