"""Verification risk flags on the in-memory unit of work: each rule (dsar.domain.verification_risk)
raises a ``verification_risk`` escalation where its signal appears in identity verification, the
escalation holds the request until legal decides, each rule fires once per request, a rule that
fires while one such escalation is open joins it (its reason kept in its own event), and what
the subject gets (steps, letters) is what any other request gets."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from dsar.domain.escalations import EscalationPoint
from dsar.domain.request import Status
from dsar.domain.verification_policy import Proof
from dsar.domain.verification_risk import RiskFlag, RiskRule
from dsar.services import escalations as esc
from dsar.services import identity
from dsar.services import processing as svc
from dsar.services.account_login import AccountLogin, VerifyingKey
from dsar.services.intake import log_request
from dsar.services.verification_risk import flag
from tests.signoff import LEGAL, code, enrol, proceed_escalations
from tests.unit.services.conftest import JANE, JANE_PHONE, World, prove, shop_data, shop_map

LOOK_ALIKE = "jane.m.doe@example.com"
CCPA = {"regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "categories"}


def held(world: World, rid: str) -> bool:
    with world.uow() as uow:
        return uow.requests.facts(rid).on_hold


def flags(world: World, rid: str) -> list[dict[str, Any]]:
    return world.details(rid, "VerificationRiskFlagged")


def risk_escalations(world: World, rid: str) -> list[esc.Escalation]:
    return [x for x in esc.escalations(world.ctx, rid) if x.point is EscalationPoint.VERIFICATION_RISK]


def no_personal_data(world: World, rid: str) -> None:
    text = repr(world.details(rid, "EscalationRaised")) + repr(flags(world, rid))
    for value in (JANE, LOOK_ALIKE, "jane", "Jane", "7946", "acct-1"):
        assert value not in text, value


# --- 1. a look-alike address -------------------------------------------------------------------


def test_a_look_alike_address_of_a_subject_found_on_file_goes_to_legal_before_any_link(world: World) -> None:
    # found by the phone typed; the address typed is a near miss of the one on file
    rid = world.log(subject={"name": "Jane Doe", "emails": [LOOK_ALIKE], "phone": JANE_PHONE})
    assert svc.start_verification(world.ctx, rid) is Status.RECEIVED
    (x,) = risk_escalations(world, rid)
    assert (x.number, x.open, x.held, x.by) == (1, True, True, "dsar")
    assert x.reason == "look_alike_address: 1 of 1 typed email(s) a near miss of the email on file: 1 edit on the local part"
    assert held(world, rid) and world.letters.contexts("verification_code") == []  # no link, to anyone, yet
    assert flags(world, rid) == [
        {"rule": "look_alike_address", "reason": x.reason, "escalation": 1, "joined": False, "via": "identity verification"}
    ]
    assert esc.escalation_wait(world.ctx, rid).escalation == x  # the run waits for legal's form
    assert svc.start_verification(world.ctx, rid) is Status.RECEIVED  # a re-run sends nothing while held
    no_personal_data(world, rid)
    # legal lets it go on: the link goes to the contact on file, never to the look-alike, valid in full from now
    world.clock.advance(days=2)
    assert proceed_escalations(world.ctx, rid) == [1]
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert [m.to for m in world.mailer.sent.values()] == [JANE]
    with world.uow() as uow:
        case = uow.cases.get(rid)
    assert case is not None and case.expires_at == world.clock() + timedelta(hours=72)
    assert len(flags(world, rid)) == 1  # once per request and rule


def test_the_requester_of_a_look_alike_hears_what_any_requester_hears(world: World) -> None:
    """CCPA: the acknowledgement of receipt goes out as for any request of a subject found on
    file (to the contact on file); only the link waits for legal. The address typed gets
    nothing either way."""
    flagged = world.log(subject={"name": "Jane Doe", "emails": [LOOK_ALIKE], "phone": JANE_PHONE}, **CCPA)
    other = world.log(subject={"name": "Jane Doe", "emails": ["work@elsewhere.test"], "phone": JANE_PHONE}, **CCPA)
    svc.start_verification(world.ctx, flagged)
    svc.start_verification(world.ctx, other)
    assert risk_escalations(world, flagged) and not risk_escalations(world, other)

    def mail_of(rid: str) -> list[tuple[str, str]]:
        ref = svc.reference_of(world.ctx, rid)
        return sorted((m.to, m.message_id.split("@")[0].split(ref, 1)[1]) for m in world.mailer.sent.values() if ref in m.message_id)

    assert [to for to, _ in mail_of(flagged)] == [JANE] and [to for to, _ in mail_of(other)] == [JANE, JANE]
    assert "acknowledgement" in mail_of(flagged)[0][1] and "acknowledgement" in " ".join(k for _, k in mail_of(other))
    assert not [m for m in world.mailer.sent.values() if m.to in (LOOK_ALIKE, "work@elsewhere.test")]


@pytest.mark.parametrize(
    "subject",
    [
        {"name": "Jane Doe", "emails": [JANE]},  # the address on file itself
        {"name": "Jane Doe", "emails": ["work@elsewhere.test"], "phone": JANE_PHONE},  # another address, plainly
        {"name": "Jane Doe", "emails": [LOOK_ALIKE]},  # a look-alike, but nobody found: unknown, as ever
    ],
)
def test_no_look_alike_of_a_subject_found_raises_nothing(world: World, subject: dict[str, Any]) -> None:
    rid = world.log(subject=subject)
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert esc.escalations(world.ctx, rid) == [] and flags(world, rid) == [] and not held(world, rid)


# --- 2. every try used up ----------------------------------------------------------------------


def test_wrong_codes_to_the_last_try_flag_once_and_the_refusal_waits_for_legal(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    steps = [identity.use_code(world.ctx, rid, "00000000") for _ in range(world.ctx.policy.verification_max_attempts)]
    assert [s.outcome.value for s in steps] == ["wrong"] * 4 + ["exhausted"]  # the subject sees what they always saw
    assert svc.status_of(world.ctx, rid) is Status.DENIED and held(world, rid)
    (x,) = risk_escalations(world, rid)
    assert x.reason == "tries_exhausted: 5 of 5 tries failed (the last: contact)" and x.held
    # legal's queue shows it and the run waits for legal: the could-not-verify letter does not go yet
    assert [q.request_id for q in esc.legal_queue(world.ctx)] == [rid]
    assert esc.escalation_wait(world.ctx, rid).escalation == x
    assert svc.send_response(world.ctx, rid) is Status.DENIED and world.letters.contexts("could_not_verify") == []
    assert identity.use_code(world.ctx, rid, "00000000").outcome is identity.StepOutcome.INVALID  # nothing more counts
    assert len(flags(world, rid)) == 1
    assert proceed_escalations(world.ctx, rid) == [1]
    assert not held(world, rid) and esc.legal_queue(world.ctx) == []
    assert svc.send_response(world.ctx, rid) is Status.DENIED and len(world.letters.contexts("could_not_verify")) == 1


def test_failed_data_points_to_the_last_try_flag_with_the_proof_that_failed(world: World) -> None:
    rid = world.log(**CCPA)  # reasonable: the code and one data point
    svc.start_verification(world.ctx, rid)
    step = identity.use_code(world.ctx, rid, world.letters.last_code())
    assert step.next is Proof.DATA_POINTS and step.session
    session = step.session
    for _ in range(world.ctx.policy.verification_max_attempts):
        step = identity.give_points(world.ctx, session, {"phone": "+44 20 0000 0000"})
        session = step.session or session
    assert step.outcome is identity.StepOutcome.EXHAUSTED
    (x,) = risk_escalations(world, rid)
    assert x.reason == "tries_exhausted: 5 of 5 tries failed (the last: data_points)"


def test_a_refused_request_kept_on_hold_by_legal_sends_no_letter(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        identity.use_code(world.ctx, rid, "00000000")
    secret = enrol(world.ctx)
    assert esc.resolve(world.ctx, rid, 1, "keep_on_hold", LEGAL, code(world.ctx, secret), note="an attack on her account").recorded
    assert held(world, rid) and esc.escalation_wait(world.ctx, rid).escalation is None
    assert svc.send_response(world.ctx, rid) is Status.DENIED and world.letters.contexts("could_not_verify") == []


# --- 3. correcting a contact on file -----------------------------------------------------------


def test_a_correction_of_the_phone_on_file_is_held_for_legal_once_verified_before_planning(world: World) -> None:
    rid = world.log(type="correction", corrections=[{"attribute": "phone", "value": "+44 20 7946 0999"}])
    svc.start_verification(world.ctx, rid)
    assert risk_escalations(world, rid) == []  # nothing before the subject is verified
    assert prove(world, rid).outcome is identity.StepOutcome.VERIFIED  # the same step as ever
    assert svc.status_of(world.ctx, rid) is Status.VERIFIED and held(world, rid)
    (x,) = risk_escalations(world, rid)
    assert x.reason == "contact_correction: corrects the phone on file (1 of 2 contact(s) on file)"
    assert svc.plan_request(world.ctx, rid) is Status.VERIFIED  # nothing planned while legal decides
    assert esc.escalation_wait(world.ctx, rid).escalation == x
    no_personal_data(world, rid)
    assert proceed_escalations(world.ctx, rid) == [1]
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_SIGN_OFF


def test_a_correction_of_the_email_verified_by_text_is_flagged_too(world: World) -> None:
    rid = world.log(type="correction", corrections=[{"attribute": "email", "value": "jane@new.example"}])
    svc.start_verification(world.ctx, rid)
    sms_code = str(world.letters.contexts("verification_sms")[-1]["code"])
    assert identity.use_code(world.ctx, rid, sms_code).outcome is identity.StepOutcome.VERIFIED
    (x,) = risk_escalations(world, rid)
    assert x.reason.startswith("contact_correction: corrects the email on file") and held(world, rid)


def test_a_correction_of_other_data_or_one_verified_by_hand_raises_nothing(world: World) -> None:
    raw = {"type": "correction", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": [JANE]}}
    raw["corrections"] = [{"attribute": "city", "value": "Lyon"}]  # logged as from a map where the city is correctable
    city = log_request(replace(world.ctx, data_map=()), raw).request.id
    world.verify(city)
    assert esc.escalations(world.ctx, city) == [] and svc.plan_request(world.ctx, city) is Status.AWAITING_SIGN_OFF
    # legal verified it by hand: legal has it before them already
    phone = world.log(type="correction", corrections=[{"attribute": "phone", "value": "+44 20 7946 0999"}])
    svc.start_verification(world.ctx, phone)
    secret = enrol(world.ctx)
    identity.verify_by_hand(world.ctx, phone, approver=LEGAL, code=code(world.ctx, secret), evidence="called back on the number on file")
    assert svc.status_of(world.ctx, phone) is Status.VERIFIED and esc.escalations(world.ctx, phone) == []


def test_a_later_rule_after_legal_decided_raises_an_escalation_of_its_own(world: World) -> None:
    rid = world.log(
        type="correction",
        subject={"name": "Jane Doe", "emails": [LOOK_ALIKE], "phone": JANE_PHONE},
        corrections=[{"attribute": "phone", "value": "+44 20 7946 0999"}],
    )
    svc.start_verification(world.ctx, rid)
    assert proceed_escalations(world.ctx, rid) == [1]  # the look-alike
    svc.start_verification(world.ctx, rid)
    assert prove(world, rid).outcome is identity.StepOutcome.VERIFIED
    assert [(x.number, x.reason.split(":")[0], x.open) for x in risk_escalations(world, rid)] == [
        (1, "look_alike_address", False),
        (2, "contact_correction", True),
    ]
    assert [(f["rule"], f["escalation"], f["joined"]) for f in flags(world, rid)] == [
        ("look_alike_address", 1, False),
        ("contact_correction", 2, False),
    ]


# --- one escalation, several reasons -----------------------------------------------------------


def test_a_rule_firing_while_a_verification_risk_escalation_is_open_joins_it_and_keeps_its_reason(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    # support sent the request to legal by hand (`dsar request escalate --point verification_risk`)
    esc.escalate(world.ctx, rid, EscalationPoint.VERIFICATION_RISK, "the caller could not say her postcode", by="sam", via="cli")
    for _ in range(world.ctx.policy.verification_max_attempts):
        identity.use_code(world.ctx, rid, "00000000")
    (x,) = esc.escalations(world.ctx, rid)  # still one escalation for legal to decide
    assert x.reason == "the caller could not say her postcode"
    (joined,) = flags(world, rid)
    assert joined["rule"] == "tries_exhausted" and joined["escalation"] == 1 and joined["joined"] is True
    assert joined["reason"] == "tries_exhausted: 5 of 5 tries failed (the last: contact)"
    assert svc.status_of(world.ctx, rid) is Status.DENIED and held(world, rid)


def test_flag_is_once_per_request_and_rule(world: World) -> None:
    rid = world.log()
    first = RiskFlag(RiskRule.TRIES_EXHAUSTED, "5 of 5 tries failed (the last: contact)")
    with world.uow() as uow:
        x = flag(world.ctx, uow, rid, first, via="test")
        again = flag(world.ctx, uow, rid, replace(first, detail="another count"), via="test")
        nothing = flag(world.ctx, uow, rid, None, via="test")
        uow.commit()
    assert x is not None and x.number == 1 and again is None and nothing is None
    assert len(flags(world, rid)) == 1 and len(esc.escalations(world.ctx, rid)) == 1
    assert proceed_escalations(world.ctx, rid) == [1]
    with world.uow() as uow:
        assert flag(world.ctx, uow, rid, first, via="test") is None  # decided: the same rule does not come back
        assert flag(world.ctx, uow, rid, RiskFlag(RiskRule.CONTACT_CORRECTION, "x"), via="test") is not None
        uow.commit()
    assert [x.number for x in esc.escalations(world.ctx, rid)] == [1, 2]


# --- 4. the login's risk claims ----------------------------------------------------------------

ISSUER, AUDIENCE, ACCOUNT = "https://login.example-shop.test", "dsar-privacy", "acct-1"


def account_world(key: ed25519.Ed25519PrivateKey) -> World:
    """Jane holds an account (``acct-1``) and the organisation's login is configured."""
    data = shop_data()
    data.rows["customer"][0]["account_id"] = ACCOUNT
    w = World([data], (shop_map(),))
    login = AccountLogin("https://login.example-shop.test/signin", ISSUER, AUDIENCE, key=VerifyingKey(key.public_key(), "EdDSA"))
    w.ctx = replace(w.ctx, policy=replace(w.ctx.policy, account_login=login))
    return w


def signed_in(w: World, key: ed25519.Ed25519PrivateKey, **claims: Any) -> tuple[str, identity.Step]:
    rid = w.log()
    svc.start_verification(w.ctx, rid)
    step = identity.use_code(w.ctx, rid, w.letters.last_code())
    assert step.next is Proof.ACCOUNT and step.session
    now = int(w.clock().timestamp())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": ACCOUNT, "nonce": step.session, "iat": now, "exp": now + 300} | claims
    return rid, identity.sign_in(w.ctx, step.session, jwt.encode(body, key, algorithm="EdDSA"))


def test_a_truthy_risk_claim_from_the_login_sends_the_verified_request_to_legal() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    w = account_world(key)
    rid, step = signed_in(w, key, pwd_reset_recent=True, risk=False)
    calm_rid, calm = signed_in(w, key, risk="false")
    # the same outcome for both: the proof stands and the subject is told it is confirmed
    assert (step.outcome, step.reference is not None) == (calm.outcome, True) == (identity.StepOutcome.VERIFIED, True)
    assert step.escalated and not calm.escalated  # only for the run: woken to ask legal
    (x,) = risk_escalations(w, rid)
    assert x.reason == "account_risk_claim: the login's assertion carries pwd_reset_recent (1 of 2 watched claim(s))"
    assert svc.status_of(w.ctx, rid) is Status.VERIFIED and held(w, rid)
    assert esc.escalations(w.ctx, calm_rid) == [] and not held(w, calm_rid)
    no_personal_data(w, rid)


def test_the_watched_claims_are_the_configured_ones() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    w = account_world(key)
    login = w.ctx.policy.account_login
    assert login is not None and login.risk_claims == ("risk", "pwd_reset_recent")
    w.ctx = replace(w.ctx, policy=replace(w.ctx.policy, account_login=replace(login, risk_claims=("new_device",))))
    rid, _ = signed_in(w, key, risk=True, new_device="yes")
    (x,) = risk_escalations(w, rid)
    assert "carries new_device (1 of 1" in x.reason


def test_a_risk_claim_on_a_correction_of_a_contact_joins_the_escalation_that_correction_raised() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    w = account_world(key)
    rid = w.log(type="correction", corrections=[{"attribute": "phone", "value": "+44 20 7946 0999"}])
    svc.start_verification(w.ctx, rid)
    step = identity.use_code(w.ctx, rid, w.letters.last_code())
    assert step.session
    now = int(w.clock().timestamp())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": ACCOUNT, "nonce": step.session, "iat": now, "exp": now + 300, "risk": 1}
    assert identity.sign_in(w.ctx, step.session, jwt.encode(body, key, algorithm="EdDSA")).verified
    (x,) = esc.escalations(w.ctx, rid)
    assert x.reason.startswith("contact_correction:")
    assert [(f["rule"], f["escalation"], f["joined"]) for f in flags(w, rid)] == [
        ("contact_correction", 1, False),
        ("account_risk_claim", 1, True),
    ]


# --- a request held while its link is out --------------------------------------------------------


def test_a_subject_who_proves_who_they_are_while_the_request_is_held_is_verified_and_it_stays_held(world: World) -> None:
    from dsar.services import casework

    rid = world.log()
    svc.start_verification(world.ctx, rid)  # the link and code went out
    assert casework.flag_legal_sensitive(world.ctx, rid, "solicitor's letter received", by="sam")
    assert held(world, rid)
    # the subject acts on the link meanwhile: the proof is recorded, not refused
    assert prove(world, rid).outcome is identity.StepOutcome.VERIFIED
    assert svc.status_of(world.ctx, rid) is Status.VERIFIED and held(world, rid)
    assert [d["proof"] for d in world.details(rid, "VerificationProofGiven")] == ["contact"]
    # nothing is planned while held; legal's decision on the escalation lets it go on
    assert svc.plan_request(world.ctx, rid) is Status.VERIFIED
    assert [x.open for x in esc.escalations(world.ctx, rid)] == [True]
    assert proceed_escalations(world.ctx, rid) == [1]
    assert not held(world, rid)
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_SIGN_OFF


def test_a_verification_by_hand_leaves_the_hold_an_open_escalation_put_on(world: World) -> None:
    from dsar.services import casework

    rid = world.log()
    svc.start_verification(world.ctx, rid)
    casework.flag_legal_sensitive(world.ctx, rid, "regulator involved", by="sam")
    secret = enrol(world.ctx)
    status = identity.verify_by_hand(
        world.ctx, rid, approver=LEGAL, code=code(world.ctx, secret), evidence="called back on the number on file"
    )
    assert status is Status.VERIFIED and held(world, rid)  # the escalation's decision lifts it, not this
    assert [x.open for x in esc.escalations(world.ctx, rid)] == [True]
