"""Verification risk flags through the real web app (docs/threats.md, scenarios 1 and 9): a
request from a look-alike of the address on file, its subject found by the phone typed with it,
ends escalated to legal and held, no link going anywhere, while every page the requester sees
(the form's answer, the code page, the resend page) is the page any other requester sees. Legal
lets it go on: the link goes to the contact on file, never to the look-alike.

The system of record is the demo shop with its customers also found by phone (a data map of
this test's own: the demo finds them by email only, so a look-alike there finds nobody)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dsar.domain.escalations import EscalationPoint
from dsar.services import escalations, queries
from tests.conftest import ROOT
from tests.signoff import proceed_escalations
from tests.web.conftest import WebApp, csrf_from, make_web, submit_form
from tests.web.verify_fixtures import JANE, all_mail, give_code, letters, open_link, start, status

LOOK_ALIKE = "jane.m.doe@example.com"
JANE_PHONE = "+49 30 5550101"  # the demo shop's customer 1


@pytest.fixture
def phone_web(tmp_path: Path) -> Iterator[WebApp]:
    from dsar.demo.shop import seed_shop

    data_map = tmp_path / "map"
    shutil.copytree(ROOT / "connectors", data_map)
    shop = (data_map / "shop.yaml").read_text()
    anchor = "    identity:\n      email: email\n"
    assert shop.count(anchor) == 1
    (data_map / "shop.yaml").write_text(shop.replace(anchor, anchor + "      phone: phone\n"))
    w = make_web(tmp_path / "home", data_map_dir=data_map)
    seed_shop(w.app.settings.demo_shop_path)
    yield w
    w.app.engine.dispose()


@pytest.fixture
def browser(phone_web: WebApp) -> Iterator[TestClient]:
    with TestClient(phone_web.fastapi) as c:
        yield c


def ask(client: TestClient, email: str, phone: str = "") -> tuple[str, str]:
    """The public form as a requester fills it in: (the reference, the answer's main text with
    the reference taken out)."""
    fields = {"type": "access", "country": "DE", "name": "Jane Doe", "email": email} | ({"phone": phone} if phone else {})
    answer = submit_form(client, fields)
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"]).text
    ref = re.search(r"DSR-\d{4}-\d{6}", page)
    main = re.search(r'<main id="main">(.*)</main>', page, re.S)
    assert ref and main
    return ref.group(0), main.group(1).replace(ref.group(0), "DSR-…")


def rid_of(w: WebApp, ref: str) -> str:
    return queries.lookup(w.web.ctx, ref).id


def without_values(page: str) -> str:
    return re.sub(r'value="[^"]*"', "", page)


def test_a_look_alike_address_ends_escalated_and_held_while_the_requester_sees_what_anyone_sees(
    phone_web: WebApp, browser: TestClient
) -> None:
    flagged_ref, flagged_answer = ask(browser, LOOK_ALIKE, JANE_PHONE)
    other_ref, other_answer = ask(browser, "work@elsewhere.example", JANE_PHONE)  # found by the phone, plainly another address
    stranger_ref, stranger_answer = ask(browser, "nobody@example.net")  # not on file
    assert flagged_answer == other_answer == stranger_answer  # the form's answer: word for word the same
    flagged, other, stranger = (rid_of(phone_web, r) for r in (flagged_ref, other_ref, stranger_ref))
    assert {s.request_id for s in phone_web.orchestrator.started} == {flagged, other, stranger}  # each run started

    # the run's first step looks the subject up: the look-alike goes to legal, held, nothing sent
    start(phone_web, flagged)
    start(phone_web, other)
    start(phone_web, stranger)
    (x,) = escalations.escalations(phone_web.web.ctx, flagged)
    assert (x.point, x.open, x.held, x.by) == (EscalationPoint.VERIFICATION_RISK, True, True, "dsar")
    assert x.reason.startswith("look_alike_address: 1 of 1 typed email(s) a near miss of the email on file")
    assert LOOK_ALIKE not in x.reason and JANE not in x.reason
    assert queries.lookup_id(phone_web.web.ctx, flagged).on_hold and status(phone_web, flagged) == "received"
    assert [q.reference for q in escalations.legal_queue(phone_web.web.ctx)] == [flagged_ref]
    assert escalations.escalations(phone_web.web.ctx, other) == [] == escalations.escalations(phone_web.web.ctx, stranger)
    assert letters(phone_web, flagged_ref) == []  # no link: not to the look-alike, not yet to the address on file
    assert [x.to for x in letters(phone_web, other_ref)] == [JANE]  # the control's link went to the address on file
    assert not [p for p in all_mail(phone_web) if LOOK_ALIKE in p.read_text(errors="replace")]

    # the pages the requester can try say the same words for the flagged request as for the others
    pages = [give_code(browser, ref, "12345678") for ref in (flagged_ref, other_ref, stranger_ref, "DSR-2026-999999")]
    assert {p.status_code for p in pages} == {422}
    assert len({without_values(p.text) for p in pages}) == 1
    resent = []
    for ref in (flagged_ref, stranger_ref):
        form = browser.get("/verify/resend")
        resent.append(browser.post("/verify/resend", data={"csrf_token": csrf_from(form.text), "reference": ref}))
    assert resent[0].status_code == resent[1].status_code == 200
    assert without_values(resent[0].text) == without_values(resent[1].text)
    assert letters(phone_web, flagged_ref) == []  # a resend sends nothing while legal decides

    # legal lets it go on: the link goes to the contact on file, and the subject verifies there
    assert proceed_escalations(phone_web.web.ctx, flagged) == [1]
    assert start(phone_web, flagged) == "awaiting_verification"
    (letter,) = letters(phone_web, flagged_ref)
    assert letter.to == JANE
    run = queries.flow_run_id(phone_web.web.ctx, flagged)
    assert run is not None
    phone_web.orchestrator.suspend(run)  # the run waits for the subject
    assert open_link(browser, letter).status_code == 200 and status(phone_web, flagged) == "verified"
    assert [r.run_id for r in phone_web.orchestrator.resumed] == [run]  # woken, with nothing in it
