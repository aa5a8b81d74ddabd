"""Legal's sign-off proven by an authenticator code, on the in-memory unit of work: the legal
roster, wrong and replayed codes, support and admin accounts, a denial without a reason; every
refused attempt recorded (never the code) and the request left waiting."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dsar.crypto.totp import code_at
from dsar.domain.decisions import SignOff, SignOffDecision, SignOffRefusal, sign_off
from dsar.domain.errors import InvalidInput
from dsar.domain.events import STAFF_STREAM
from dsar.domain.request import Status
from dsar.services import accounts
from dsar.services import processing as svc
from tests.signoff import LEGAL, code, enrol
from tests.unit.services.conftest import World

APPROVE = SignOff(SignOffDecision.APPROVE)


def waiting(world: World, n: int = 0) -> str:
    if n:  # another customer of the shop (on file: verification finds them)
        world.systems["shop"].rows["customer"].append({"key": f"s{n}", "email": f"subject{n}@example.com", "phone": None})
    rid = world.log() if n == 0 else world.log(subject={"name": f"Subject {n}", "emails": [f"subject{n}@example.com"]})
    world.verify(rid)
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_SIGN_OFF
    return rid


def refused(world: World, rid: str) -> list[dict[str, object]]:
    return world.details(rid, "SignOffRefused")


def test_enrolment_seals_the_secret_and_records_who_enrolled_whom(world: World) -> None:
    accounts.add_user(world.ctx, LEGAL, "legal", by="ada")
    enrolled = accounts.enrol_totp(world.ctx, LEGAL, by="ada")
    assert enrolled.uri.startswith("otpauth://totp/Example%20Shop%20Ltd:lena.legal?secret=" + enrolled.secret)
    assert enrolled.account.totp_enrolled and accounts.find_account(world.ctx, LEGAL).totp_enrolled  # type: ignore[union-attr]
    with world.uow() as uow:
        record = uow.accounts.totp(enrolled.account.id)
        assert record is not None and record.last_step is None
        assert enrolled.secret.encode() not in record.sealed_secret
        staff = [e for e in uow.audit.events(STAFF_STREAM) if e.kind == "StaffTotpEnrolled"]
    assert [e.details for e in staff] == [{"account": LEGAL, "by": "ada"}]
    assert enrolled.secret not in json.dumps([e.details for e in staff])


@pytest.mark.parametrize("role", ["support", "auditor", "admin"])
def test_only_legal_accounts_get_an_authenticator(world: World, role: str) -> None:
    accounts.add_user(world.ctx, "someone", role, by="ada")
    with pytest.raises(InvalidInput, match="only legal accounts sign off"):
        accounts.enrol_totp(world.ctx, "someone", by="ada")


def test_the_roster_name_and_its_current_code_record_the_decision(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    result = svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="console", flow_run="run-1")
    assert result == svc.SignOffResult(Status.EXECUTING, recorded=True)
    (recorded,) = world.details(rid, "SignOffRecorded")
    assert recorded == {
        "step": "release",
        "decision": "approve",
        "approver": LEGAL,
        "verified_by": "totp",
        "via": "console",
        "flow_run": "run-1",
    }
    assert refused(world, rid) == []


def test_the_code_of_the_step_before_is_still_good(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    world.clock.advance(seconds=30)
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, typed, via="test").recorded


def test_a_wrong_code_leaves_the_request_waiting_and_records_the_attempt_without_the_code(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    good = code(world.ctx, secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    result = svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, wrong, via="prefect-ui")
    assert result == svc.SignOffResult(Status.AWAITING_SIGN_OFF, refused=SignOffRefusal.WRONG_CODE)
    assert svc.status_of(world.ctx, rid) is Status.AWAITING_SIGN_OFF
    assert refused(world, rid) == [{"step": "release", "attempt": 1, "reason": "wrong_code", "via": "prefect-ui", "approver": LEGAL}]
    assert wrong not in json.dumps(world.details(rid, "SignOffRefused"))
    assert svc.sign_off_state(world.ctx, rid) == svc.SignOffState(Status.AWAITING_SIGN_OFF, 1, SignOffRefusal.WRONG_CODE)
    # an old code (two steps ago) is as wrong
    world.clock.advance(seconds=61)
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, good, via="test").refused is SignOffRefusal.WRONG_CODE
    # and the right one is taken afterwards
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded


def test_a_code_is_good_once_for_its_account(world: World) -> None:
    first, second = waiting(world), waiting(world, 2)
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    assert svc.record_sign_off(world.ctx, first, APPROVE, LEGAL, typed, via="test").recorded
    replay = svc.record_sign_off(world.ctx, second, APPROVE, LEGAL, typed, via="test")
    assert replay == svc.SignOffResult(Status.AWAITING_SIGN_OFF, refused=SignOffRefusal.REPLAYED_CODE)
    # nor an earlier step's code once a later one was used
    world.clock.advance(seconds=30)
    later = code(world.ctx, secret)
    earlier = code_at(secret, world.clock.now - timedelta(seconds=30))
    assert svc.record_sign_off(world.ctx, second, APPROVE, LEGAL, later, via="test").recorded
    third = waiting(world, 3)
    assert svc.record_sign_off(world.ctx, third, APPROVE, LEGAL, earlier, via="test").refused is SignOffRefusal.REPLAYED_CODE
    world.clock.advance(seconds=30)
    assert svc.record_sign_off(world.ctx, third, APPROVE, LEGAL, code(world.ctx, secret), via="test").recorded


@pytest.mark.parametrize("role", ["support", "admin", "auditor"])
def test_a_staff_account_that_is_not_legal_is_refused_with_its_own_authenticator_code(world: World, role: str) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx, "sam.support")
    accounts.set_role(world.ctx, "sam.support", role, by="ada")  # its authenticator stays; the role is no longer legal
    result = svc.record_sign_off(world.ctx, rid, APPROVE, "sam.support", code(world.ctx, secret), via="console")
    assert result.refused is SignOffRefusal.NOT_ON_ROSTER and result.status is Status.AWAITING_SIGN_OFF
    assert refused(world, rid)[0]["approver"] == "sam.support"


def test_a_deactivated_legal_account_is_off_the_roster(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    accounts.add_user(world.ctx, "ada.admin", "admin", by="test")
    accounts.deactivate(world.ctx, LEGAL, by="ada")
    assert [a.name for a in accounts.legal_roster(world.ctx)] == []
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").refused is SignOffRefusal.NOT_ON_ROSTER


def test_a_name_off_the_roster_is_kept_only_as_a_digest(world: World) -> None:
    rid = waiting(world)
    result = svc.record_sign_off(world.ctx, rid, APPROVE, "Jane Doe's lawyer", "123456", via="prefect-ui")
    assert result.refused is SignOffRefusal.NOT_ON_ROSTER
    (attempt,) = refused(world, rid)
    assert "approver" not in attempt and len(str(attempt["approver_digest"])) == 32
    assert "Jane" not in json.dumps(attempt)


def test_a_legal_account_without_an_authenticator_cannot_sign_off(world: World) -> None:
    rid = waiting(world)
    accounts.add_user(world.ctx, LEGAL, "legal", by="ada")
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, "123456", via="test").refused is SignOffRefusal.NO_AUTHENTICATOR


def test_a_denial_without_a_reason_from_the_prefect_form_is_a_refused_attempt(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    typed = code(world.ctx, secret)
    result = svc.sign_off_attempt(
        world.ctx, rid, decision="deny", reason=None, reason_text="", note="INTERNAL", approver=LEGAL, code=typed, via="prefect-ui"
    )
    assert result == svc.SignOffResult(Status.AWAITING_SIGN_OFF, refused=SignOffRefusal.INCOMPLETE)
    assert refused(world, rid)[0]["reason"] == "incomplete"
    # the code was not spent on the incomplete attempt: the complete one takes it
    complete = svc.sign_off_attempt(
        world.ctx, rid, decision="deny", reason="exempt", reason_text="", note="INTERNAL", approver=LEGAL, code=typed, via="prefect-ui"
    )
    assert complete == svc.SignOffResult(Status.DENIED, recorded=True)
    assert svc.sign_off_state(world.ctx, rid).refused_attempts == 1


def test_a_decision_once_taken_is_not_taken_again_nor_is_a_later_attempt_refused(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="console").recorded
    # the run resumed by the console reads it back with no code: nothing is refused or recorded
    again = svc.sign_off_attempt(
        world.ctx, rid, decision="approve", reason=None, reason_text="", note="", approver=LEGAL, code="", via="prefect-ui"
    )
    assert again == svc.SignOffResult(Status.EXECUTING)
    assert refused(world, rid) == [] and len(world.details(rid, "SignOffRecorded")) == 1


def test_the_denial_letter_gives_the_reason_and_not_the_note(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    given = sign_off("deny", "not_a_consumer", "", "INTERNAL ONLY: B2B contact, see CRM")
    assert svc.record_sign_off(world.ctx, rid, given, LEGAL, code(world.ctx, secret), via="test").status is Status.DENIED
    svc.send_response(world.ctx, rid)
    (context,) = world.letters.contexts("denial")
    assert context["denial_reason"] == given.subject_reason()
    assert "INTERNAL" not in json.dumps(context, default=str)
    status_change = world.details(rid, "StatusChanged")[-1]
    assert "INTERNAL" not in json.dumps(status_change)


def test_a_code_is_checked_against_when_the_form_was_submitted_not_when_a_worker_got_to_it(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    submitted = world.clock.now
    typed = code(world.ctx, secret)
    world.clock.advance(hours=3)  # the worker was down
    late = svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, typed, via="prefect-ui")
    assert late.refused is SignOffRefusal.WRONG_CODE
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, typed, via="prefect-ui", at=submitted).recorded


def test_a_submission_time_in_the_future_or_too_old_is_not_believed(world: World) -> None:
    rid = waiting(world)
    secret = enrol(world.ctx)
    future = world.clock.now + timedelta(hours=1)
    assert (
        svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code_at(secret, future), via="x", at=future).refused
        is SignOffRefusal.WRONG_CODE
    )
    old = world.clock.now - svc.SUBMITTED_WITHIN - timedelta(minutes=1)
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code_at(secret, old), via="x", at=old).refused is SignOffRefusal.WRONG_CODE
