"""Logging a request (dsar.services.intake)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.services.intake import log_request
from tests.unit.services.conftest import JANE, World

ACCESS = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": [JANE]}}


def test_a_valid_request_is_stored_with_its_statutory_dates_and_two_events(world: World) -> None:
    result = log_request(world.ctx, ACCESS)
    r = result.request
    assert r.reference == "DSR-2026-000001" and r.status is Status.RECEIVED
    assert result.deadline.due == date(2026, 4, 2)
    with world.uow() as uow:
        stored = uow.requests.get(r.id)
        deadline = uow.deadlines.get(r.id)
    assert stored.subject.emails == (JANE,) and deadline.due == date(2026, 4, 2)
    assert world.events(r.id) == ["RequestLogged", "DeadlinesComputed"]
    assert world.details(r.id, "RequestLogged") == [
        {"reference": r.reference, "type": "access", "regime": "gdpr", "channel": "web", "language": "en"}
    ]
    assert world.details(r.id, "DeadlinesComputed") == [
        {"due": "2026-04-02", "acknowledge_by": None, "extension_notice_by": "2026-04-02", "extended_due": "2026-06-02"}
    ]


def test_an_invalid_submission_names_every_problem_and_writes_nothing(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        log_request(world.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"emails": ["not-an-email"]}})
    assert "subject.name: required" in caught.value.problems
    assert "subject.emails: not a valid email address" in caught.value.problems
    assert "not-an-email" not in str(caught.value.problems)
    assert world.db.committed_requests == 0 and world.db.committed_events == 0


def test_a_repeat_within_the_window_is_a_request_of_its_own_with_its_own_reference_and_clock(world: World) -> None:
    # Nothing is verified at intake: linking here let anyone swallow another person's request by
    # naming their address (security probe, item 4). Repeats are linked after verification.
    first = log_request(world.ctx, ACCESS)
    world.clock.advance(hours=2)
    repeat = log_request(world.ctx, ACCESS | {"channel": "email"})
    assert repeat.request.id != first.request.id and repeat.request.reference == "DSR-2026-000002"
    assert repeat.request.linked_to is None and repeat.request.status is Status.RECEIVED
    assert world.db.committed_requests == 2
    assert world.events(first.request.id) == ["RequestLogged", "DeadlinesComputed"]
    assert world.events(repeat.request.id) == ["RequestLogged", "DeadlinesComputed"]


def test_a_submission_naming_someone_else_s_address_too_does_not_swallow_their_request(world: World) -> None:
    attacker = log_request(world.ctx, ACCESS | {"subject": {"name": "Jane Doe", "emails": ["mallory@evil.example", JANE]}})
    victim = log_request(world.ctx, ACCESS)
    assert victim.request.id != attacker.request.id and victim.request.reference != attacker.request.reference
    assert victim.request.linked_to is None
    assert "DuplicateSubmissionLinked" not in world.events(attacker.request.id)


def test_logging_a_request_never_reads_one_back(world: World) -> None:
    world.reads()
    log_request(world.ctx, ACCESS)
    log_request(world.ctx, ACCESS)
    assert world.reads() == {}


def test_a_postal_address_may_span_lines_but_a_name_may_not(world: World) -> None:
    letter = {
        "type": "access",
        "regime": "gdpr",
        "country": "DE",
        "subject": {"name": "Jane Doe", "postal_address": "1 Main St\n10115 Berlin"},
    }
    r = log_request(world.ctx, letter).request
    with world.uow() as uow:
        assert uow.requests.get(r.id).subject.postal_address == "1 Main St\n10115 Berlin"
    with pytest.raises(InvalidInput) as caught:
        log_request(world.ctx, ACCESS | {"subject": {"name": "Jane\nURGENT: reset at http://evil.example", "emails": [JANE]}})
    assert caught.value.problems == ("subject.name: line breaks or tabs",)


@pytest.mark.parametrize(
    ("received_at", "problem"),
    [
        ("9999-12-31T23:59:59-12:00", "received_at: out of range"),  # past the last representable instant in UTC
        ("0001-01-01T00:00:00+12:00", "received_at: out of range"),
        ("0001-01-01", "received_at: before 2000-01-01"),
        ("1999-12-31T23:00:00+00:00", "received_at: before 2000-01-01"),
        ("9999-12-31", "received_at: lies in the future"),
    ],
)
def test_a_received_time_out_of_range_is_a_problem_not_a_crash(world: World, received_at: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        log_request(world.ctx, ACCESS | {"received_at": received_at})
    assert list(caught.value.problems) == [problem]
    assert world.db.committed_requests == 0


# --- issue 13, item 7: no silent guesses, no silent backdating, no uncorrectable attributes ---


def _problems(world: World, **changes: object) -> tuple[str, ...]:
    with pytest.raises(InvalidInput) as caught:
        log_request(world.ctx, {**ACCESS, **changes})
    assert world.db.committed_requests == 0 and world.db.committed_events == 0
    return caught.value.problems


def test_gdpr_without_a_country_is_refused_instead_of_becoming_germany(world: World) -> None:
    problems = _problems(world, country=None)
    assert problems == ("country: gdpr spans several countries; say which (e.g. DE, FR, IE)",)


def test_uk_gdpr_without_its_nation_is_refused_and_a_single_state_law_needs_none(world: World) -> None:
    problems = _problems(world, regime="uk-gdpr", country=None)
    assert problems == ("subdivision: uk-gdpr spans ENG, NIR, SCT, WLS; say which",)
    r = log_request(world.ctx, {**ACCESS, "regime": "vcdpa", "country": None}).request
    assert (r.country, r.subdivision) == ("US", "VA")


def test_a_request_received_long_ago_needs_a_reason_which_is_recorded(world: World) -> None:
    old = (world.clock() - timedelta(days=91)).date().isoformat()
    assert _problems(world, received_at=old) == (
        "received_at: more than 90 days ago (its deadlines may have passed); give backdated_reason to log it anyway",
    )
    edge = (world.clock() - timedelta(days=89)).date().isoformat()
    assert log_request(world.ctx, {**ACCESS, "received_at": edge}).request.received_at.date().isoformat() == edge
    r = log_request(
        world.ctx,
        {
            **ACCESS,
            "received_at": old,
            "subject": {"name": "Jo Bloggs", "emails": ["jo@example.org"]},
            "backdated_reason": "found in the post room",
        },
    ).request
    assert world.details(r.id, "RequestLogged")[0]["backdated_reason"] == "found in the post room"


def test_the_backdating_bound_is_a_setting(world: World) -> None:
    ctx = replace(world.ctx, policy=replace(world.ctx.policy, max_backdate_days=10))
    old = (world.clock() - timedelta(days=11)).date().isoformat()
    with pytest.raises(InvalidInput, match="more than 10 days ago"):
        log_request(ctx, {**ACCESS, "received_at": old})


def test_a_correction_no_system_can_make_is_refused_naming_the_attribute_not_the_value(world: World) -> None:
    problems = _problems(
        world, type="correction", corrections=[{"attribute": "shoe_size", "value": "42"}, {"attribute": "phone", "value": "+44 9"}]
    )
    assert problems == ("corrections.shoe_size: no system of the data map can correct this attribute",)
    assert "42" not in " ".join(problems)


def test_with_an_empty_data_map_any_attribute_is_taken(world: World) -> None:
    ctx = replace(world.ctx, data_map=())
    assert log_request(
        ctx, {**ACCESS, "type": "correction", "corrections": [{"attribute": "shoe_size", "value": "42"}]}
    ).request.corrections
