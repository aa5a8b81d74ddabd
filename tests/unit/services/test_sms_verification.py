"""Identity verification by text message (SMS): the channel the system of record allows (the
email on file wins; else a valid phone number on file, not disputed; else none), the E.164
number sealed with the case, the text's context (nothing personal), resends and reminders by
text, and hostile phone values in the record that are refused without a crash."""

from __future__ import annotations

from typing import Any

import pytest

from dsar.domain.request import Status
from dsar.services import identity
from dsar.services import processing as svc
from dsar.services.data_points import textable_number
from tests.unit.services.conftest import JANE, World, shop_data, shop_map

MAX = "+49 30 5550199"  # customer 3: a phone and no email on file


def sms_world(phone: Any = "030 5550199", country: str | None = "DE", **extra: Any) -> World:
    data = shop_data()
    row = {"key": "3", "email": None, "phone": phone, "account_id": "C-3"} | ({"country": country} if country else {}) | extra
    data.rows["customer"].append(row)
    return World([data], (shop_map(),))


def log_max(w: World, **overrides: Any) -> str:
    """Max gives his customer number (the shop finds him by it: he has no email on file) and a
    postal address to reply to."""
    subject = {"name": "Max Mustermann", "account_id": "C-3", "postal_address": "Hauptstr. 1, 10115 Berlin"}
    return w.log(subject=subject, **overrides)


def case_of(w: World, rid: str) -> Any:
    with w.uow() as uow:
        return uow.cases.get(rid)


def texts_to(w: World, number: str) -> list[str]:
    return [m.message_id for m in w.texts.sent.values() if m.to == number]


# --- the channel ------------------------------------------------------------------------------


def test_the_email_on_file_wins_over_a_phone_on_file() -> None:
    w = sms_world()
    rid = w.log()  # Jane: email and phone on file
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    assert case_of(w, rid).channel == "email" and w.texts.sent == {}
    assert [m.to for m in w.mailer.sent.values()] == [JANE]


def test_a_subject_with_only_a_phone_on_file_gets_the_link_and_code_by_text_and_verifies_with_the_code() -> None:
    w = sms_world()
    rid = log_max(w)
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    assert case_of(w, rid).channel == "sms" and w.mailer.sent == {}
    (message,) = w.texts.sent.values()
    assert message.to == "+49305550199"  # the national number on file, read in the record's country
    (context,) = w.letters.contexts("verification_sms")
    code = str(context["code"])
    assert code in message.body and str(context["link"]) in message.body
    (sent,) = w.details(rid, "VerificationLinkSent")
    assert sent["channel"] == "sms" and sent["template"] == "verification_sms/default.en.j2"
    (letter,) = w.details(rid, "LetterSent")
    assert letter["channel"] == "sms" and letter["kind"] == "verification_code" and letter["message_id"] == message.message_id
    assert "pdf_sha256" not in letter and w.letters.pdfs == 0  # a text has no PDF
    assert [d["how"] for d in w.details(rid, "ReceiptConfirmed")] == ["sms"]

    step = identity.use_code(w.ctx, rid, code)
    assert step.outcome is identity.StepOutcome.VERIFIED
    with w.uow() as uow:
        r = uow.requests.get(rid)
        keys = identity.verified_keys(w.ctx, uow, r)
    assert keys.phone == "030 5550199" and keys.account_id == "C-3" and keys.emails == ()  # searched as held


def test_the_text_s_context_names_nothing_personal() -> None:
    w = sms_world()
    rid = log_max(w)
    svc.start_verification(w.ctx, rid)
    (context,) = w.letters.contexts("verification_sms")
    assert set(context) == {"request", "code", "link", "code_page", "expires_at", "due", "organisation", "contact"}
    assert set(context["request"]) == {"reference", "type", "regime", "received"}
    (message,) = w.texts.sent.values()
    for personal in ("Max", "Mustermann", "5550199", "C-3"):
        assert personal not in message.body


@pytest.mark.parametrize(
    ("held", "record_country", "request_country", "e164"),
    [
        ("030 5550199", "DE", "FR", "+49305550199"),  # the record's country first
        ("030 5550199", None, "DE", "+49305550199"),  # else the request's
        ("06 12 34 56 78", "FR", "DE", "+33612345678"),
        ("0049 30 5550199", None, "FR", "+49305550199"),  # an international prefix needs no country
        ("+1 (415) 555-0102", "DE", "DE", "+14155550102"),
        ("(415) 867-5309", "US", "DE", "+14158675309"),
        ("(415) 867-5309", "us", "DE", "+14158675309"),
        ("06 12 34 56 78", "France", "FR", "+33612345678"),  # a country name is no region: the request's
    ],
)
def test_a_national_number_on_file_is_read_in_its_country_and_sealed_as_e164(
    held: str, record_country: str | None, request_country: str, e164: str
) -> None:
    w = sms_world(held, record_country)
    rid = log_max(w, country=request_country)
    svc.start_verification(w.ctx, rid)
    assert case_of(w, rid).channel == "sms"
    assert [m.to for m in w.texts.sent.values()] == [e164]
    with w.uow() as uow:
        on_file = identity._on_file(uow, case_of(w, rid))
    assert on_file is not None and on_file.sms == e164 and on_file.phone == held


def test_a_phone_that_is_no_valid_number_gets_no_channel_and_nothing_is_sent() -> None:
    w = sms_world("12345")
    rid = log_max(w)
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    case = case_of(w, rid)
    assert case.known and case.channel == "none" and w.texts.sent == {} and w.mailer.sent == {}


def test_a_request_correcting_the_phone_is_not_verified_through_that_phone() -> None:
    # 11 CCR 7060(e): not through the data disputed
    w = sms_world()
    rid = log_max(w, type="correction", corrections=[{"attribute": "phone", "value": "+49 30 5550100"}])
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    assert case_of(w, rid).channel == "none" and w.texts.sent == {}


@pytest.mark.parametrize(
    "hostile",
    [
        "+49 30 555\x00 0199",
        "+49 30 5550199\r\nBcc: x",
        "030 5550199\u202e",
        "CALL-ME-NOW",
        "1-800-FLOWERS",
        "+49 30 5550199 ext. 12",
        "＋４９ ３０ ５５５０１９９",  # fullwidth digits
        "9" * 5000,
        "",
        "   ",
        12,
        None,
    ],
)
def test_a_hostile_phone_value_on_file_is_refused_as_a_channel_and_nothing_crashes(hostile: Any) -> None:
    w = sms_world(hostile)
    rid = log_max(w)
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    case = case_of(w, rid)
    assert case.channel == "none" and w.texts.sent == {}
    assert textable_number(hostile if isinstance(hostile, str) else None, "DE") is None


# --- resend and reminders ---------------------------------------------------------------------


def test_a_resend_texts_a_new_code_and_the_earlier_one_stops_working() -> None:
    w = sms_world()
    rid = log_max(w)
    svc.start_verification(w.ctx, rid)
    first = str(w.letters.contexts("verification_sms")[-1]["code"])
    assert identity.resend(w.ctx, rid) is True
    second = str(w.letters.contexts("verification_sms")[-1]["code"])
    assert len(texts_to(w, "+49305550199")) == 2 and first != second
    assert [d["send"] for d in w.details(rid, "VerificationLinkSent")] == [1, 2]
    assert identity.use_code(w.ctx, rid, first).outcome is identity.StepOutcome.WRONG
    assert identity.use_code(w.ctx, rid, second).outcome is identity.StepOutcome.VERIFIED


def test_both_reminders_go_by_text_once_each_without_a_code() -> None:
    w = sms_world()
    rid = log_max(w)
    svc.start_verification(w.ctx, rid)
    code = str(w.letters.contexts("verification_sms")[-1]["code"])
    assert identity.remind(w.ctx, rid) is False  # nothing due yet
    w.clock.advance(hours=25)
    assert identity.remind(w.ctx, rid) is True
    assert identity.remind(w.ctx, rid) is False  # each once
    w.clock.advance(hours=24)
    assert identity.remind(w.ctx, rid) is True
    reminders = w.letters.contexts("verification_sms_reminder")
    assert len(reminders) == 2 and all("code" not in c and "link" not in c for c in reminders)
    bodies = [m.body for m in w.texts.sent.values() if ".verification_reminder" in m.message_id]
    assert len(bodies) == 2 and not any(code in b for b in bodies) and len(texts_to(w, "+49305550199")) == 3
    sent = w.details(rid, "LetterSent")
    assert [(d["kind"], d["channel"]) for d in sent] == [
        ("verification_code", "sms"),
        ("verification_reminder", "sms"),
        ("verification_reminder.2", "sms"),
    ]
    with w.uow() as uow:
        recorded = uow.letters.get(rid, "verification_reminder")
    assert recorded is not None and recorded.template == "verification_sms_reminder/default.en.j2"


def test_the_text_goes_in_the_request_s_language_and_never_unapproved() -> None:
    w = sms_world()
    w2 = World([w.systems["shop"]], (shop_map(),), approve=False)
    w2.approve_letters(languages=("en",))  # German not approved
    rid = log_max(w2, language="de")
    svc.start_verification(w2.ctx, rid)
    assert w2.texts.sent == {}
    with w2.uow() as uow:
        r = uow.requests.facts(rid)
    assert r.on_hold  # held with the reason, like an unapproved letter
    held = w2.details(rid, "HoldChanged")[-1]
    assert "verification_sms/default.de.j2 (never approved)" in str(held["reason"])
    w2.approve_letters()
    with w2.uow() as uow:
        from dsar.services import recording

        recording.hold(uow, uow.requests.facts(rid), False, w2.clock(), "approved")
        uow.commit()
    svc.start_verification(w2.ctx, rid)
    (message,) = w2.texts.sent.values()
    assert w2.letters.rendered[-1][0] == "verification_sms" and message.to == "+49305550199"
    (sent,) = w2.details(rid, "VerificationLinkSent")
    assert sent["template"] == "verification_sms/default.de.j2"


def test_a_re_run_after_the_text_went_sends_nothing_twice() -> None:
    w = sms_world()
    rid = log_max(w)
    svc.start_verification(w.ctx, rid)
    svc.start_verification(w.ctx, rid)
    identity._send(w.ctx, rid, 1)
    assert len(w.texts.sent) == 1 and len(w.details(rid, "VerificationLinkSent")) == 1


def test_a_subject_not_found_gets_nothing_whatever_phone_is_typed() -> None:
    w = sms_world()
    rid = w.log(subject={"name": "Eve", "phone": "+49 30 5550199"})  # typed, in another form than on file
    svc.start_verification(w.ctx, rid)
    assert case_of(w, rid).known is False and w.texts.sent == {}


def test_expiry_closes_an_sms_case_like_an_email_one() -> None:
    w = sms_world()
    rid = log_max(w)
    svc.start_verification(w.ctx, rid)
    w.clock.advance(hours=73)
    _, expired = identity.expiring(w.ctx)
    assert expired == [rid] and identity.expire(w.ctx, rid) is True
    # refused as unverifiable: the request ended, so its verification data went with it
    assert case_of(w, rid).state.value == "closed" and svc.status_of(w.ctx, rid).value == "denied"
