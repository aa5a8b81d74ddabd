"""The identity pages through the real web app (FastAPI test client) over the demo shop as the
system of record: happy paths (GDPR access by link or code, CCPA specific pieces with data
points and the declaration, an agent confirmed by the consumer), tampered, expired, reused and
foreign links, and the run woken with an empty input."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient

from dsar.services import identity, queries
from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.web.conftest import WebApp, csrf_from
from tests.web.verify_fixtures import (
    ANA,
    JANE,
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

CCPA_PIECES = {"regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "specific_pieces"}


def events(w: WebApp, rid: str, kind: str) -> list[dict[str, object]]:
    with w.web.ctx.uow() as uow:
        return [e.details for e in uow.audit.events(rid) if e.kind == kind]


def test_gdpr_access_is_verified_by_following_the_link_and_the_run_is_woken_with_an_empty_input(
    shop_web: WebApp, shop_client: TestClient
) -> None:
    rid = log(shop_web)
    run = shop_web.orchestrator.start_run(rid, reference(shop_web, rid))
    queries.record_flow_run(shop_web.web.ctx, rid, run)
    assert start(shop_web, rid) == "awaiting_verification"
    shop_web.orchestrator.suspend(run)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.to == JANE and letter.link and letter.code
    # a GET (what a mail scanner does) spends nothing
    assert shop_client.get(letter.path).status_code == 200
    assert shop_client.get(letter.path).status_code == 200
    done = open_link(shop_client, letter)
    assert done.status_code == 200 and CATALOGS["en"]["verify.title.done"] in done.text
    assert status(shop_web, rid) == "verified"
    assert [r.run_input for r in shop_web.orchestrator.resumed] == [{}]  # no code, no proof through Prefect
    (level,) = events(shop_web, rid, "VerificationLevelSet")
    assert level["level"] == "contact" and level["known"] is True and level["system"] == "shop"
    assert [e["proof"] for e in events(shop_web, rid, "VerificationProofGiven")] == ["contact"]


def test_a_subject_who_follows_the_link_while_support_holds_the_request_sees_the_done_page(
    shop_web: WebApp, shop_client: TestClient
) -> None:
    from dsar.services import casework
    from dsar.services.orchestration import escalation_key

    rid = log(shop_web)
    run = shop_web.orchestrator.start_run(rid, reference(shop_web, rid))
    queries.record_flow_run(shop_web.web.ctx, rid, run)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    casework.flag_legal_sensitive(shop_web.web.ctx, rid, "solicitor's letter received", by="sam", via="console")
    shop_web.orchestrator.suspend(run, escalation_key(1))  # the run waits for legal's decision
    done = open_link(shop_client, letter)
    # the proof is recorded (no "on hold" error page); the request waits for legal, not the subject
    assert done.status_code == 200 and CATALOGS["en"]["verify.title.done"] in done.text
    assert status(shop_web, rid) == "verified" and queries.lookup_id(shop_web.web.ctx, rid).on_hold
    assert [e["proof"] for e in events(shop_web, rid, "VerificationProofGiven")] == ["contact"]
    assert shop_web.orchestrator.resumed == []  # legal's form is left for legal


def test_the_code_page_verifies_with_the_reference_and_the_code(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.code
    page = give_code(shop_client, reference(shop_web, rid).lower(), letter.code)
    assert page.status_code == 200 and CATALOGS["en"]["verify.title.done"] in page.text
    assert status(shop_web, rid) == "verified"
    # the link of the same letter is spent with it (single use)
    assert shop_client.get(letter.path).status_code == 404


def test_ccpa_specific_pieces_need_two_data_points_and_the_declaration_kept_sealed(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **CCPA_PIECES)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    points = open_link(shop_client, letter)
    assert points.status_code == 200 and 'name="point_phone"' in points.text and 'name="point_postcode"' in points.text
    assert status(shop_web, rid) == "awaiting_verification"
    # typed differently from the record: spaces, dashes, 00 instead of +, case
    declaration = post(
        shop_client, "/verify/points", {"session": session_of(points.text), "point_phone": "001-415-555-0102", "point_postcode": " 94103 "}
    )
    assert declaration.status_code == 200 and 'name="full_name"' in declaration.text
    unsigned = post(shop_client, "/verify/declaration", {"session": session_of(declaration.text), "full_name": "Ana Silva"})
    assert unsigned.status_code == 422 and status(shop_web, rid) == "awaiting_verification"
    done = post(shop_client, "/verify/declaration", {"session": session_of(unsigned.text), "full_name": "Ana Silva", "agree": "yes"})
    assert CATALOGS["en"]["verify.title.done"] in done.text and status(shop_web, rid) == "verified"
    assert [e["proof"] for e in events(shop_web, rid, "VerificationProofGiven")] == ["contact", "data_points", "declaration"]
    with shop_web.web.ctx.uow() as uow:
        case = uow.cases.get(rid)
        assert case is not None and case.declaration is not None
        kept = json.loads(uow.keys.open(rid, case.declaration, "verification/declaration"))
    assert kept["name"] == "Ana Silva" and "penalty of perjury" in kept["text"]
    assert b"Ana Silva" not in case.declaration  # sealed


def test_ccpa_categories_need_one_data_point_besides_the_contact(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(
        shop_web,
        ANA,
        subject={"name": "Ana Silva", "emails": [ANA]},
        regime="ccpa",
        country="US",
        subdivision="CA",
        access_scope="categories",
    )
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    points = open_link(shop_client, letter)
    done = post(shop_client, "/verify/points", {"session": session_of(points.text), "point_city": "san francisco"})
    assert CATALOGS["en"]["verify.title.done"] in done.text and status(shop_web, rid) == "verified"


def test_an_agent_s_request_is_confirmed_by_the_consumer_then_waits_for_legal_to_review_the_permission(
    shop_web: WebApp, shop_client: TestClient
) -> None:
    agent = {"name": "Acme Privacy Agents", "email": "agent@acme.example", "kind": "authorized_agent"}
    rid = log(shop_web, agent=agent)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.to == JANE  # the consumer's contact on file, never the agent's
    landing = shop_client.get(letter.path)
    assert "Acme Privacy Agents" in landing.text
    page = open_link(shop_client, letter, confirm="yes")
    assert CATALOGS["en"]["verify.title.legal"] in page.text
    assert status(shop_web, rid) == "awaiting_verification"
    assert sorted(e["proof"] for e in events(shop_web, rid, "VerificationProofGiven")) == ["consumer_confirmation", "contact"]


def test_a_consumer_who_did_not_authorise_the_agent_refuses_the_request(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, agent={"name": "Someone", "kind": "authorized_agent"})
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    page = open_link(shop_client, letter, confirm="no")
    assert page.status_code == 403 and status(shop_web, rid) == "denied"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_the_pages_speak_the_subject_s_language(shop_web: WebApp, shop_client: TestClient, lang: str) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    page = unescape(shop_client.get(letter.path, headers={"Accept-Language": lang}).text)  # French's apostrophes
    assert f'<html lang="{lang}">' in page and CATALOGS[lang]["verify.landing.confirm"] in page
    assert CATALOGS[lang]["verify.code.intro"] in unescape(shop_client.get("/verify", headers={"Accept-Language": lang}).text)


# --- tampered, expired, reused and foreign links ----------------------------------------------


def test_a_tampered_link_reads_like_an_unknown_one_and_spends_nothing(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    token = letter.path.rsplit("/", 1)[1]
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in (flipped, token[:-2], token + "00", "x" * 500, token.upper()):
        page = shop_client.get(f"/verify/l/{bad}")
        assert page.status_code == 404 and CATALOGS["en"]["verify.invalid.text"] in page.text
    assert status(shop_web, rid) == "awaiting_verification"
    assert open_link(shop_client, letter).status_code == 200 and status(shop_web, rid) == "verified"


def test_a_used_link_does_not_work_twice(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **CCPA_PIECES)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    first = open_link(shop_client, letter)
    assert 'name="point_phone"' in first.text
    assert shop_client.get(letter.path).status_code == 404
    # nor the code that came with it
    assert give_code(shop_client, reference(shop_web, rid), letter.code or "").status_code == 422


def test_an_expired_link_refuses_the_request_as_unverifiable(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    page = shop_client.get(letter.path)
    with shop_web.web.ctx.uow() as uow:  # three days and a bit later
        case = uow.cases.get(rid)
        assert case is not None
        from dataclasses import replace

        uow.cases.save(replace(case, expires_at=case.created_at - timedelta(seconds=1)))
        uow.commit()
    assert shop_client.get(letter.path).status_code == 404
    from tests.web.conftest import csrf_from

    refused = shop_client.post(letter.path, data={"csrf_token": csrf_from(page.text), "confirm": "yes"})
    assert refused.status_code == 403 and status(shop_web, rid) == "denied"


def test_a_foreign_link_verifies_only_its_own_request(shop_web: WebApp, shop_client: TestClient) -> None:
    mine = log(shop_web)
    other = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]})
    start(shop_web, mine)
    start(shop_web, other)
    (ana_letter,) = letters(shop_web, reference(shop_web, other))
    # Ana's code typed with Jane's reference: wrong for Jane, counted against Jane's tries
    assert give_code(shop_client, reference(shop_web, mine), ana_letter.code or "").status_code == 422
    assert status(shop_web, mine) == "awaiting_verification" and status(shop_web, other) == "awaiting_verification"
    open_link(shop_client, ana_letter)
    assert status(shop_web, other) == "verified" and status(shop_web, mine) == "awaiting_verification"


def test_a_session_from_one_request_cannot_be_used_once_spent_or_replayed(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]}, **CCPA_PIECES)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    points = open_link(shop_client, letter)
    session = session_of(points.text)
    declaration = post(shop_client, "/verify/points", {"session": session, "point_phone": "+1 415 5550102", "point_city": "San Francisco"})
    assert 'name="full_name"' in declaration.text
    # the points page's session was replaced: replaying it finds nothing
    replay = post(shop_client, "/verify/points", {"session": session, "point_phone": "+1 415 5550102", "point_city": "San Francisco"})
    assert replay.status_code == 404


def test_resends_are_limited_and_each_new_link_ends_the_earlier_one(shop_web: WebApp) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    ctx = shop_web.web.ctx
    assert identity.resend(ctx, rid) and identity.resend(ctx, rid)
    assert not identity.resend(ctx, rid)  # three sends in all (DSAR_VERIFICATION_MAX_SENDS)
    sent = letters(shop_web, reference(shop_web, rid))
    assert len(sent) == 3 and len({x.code for x in sent}) == 3
    with TestClient(shop_web.fastapi) as c:
        assert c.get(sent[0].path).status_code == 404
        assert c.get(sent[-1].path).status_code == 200


def _path(url: str) -> str:
    """A link's path and query as a browser asks for it (the fragment stays in the browser)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1].split("#", 1)[0]


def test_a_german_request_s_letter_links_open_the_german_pages_whatever_the_browser_says(shop_web: WebApp) -> None:
    """The letter's link and code page carry the request's language (?lang=de): a browser set
    to English with a French cookie gets the German landing page, the German answer after it,
    and can still switch with the picker. The lang parameter changes the language only."""
    rid = log(shop_web, language="de")
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.link and f"{letter.link}?lang=de" in letter.body  # the link ends where the token does, then the language
    code_page = re.search(r"http://\S+/verify\?lang=de(?=\s)", letter.body)
    assert code_page, "the code page's address carries the letter's language"
    with TestClient(shop_web.fastapi, headers={"Accept-Language": "en"}, cookies={"lang": "fr"}) as browser:
        landing = browser.get(_path(f"{letter.link}?lang=de"))
        assert landing.status_code == 200 and '<html lang="de">' in landing.text
        assert CATALOGS["de"]["verify.title.landing"] in unescape(landing.text)
        assert browser.get(_path(code_page.group(0))).text.count(CATALOGS["de"]["verify.title.code"]) >= 1
        # the picker still switches (the link's page in French), then back
        assert '<html lang="fr">' in browser.get(f"{letter.path}?lang=fr").text
        landing = browser.get(_path(f"{letter.link}?lang=de"))
        done = browser.post(letter.path, data={"csrf_token": csrf_from(landing.text), "confirm": "yes"})
        assert done.status_code == 200 and '<html lang="de">' in done.text and CATALOGS["de"]["verify.title.done"] in unescape(done.text)
    assert status(shop_web, rid) == "verified"


def test_the_lang_parameter_never_stands_in_for_the_link_s_token(shop_web: WebApp, shop_client: TestClient) -> None:
    """A forged token with ?lang=de is the invalid-link page (in German); the real one with an
    unknown language opens as it would without one (the browser's language, else English)."""
    rid = log(shop_web, language="de")
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    assert letter.link
    forged = letter.path[:-1] + ("1" if letter.path[-1] != "1" else "2")
    for query in ("?lang=de", "?lang=de&lang=en", "?lang=../de"):
        page = shop_client.get(forged + query)
        assert page.status_code == 404 and reference(shop_web, rid) not in page.text
    assert CATALOGS["de"]["verify.title.invalid"] in unescape(shop_client.get(forged + "?lang=de").text)
    with TestClient(shop_web.fastapi) as fresh:
        unknown = fresh.get(f"{letter.path}?lang=xx")
        assert unknown.status_code == 200 and '<html lang="en">' in unknown.text and "lang" not in unknown.cookies
        assert '<html lang="es">' in fresh.get(f"{letter.path}?lang=xx", headers={"Accept-Language": "es"}).text
    assert status(shop_web, rid) == "awaiting_verification"  # nothing spent by any of it
