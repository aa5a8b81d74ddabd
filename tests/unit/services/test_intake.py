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
    assert result.created and r.reference == "DSR-2026-000001" and r.status is Status.RECEIVED
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


def test_a_repeat_within_the_window_is_linked_to_the_first_and_starts_no_second_clock(world: World) -> None:
    first = log_request(world.ctx, ACCESS)
    world.clock.advance(hours=2)
    repeat = log_request(world.ctx, ACCESS | {"channel": "email"})
    assert not repeat.created and repeat.request.id == first.request.id
    assert repeat.deadline.due == first.deadline.due
    assert world.db.committed_requests == 1
    (linked,) = world.details(first.request.id, "DuplicateSubmissionLinked")
    assert linked["channel"] == "email"


def test_every_repeat_is_recorded_once_each(world: World) -> None:
    first = log_request(world.ctx, ACCESS)
    log_request(world.ctx, ACCESS)
    log_request(world.ctx, ACCESS)
    assert world.events(first.request.id).count("DuplicateSubmissionLinked") == 2


def test_a_repeat_after_the_window_is_a_new_request(world: World) -> None:
    log_request(world.ctx, ACCESS)
    world.clock.advance(hours=world.ctx.policy.duplicate_window_hours + 1)
    assert log_request(world.ctx, ACCESS).created
    assert world.db.committed_requests == 2


def test_a_correction_asking_for_something_else_is_a_new_request_linked_to_the_first(world: World) -> None:
    correction = ACCESS | {"type": "correction", "corrections": [{"attribute": "phone", "value": "+44 1"}]}
    first = log_request(world.ctx, correction)
    other = log_request(world.ctx, correction | {"corrections": [{"attribute": "phone", "value": "+44 2"}]})
    assert other.created and other.request.linked_to == first.request.id


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
