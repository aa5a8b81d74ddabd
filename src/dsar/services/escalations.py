"""Escalations to legal (rules in :mod:`dsar.domain.escalations`): raising one (support's
legal-sensitive flag raises one by itself), legal's queue ordered by the response target,
legal's decision proven like a sign-off (legal roster + authenticator code), the alert when the
target passes, and the figures for reporting (time to resolution, targets missed)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

from dsar.domain.alerts import NewAlert, legal_missed_kind
from dsar.domain.deadlines import add_business_days
from dsar.domain.decisions import REFUSAL_TEXT, SignOffRefusal
from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.domain.escalations import (
    POINT_TEXT,
    RAISED,
    Escalation,
    EscalationDecision,
    EscalationPoint,
    escalations_of,
)
from dsar.domain.events import EscalationRaised, EscalationResolved, EscalationTargetMissed, SignOffRefused
from dsar.domain.request import DEADLINE_STOPPED, PrivacyRequest, Status, clean_text
from dsar.services import recording
from dsar.services.accounts import approver_digest, prove_approver
from dsar.services.context import ServiceContext
from dsar.services.deadlines import local_today
from dsar.services.ports import UnitOfWork


def _point(value: EscalationPoint | str) -> EscalationPoint:
    try:
        return EscalationPoint(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        raise InvalidInput("unknown escalation point", [f"point: one of {', '.join(p.value for p in EscalationPoint)}"]) from None


def target_for(ctx: ServiceContext, r: PrivacyRequest, on: date) -> date:
    """Legal's response target: this many working days after ``on`` where the request is."""
    return add_business_days(on, ctx.policy.legal_response_business_days, r.country, r.subdivision)


def raise_in(ctx: ServiceContext, uow: UnitOfWork, request_id: str, point: EscalationPoint, reason: str, by: str, via: str) -> Escalation:
    r = uow.requests.facts(request_id)
    events = uow.audit.events(request_id)
    have = escalations_of(events)
    same = next((x for x in have if x.open and x.point is point), None)
    if same is not None:
        return same  # already with legal for that
    now = ctx.clock()
    held = not r.on_hold and r.status not in DEADLINE_STOPPED and not r.status.is_final
    target = target_for(ctx, r, local_today(ctx))
    number = len(have) + 1
    uow.audit.append([EscalationRaised(request_id, now, number, point.value, reason, by, via, target, held)])
    if held:
        recording.hold(uow, r, True, now, f"escalated to legal: {POINT_TEXT[point]}", by)
    return Escalation(number, point, reason, by, now, target, held)


def escalate(
    ctx: ServiceContext, request_id: str, point: EscalationPoint | str, reason: str, *, by: str = "dsar", via: str = "dsar"
) -> Escalation:
    """Send the request to legal at ``point`` with ``reason`` (no personal data expected; it is
    sealed in the audit trail anyway). The request is held until legal decides, unless it was
    on hold or finished already. Raising the same point again while one is open changes
    nothing and returns the open one."""
    p = _point(point)
    text = clean_text(reason, "reason", limit=1000) or ""
    if not text:
        raise InvalidInput("say why it goes to legal", ["reason: required"])
    who = clean_text(by, "by", required=True, limit=200) or ""
    with ctx.uow() as uow:
        x = raise_in(ctx, uow, request_id, p, text, who, via)
        uow.commit()
    return x


def escalations(ctx: ServiceContext, request_id: str) -> list[Escalation]:
    with ctx.uow() as uow:
        return escalations_of(uow.audit.events(request_id))


@dataclass(frozen=True)
class ResolveResult:
    recorded: bool
    refused: SignOffRefusal | None = None


def resolve(
    ctx: ServiceContext,
    request_id: str,
    number: int,
    decision: EscalationDecision | str,
    approver: str,
    code: str,
    *,
    note: str = "",
    via: str = "cli",
) -> ResolveResult:
    """Legal's decision on escalation ``number``, proven by a legal account's authenticator
    code (the same proof, replay rule and lock-out as a sign-off). ``proceed`` releases the
    hold the escalation put on (if no other open escalation holds it); ``keep_on_hold`` leaves
    it held. A refused attempt is recorded (``SignOffRefused`` at step ``escalation:N``) and
    the escalation stays open."""
    try:
        d = EscalationDecision(str(decision).strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        raise InvalidInput("the decision is proceed or keep_on_hold", ["decision: proceed or keep_on_hold"]) from None
    text = clean_text(note, "note", limit=4000, multiline=True) or ""
    if d is EscalationDecision.KEEP_ON_HOLD and not text:
        raise InvalidInput("say why it stays on hold", ["note: required to keep it on hold"])
    name = (approver or "").strip()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        events = uow.audit.events(request_id)
        found = {x.number: x for x in escalations_of(events)}
        x = found.get(number)
        if x is None:
            raise InvalidInput(f"{r.reference} has no escalation {number}", ["escalation: unknown number"])
        if not x.open:
            raise TransitionNotAllowed(f"{r.reference}: escalation {number} was decided already ({x.decision})")
        now = ctx.clock()
        proven = prove_approver(uow, name, code, now)
        if isinstance(proven, SignOffRefusal):
            staff = uow.accounts.find(name) if name and len(name) <= 64 else None
            who, digest = (staff.name, None) if staff is not None else (None, approver_digest(ctx, name))
            attempt = 1 + sum(1 for e in events if e.kind == SignOffRefused.kind)
            uow.audit.append([SignOffRefused(request_id, now, f"escalation:{number}", attempt, proven.value, who, digest, via)])
            uow.commit()
            return ResolveResult(False, proven)
        hours = round((now - x.raised_at).total_seconds() / 3600, 2)
        late = local_today(ctx) > x.target
        uow.audit.append([EscalationResolved(request_id, now, number, x.point.value, d.value, proven.name, text, "totp", via, hours, late)])
        others = [y for y in found.values() if y.open and y.held and y.number != number]
        if d is EscalationDecision.PROCEED and x.held and r.on_hold and not others:
            recording.hold(uow, r, False, now, f"legal decided escalation {number}: proceed", proven.name)
        uow.commit()
    return ResolveResult(True)


def refusal_text(refused: SignOffRefusal) -> str:
    return REFUSAL_TEXT[refused]


@dataclass(frozen=True)
class QueueEntry:
    """A line of legal's queue (no personal data)."""

    request_id: str
    reference: str
    status: Status
    due: date
    escalation: Escalation
    missed: bool


def legal_queue(ctx: ServiceContext, *, include_resolved: bool = False, limit: int = 1000) -> list[QueueEntry]:
    """Open escalations of open requests, the nearest response target first (missed ones on
    top). Reads the events of the escalated requests only (found through the index on kinds)."""
    today = local_today(ctx)
    out: list[QueueEntry] = []
    with ctx.uow() as uow:
        for r in _escalated(uow, limit):
            if r.status.is_final and not include_resolved:
                continue
            for x in escalations_of(uow.audit.events(r.id)):
                if x.open or include_resolved:
                    out.append(QueueEntry(r.id, r.reference, r.status, uow.deadlines.get(r.id).due, x, x.missed(today)))
    return sorted(out, key=lambda q: (not q.escalation.open, q.escalation.target, q.escalation.raised_at, q.reference))


def _escalated(uow: UnitOfWork, limit: int) -> list[PrivacyRequest]:
    """The requests that were ever escalated (at most ``limit``)."""
    return [uow.requests.facts(rid) for rid in uow.audit.request_ids_with(RAISED)[:limit]]


def sweep_missed(ctx: ServiceContext, as_of: date | None = None) -> list[NewAlert]:
    """Raise one alert per open escalation whose response target has passed (delivered with the
    deadline alerts, through the same notifier); recorded as ``EscalationTargetMissed``."""
    today = as_of or local_today(ctx)
    raised: list[NewAlert] = []
    with ctx.uow() as uow:
        now = ctx.clock()
        for r in _escalated(uow, 100_000):
            if r.status.is_final:
                continue
            for x in escalations_of(uow.audit.events(r.id)):
                if x.open and not x.missed_alerted and today > x.target:
                    alert = NewAlert(r.id, r.reference, legal_missed_kind(x.number), x.target, (x.target - today).days, notify=True)
                    raised.append(alert)
                    uow.audit.append([EscalationTargetMissed(r.id, now, x.number, x.point.value, x.target)])
        if raised:
            uow.alerts.add(raised, now)
        uow.commit()
    return raised


@dataclass(frozen=True)
class EscalationReport:
    raised: int
    resolved: int
    open: int
    missed: int
    median_hours: float | None
    by_point: dict[str, int]


def report(ctx: ServiceContext, since: date | None = None) -> EscalationReport:
    """Escalations raised since ``since`` (all when None): resolved, open, targets missed, and
    the median time to resolution in hours."""
    entries = [q.escalation for q in legal_queue(ctx, include_resolved=True, limit=100_000)]
    if since is not None:
        entries = [x for x in entries if x.raised_at.date() >= since]
    today = local_today(ctx)
    hours = [h for x in entries if (h := x.hours_to_resolve) is not None]
    by_point: dict[str, int] = {}
    for x in entries:
        by_point[x.point.value] = by_point.get(x.point.value, 0) + 1
    return EscalationReport(
        len(entries),
        sum(1 for x in entries if not x.open),
        sum(1 for x in entries if x.open),
        sum(1 for x in entries if x.missed(today)),
        round(statistics.median(hours), 2) if hours else None,
        by_point,
    )


def days_left(target: date, today: date) -> int:
    return (target - today).days


__all__ = [
    "EscalationDecision",
    "EscalationPoint",
    "escalate",
    "escalations",
    "legal_queue",
    "report",
    "resolve",
    "sweep_missed",
]
