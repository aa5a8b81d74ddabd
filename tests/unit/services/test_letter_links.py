"""Letters for a subject reached by text message only (issue 17): no email on file, a phone a
text can go to. The letter is rendered, approved and kept sealed as every letter; a text
carries its link; the link's page texts a fresh one-time code to the number on file and opens
the letter's PDF with it. Forged, expired and guessed links and codes are refused and recorded;
the access package's download code goes by text too."""

from __future__ import annotations

import re

from dsar.domain.letter_links import CHANNEL, LINK_DAYS, WRONG_CODES, CodeProblem, LinkProblem
from dsar.domain.request import Status
from dsar.services import identity, letter_links, package
from dsar.services import processing as svc
from tests.signoff import approve
from tests.unit.services.conftest import World
from tests.unit.services.test_sms_verification import log_max, sms_world

NUMBER = "+49305550199"


def answered(w: World) -> str:
    """Max (a phone and no email on file) asks for his data; the request is answered."""
    rid = log_max(w)
    assert svc.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION
    code = str(w.letters.contexts("verification_sms")[-1]["code"])
    assert identity.use_code(w.ctx, rid, code).outcome is identity.StepOutcome.VERIFIED
    assert svc.plan_request(w.ctx, rid) is Status.AWAITING_SIGN_OFF
    approve(w.ctx, rid)
    assert svc.execute_plan(w.ctx, rid) is Status.RESPONDING
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    return rid


def token_in(body: str) -> str:
    found = re.search(r"/letter\?lang=[a-z]{2}#(\S+)", body)
    assert found is not None, body
    return found.group(1)


def last_code(w: World) -> str:
    return str(w.letters.contexts("letter_sms_code")[-1]["code"])


def test_the_answer_reaches_a_subject_with_only_a_phone_through_a_link_and_a_code() -> None:
    w = sms_world()
    rid = answered(w)
    ref = svc.reference_of(w.ctx, rid)
    assert not [m for m in w.mailer.sent if "access_response" in m]  # no email on file: nothing mailed
    (sent,) = [d for d in w.details(rid, "LetterSent") if d["kind"] == "access_response"]
    assert sent["channel"] == CHANNEL
    (text,) = [m for m in w.texts.sent.values() if m.message_id == f"{ref}.access_response.sms-link@dsar"]
    assert text.to == NUMBER and "Max" not in text.body and ref in text.body
    token = token_in(text.body)
    assert token.startswith(f"{ref}.access_response.")

    assert letter_links.open_letter(w.ctx, token, "123456") is CodeProblem.NONE_SENT
    assert letter_links.send_code(w.ctx, token) is None
    code = last_code(w)
    (code_text,) = [m for m in w.texts.sent.values() if m.message_id == f"{ref}.access_response.sms-code-1@dsar"]
    assert code_text.to == NUMBER and code in code_text.body
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert letter_links.open_letter(w.ctx, token, wrong) is CodeProblem.WRONG
    opened = letter_links.open_letter(w.ctx, token, code)
    assert isinstance(opened, letter_links.LetterFile)
    assert opened.content == b"%PDF-fake access_response/default.en.j2" and opened.filename == f"{ref}-access-response.pdf"
    assert letter_links.open_letter(w.ctx, token, code) is CodeProblem.NONE_SENT  # each opening spends its code

    kinds = w.events(rid)
    assert kinds.count("LetterLinkCodeSent") == 1 and kinds.count("LetterLinkRefused") == 3 and kinds.count("LetterLinkOpened") == 1
    (recorded,) = w.details(rid, "LetterLinkCodeSent")
    assert code not in str(recorded) and len(recorded["digest"]) == 64  # a keyed digest, never the code


def test_forged_guessed_and_expired_links_and_too_many_wrong_codes_are_refused() -> None:
    w = sms_world()
    rid = answered(w)
    token = token_in(next(m.body for m in w.texts.sent.values() if m.message_id.endswith("access_response.sms-link@dsar")))
    ref, kind, mac = token.split(".")
    forged = f"{ref}.{kind}.{mac[:-1]}{'a' if mac[-1] != 'a' else 'b'}"
    for bad in (forged, f"{ref}.deletion_response.{mac}", "DSR-2026-999999.access_response." + mac, "nonsense", "", "a.b.c.d", "x" * 300):
        assert letter_links.send_code(w.ctx, bad) is LinkProblem.UNKNOWN, bad
    assert "LetterLinkCodeSent" not in w.events(rid)

    assert letter_links.send_code(w.ctx, token) is None
    code = last_code(w)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [letter_links.open_letter(w.ctx, token, wrong) for _ in range(WRONG_CODES + 1)]
    assert answers == [CodeProblem.WRONG] * (WRONG_CODES - 1) + [CodeProblem.TOO_MANY, CodeProblem.TOO_MANY]
    assert letter_links.open_letter(w.ctx, token, code) is CodeProblem.TOO_MANY  # that code is spent: ask for a new one
    assert letter_links.send_code(w.ctx, token) is None
    assert isinstance(letter_links.open_letter(w.ctx, token, last_code(w)), letter_links.LetterFile)

    assert letter_links.send_code(w.ctx, token) is None
    w.clock.advance(minutes=16)
    assert letter_links.open_letter(w.ctx, token, last_code(w)) is CodeProblem.EXPIRED
    w.clock.advance(days=LINK_DAYS)
    assert letter_links.send_code(w.ctx, token) is LinkProblem.EXPIRED


def test_the_access_package_s_download_code_goes_by_text_to_the_number_on_file() -> None:
    w = sms_world()
    rid = answered(w)
    with w.uow() as uow:
        p = uow.packages.for_request(rid)
    assert p is not None
    assert package.send_code(w.ctx, package.link_token(w.ctx, p.id)) is None
    ref = svc.reference_of(w.ctx, rid)
    (text,) = [m for m in w.texts.sent.values() if "package-code" in m.message_id]
    assert text.to == NUMBER and ref in text.body and not [m for m in w.mailer.sent if "package-code" in m]
    code = last_code(w)
    assert code in text.body
    assert isinstance(package.open_download(w.ctx, package.link_token(w.ctx, p.id), code), package.Download)


def test_a_subject_with_an_email_on_file_is_written_to_by_email_as_before() -> None:
    w = sms_world()
    rid = w.log()  # Jane: email and phone on file
    w.verify(rid)
    svc.plan_request(w.ctx, rid)
    approve(w.ctx, rid)
    svc.execute_plan(w.ctx, rid)
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    (sent,) = [d for d in w.details(rid, "LetterSent") if d["kind"] == "access_response"]
    assert sent["channel"] == "email" and not [m for m in w.texts.sent.values() if "sms-link" in m.message_id]


def link_texts(w: World, ref: str) -> list[str]:
    return [m.message_id for m in w.texts.sent.values() if ".sms-link" in m.message_id and m.message_id.startswith(ref)]


def test_a_link_that_stopped_working_is_texted_again_to_the_number_on_file_and_works_again() -> None:
    from dsar.domain.letter_links import CODES_PER_LETTER, RENEWALS_PER_LETTER

    w = sms_world()
    rid = answered(w)
    ref = svc.reference_of(w.ctx, rid)
    token = token_in(next(m.body for m in w.texts.sent.values() if m.message_id.endswith("access_response.sms-link@dsar")))
    ref_, kind, mac = token.split(".")
    forged = f"{ref_}.{kind}.{mac[:-1]}{'a' if mac[-1] != 'a' else 'b'}"

    assert letter_links.renew_link(w.ctx, token) is False  # it still works: nothing to renew
    assert letter_links.send_code(w.ctx, token) is None
    before = last_code(w)
    w.clock.advance(days=LINK_DAYS + 1)
    assert letter_links.send_code(w.ctx, token) is LinkProblem.EXPIRED
    for bad in (forged, "nonsense", ""):
        assert letter_links.renew_link(w.ctx, bad) is False
    assert link_texts(w, ref) == [f"{ref}.access_response.sms-link@dsar"]

    assert letter_links.renew_link(w.ctx, token) is True
    (again,) = [m for m in w.texts.sent.values() if m.message_id == f"{ref}.access_response.sms-link-2@dsar"]
    assert again.to == NUMBER and token_in(again.body) == token and "Max" not in again.body  # the same link, to the number on file
    (renewed,) = w.details(rid, "LetterLinkRenewed")
    assert renewed["letter"] == "access_response" and renewed["number"] == 1
    assert letter_links.renew_link(w.ctx, token) is False  # working again: nothing more to renew
    assert letter_links.open_letter(w.ctx, token, before) is CodeProblem.NONE_SENT  # a code from before stops working
    assert letter_links.send_code(w.ctx, token) is None
    assert isinstance(letter_links.open_letter(w.ctx, token, last_code(w)), letter_links.LetterFile)

    # out of codes: renewed too, with a fresh count (the codes' numbering goes on)
    for _ in range(CODES_PER_LETTER - 1):
        assert letter_links.send_code(w.ctx, token) is None
    assert letter_links.send_code(w.ctx, token) is LinkProblem.TOO_MANY_CODES
    assert letter_links.renew_link(w.ctx, token) is True
    assert letter_links.send_code(w.ctx, token) is None
    assert f"{ref}.access_response.sms-code-{CODES_PER_LETTER + 1}@dsar" in {m.message_id for m in w.texts.sent.values()}

    # at most RENEWALS_PER_LETTER renewals; then the page's help (write to the privacy team)
    for n in range(3, RENEWALS_PER_LETTER + 1):
        w.clock.advance(days=LINK_DAYS + 1)
        assert letter_links.renew_link(w.ctx, token) is True, n
    w.clock.advance(days=LINK_DAYS + 1)
    assert letter_links.renew_link(w.ctx, token) is False
    assert letter_links.send_code(w.ctx, token) is LinkProblem.EXPIRED
    assert w.events(rid).count("LetterLinkRenewed") == RENEWALS_PER_LETTER
    assert len(link_texts(w, ref)) == RENEWALS_PER_LETTER + 1
