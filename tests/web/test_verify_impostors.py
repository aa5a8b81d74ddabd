"""Every impostor scenario of docs/threats.md as a named test through the real web app (the
public form, the identity pages, the console where staff act), over the demo shop as the system
of record: each one ends refused or escalated to a person, and no personal data leaves the
engine (no response letter with data, no letter to an address not on file, nothing searched)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dsar.domain.errors import InvalidInput
from dsar.services import identity, processing, queries, verification_summary
from dsar.web.i18n import CATALOGS
from tests.web.conftest import WebApp, csrf_from, submit_form
from tests.web.verify_fixtures import (
    ANA,
    JANE,
    all_mail,
    give_code,
    letters,
    log,
    open_link,
    post,
    reference,
    session_of,
    start,
    status,
)

CCPA = {"regime": "ccpa", "country": "US", "subdivision": "CA"}
PIECES = {**CCPA, "access_scope": "specific_pieces"}


def nothing_left_the_engine(w: WebApp, rid: str) -> None:
    """No response letter, no access data, nothing searched for this request."""
    ref = reference(w, rid)
    names = [p.name for p in all_mail(w) if p.name.startswith(ref)]
    assert not [n for n in names if "response" in n], names
    with w.web.ctx.uow() as uow:
        assert uow.plans.get(rid) == [] and uow.plans.receipts(rid) == []
    assert status(w, rid) in ("awaiting_verification", "denied")


def form_reference(client: TestClient, fields: dict[str, str]) -> tuple[str, str]:
    """Submit the public form; (the reference, the thank-you page's main text)."""
    answer = submit_form(client, fields)
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"]).text
    main = re.search(r'<main id="main">(.*)</main>', page, re.S)
    ref = re.search(r"DSR-\d{4}-\d{6}", page)
    assert main and ref
    return ref.group(0), main.group(1).replace(ref.group(0), "DSR-…")


def rid_of(w: WebApp, ref: str) -> str:
    return queries.lookup(w.web.ctx, ref).id


# 1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["jane.m.doe@example.com", "jane.doe@example.org", "jаne.doe@example.com", "JANE.DOE@example.co"])
def test_1_an_address_not_on_file_or_a_look_alike_gets_nothing(shop_web: WebApp, shop_client: TestClient, typed: str) -> None:
    answer = submit_form(shop_client, {"type": "access", "country": "DE", "name": "Jane Doe", "email": typed})
    if answer.status_code != 303:  # refused at the form (a confusable the address check rejects)
        assert answer.status_code == 422 and queries.request_list(shop_web.web.ctx) == []
        return
    ref = re.search(r"DSR-\d{4}-\d{6}", shop_client.get(answer.headers["location"]).text)
    assert ref
    ref = ref.group(0)
    rid = rid_of(shop_web, ref)
    assert start(shop_web, rid) == "awaiting_verification"
    assert all_mail(shop_web) == []  # no challenge to the look-alike, nor to the real Jane
    assert give_code(shop_client, ref, "00000000").status_code == 422
    nothing_left_the_engine(shop_web, rid)


# 2 ---------------------------------------------------------------------------------------------


def test_2_i_changed_my_email_send_it_to_the_new_one_goes_only_to_the_address_on_file(shop_web: WebApp, shop_client: TestClient) -> None:
    new_only = log(shop_web, "jane.new@example.net")
    start(shop_web, new_only)
    assert all_mail(shop_web) == []
    both = log(shop_web, "jane.new@example.net", subject={"name": "Jane Doe", "emails": ["jane.new@example.net", JANE]})
    start(shop_web, both)
    (letter,) = letters(shop_web, reference(shop_web, both))
    assert letter.to == JANE  # the old, verified channel; never the new one
    for rid in (new_only, both):
        nothing_left_the_engine(shop_web, rid)


# 3 ---------------------------------------------------------------------------------------------


def test_3_name_email_and_phone_alone_are_not_enough_for_a_copy(shop_web: WebApp, shop_client: TestClient) -> None:
    # all three are right, and public: the link still goes to the mailbox, which the impostor lacks
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA], "phone": "+1 415 5550102"}, **PIECES)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.to == ANA
    for guess in ("00000000", "12345678", "99999999", "11111111"):
        assert give_code(shop_client, reference(shop_web, rid), guess).status_code == 422
    assert give_code(shop_client, reference(shop_web, rid), "22222222").status_code == 403  # the fifth: refused
    assert status(shop_web, rid) == "denied"
    # every try used up: a verification risk flag holds the refusal's letter for legal
    from dsar.services import escalations

    (x,) = escalations.escalations(shop_web.web.ctx, rid)
    assert x.point.value == "verification_risk" and x.reason.startswith("tries_exhausted: 5 of 5 tries failed")
    assert queries.lookup_id(shop_web.web.ctx, rid).on_hold
    nothing_left_the_engine(shop_web, rid)


# 4 ---------------------------------------------------------------------------------------------


def test_4_forgot_my_password_send_it_anyway_steps_up_never_down(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **PIECES)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    points = open_link(shop_client, letter)  # even with the mailbox, the level asks for more
    session = session_of(points.text)
    # skipping the data points to sign straight away shows the data-point page again
    skipped = post(shop_client, "/verify/declaration", {"session": session, "full_name": "Ana Silva", "agree": "yes"})
    assert 'name="point_phone"' in skipped.text and status(shop_web, rid) == "awaiting_verification"
    empty = post(shop_client, "/verify/points", {"session": session})
    assert empty.status_code == 422 and status(shop_web, rid) == "awaiting_verification"
    one = post(shop_client, "/verify/points", {"session": session, "point_city": "San Francisco"})
    assert one.status_code == 422  # one point where two are needed
    nothing_left_the_engine(shop_web, rid)


# 5 ---------------------------------------------------------------------------------------------


def test_5_negotiating_the_proof_down_needs_a_named_legal_approver(shop_web: WebApp, shop_client: TestClient) -> None:
    from tests.signoff import LEGAL, code, enrol

    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **PIECES)
    start(shop_web, rid)
    # nothing a requester sends to the pages names a level
    (letter,) = letters(shop_web, reference(shop_web, rid))
    points = open_link(shop_client, letter)
    post(shop_client, "/verify/points", {"session": session_of(points.text), "level": "contact", "data_points": "0"})
    assert verification_summary.summary(shop_web.web.ctx, rid).level == "high"  # type: ignore[union-attr]
    ctx = shop_web.web.ctx
    secret = enrol(ctx)
    with pytest.raises(InvalidInput, match="refused"):
        identity.lower_level(ctx, rid, "reasonable", approver="support.sam", code="123456", reason="caller insists")
    with pytest.raises(InvalidInput, match="refused"):
        identity.lower_level(ctx, rid, "reasonable", approver=LEGAL, code="000000", reason="caller insists")
    lowered = identity.lower_level(
        ctx, rid, "reasonable", approver=LEGAL, code=code(ctx, secret), reason="long-standing customer, low risk"
    )
    assert lowered.lowered_by == LEGAL and lowered.level.value == "reasonable"
    with ctx.uow() as uow:
        (event,) = [e.details for e in uow.audit.events(rid) if e.kind == "VerificationLevelLowered"]
    assert event == {"from": "high", "to": "reasonable", "approver": LEGAL, "reason": "long-standing customer, low risk"}


# 6 ---------------------------------------------------------------------------------------------


def test_6_documents_are_never_taken_nor_stored(shop_web: WebApp, shop_client: TestClient) -> None:
    for path in ("/verify", "/verify/points", "/verify/declaration", "/"):
        upload = shop_client.post(path, files={"id_card": ("passport.pdf", b"%PDF-1.4 redacted", "application/pdf")})
        assert upload.status_code == 415, path
    templates = Path(__file__).parents[2] / "src" / "dsar" / "web" / "templates"
    assert not [p for p in templates.rglob("*.html") if 'type="file"' in p.read_text()]
    assert not list(shop_web.app.settings.home_dir.rglob("passport.pdf"))


# 7 ---------------------------------------------------------------------------------------------


def test_7_insisting_on_another_channel_changes_nothing(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    # a code page post naming another address or channel: the extra fields are ignored
    post(shop_client, "/verify", {"reference": reference(shop_web, rid), "code": "00000000", "email": "me@evil.example", "channel": "sms"})
    assert [x.to for x in letters(shop_web, reference(shop_web, rid))] == [JANE]
    assert identity.resend(shop_web.web.ctx, rid)  # a resend goes to the same contact on file
    assert {x.to for x in letters(shop_web, reference(shop_web, rid))} == {JANE}
    assert letter.to == JANE
    nothing_left_the_engine(shop_web, rid)


# 8 ---------------------------------------------------------------------------------------------


def test_8_wording_mixing_access_and_deletion_deletes_nothing_unverified(shop_web: WebApp, shop_client: TestClient) -> None:
    ref, _ = form_reference(shop_client, {"type": "deletion", "country": "DE", "name": "Jane Doe", "email": "jane@attacker.example"})
    rid = rid_of(shop_web, ref)
    start(shop_web, rid)
    assert processing.plan_request(shop_web.web.ctx, rid).value == "awaiting_verification"
    import sqlite3

    with sqlite3.connect(shop_web.app.settings.demo_shop_path) as db:
        assert db.execute("SELECT email FROM customer WHERE id = 1").fetchone()[0] == JANE
    nothing_left_the_engine(shop_web, rid)


# 9 ---------------------------------------------------------------------------------------------


def test_9_probing_whether_someone_is_a_customer_reads_the_same(shop_web: WebApp, shop_client: TestClient) -> None:
    known_ref, known_page = form_reference(shop_client, {"type": "access", "country": "DE", "name": "Jane Doe", "email": JANE})
    unknown_ref, unknown_page = form_reference(
        shop_client, {"type": "access", "country": "DE", "name": "Jane Doe", "email": "nobody@example.net"}
    )
    assert known_page == unknown_page
    # the answer is given before anything is looked up: no system is opened by the form itself
    assert status(shop_web, rid_of(shop_web, known_ref)) == status(shop_web, rid_of(shop_web, unknown_ref)) == "received"
    start(shop_web, rid_of(shop_web, known_ref))
    start(shop_web, rid_of(shop_web, unknown_ref))
    assert status(shop_web, rid_of(shop_web, known_ref)) == status(shop_web, rid_of(shop_web, unknown_ref)) == "awaiting_verification"
    # the code page says the same for a wrong code and for a reference with nothing sent
    a = give_code(shop_client, known_ref, "00000000")
    b = give_code(shop_client, unknown_ref, "00000000")
    c = give_code(shop_client, "DSR-2026-999999", "00000000")
    strip = lambda page: re.sub(r'value="[^"]*"', "", page.text)  # noqa: E731
    assert a.status_code == b.status_code == c.status_code == 422
    assert strip(a) == strip(b) == strip(c)
    nothing_left_the_engine(shop_web, rid_of(shop_web, unknown_ref))


# 10 --------------------------------------------------------------------------------------------


def test_10_correcting_the_data_used_to_verify_needs_other_data(shop_web: WebApp, shop_client: TestClient) -> None:
    import dataclasses

    from dsar.services.intake import log_request

    raw = {
        "type": "correction",
        "regime": "gdpr",
        "country": "DE",
        "subject": {"name": "Jane Doe", "emails": [JANE]},
        "corrections": [{"attribute": "email", "value": "jane@new.example"}],
    }  # logged as from a data map that lets the email be corrected
    email_fix = log_request(dataclasses.replace(shop_web.web.ctx, data_map=()), raw).request.id
    start(shop_web, email_fix)
    assert all_mail(shop_web) == []  # neither the old address (disputed) nor the new one
    # the link goes by text message to the phone on file instead (not disputed)
    assert verification_summary.summary(shop_web.web.ctx, email_fix).channel == "sms"  # type: ignore[union-attr]
    phone_fix = log(
        shop_web,
        ANA,
        subject={"name": "Ana Silva", "emails": [ANA]},
        type="correction",
        corrections=[{"attribute": "phone", "value": "+1 415 555 0199"}],
        **CCPA,
    )
    start(shop_web, phone_fix)
    (letter,) = letters(shop_web, reference(shop_web, phone_fix))
    page = open_link(shop_client, letter)
    assert 'name="point_phone"' not in page.text and 'name="point_postcode"' in page.text  # the disputed phone is not asked
    nothing_left_the_engine(shop_web, email_fix)


# 11 --------------------------------------------------------------------------------------------


def test_11_an_agent_with_only_a_signed_permission_waits_for_the_consumer_and_legal(shop_web: WebApp, shop_client: TestClient) -> None:
    agent = {"name": "Fast Data Agents", "email": "agent@fast.example", "kind": "authorized_agent"}
    rid = log(shop_web, "agent@fast.example", subject={"name": "Jane Doe", "emails": ["agent@fast.example", JANE]}, agent=agent)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.to == JANE  # the consumer, not the agent
    assert status(shop_web, rid) == "awaiting_verification"
    page = open_link(shop_client, letter)  # the consumer confirms...
    assert CATALOGS["en"]["verify.title.legal"] in page.text
    assert status(shop_web, rid) == "awaiting_verification"  # ...and legal still reviews the permission
    nothing_left_the_engine(shop_web, rid)


# 12 --------------------------------------------------------------------------------------------


def test_12_leaked_knowledge_is_never_the_only_factor(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **PIECES)
    start(shop_web, rid)
    # the right data points without the link's session: nothing
    for session in ("", "forged", "a" * 43):
        page = post(shop_client, "/verify/points", {"session": session, "point_phone": "+1 415 5550102", "point_postcode": "94103"})
        assert page.status_code == 404
    assert status(shop_web, rid) == "awaiting_verification"
    nothing_left_the_engine(shop_web, rid)


# 13 --------------------------------------------------------------------------------------------


def test_13_a_risk_on_the_account_holds_for_a_person(shop_web: WebApp, shop_client: TestClient) -> None:
    # An agent's request (the riskiest path) cannot be finished by the subject's pages alone: the
    # last proof is legal's (verify by hand), with the evidence described.
    from tests.signoff import LEGAL, code, enrol

    rid = log(shop_web, agent={"name": "Someone", "kind": "authorized_agent"})
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    open_link(shop_client, letter)
    assert status(shop_web, rid) == "awaiting_verification"
    ctx = shop_web.web.ctx
    secret = enrol(ctx)
    with pytest.raises(InvalidInput, match="evidence"):
        identity.verify_by_hand(ctx, rid, approver=LEGAL, code=code(ctx, secret), evidence="ok")
    identity.verify_by_hand(
        ctx, rid, approver=LEGAL, code=code(ctx, secret), evidence="signed permission checked against the consumer's call-back"
    )
    assert status(shop_web, rid) == "verified"


# 14 --------------------------------------------------------------------------------------------


def test_14_bursts_from_one_sender_are_slowed_down(shop_web: WebApp, shop_client: TestClient) -> None:
    codes = [give_code(shop_client, f"DSR-2026-{n:06d}", "00000000").status_code for n in range(1, 32)]
    assert codes[:30] == [422] * 30 and codes[30] == 429
    page = shop_client.get("/")
    burst = [
        shop_client.post(
            "/", data={"csrf_token": csrf_from(page.text), "type": "access", "country": "DE", "name": f"P{n}", "email": f"p{n}@x.example"}
        )
        for n in range(12)
    ]
    assert 429 in [b.status_code for b in burst]


# 15 --------------------------------------------------------------------------------------------


def test_15_executable_or_odd_attachments_are_never_opened(shop_web: WebApp, shop_client: TestClient) -> None:
    for body, kind in ((b"MZ\x90\x00", "application/x-msdownload"), (b"<script>", "text/html")):
        answer = shop_client.post("/verify", content=body, headers={"content-type": kind})
        assert answer.status_code == 415
    assert queries.request_list(shop_web.web.ctx) == []


# 16 --------------------------------------------------------------------------------------------


def test_16_deadline_pressure_never_lowers_the_level(shop_web: WebApp) -> None:
    from datetime import timedelta

    ctx = shop_web.web.ctx
    fresh = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **PIECES)
    late = log(
        shop_web,
        ANA,
        subject={"name": "Ana Silva", "emails": [ANA]},
        received_at=(ctx.clock() - timedelta(days=40)).isoformat(),
        **PIECES,
    )
    start(shop_web, fresh)
    start(shop_web, late)
    a, b = verification_summary.summary(ctx, fresh), verification_summary.summary(ctx, late)
    assert a is not None and b is not None
    assert (a.level, a.requirement) == (b.level, b.requirement) == ("high", a.requirement)
