"""Deadline use cases: extensions, stop-the-clock pauses, and the deadline watch.

The dates themselves come from :mod:`dsar.domain.deadlines` (pure). Here they are applied to
stored requests: an extension moves the date in force to ``extended_due`` and sends the
extension letter; a pause is recorded and, where the regime allows it, moves the dates; the
watch raises one alert per request, threshold and due date, and delivers it through a
:class:`~dsar.services.ports.Notifier`. Alerts carry references and dates, never personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dsar.domain.alerts import (
    ACK_BREACHED,
    BREACHED,
    LEGAL_MISSED,
    LETTER_BOUNCED,
    Alert,
    NewAlert,
    WatchColumn,
    alert_kind,
    family,
    is_breach,
    urgency,
    waits_for,
)
from dsar.domain.deadlines import PAUSE_MOVES_DUE, Deadline, PauseRecord, compute_deadlines, receipt_date
from dsar.domain.decisions import EXTENSION_STEP
from dsar.domain.errors import DeliveryFailed, InvalidInput, TransitionNotAllowed
from dsar.domain.events import ClockPaused, ClockRestarted, DeadlineAlertRaised, DeadlineExtended, ReceiptConfirmed
from dsar.domain.letters import EXTENSION_LETTER
from dsar.domain.request import DEADLINE_STOPPED, PrivacyRequest, Status, clean_text
from dsar.services.context import ServiceContext
from dsar.services.correspondence import hold_for_failed_delivery, letter_request, send_letter
from dsar.services.ports import Notice, NotificationFailed, Notifier, RequestQuery, UnitOfWork

# Re-exported: the watch's alert kinds are domain rules (dsar.domain.alerts).
__all__ = ["ACK_BREACHED", "BREACHED", "EXTENSION_STEP", "alert_kind", "is_breach"]

ACK_CHANNELS = ("email", "phone", "mail", "in-person", "web")


def local_today(ctx: ServiceContext) -> date:
    return ctx.clock().astimezone(ctx.policy.timezone).date()


def _recompute(r: PrivacyRequest, pauses: Sequence[PauseRecord], ctx: ServiceContext, *, extended: bool) -> Deadline:
    """The request's dates from its receipt, its pauses and whether it was extended."""
    # For gdpr the rule records the pauses and keeps the statutory date; for uk-gdpr they move it.
    d = compute_deadlines(
        r.regime,
        receipt_date(r.received_at, ctx.policy.timezone),
        country=r.country,
        subdivision=r.subdivision,
        request_type=r.type,
        pauses=[p.pause for p in pauses],
        target_days=ctx.policy.reasonable_period_days,
    )
    return d.in_force(extended=extended)


def _open_request(uow: UnitOfWork, request_id: str, *, personal: bool = False) -> PrivacyRequest:
    """The request, if its deadline still runs; its personal data opened only when asked."""
    r = uow.requests.get(request_id) if personal else uow.requests.facts(request_id)
    if r.status in DEADLINE_STOPPED:
        raise TransitionNotAllowed(f"{r.reference} is {r.status.value}: its deadline no longer runs")
    return r


# --- extension ------------------------------------------------------------------------------


def extend_request(ctx: ServiceContext, request_id: str, reason: str, by: str) -> Deadline:
    """Extend once, before ``extension_notice_by``; send the letter and record the decision.
    When the letter cannot be sent nothing of the extension is recorded, the request is held
    with the reason, and DeliveryFailed tells the caller."""
    try:
        return _extend_request(ctx, request_id, reason, by)
    except DeliveryFailed as failed:
        hold_for_failed_delivery(ctx, request_id, failed)
        raise


def _extend_request(ctx: ServiceContext, request_id: str, reason: str, by: str) -> Deadline:
    reason = clean_text(reason, "reason") or ""
    by = clean_text(by, "by") or ""
    problems = [f"{name}: required" for name, v in (("reason", reason), ("by", by)) if not v]
    if problems:
        raise InvalidInput("the extension cannot be recorded", problems)
    today = local_today(ctx)
    with ctx.uow() as uow:
        r = _open_request(uow, request_id, personal=True)  # the letter names the subject
        current = uow.deadlines.get(request_id)
        if current.extended_due is None or current.extension_notice_by is None:
            raise InvalidInput(f"{r.regime} provides no extension", [f"regime: {r.regime} has no extension"])
        if current.extended:
            raise InvalidInput(f"{r.reference} is already extended to {current.due}", ["extension: only one is allowed"])
        if today > current.extension_notice_by:
            raise InvalidInput(
                f"too late to extend {r.reference}: the subject had to be told by {current.extension_notice_by}",
                [f"extension: notice was due by {current.extension_notice_by}"],
            )
        new = _recompute(r, uow.deadlines.pauses(request_id), ctx, extended=True)
        now = ctx.clock()
        uow.deadlines.save(request_id, new)
        uow.decisions.record(request_id, EXTENSION_STEP, "extend", by, reason, now)
        uow.audit.append([DeadlineExtended(request_id, now, current.due, new.due, by, reason)])
        context = {
            "request": letter_request(r),
            "organisation": ctx.policy.organisation_name,
            "contact": ctx.policy.privacy_contact,
            "sent_on": today,
            "new_due": new.due,
            "previous_due": current.due,
            "reasons": reason,
        }
        send_letter(ctx, uow, r, EXTENSION_LETTER, context)
        stored = uow.deadlines.get(request_id)
        uow.commit()
        return stored


# --- confirmation of receipt ----------------------------------------------------------------


def record_receipt_confirmation(uow: UnitOfWork, request_id: str, at: datetime, how: str, by: str, note: str | None = None) -> bool:
    """Record the first confirmation of receipt (later ones change nothing); False if one was
    already recorded. The one-time code letter is one (it names the request, the verification
    step and the due date: 11 CCR 7021(a)); staff record those given by other means."""
    if not uow.deadlines.mark_acknowledged(request_id, at):
        return False
    uow.audit.append([ReceiptConfirmed(request_id, at, how, by, note)])
    return True


def acknowledge_receipt(ctx: ServiceContext, request_id: str, how: str, by: str, note: str | None = None) -> Deadline:
    """Record a confirmation of receipt given outside dsar (a call, a letter by post): the
    watch stops warning about ``acknowledge_by``. Repeating it changes nothing."""
    by = clean_text(by, "by", required=True) or ""
    note = clean_text(note, "note")
    if how not in ACK_CHANNELS:
        raise InvalidInput(f"unknown channel {how!r}", [f"how: one of {', '.join(ACK_CHANNELS)}"])
    with ctx.uow() as uow:
        uow.requests.facts(request_id)  # a clear error for an unknown request
        record_receipt_confirmation(uow, request_id, ctx.clock(), how, by, note)
        stored = uow.deadlines.get(request_id)
        uow.commit()
        return stored


# --- stop-the-clock -------------------------------------------------------------------------


def pause_clock(ctx: ServiceContext, request_id: str, reason: str, on: date | None = None, *, by: str = "") -> Deadline:
    """Record that the team asked the subject for ID or clarification on ``on`` (default today);
    ``by`` names the staff member (recorded when given)."""
    reason = clean_text(reason, "reason") or ""
    by = clean_text(by, "by", limit=200) or ""
    if not reason:
        raise InvalidInput("the pause cannot be recorded", ["reason: required"])
    with ctx.uow() as uow:
        r = _open_request(uow, request_id)
        if r.regime not in PAUSE_MOVES_DUE:
            raise InvalidInput(
                f"{r.regime} has no stop-the-clock: the period runs from receipt regardless of verification",
                [f"regime: {r.regime} cannot be paused"],
            )
        if any(p.answered_on is None for p in uow.deadlines.pauses(request_id)):
            raise InvalidInput(f"{r.reference}: the clock is already stopped", ["pause: one is already open"])
        stored = pause_in(ctx, uow, r, reason, on, by=by)
        uow.commit()
        return stored


def pause_in(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, reason: str, on: date | None = None, *, by: str = "") -> Deadline:
    """Stop the clock in the caller's unit of work (checks of :func:`pause_clock` done)."""
    today = local_today(ctx)
    asked = on or today
    received = receipt_date(r.received_at, ctx.policy.timezone)
    if not received <= asked <= today:
        raise InvalidInput("the pause cannot be recorded", [f"on: must lie between receipt ({received}) and today ({today})"])
    pauses = uow.deadlines.pauses(r.id)
    now = ctx.clock()
    pause_id = uow.deadlines.add_pause(r.id, asked, reason, now)
    pauses = [*pauses, PauseRecord(pause_id, asked, None, reason)]
    new = _recompute(r, pauses, ctx, extended=uow.deadlines.get(r.id).extended)
    uow.deadlines.save(r.id, new)
    uow.audit.append([ClockPaused(r.id, now, asked, reason, PAUSE_MOVES_DUE[r.regime], pause_number=len(pauses), by=by)])
    return uow.deadlines.get(r.id)


def restart_clock(ctx: ServiceContext, request_id: str, on: date | None = None, *, by: str = "") -> Deadline:
    """Record that the subject answered on ``on`` (default today): the clock runs again."""
    by = clean_text(by, "by", limit=200) or ""
    with ctx.uow() as uow:
        r = _open_request(uow, request_id)
        if not any(p.answered_on is None for p in uow.deadlines.pauses(request_id)):
            raise InvalidInput(f"{r.reference}: the clock is not stopped", ["pause: none is open"])
        stored = restart_in(ctx, uow, r, on, by=by)
        uow.commit()
        return stored


def restart_in(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, on: date | None = None, *, by: str = "") -> Deadline:
    """Restart the clock (its open pause answered) in the caller's unit of work."""
    today = local_today(ctx)
    answered = on or today
    pauses = uow.deadlines.pauses(r.id)
    pause = [p for p in pauses if p.answered_on is None][-1]
    if not pause.asked_on <= answered <= today:
        raise InvalidInput("the clock cannot restart then", [f"on: must lie between {pause.asked_on} and today ({today})"])
    uow.deadlines.answer_pause(pause.id, answered)
    pauses = [PauseRecord(p.id, p.asked_on, answered, p.reason) if p.id == pause.id else p for p in pauses]
    new = _recompute(r, pauses, ctx, extended=uow.deadlines.get(r.id).extended)
    uow.deadlines.save(r.id, new)
    uow.audit.append([ClockRestarted(r.id, ctx.clock(), pause.id, answered, (answered - pause.asked_on).days, new.due, by)])
    return uow.deadlines.get(r.id)


VERIFICATION_PAUSE = "identity confirmation asked: the verification link went to the contact on file"


def pause_for_verification(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> bool:
    """Where the law stops the clock while the controller waits for information it reasonably
    needs to identify the subject (``uk-gdpr``: UK GDPR Art. 12 as amended by the Data (Use and
    Access) Act 2025, DPA 2018 s.54(3C) as model), the verification link stops it on the day it
    goes; nothing when another pause is open. True when it stopped now."""
    if not PAUSE_MOVES_DUE.get(r.regime, False) or r.status in DEADLINE_STOPPED:
        return False
    if any(p.answered_on is None for p in uow.deadlines.pauses(r.id)):
        return False
    pause_in(ctx, uow, r, VERIFICATION_PAUSE, by="dsar")
    return True


def restart_after_verification(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> bool:
    """The verification ended (verified or not): the clock runs again if the verification's
    own pause is the open one (a pause support opened for something else stays)."""
    open_pauses = [p for p in uow.deadlines.pauses(r.id) if p.answered_on is None]
    if not open_pauses or open_pauses[-1].reason != VERIFICATION_PAUSE:
        return False
    restart_in(ctx, uow, r, by="dsar")
    return True


# --- the watch ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    as_of: date
    considered: int
    raised: list[NewAlert]

    @property
    def notified(self) -> list[NewAlert]:
        return [a for a in self.raised if a.notify]


def sweep(ctx: ServiceContext, thresholds: Sequence[int], as_of: date | None = None) -> SweepResult:
    """Raise the alerts that are due now; a second sweep on the same day raises nothing.

    Two dates are watched, each with its own alerts: the response's date in force, and, where
    the regime requires a confirmation of receipt and none is recorded, ``acknowledge_by``.
    A request first seen already past several thresholds gets one notification, for the most
    urgent; the less urgent ones are recorded as covered so they never fire later."""
    if not thresholds or any(t < 0 for t in thresholds):
        raise InvalidInput("alert thresholds must be non-negative days", ["alert_thresholds_days: e.g. [7, 3, 1]"])
    today = as_of or local_today(ctx)
    horizon = today + timedelta(days=max(thresholds))
    with ctx.uow() as uow:
        raised: list[NewAlert] = []
        considered = 0
        watched: tuple[WatchColumn, ...] = ("watch_due", "ack_watch")
        for column in watched:
            candidates = uow.alerts.watch_candidates(horizon, column)
            done = uow.alerts.alerted(horizon, column)
            considered += len(candidates)
            for c in candidates:
                raised += _crossed(c.request_id, c.reference, c.due, today, thresholds, done, receipt=column == "ack_watch")
        # A refusal stops the statutory clock (DENIED), but while its letter waits for legal's
        # approval (DSAR_LETTER_SIGN_OFF) the subject has not been told: its date is watched
        # until the letter goes.
        for request_id, reference, due in refusals_awaiting_letter(ctx, uow, today, horizon):
            considered += 1
            done = {(a.request_id, a.due, a.kind) for a in uow.alerts.recent(request_id)}
            raised += _crossed(request_id, reference, due, today, thresholds, done, receipt=False)
        now = ctx.clock()
        # An alert still waiting to go out is superseded by a louder one raised now for the
        # same request and date kind (a due-in-7d never delivered, then the breach): only the
        # latest is sent, and `alerts list` does not show the earlier one as pending.
        louder = {(a.request_id, family(a.kind)) for a in raised if a.notify}
        if louder:
            stale = [a.id for a in uow.alerts.undelivered(2**31 - 1) if (a.request_id, family(a.kind)) in louder]
            uow.alerts.supersede(stale, now)
        uow.alerts.add(raised, now)
        uow.audit.append([DeadlineAlertRaised(a.request_id, now, a.kind, a.due, a.days_left) for a in raised if a.notify])
        uow.commit()
    # Legal's response targets of escalations, alerted like deadlines (delivered with them).
    from dsar.services.escalations import sweep_missed

    raised += sweep_missed(ctx, today)
    return SweepResult(today, considered, raised)


def _crossed(
    request_id: str,
    reference: str,
    due: date,
    today: date,
    thresholds: Sequence[int],
    done: set[tuple[str, date, str]],
    *,
    receipt: bool,
) -> list[NewAlert]:
    """The alerts one watched date needs now that were not raised before; only the most urgent
    of them is sent (and only when it is louder than what was sent already)."""
    days_left = (due - today).days
    crossed = [alert_kind(t, receipt=receipt) for t in thresholds if days_left <= t]
    if days_left < 0:
        crossed.append(ACK_BREACHED if receipt else BREACHED)
    had = [k for k in crossed if (request_id, due, k) in done]
    missing = sorted((k for k in crossed if (request_id, due, k) not in done), key=urgency, reverse=True)
    if not missing:
        return []
    loudest = missing[0]
    tell = not had or urgency(loudest) > max(urgency(k) for k in had)
    return [NewAlert(request_id, reference, k, due, days_left, notify=tell and k == loudest) for k in missing]


# How far past their date refusals are looked at for a letter still waiting for legal: a refusal
# whose letter still waits this long after its date was alerted as breached long before.
REFUSAL_LOOKBACK_DAYS = 60


def refusals_awaiting_letter(ctx: ServiceContext, uow: UnitOfWork, today: date, horizon: date) -> list[tuple[str, str, date]]:
    """(id, reference, date) of the refused requests due by ``horizon`` (and not longer than
    :data:`REFUSAL_LOOKBACK_DAYS` ago) whose refusal letter waits for legal's approval."""
    from dsar.services.pending_letter import letter_due

    since = today - timedelta(days=REFUSAL_LOOKBACK_DAYS)
    found = uow.requests.query(RequestQuery(status=Status.DENIED, due_before=horizon + timedelta(days=1), after=(since, ""), limit=100_000))
    out = []
    for r in found:
        pending = letter_due(ctx, uow, r)
        if pending is not None and pending.waits:
            out.append((r.id, r.reference, uow.deadlines.get(r.id).due))
    return out


def describe(a: Alert | NewAlert, request: PrivacyRequest | None = None) -> Notice:
    """The notice of one alert; with the request's facts (status, type, regime: no personal
    data) the body says where it stands and what it waits for."""
    if a.kind.startswith(LEGAL_MISSED):
        title = f"{a.reference}: legal's response target MISSED (escalation due {a.due}, {-a.days_left} day(s) ago)"
        body = (
            f"An escalation of {a.reference} waits for legal's decision since before {a.due}. "
            f"Decide it on the console (/console/legal) or `dsar request resolve-escalation {a.reference} …`."
        )
        return Notice(title, body, urgent=True)
    if a.kind == LETTER_BOUNCED:
        title = f"{a.reference}: a letter could not be delivered"
        body = (
            f"The mail service returned a letter of {a.reference} as undeliverable (permanent bounce). "
            f"The subject did not get it: reach them another way (post, phone), then release the request if it is held. "
            f"`dsar request events {a.reference}` shows which letter."
        )
        if request is not None:
            held = " (on hold)" if request.on_hold else ""
            body += f"\nType: {request.type.value}; regime: {request.regime}; status: {request.status.value}{held}."
        return Notice(title, body, urgent=True)
    if a.kind == ACK_BREACHED:
        title = f"{a.reference}: confirmation of receipt OVERDUE (was due {a.due}, {-a.days_left} day(s) ago)"
    elif a.kind.startswith("ack-"):
        title = f"{a.reference}: confirm receipt to the subject by {a.due} ({a.days_left} day(s) left)"
    elif a.kind == BREACHED:
        title = f"{a.reference}: statutory deadline BREACHED ({a.due}, {-a.days_left} day(s) ago)"
    elif a.days_left == 0:
        title = f"{a.reference}: due TODAY ({a.due})"
    else:
        title = f"{a.reference}: due in {a.days_left} day(s), on {a.due}"
    if a.kind.startswith("ack-"):
        body = (
            f"No confirmation of receipt is recorded for {a.reference}; the regime requires one by {a.due}. "
            f"Confirm it to the subject, then `dsar request acknowledge {a.reference} --how CHANNEL --by NAME`."
        )
    else:
        body = f"Request {a.reference} is due on {a.due} ({a.kind}). Run `dsar request show {a.reference}` for the details."
    if request is not None:
        body += (
            f"\nType: {request.type.value}; regime: {request.regime}; status: {request.status.value}"
            f"{' (on hold)' if request.on_hold else ''}.\nIt waits for {waits_for(request.status.value, request.on_hold)}."
        )
    return Notice(title, body, urgent=is_breach(a.kind) or a.days_left <= 1)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int
    digest: bool


def deliver(ctx: ServiceContext, notifier: Notifier, *, max_attempts: int = 12, digest_over: int = 20) -> DeliveryReport:
    """Deliver every alert not delivered yet (a failed one is tried again on the next sweep,
    up to ``max_attempts``). More than ``digest_over`` at once go out as one digest."""
    with ctx.uow() as uow:
        pending = uow.alerts.undelivered(max_attempts)
        facts = {rid: uow.requests.facts(rid) for rid in {a.request_id for a in pending}}  # decrypts nothing
    if not pending:
        return DeliveryReport(0, 0, False)
    batches: list[tuple[Notice, list[Alert]]]
    if len(pending) > digest_over:
        breached = sum(1 for a in pending if is_breach(a.kind))
        lines = [
            f"{describe(a).title}; {facts[a.request_id].status.value}, waits for "
            + waits_for(facts[a.request_id].status.value, facts[a.request_id].on_hold)
            for a in sorted(pending, key=lambda a: (a.due, a.reference))
        ]
        title = f"{len(pending)} privacy requests need attention ({breached} past their statutory deadline)"
        batches = [(Notice(title, "\n".join(lines), urgent=breached > 0), pending)]
    else:
        batches = [(describe(a, facts[a.request_id]), [a]) for a in pending]
    delivered = failed = 0
    for notice, alerts in batches:
        error: str | None = None
        try:
            notifier.notify(notice)
        except NotificationFailed as exc:
            error = str(exc)
        with ctx.uow() as uow:
            uow.alerts.record_delivery([a.id for a in alerts], ctx.clock(), error)
            uow.commit()
        if error is None:
            delivered += len(alerts)
        else:
            failed += len(alerts)
    return DeliveryReport(delivered, failed, len(batches) == 1 and len(pending) > digest_over)
