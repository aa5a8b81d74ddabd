"""Escalations decided in the run's own form (issue 11): the run waits on the first open
escalation that holds the request, shows legal a description without personal data, records
what the Prefect UI's form lets through but the engine refuses, and a decision given on the
console or the CLI is handed to the run waiting on it; a raise or a release outside a run
brings the run to where the record stands (woken, resumed or started), never an error."""

from __future__ import annotations

from dsar.domain.decisions import SignOffRefusal
from dsar.domain.escalations import EscalationPoint
from dsar.domain.request import Status
from dsar.services import casework, processing, queries
from dsar.services import escalations as esc
from dsar.services.admin import hold_request, release_request
from dsar.services.orchestration import (
    InMemoryOrchestrator,
    continue_processing,
    escalation_key,
    resolve_escalation_and_continue,
    start_processing,
)
from tests.signoff import LEGAL, code, enrol
from tests.unit.services.conftest import World


def held(w: World, rid: str) -> bool:
    with w.uow() as uow:
        return uow.requests.facts(rid).on_hold


def test_the_run_waits_only_on_an_open_escalation_that_holds_the_request() -> None:
    w = World([], ())
    rid = w.log()
    assert esc.escalation_wait(w.ctx, rid).escalation is None  # not on hold: nothing read
    casework.flag_legal_sensitive(w.ctx, rid, "the caller mentioned a lawsuit", by="sam", via="console")
    wait = esc.escalation_wait(w.ctx, rid)
    assert wait.escalation is not None and wait.escalation.number == 1 and (wait.refused_attempts, wait.last_refusal) == (0, None)
    assert escalation_key(1) == "escalation-1" and escalation_key(1, 2) == "escalation-1-2"

    # held for another reason first: an escalation raised then holds nothing and stops no run
    other = w.log(subject={"name": "B", "emails": ["b@example.com"]})
    hold_request(w.ctx, other, "connector credentials expired")
    esc.escalate(w.ctx, other, EscalationPoint.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE, "fifth this month", by="sam")
    assert esc.escalation_wait(w.ctx, other).escalation is None


def test_the_form_s_description_tells_legal_what_they_decide_without_personal_data() -> None:
    w = World([], ())
    rid = w.log()
    ref = queries.lookup_id(w.ctx, rid).reference
    casework.flag_legal_sensitive(w.ctx, rid, "Jane's lawyer called about a lawsuit", by="sam", via="console")
    text = esc.escalation_summary(w.ctx, rid, 1)
    assert f"### {ref}: escalation 1 waits for legal's decision" in text
    assert "flagged legal-sensitive by support (`legal_sensitive`)" in text and "by sam" in text
    assert "Legal's response target** 2026-03-04 (2 day(s) left)" in text
    assert "access under `gdpr`" in text and f"/console/requests/{ref}" in text
    assert "Jane" not in text and "lawsuit" not in text and "jane.doe" not in text
    again = esc.escalation_summary(w.ctx, rid, 1, SignOffRefusal.HOLD_WITHOUT_NOTE)
    assert "The last attempt was refused: keeping an escalation on hold needs a note saying why" in again


def test_what_the_prefect_form_lets_through_but_the_engine_refuses_is_recorded_and_the_escalation_stays_open() -> None:
    w = World([], ())
    rid = w.log()
    casework.flag_legal_sensitive(w.ctx, rid, "minor", by="sam", via="console")
    secret = enrol(w.ctx)

    def attempt(decision: str, approver: str, given: str, note: str = "") -> esc.ResolveResult:
        return esc.escalation_attempt(
            w.ctx, rid, 1, decision=decision, note=note, approver=approver, code=given, via="prefect-ui", flow_run="run-9"
        )

    assert attempt("keep_on_hold", LEGAL, code(w.ctx, secret)) == esc.ResolveResult(False, SignOffRefusal.HOLD_WITHOUT_NOTE)
    assert attempt("maybe", LEGAL, code(w.ctx, secret)) == esc.ResolveResult(False, SignOffRefusal.INCOMPLETE)
    wrong = f"{(int(code(w.ctx, secret)) + 1) % 1_000_000:06d}"
    assert attempt("proceed", LEGAL, wrong).refused is SignOffRefusal.WRONG_CODE
    assert attempt("proceed", "nobody", code(w.ctx, secret)).refused is SignOffRefusal.NOT_ON_ROSTER
    refused = w.details(rid, "SignOffRefused")
    assert [(d["step"], d["reason"], d["via"]) for d in refused] == [
        ("escalation:1", "hold_without_note", "prefect-ui"),
        ("escalation:1", "incomplete", "prefect-ui"),
        ("escalation:1", "wrong_code", "prefect-ui"),
        ("escalation:1", "not_on_roster", "prefect-ui"),
    ]
    wait = esc.escalation_wait(w.ctx, rid)
    assert (wait.refused_attempts, wait.last_refusal) == (4, SignOffRefusal.NOT_ON_ROSTER) and held(w, rid)

    w.clock.advance(minutes=1)
    assert attempt("proceed", LEGAL, code(w.ctx, secret), note="spoke to support").recorded
    (done,) = w.details(rid, "EscalationResolved")
    assert (done["decision"], done["approver"], done["via"], done["flow_run"]) == ("proceed", LEGAL, "prefect-ui", "run-9")
    assert not held(w, rid) and esc.escalation_wait(w.ctx, rid).escalation is None
    # the run's own submission arriving after a decision elsewhere changes nothing
    assert attempt("keep_on_hold", LEGAL, "000000", note="late") == esc.ResolveResult(True)
    assert len(w.details(rid, "EscalationResolved")) == 1


def test_a_console_decision_is_handed_to_the_run_waiting_on_that_escalation_s_form() -> None:
    w = World([], ())
    rid = w.log()
    orch = InMemoryOrchestrator()
    run = start_processing(w.ctx, orch, rid)
    casework.flag_legal_sensitive(w.ctx, rid, "regulator involved", by="sam", via="console")
    orch.suspend(run, "escalation-1")
    secret = enrol(w.ctx)
    wrong = f"{(int(code(w.ctx, secret)) + 1) % 1_000_000:06d}"
    refused = resolve_escalation_and_continue(w.ctx, orch, rid, 1, "proceed", LEGAL, wrong, via="console")
    assert refused.refused is SignOffRefusal.WRONG_CODE and orch.resumed == []  # the run keeps waiting
    result = resolve_escalation_and_continue(w.ctx, orch, rid, 1, "proceed", f" {LEGAL} ", code(w.ctx, secret), via="console")
    assert result.recorded
    (resumed,) = orch.resumed
    # the decision is read back from the engine: neither the spent code nor the note goes to Prefect
    assert resumed.run_id == run and resumed.run_input == {"decision": "proceed", "approver": LEGAL, "code": "", "note": ""}
    (done,) = w.details(rid, "EscalationResolved")
    assert done["via"] == "console" and done["flow_run"] == run


def test_a_raise_wakes_a_run_waiting_for_the_subject_and_a_release_starts_a_run_where_none_is_live() -> None:
    w = World([], ())
    rid = w.log()
    orch = InMemoryOrchestrator()
    run = start_processing(w.ctx, orch, rid)
    processing.start_verification(w.ctx, rid)
    orch.suspend(run, "verify-1-0")
    assert continue_processing(w.ctx, orch, rid) == "nothing"  # not escalated: the run keeps waiting
    esc.escalate(w.ctx, rid, EscalationPoint.VERIFICATION_RISK, "burst from one sender", by="dsar")
    assert continue_processing(w.ctx, orch, rid) == "woken"  # to show legal the escalation's form
    assert [r.run_input for r in orch.resumed] == [{}]

    # a run waiting on the sign-off form is not disturbed (the run asks legal after the sign-off)
    orch.suspend(run, "sign-off")
    assert continue_processing(w.ctx, orch, rid) == "nothing" and len(orch.resumed) == 1

    # the run ended while the request was held (kept on hold); a release starts a new one
    secret = enrol(w.ctx)
    esc.resolve(w.ctx, rid, 1, "keep_on_hold", LEGAL, code(w.ctx, secret), note="wait for the regulator")
    orch.finish(run)
    assert continue_processing(w.ctx, orch, rid) == "nothing"  # held for a person: nothing starts
    release_request(w.ctx, rid, "regulator answered")
    assert continue_processing(w.ctx, orch, rid) == "started"
    assert queries.flow_run_id(w.ctx, rid) == "run-2" and queries.lookup_id(w.ctx, rid).status is Status.AWAITING_VERIFICATION


def test_an_orchestrator_that_does_not_answer_loses_nothing() -> None:
    w = World([], ())
    rid = w.log()
    orch = InMemoryOrchestrator(up=False)
    esc.escalate(w.ctx, rid, EscalationPoint.LEGAL_SENSITIVE, "threats", by="sam")
    secret = enrol(w.ctx)
    assert continue_processing(w.ctx, orch, rid) == "unavailable"
    assert resolve_escalation_and_continue(w.ctx, orch, rid, 1, "proceed", LEGAL, code(w.ctx, secret), via="cli").recorded
    assert not held(w, rid) and "flow_run" not in w.details(rid, "EscalationResolved")[0]
