"""Golden due dates for every regime (issue 16), their traces, and effective-date refusals.

Each row was checked by hand against the rule it cites: US states and the other day-counted
regimes count the day of receipt as day 1 (due = received + N - 1) with no roll-forward;
GDPR / UK GDPR count calendar months and roll forward over weekends and the nation's or
member state's holidays; New Zealand counts 20 working days after the day of receipt, leaving
out weekends, the holidays s.7 lists (Mondayised) and 25 December to 15 January; jp, sg and au
use the organisation's target (30 days unless configured). Received dates include month ends,
weekends (2026-01-31 and 2026-07-04 are Saturdays), holidays (4 July, Christmas, Good Friday,
Anzac Day, King's Birthday, Matariki) and the NZ Christmas closedown.
"""

from __future__ import annotations

from datetime import date

import pytest

from dsar.domain.deadlines import compute_deadlines, explain_deadlines
from dsar.domain.errors import InvalidInput
from dsar.domain.regimes import ALIASES, REGIMES, NotInForce, RequestType, get_regime

# (regime, received, due, extended_due, acknowledge_by, extension_notice_by)
GOLDEN: list[tuple[str, str, str, str | None, str | None, str | None]] = [
    ("gdpr", "2026-01-31", "2026-03-02", "2026-04-30", None, "2026-02-28"),
    ("gdpr", "2026-04-30", "2026-06-01", "2026-07-30", None, "2026-05-30"),
    ("gdpr", "2026-12-24", "2027-01-25", "2027-03-24", None, "2027-01-24"),
    ("uk-gdpr", "2026-01-31", "2026-03-02", "2026-04-30", None, "2026-02-28"),
    ("uk-gdpr", "2026-03-31", "2026-04-30", "2026-06-30", None, "2026-04-30"),
    ("uk-gdpr", "2026-11-25", "2026-12-29", "2027-02-25", None, "2026-12-25"),
    ("ccpa", "2026-01-31", "2026-03-16", "2026-04-30", "2026-02-13", "2026-03-16"),
    ("ccpa", "2026-07-04", "2026-08-17", "2026-10-01", "2026-07-17", "2026-08-17"),
    ("ccpa", "2026-12-31", "2027-02-13", "2027-03-30", "2027-01-15", "2027-02-13"),
    ("vcdpa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("vcdpa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("vcdpa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("cpa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("cpa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("cpa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("ctdpa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("ctdpa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("ctdpa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("ucpa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("ucpa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("ucpa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("tdpsa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("tdpsa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("tdpsa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("ocpa", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("ocpa", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("ocpa", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("lgpd", "2026-01-31", "2026-02-14", None, None, None),
    ("lgpd", "2026-07-04", "2026-07-18", None, None, None),
    ("lgpd", "2026-12-31", "2027-01-14", None, None, None),
    ("ca-qc", "2026-01-31", "2026-03-01", None, None, None),
    ("ca-qc", "2026-07-04", "2026-08-02", None, None, None),
    ("ca-qc", "2026-12-31", "2027-01-29", None, None, None),
    ("pipeda", "2026-01-31", "2026-03-01", "2026-03-31", None, "2026-03-01"),
    ("pipeda", "2026-07-04", "2026-08-02", "2026-09-01", None, "2026-08-02"),
    ("pipeda", "2026-12-31", "2027-01-29", "2027-02-28", None, "2027-01-29"),
    ("us-fl", "2026-01-31", "2026-03-16", "2026-03-31", None, "2026-03-16"),
    ("us-fl", "2026-07-04", "2026-08-17", "2026-09-01", None, "2026-08-17"),
    ("us-fl", "2026-12-31", "2027-02-13", "2027-02-28", None, "2027-02-13"),
    ("us-mt", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-mt", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-mt", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-ia", "2026-01-31", "2026-04-30", "2026-06-14", None, "2026-04-30"),
    ("us-ia", "2026-07-04", "2026-10-01", "2026-11-15", None, "2026-10-01"),
    ("us-ia", "2026-12-31", "2027-03-30", "2027-05-14", None, "2027-03-30"),
    ("us-de", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-de", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-de", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-ne", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-ne", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-ne", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-nh", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-nh", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-nh", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-nj", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-nj", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-nj", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-tn", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-tn", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-tn", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-mn", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-mn", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-mn", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-md", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-md", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-md", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-in", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-in", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-in", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-ky", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-ky", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-ky", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-ri", "2026-01-31", "2026-03-16", "2026-04-30", None, "2026-03-16"),
    ("us-ri", "2026-07-04", "2026-08-17", "2026-10-01", None, "2026-08-17"),
    ("us-ri", "2026-12-31", "2027-02-13", "2027-03-30", None, "2027-02-13"),
    ("us-ok", "2027-01-01", "2027-02-14", "2027-03-31", None, "2027-02-14"),
    ("us-ok", "2027-01-31", "2027-03-16", "2027-04-30", None, "2027-03-16"),
    ("us-ok", "2027-07-04", "2027-08-17", "2027-10-01", None, "2027-08-17"),
    ("us-la", "2027-01-01", "2027-02-14", "2027-03-31", None, "2027-02-14"),
    ("us-la", "2027-01-31", "2027-03-16", "2027-04-30", None, "2027-03-16"),
    ("us-la", "2027-07-04", "2027-08-17", "2027-10-01", None, "2027-08-17"),
    ("us-al", "2027-05-01", "2027-06-14", "2027-07-29", None, "2027-06-14"),
    ("us-al", "2027-05-31", "2027-07-14", "2027-08-28", None, "2027-07-14"),
    ("us-al", "2027-12-31", "2028-02-13", "2028-03-29", None, "2028-02-13"),
    ("ch", "2026-01-31", "2026-03-01", None, None, None),
    ("ch", "2026-07-04", "2026-08-02", None, None, None),
    ("ch", "2026-12-31", "2027-01-29", None, None, None),
    ("kr", "2026-01-31", "2026-02-09", None, None, None),
    ("kr", "2026-07-04", "2026-07-13", None, None, None),
    ("kr", "2026-12-31", "2027-01-09", None, None, None),
    ("jp", "2026-01-31", "2026-03-01", None, None, None),
    ("jp", "2026-07-04", "2026-08-02", None, None, None),
    ("jp", "2026-12-31", "2027-01-29", None, None, None),
    ("sg", "2026-01-31", "2026-03-01", None, None, "2026-03-01"),
    ("sg", "2026-07-04", "2026-08-02", None, None, "2026-08-02"),
    ("sg", "2026-12-31", "2027-01-29", None, None, "2027-01-29"),
    ("nz", "2026-12-10", "2027-01-29", None, None, None),
    ("nz", "2026-12-24", "2027-02-15", None, None, None),
    ("nz", "2026-03-31", "2026-05-01", None, None, None),
    ("nz", "2027-06-01", "2027-07-01", None, None, None),
    ("za", "2026-01-31", "2026-03-01", "2026-03-31", None, "2026-03-01"),
    ("za", "2026-07-04", "2026-08-02", "2026-09-01", None, "2026-08-02"),
    ("za", "2026-12-31", "2027-01-29", "2027-02-28", None, "2027-01-29"),
    ("tr", "2026-01-31", "2026-03-01", None, None, None),
    ("tr", "2026-07-04", "2026-08-02", None, None, None),
    ("tr", "2026-12-31", "2027-01-29", None, None, None),
    ("th", "2026-01-31", "2026-03-01", None, None, None),
    ("th", "2026-07-04", "2026-08-02", None, None, None),
    ("th", "2026-12-31", "2027-01-29", None, None, None),
    ("au", "2026-01-31", "2026-03-01", None, None, None),
    ("au", "2026-07-04", "2026-08-02", None, None, None),
    ("au", "2026-12-31", "2027-01-29", None, None, None),
]


def _d(v: str | None) -> date | None:
    return date.fromisoformat(v) if v else None


@pytest.mark.parametrize(("code", "received", "due", "extended", "ack", "notice"), GOLDEN)
def test_golden_due_dates(code: str, received: str, due: str, extended: str | None, ack: str | None, notice: str | None) -> None:
    d = compute_deadlines(code, date.fromisoformat(received))
    assert (d.due, d.extended_due, d.acknowledge_by, d.extension_notice_by) == (_d(due), _d(extended), _d(ack), _d(notice))


def test_every_regime_has_at_least_three_golden_rows() -> None:
    counts = {code: sum(1 for row in GOLDEN if row[0] == code) for code in REGIMES}
    assert all(n >= 3 for n in counts.values()), counts


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_every_regime_explains_each_date_citing_its_rule(code: str) -> None:
    received = next(date.fromisoformat(row[1]) for row in GOLDEN if row[0] == code)
    trace = explain_deadlines(code, received)
    steps = {s.step for s in trace.steps}
    assert {"start", "due"} <= steps
    assert trace.steps[0].on == received
    due_steps = [s for s in trace.steps if s.step == "due"]
    assert len(due_steps) == 1 and due_steps[0].on == trace.deadline.due
    assert all(s.rule for s in trace.steps), [s for s in trace.steps if not s.rule]
    assert trace.lines() and all(isinstance(line, str) for line in trace.lines())
    if trace.deadline.extended_due is not None:
        assert any(s.step == "extension" and s.on == trace.deadline.extended_due for s in trace.steps)


def test_the_nz_trace_names_the_closedown_and_the_listed_holidays() -> None:
    over_christmas = explain_deadlines("nz", date(2026, 12, 10))
    skipped = {s.on: s.detail for s in over_christmas.steps if s.step == "skip"}
    assert "closedown" in skipped[date(2027, 1, 15)] and "closedown" in skipped[date(2026, 12, 25)]
    assert date(2027, 1, 18) not in skipped  # the first working day after the closedown counts
    autumn = explain_deadlines("nz", date(2026, 3, 31))
    skipped = {s.on: s.detail for s in autumn.steps if s.step == "skip"}
    assert "Good Friday" in skipped[date(2026, 4, 3)] and "Easter Monday" in skipped[date(2026, 4, 6)]
    assert "Anzac Day" in skipped[date(2026, 4, 27)]  # 25 April 2026 is a Saturday: Mondayised
    winter = explain_deadlines("nz", date(2027, 6, 1))
    skipped = {s.on: s.detail for s in winter.steps if s.step == "skip"}
    assert "King's Birthday" in skipped[date(2027, 6, 7)] and "Matariki" in skipped[date(2027, 6, 25)]


def test_a_regional_anniversary_day_is_a_working_day_in_nz() -> None:
    """s.7 lists national holidays only: Auckland Anniversary (26 Jan 2027) still counts."""
    trace = explain_deadlines("nz", date(2026, 12, 10), subdivision=None)
    assert date(2027, 1, 26) not in {s.on for s in trace.steps if s.step == "skip"}


def test_the_gdpr_trace_shows_the_roll_forward_and_why() -> None:
    trace = explain_deadlines("uk-gdpr", date(2026, 11, 25), subdivision="ENG")
    skipped = {s.on: s.detail for s in trace.steps if s.step == "skip"}
    assert "Christmas" in skipped[date(2026, 12, 25)] and "Saturday" in skipped[date(2026, 12, 26)]
    assert any(s.step == "roll-forward" and s.on == date(2026, 12, 29) for s in trace.steps)


def test_the_ccpa_trace_counts_the_acknowledgement_over_the_fourth_of_july() -> None:
    trace = explain_deadlines("ccpa", date(2026, 7, 2))
    skipped = {s.on: s.detail for s in trace.steps if s.step == "skip"}
    assert "Independence Day" in skipped[date(2026, 7, 3)]  # observed on the Friday
    assert trace.deadline.acknowledge_by == date(2026, 7, 17)


@pytest.mark.parametrize("target", [1, 10, 45])
@pytest.mark.parametrize("code", ["jp", "sg", "au"])
def test_without_delay_regimes_use_the_organisations_target(code: str, target: int) -> None:
    d = compute_deadlines(code, date(2026, 3, 2), target_days=target)
    assert (d.due - date(2026, 3, 2)).days == target - 1
    words = get_regime(code).clock.law_words
    assert words and any(words in s.detail for s in explain_deadlines(code, date(2026, 3, 2), target_days=target).steps)


def test_singapore_keeps_its_thirty_day_notice_whatever_the_target() -> None:
    d = compute_deadlines("sg", date(2026, 3, 2), target_days=60)
    assert d.extension_notice_by == date(2026, 3, 31) and d.due == date(2026, 4, 30)


def test_a_target_below_one_day_is_refused() -> None:
    with pytest.raises(InvalidInput):
        compute_deadlines("jp", date(2026, 3, 2), target_days=0)


# --- effective dates ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(c for c, r in REGIMES.items() if r.effective is not None))
def test_a_request_received_the_day_before_the_law_takes_effect_is_refused(code: str) -> None:
    effective = REGIMES[code].effective
    assert effective is not None
    compute_deadlines(code, effective)  # the first day it is in force
    with pytest.raises(NotInForce) as refused:
        compute_deadlines(code, date.fromordinal(effective.toordinal() - 1))
    assert effective.isoformat() in str(refused.value) and code in str(refused.value)


@pytest.mark.parametrize(("code", "effective"), [("us-ok", date(2027, 1, 1)), ("us-la", date(2027, 1, 1)), ("us-al", date(2027, 5, 1))])
def test_the_2027_laws_are_known_but_not_yet_in_force(code: str, effective: date) -> None:
    assert REGIMES[code].effective == effective
    assert not REGIMES[code].in_force(date(2026, 12, 31))


# --- appeals --------------------------------------------------------------------------------

# (regime, appeal received, decision due, extended)
APPEALS = [
    ("us-va", "2026-03-31", "2026-05-29", None),
    ("vcdpa", "2026-12-31", "2027-02-28", None),
    ("us-co", "2026-01-31", "2026-03-16", "2026-05-15"),  # 45 days +60
    ("us-mn", "2026-07-04", "2026-08-17", "2026-10-16"),
    ("us-or", "2026-02-28", "2026-04-13", None),
    ("us-nj", "2026-02-28", "2026-04-13", None),
    ("us-tx", "2026-02-28", "2026-04-28", None),
]


@pytest.mark.parametrize(("code", "received", "due", "extended"), APPEALS)
def test_appeal_deadlines_follow_the_states_rule(code: str, received: str, due: str, extended: str | None) -> None:
    trace = explain_deadlines(code, date.fromisoformat(received), request_type=RequestType.APPEAL)
    assert (trace.deadline.due, trace.deadline.extended_due) == (_d(due), _d(extended))
    assert any(s.step == "notice" and "complain" in s.detail for s in trace.steps)


@pytest.mark.parametrize("code", ["ccpa", "ucpa", "gdpr", "nz", "pipeda"])
def test_regimes_without_an_appeal_right_refuse_an_appeal(code: str) -> None:
    with pytest.raises(InvalidInput, match="no right to appeal"):
        compute_deadlines(code, date(2026, 3, 2), request_type=RequestType.APPEAL)


def test_eighteen_in_force_us_laws_give_an_appeal() -> None:
    in_force_us = [r for r in REGIMES.values() if r.country == "US" and r.in_force(date(2026, 12, 31))]
    assert len(in_force_us) == 20
    assert sum(1 for r in in_force_us if r.appeal is not None) == 18


def test_every_us_state_is_reachable_by_its_postal_code() -> None:
    for r in REGIMES.values():
        if r.country == "US":
            assert r.subdivisions is not None and len(r.subdivisions) == 1
            (state,) = r.subdivisions
            code = f"us-{state.lower()}"
            assert get_regime(code) is r
            assert code == r.code or ALIASES[code] == r.code


def test_a_place_picks_no_law_before_it_takes_effect_when_asked_for_a_date() -> None:
    from dsar.domain.regimes import regime_for_place

    assert regime_for_place("US", "OK") == "us-ok"  # intake then refuses it, naming the date
    assert regime_for_place("US", "OK", on=date(2026, 12, 31)) is None  # the web form's default
    assert regime_for_place("US", "OK", on=date(2027, 1, 1)) == "us-ok"
    assert regime_for_place("US", "AL", on=date(2027, 4, 30)) is None
    assert regime_for_place("US", "VA", on=date(2022, 12, 31)) is None and regime_for_place("US", "VA", on=date(2023, 1, 1)) == "vcdpa"
