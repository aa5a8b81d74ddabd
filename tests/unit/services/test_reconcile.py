"""The reconciler: no open request sits without a live flow run (security probe, item 7;
friction list, item 5)."""

from __future__ import annotations

import pytest

from dsar.domain.errors import ConfigurationError
from dsar.domain.request import Status
from dsar.services import processing, queries
from dsar.services.admin import hold_request, release_request, withdraw_request
from dsar.services.orchestration import InMemoryOrchestrator, Reconciled, reconcile, start_processing
from tests.unit.services.conftest import World


def test_a_request_logged_while_the_orchestrator_was_down_gets_its_run() -> None:
    w = World([], ())
    rid = w.log()
    ref = queries.lookup_id(w.ctx, rid).reference
    orch = InMemoryOrchestrator()
    assert reconcile(w.ctx, orch) == [Reconciled(ref, "started", None, "run-1")]
    assert queries.flow_run_id(w.ctx, rid) == "run-1" and [s.request_id for s in orch.started] == [rid]
    assert reconcile(w.ctx, orch) == []  # its run is live (scheduled): nothing to do
    assert w.details(rid, "ProcessingRestarted") == [{"previous_run": None, "previous_state": None, "run": "run-1"}]


def test_failed_runs_are_restarted_then_the_request_is_held_for_a_person() -> None:
    w = World([], ())
    rid = w.log()
    orch = InMemoryOrchestrator()
    start_processing(w.ctx, orch, rid)
    actions = []
    for _ in range(4):
        orch.finish(queries.flow_run_id(w.ctx, rid) or "", "CRASHED")
        actions += [(r.action, r.previous_state) for r in reconcile(w.ctx, orch)]
    assert actions == [("restarted", "CRASHED")] * 3 + [("held", "CRASHED")]
    with w.uow() as uow:
        assert uow.requests.facts(rid).on_hold
    assert "processing stopped 4 times (last run CRASHED)" in w.details(rid, "HoldChanged")[-1]["reason"]
    assert reconcile(w.ctx, orch) == []  # held: left alone
    release_request(w.ctx, rid, "connector credentials fixed")
    assert [r.action for r in reconcile(w.ctx, orch)] == ["restarted"]  # the count starts again


def test_live_held_and_finished_requests_are_left_alone() -> None:
    w = World([], ())
    waiting, held, withdrawn = (
        w.log(),
        w.log(subject={"name": "B", "emails": ["b@example.com"]}),
        w.log(subject={"name": "C", "emails": ["c@example.com"]}),
    )
    orch = InMemoryOrchestrator()
    run = start_processing(w.ctx, orch, waiting)
    processing.start_verification(w.ctx, waiting)
    orch.suspend(run)  # waits for the subject's code
    hold_request(w.ctx, held, "legal hold")
    withdraw_request(w.ctx, withdrawn, "changed their mind")
    assert reconcile(w.ctx, orch) == []
    assert queries.lookup_id(w.ctx, waiting).status is Status.AWAITING_VERIFICATION


def test_an_orchestrator_that_does_not_answer_reconciles_nothing() -> None:
    w = World([], ())
    w.log()
    with pytest.raises(ConfigurationError, match="nothing was reconciled"):
        reconcile(w.ctx, InMemoryOrchestrator(up=False))


def test_a_run_still_in_the_subject_s_wait_after_the_proof_was_judged_is_woken(world: World) -> None:
    from tests.unit.services.conftest import prove

    rid = world.log()
    ref = queries.lookup_id(world.ctx, rid).reference
    orch = InMemoryOrchestrator()
    run = start_processing(world.ctx, orch, rid)
    processing.start_verification(world.ctx, rid)
    orch.suspend(run, "verify-1-0")
    assert reconcile(world.ctx, orch) == []  # it waits for the subject, who has not acted: right
    # the proof was judged while the run was on its way to suspending, and the pages' wake gave up
    assert prove(world, rid).outcome.value == "verified"
    assert orch.resumed == []
    assert reconcile(world.ctx, orch) == [Reconciled(ref, "woken", "PAUSED", run)]
    assert [r.run_input for r in orch.resumed] == [{}]  # an empty input: the engine holds the proofs
    assert reconcile(world.ctx, orch) == []  # running now: nothing more
    # a run in legal's form (an escalation raised meanwhile) is never answered for the subject
    orch.suspend(run, "escalation-1")
    assert reconcile(world.ctx, orch) == [] and len(orch.resumed) == 1


def test_a_run_in_the_subject_s_wait_of_a_request_refused_when_its_link_expired_is_woken(world: World) -> None:
    from dsar.services import identity

    rid = world.log()
    ref = queries.lookup_id(world.ctx, rid).reference
    orch = InMemoryOrchestrator()
    run = start_processing(world.ctx, orch, rid)
    processing.start_verification(world.ctx, rid)
    world.clock.advance(days=30)
    assert identity.expire(world.ctx, rid)  # refused as unverifiable; the sweep's wake found no run waiting yet
    orch.suspend(run, "verify-1-0")  # the run got to the subject's wait just after
    assert queries.lookup_id(world.ctx, rid).status is Status.DENIED
    assert reconcile(world.ctx, orch) == [Reconciled(ref, "woken", "PAUSED", run)]
    assert [r.run_input for r in orch.resumed] == [{}]  # the run sends the could-not-verify letter


def test_a_run_resumed_by_someone_else_meanwhile_does_not_stop_the_sweep(world: World) -> None:
    from dsar.domain.errors import TransitionNotAllowed
    from tests.unit.services.conftest import prove

    class Raced(InMemoryOrchestrator):
        def resume(self, run_id: str, run_input: object) -> None:  # type: ignore[override]
            raise TransitionNotAllowed(f"run {run_id} does not wait for input")

    rid = world.log()
    orch = Raced()
    run = start_processing(world.ctx, orch, rid)
    processing.start_verification(world.ctx, rid)
    assert prove(world, rid).outcome.value == "verified"
    orch.suspend(run, "verify-1-0")
    later = world.log(subject={"name": "B", "emails": ["b@example.com"]})  # no run yet: the sweep still starts it
    assert [(r.action, r.reference) for r in reconcile(world.ctx, orch)] == [("started", queries.lookup_id(world.ctx, later).reference)]
