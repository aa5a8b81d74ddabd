"""Security probe, item 4, on SQLite and PostgreSQL with the real letters and outbox: intake never
links; repeats are linked after verification, only between requests verified with the same
address, and the later one ends without a second letter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsar.app import App
from dsar.demo.run import latest_code
from dsar.domain.request import Status
from dsar.services import processing as svc
from dsar.services import queries
from dsar.services.intake import log_request
from tests.signoff import approve

VICTIM = "jane.doe@example.com"
ATTACKER = "mallory@evil.example"


def submission(*emails: str) -> dict[str, Any]:
    return {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": list(emails)}}


def outbox(app: App) -> Path:
    return app.settings.effective_outbox_dir


def mails(app: App, reference: str) -> list[Path]:
    return sorted(outbox(app).glob(f"{reference}.*.eml"))


def verify(app: App, request_id: str, reference: str) -> None:
    svc.start_verification(app.ctx, request_id)
    code = latest_code(outbox(app), reference)
    assert code is not None
    assert svc.confirm_code(app.ctx, request_id, code) is svc.VerificationOutcome.VERIFIED


def answer(app: App, request_id: str) -> Status:
    ctx = app.ctx
    svc.plan_request(ctx, request_id)
    approve(ctx, request_id)
    svc.execute_plan(ctx, request_id)
    return svc.send_response(ctx, request_id)


def test_an_attacker_naming_the_victim_s_address_swallows_nothing_and_learns_nothing(engine_app: App) -> None:
    app = engine_app
    attacker = log_request(app.ctx, submission(ATTACKER, VICTIM)).request
    assert svc.start_verification(app.ctx, attacker.id) is Status.AWAITING_VERIFICATION
    # the link goes to the victim's address on file, never to the attacker's typed one
    assert all(f"To: {VICTIM}" in p.read_text() for p in mails(app, attacker.reference))

    victim = log_request(app.ctx, submission(VICTIM)).request
    assert victim.id != attacker.id and victim.reference != attacker.reference
    verify(app, victim.id, victim.reference)  # the victim's own code, to the victim's address
    assert queries.lookup_id(app.ctx, victim.id).status is Status.VERIFIED
    assert answer(app, victim.id) is Status.CLOSED

    victim_mails = mails(app, victim.reference)
    assert any(".verify-" in p.name for p in victim_mails) and any("access_response" in p.name for p in victim_mails)
    for path in victim_mails:
        text = path.read_text()
        assert f"To: {VICTIM}" in text and attacker.reference not in text
    assert ATTACKER not in "".join(p.read_text() for p in outbox(app).glob("*.eml"))
    assert queries.lookup_id(app.ctx, attacker.id).status is Status.AWAITING_VERIFICATION
    with app.ctx.uow() as uow:
        kinds = {e.kind for rid in (attacker.id, victim.id) for e in uow.audit.events(rid)}
    assert not kinds & {"DuplicateLinked", "DuplicateSubmissionLinked"}


def test_a_repeat_verified_with_the_same_address_is_linked_and_ends_without_a_second_letter(engine_app: App) -> None:
    app = engine_app
    first = log_request(app.ctx, submission(VICTIM)).request
    verify(app, first.id, first.reference)
    second = log_request(app.ctx, submission(VICTIM)).request
    verify(app, second.id, second.reference)

    assert queries.lookup_id(app.ctx, second.id).status is Status.WITHDRAWN
    view = queries.request_view(app.ctx, second.reference)
    assert view.linked_to == first.reference and view.status is Status.WITHDRAWN
    assert svc.send_response(app.ctx, second.id) is Status.WITHDRAWN
    assert answer(app, first.id) is Status.CLOSED
    assert [p.name for p in mails(app, second.reference) if ".verify-" not in p.name] == []  # its code letter only
    assert any("access_response" in p.name for p in mails(app, first.reference))
    with app.ctx.uow() as uow:
        assert [e.details["role"] for e in uow.audit.events(second.id) if e.kind == "DuplicateLinked"] == ["duplicate"]
        assert [e.details["other"] for e in uow.audit.events(first.id) if e.kind == "DuplicateLinked"] == [second.reference]


def test_a_request_of_another_customer_is_not_linked(engine_app: App) -> None:
    app = engine_app
    first = log_request(app.ctx, submission(VICTIM)).request
    verify(app, first.id, first.reference)
    other = log_request(app.ctx, submission("ana.silva@example.com")).request
    verify(app, other.id, other.reference)
    assert queries.lookup_id(app.ctx, other.id).status is Status.VERIFIED
    assert queries.request_view(app.ctx, other.reference).linked_to is None
