"""Logging a request (dsar.services.intake)."""

from __future__ import annotations

from datetime import date

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
    assert world.details(r.id, "RequestLogged") == [{"reference": r.reference, "type": "access", "regime": "gdpr", "channel": "web"}]
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
