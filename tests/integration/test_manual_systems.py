"""Systems without an API: the plan says a person acts, execution waits for their confirmation,
and the letter tells the subject what happens to those records."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes, policy
from typing import Any

import pytest

from dsar.app import App
from dsar.connectors.datamap import ManualSystem
from dsar.connectors.registry import DataMapConnectorFactory
from dsar.demo.run import latest_code
from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.services import processing as svc
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from tests.signoff import approve, proceed_escalations

ARCHIVE = ManualSystem.model_validate(
    {
        "system": "paper-archive",
        "title": "Paper archive (signed contracts)",
        "type": "manual",
        "instructions": "Search the contract binders by customer name; scan matching pages to the privacy share.",
        "categories": ["contract"],
        "purposes": ["Proof of contract"],
        "legal_basis": "Legal obligation",
        "retention": "10 years",
        "source": "You",
        "erase": "delete",
    }
)


@pytest.fixture
def ctx(sqlite_app: App) -> ServiceContext:
    maps = [*sqlite_app.ctx.data_map, ARCHIVE]
    return dataclasses.replace(
        sqlite_app.ctx, data_map=tuple(maps), connectors=DataMapConnectorFactory(maps, sqlite_app.settings.connection_secrets(), b"k")
    )


def to_execution(app: App, ctx: ServiceContext, kind: str, **more: Any) -> Any:
    r = log_request(
        ctx,
        {"type": kind, "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}, **more},
    ).request
    svc.start_verification(ctx, r.id)
    code = latest_code(app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    svc.confirm_code(ctx, r.id, code)
    proceed_escalations(ctx, r.id)  # a correction of the phone on file: legal lets it go on
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    approve(ctx, r.id)
    return r


def test_an_access_request_waits_for_the_manual_system_then_answers(sqlite_app: App, ctx: ServiceContext) -> None:
    r = to_execution(sqlite_app, ctx, "access")
    assert "- **paper-archive**: export; done by hand" in svc.plan_summary(ctx, r.id)
    assert svc.execute_plan(ctx, r.id) is Status.EXECUTING  # the shop is done, the archive is not
    (step,) = svc.pending_manual_steps(ctx, r.id)
    assert (step.system, step.operation) == ("paper-archive", "export")
    form = svc.manual_step_form(ctx, r.id, step)
    assert r.reference in form and "binders" in form and "Jane" not in form
    with pytest.raises(InvalidInput):
        svc.confirm_manual_step(ctx, r.id, "paper-archive", "done", 2, "  ", None)
    assert svc.confirm_manual_step(ctx, r.id, "paper-archive", "done", 2, "Sam Archivist", "two signed contracts") is Status.RESPONDING
    assert svc.pending_manual_steps(ctx, r.id) == []
    assert svc.send_response(ctx, r.id) is Status.CLOSED
    mail = message_from_bytes(
        (sqlite_app.settings.effective_outbox_dir / f"{r.reference}.access_response_dsar.eml").read_bytes(), policy=policy.default
    )
    body = " ".join(mail.get_body(preferencelist=("plain",)).get_content().split())  # reflowed: as one line
    assert "Paper archive (signed contracts) (2)" in body and "Proof of contract" in body
    with ctx.uow() as uow:
        confirmed = next(e for e in uow.audit.events(r.id) if e.kind == "ManualStepConfirmed")
        decision = uow.decisions.get(r.id, "manual:paper-archive")
    assert confirmed.details == {
        "system": "paper-archive",
        "operation": "export",
        "outcome": "done",
        "records": 2,
        "person": "Sam Archivist",
    }
    assert decision is not None and decision.note == "two signed contracts"


def test_a_manual_step_that_cannot_be_done_holds_the_request(sqlite_app: App, ctx: ServiceContext) -> None:
    r = to_execution(sqlite_app, ctx, "deletion")
    assert svc.execute_plan(ctx, r.id) is Status.EXECUTING
    assert svc.confirm_manual_step(ctx, r.id, "paper-archive", "cannot do it", 0, "Sam Archivist", "binder missing") is Status.EXECUTING
    with ctx.uow() as uow:
        assert uow.requests.get(r.id).on_hold
    # confirming again, or for a system that is not waiting, changes nothing
    assert svc.confirm_manual_step(ctx, r.id, "paper-archive", "done", 1, "Sam", None) is Status.EXECUTING
    assert svc.confirm_manual_step(ctx, r.id, "shop", "done", 1, "Sam", None) is Status.EXECUTING


def test_a_correction_waits_for_the_manual_system_and_the_letter_says_what_was_done_by_hand(sqlite_app: App, ctx: ServiceContext) -> None:
    from email import message_from_bytes, policy

    r = to_execution(sqlite_app, ctx, "correction", corrections=[{"attribute": "phone", "value": "+49 30 5550777"}])
    assert svc.execute_plan(ctx, r.id) is Status.EXECUTING  # the shop is corrected; the archive waits
    (step,) = svc.pending_manual_steps(ctx, r.id)
    assert (step.system, step.operation) == ("paper-archive", "correct")
    assert svc.confirm_manual_step(ctx, r.id, "paper-archive", "done", 2, "Ines Archive", None) is Status.RESPONDING
    assert svc.send_response(ctx, r.id) is Status.CLOSED
    mail = sqlite_app.settings.effective_outbox_dir / f"{r.reference}.correction_response_dsar.eml"
    body = message_from_bytes(mail.read_bytes(), policy=policy.default).get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    body = " ".join(body.split())  # reflowed to 72 columns: read as one line
    assert "phone number: corrected in Online shop" in body
    assert f"{ARCHIVE.title}: corrected by hand (2 records)" in body
    assert "5550777" not in body
