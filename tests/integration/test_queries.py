"""The read side: what the entry points show of requests, as read models."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from dsar.app import App
from dsar.domain.errors import InvalidInput, NotFound
from dsar.domain.request import Status
from dsar.services import deadlines, queries
from dsar.services.intake import log_request

JANE = {
    "type": "access",
    "regime": "gdpr",
    "country": "DE",
    "received_at": "2026-11-02",
    "subject": {
        "name": "Jane Doe",
        "emails": ["jane.doe@example.com"],
        "phone": "+49 30 1234567",
        "extra": {"loyalty_card": "LC-99"},
    },
}
MAX = {
    "type": "deletion",
    "regime": "ccpa",
    "country": "US",
    "subdivision": "CA",
    "received_at": "2026-10-01",
    "subject": {"name": "Max Mustermann", "emails": ["max@example.com"]},
}


def kinds(app: App, reference: str) -> list[str]:
    return [e.kind for e in queries.request_events(app.ctx, reference)]


def test_a_request_is_shown_masked_and_showing_it_records_nothing(engine_app: App) -> None:
    r = log_request(engine_app.ctx, JANE).request
    before = kinds(engine_app, r.reference)

    view = queries.request_view(engine_app.ctx, r.reference)

    assert not view.revealed
    assert (view.reference, view.status, view.deadline.due) == (r.reference, Status.RECEIVED, date(2026, 12, 2))
    assert view.subject.name == "J*** D***"
    assert view.subject.emails == ("j***@example.com",)
    assert view.subject.phone == "+*** 3*** 1***"
    assert [k for k, _ in view.subject.extra] == ["loyalty_card"]
    assert "LC-99" not in repr(view) and "Jane" not in repr(view)
    assert kinds(engine_app, r.reference) == before


def test_revealing_a_request_shows_its_data_and_records_who_looked_through_what(engine_app: App) -> None:
    r = log_request(engine_app.ctx, JANE).request

    view = queries.request_view(engine_app.ctx, r.reference, reveal=True, via="web")

    assert view.revealed
    assert view.subject.name == "Jane Doe" and view.subject.emails == ("jane.doe@example.com",)
    assert dict(view.subject.extra) == {"loyalty_card": "LC-99"}
    viewed = queries.request_events(engine_app.ctx, r.reference)[-1]
    assert (viewed.kind, viewed.details) == ("SubjectDataViewed", {"via": "web"})


def test_the_view_carries_plan_receipts_and_flow_run_as_plain_values(sqlite_app: App) -> None:
    r = log_request(sqlite_app.ctx, JANE).request
    queries.record_flow_run(sqlite_app.ctx, r.id, "run-1")
    queries.record_flow_run(sqlite_app.ctx, r.id, "run-2")

    view = queries.request_view(sqlite_app.ctx, r.reference)

    assert view.flow_run_id == queries.flow_run_id(sqlite_app.ctx, r.id) == "run-2"
    assert view.plan == () and view.receipts == ()
    # read models, not rows: frozen dataclasses all the way down
    assert dataclasses.is_dataclass(view.deadline) and dataclasses.is_dataclass(view.subject)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = Status.CLOSED  # type: ignore[misc]


def test_the_queue_is_soonest_due_first_and_filters_by_status_and_date(engine_app: App) -> None:
    jane = log_request(engine_app.ctx, JANE).request
    max_ = log_request(engine_app.ctx, MAX).request

    rows = queries.request_list(engine_app.ctx)

    assert [x.reference for x in rows] == [max_.reference, jane.reference]
    assert [x.due for x in rows] == [date(2026, 11, 14), date(2026, 12, 2)]
    assert (rows[0].type, rows[0].regime, rows[0].status, rows[0].on_hold) == ("deletion", "ccpa", Status.RECEIVED, False)
    assert [x.reference for x in queries.request_list(engine_app.ctx, due_before=date(2026, 12, 1))] == [max_.reference]
    assert queries.request_list(engine_app.ctx, status=Status.CLOSED) == []
    assert len(queries.request_list(engine_app.ctx, limit=1)) == 1


def test_a_request_is_found_by_reference_or_id_and_unknown_ones_are_clear_errors(sqlite_app: App) -> None:
    r = log_request(sqlite_app.ctx, JANE).request

    assert queries.lookup(sqlite_app.ctx, r.reference.lower()) == queries.lookup_id(sqlite_app.ctx, r.id)
    assert queries.lookup(sqlite_app.ctx, r.reference) == queries.RequestRef(r.id, r.reference, Status.RECEIVED, False)
    with pytest.raises(NotFound):
        queries.lookup(sqlite_app.ctx, "DSR-2026-999999")
    with pytest.raises(InvalidInput):
        queries.lookup(sqlite_app.ctx, "not a reference")
    with pytest.raises(NotFound):
        queries.lookup_id(sqlite_app.ctx, "no-such-id")


def test_alerts_are_listed_newest_first_for_all_requests_or_one(sqlite_app: App) -> None:
    jane = log_request(sqlite_app.ctx, JANE).request
    max_ = log_request(sqlite_app.ctx, MAX).request
    deadlines.sweep(sqlite_app.ctx, [7, 3, 1], as_of=date(2026, 11, 27))

    everything = queries.alerts(sqlite_app.ctx)
    only_jane = queries.alerts(sqlite_app.ctx, jane.reference)

    assert {a.reference for a in everything} == {jane.reference, max_.reference}
    assert [a.raised_at for a in everything] == sorted((a.raised_at for a in everything), reverse=True)
    assert [(a.reference, a.kind, a.due) for a in only_jane] == [(jane.reference, "due-in-7d", date(2026, 12, 2))]
    assert only_jane[0].delivered_at is None and only_jane[0].attempts == 0
    assert len(queries.alerts(sqlite_app.ctx, limit=1)) == 1


def test_masking_keeps_enough_to_recognise() -> None:
    assert queries.mask("Jane Doe") == "J*** D***"
    assert queries.mask("jane.doe@example.com") == "j***@example.com"
    assert queries.mask(None) is None
