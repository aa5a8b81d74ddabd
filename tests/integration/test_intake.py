from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from dsar.app import App
from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.services.intake import log_request


def jane(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "access",
        "regime": "gdpr",
        "country": "DE",
        "channel": "email",
        "subject": {
            "name": "Jane Canary-7f3a Doe",
            "emails": ["Jane.Canary-7f3a@Example.com"],
            "phone": "+49 30 1234567",
            "postal_address": "1 Canary Street, Berlin",
        },
    }
    raw.update(overrides)
    return raw


def count(app: App, table: str) -> int:
    with app.engine.connect() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_request_is_logged_with_a_reference_a_due_date_and_an_audit_event(engine_app: App) -> None:
    result = log_request(engine_app.ctx, jane(received_at="2026-11-02T09:00:00+01:00"))
    r = result.request
    assert r.reference == f"DSR-{datetime.now(UTC).year}-000001"
    assert r.status is Status.RECEIVED
    assert result.deadline.due.isoformat() == "2026-12-02"
    with engine_app.ctx.uow() as uow:
        stored = uow.requests.get(uow.requests.id_for_reference(r.reference))
        kinds = [e.kind for e in uow.audit.events(r.id)]
    assert stored.subject.name == "Jane Canary-7f3a Doe"
    assert stored.subject.emails == ("jane.canary-7f3a@example.com",)
    assert stored.received_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert kinds == ["RequestLogged", "DeadlinesComputed"]


def test_references_count_up_within_the_year(engine_app: App) -> None:
    refs = [
        log_request(engine_app.ctx, jane(subject={"name": f"P {i}", "emails": [f"p{i}@example.com"]})).request.reference for i in range(3)
    ]
    assert [r[-6:] for r in refs] == ["000001", "000002", "000003"]


def test_personal_data_is_encrypted_at_rest_and_found_by_blind_index_only(engine_app: App) -> None:
    log_request(engine_app.ctx, jane())
    with engine_app.engine.connect() as c:
        rows = (
            c.execute(text("SELECT * FROM privacy_request")).all()
            + c.execute(text("SELECT * FROM subject_lookup")).all()
            + c.execute(text("SELECT * FROM audit_event")).all()
        )
    dump = repr(rows).lower()
    for canary in ("canary-7f3a", "canary street", "1234567"):
        assert canary not in dump


def test_a_second_identical_submission_is_a_request_of_its_own(engine_app: App) -> None:
    # Nothing is verified at intake, so nothing is linked there (security probe, item 4).
    first = log_request(engine_app.ctx, jane())
    again = log_request(engine_app.ctx, jane(channel="phone"))
    assert again.request.reference != first.request.reference and again.request.linked_to is None
    assert count(engine_app, "privacy_request") == 2
    with engine_app.ctx.uow() as uow:
        assert [e.kind for e in uow.audit.events(first.request.id)] == ["RequestLogged", "DeadlinesComputed"]


def test_a_different_type_or_regime_is_a_new_request(engine_app: App) -> None:
    log_request(engine_app.ctx, jane())
    log_request(engine_app.ctx, jane(type="deletion"))
    log_request(engine_app.ctx, jane(regime="uk-gdpr", country=None, subdivision="WLS"))
    assert count(engine_app, "privacy_request") == 3


BAD_INPUT = [
    ("unknown regime", {"regime": "gdrp"}, "regime"),
    ("unknown type", {"type": "erasure-now"}, "type"),
    ("malformed email", {"subject": {"name": "J", "emails": ["not-an-email"]}}, "subject.emails"),
    ("future received date", {"received_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "received_at"),
    ("missing name", {"subject": {"emails": ["a@example.com"]}}, "subject.name"),
    ("missing type", {"type": None}, "type"),
    ("no way to reply", {"subject": {"name": "J"}}, "subject"),
    ("ccpa access without scope", {"regime": "ccpa", "country": None}, "access_scope"),
    ("pipeda has no deletion right", {"regime": "pipeda", "country": None, "type": "deletion"}, "type"),
    ("unknown field", {"favourite_colour": "blue"}, "favourite_colour"),
    ("NUL byte in a name", {"subject": {"name": "Ja\x00ne", "emails": ["a@example.com"]}}, "subject.name"),
    ("unknown channel", {"channel": "pigeon"}, "channel"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(
    sqlite_app: App, case: str, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        log_request(sqlite_app.ctx, jane(**change))
    assert any(p.startswith(field) for p in info.value.problems), info.value.problems
    assert "canary" not in str(info.value).lower()
    assert count(sqlite_app, "privacy_request") == 0
    assert count(sqlite_app, "audit_event") == 0


def test_hostile_strings_are_stored_and_returned_exactly(sqlite_app: App) -> None:
    hostile = "Robert'); DROP TABLE privacy_request;-- {{ 7*7 }} ../../etc/passwd"
    r = log_request(sqlite_app.ctx, jane(subject={"name": hostile, "emails": ["bobby@example.com"]})).request
    with sqlite_app.ctx.uow() as uow:
        assert uow.requests.get(r.id).subject.name == hostile
    assert count(sqlite_app, "privacy_request") == 1
