"""The first vertical slice through the services, without Prefect: the flow's tasks in order."""

from __future__ import annotations

import dataclasses
import json
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dsar.app import App
from dsar.demo.run import latest_code
from dsar.domain.request import Status
from dsar.services import escalations
from dsar.services import processing as svc
from dsar.services.intake import log_request
from tests.packages import download
from tests.signoff import approve, approve_letter, proceed_escalations


def outbox(app: App) -> Path:
    return app.settings.effective_outbox_dir


def run_everything_once(app: App, request_id: str, reference: str) -> None:
    ctx = app.ctx
    svc.start_verification(ctx, request_id)
    code = latest_code(outbox(app), reference)
    assert code is not None
    svc.confirm_code(ctx, request_id, code)
    svc.plan_request(ctx, request_id)
    approve(ctx, request_id)
    svc.execute_plan(ctx, request_id)
    svc.send_response(ctx, request_id)


def audit_count(app: App) -> int:
    with app.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def read_mail(path: Path) -> Any:
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def flat(text: str) -> str:
    """A letter's text as one line: the body is reflowed to 72 columns."""
    return " ".join(text.split())


def test_an_access_request_for_a_customer_runs_to_a_closing_letter_with_a_package_link(engine_app: App) -> None:
    r = log_request(
        engine_app.ctx,
        {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}},
    ).request
    run_everything_once(engine_app, r.id, r.reference)
    assert svc.status_of(engine_app.ctx, r.id) is Status.CLOSED
    letter = read_mail(outbox(engine_app) / f"{r.reference}.access_response_dsar.eml")
    assert letter["To"] == "jane.doe@example.com"
    body = flat(letter.get_body(preferencelist=("plain",)).get_content())
    assert "supervisory authority" in body and "We use this data for: Running your customer account" in body
    assert "postal address" in body and "postal_address" not in body  # categories in words (issue 13, item 11)
    # the letter's own PDF and HTML part; the data is behind the link, never attached
    assert [a.get_content_type() for a in letter.iter_attachments()] == ["application/pdf"]
    assert letter.get_body(preferencelist=("html",)) is not None
    files = download(engine_app.ctx, outbox(engine_app), r.reference)
    root = f"{r.reference}-your-data/shop"
    items = {e: json.loads(files[f"{root}/{e}.json"])["items"] for e in ("customer", "orders", "order_line", "address")}
    records = [rec for recs in items.values() for rec in recs]
    assert [c["email"] for c in items["customer"]] == ["jane.doe@example.com"] and items["orders"]
    assert files[f"{root}/customer.csv"].decode("utf-8-sig").startswith("key,")
    with engine_app.ctx.uow() as uow:
        kinds = [e.kind for e in uow.audit.events(r.id)]
        receipts = uow.plans.receipts(r.id)
    assert kinds.count("StatusChanged") == 7
    assert {"VerificationLinkSent", "PlanMade", "SignOffRecorded", "SystemExported", "LetterSent"} <= set(kinds)
    assert [(x.system, x.records) for x in receipts] == [("shop", len(records))]


def test_running_every_step_again_repeats_nothing(sqlite_app: App) -> None:
    r = log_request(
        sqlite_app.ctx,
        {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}},
    ).request
    run_everything_once(sqlite_app, r.id, r.reference)
    events, mails = audit_count(sqlite_app), sorted(p.name for p in outbox(sqlite_app).iterdir())
    run_everything_once(sqlite_app, r.id, r.reference)
    assert audit_count(sqlite_app) == events
    assert sorted(p.name for p in outbox(sqlite_app).iterdir()) == mails


def test_exports_at_rest_are_encrypted(sqlite_app: App) -> None:
    r = log_request(
        sqlite_app.ctx,
        {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}},
    ).request
    run_everything_once(sqlite_app, r.id, r.reference)
    stored = list(sqlite_app.settings.effective_object_store_dir.rglob("*.enc"))
    assert stored
    for f in stored:
        assert b"jane" not in f.read_bytes().lower()


def test_a_stranger_not_on_file_is_sent_nothing_and_nothing_is_searched(sqlite_app: App) -> None:
    ctx = sqlite_app.ctx
    r = log_request(
        ctx,
        {"type": "access", "regime": "uk-gdpr", "subdivision": "ENG", "subject": {"name": "Robin Nobody", "emails": ["robin@example.org"]}},
    ).request
    assert svc.start_verification(ctx, r.id) is Status.AWAITING_VERIFICATION
    assert list(outbox(sqlite_app).glob(f"{r.reference}.*")) == []
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_VERIFICATION


def test_wrong_codes_are_counted_and_the_last_allowed_one_denies_the_request(sqlite_app: App) -> None:
    ctx = sqlite_app.ctx
    r = log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    outcomes = [svc.confirm_code(ctx, r.id, "00000000") for _ in range(ctx.policy.verification_max_attempts)]
    assert outcomes[:-1] == [svc.VerificationOutcome.WRONG_CODE] * (ctx.policy.verification_max_attempts - 1)
    assert outcomes[-1] is svc.VerificationOutcome.EXHAUSTED
    assert svc.status_of(ctx, r.id) is Status.DENIED
    # The real code no longer works either.
    code = latest_code(outbox(sqlite_app), r.reference)
    assert code is not None and svc.confirm_code(ctx, r.id, code) is svc.VerificationOutcome.NOT_WAITING
    # every try used up: a verification risk flag; the refusal waits for legal's decision on it
    assert svc.send_response(ctx, r.id) is Status.DENIED and not list(outbox(sqlite_app).glob("*could_not_verify*"))
    assert proceed_escalations(ctx, r.id) == [1]
    assert svc.send_response(ctx, r.id) is Status.DENIED  # then legal approves the letter (DSAR_LETTER_SIGN_OFF)
    approve_letter(ctx, r.id)
    assert svc.send_response(ctx, r.id) is Status.DENIED
    # the engine's own refusal: the could-not-verify letter (legal's denial letter is for legal's denials)
    body = flat(
        read_mail(outbox(sqlite_app) / f"{r.reference}.could_not_verify_dsar.eml").get_body(preferencelist=("plain",)).get_content()
    )
    assert "we could not confirm that it came from you" in body and "We have not disclosed, deleted or changed any personal data" in body
    assert not (outbox(sqlite_app) / f"{r.reference}.denial_dsar.eml").exists()


def test_only_the_contact_on_file_is_written_to_and_searched(sqlite_app: App) -> None:
    # An impostor lists their own address first and the victim's second: the link goes only to
    # the victim's address on file, and every later letter too (docs/threats.md, scenarios 1, 2).
    ctx = sqlite_app.ctx
    r = log_request(
        ctx,
        {
            "type": "access",
            "regime": "gdpr",
            "country": "DE",
            "subject": {"name": "Jane Doe", "emails": ["impostor@example.net", "jane.doe@example.com"]},
        },
    ).request
    run_everything_once(sqlite_app, r.id, r.reference)  # the victim follows their own link
    for path in outbox(sqlite_app).glob(f"{r.reference}.*.eml"):
        assert read_mail(path)["To"] == "jane.doe@example.com"
    assert "impostor@example.net" not in "".join(p.read_text() for p in outbox(sqlite_app).glob("*.eml"))


def test_a_deletion_request_erases_per_the_data_map_after_sign_off_and_says_what_was_kept(engine_app: App) -> None:
    import sqlite3

    ctx = engine_app.ctx
    r = log_request(
        ctx, {"type": "deletion", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    code = latest_code(outbox(engine_app), r.reference)
    assert code is not None
    svc.confirm_code(ctx, r.id, code)
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    summary = svc.plan_summary(ctx, r.id)
    assert "customer: anonymise 1" in summary and "orders: retain 3" in summary and "German Commercial Code" in summary
    assert "jane" not in summary.lower()
    approve(ctx, r.id)
    assert svc.execute_plan(ctx, r.id) is Status.RESPONDING
    assert svc.send_response(ctx, r.id) is Status.RESPONDING  # a deletion's letter waits for legal (DSAR_LETTER_SIGN_OFF)
    approve_letter(ctx, r.id)
    assert svc.send_response(ctx, r.id) is Status.CLOSED

    with sqlite3.connect(engine_app.settings.demo_shop_path) as db:
        email, name, phone = db.execute("SELECT email, name, phone FROM customer WHERE id = 1").fetchone()
        street = db.execute("SELECT street FROM address WHERE id = 1").fetchone()[0]
        orders = db.execute("SELECT count(*) FROM orders WHERE customer_id = 1").fetchone()[0]
        other = db.execute("SELECT email FROM customer WHERE id = 2").fetchone()[0]
    assert email.startswith("pseu_") and name == "Deleted customer" and phone is None and street is None
    assert orders == 3  # kept under the stated retention duty
    assert other == "ana.silva@example.com"  # nobody else was touched

    with ctx.uow() as uow:
        (receipt,) = uow.plans.receipts(r.id)
        erased = next(e for e in uow.audit.events(r.id) if e.kind == "SystemErased")
    assert (receipt.system, receipt.operation) == ("shop", "erase")
    assert erased.details["counts"]["customer"] == {"anonymise": 1}
    assert erased.details["counts"]["orders"] == {"retain": 3}
    letter = read_mail(outbox(engine_app) / f"{r.reference}.deletion_response_dsar.eml")
    body = flat(letter.get_body(preferencelist=("plain",)).get_content())
    assert "anonymised" in body and "kept, because the law requires it" in body and "supervisory authority" in body
    # entities in words, never table names (issue 13, item 11); no invitation to erase again
    assert "your orders" in body and "order_line" not in body and "erase your data" not in body

    # a repeat of the same deletion within 24 hours is a request of its own until it is verified
    # with the same address: then it is linked to the first and ends, not run again
    again = log_request(
        ctx,
        {"type": "deletion", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}},
    ).request
    assert again.id != r.id
    # the erased customer is no longer on file: nothing is sent, nothing is searched or erased
    assert svc.start_verification(ctx, again.id) is Status.AWAITING_VERIFICATION
    assert latest_code(outbox(engine_app), again.reference) is None
    assert svc.plan_request(ctx, again.id) is Status.AWAITING_VERIFICATION
    assert not (outbox(engine_app) / f"{again.reference}.deletion_response_dsar.eml").exists()


def test_an_entity_without_an_erasure_rule_holds_the_deletion_for_a_person(sqlite_app: App, tmp_path: Path) -> None:
    import dataclasses

    from dsar.connectors.registry import DataMapConnectorFactory

    shop = sqlite_app.ctx.data_map[0]
    no_rule = shop.model_copy(
        update={"entities": {**shop.entities, "address": shop.entities["address"].model_copy(update={"erase": None})}}
    )
    factory = DataMapConnectorFactory([no_rule], sqlite_app.settings.connection_secrets())
    ctx = dataclasses.replace(sqlite_app.ctx, connectors=factory, data_map=(no_rule,))
    r = log_request(
        ctx, {"type": "deletion", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    code = latest_code(outbox(sqlite_app), r.reference)
    assert code is not None
    svc.confirm_code(ctx, r.id, code)
    assert svc.plan_request(ctx, r.id) is Status.PLANNING
    with ctx.uow() as uow:
        assert uow.requests.get(r.id).on_hold
        assert "no erasure rule" in uow.audit.events(r.id)[-1].details["reason"]


def _verified(app: App, raw: dict[str, Any], *, logged_before_the_map: bool = False) -> Any:
    ctx = app.ctx
    # Intake refuses an attribute no system can correct; one logged while the data map was
    # still empty (intake then refuses nothing) reaches the plan, which says so.
    r = log_request(dataclasses.replace(ctx, data_map=()) if logged_before_the_map else ctx, raw).request
    svc.start_verification(ctx, r.id)
    code = latest_code(outbox(app), r.reference)
    assert code is not None
    svc.confirm_code(ctx, r.id, code)
    return r


CORRECTION = {
    "type": "correction",
    "regime": "gdpr",
    "country": "DE",
    "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]},
    "corrections": [
        {"attribute": "phone", "value": "+49 30 5550999"},
        {"attribute": "city", "value": "Lyon"},
        {"attribute": "loyalty_tier", "value": "gold"},
    ],
}
CORRECTION_MAPPED = {**CORRECTION, "corrections": CORRECTION["corrections"][:2]}


def test_a_correction_request_changes_exactly_the_approved_fields_and_says_where(engine_app: App) -> None:
    import sqlite3

    ctx = engine_app.ctx
    r = _verified(engine_app, CORRECTION, logged_before_the_map=True)
    # correcting the phone on file: a verification risk flag holds it for legal before planning
    assert svc.plan_request(ctx, r.id) is Status.VERIFIED
    (x,) = escalations.escalations(ctx, r.id)
    assert x.reason == "contact_correction: corrects the phone on file (1 of 2 contact(s) on file)" and x.held
    assert proceed_escalations(ctx, r.id) == [1]
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    summary = svc.plan_summary(ctx, r.id)
    assert "customer.phone: set phone in 1" in summary and "address.city: set city in 1" in summary
    assert "`loyalty_tier` (held in no mapped system)" in summary
    # The carrier has an address in the data map: dsar mails it the Art. 19 notice itself.
    assert "dsar mails these recipients a notice of the change: Parcel carrier (delivery name and address)" in summary
    assert "tell these recipients of the change (no address in the data map): Tax adviser (invoices)" in summary
    assert "5550999" not in summary and "Lyon" not in summary  # Prefect shows this text: no values
    approve(ctx, r.id)
    assert svc.execute_plan(ctx, r.id) is Status.RESPONDING
    assert svc.send_response(ctx, r.id) is Status.CLOSED

    with sqlite3.connect(engine_app.settings.demo_shop_path) as db:
        phone, name = db.execute("SELECT phone, name FROM customer WHERE id = 1").fetchone()
        city = db.execute("SELECT city FROM address WHERE id = 1").fetchone()[0]
        other = db.execute("SELECT phone FROM customer WHERE id = 2").fetchone()[0]
    assert (phone, city, name) == ("+49 30 5550999", "Lyon", "Jane Doe")
    assert other != "+49 30 5550999"

    with ctx.uow() as uow:
        (receipt,) = uow.plans.receipts(r.id)
        corrected = next(e for e in uow.audit.events(r.id) if e.kind == "SystemCorrected")
        stored = uow.requests.get(r.id).corrections
    assert (receipt.system, receipt.operation, receipt.records) == ("shop", "correct", 2)
    assert corrected.details["counts"] == {"customer": {"phone": 1}, "address": {"city": 1}}
    assert all(c["old"].startswith("hmac-sha256:") for c in corrected.details["changes"])
    assert "Lyon" not in json.dumps(corrected.details) and "5550" not in json.dumps(corrected.details)
    assert [c.attribute for c in stored] == ["phone", "city", "loyalty_tier"]
    with engine_app.engine.connect() as c:
        raw = c.execute(text("SELECT corrections_enc FROM privacy_request WHERE id = :i"), {"i": r.id}).scalar_one()
    assert b"Lyon" not in bytes(raw)  # encrypted at rest

    body = flat(
        read_mail(outbox(engine_app) / f"{r.reference}.correction_response_dsar.eml").get_body(preferencelist=("plain",)).get_content()
    )
    assert "phone number: corrected in Online shop" in body and "city: corrected in Online shop" in body
    assert "loyalty tier: we do not hold it" in body
    assert "We share data of these kinds with: Parcel carrier" in body  # Art. 19: who the recipients are
    # Art. 19: dsar mailed the two recipients with an address, and the letter says so of them only.
    told = (
        "We have told those who received your data from us to correct it too: "
        "Parcel carrier (delivery name and address); Payment processor (card payments)."
    )
    assert told in body and "Tax adviser" not in body.split("We have told")[1]
    notices = {read_mail(p)["To"]: read_mail(p) for p in outbox(engine_app).glob(f"{r.reference}.recipient_notice.*.eml")}
    assert set(notices) == {"dataprotection@parcel-carrier.test", "privacy@payments.example-shop.test"}
    # each in the language the data map gives for it (the carrier's German), else English
    carrier = flat(notices["dataprotection@parcel-carrier.test"].get_body(preferencelist=("plain",)).get_content())
    assert notices["dataprotection@parcel-carrier.test"]["Subject"].startswith("Berichtigung ")
    assert "Paketdienst (Name und Lieferanschrift)" in carrier
    assert notices["privacy@payments.example-shop.test"]["Subject"].startswith("Correction ")
    assert "Lyon" not in body and "5550999" not in body


def test_correction_input_is_checked_and_a_different_correction_is_not_swallowed(sqlite_app: App) -> None:
    import pytest

    from dsar.domain.errors import InvalidInput

    ctx = sqlite_app.ctx
    bad = [
        {**CORRECTION, "corrections": []},
        {**CORRECTION, "corrections": [{"attribute": "Phone Number", "value": "1"}]},
        {**CORRECTION, "corrections": [{"attribute": "phone", "value": "a\x00b"}]},
        {**CORRECTION, "corrections": [{"attribute": "phone", "value": "1"}, {"attribute": "phone", "value": "2"}]},
        {**CORRECTION, "type": "access", "access_scope": None},
    ]
    for raw in bad:
        with pytest.raises(InvalidInput) as err:
            log_request(ctx, raw)
        assert "a\x00b" not in str(err.value.problems)
    with pytest.raises(InvalidInput, match="loyalty_tier"):
        log_request(ctx, CORRECTION)  # held in no mapped system: refused at intake
    first = _verified(sqlite_app, CORRECTION_MAPPED)
    other = _verified(sqlite_app, {**CORRECTION_MAPPED, "corrections": [{"attribute": "name", "value": "Jane Smith"}]})
    assert svc.status_of(ctx, other.id) is Status.VERIFIED  # asks for something else: not a duplicate
    same = _verified(sqlite_app, CORRECTION_MAPPED)  # the same correction again, verified with the same address
    assert same.id != first.id and svc.status_of(ctx, same.id) is Status.WITHDRAWN
    with ctx.uow() as uow:
        assert uow.requests.facts(same.id).linked_to == first.id and uow.requests.facts(other.id).linked_to is None


def test_a_correction_of_the_email_mails_nothing_and_texts_the_link_to_the_phone_on_file(sqlite_app: App) -> None:
    ctx = sqlite_app.ctx
    raw = {**CORRECTION, "corrections": [{"attribute": "email", "value": "jane@new.example"}]}
    r = log_request(dataclasses.replace(ctx, data_map=()), raw).request
    assert svc.start_verification(ctx, r.id) is Status.AWAITING_VERIFICATION
    assert list(outbox(sqlite_app).glob(f"{r.reference}.*")) == []  # neither to the old address nor to the new one
    (text,) = (outbox(sqlite_app) / "sms").glob(f"{r.reference}.*")  # the phone on file is not disputed
    assert text.read_text().startswith("To: +49305550101\n")
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_VERIFICATION


def test_the_demo_file_store_works_under_a_home_with_spaces_and_accents(tmp_path: Path) -> None:
    from dsar.connectors.base import SubjectKeys
    from dsar.connectors.datamap import load_system_map
    from dsar.connectors.registry import connector_for
    from dsar.demo.files import seed_files
    from tests.conftest import ROOT, make_settings

    settings = make_settings(tmp_path / "Dossier partagé" / "dsar home")
    seed_files(settings.demo_files_dir)
    c = connector_for(load_system_map(ROOT / "connectors" / "files.yaml"), settings.connection_secrets(), b"k")
    assert c.check().ok
    found = c.locate(SubjectKeys(emails=("jane.doe@example.com",)))
    assert {m.entity for m in found.matches} == {"uploads", "newsletter"}
