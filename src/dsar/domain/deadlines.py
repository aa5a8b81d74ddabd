"""Statutory deadlines, as each law counts them (pure: time is passed in).

Sources are in docs/regulations.md; every rule cites its own. Where the law is ambiguous the
engine takes the EARLIER date, and docs/deadlines.md records each such choice.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dsar.domain.errors import InvalidInput
from dsar.domain.regimes import ClockKind, Regime, RequestType, check_in_force, get_regime, resolve_jurisdiction


@dataclass(frozen=True)
class Pause:
    """UK stop-the-clock: asked for ID/clarification on ``asked_on``; answered on
    ``answered_on`` (None: still waiting)."""

    asked_on: date
    answered_on: date | None = None


@dataclass(frozen=True)
class PauseRecord:
    """A stored stop-the-clock pause (its reason is sealed at rest)."""

    id: int
    asked_on: date
    answered_on: date | None
    reason: str | None

    @property
    def pause(self) -> Pause:
        return Pause(self.asked_on, self.answered_on)


@dataclass(frozen=True)
class Deadline:
    """A request's dates. ``due`` is the date in force now (``extended_due`` once extended, moved
    by UK stop-the-clock pauses); ``statutory_due`` the one first computed at intake. The
    computation below fills the statutory fields; storage adds what happened since
    (``extended``, ``acknowledged_at``)."""

    due: date
    acknowledge_by: date | None = None
    extension_notice_by: date | None = None
    extended_due: date | None = None
    statutory_due: date | None = None
    extended: bool = False
    paused_days: int = 0
    clock_stopped: bool = False
    acknowledged_at: datetime | None = None
    regime: str = ""
    received: date | None = None
    start: date | None = None

    def in_force(self, *, extended: bool) -> Deadline:
        """These dates with the extension applied (or not), for a recomputation."""
        due = self.extended_due if extended and self.extended_due is not None else self.due
        return replace(self, due=due, extended=extended)

    def as_json(self) -> dict[str, str | int | bool | None]:
        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "regime": self.regime,
            "received": iso(self.received),
            "start": iso(self.start),
            "due": self.due.isoformat(),
            "acknowledge_by": iso(self.acknowledge_by),
            "extension_notice_by": iso(self.extension_notice_by),
            "extended_due": iso(self.extended_due),
            "paused_days": self.paused_days,
            "clock_stopped": self.clock_stopped,
        }


def receipt_date(received: datetime, zone: ZoneInfo) -> date:
    """The date the clock starts from: the earlier of the date where the request was sent
    (its own offset) and the date at the organisation (docs/deadlines.md)."""
    return min(received.date(), received.astimezone(zone).date())


# Regimes whose clock can be stopped while the team waits for ID or clarification, and whether
# the stop moves the due date. UK GDPR Art. 12A / DPA 2018 s.54(3C)-(3D): yes. EU GDPR: the
# text has none; the engine records the pause and keeps the statutory date. The US states
# count from receipt "regardless of time required to verify" (11 CCR 7021(b)); LGPD and PIPEDA
# state no pause either: a pause is refused there.
PAUSE_MOVES_DUE: dict[str, bool] = {"uk-gdpr": True, "gdpr": False}


# --- calendars ------------------------------------------------------------------------------

_HOLIDAY_COUNTRY = {"GB": "GB"}


@lru_cache(maxsize=512)
def _holiday_names(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    import holidays  # on first use: a command that counts no working days does not load the calendars

    try:
        cal = holidays.country_holidays(_HOLIDAY_COUNTRY.get(country, country), subdiv=subdivision, years=year)
    except NotImplementedError:
        raise InvalidInput(f"no public-holiday calendar for {country}{'-' + subdivision if subdivision else ''}") from None
    return dict(cal.items())


def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(_holiday_names(country, subdivision, year))


def is_working_day(d: date, country: str, subdivision: str | None) -> bool:
    return d.weekday() < 5 and d not in _holidays(country, subdivision, d.year)


def why_not_working(d: date, country: str, subdivision: str | None) -> str | None:
    """Why ``d`` is not a working day (its weekday or the holiday's name), None if it is one."""
    if d.weekday() >= 5:
        return d.strftime("%A")
    return _holiday_names(country, subdivision, d.year).get(d)


def next_working_day_on_or_after(d: date, country: str, subdivision: str | None) -> date:
    """Reg. 1182/71 Art. 3(4): a period ending on a Saturday, Sunday or public holiday ends at
    the end of the next working day."""
    while not is_working_day(d, country, subdivision):
        d += timedelta(days=1)
    return d


def add_business_days(start: date, n: int, country: str, subdivision: str | None) -> date:
    d = start
    counted = 0
    while counted < n:
        d += timedelta(days=1)
        if is_working_day(d, country, subdivision):
            counted += 1
    return d


def add_calendar_months(start: date, months: int) -> date:
    """Same day of the month, clamped to the month's last day (Reg. 1182/71 Art. 3(2)(c);
    ICO: received 31 Mar -> due 30 Apr)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def in_closedown(d: date, closedown: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether ``d`` falls in a yearly closedown running from (month, day) to (month, day) of
    the next year (NZ Privacy Act 2020 s.7: 25 December to 15 January)."""
    (m1, d1), (m2, d2) = closedown
    return (d.month, d.day) >= (m1, d1) or (d.month, d.day) <= (m2, d2)


def statutory_non_working(d: date, regime: Regime, country: str, subdivision: str | None) -> str | None:
    """Why ``d`` is not a working day as the regime's own law defines one (NZ s.7), else None."""
    clock = regime.clock
    if d.weekday() >= 5:
        return d.strftime("%A")
    if clock.closedown is not None and in_closedown(d, clock.closedown):
        (m1, d1), (m2, d2) = clock.closedown
        return f"{d1} {calendar.month_abbr[m1]} to {d2} {calendar.month_abbr[m2]} closedown"
    name = _holiday_names(country, subdivision, d.year).get(d)
    if name is not None and (clock.listed_holidays is None or name in clock.listed_holidays):
        return name
    return None


# --- the trace ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceStep:
    """One step of how a date was counted: what happened on ``on`` and the rule that says so."""

    step: str  # start, count, skip, roll-forward, due, extension, notice, acknowledge
    on: date | None
    detail: str
    rule: str = ""

    def as_json(self) -> dict[str, str | None]:
        return {"step": self.step, "on": self.on.isoformat() if self.on else None, "detail": self.detail, "rule": self.rule}


@dataclass(frozen=True)
class DeadlineTrace:
    """The dates and how each one was counted (``dsar deadline --explain``, the console)."""

    deadline: Deadline
    steps: tuple[TraceStep, ...]

    def lines(self) -> list[str]:
        out = []
        for s in self.steps:
            when = s.on.isoformat() if s.on else "          "
            out.append(f"{when}  {s.step:<12} {s.detail}" + (f"  [{s.rule}]" if s.rule else ""))
        return out

    def as_json(self) -> list[dict[str, str | None]]:
        return [s.as_json() for s in self.steps]


def _skipped(trace: list[TraceStep], days: Sequence[tuple[date, str]], rule: str) -> None:
    for d, why in days:
        trace.append(TraceStep("skip", d, f"not counted: {why}", rule))


# --- rules ----------------------------------------------------------------------------------


def _paused_days(received: date, pauses: Sequence[Pause]) -> tuple[int, bool]:
    total, open_pause = 0, False
    for p in pauses:
        if p.asked_on < received:
            raise InvalidInput("a pause cannot start before the request was received", ["pauses: asked before received"])
        if p.answered_on is None:
            open_pause = True
            continue
        if p.answered_on < p.asked_on:
            raise InvalidInput("a pause cannot end before it started", ["pauses: answered before asked"])
        total += (p.answered_on - p.asked_on).days
    return total, open_pause


def _roll_forward(d: date, country: str, sub: str | None, trace: list[TraceStep], label: str, rule: str) -> date:
    start = d
    skipped: list[tuple[date, str]] = []
    while not is_working_day(d, country, sub):
        skipped.append((d, why_not_working(d, country, sub) or "holiday"))
        d += timedelta(days=1)
    if skipped:
        _skipped(trace, skipped, rule)
        trace.append(
            TraceStep(
                "roll-forward", d, f"{label}: {start} is not a working day in {country}{'-' + sub if sub else ''}; moved to {d}", rule
            )
        )
    else:
        trace.append(TraceStep("roll-forward", d, f"{label}: {d} is a working day; no roll-forward", rule))
    return d


def _months_rule(reg: Regime, received: date, country: str, sub: str | None, pauses: Sequence[Pause], trace: list[TraceStep]) -> Deadline:
    """GDPR Art. 12(3) and UK GDPR Art. 12(3): one month, extendable by two further months
    counted from the same start (three in total, ICO); Reg. 1182/71 Art. 3 for the counting."""
    stop_clock = PAUSE_MOVES_DUE.get(reg.code, False)
    rule = reg.clock.rule
    paused, open_pause = _paused_days(received, pauses)
    # UK: DPA 2018 s.54(3C)-(3D) model — the days between asking and receiving do not count,
    # so the start moves forward by the paused days. The EU text has no such rule: gdpr keeps
    # the statutory date and only reports the paused time (docs/regulations.md).
    start = received + timedelta(days=paused) if stop_clock else received
    trace.append(TraceStep("start", received, "received (local date of receipt)", rule))
    if paused:
        if stop_clock:
            trace.append(
                TraceStep(
                    "start", start, f"start moved by {paused} paused day(s) (stop-the-clock)", "UK GDPR Art. 12A; DPA 2018 s.54(3C)-(3D)"
                )
            )
        else:
            trace.append(TraceStep("start", start, f"{paused} paused day(s) recorded; the EU text has no stop-the-clock", rule))
    months = reg.clock.months or 1
    plain_due = add_calendar_months(start, months)
    clamp = " (that day does not exist: the month's last day)" if plain_due.day != start.day else ""
    trace.append(
        TraceStep("count", plain_due, f"{months} calendar month(s) from {start}: same day number{clamp}", "Reg. 1182/71 Art. 3(2)(c)")
    )
    due = _roll_forward(plain_due, country, sub, trace, "due", "Reg. 1182/71 Art. 3(4)")
    trace.append(TraceStep("due", due, "response due", rule))
    ext_months = months + (reg.clock.extension or 0)
    plain_ext = add_calendar_months(start, ext_months)
    trace.append(
        TraceStep("extension", plain_ext, f"{ext_months} calendar months from the same start {start} (+{reg.clock.extension})", rule)
    )
    extended = _roll_forward(plain_ext, country, sub, trace, "extended due", "Reg. 1182/71 Art. 3(4)")
    # The subject must be told of an extension "within one month of receipt" (Art. 12(3)):
    # the earlier reading is the plain calendar-month date, before any roll-forward.
    trace.append(TraceStep("notice", plain_due, "tell the subject of an extension by the plain one-month date (earlier reading)", rule))
    return Deadline(
        due,
        None,
        plain_due,
        extended,
        due,
        paused_days=paused,
        clock_stopped=open_pause and stop_clock,
        regime=reg.code,
        received=received,
        start=start,
    )


def _acknowledge(reg: Regime, received: date, country: str, sub: str | None, trace: list[TraceStep]) -> date | None:
    n = reg.clock.acknowledge_business_days
    if not n:
        return None
    ack = add_business_days(received, n, country, sub)
    skipped = [
        (d, why)
        for d in (received + timedelta(days=i) for i in range(1, (ack - received).days))
        if (why := why_not_working(d, country, sub)) is not None
    ]
    _skipped(trace, skipped, "11 CCR 7021(a)")
    trace.append(
        TraceStep("acknowledge", ack, f"confirm receipt within {n} business days, counted from the day after receipt", "11 CCR 7021(a)")
    )
    return ack


def _days_rule(reg: Regime, received: date, country: str, sub: str | None, pauses: Sequence[Pause], trace: list[TraceStep]) -> Deadline:
    """Calendar days; the day of receipt counts as day 1 (11 CCR 7021(b): the period "begins on
    the day that the business receives the request"), so day N is received + N-1: the earlier
    reading, applied to every regime counted in days. No roll-forward over weekends or holidays."""
    paused, _ = _paused_days(received, pauses)  # reported only: no stop-the-clock outside the UK
    clock, rule = reg.clock, reg.clock.rule
    trace.append(TraceStep("start", received, "received; the day of receipt counts as day 1", rule))
    due = received + timedelta(days=clock.days - 1)
    trace.append(TraceStep("count", due, f"day {clock.days} of {clock.days} calendar days", rule))
    trace.append(TraceStep("roll-forward", due, "none: calendar days, and the law gives no roll-forward (earlier reading)", rule))
    trace.append(TraceStep("due", due, "response due", rule))
    ext = clock.extension or 0
    extended = received + timedelta(days=clock.days + ext - 1) if ext else None
    if extended is not None:
        trace.append(TraceStep("extension", extended, f"+{ext} days: day {clock.days + ext} from the same start", rule))
        trace.append(TraceStep("notice", due, f"an extension must be notified {clock.extension_notice}", rule))
    else:
        trace.append(
            TraceStep(
                "extension", None, "none the engine can count" + (f" ({clock.extension_notice})" if clock.extension_notice else ""), rule
            )
        )
    ack = _acknowledge(reg, received, country, sub, trace)
    return Deadline(
        due, ack, due if extended else None, extended, due, paused_days=paused, regime=reg.code, received=received, start=received
    )


def _working_days_rule(
    reg: Regime, received: date, country: str, sub: str | None, pauses: Sequence[Pause], trace: list[TraceStep]
) -> Deadline:
    """NZ Privacy Act 2020 s.44: N working days after the day on which the request is received;
    s.7 defines a working day (no weekend, no listed holiday, nothing from 25 Dec to 15 Jan)."""
    paused, _ = _paused_days(received, pauses)
    clock, rule = reg.clock, reg.clock.rule
    trace.append(TraceStep("start", received, "received; counting starts the day after", rule))
    d, counted = received, 0
    skipped: list[tuple[date, str]] = []
    while counted < clock.days:
        d += timedelta(days=1)
        why = statutory_non_working(d, reg, country, sub)
        if why is None:
            counted += 1
        else:
            skipped.append((d, why))
    _skipped(trace, skipped, "Privacy Act 2020 s.7 'working day'")
    trace.append(TraceStep("count", d, f"working day {clock.days} after the day of receipt ({len(skipped)} day(s) not counted)", rule))
    trace.append(TraceStep("roll-forward", d, "none needed: the count ends on a working day", rule))
    trace.append(TraceStep("due", d, "response due", rule))
    trace.append(TraceStep("extension", None, f"none the engine can count ({clock.extension_notice})", "Privacy Act 2020 s.48"))
    return Deadline(d, None, None, None, d, paused_days=paused, regime=reg.code, received=received, start=received)


def _target_rule(reg: Regime, received: date, target_days: int, pauses: Sequence[Pause], trace: list[TraceStep]) -> Deadline:
    """The law sets no number ("without delay", "within a reasonable period"): the due date is
    the organisation's own target (DSAR_REASONABLE_PERIOD_DAYS), the letter quotes the law."""
    paused, _ = _paused_days(received, pauses)
    clock, rule = reg.clock, reg.clock.rule
    if target_days < 1:
        raise InvalidInput("the reasonable-period target must be at least 1 day", ["reasonable_period_days: at least 1"])
    trace.append(TraceStep("start", received, "received; the day of receipt counts as day 1", rule))
    trace.append(
        TraceStep(
            "count",
            None,
            f"the law says {clock.law_words!r}: the organisation's target is {target_days} day(s) (DSAR_REASONABLE_PERIOD_DAYS)",
            rule,
        )
    )
    due = received + timedelta(days=target_days - 1)
    notice = None
    if clock.notice_within_days:
        notice = received + timedelta(days=clock.notice_within_days - 1)
        if notice < due:
            trace.append(
                TraceStep("notice", notice, f"not answered within {clock.notice_within_days} days: {clock.extension_notice}", rule)
            )
        else:
            trace.append(
                TraceStep("notice", notice, f"the target is within the {clock.notice_within_days} days; no notice needed if met", rule)
            )
    trace.append(TraceStep("due", due, f"response due by the organisation's target (law: {clock.law_words})", rule))
    return Deadline(due, None, notice, None, due, paused_days=paused, regime=reg.code, received=received, start=received)


def _appeal_rule(reg: Regime, received: date, trace: list[TraceStep]) -> Deadline:
    """An appeal of a refusal: decided within the state's period of the appeal's receipt (day of
    receipt is day 1, the earlier reading), extendable where the state allows it."""
    appeal = reg.appeal
    assert appeal is not None
    trace.append(TraceStep("start", received, "appeal received; the day of receipt counts as day 1", appeal.rule))
    due = received + timedelta(days=appeal.days - 1)
    trace.append(TraceStep("count", due, f"day {appeal.days} of {appeal.days} calendar days", appeal.rule))
    trace.append(TraceStep("due", due, "appeal decision due, in writing with reasons", appeal.rule))
    extended = received + timedelta(days=appeal.days + appeal.extension - 1) if appeal.extension else None
    if extended is not None:
        trace.append(TraceStep("extension", extended, f"+{appeal.extension} days with notice inside the first {appeal.days}", appeal.rule))
    if appeal.complaint_route_required:
        trace.append(TraceStep("notice", None, f"a denied appeal names how to complain to {reg.regulator}", appeal.rule))
    return Deadline(due, None, due if extended else None, extended, due, regime=reg.code, received=received, start=received)


def explain_deadlines(
    regime: str,
    received: date,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    request_type: RequestType = RequestType.ACCESS,
    pauses: Sequence[Pause] = (),
    target_days: int = 30,
) -> DeadlineTrace:
    """The statutory dates of a request received on ``received`` and how each was counted."""
    reg = get_regime(regime)
    check_in_force(reg, received)
    c, sub = resolve_jurisdiction(reg, country, subdivision)
    trace: list[TraceStep] = []
    if request_type is RequestType.APPEAL:
        if reg.appeal is None:
            raise InvalidInput(f"{reg.code} gives no right to appeal a refusal", [f"type: {reg.code} has no appeal"])
        return DeadlineTrace(_appeal_rule(reg, received, trace), tuple(trace))
    kind = reg.clock.kind
    if kind is ClockKind.MONTHS:
        d = _months_rule(reg, received, c, sub, tuple(pauses), trace)
    elif kind is ClockKind.WORKING_DAYS:
        d = _working_days_rule(reg, received, c, sub, tuple(pauses), trace)
    elif kind is ClockKind.TARGET:
        d = _target_rule(reg, received, target_days, tuple(pauses), trace)
    else:
        d = _days_rule(reg, received, c, sub, tuple(pauses), trace)
    return DeadlineTrace(d, tuple(trace))


def compute_deadlines(
    regime: str,
    received: date,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    request_type: RequestType = RequestType.ACCESS,
    pauses: Sequence[Pause] = (),
    target_days: int = 30,
) -> Deadline:
    """The statutory dates of a request received on ``received`` (the local date of receipt)."""
    return explain_deadlines(
        regime, received, country=country, subdivision=subdivision, request_type=request_type, pauses=pauses, target_days=target_days
    ).deadline
