"""Statutory deadlines, as each law counts them (pure: time is passed in).

Sources are in docs/regulations.md; every rule cites its own. Where the law is ambiguous the
engine takes the EARLIER date, and docs/deadlines.md records each such choice.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from dsar.domain.errors import InvalidInput
from dsar.domain.regimes import RequestType, get_regime, resolve_jurisdiction


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
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    try:
        cal = holidays.country_holidays(_HOLIDAY_COUNTRY.get(country, country), subdiv=subdivision, years=year)
    except NotImplementedError:
        raise InvalidInput(f"no public-holiday calendar for {country}{'-' + subdivision if subdivision else ''}") from None
    return frozenset(cal.keys())


def is_working_day(d: date, country: str, subdivision: str | None) -> bool:
    return d.weekday() < 5 and d not in _holidays(country, subdivision, d.year)


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


def _months_rule(regime: str, received: date, country: str, sub: str | None, pauses: Sequence[Pause], *, stop_clock: bool) -> Deadline:
    """GDPR Art. 12(3) and UK GDPR Art. 12(3): one month, extendable by two further months
    counted from the same start (three in total, ICO); Reg. 1182/71 Art. 3 for the counting."""
    paused, open_pause = _paused_days(received, pauses)
    # UK: DPA 2018 s.54(3C)-(3D) model — the days between asking and receiving do not count,
    # so the start moves forward by the paused days. The EU text has no such rule: gdpr keeps
    # the statutory date and only reports the paused time (docs/regulations.md).
    start = received + timedelta(days=paused) if stop_clock else received
    plain_due = add_calendar_months(start, 1)
    due = next_working_day_on_or_after(plain_due, country, sub)
    extended = next_working_day_on_or_after(add_calendar_months(start, 3), country, sub)
    # The subject must be told of an extension "within one month of receipt" (Art. 12(3)):
    # the earlier reading is the plain calendar-month date, before any roll-forward.
    return Deadline(
        due,
        None,
        plain_due,
        extended,
        due,
        paused_days=paused,
        clock_stopped=open_pause and stop_clock,
        regime=regime,
        received=received,
        start=start,
    )


def _days_rule(days: int, extension: int | None, acknowledge_business_days: int | None) -> Callable[..., Deadline]:
    def rule(regime: str, received: date, country: str, sub: str | None, pauses: Sequence[Pause], *, stop_clock: bool) -> Deadline:
        paused, _ = _paused_days(received, pauses)  # reported only: no US/LGPD/PIPEDA stop-the-clock
        # Earlier reading: the day of receipt counts as day 1 (11 CCR 7021(b): the period
        # "begins on the day that the business receives the request"), so day N is received
        # + N-1. Calendar days: no roll-forward over weekends or holidays.
        due = received + timedelta(days=days - 1)
        extended = received + timedelta(days=days + extension - 1) if extension else None
        ack = add_business_days(received, acknowledge_business_days, country, sub) if acknowledge_business_days else None
        return Deadline(
            due, ack, due if extension else None, extended, due, paused_days=paused, regime=regime, received=received, start=received
        )

    return rule


_RULES: dict[str, Callable[..., Deadline]] = {
    "gdpr": _months_rule,
    "uk-gdpr": lambda *a, **k: _months_rule(*a, **{**k, "stop_clock": True}),
    # Cal. Civ. Code 1798.130(a)(2); 11 CCR 7021(a) acknowledgement within 10 business days.
    "ccpa": _days_rule(45, 45, 10),
    "vcdpa": _days_rule(45, 45, None),  # Va. Code 59.1-577(B)
    "cpa": _days_rule(45, 45, None),  # C.R.S. 6-1-1306(2)
    "ctdpa": _days_rule(45, 45, None),  # Conn. Gen. Stat. 42-518(b)
    "ucpa": _days_rule(45, 45, None),  # Utah Code 13-61-203(4)
    "tdpsa": _days_rule(45, 45, None),  # Tex. Bus. & Com. Code 541.052
    "ocpa": _days_rule(45, 45, None),  # ORS 646A.576
    # LGPD Art. 19(II): the complete statement within 15 days "counted from the date of the
    # request"; no extension. Deletion and correction have no stated period: 15 days too.
    "lgpd": _days_rule(15, None, None),
    # PIPEDA Sch. 1 / s.8(3): 30 days after receipt, +30 (s.8(4)) with notice within the 30.
    "pipeda": _days_rule(30, 30, None),
}


def compute_deadlines(
    regime: str,
    received: date,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    request_type: RequestType = RequestType.ACCESS,
    pauses: Sequence[Pause] = (),
) -> Deadline:
    """The statutory dates of a request received on ``received`` (the local date of receipt)."""
    reg = get_regime(regime)
    c, sub = resolve_jurisdiction(reg, country, subdivision)
    return _RULES[reg.code](reg.code, received, c, sub, tuple(pauses), stop_clock=False)
