"""Statutory deadlines as each law counts them (docs/regulations.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsar.domain.deadlines import (
    Pause,
    add_business_days,
    add_calendar_months,
    compute_deadlines,
    is_working_day,
    next_working_day_on_or_after,
)
from dsar.domain.errors import InvalidInput, UnknownJurisdiction, UnknownRegime


def due(regime: str, received: date, **kw: object) -> date:
    return compute_deadlines(regime, received, **kw).due  # type: ignore[arg-type]


# --- the ICO's worked examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (date(2024, 9, 3), date(2024, 10, 3)),  # "received 3 Sep -> due 3 Oct"
        (date(2025, 3, 31), date(2025, 4, 30)),  # "received 31 Mar -> due 30 Apr"
        (date(2024, 11, 25), date(2024, 12, 27)),  # 25 Dec (Wed), 26 Dec (Thu) bank holidays -> Fri 27
        (date(2023, 11, 25), date(2023, 12, 27)),  # 25 Dec (Mon), 26 Dec (Tue) -> Wed 27
    ],
)
def test_ico_worked_examples(received: date, expected: date) -> None:
    assert due("uk-gdpr", received) == expected


# --- calendar months, month ends, leap years ------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 1, date(2024, 3, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # year boundary
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
    ],
)
def test_calendar_months_clamp_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


def test_month_end_received_in_january_is_due_at_the_end_of_february() -> None:
    d = compute_deadlines("gdpr", date(2024, 1, 31), country="IE")
    assert d.due == date(2024, 2, 29)  # a Thursday, no Irish holiday
    assert d.extended_due == date(2024, 4, 30)  # three months from the same start


def test_extension_counts_from_the_start_then_rolls_forward() -> None:
    # 31 Jan 2023 + 3 months = 30 Apr 2023 (Sunday); 1 May is Labour Day in Germany -> 2 May
    d = compute_deadlines("gdpr", date(2023, 1, 31), country="DE")
    assert d.due == date(2023, 2, 28)
    assert d.extended_due == date(2023, 5, 2)


# --- weekends and the holidays of the right country and subdivision -------------------------


def test_weekend_rolls_to_monday() -> None:
    # 14 Feb 2026 is a Saturday
    assert due("gdpr", date(2026, 1, 14), country="NL") == date(2026, 2, 16)


@pytest.mark.parametrize(
    ("country", "subdivision", "received", "expected"),
    [
        # Corpus Christi (Thu 4 Jun 2026) is a holiday in Bavaria, not in Berlin
        ("DE", "BY", date(2026, 5, 4), date(2026, 6, 5)),
        ("DE", "BE", date(2026, 5, 4), date(2026, 6, 4)),
        # Fête nationale, Tue 14 Jul 2026
        ("FR", None, date(2026, 6, 14), date(2026, 7, 15)),
        # St Patrick's Day, Tue 17 Mar 2026
        ("IE", None, date(2026, 2, 17), date(2026, 3, 18)),
        # Constitution Day (Sun 3 May 2026) in Poland; Monday 4 May is a working day
        ("PL", None, date(2026, 4, 3), date(2026, 5, 4)),
    ],
)
def test_gdpr_rolls_over_the_member_states_holidays(country: str, subdivision: str | None, received: date, expected: date) -> None:
    assert due("gdpr", received, country=country, subdivision=subdivision) == expected


@pytest.mark.parametrize(
    ("nation", "received", "expected"),
    [
        # St Andrew's Day, Mon 30 Nov 2026: a bank holiday in Scotland only
        ("SCT", date(2026, 10, 30), date(2026, 12, 1)),
        ("ENG", date(2026, 10, 30), date(2026, 11, 30)),
        # Battle of the Boyne, observed Mon 13 Jul 2026 in Northern Ireland only
        ("NIR", date(2026, 6, 13), date(2026, 7, 14)),
        ("WLS", date(2026, 6, 13), date(2026, 7, 13)),
    ],
)
def test_uk_gdpr_uses_the_bank_holidays_of_the_nation(nation: str, received: date, expected: date) -> None:
    assert due("uk-gdpr", received, subdivision=nation) == expected


def test_uk_gdpr_defaults_to_england_and_wales() -> None:
    assert compute_deadlines("uk-gdpr", date(2026, 10, 30)) == compute_deadlines("uk-gdpr", date(2026, 10, 30), subdivision="ENG")


# --- UK stop-the-clock ----------------------------------------------------------------------


def test_uk_stop_the_clock_moves_the_start_by_the_paused_days() -> None:
    received = date(2026, 1, 5)
    d = compute_deadlines("uk-gdpr", received, pauses=[Pause(date(2026, 1, 6), date(2026, 1, 16))])
    assert d.paused_days == 10
    assert d.start == date(2026, 1, 15)
    assert d.due == date(2026, 2, 16)  # 15 Feb 2026 is a Sunday
    assert d.extended_due == date(2026, 4, 15)
    assert not d.clock_stopped


def test_an_open_pause_stops_the_uk_clock_only() -> None:
    pauses = [Pause(date(2026, 1, 6))]
    assert compute_deadlines("uk-gdpr", date(2026, 1, 5), pauses=pauses).clock_stopped
    eu = compute_deadlines("gdpr", date(2026, 1, 5), country="IE", pauses=[Pause(date(2026, 1, 6), date(2026, 1, 16))])
    assert not eu.clock_stopped
    assert eu.paused_days == 10  # reported...
    assert eu.due == date(2026, 2, 5)  # ...but the statutory date stands


def test_a_pause_before_receipt_or_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput):
        compute_deadlines("uk-gdpr", date(2026, 1, 5), pauses=[Pause(date(2026, 1, 4), date(2026, 1, 6))])
    with pytest.raises(InvalidInput):
        compute_deadlines("uk-gdpr", date(2026, 1, 5), pauses=[Pause(date(2026, 1, 8), date(2026, 1, 6))])


# --- day-counted regimes --------------------------------------------------------------------


@pytest.mark.parametrize("regime", ["ccpa", "vcdpa", "cpa", "ctdpa", "ucpa", "tdpsa", "ocpa"])
def test_us_states_count_45_calendar_days_with_receipt_as_day_one(regime: str) -> None:
    received = date(2026, 3, 2)
    d = compute_deadlines(regime, received)
    assert d.due == received + timedelta(days=44)
    assert d.extension_notice_by == d.due
    assert d.extended_due == received + timedelta(days=89)


def test_us_deadlines_do_not_roll_over_weekends() -> None:
    # received Thu 1 Jan 2026: day 45 is Sat 14 Feb, and that is the date
    d = compute_deadlines("ccpa", date(2026, 1, 1))
    assert d.due == date(2026, 2, 14)
    assert d.due.weekday() == 5


def test_ccpa_acknowledgement_is_ten_business_days() -> None:
    # received Thu 1 Jan 2026 (New Year's Day): 2, 5-9, 12-15 Jan are the ten business days
    assert compute_deadlines("ccpa", date(2026, 1, 1)).acknowledge_by == date(2026, 1, 15)
    # received Fri 6 Nov 2026: Veterans Day (Wed 11 Nov) and Thanksgiving (26 Nov) are skipped;
    # California also observes the day after Thanksgiving
    ack = compute_deadlines("ccpa", date(2026, 11, 6)).acknowledge_by
    assert ack is not None and ack > date(2026, 11, 20)
    assert is_working_day(ack, "US", "CA")


def test_lgpd_has_fifteen_days_and_no_extension() -> None:
    d = compute_deadlines("lgpd", date(2026, 1, 1))
    assert d.due == date(2026, 1, 15)
    assert d.extension_notice_by is None and d.extended_due is None and d.acknowledge_by is None


def test_pipeda_has_thirty_days_plus_thirty() -> None:
    d = compute_deadlines("pipeda", date(2026, 1, 1))
    assert d.due == date(2026, 1, 30)
    assert d.extended_due == date(2026, 3, 1)


# --- bad input ------------------------------------------------------------------------------


def test_unknown_regime_and_country_are_refused() -> None:
    with pytest.raises(UnknownRegime):
        compute_deadlines("hipaa", date(2026, 1, 1))
    with pytest.raises(UnknownJurisdiction):
        compute_deadlines("gdpr", date(2026, 1, 1), country="US")
    with pytest.raises(UnknownJurisdiction):
        compute_deadlines("ccpa", date(2026, 1, 1), subdivision="NY")
    with pytest.raises(InvalidInput):
        compute_deadlines("gdpr", date(2026, 1, 1), country="DE", subdivision="XX")


def test_as_json_has_iso_dates_and_nulls() -> None:
    j = compute_deadlines("lgpd", date(2026, 1, 1)).as_json()
    assert j["due"] == "2026-01-15"
    assert j["extended_due"] is None


# --- properties -----------------------------------------------------------------------------

EU_SAMPLE = [("DE", None), ("DE", "BY"), ("FR", None), ("IE", None), ("NL", None), ("PL", None), ("ES", None), ("IT", None), ("SE", None)]
UK_NATIONS = ["ENG", "WLS", "SCT", "NIR"]
received_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=400, deadline=None)
@given(received=received_dates, where=st.sampled_from(EU_SAMPLE))
def test_gdpr_due_is_a_working_day_on_or_shortly_after_the_calendar_month(received: date, where: tuple[str, str | None]) -> None:
    country, sub = where
    d = compute_deadlines("gdpr", received, country=country, subdivision=sub)
    plain = add_calendar_months(received, 1)
    assert is_working_day(d.due, country, sub)
    assert plain <= d.due <= plain + timedelta(days=5)
    assert d.extended_due is not None and d.extended_due > d.due
    assert is_working_day(d.extended_due, country, sub)


@settings(max_examples=400, deadline=None)
@given(received=received_dates, nation=st.sampled_from(UK_NATIONS))
def test_uk_gdpr_due_is_a_working_day_on_or_shortly_after_the_calendar_month(received: date, nation: str) -> None:
    d = compute_deadlines("uk-gdpr", received, subdivision=nation)
    plain = add_calendar_months(received, 1)
    assert is_working_day(d.due, "GB", nation)
    assert plain <= d.due <= plain + timedelta(days=5)
    assert d.extension_notice_by == plain


@settings(max_examples=200, deadline=None)
@given(received=received_dates, pause_start=st.integers(0, 20), pause_len=st.integers(0, 40))
def test_a_uk_pause_never_brings_the_due_date_forward(received: date, pause_start: int, pause_len: int) -> None:
    asked = received + timedelta(days=pause_start)
    paused = compute_deadlines("uk-gdpr", received, pauses=[Pause(asked, asked + timedelta(days=pause_len))])
    assert paused.due >= compute_deadlines("uk-gdpr", received).due


@settings(max_examples=200, deadline=None)
@given(start=received_dates, n=st.integers(1, 30))
def test_business_days_land_on_working_days(start: date, n: int) -> None:
    end = add_business_days(start, n, "US", "CA")
    assert is_working_day(end, "US", "CA")
    assert end >= start + timedelta(days=n)
    assert next_working_day_on_or_after(end, "US", "CA") == end


def test_the_receipt_date_is_the_earlier_of_the_senders_and_the_organisations_date() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from dsar.domain.deadlines import receipt_date

    london = ZoneInfo("Europe/London")
    late_in_california = datetime(2026, 1, 1, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))  # 07:30 on 2 Jan in London
    assert receipt_date(late_in_california, london) == date(2026, 1, 1)
    early_in_tokyo = datetime(2026, 1, 2, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 21:00 on 1 Jan in London
    assert receipt_date(early_in_tokyo, london) == date(2026, 1, 1)
