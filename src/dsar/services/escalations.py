"""Escalations to legal (rules in :mod:`dsar.domain.escalations`): raising one (support's
legal-sensitive flag raises one by itself), legal's queue ordered by the response target,
legal's decision proven like a sign-off (legal roster + authenticator code), the alert when the
target passes, and the figures for reporting (time to resolution, targets missed)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

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


def awaits_legal(r: PrivacyRequest) -> bool:
    """Whether legal's decision on an open escalation of ``r`` still matters: the request is
    open, or refused and on hold before its letter went (an escalation raised as the request was
    refused, e.g. when every verification try was used up, holds the could-not-verify letter)."""
    return not r.status.is_final or (r.status is Status.DENIED and r.on_hold)


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
    flow_run: str | None = None,
    at: datetime | None = None,
) -> ResolveResult:
    """Legal's decision on escalation ``number``, proven by a legal account's authenticator
    code (the same proof, replay rule and lock-out as a sign-off; ``at`` is when the form was
    submitted, as for a sign-off). ``proceed`` releases the hold the escalation put on (if no
    other open escalation holds it); ``keep_on_hold`` leaves it held. A refused attempt is
    recorded (``SignOffRefused`` at step ``escalation:N``) and the escalation stays open."""
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
        given_at = at if at is not None and now - SUBMITTED_WITHIN <= at <= now else now
        proven = prove_approver(uow, name, code, given_at)
        if isinstance(proven, SignOffRefusal):
            _refuse(ctx, uow, request_id, number, proven, name, via, events, now)
            uow.commit()
            return ResolveResult(False, proven)
        hours = round((now - x.raised_at).total_seconds() / 3600, 2)
        late = local_today(ctx) > x.target
        uow.audit.append(
            [EscalationResolved(request_id, now, number, x.point.value, d.value, proven.name, text, "totp", via, hours, late, flow_run)]
        )
        others = [y for y in found.values() if y.open and y.held and y.number != number]
        if d is EscalationDecision.PROCEED and x.held and r.on_hold and not others:
            recording.hold(uow, r, False, now, f"legal decided escalation {number}: proceed", proven.name)
        uow.commit()
    return ResolveResult(True)


# A form's submission is checked against the moment it was given, if within this (as a sign-off's).
SUBMITTED_WITHIN = timedelta(days=7)


def step_of(number: int) -> str:
    """The step a refused attempt on escalation ``number`` is recorded at."""
    return f"escalation:{number}"


def _refuse(
    ctx: ServiceContext,
    uow: UnitOfWork,
    request_id: str,
    number: int,
    why: SignOffRefusal,
    approver: str,
    via: str,
    events: list[Any],
    now: datetime,
) -> None:
    staff = uow.accounts.find(approver) if approver and len(approver) <= 64 else None
    who, digest = (staff.name, None) if staff is not None else (None, approver_digest(ctx, approver))
    attempt = 1 + sum(1 for e in events if e.kind == SignOffRefused.kind)
    uow.audit.append([SignOffRefused(request_id, now, step_of(number), attempt, why.value, who, digest, via)])


@dataclass(frozen=True)
class EscalationWait:
    """What a run of the request waits for legal to decide: the first open escalation that
    holds the request (None when none does), with the attempts refused on it so far."""

    escalation: Escalation | None
    refused_attempts: int = 0
    last_refusal: SignOffRefusal | None = None


def escalation_wait(ctx: ServiceContext, request_id: str) -> EscalationWait:
    """The escalation a run must wait on before it goes further: open, and holding the
    request (an escalation raised while the request was held for another reason, or finished,
    holds nothing and is decided in legal's queue without stopping a run). Cheap when the
    request is not on hold (no event is read)."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        if not r.on_hold or not awaits_legal(r):
            return EscalationWait(None)
        events = uow.audit.events(request_id)
    x = next((y for y in escalations_of(events) if y.open and y.held), None)
    if x is None:
        return EscalationWait(None)
    refused = [
        SignOffRefusal(str(e.details.get("reason")))
        for e in events
        if e.kind == SignOffRefused.kind and e.details.get("step") == step_of(x.number) and e.at >= x.raised_at
    ]
    return EscalationWait(x, len(refused), refused[-1] if refused else None)


def escalation_summary(ctx: ServiceContext, request_id: str, number: int, refused: SignOffRefusal | None = None) -> str:
    """Markdown above the escalation form in the Prefect UI: reference, type, regime, due
    date, the point, who raised it and when, legal's response target, and the link to the
    request's page on the console, where support's reason is. No personal data: Prefect shows
    and stores this text, and support's reason (free text) stays in the engine."""
    today = local_today(ctx)
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        due = uow.deadlines.get(request_id).due
        events = uow.audit.events(request_id)
    x = next((y for y in escalations_of(events) if y.number == number), None)
    if x is None:
        raise InvalidInput(f"{r.reference} has no escalation {number}", ["escalation: unknown number"])

    def left(day: date, word: str) -> str:
        n = (day - today).days
        return f"{n} day(s) left" if n >= 0 else f"{-n} day(s) {word}"

    lines = [f"### {r.reference}: escalation {x.number} waits for legal's decision", ""]
    if refused is not None:
        lines += [f"**The last attempt was refused: {REFUSAL_TEXT[refused]}.** The escalation is still open.", ""]
    lines += [
        f"- **Why it is here**: {POINT_TEXT[x.point]} (`{x.point.value}`)",
        f"- **Raised** {x.raised_at.astimezone(ctx.policy.timezone):%Y-%m-%d %H:%M} by {x.by}",
        f"- **Legal's response target** {x.target.isoformat()} ({left(x.target, 'missed')})",
        f"- **Request**: {r.type.value} under `{r.regime}`, {r.status.value.replace('_', ' ')}, on hold until you decide",
        f"- **Due** {due.isoformat()} ({left(due, 'late')})",
    ]
    path = f"/console/requests/{r.reference}"
    where = f"[the request's page]({ctx.policy.console_url}{path})" if ctx.policy.console_url else f"the request's page (`{path}`)"
    lines += [
        "",
        f"Support's reason and the request's history are on {where} on the console: they may name the subject, so they are not shown here.",
        "",
        "#### Your decision",
        "",
        "- **proceed**: the hold this escalation put on is released and the request goes on as planned "
        "(its sign-off and letters still come to you where configured).",
        "- **keep_on_hold**: the request stays held; say why in the **note** (required). To refuse the request, "
        "release it later and deny at sign-off, with the reason for the subject.",
        "- The **note** is internal: kept encrypted for the file and the auditors, never in a letter.",
        "- Pick your name from the legal roster and type the 6-digit code your authenticator app shows now.",
    ]
    return "\n".join(lines)


def escalation_attempt(
    ctx: ServiceContext,
    request_id: str,
    number: int,
    *,
    decision: str,
    note: str,
    approver: str,
    code: str,
    via: str,
    flow_run: str | None = None,
    at: datetime | None = None,
) -> ResolveResult:
    """A decision on escalation ``number`` as typed into a form nobody checked before (the
    Prefect UI's): an unreadable decision or a hold without a note is a refused attempt,
    recorded, and the escalation stays open. An escalation decided meanwhile (on the console,
    which then wakes the run) is left as it is: ``ResolveResult(True)``, nothing written."""
    with ctx.uow() as uow:
        x = next((y for y in escalations_of(uow.audit.events(request_id)) if y.number == number), None)
    if x is None or not x.open:
        return ResolveResult(True)
    try:
        return resolve(ctx, request_id, number, decision, approver, code, note=note, via=via, flow_run=flow_run, at=at)
    except InvalidInput as exc:
        why = SignOffRefusal.HOLD_WITHOUT_NOTE if any("note:" in p for p in exc.problems) else SignOffRefusal.INCOMPLETE
        with ctx.uow() as uow:
            _refuse(ctx, uow, request_id, number, why, (approver or "").strip(), via, uow.audit.events(request_id), ctx.clock())
            uow.commit()
        return ResolveResult(False, why)
    except TransitionNotAllowed:
        return ResolveResult(True)  # decided between the two reads


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
    """Open escalations of open requests (and of refused ones held before their letter went:
    :func:`awaits_legal`), the nearest response target first (missed ones on top). Reads the
    events of the escalated requests only (found through the index on kinds)."""
    today = local_today(ctx)
    out: list[QueueEntry] = []
    with ctx.uow() as uow:
        for r in _escalated(uow, limit):
            if not awaits_legal(r) and not include_resolved:
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
            if not awaits_legal(r):
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
    "EscalationWait",
    "escalate",
    "escalation_attempt",
    "escalation_summary",
    "escalation_wait",
    "escalations",
    "legal_queue",
    "report",
    "resolve",
    "sweep_missed",
]
