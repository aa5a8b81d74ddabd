"""The request's way from verification to its closing letter (dsar.services.processing)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from dsar.connectors.base import ErasureKind
from dsar.connectors.schema import RecipientContact, Retain
from dsar.domain.decisions import DENIAL_REASON_TEXT, DENIAL_STEP, SIGN_OFF_STEP, DenialReason, SignOff, SignOffDecision, sign_off
from dsar.domain.errors import InvalidInput, RetryableConnectorError
from dsar.domain.plan import ExportStep, ManualStep, Operation
from dsar.domain.request import Move, Status
from dsar.domain.verification import UNVERIFIABLE
from dsar.services import processing as svc
from dsar.services import recording
from dsar.services.intake import log_request
from tests.signoff import LEGAL, approve, code, enrol, proceed_escalations, sign
from tests.unit.services.conftest import JANE, World, archive_map, download_package, prove, shop_data, shop_map

APPROVE = SignOff(SignOffDecision.APPROVE)


def steps(w: World, rid: str) -> list[object]:
    """Every task of the flow, in order, as the flow runs them."""
    ctx = w.ctx
    if not hasattr(w, "legal_secret"):
        w.legal_secret = enrol(ctx)  # type: ignore[attr-defined]
    out: list[object] = [svc.start_verification(ctx, rid)]
    if w.letters.contexts("verification_code"):
        out.append(prove(w, rid).outcome)
    proceed_escalations(ctx, rid)  # legal lets a verification risk flag go on (the run's decide_escalations)
    out += [
        svc.plan_request(ctx, rid),
        svc.record_sign_off(ctx, rid, APPROVE, LEGAL, code(ctx, w.legal_secret), via="test").status,  # type: ignore[attr-defined]
        svc.execute_plan(ctx, rid),
        svc.send_response(ctx, rid),
    ]
    return out


# --- the whole way --------------------------------------------------------------------------


def test_an_access_request_runs_from_its_code_to_a_closing_letter_with_a_package_link(world: World) -> None:
    rid = world.log()
    ctx = world.ctx
    assert svc.start_verification(ctx, rid) is Status.AWAITING_VERIFICATION
    assert svc.confirm_code(ctx, rid, world.letters.last_code()) is svc.VerificationOutcome.VERIFIED
    assert svc.plan_request(ctx, rid) is Status.AWAITING_SIGN_OFF
    assert approve(ctx, rid) is Status.EXECUTING
    assert svc.execute_plan(ctx, rid) is Status.RESPONDING
    assert svc.send_response(ctx, rid) is Status.CLOSED
    ref = svc.reference_of(ctx, rid)
    letter = world.mailer.sent[f"{ref}.access_response@dsar"]
    assert letter.to == JANE
    # the letter's own PDF only: the data is behind the package's link
    assert [x.mime_type for x in letter.attachments] == ["application/pdf"]
    files = download_package(world, rid)
    customers = json.loads(files[f"{ref}-your-data/shop/customer.json"])["items"]
    orders = json.loads(files[f"{ref}-your-data/shop/orders.json"])["items"]
    assert [c["email"] for c in customers] == [JANE] and sorted(o["key"] for o in orders) == ["10", "11"]
    kinds = world.events(rid)
    assert kinds.count("StatusChanged") == 7
    assert {"VerificationLevelSet", "VerificationLinkSent", "ReceiptConfirmed", "PlanMade", "SignOffRecorded", "SystemExported"} <= set(
        kinds
    )
    (context,) = world.letters.contexts("access_response")
    assert context["record_count"] == 3 and context["found"] and context["categories"] == ["contact"]
    assert [s["system"] for s in context["systems"]] == ["shop"]


def test_running_every_step_twice_writes_nothing_twice(world: World) -> None:
    rid = world.log()
    ctx = world.ctx
    secret = enrol(ctx)
    tasks = [
        lambda: svc.start_verification(ctx, rid),
        lambda: svc.confirm_code(ctx, rid, world.letters.last_code()),
        lambda: svc.plan_request(ctx, rid),
        lambda: svc.record_sign_off(ctx, rid, APPROVE, LEGAL, code(ctx, secret), via="test"),
        lambda: svc.execute_plan(ctx, rid),
        lambda: svc.send_response(ctx, rid),
    ]
    for task in tasks:
        task()
        events, mails, rendered = world.db.committed_events, dict(world.mailer.sent), len(world.letters.rendered)
        status = svc.status_of(ctx, rid)
        task()
        assert world.db.committed_events == events
        assert world.mailer.sent == mails
        assert len(world.letters.rendered) == rendered
        assert svc.status_of(ctx, rid) is status
    # once to read the contact and data points on file (the system of record), once for the answer
    assert world.systems["shop"].calls["export"] == 2


def test_re_running_the_flow_from_the_top_repeats_nothing(world: World) -> None:
    rid = world.log()
    steps(world, rid)
    events, mails, objects = world.db.committed_events, dict(world.mailer.sent), dict(world.objects.objects)
    again = steps(world, rid)
    assert again[-1] is Status.CLOSED
    assert (world.db.committed_events, world.mailer.sent, world.objects.objects) == (events, mails, objects)


def test_a_stranger_not_on_file_is_sent_nothing_and_waits_like_anyone(world: World) -> None:
    rid = world.log(subject={"name": "Robin Nobody", "emails": ["robin@example.org"]})
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert world.mailer.sent == {} and world.letters.rendered == []
    (level,) = world.details(rid, "VerificationLevelSet")
    assert level["known"] is False and level["channel"] == "none" and "no link or code was sent" in level["reasons"][-1]
    assert svc.plan_request(world.ctx, rid) is Status.AWAITING_VERIFICATION  # nothing is searched


# --- verification ---------------------------------------------------------------------------


def test_the_link_and_code_go_to_the_email_on_file_once_per_send_and_confirm_receipt(world: World) -> None:
    rid = world.log(subject={"name": "Jane Doe", "emails": [JANE, "jane@work.example"]})
    svc.start_verification(world.ctx, rid)
    svc.start_verification(world.ctx, rid)
    ref = svc.reference_of(world.ctx, rid)
    with world.uow() as uow:
        case = uow.cases.get(rid)
        acknowledged = uow.deadlines.get(rid).acknowledged_at
    assert case is not None and case.known and case.issued == 1
    (mail,) = world.mailer.sent.values()
    assert mail.message_id == f"{ref}.verify-{case.id}-1@dsar" and mail.to == JANE
    context = world.letters.contexts("verification_code")[-1]
    assert context["link"].startswith("http://127.0.0.1:8000/verify/l/") and context["link"].endswith("?lang=en")
    sent = json.dumps(world.details(rid, "VerificationLinkSent"))
    assert context["code"] not in sent and context["link"].rsplit("/", 1)[1].split("?")[0] not in sent
    assert world.details(rid, "VerificationLinkSent")[0]["template"] == "verification_code/default.en.j2"
    assert world.details(rid, "ReceiptConfirmed") == [{"how": "email", "by": "dsar"}]
    assert acknowledged == world.clock.now


def test_a_request_without_an_email_is_not_found_and_nothing_is_sent(world: World) -> None:
    rid = world.log(subject={"name": "Jane Doe", "phone": "+44 20 7946 0000"})
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert world.mailer.sent == {}


def test_a_wrong_code_counts_and_the_last_allowed_one_denies_the_request_as_unverifiable(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    allowed = world.ctx.policy.verification_max_attempts
    outcomes = [svc.confirm_code(world.ctx, rid, "00000000") for _ in range(allowed)]
    assert outcomes == [svc.VerificationOutcome.WRONG_CODE] * (allowed - 1) + [svc.VerificationOutcome.EXHAUSTED]
    assert [d["attempt"] for d in world.details(rid, "VerificationProofRefused")] == list(range(1, allowed + 1))
    assert svc.status_of(world.ctx, rid) is Status.DENIED
    assert svc.confirm_code(world.ctx, rid, world.letters.last_code()) is svc.VerificationOutcome.NOT_WAITING
    # every try used up is a verification risk flag: the refusal's letter waits for legal
    assert svc.send_response(world.ctx, rid) is Status.DENIED and world.letters.contexts("could_not_verify") == []
    assert proceed_escalations(world.ctx, rid) == [1]
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    # the engine's own refusal: the could-not-verify letter, not legal's denial letter
    (context,) = world.letters.contexts("could_not_verify")
    assert context["request"]["reference"] and world.letters.contexts("denial") == []
    assert _denial_note(world, rid) == UNVERIFIABLE


def _denial_note(world: World, rid: str) -> str | None:
    from dsar.services.processing import DENIAL_STEP

    with world.uow() as uow:
        denial = uow.decisions.get(rid, DENIAL_STEP)
    assert denial is not None and denial.approver == "dsar"
    return denial.note


def test_the_verification_sweep_reminds_a_day_after_and_a_day_before_expiry_then_refuses_with_could_not_verify(world: World) -> None:
    from dsar.services.orchestration import sweep_verification

    rid = world.log()
    svc.start_verification(world.ctx, rid)
    ttl = world.ctx.policy.verification_code_ttl_hours
    after, before = world.ctx.policy.verification_reminder_after_hours, world.ctx.policy.verification_reminder_hours
    assert (ttl, after, before) == (72, 24, 24)
    world.clock.advance(hours=after - 1)
    assert sweep_verification(world.ctx, None).reminded == []  # not yet
    world.clock.advance(hours=2)
    assert len(sweep_verification(world.ctx, None).reminded) == 1  # a day after the link
    (reminder,) = world.letters.contexts("verification_reminder")
    assert "code" not in reminder and "link" not in reminder  # no secret in the reminder
    assert reminder["resend_page"].endswith("/verify/resend?lang=en") and reminder["expires_at"] > world.clock()
    assert sweep_verification(world.ctx, None).reminded == []  # once
    world.clock.advance(hours=ttl - before - after)
    assert len(sweep_verification(world.ctx, None).reminded) == 1  # a day before it expires
    assert len(world.letters.contexts("verification_reminder")) == 2
    assert sweep_verification(world.ctx, None).reminded == []
    world.clock.advance(hours=before)
    swept = sweep_verification(world.ctx, None)
    assert len(swept.closed) == 1 and svc.status_of(world.ctx, rid) is Status.DENIED
    assert world.details(rid, "VerificationProofRefused")[-1]["why"] == "expired"
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    assert len(world.letters.contexts("could_not_verify")) == 1 and world.letters.contexts("denial") == []
    reminders = [d["kind"] for d in world.details(rid, "LetterSent") if d["kind"].startswith("verification_reminder")]
    assert reminders == ["verification_reminder", "verification_reminder.2"]


def test_only_the_later_reminder_goes_when_the_watch_was_down_for_both(world: World) -> None:
    from dsar.services.orchestration import sweep_verification

    rid = world.log()
    svc.start_verification(world.ctx, rid)
    world.clock.advance(hours=50)
    assert len(sweep_verification(world.ctx, None).reminded) == 1
    assert sweep_verification(world.ctx, None).reminded == []
    assert [d["kind"] for d in world.details(rid, "LetterSent") if d["kind"].startswith("verification_reminder")] == [
        "verification_reminder.2"
    ]


def test_a_code_given_after_it_expired_denies_the_request(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    world.clock.advance(hours=world.ctx.policy.verification_code_ttl_hours + 1)
    assert svc.confirm_code(world.ctx, rid, world.letters.last_code()) is svc.VerificationOutcome.EXHAUSTED
    assert world.details(rid, "VerificationProofRefused")[0]["why"] == "expired"
    assert svc.status_of(world.ctx, rid) is Status.DENIED


def test_the_verification_state_tells_the_attempts_left_and_opens_no_personal_data(world: World) -> None:
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    svc.confirm_code(world.ctx, rid, "00000000")
    world.reads()
    state = svc.verification_state(world.ctx, rid)
    assert (state.status, state.attempts, state.attempts_left) == (Status.AWAITING_VERIFICATION, 1, 4)
    assert world.reads()["get"] == 0


# --- planning and sign-off ------------------------------------------------------------------


def test_a_plan_has_one_typed_step_per_system_and_counts_no_values(manual_world: World) -> None:
    rid = manual_world.log()
    manual_world.verify(rid)
    assert svc.plan_request(manual_world.ctx, rid) is Status.AWAITING_SIGN_OFF
    with manual_world.uow() as uow:
        plan = uow.plans.get(rid)
    assert plan == [ManualStep("paper-archive", Operation.EXPORT), ExportStep("shop", 3, ("customer", "orders"))]
    assert manual_world.details(rid, "PlanMade") == [
        {
            "steps": [
                {"system": "paper-archive", "operation": "export", "matches": 0},
                {"system": "shop", "operation": "export", "matches": 3},
            ]
        }
    ]


def test_the_plan_summary_lists_each_system_without_personal_data(manual_world: World) -> None:
    rid = manual_world.log()
    manual_world.verify(rid)
    svc.plan_request(manual_world.ctx, rid)
    summary = svc.plan_summary(manual_world.ctx, rid)
    assert "- **paper-archive**: export; done by hand (a person confirms)" in summary
    assert "- **shop**: export; 3 record(s) found\n    - matched customer,orders" in summary
    assert "- **Due** 2026-04-02 (31 day(s) left)" in summary
    # a list, not a wide table: nothing is clipped at the edge of the Resume dialog
    assert "|" not in summary and max(len(line) for line in summary.splitlines()) < 160
    assert JANE not in summary and "Jane" not in summary


def test_the_plan_summary_says_why_the_last_sign_off_attempt_was_refused(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    summary = svc.plan_summary(world.ctx, rid, svc.SignOffRefusal.REPLAYED_CODE)
    assert "The last attempt was refused: the authenticator code was used already" in summary


def test_a_dry_run_plan_stores_and_changes_nothing(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    events = world.db.committed_events
    assert [s.system for s in svc.dry_run_plan(world.ctx, rid)] == ["shop"]
    assert world.db.committed_events == events and svc.status_of(world.ctx, rid) is Status.VERIFIED


def test_a_system_that_cannot_erase_puts_a_deletion_on_hold(read_only_world: World) -> None:
    rid = read_only_world.log(type="deletion")
    read_only_world.verify(rid)
    assert svc.plan_request(read_only_world.ctx, rid) is Status.PLANNING
    assert read_only_world.details(rid, "HoldChanged")[-1]["reason"] == "erase not supported by: shop"
    assert svc.plan_request(read_only_world.ctx, rid) is Status.PLANNING
    assert read_only_world.events(rid).count("HoldChanged") == 1


def test_an_entity_without_an_erasure_rule_puts_a_deletion_on_hold(world: World) -> None:
    del world.systems["shop"].erasure["orders"]
    rid = world.log(type="deletion")
    world.verify(rid)
    assert svc.plan_request(world.ctx, rid) is Status.PLANNING
    assert "no erasure rule in the data map for some entities of: shop" in world.details(rid, "HoldChanged")[-1]["reason"]


def test_a_correction_of_the_email_sends_nothing_to_that_email_and_texts_the_phone_on_file(world: World) -> None:
    # 11 CCR 7060(e), THREATS 10: verify with data other than the data disputed (the phone on file)
    rid = world.log(type="correction", corrections=[{"attribute": "email", "value": "jane@new.example"}])
    assert svc.start_verification(world.ctx, rid) is Status.AWAITING_VERIFICATION
    assert world.mailer.sent == {}
    assert [m.to for m in world.texts.sent.values()] == ["+442079460001"]
    with world.uow() as uow:
        case = uow.cases.get(rid)
    assert case is not None and case.known and case.channel == "sms"


def test_a_sign_off_needs_a_roster_name_and_a_second_one_changes_nothing(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    secret = enrol(world.ctx)
    refused = svc.record_sign_off(world.ctx, rid, APPROVE, "  ", code(world.ctx, secret), via="test")
    assert refused == svc.SignOffResult(Status.AWAITING_SIGN_OFF, refused=svc.SignOffRefusal.NOT_ON_ROSTER)
    assert svc.record_sign_off(world.ctx, rid, APPROVE, LEGAL, code(world.ctx, secret), via="test").status is Status.EXECUTING
    again = svc.record_sign_off(world.ctx, rid, sign_off("deny", "other", "no"), LEGAL, code(world.ctx, secret), via="test")
    assert again == svc.SignOffResult(Status.EXECUTING)
    (recorded,) = world.details(rid, "SignOffRecorded")
    assert recorded == {"step": SIGN_OFF_STEP, "decision": "approve", "approver": LEGAL, "verified_by": "totp", "via": "test"}


def test_a_denial_at_sign_off_sends_the_reason_code_s_words_and_never_the_internal_note(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    given = sign_off("deny", "manifestly_unfounded_or_excessive", "", "INTERNAL ONLY: fourth request this month, see ticket 4711")
    assert sign(world.ctx, rid, given, LEGAL).status is Status.DENIED
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    (context,) = world.letters.contexts("denial")
    assert context["denial_reason"] == DENIAL_REASON_TEXT[DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE]
    assert "INTERNAL" not in json.dumps(context, default=str) and "4711" not in json.dumps(context, default=str)
    ref = svc.reference_of(world.ctx, rid)
    assert f"{ref}.denial@dsar" in world.mailer.sent
    assert world.events(rid)[-1] == "LetterSent"
    # the auditor reads legal's reasoning in the (sealed) audit trail
    (recorded,) = world.details(rid, "SignOffRecorded")
    assert recorded["note"].startswith("INTERNAL ONLY") and recorded["reason"] == "manifestly_unfounded_or_excessive"


def test_a_denial_for_another_reason_gives_legal_s_words_to_the_subject(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    sign(world.ctx, rid, sign_off("deny", "other", "you asked us to delete data we must keep for a court case"), LEGAL)
    with world.uow() as uow:
        denial = uow.decisions.get(rid, DENIAL_STEP)
    assert denial is not None and denial.note == "you asked us to delete data we must keep for a court case"
    svc.send_response(world.ctx, rid)
    assert world.letters.contexts("denial")[0]["denial_reason"] == "you asked us to delete data we must keep for a court case"


def test_a_request_denied_before_reasons_were_kept_takes_its_reason_from_the_trail(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        recording.move(uow, uow.requests.facts(rid), Move.DENY, world.clock.now, "a reason from last year")
        uow.commit()
    svc.send_response(world.ctx, rid)
    assert world.letters.contexts("denial")[0]["denial_reason"] == "a reason from last year"


# --- execution ------------------------------------------------------------------------------


def test_exports_are_sealed_before_they_reach_the_object_store(world: World) -> None:
    rid = world.log()
    steps(world, rid)
    # the export, and the sealed PDFs of the letters sent (the acknowledgement, the response)
    (stored,) = [v for k, v in world.objects.objects.items() if not k.startswith("letters/")]
    assert b"jane" not in stored.lower()
    assert all(b"jane" not in v.lower() and not v.startswith(b"%PDF") for v in world.objects.objects.values())
    with world.uow() as uow:
        (receipt,) = uow.plans.receipts(rid)
    assert (receipt.system, receipt.operation, receipt.records) == ("shop", "export", 3)


def test_a_deletion_carries_out_exactly_the_approved_actions_once(world: World) -> None:
    rid = world.log(type="deletion")
    assert world.approve(rid) is Status.EXECUTING
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    shop = world.systems["shop"]
    assert shop.calls["erase"] == 1
    assert shop.rows["orders"] == [] and [r["email"] for r in shop.rows["customer"]] == [None, "someone@example.org"]
    assert world.details(rid, "SystemErased") == [{"system": "shop", "counts": {"customer": {"anonymise": 1}, "orders": {"delete": 2}}}]
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    (context,) = world.letters.contexts("deletion_response")
    assert [(e["system"], e["entity"], e["action"]) for e in context["erasure"]] == [
        ("Online shop", "customer", "anonymise"),
        ("Online shop", "orders", "delete"),
    ]


def test_a_deletion_summary_names_the_recipients_to_tell(world: World) -> None:
    rid = world.log(type="deletion")
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    assert "tell these recipients of the change (no address in the data map): Parcel carrier" in svc.plan_summary(world.ctx, rid)


def test_a_correction_sets_the_approved_fields_and_the_letter_names_where(world: World) -> None:
    rid = world.log(type="correction", corrections=[{"attribute": "phone", "value": "+44 9"}])
    world.verify(rid)
    assert svc.plan_request(world.ctx, rid) is Status.VERIFIED  # correcting the phone on file: held for legal
    assert proceed_escalations(world.ctx, rid) == [1]
    svc.plan_request(world.ctx, rid)
    approve(world.ctx, rid)
    assert "Attributes to correct: `phone`" in svc.plan_summary(world.ctx, rid)
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    assert world.systems["shop"].rows["customer"][0]["phone"] == "+44 9"
    (corrected,) = world.details(rid, "SystemCorrected")
    assert corrected["counts"] == {"customer": {"phone": 1}} and "+44 9" not in json.dumps(corrected)
    assert svc.send_response(world.ctx, rid) is Status.CLOSED
    (context,) = world.letters.contexts("correction_response")
    assert context["corrections"] == [{"attribute": "phone", "systems": ["Online shop"]}]
    assert context["recipients"] == ["Parcel carrier"]


# --- acknowledgement, partial refusal, recipient notices ---------------------------------------


def notifying_world(**contacts: RecipientContact) -> World:
    contacts = contacts or {"Parcel carrier": RecipientContact(address="privacy@carrier.test")}
    shop = shop_map(("Parcel carrier", "Tax adviser")).model_copy(update={"recipient_contacts": contacts})
    return World([shop_data()], (shop,))


def test_a_ccpa_request_is_acknowledged_once_before_its_code_and_that_confirms_receipt() -> None:
    w = World([shop_data()], (shop_map(),))
    rid = w.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories")
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    ref = svc.reference_of(w.ctx, rid)
    assert [m for m in w.mailer.sent if "acknowledgement" in m] == [f"{ref}.acknowledgement@dsar"]
    kinds = w.events(rid)
    assert kinds.index("LetterSent") < kinds.index("VerificationLinkSent") and kinds.count("ReceiptConfirmed") == 1
    assert [d["kind"] for d in w.details(rid, "LetterSent")] == ["acknowledgement", "verification_code"]


def test_a_ccpa_requester_not_found_on_file_is_acknowledged_at_the_address_they_gave_like_anyone() -> None:
    w = World([shop_data()], (shop_map(),))
    stranger = "someone.else@example.org"
    rid = w.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories", subject={"name": "Sam Roe", "emails": [stranger]})
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION  # a re-run: once
    ref = svc.reference_of(w.ctx, rid)
    # the same acknowledgement a customer gets, and nothing else (no code: nothing is on file)
    assert list(w.mailer.sent) == [f"{ref}.acknowledgement@dsar"]
    assert w.mailer.sent[f"{ref}.acknowledgement@dsar"].to == stranger
    assert w.events(rid).count("ReceiptConfirmed") == 1 and "VerificationLinkSent" not in w.events(rid)


def test_a_gdpr_request_gets_no_separate_acknowledgement() -> None:
    w = World([shop_data()], (shop_map(),))
    rid = w.log()
    svc.start_verification(w.ctx, rid)
    assert not [m for m in w.mailer.sent if "acknowledgement" in m]


def test_a_deletion_that_keeps_records_sends_the_partial_refusal_with_each_ground() -> None:
    data = shop_data()
    data.erasure["orders"] = ErasureKind.RETAIN
    data.retain_reasons["orders"] = "invoices: 10 years"
    w = World([data], (shop_map(),))
    rid = w.log(type="deletion")
    assert steps(w, rid)[-1] is Status.CLOSED
    (refusal,) = w.letters.contexts("partial_refusal")
    assert refusal["refused"] == [{"system": "Online shop", "entity": "orders", "rows": 2, "reason": "invoices: 10 years"}]
    assert [d["kind"] for d in w.details(rid, "LetterSent")] == ["verification_code", "deletion_response", "partial_refusal"]


def test_an_erasure_tells_each_recipient_with_an_address_once_and_names_the_recipient_not_the_person() -> None:
    w = notifying_world()
    rid = w.log(type="deletion")
    assert steps(w, rid)[-1] is Status.CLOSED
    svc.send_response(w.ctx, rid)
    notices = [m for m in w.mailer.sent.values() if m.to == "privacy@carrier.test"]
    assert len(notices) == 1
    (context,) = w.letters.contexts("recipient_notice")
    assert context["recipient"] == "Parcel carrier" and context["action"] == "erasure" and context["person"]["emails"] == [JANE]
    sent = [d for d in w.details(rid, "LetterSent") if d["kind"].startswith("recipient_notice.")]
    assert len(sent) == 1 and sent[0]["recipient"] == "Parcel carrier" and JANE not in json.dumps(sent)
    (response,) = w.letters.contexts("deletion_response")
    assert response["notified"] == ["Parcel carrier"]  # the tax adviser has no address: told by hand
    assert "dsar mails these recipients a notice of the change: Parcel carrier" in svc.plan_summary(w.ctx, rid)
    assert "(no address in the data map): Tax adviser" in svc.plan_summary(w.ctx, rid)


def test_a_correction_tells_the_recipients_the_new_values_and_an_access_request_tells_nobody() -> None:
    w = notifying_world()
    rid = w.log(type="correction", corrections=[{"attribute": "phone", "value": "+44 9"}])
    assert steps(w, rid)[-1] is Status.CLOSED
    (context,) = w.letters.contexts("recipient_notice")
    assert context["action"] == "correction" and context["corrections"] == [{"attribute": "phone", "value": "+44 9"}]
    other = w.log(subject={"name": "Jane Doe", "emails": ["someone@example.org"]})
    steps(w, other)
    assert len(w.letters.contexts("recipient_notice")) == 1


def test_each_recipient_is_told_in_its_own_language_not_the_subject_s() -> None:
    carrier = RecipientContact(address="privacy@carrier.test", language="fr")
    adviser = RecipientContact(address="office@tax.test")  # the address alone: English
    w = notifying_world(**{"Parcel carrier": carrier, "Tax adviser": adviser})
    rid = w.log(type="deletion", language="de")
    assert steps(w, rid)[-1] is Status.CLOSED
    sent = {d["recipient"]: d["language"] for d in w.details(rid, "LetterSent") if d["kind"].startswith("recipient_notice.")}
    assert sent == {"Parcel carrier": "fr", "Tax adviser": "en"}
    assert {d["kind"]: d["language"] for d in w.details(rid, "LetterSent")}["deletion_response"] == "de"
    assert {m.to for m in w.mailer.sent.values()} >= {"privacy@carrier.test", "office@tax.test"}


# --- manual systems ---------------------------------------------------------------------------


def test_a_manual_system_waits_for_a_person_and_their_confirmation_finishes_execution(manual_world: World) -> None:
    w = manual_world
    rid = w.log()
    w.approve(rid)
    assert svc.execute_plan(w.ctx, rid) is Status.EXECUTING
    (step,) = svc.pending_manual_steps(w.ctx, rid)
    assert (step.system, step.title, step.operation) == ("paper-archive", "Paper archive", "export")
    assert "dsar request show" in svc.manual_step_form(w.ctx, rid, step)
    with pytest.raises(InvalidInput):
        svc.confirm_manual_step(w.ctx, rid, "paper-archive", "done", 2, "  ", None)
    assert svc.confirm_manual_step(w.ctx, rid, "paper-archive", "done", 2, "Sam Archivist", "two contracts") is Status.RESPONDING
    assert svc.confirm_manual_step(w.ctx, rid, "paper-archive", "done", 2, "Sam Archivist", None) is Status.RESPONDING
    assert svc.pending_manual_steps(w.ctx, rid) == []
    assert w.events(rid).count("ManualStepConfirmed") == 1
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    (context,) = w.letters.contexts("access_response")
    assert context["manual"] == [{"title": "Paper archive", "records": 2}]


def test_a_manual_step_that_cannot_be_done_holds_the_request(manual_world: World) -> None:
    w = manual_world
    rid = w.log()
    w.approve(rid)
    svc.execute_plan(w.ctx, rid)
    assert svc.confirm_manual_step(w.ctx, rid, "paper-archive", "cannot do it", 0, "Sam", "binder missing") is Status.EXECUTING
    assert w.details(rid, "HoldChanged")[-1]["reason"] == "paper-archive: the manual step could not be done"
    assert svc.confirm_manual_step(w.ctx, rid, "shop", "done", 1, "Sam", None) is Status.EXECUTING


def test_a_manual_system_that_keeps_its_records_needs_nobody_on_a_deletion() -> None:
    w = World([shop_data()], (shop_map(), archive_map(Retain(retain="contracts: 10 years"))), manual=("paper-archive",))
    rid = w.log(type="deletion")
    w.approve(rid)
    with w.uow() as uow:
        archive = uow.plans.get(rid)[0]
    assert archive == ManualStep("paper-archive", archive.operation, "contracts: 10 years")
    assert svc.execute_plan(w.ctx, rid) is Status.RESPONDING
    assert svc.pending_manual_steps(w.ctx, rid) == []


# --- connectors and reads -----------------------------------------------------------------------


def test_each_system_is_opened_when_used_and_closed_after_and_a_manual_one_never(manual_world: World) -> None:
    rid = manual_world.log()
    manual_world.approve(rid)
    svc.execute_plan(manual_world.ctx, rid)
    factory = manual_world.connectors
    assert factory.opened == factory.closed
    assert factory.opened["shop"] == 3  # the look-up in the system of record, planning, then the export
    assert "paper-archive" not in factory.opened


def test_a_system_failing_halfway_is_closed_and_the_re_run_does_what_is_left(world: World) -> None:
    rid = world.log(type="deletion")
    world.approve(rid)
    world.systems["shop"].failing.add("erase")
    with pytest.raises(RetryableConnectorError):
        svc.execute_plan(world.ctx, rid)
    assert world.connectors.opened == world.connectors.closed
    assert world.events(rid).count("SystemErased") == 0 and svc.status_of(world.ctx, rid) is Status.EXECUTING
    world.systems["shop"].failing.clear()
    assert svc.execute_plan(world.ctx, rid) is Status.RESPONDING
    assert world.events(rid).count("SystemErased") == 1


def test_each_task_reads_the_request_at_most_once_and_status_reads_open_no_personal_data(world: World) -> None:
    rid = world.log()
    ctx = world.ctx
    world.reads()
    assert svc.status_of(ctx, rid) is Status.RECEIVED and svc.reference_of(ctx, rid).startswith("DSR-")
    assert world.reads() == {"facts": 2}
    svc.start_verification(ctx, rid)
    assert world.reads() == {"get": 1, "facts": 2}  # opened once: the look-up and the letter
    svc.confirm_code(ctx, rid, "00000000")  # a wrong code is checked against its digest only
    assert world.reads() == {"facts": 1}
    svc.confirm_code(ctx, rid, world.letters.last_code())
    # verified: the address the code went to is opened once, to look for a duplicate by blind index
    assert world.reads() == {"facts": 1, "get": 1}
    svc.plan_request(ctx, rid)
    assert world.reads() == {"get": 1, "facts": 1}  # two units of work: before and after the connectors
    svc.plan_summary(ctx, rid)
    assert world.reads() == {"get": 1}
    typed = code(ctx, enrol(ctx))
    world.reads()
    svc.record_sign_off(ctx, rid, APPROVE, LEGAL, typed, via="test")
    assert world.reads() == {"facts": 1}
    svc.execute_plan(ctx, rid)
    assert world.reads() == {"get": 1, "facts": 1}
    svc.send_response(ctx, rid)
    assert world.reads() == {"get": 1}


def test_a_response_letter_for_categories_only_carries_no_attachment_and_no_package(world: World) -> None:
    rid = world.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories")
    assert steps(world, rid)[-1] is Status.CLOSED
    ref = svc.reference_of(world.ctx, rid)
    assert [x.mime_type for x in world.mailer.sent[f"{ref}.access_response@dsar"].attachments] == ["application/pdf"]
    (context,) = world.letters.contexts("access_response")
    assert context["package"] is None and context["record_count"] == 3
    with world.uow() as uow:
        assert uow.packages.for_request(rid) is None
    assert world.ctx.streams.keys("") == []  # nothing was spooled either


def test_a_request_without_an_email_is_answered_on_record_with_no_mail(world: World) -> None:
    rid = world.log(subject={"name": "Jane Doe", "phone": "+44 20 7946 0000"})
    with world.uow() as uow:
        recording.move(uow, uow.requests.facts(rid), Move.DENY, world.clock.now, "verified by phone: not the subject")
        uow.commit()
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    assert world.mailer.sent == {}
    assert world.details(rid, "LetterSent")[0]["channel"] == "none"


def test_a_code_is_spent_when_it_verifies_and_lasts_the_policy_s_hours(world: World) -> None:
    rid = world.log()
    world.clock.advance(days=1)
    svc.start_verification(world.ctx, rid)
    world.clock.advance(hours=71)
    code_given = world.letters.last_code()
    assert svc.confirm_code(world.ctx, rid, code_given) is svc.VerificationOutcome.VERIFIED
    with world.uow() as uow:
        case = uow.cases.get(rid)
    assert case is not None and case.code_digest is None and case.link_digest is None
    assert case.expires_at - case.created_at == timedelta(hours=72)


def test_uk_gdpr_stops_the_clock_while_the_subject_confirms_their_identity_and_gdpr_does_not(world: World) -> None:
    uk = world.log(regime="uk-gdpr", country="GB", subdivision="ENG")
    eu = world.log()
    with world.uow() as uow:
        due_uk, due_eu = uow.deadlines.get(uk).due, uow.deadlines.get(eu).due
    for rid in (uk, eu):
        svc.start_verification(world.ctx, rid)
    with world.uow() as uow:
        assert [p.answered_on for p in uow.deadlines.pauses(uk)] == [None]  # stopped when the link went
        assert uow.deadlines.pauses(eu) == []  # the EU text has no stop-the-clock
    world.clock.advance(days=2)
    for rid in (uk, eu):
        assert svc.confirm_code(world.ctx, rid, world.letters.contexts("verification_code")[0 if rid == uk else 1]["code"]) is (
            svc.VerificationOutcome.VERIFIED
        )
    with world.uow() as uow:
        (pause,) = uow.deadlines.pauses(uk)
        assert (pause.answered_on - pause.asked_on).days == 2
        # the two days do not count: the start moves by two, then the date rolls past the
        # weekend and Easter Monday (an English bank holiday) as the rule says
        assert (due_uk, uow.deadlines.get(uk).due) == (date(2026, 4, 2), date(2026, 4, 7))
        assert uow.deadlines.get(eu).due == due_eu
    paused = world.details(uk, "ClockPaused")
    restarted = world.details(uk, "ClockRestarted")
    assert [d["by"] for d in paused + restarted] == ["dsar", "dsar"]


def test_a_pause_support_opened_is_left_alone_by_the_verification(world: World) -> None:
    from dsar.services.deadlines import pause_clock

    rid = world.log(regime="uk-gdpr", country="GB", subdivision="ENG")
    pause_clock(world.ctx, rid, "asked which account they mean", by="Sam Support")
    svc.start_verification(world.ctx, rid)
    svc.confirm_code(world.ctx, rid, world.letters.last_code())
    with world.uow() as uow:
        assert [(p.reason, p.answered_on) for p in uow.deadlines.pauses(rid)] == [("asked which account they mean", None)]


def test_a_request_on_hold_is_not_closed_by_the_verification_sweep_until_it_is_released(world: World) -> None:
    from dsar.services.admin import hold_request, release_request
    from dsar.services.orchestration import sweep_verification

    rid = world.log()
    svc.start_verification(world.ctx, rid)
    hold_request(world.ctx, rid, "legal looks at a solicitor's letter")
    world.clock.advance(hours=world.ctx.policy.verification_code_ttl_hours + 1)
    assert sweep_verification(world.ctx, None).closed == []
    assert svc.status_of(world.ctx, rid) is Status.AWAITING_VERIFICATION
    release_request(world.ctx, rid, "legal decided: go on")
    assert len(sweep_verification(world.ctx, None).closed) == 1
    assert svc.status_of(world.ctx, rid) is Status.DENIED


def test_a_could_not_verify_letter_in_a_state_with_an_appeal_links_the_appeal_page_and_the_appeal_is_taken(world: World) -> None:
    from dataclasses import replace

    world.ctx = replace(world.ctx, policy=replace(world.ctx.policy, public_form_url="https://forms.example-shop.test"))
    rid = world.log(regime="vcdpa", country=None)
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, rid, "00000000")
    proceed_escalations(world.ctx, rid)  # every try used up: legal lets the refusal go
    assert svc.send_response(world.ctx, rid) is Status.DENIED
    (context,) = world.letters.contexts("could_not_verify")
    reference = context["request"]["reference"]
    assert context["appeal_url"] == f"https://forms.example-shop.test/?appeal_of={reference}&lang=en"
    # the page's appeal is accepted for this refusal, as for legal's denial
    appeal = log_request(
        world.ctx, {"type": "appeal", "regime": "vcdpa", "appeal_of": reference, "subject": {"name": "Jane Doe", "emails": [JANE]}}
    )
    assert appeal.request.type.value == "appeal"


def test_a_could_not_verify_letter_under_the_gdpr_links_no_appeal_page(world: World) -> None:
    from dataclasses import replace

    world.ctx = replace(world.ctx, policy=replace(world.ctx.policy, public_form_url="https://forms.example-shop.test"))
    rid = world.log()
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, rid, "00000000")
    proceed_escalations(world.ctx, rid)
    svc.send_response(world.ctx, rid)
    (context,) = world.letters.contexts("could_not_verify")
    assert context["appeal_url"] is None
