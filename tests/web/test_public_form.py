"""The public request form through the FastAPI test client: languages, regime picking, what is
stored, the thank-you page, and every kind of bad input (nothing stored, nothing rendered live)."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dsar.services import queries
from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.web.conftest import WebApp, csrf_from, make_web, submit_form

ANN = {"type": "access", "country": "DE", "name": "Ann Example", "email": "ann@example.com"}


def only_request(web_app: WebApp) -> queries.RequestView:
    rows = queries.request_list(web_app.web.ctx)
    assert len(rows) == 1
    return queries.request_view(web_app.web.ctx, rows[0].reference, reveal=True, via="test")


def thanks_text(client: TestClient, response: Any) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    main = re.search(r"<main id=\"main\">(.*)</main>", page.text, re.S)
    assert main
    return main.group(1)


# --- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_the_form_speaks_the_browsers_language(client: TestClient, lang: str) -> None:
    page = client.get("/", headers={"Accept-Language": f"{lang};q=0.9, it;q=0.8"})
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert CATALOGS[lang]["form.title"] in page.text
    assert CATALOGS[lang]["form.submit"] in page.text


def test_the_language_switch_is_remembered(client: TestClient) -> None:
    page = client.get("/?lang=es", headers={"Accept-Language": "de"})
    assert '<html lang="es">' in page.text
    assert client.cookies.get("lang") == "es"
    again = client.get("/", headers={"Accept-Language": "de"})
    assert '<html lang="es">' in again.text
    # the switch links to each language, the current one marked
    assert 'href="?lang=de"' in page.text and 'aria-current="true">Español' in page.text


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_page_a_subject_sees_speaks_each_language(client: TestClient, lang: str) -> None:
    # the form, the code page, the package download page, the letter page and the error page
    for path, key in (("/", "form.title"), ("/verify", "verify.title.code"), ("/package", "package.title"), ("/letter", "letter.title")):
        page = client.get(f"{path}?lang={lang}")
        assert page.status_code == 200 and f'<html lang="{lang}">' in page.text, path
        assert CATALOGS[lang][key] in page.text, path
        # the switch offers every language, each named in its own language, the current one marked
        for code, name in LANGUAGES.items():
            assert f'hreflang="{code}"' in page.text and f">{name}</a>" in page.text, (path, code)
        assert f'aria-current="true">{LANGUAGES[lang]}' in page.text, path
    missing = client.get(f"/no-such-page?lang={lang}")
    assert missing.status_code == 404 and CATALOGS[lang]["error.404"] in html.unescape(missing.text)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_submitting_in_each_language(client: TestClient, web_app: WebApp, lang: str) -> None:
    token = csrf_from(client.get(f"/?lang={lang}").text)
    response = client.post(f"/?lang={lang}", data={"csrf_token": token, **ANN}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/thanks?lang={lang}&")
    text = thanks_text(client, response)
    assert CATALOGS[lang]["thanks.title"] in text
    assert CATALOGS[lang]["thanks.step3.access"] in text
    view = only_request(web_app)
    assert (view.type, view.regime, view.country, view.channel) == ("access", "gdpr", "DE", "web")
    assert view.subject.name == "Ann Example" and view.subject.emails == ("ann@example.com",)
    assert [s.request_id for s in web_app.orchestrator.started] == [view.id]
    assert view.language == lang  # the subject's letters are written in the form's language


def test_errors_come_in_the_pages_language(client: TestClient, web_app: WebApp) -> None:
    token = csrf_from(client.get("/?lang=de").text)
    response = client.post("/?lang=de", data={"csrf_token": token, "country": "DE"})
    assert response.status_code == 422
    assert CATALOGS["de"]["err.summary"] in response.text
    assert CATALOGS["de"]["err.name"] in response.text
    assert web_app.request_count() == 0


# --- where the person lives picks the regime ----------------------------------------------------


@pytest.mark.parametrize(
    ("country", "subdivision", "regime", "stored_country", "stored_sub"),
    [
        ("US", "US-VA", "vcdpa", "US", "VA"),
        ("US", "US-TX", "tdpsa", "US", "TX"),
        ("GB", "GB-SCT", "uk-gdpr", "GB", "SCT"),
        ("CA", "CA-ON", "pipeda", "CA", "ON"),
        ("FR", "", "gdpr", "FR", None),
        ("BR", "", "lgpd", "BR", None),
        ("US", "US-NY", "gdpr", "IE", None),  # a state without a law the engine knows: the default
        ("JP", "", "jp", "JP", None),  # issue 16: Japan's APPI (was the default)
        ("MX", "", "gdpr", "IE", None),
        ("TH", "", "th", "TH", None),
        ("US", "US-IA", "us-ia", "US", "IA"),
        ("CA", "CA-QC", "ca-qc", "CA", "QC"),
        ("other", "", "gdpr", "IE", None),
        ("ZZ", "", "gdpr", "IE", None),
        ("../../etc/passwd", "", "gdpr", "IE", None),
    ],
)
def test_the_place_picks_the_regime(
    client: TestClient, web_app: WebApp, country: str, subdivision: str, regime: str, stored_country: str, stored_sub: str | None
) -> None:
    response = submit_form(client, {**ANN, "country": country, "subdivision": subdivision})
    assert response.status_code == 303, response.text
    view = only_request(web_app)
    assert (view.regime, view.country, view.subdivision) == (regime, stored_country, stored_sub)


def test_the_default_regime_is_the_organisations(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", web_default_regime="uk-gdpr", web_default_country="GB", web_default_subdivision="WLS")
    with TestClient(w.fastapi) as c:
        assert submit_form(c, {**ANN, "country": "other"}).status_code == 303
    view = only_request(w)
    assert (view.regime, view.country, view.subdivision) == ("uk-gdpr", "GB", "WLS")
    w.app.engine.dispose()


def test_the_uk_needs_its_nation(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "country": "GB", "subdivision": ""})
    assert response.status_code == 422 and 'href="#f-subdivision"' in response.text
    assert web_app.request_count() == 0


def test_california_access_asks_which_kind(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "country": "US", "subdivision": "US-CA"})
    assert response.status_code == 422
    assert CATALOGS["en"]["err.access_scope"] in response.text
    assert 'href="#f-access_scope-categories"' in response.text
    assert web_app.request_count() == 0
    response = submit_form(client, {**ANN, "country": "US", "subdivision": "US-CA", "access_scope": "specific_pieces"})
    assert response.status_code == 303
    view = only_request(web_app)
    assert (view.regime, view.subdivision, view.access_scope) == ("ccpa", "CA", "specific_pieces")


def test_a_scope_given_outside_california_is_dropped(client: TestClient, web_app: WebApp) -> None:
    assert submit_form(client, {**ANN, "access_scope": "categories"}).status_code == 303
    assert only_request(web_app).access_scope is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"country": "US"}, "err.subdivision"),
        ({"country": "US", "subdivision": "GB-ENG"}, "err.subdivision.mismatch"),
        ({"country": "US", "subdivision": "US-XX"}, "err.subdivision"),
        ({"country": "GB", "subdivision": "US-VA"}, "err.subdivision.mismatch"),
        ({"country": ""}, "err.country"),
    ],
)
def test_places_that_do_not_fit(client: TestClient, web_app: WebApp, fields: dict[str, str], message: str) -> None:
    response = submit_form(client, {**ANN, **fields})
    assert response.status_code == 422
    assert CATALOGS["en"][message] in response.text
    assert web_app.request_count() == 0


def test_a_right_the_law_does_not_give(client: TestClient, web_app: WebApp) -> None:
    """PIPEDA has no deletion right: the subject is told in plain words, nothing stored."""
    response = submit_form(client, {**ANN, "type": "deletion", "country": "CA"})
    assert response.status_code == 422
    contact = web_app.web.settings.privacy_contact
    assert CATALOGS["en"]["err.type.unavailable"].format(contact=contact) in response.text
    assert web_app.request_count() == 0


# --- what is stored ------------------------------------------------------------------------------


def test_a_correction_with_its_rows(client: TestClient, web_app: WebApp) -> None:
    fields = {
        **ANN,
        "type": "correction",
        "correction_attribute_1": "phone",
        "correction_value_1": "+49 30 1234567",
        "correction_attribute_3": "city",
        "correction_value_3": "Köln",
    }
    assert submit_form(client, fields).status_code == 303
    view = only_request(web_app)
    assert view.type == "correction"
    assert {(c.attribute, c.value) for c in view.corrections} == {("phone", "+49 30 1234567"), ("city", "Köln")}


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ({}, "correction_attribute_1", "err.corr.none"),
        ({"correction_attribute_2": "phone"}, "correction_value_2", "err.corr.value"),
        ({"correction_value_4": "x"}, "correction_attribute_4", "err.corr.attribute"),
        ({"correction_attribute_1": "password_hash", "correction_value_1": "x"}, "correction_attribute_1", "err.corr.attribute"),
        (
            {"correction_attribute_1": "city", "correction_value_1": "a", "correction_attribute_2": "city", "correction_value_2": "b"},
            "correction_attribute_2",
            "err.corr.twice",
        ),
    ],
)
def test_correction_rows_that_do_not_fit(client: TestClient, web_app: WebApp, rows: dict[str, str], field: str, message: str) -> None:
    response = submit_form(client, {**ANN, "type": "correction", **rows})
    assert response.status_code == 422
    assert f'<a href="#f-{field}">{CATALOGS["en"][message]}</a>' in response.text
    assert f'id="f-{field}"' in response.text and f'aria-describedby="e-{field}"' in response.text
    assert web_app.request_count() == 0


def test_rows_of_another_request_type_are_not_sent(client: TestClient, web_app: WebApp) -> None:
    assert submit_form(client, {**ANN, "correction_attribute_1": "phone", "correction_value_1": "1"}).status_code == 303
    assert only_request(web_app).corrections == ()


def test_an_authorized_agent(client: TestClient, web_app: WebApp) -> None:
    fields = {**ANN, "agent_name": "Bo Agent", "agent_email": "bo@agency.example", "agent_kind": "power_of_attorney"}
    assert submit_form(client, fields).status_code == 303
    agent = only_request(web_app).agent
    assert agent is not None and (agent.name, agent.email, agent.kind) == ("Bo Agent", "bo@agency.example", "power_of_attorney")


def test_an_agent_without_a_name_opens_the_section_with_the_error(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "agent_email": "bo@agency.example"})
    assert response.status_code == 422
    assert '<details class="agent" open>' in response.text
    assert f'<a href="#f-agent_name">{CATALOGS["en"]["err.agent_name"]}</a>' in response.text
    assert web_app.request_count() == 0


def test_a_reply_address_of_some_kind_is_needed(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "email": ""})
    assert response.status_code == 422
    assert CATALOGS["en"]["err.contact"] in response.text
    assert submit_form(client, {**ANN, "email": "", "postal_address": "1 Main St\nSpringfield"}).status_code == 303
    assert only_request(web_app).subject.postal_address == "1 Main St\nSpringfield"


# --- the thank-you page ------------------------------------------------------------------------


def test_a_repeat_is_a_request_of_its_own_and_its_page_shows_only_its_own_reference(client: TestClient, web_app: WebApp) -> None:
    # Security probe, item 4: nothing is verified at intake, so nothing is linked there; each
    # submission gets its own request, its own run and, on its page, its own reference only.
    first = thanks_text(client, submit_form(client, ANN))
    other = TestClient(web_app.fastapi)  # someone else, in another browser, with the same details
    second = thanks_text(other, submit_form(other, ANN))
    assert web_app.request_count() == 2
    assert len(web_app.orchestrator.started) == 2  # two requests, two runs
    one, two = sorted(r.reference for r in queries.request_list(web_app.web.ctx))
    assert one in first and two not in first
    assert two in second and one not in second
    # the same words whatever happens next: only the reference differs
    assert first.replace(one, "REF") == second.replace(two, "REF")
    assert CATALOGS["en"]["thanks.reference"].format(reference=two) in second


def test_the_thank_you_address_carries_nothing_personal(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, ANN)
    location = response.headers["location"]
    assert "ann" not in location.lower() and "example" not in location.lower()
    token = re.search(r"[?&]r=([^&]+)", location)
    assert token
    body = token.group(1).split(".")[0]
    (reference,) = [r.reference for r in queries.request_list(web_app.web.ctx)]
    assert reference not in location  # in the signed token, not in plain sight
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["d"] == {"type": "access", "reference": reference}


def test_a_thank_you_token_with_a_malformed_reference_shows_the_page_without_one(client: TestClient, web_app: WebApp) -> None:
    from datetime import UTC, datetime

    from dsar.web.public import THANKS_PURPOSE
    from dsar.web.signing import sign

    token = sign(web_app.web.session_key, THANKS_PURPOSE, {"type": "access", "reference": "<b>x</b>"}, datetime.now(UTC))
    page = client.get(f"/thanks?r={token}")
    assert page.status_code == 200 and "<b>x</b>" not in page.text and "thanks.reference" not in page.text
    assert CATALOGS["en"]["thanks.title"] in page.text


@pytest.mark.parametrize("query", ["", "?r=nonsense", "?r=eyJkIjp7InR5cGUiOiJhY2Nlc3MifSwidCI6MH0.AAAA"])
def test_the_thank_you_page_without_a_valid_token_goes_to_the_form(client: TestClient, query: str) -> None:
    response = client.get(f"/thanks{query}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_the_orchestrator_down_still_logs_and_thanks(client: TestClient, web_app: WebApp, caplog: pytest.LogCaptureFixture) -> None:
    web_app.orchestrator.up = False
    text = thanks_text(client, submit_form(client, ANN))
    assert CATALOGS["en"]["thanks.title"] in text
    assert web_app.request_count() == 1 and web_app.orchestrator.started == []
    reference = queries.request_list(web_app.web.ctx)[0].reference
    lines = [r.getMessage() for r in caplog.records if r.name == "dsar.web.public"]
    assert lines == [f"public form: request {reference} logged, no run started: no orchestrator answers"]


# --- bad input ---------------------------------------------------------------------------------

HOSTILE = ["<script>alert(1)</script>", "{{7*7}}", "'; DROP TABLE requests; --", "../../etc/passwd", '"><img src=x onerror=alert(1)>']


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_shown_escaped_on_errors(client: TestClient, web_app: WebApp, hostile: str) -> None:
    fields = {name: hostile for name in ("name", "phone", "account_id", "agent_name", "agent_organisation", "postal_address")}
    fields |= {"type": hostile, "country": hostile, "subdivision": hostile, "email": hostile, "access_scope": hostile}
    fields |= {"correction_attribute_1": hostile, "correction_value_1": hostile}
    response = submit_form(client, fields)
    assert response.status_code == 422
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    # the random CSRF token (base64) may hold "49" by chance: only the page's own text counts
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
    assert "49" not in re.sub(r"[0-9a-f]{32,}|\d{10,}", "", page)
    if "<" in hostile or '"' in hostile:
        assert hostile.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")[:12] in response.text
    assert web_app.request_count() == 0


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_stored_as_text(client: TestClient, web_app: WebApp, hostile: str) -> None:
    fields = {**ANN, "name": hostile, "account_id": hostile, "agent_name": hostile, "country": "FR"}
    assert submit_form(client, fields).status_code == 303
    view = only_request(web_app)
    assert view.subject.name == hostile and view.subject.account_id == hostile


def test_an_overlong_field_is_refused(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "name": "A" * 5000})
    assert response.status_code == 422
    assert CATALOGS["en"]["err.too_long"] in response.text
    assert web_app.request_count() == 0


def test_control_characters_are_refused_by_intake_with_a_plain_message(client: TestClient, web_app: WebApp) -> None:
    response = submit_form(client, {**ANN, "account_id": "abc\u202edef"})
    assert response.status_code == 422
    assert f'<a href="#f-account_id">{CATALOGS["en"]["err.characters"]}</a>' in response.text
    assert web_app.request_count() == 0


def test_invalid_utf8_is_400(client: TestClient, web_app: WebApp) -> None:
    token = csrf_from(client.get("/").text)
    for body in (f"csrf_token={token}&name=%FF%FE&type=access".encode(), f"csrf_token={token}&name=".encode() + b"\xff\xfe"):
        response = client.post("/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 400
    assert web_app.request_count() == 0


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain", None])
def test_a_wrong_content_type_is_415(client: TestClient, web_app: WebApp, content_type: str | None) -> None:
    client.get("/")
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/", content=json.dumps(ANN).encode(), headers=headers)
    assert response.status_code == 415
    assert web_app.request_count() == 0


def test_a_missing_or_forged_csrf_token_is_403(client: TestClient, web_app: WebApp) -> None:
    token = csrf_from(client.get("/").text)
    assert client.post("/", data=ANN).status_code == 403
    assert client.post("/", data={**ANN, "csrf_token": token[:-2] + ("xx" if token[-2:] != "xx" else "yy")}).status_code == 403
    stranger = TestClient(web_app.fastapi)  # a token from another browser
    assert stranger.post("/", data={**ANN, "csrf_token": token}).status_code == 403
    assert web_app.request_count() == 0
    assert client.post("/", data={**ANN, "csrf_token": token}, follow_redirects=False).status_code == 303
    assert web_app.request_count() == 1


def test_an_oversized_body_is_413(client: TestClient, web_app: WebApp) -> None:
    token = csrf_from(client.get("/").text)
    big = web_app.web.settings.web_max_body_bytes
    response = client.post("/", data={**ANN, "csrf_token": token, "postal_address": "x" * big})
    assert response.status_code == 413 and CATALOGS["en"]["error.413"] in response.text
    assert web_app.request_count() == 0


def test_too_many_from_one_address_is_429(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", web_rate_per_address=2)
    with TestClient(w.fastapi) as c:
        assert submit_form(c, {**ANN, "email": "a@example.com"}).status_code == 303
        assert submit_form(c, {**ANN, "email": "b@example.com"}).status_code == 303
        response = submit_form(c, {**ANN, "email": "c@example.com"})
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= 3600
        assert CATALOGS["en"]["slow.text"] in response.text
        assert re.search(r"Please try again in \d+ minutes\.", response.text)
    assert w.request_count() == 2
    w.app.engine.dispose()


def test_too_many_for_one_subject_is_429(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", web_rate_per_subject=1)
    with TestClient(w.fastapi) as c:
        assert submit_form(c, ANN).status_code == 303
        response = submit_form(c, {**ANN, "email": " ANN@example.com "}, headers={"Accept-Language": "de"})
        assert response.status_code == 429
        assert 3600 < int(response.headers["Retry-After"]) <= 86400
        assert CATALOGS["de"]["slow.text"] in response.text and "Stunden" in response.text
        assert submit_form(c, {**ANN, "email": "other@example.com"}).status_code == 303
    assert w.request_count() == 2
    w.app.engine.dispose()


# --- the page itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/?lang=de"])
def test_security_headers_and_no_inline_script_or_style(client: TestClient, path: str) -> None:
    page = client.get(path)
    h = page.headers
    assert "script-src 'self'" in h["Content-Security-Policy"] and "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "no-referrer" and h["X-Content-Type-Options"] == "nosniff"
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page.text, re.S)
    assert scripts == [""] and '<script src="/static/public.js" defer>' in page.text  # no inline script
    assert "style=" not in page.text and "<style" not in page.text and not re.search(r"\son[a-z]+=", page.text)
    cookie = next(c for c in h.get_list("set-cookie") if c.startswith("dsar_b="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_every_input_has_a_label(client: TestClient) -> None:
    page = client.get("/").text
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)
    assert len(ids) > 20
    for i in ids:
        assert f'<label for="{i}"' in page, i
    hidden = re.findall(r'<input type="hidden"[^>]*>', page)
    assert len(hidden) == 1


def test_the_error_summary_links_to_each_field_in_page_order(client: TestClient) -> None:
    response = submit_form(client, {"email": "nope"})
    links = re.findall(r'<li><a href="#([^"]+)">', response.text)
    assert links == ["f-type-access", "f-country", "f-name", "f-email"]
    for target in links:
        assert f'id="{target}"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert response.text.count('class="error-summary" role="alert"') == 1
    assert "<title>Error: " in response.text


def test_error_pages_explain_themselves_in_the_visitors_language(client: TestClient) -> None:
    client.get("/?lang=de")
    forged = client.post("/", data={**ANN, "csrf_token": "forged"})
    assert forged.status_code == 403 and CATALOGS["de"]["error.403"] in forged.text
    wrong = client.post("/", content=b"{}", headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415 and CATALOGS["de"]["error.415"] in wrong.text
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and CATALOGS["de"]["error.404"] in missing.text


def test_a_burst_for_many_subjects_from_one_sender_goes_to_legal_and_reads_the_same(tmp_path: Path) -> None:
    """THREATS 14: more than DSAR_WEB_BURST_SUBJECTS different subjects from one address within
    24 hours: each further request is escalated to legal as a verification risk and held; the
    sender's answer does not change. Another sender is not affected."""
    from dsar.domain.escalations import EscalationPoint
    from dsar.services import escalations

    w = make_web(tmp_path / "home", web_rate_per_address=100, web_burst_subjects=2)
    answers = []
    with TestClient(w.fastapi, client=("203.0.113.7", 50000)) as c:
        for n in range(4):
            answer = submit_form(c, {**ANN, "name": f"Person {n}", "email": f"person{n}@example.com"})
            answers.append((answer.status_code, answer.headers["location"].split("&r=")[0]))
        again = submit_form(c, {**ANN, "name": "Person 0", "email": "person0@example.com"})  # a subject already counted
    with TestClient(w.fastapi, client=("198.51.100.9", 50000)) as other:
        assert submit_form(other, {**ANN, "name": "Someone Else", "email": "else@example.com"}).status_code == 303
    assert len(set(answers)) == 1 and answers[0][0] == 303 and again.status_code == 303
    flagged = {}
    for row in queries.request_list(w.web.ctx):
        found = escalations.escalations(w.web.ctx, row.id)
        flagged[row.reference] = [(x.point, x.reason) for x in found]
    refs = sorted(flagged)
    assert [bool(flagged[r]) for r in refs] == [False, False, True, True, True, False]
    point, reason = flagged[refs[2]][0]
    assert point is EscalationPoint.VERIFICATION_RISK and "3 different subjects from one sender" in reason
    assert "person" not in reason.lower() and "203.0.113" not in reason  # no personal data, no address
    assert all(queries.lookup(w.web.ctx, r).on_hold for r in refs[2:5])
    w.app.engine.dispose()
