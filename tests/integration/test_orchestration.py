"""Starting and resuming flow runs through the Orchestrator port, against the in-memory
orchestrator shipped beside it (the Prefect adapter runs in tests/e2e)."""

from __future__ import annotations

import dataclasses

import pytest

from dsar.app import App
from dsar.connectors.datamap import ManualSystem
from dsar.connectors.registry import DataMapConnectorFactory
from dsar.demo.run import latest_code
from dsar.domain.errors import ConfigurationError, InvalidInput, TransitionNotAllowed
from dsar.domain.request import Status
from dsar.services import processing, queries
from dsar.services.admin import withdraw_request
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from dsar.services.orchestration import (
    InMemoryOrchestrator,
    Orchestrator,
    ResumedRun,
    RunState,
    StartedRun,
    ensure_processing,
    resume_waiting,
    start_processing,
)
from tests.signoff import approve

JANE = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}


@pytest.fixture
def orchestrator() -> InMemoryOrchestrator:
    return InMemoryOrchestrator()


def test_the_in_memory_orchestrator_fulfils_the_port() -> None:
    port: Orchestrator = InMemoryOrchestrator()  # checked by mypy --strict
    assert port.available()


def test_starting_processing_starts_one_run_named_after_the_reference_and_records_it(
    sqlite_app: App, orchestrator: InMemoryOrchestrator
) -> None:
    r = log_request(sqlite_app.ctx, JANE).request

    run_id = start_processing(sqlite_app.ctx, orchestrator, r.id)

    assert orchestrator.started == [StartedRun(run_id, r.id, r.reference)]
    assert queries.flow_run_id(sqlite_app.ctx, r.id) == run_id
    assert orchestrator.run_state(run_id) == RunState("Scheduled", "SCHEDULED")


def test_an_orchestrator_that_does_not_answer_starts_nothing_and_records_nothing(sqlite_app: App) -> None:
    down = InMemoryOrchestrator(up=False)
    r = log_request(sqlite_app.ctx, JANE).request

    assert not down.available()
    with pytest.raises(ConfigurationError):
        start_processing(sqlite_app.ctx, down, r.id)
    assert down.started == [] and queries.flow_run_id(sqlite_app.ctx, r.id) is None


def test_ensuring_processing_keeps_a_live_run_and_replaces_a_finished_one(sqlite_app: App, orchestrator: InMemoryOrchestrator) -> None:
    r = log_request(sqlite_app.ctx, JANE).request

    first = ensure_processing(sqlite_app.ctx, orchestrator, r.id)
    orchestrator.suspend(first or "")
    assert ensure_processing(sqlite_app.ctx, orchestrator, r.id) == first
    orchestrator.finish(first or "", "CRASHED")
    second = ensure_processing(sqlite_app.ctx, orchestrator, r.id)

    assert second not in (None, first)
    assert [s.run_id for s in orchestrator.started] == [first, second]
    assert queries.flow_run_id(sqlite_app.ctx, r.id) == second


def test_a_finished_request_gets_no_new_run(sqlite_app: App, orchestrator: InMemoryOrchestrator) -> None:
    r = log_request(sqlite_app.ctx, JANE).request
    run_id = start_processing(sqlite_app.ctx, orchestrator, r.id)
    orchestrator.finish(run_id)
    withdraw_request(sqlite_app.ctx, r.id, "the subject called it off")

    assert ensure_processing(sqlite_app.ctx, orchestrator, r.id) == run_id
    assert len(orchestrator.started) == 1


def test_the_code_goes_to_the_run_that_waits_for_it(sqlite_app: App, orchestrator: InMemoryOrchestrator) -> None:
    r = log_request(sqlite_app.ctx, JANE).request
    run_id = start_processing(sqlite_app.ctx, orchestrator, r.id)
    processing.start_verification(sqlite_app.ctx, r.id)
    orchestrator.suspend(run_id)

    resume_waiting(sqlite_app.ctx, orchestrator, r.id, Status.AWAITING_VERIFICATION, {"code": "12345678"})

    assert orchestrator.resumed == [ResumedRun(run_id, {"code": "12345678"})]
    assert orchestrator.run_state(run_id).type == "RUNNING"


def test_input_is_refused_when_the_request_is_elsewhere_or_no_run_waits(sqlite_app: App, orchestrator: InMemoryOrchestrator) -> None:
    r = log_request(sqlite_app.ctx, JANE).request
    with pytest.raises(InvalidInput, match="is received, not awaiting_sign_off"):
        resume_waiting(sqlite_app.ctx, orchestrator, r.id, Status.AWAITING_SIGN_OFF, {"decision": "approve"})
    processing.start_verification(sqlite_app.ctx, r.id)
    with pytest.raises(InvalidInput, match="no flow run is waiting"):  # no run recorded
        resume_waiting(sqlite_app.ctx, orchestrator, r.id, Status.AWAITING_VERIFICATION, {"code": "1"})
    start_processing(sqlite_app.ctx, orchestrator, r.id)
    with pytest.raises(InvalidInput, match="no flow run is waiting"):  # a run, not suspended yet
        resume_waiting(sqlite_app.ctx, orchestrator, r.id, Status.AWAITING_VERIFICATION, {"code": "1"})
    assert orchestrator.resumed == []


def test_a_manual_confirmation_must_name_the_system_the_run_waits_for(sqlite_app: App, orchestrator: InMemoryOrchestrator) -> None:
    ledger = ManualSystem.model_validate(
        {
            "system": "ledger",
            "title": "Returns ledger",
            "type": "manual",
            "instructions": "Look the customer up in the binder.",
            "categories": ["returns"],
            "purposes": ["Returns"],
            "legal_basis": "Contract",
            "retention": "2 years",
            "source": "You",
        }
    )
    maps = [*sqlite_app.ctx.data_map, ledger]
    ctx: ServiceContext = dataclasses.replace(
        sqlite_app.ctx, data_map=tuple(maps), connectors=DataMapConnectorFactory(maps, sqlite_app.settings.connection_secrets(), b"k")
    )
    r = log_request(ctx, JANE).request
    processing.start_verification(ctx, r.id)
    code = latest_code(sqlite_app.settings.effective_outbox_dir, r.reference)
    processing.confirm_code(ctx, r.id, code or "")
    processing.plan_request(ctx, r.id)
    approve(ctx, r.id)
    assert processing.execute_plan(ctx, r.id) is Status.EXECUTING
    run_id = start_processing(ctx, orchestrator, r.id)
    orchestrator.suspend(run_id)
    done = {"outcome": "done", "records": 1, "person": "Wes Warehouse", "note": ""}

    with pytest.raises(InvalidInput, match="the run waits for ledger"):
        resume_waiting(ctx, orchestrator, r.id, Status.EXECUTING, done, system="shop")
    resume_waiting(ctx, orchestrator, r.id, Status.EXECUTING, done, system="ledger")

    assert orchestrator.resumed == [ResumedRun(run_id, done)]


def test_the_in_memory_orchestrator_refuses_to_resume_a_run_that_does_not_wait() -> None:
    fake = InMemoryOrchestrator()
    run_id = fake.start_run("id", "DSR-2026-000001")
    with pytest.raises(TransitionNotAllowed):
        fake.resume(run_id, {"code": "1"})
    fake.finish(run_id)
    assert fake.run_state(run_id).final and not fake.run_state(run_id).waiting_for_input
    assert fake.run_state("never-started") == RunState("Unknown", "UNKNOWN")


def test_waiting_for_a_deployment_that_is_not_served_times_out() -> None:
    InMemoryOrchestrator().wait_for_deployment(timeout=1)
    with pytest.raises(ConfigurationError, match="did not appear within 5s"):
        InMemoryOrchestrator(deployed=False).wait_for_deployment(timeout=5)
