"""Verification by text message through the real web app: a shop (SQLite, the system of record)
whose customer has a phone and no email on file. The link and code go to the SMS outbox
(OUTBOX_DIR/sms, the default text transport); the code from that file verifies the request on
the code page, the link on its landing page; a new link is texted from /verify/resend; the
request's evidence bundle still verifies (a text has no PDF)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dsar.app import build_signer
from dsar.audit.bundle import read_member, verify_bundle
from dsar.services import audit, verification_summary
from dsar.web.i18n import CATALOGS
from tests.web.conftest import WebApp, csrf_from, make_web
from tests.web.verify_fixtures import all_mail, give_code, post, reference, start, status

SHOP = """
system: shop
title: Online shop
type: sql
connection: DSAR_DEMO_SHOP_URL
purposes: [Orders]
legal_basis: Performance of a contract
recipients: []
retention: 10 years
source: Collected from you
entities:
  customer:
    table: customer
    key: id
    identity:
      email: email
      phone: phone
    erase: anonymise
    fields:
      email: {category: contact, erase: pseudonymise}
      name: {category: identity, erase: {fixed: "Deleted customer"}}
      phone: {category: contact, erase: "null"}
      city: {category: postal_address}
      country: {category: postal_address}
"""
MAX_PHONE = "030 5550199"  # as the shop holds it (a national number; the record says DE)
_CODE = re.compile(r"\b(\d{8})\b")
_LINK = re.compile(r"(http://\S+/verify/l/[0-9a-f]+)")


@pytest.fixture
def sms_web(tmp_path: Path) -> Iterator[WebApp]:
    folder = tmp_path / "map"
    folder.mkdir()
    (folder / "shop.yaml").write_text(SHOP)
    w = make_web(tmp_path / "home", data_map_dir=folder)
    shop = w.app.settings.demo_shop_path
    shop.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT, name TEXT NOT NULL, phone TEXT, city TEXT, country TEXT)")
        db.execute("INSERT INTO customer VALUES (1, 'jane.doe@example.com', 'Jane Doe', '+49 30 5550101', 'Paris', 'FR')")
        db.execute("INSERT INTO customer VALUES (2, NULL, 'Max Mustermann', ?, 'Berlin', 'DE')", (MAX_PHONE,))
    yield w
    w.app.engine.dispose()


@pytest.fixture
def sms_client(sms_web: WebApp) -> Iterator[TestClient]:
    with TestClient(sms_web.fastapi) as c:
        yield c


def log_max(w: WebApp, **overrides: Any) -> str:
    from dsar.services.intake import log_request

    raw: dict[str, Any] = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Max Mustermann", "phone": MAX_PHONE}}
    return log_request(w.web.ctx, raw | overrides).request.id


def texts(w: WebApp, ref: str) -> list[tuple[str, str]]:
    """(number, text) of each text message to the request, oldest first (as a phone shows them)."""
    folder = w.app.settings.effective_outbox_dir / "sms"
    files = sorted(folder.glob(f"{ref}.*.txt"), key=lambda p: (p.stat().st_mtime_ns, p.name)) if folder.is_dir() else []
    out = []
    for p in files:
        head, _, body = p.read_text().partition("\n\n")
        out.append((head.removeprefix("To: "), body))
    return out


def events(w: WebApp, rid: str, kind: str) -> list[dict[str, Any]]:
    with w.web.ctx.uow() as uow:
        return [e.details for e in uow.audit.events(rid) if e.kind == kind]


def test_a_subject_with_only_a_phone_gets_the_code_by_text_and_verifies_on_the_code_page(sms_web: WebApp, sms_client: TestClient) -> None:
    rid = log_max(sms_web)
    ref = reference(sms_web, rid)
    assert start(sms_web, rid) == "awaiting_verification"
    assert all_mail(sms_web) == []  # no letter: there is no email on file
    ((number, body),) = texts(sms_web, ref)
    assert number == "+49305550199" and ref in body and "Max" not in body and MAX_PHONE not in body
    code = _CODE.search(body)
    assert code
    (level,) = events(sms_web, rid, "VerificationLevelSet")
    assert level["known"] is True and level["channel"] == "sms"
    (sent,) = events(sms_web, rid, "LetterSent")
    assert sent["channel"] == "sms" and sent["template"] == "verification_sms/default.en.j2" and "pdf_sha256" not in sent

    page = give_code(sms_client, ref, code.group(1))
    assert page.status_code == 200 and CATALOGS["en"]["verify.title.done"] in page.text
    assert status(sms_web, rid) == "verified"
    assert [e["proof"] for e in events(sms_web, rid, "VerificationProofGiven")] == ["contact"]

    # the request's evidence bundle verifies: the text's LetterSent records no PDF and none is carried
    signer = build_signer(sms_web.app)
    bundle = sms_web.app.settings.home_dir / "bundle.zip"
    audit.export_evidence(sms_web.web.ctx, signer, bundle, reference=ref)
    verdict = verify_bundle(bundle, signer.public_pem)
    assert verdict.ok, verdict.message
    assert "+49305550199" not in read_member(bundle, "events.jsonl").decode()


def test_the_link_in_the_text_verifies_and_the_text_speaks_the_request_s_language(sms_web: WebApp, sms_client: TestClient) -> None:
    rid = log_max(sms_web, language="de")
    start(sms_web, rid)
    ((_, body),) = texts(sms_web, reference(sms_web, rid))
    assert "Bitte bestätigen Sie" in body
    link = _LINK.search(body)
    assert link
    path = "/" + link.group(1).split("://", 1)[1].split("/", 1)[1]
    landing = sms_client.get(path)
    assert landing.status_code == 200
    done = sms_client.post(path, data={"csrf_token": csrf_from(landing.text), "confirm": "yes"})
    assert done.status_code == 200 and status(sms_web, rid) == "verified"


def test_a_new_link_asked_on_the_resend_page_is_texted_and_ends_the_earlier_code(sms_web: WebApp, sms_client: TestClient) -> None:
    rid = log_max(sms_web)
    ref = reference(sms_web, rid)
    start(sms_web, rid)
    ((_, first),) = texts(sms_web, ref)
    answer = post(sms_client, "/verify/resend", {"reference": ref})
    assert answer.status_code == 200
    sent = texts(sms_web, ref)
    assert len(sent) == 2 and {n for n, _ in sent} == {"+49305550199"}
    old, new = (_CODE.search(b) for b in (first, sent[1][1]))
    assert old and new and old.group(1) != new.group(1)
    assert verification_summary.summary(sms_web.web.ctx, rid).sends == 2  # type: ignore[union-attr]
    give_code(sms_client, ref, old.group(1))
    assert status(sms_web, rid) == "awaiting_verification"
    give_code(sms_client, ref, new.group(1))
    assert status(sms_web, rid) == "verified"


def test_a_subject_with_an_email_on_file_still_gets_a_letter_and_no_text(sms_web: WebApp) -> None:
    from tests.web.verify_fixtures import letters, log

    rid = log(sms_web)
    start(sms_web, rid)
    ref = reference(sms_web, rid)
    (letter,) = letters(sms_web, ref)
    assert letter.to == "jane.doe@example.com" and texts(sms_web, ref) == []


def test_the_answer_reaches_the_phone_only_subject_behind_a_link_the_page_opens_with_a_texted_code(
    sms_web: WebApp, sms_client: TestClient
) -> None:
    from dsar.domain.request import Status
    from dsar.services import processing
    from tests.signoff import approve

    rid = log_max(sms_web)
    ref = reference(sms_web, rid)
    start(sms_web, rid)
    ((_, body),) = texts(sms_web, ref)
    code = _CODE.search(body)
    assert code
    give_code(sms_client, ref, code.group(1))
    ctx = sms_web.web.ctx
    assert processing.plan_request(ctx, rid) is Status.AWAITING_SIGN_OFF
    approve(ctx, rid)
    processing.execute_plan(ctx, rid)
    assert processing.send_response(ctx, rid) is Status.CLOSED
    assert all_mail(sms_web) == []  # still nothing mailed: no email on file
    link_text = texts(sms_web, ref)[-1][1]
    found = re.search(r"http://\S+/letter\?lang=en#(\S+)", link_text)
    assert found and "Max" not in link_text
    token = found.group(1)

    page = sms_client.get("/letter")
    assert page.status_code == 200 and CATALOGS["en"]["letter.title"] in page.text and token not in page.text
    asked = sms_client.post("/letter/code", data={"csrf_token": csrf_from(page.text), "token": token})
    assert asked.status_code == 200 and CATALOGS["en"]["letter.code.intro"] in asked.text
    number, code_text = texts(sms_web, ref)[-1]
    sent = re.search(r"(?<![-\d])(\d{6})\b", code_text)  # not the reference's last six digits
    assert number == "+49305550199" and sent
    wrong = f"{(int(sent.group(1)) + 1) % 1_000_000:06d}"
    refused = sms_client.post("/letter/open", data={"csrf_token": csrf_from(asked.text), "token": token, "code": wrong})
    assert refused.status_code == 422 and CATALOGS["en"]["letter.code.wrong"] in refused.text
    opened = sms_client.post("/letter/open", data={"csrf_token": csrf_from(refused.text), "token": token, "code": sent.group(1)})
    assert opened.status_code == 200 and opened.headers["content-type"] == "application/pdf"
    assert opened.content.startswith(b"%PDF") and opened.headers["cache-control"] == "no-store"
    # one character changed (never to itself: a random token ends in "0" one time in sixteen)
    forged_token = token[:-1] + ("1" if token[-1] != "1" else "2")
    forged = sms_client.post("/letter/code", data={"csrf_token": csrf_from(page.text), "token": forged_token})
    assert forged.status_code == 410 and CATALOGS["en"]["letter.refused.expired"] in forged.text
    # the expired page offers the link again, carrying what was typed (only there does the
    # reference appear); the answer is the same for a forged link and for a real one (which
    # still works: nothing is sent for either)
    assert ref not in forged.text.replace(f'name="token" value="{forged_token}"', "")
    assert CATALOGS["en"]["letter.renew"] in forged.text and 'action="/letter/renew"' in forged.text
    sent_before = len(texts(sms_web, ref))
    for asked_again in (forged_token, token):
        again = sms_client.post("/letter/renew", data={"csrf_token": csrf_from(forged.text), "token": asked_again})
        assert again.status_code == 200 and CATALOGS["en"]["letter.renewed"].split("{")[0] in again.text
        assert asked_again not in again.text and ref not in again.text
    assert len(texts(sms_web, ref)) == sent_before

    # the request's evidence bundle still verifies, and holds no copy of the letter behind a live link
    signer = build_signer(sms_web.app)
    bundle = sms_web.app.settings.home_dir / "bundle.zip"
    audit.export_evidence(sms_web.web.ctx, signer, bundle, reference=ref)
    verdict = verify_bundle(bundle, signer.public_pem)
    assert verdict.ok, verdict.message


def test_a_german_phone_only_subject_s_texts_link_the_german_pages(sms_web: WebApp) -> None:
    """The verification text's link and code page, and the later text's letter link, carry the
    request's language: each opens the German page for a browser set to English."""
    from dsar.domain.request import Status
    from dsar.services import processing
    from tests.signoff import approve

    rid = log_max(sms_web, language="de")
    ref = reference(sms_web, rid)
    start(sms_web, rid)
    ((_, body),) = texts(sms_web, ref)
    link = re.search(r"http://\S+(/verify/l/[0-9a-f]+\?lang=de)$", body, re.M)
    code_page = re.search(r"http://\S+(/verify\?lang=de)$", body, re.M)
    assert link and code_page, body
    with TestClient(sms_web.fastapi, headers={"Accept-Language": "en"}) as browser:
        assert CATALOGS["de"]["verify.title.code"] in browser.get(code_page.group(1)).text
        landing = browser.get(link.group(1))
        assert landing.status_code == 200 and '<html lang="de">' in landing.text
        done = browser.post(link.group(1).split("?")[0], data={"csrf_token": csrf_from(landing.text), "confirm": "yes"})
        assert done.status_code == 200 and '<html lang="de">' in done.text and status(sms_web, rid) == "verified"

        ctx = sms_web.web.ctx
        assert processing.plan_request(ctx, rid) is Status.AWAITING_SIGN_OFF
        approve(ctx, rid)
        processing.execute_plan(ctx, rid)
        assert processing.send_response(ctx, rid) is Status.CLOSED
        found = re.search(r"http://\S+(/letter\?lang=de)#(\S+)$", texts(sms_web, ref)[-1][1], re.M)
        assert found
        browser.cookies.clear()
        page = browser.get(found.group(1))
        assert page.status_code == 200 and CATALOGS["de"]["letter.title"] in page.text and found.group(2) not in page.text
        asked = browser.post("/letter/code", data={"csrf_token": csrf_from(page.text), "token": found.group(2)})
        assert asked.status_code == 200 and CATALOGS["de"]["letter.code.intro"] in asked.text
        forged = browser.post("/letter/code", data={"csrf_token": csrf_from(page.text), "token": found.group(2)[:-1] + "x"})
        assert forged.status_code == 410 and CATALOGS["de"]["letter.refused.expired"] in forged.text
