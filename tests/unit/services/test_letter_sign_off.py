"""Legal's sign-off of the response letter before it goes out (DSAR_LETTER_SIGN_OFF, issue 11),
on the in-memory unit of work with the policy on (the default: deletions and every refusal):
no letter that needs approval goes before it; the proof is the plan sign-off's (roster +
a current code, good once); a refused attempt is recorded and the letter keeps waiting; a
return holds the request with legal's reason."""

from __future__ import annotations

import json

import pytest

from dsar.domain.decisions import SignOffRefusal, sign_off
from dsar.domain.letter_sign_off import DEFAULT_POLICY, LETTER_STEP, LetterDecision, LetterSignOff, parse_letter_sign_off
from dsar.domain.request import Status
from dsar.services import accounts, admin
from dsar.services import letter_sign_off as letters
from dsar.services import processing as svc
from tests.signoff import LEGAL, code, enrol, proceed_escalations, sign
from tests.unit.services.conftest import JANE, World, shop_data, shop_map

APPROVE = LetterSignOff(LetterDecision.APPROVE)


@pytest.fixture
def world() -> World:
    return World([shop_data()], (shop_map(),), letter_sign_off=DEFAULT_POLICY)


def responding(world: World, kind: str = "deletion") -> str:
    rid = world.log(type=kind)
    assert world.approve(rid) is Status.EXECUTING
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    return rid


def sent(world: World, rid: str, kind: str) -> bool:
    return f"{svc.reference_of(world.ctx, rid)}.{kind}@dsar" in world.mailer.sent


def test_a_deletion_letter_waits_for_legal_and_goes_once_approved(world: World) -> None:
    rid = responding(world)
    assert svc.send_response(world.ctx, rid) is Status.RESPONDING  # nothing sent, nothing changed
    assert not sent(world, rid, "deletion_response") and "LetterSent" not in world.events(rid)[-3:]
    state = letters.letter_state(world.ctx, rid)
    assert state.waiting and state.letter is not None and state.letter.kind == "deletion_response"
    secret = enrol(world.ctx)
    result = letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="console", flow_run="run-7")
    assert result == letters.LetterSignOffResult(Status.RESPONDING, recorded=True)
    assert not letters.letter_state(world.ctx, rid).waiting
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    assert sent(world, rid, "deletion_response")
    with world.uow() as uow:
        decision = uow.decisions.get(rid, LETTER_STEP)
    assert decision is not None and decision.decision == "approve" and decision.approver == LEGAL


def test_the_audit_event_names_the_letter_and_the_template_version_and_no_personal_data(world: World) -> None:
    rid = responding(world)
    secret = enrol(world.ctx)
    given = LetterSignOff(LetterDecision.APPROVE, note="INTERNAL: retention lines checked")
    letters.record_letter_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, secret), via="cli", flow_run="run-7")
    (recorded,) = world.details(rid, "LetterSignOffRecorded")
    assert recorded == {
        "step": "letter",
        "decision": "approve",
        "approver": LEGAL,
        "letter": "deletion_response",
        "template": "deletion_response/default.en.j2",
        "template_version": recorded["template_version"],
        "note": "INTERNAL: retention lines checked",
        "verified_by": "totp",
        "via": "cli",
        "flow_run": "run-7",
    }
    assert len(str(recorded["template_version"])) == 64
    text = json.dumps(world.details(rid, "LetterSignOffRecorded"))
    assert JANE not in text and "Jane" not in text
    svc.send_response(world.ctx, rid)
    (letter,) = [d for d in world.details(rid, "LetterSent") if d["kind"] == "deletion_response"]
    assert letter["template"] == recorded["template"]
    # the internal note never reaches the letter
    assert "INTERNAL" not in json.dumps(world.letters.contexts("deletion_response"), default=str)


def test_an_access_letter_goes_at_once_under_the_default(world: World) -> None:
    rid = responding(world, "access")
    assert not letters.letter_state(world.ctx, rid).waiting
    assert svc.send_response(world.ctx, rid) is Status.CLOSED and sent(world, rid, "access_response")


def test_an_entry_for_one_regime_only_holds_that_regime_s_letters() -> None:
    w = World([shop_data()], (shop_map(),), letter_sign_off=parse_letter_sign_off("access@gdpr"))
    rid = responding(w, "access")
    assert letters.letter_state(w.ctx, rid).waiting and svc.send_response(w.ctx, rid) is Status.RESPONDING
    off = World([shop_data()], (shop_map(),), letter_sign_off=parse_letter_sign_off("access@ccpa"))
    other = responding(off, "access")
    assert svc.send_response(off.ctx, other) is Status.CLOSED


def test_a_partial_refusal_makes_an_access_letter_a_refusal(world: World) -> None:
    rid = world.log(type="access")
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    assert sign(world.ctx, rid, sign_off("approve", exempt=[("shop", "legal-hold")])).status is Status.EXECUTING
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    state = letters.letter_state(world.ctx, rid)
    assert state.waiting and state.letter is not None and state.letter.also == ("partial_refusal",) and state.letter.refusal
    assert svc.send_response(world.ctx, rid) is Status.RESPONDING and not sent(world, rid, "partial_refusal")
    secret = enrol(world.ctx)
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded
    assert world.details(rid, "LetterSignOffRecorded")[0]["also"] == ["partial_refusal"]
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    assert sent(world, rid, "access_response") and sent(world, rid, "partial_refusal")


def test_legal_s_denial_letter_waits_and_the_request_stays_denied(world: World) -> None:
    rid = world.log(type="access")
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    assert sign(world.ctx, rid, sign_off("deny", "exempt")).status is Status.DENIED
    assert svc.send_response(world.ctx, rid) is Status.DENIED and not sent(world, rid, "denial")
    state = letters.letter_state(world.ctx, rid)
    assert state.waiting and state.letter is not None and state.letter.kind == "denial"
    secret = enrol(world.ctx)
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded
    assert svc.send_response(world.ctx, rid) is Status.DENIED and sent(world, rid, "denial")


def test_the_could_not_verify_letter_waits_too(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, rid, "00000000")
    assert svc.status_of(world.ctx, rid) is Status.DENIED
    assert proceed_escalations(world.ctx, rid) == [1]  # every try used up: a verification risk flag, legal first
    assert svc.send_response(world.ctx, rid) is Status.DENIED and not sent(world, rid, "could_not_verify")
    assert "could-not-verify" in letters.letter_summary(world.ctx, rid)
    secret = enrol(world.ctx)
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded
    assert world.details(rid, "LetterSignOffRecorded")[0]["letter"] == "could_not_verify"
    assert svc.send_response(world.ctx, rid) is Status.DENIED and sent(world, rid, "could_not_verify")


def test_a_wrong_code_leaves_the_letter_waiting_and_is_recorded_without_the_code(world: World) -> None:
    rid = responding(world)
    secret = enrol(world.ctx)
    good = code(world.ctx, secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    result = letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, wrong, via="prefect-ui")
    assert result == letters.LetterSignOffResult(Status.RESPONDING, refused=SignOffRefusal.WRONG_CODE)
    (attempt,) = world.details(rid, "SignOffRefused")
    assert attempt == {"step": "letter", "attempt": 1, "reason": "wrong_code", "via": "prefect-ui", "approver": LEGAL}
    assert wrong not in json.dumps(attempt)
    state = letters.letter_state(world.ctx, rid)
    assert state.waiting and state.refused_attempts == 1 and state.last_refusal is SignOffRefusal.WRONG_CODE
    assert "The last attempt was refused: the authenticator code is wrong or expired" in letters.letter_summary(
        world.ctx, rid, state.last_refusal
    )
    assert svc.send_response(world.ctx, rid) is Status.RESPONDING and not sent(world, rid, "deletion_response")
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, good, via="test").recorded


def test_a_code_used_already_is_refused(world: World) -> None:
    first, second = responding(world), world.log(type="deletion", subject={"name": "S", "emails": ["s2@example.com"]})
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    assert letters.record_letter_sign_off(world.ctx, first, APPROVE, LEGAL, typed, via="test").recorded
    world.systems["shop"].rows["customer"].append({"key": "s2", "email": "s2@example.com", "phone": None})
    assert world.approve(second) is Status.EXECUTING and svc.execute_plan(world.ctx, second) is Status.RESPONDING
    replay = letters.record_letter_sign_off(world.ctx, second, APPROVE, LEGAL, typed, via="test")
    assert replay.refused is SignOffRefusal.REPLAYED_CODE and letters.letter_state(world.ctx, second).waiting


@pytest.mark.parametrize("role", ["support", "admin"])
def test_a_support_or_admin_account_is_off_the_roster(world: World, role: str) -> None:
    rid = responding(world)
    secret = enrol(world.ctx, "sam.support")
    accounts.set_role(world.ctx, "sam.support", role, by="ada")
    result = letters.record_letter_sign_off(world.ctx, rid, APPROVE, "sam.support", code(world.ctx, secret), via="console")
    assert result.refused is SignOffRefusal.NOT_ON_ROSTER and letters.letter_state(world.ctx, rid).waiting
    assert world.details(rid, "SignOffRefused")[0]["approver"] == "sam.support"


def test_a_name_off_the_roster_is_kept_as_a_digest_only(world: World) -> None:
    rid = responding(world)
    result = letters.record_letter_sign_off(world.ctx, rid, APPROVE, "Jane Doe's lawyer", "123456", via="prefect-ui")
    assert result.refused is SignOffRefusal.NOT_ON_ROSTER
    (attempt,) = world.details(rid, "SignOffRefused")
    assert "approver" not in attempt and "Jane" not in json.dumps(attempt)


def test_five_wrong_codes_lock_the_approver_out_as_for_the_plan_sign_off(world: World) -> None:
    rid = responding(world)
    secret = enrol(world.ctx)
    good = code(world.ctx, secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    reasons = [letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, wrong, via="test").refused for _ in range(5)]
    assert reasons == [SignOffRefusal.WRONG_CODE] * 5
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, good, via="test").refused is SignOffRefusal.LOCKED_OUT
    assert letters.letter_state(world.ctx, rid).waiting


def test_a_return_holds_the_request_with_legal_s_reason_and_the_letter_waits_again_after_the_release(world: World) -> None:
    rid = responding(world)
    secret = enrol(world.ctx)
    given = LetterSignOff(LetterDecision.RETURN, "the retention ground of the orders is missing", "INTERNAL")
    result = letters.record_letter_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, secret), via="console")
    assert result == letters.LetterSignOffResult(Status.RESPONDING, recorded=True, returned=True)
    with world.uow() as uow:
        r = uow.requests.facts(rid)
        assert r.on_hold and uow.decisions.get(rid, LETTER_STEP) is None and uow.decisions.get(rid, "letter-return-1") is not None
    (held,) = [d for d in world.details(rid, "HoldChanged") if d.get("on_hold") in (True, "true")]
    assert "letter returned by legal: the retention ground of the orders is missing" in json.dumps(held)
    (recorded,) = world.details(rid, "LetterSignOffRecorded")
    assert recorded["decision"] == "return" and recorded["step"] == "letter-return-1" and recorded["reason"].startswith("the retention")
    state = letters.letter_state(world.ctx, rid)
    assert not state.waiting and state.awaiting_approval and state.returns == 1
    assert svc.send_response(world.ctx, rid) is Status.RESPONDING and not sent(world, rid, "deletion_response")
    # a second decision while it is held is nothing
    assert letters.record_letter_sign_off(
        world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test"
    ) == letters.LetterSignOffResult(Status.RESPONDING)
    admin.release_request(world.ctx, rid, "fixed the data map's retention ground", by="sam.support")
    assert letters.letter_state(world.ctx, rid).waiting
    world.clock.advance(seconds=30)
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded
    assert svc.send_response(world.ctx, rid) is Status.CLOSED and sent(world, rid, "deletion_response")


def test_a_return_without_a_reason_from_the_prefect_form_is_a_refused_attempt_that_spends_no_code(world: World) -> None:
    rid = responding(world)
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    result = letters.letter_sign_off_attempt(
        world.ctx, rid, decision="return", reason="", note="", approver=LEGAL, code=typed, via="prefect-ui"
    )
    assert result.refused is SignOffRefusal.RETURN_WITHOUT_REASON and letters.letter_state(world.ctx, rid).waiting
    assert world.details(rid, "SignOffRefused")[0]["reason"] == "return_without_reason"
    again = letters.letter_sign_off_attempt(
        world.ctx, rid, decision="approve", reason="", note="", approver=LEGAL, code=typed, via="prefect-ui"
    )
    assert again.recorded


def test_the_form_s_text_names_reference_type_regime_due_letter_and_the_preview_link_and_no_personal_data() -> None:
    from dataclasses import replace

    w = World([shop_data()], (shop_map(),), letter_sign_off=DEFAULT_POLICY)
    object.__setattr__(w, "ctx", replace(w.ctx, policy=replace(w.ctx.policy, console_url="https://dsar.example")))
    rid = responding(w)
    text = letters.letter_summary(w.ctx, rid)
    ref = svc.reference_of(w.ctx, rid)
    assert f"### {ref}: the deletion response letter waits for legal's approval" in text
    assert "deletion under `gdpr`" in text and "**Due** 2026-" in text and "`deletion_response`" in text
    assert f"(https://dsar.example/console/requests/{ref}/letter-preview)" in text
    assert "Jane" not in text and JANE not in text


def test_the_letter_preview_is_the_could_not_verify_letter_for_an_unverifiable_request(world: World) -> None:
    from dsar.services.letter_preview import letter_preview

    rid = world.log()
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, rid, "00000000")
    preview = letter_preview(world.ctx, rid)
    assert preview is not None and preview.kind == "could_not_verify" and len(preview.version) == 64


def test_the_deadline_watch_keeps_watching_a_refusal_whose_letter_waits_for_legal(world: World) -> None:
    from dsar.services import deadlines

    rid = world.log(type="access")
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    assert sign(world.ctx, rid, sign_off("deny", "exempt")).status is Status.DENIED
    with world.uow() as uow:
        due = uow.deadlines.get(rid).due
    world.clock.advance(days=(due - world.clock.now.date()).days - 2)  # two days before the date
    result = deadlines.sweep(world.ctx, [7, 3, 1])
    mine = [a for a in result.raised if a.request_id == rid]
    assert [a.kind for a in mine if a.notify] == ["due-in-3d"] and all(a.due == due for a in mine)
    (notice,) = [deadlines.describe(a, svc_facts(world, rid)) for a in mine if a.notify]
    assert "its refusal letter" in notice.body and "legal's approval" in notice.body
    assert [a for a in deadlines.sweep(world.ctx, [7, 3, 1]).raised if a.request_id == rid] == []  # once
    # once the letter went, the refusal is no longer watched
    secret = enrol(world.ctx)
    assert letters.record_letter_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    world.clock.advance(days=3)
    assert [a for a in deadlines.sweep(world.ctx, [7, 3, 1]).raised if a.request_id == rid] == []


def test_a_refusal_whose_letter_needs_no_approval_is_not_watched() -> None:
    from dsar.services import deadlines

    w = World([shop_data()], (shop_map(),), letter_sign_off=parse_letter_sign_off("deletion"))
    rid = w.log(type="access")
    w.verify(rid)
    svc.plan_request(w.ctx, rid)
    assert sign(w.ctx, rid, sign_off("deny", "exempt")).status is Status.DENIED  # its letter is not sent yet either
    with w.uow() as uow:
        due = uow.deadlines.get(rid).due
    w.clock.advance(days=(due - w.clock.now.date()).days + 1)
    assert [a for a in deadlines.sweep(w.ctx, [7, 3, 1]).raised if a.request_id == rid] == []


def svc_facts(world: World, rid: str) -> object:
    with world.uow() as uow:
        return uow.requests.facts(rid)


def test_a_returned_refusal_released_gets_its_run_at_once_though_the_request_is_denied(world: World) -> None:
    from dsar.services.orchestration import InMemoryOrchestrator, continue_processing, start_processing

    rid = world.log(type="access")
    orch = InMemoryOrchestrator()
    run = start_processing(world.ctx, orch, rid)
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    assert sign(world.ctx, rid, sign_off("deny", "exempt")).status is Status.DENIED
    secret = enrol(world.ctx)
    returned = LetterSignOff(LetterDecision.RETURN, "name the exemption's ground", "")
    assert letters.record_letter_sign_off(world.ctx, rid, returned, LEGAL, code(world.ctx, secret), via="console").returned
    orch.finish(run)  # the run ends: the request is held, the letter not sent
    assert continue_processing(world.ctx, orch, rid) == "nothing"  # held for a person
    admin.release_request(world.ctx, rid, "ground added", by="sam.support")
    assert continue_processing(world.ctx, orch, rid) == "started"  # denied, yet its letter is owed: a new run
    assert [s.request_id for s in orch.started] == [rid, rid] and letters.letter_state(world.ctx, rid).waiting
