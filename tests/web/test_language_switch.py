"""The language switch keeps the subject where they are: its links carry the address's other
parameters (the appeal's reference, the thank-you page's signed token) with only ``lang``
replaced and hostile values escaped; a page answering a post switches to a page that can be
fetched (the link's page, /verify) or, on a proof page, posts its session again; no link carries
a secret that the address did not. The fragment's secret on /package and /letter is carried by
the page's script: tests/e2e/test_language_switch_browser.py."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

from fastapi.testclient import TestClient

from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.web.conftest import WebApp, csrf_from, submit_form
from tests.web.test_package_page import answered, ask_code
from tests.web.verify_fixtures import ANA, letters, log, open_link, reference, session_of, start

_SWITCH = re.compile(r'<nav class="lang".*?</nav>', re.S)
_HREF = re.compile(r'<a href="([^"]*)" lang="([a-z]{2})" hreflang')


def switch(page: str) -> dict[str, str]:
    """The switch's links on a page, language -> href (unescaped, as the browser reads it)."""
    nav = _SWITCH.search(page)
    assert nav, "the page has no language switch"
    links = {code: html.unescape(href) for href, code in _HREF.findall(nav.group(0))}
    assert set(links) == set(LANGUAGES), nav.group(0)
    return links


def query(href: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(href).query, keep_blank_values=True)


def test_the_appeal_page_s_switch_keeps_the_appeal(client: TestClient) -> None:
    page = client.get("/?appeal_of=DSR-2026-000123&lang=en")
    assert page.status_code == 200 and CATALOGS["en"]["appeal.intro"].format(reference="DSR-2026-000123") in page.text
    for code, href in switch(page.text).items():
        assert href == f"?appeal_of=DSR-2026-000123&lang={code}"
    german = client.get("/" + switch(page.text)["de"])
    assert '<html lang="de">' in german.text
    assert CATALOGS["de"]["appeal.intro"].format(reference="DSR-2026-000123") in html.unescape(german.text)

    # the appeal's form with problems (it posts to /?lang=en, the reference in the body): still the appeal
    errors = submit_form(client, {"appeal_of": "DSR-2026-000123", "type": "appeal"}, path="/?appeal_of=DSR-2026-000123&lang=en")
    assert errors.status_code == 422
    assert switch(errors.text)["fr"] == "?appeal_of=DSR-2026-000123&lang=fr"


def test_the_thank_you_page_s_switch_keeps_its_token(client: TestClient) -> None:
    sent = submit_form(client, {"type": "access", "country": "DE", "name": "Jane Doe", "email": "jane@example.com"}, path="/?lang=en")
    assert sent.status_code == 303
    thanks = client.get(sent.headers["location"])
    token = dict(query(sent.headers["location"]))["r"]
    links = switch(thanks.text)
    for code, href in links.items():
        assert query(href) == [("r", token), ("lang", code)], href
    french = client.get("/thanks" + links["fr"], follow_redirects=False)
    assert french.status_code == 200 and '<html lang="fr">' in french.text  # not sent back to the form
    assert CATALOGS["fr"]["thanks.title"] in html.unescape(french.text) and "DSR-" in french.text


def test_the_switch_replaces_only_lang_and_escapes_what_the_address_holds(client: TestClient) -> None:
    hostile = '"><script>alert(1)</script>&x=y#z'
    page = client.get("/verify", params=[("lang", "en"), ("q", hostile), ("lang", "es"), ("q", "two")])
    assert page.status_code == 200
    nav = _SWITCH.search(page.text)
    assert nav and "<script" not in nav.group(0) and '"><' not in nav.group(0)
    for code, href in switch(page.text).items():
        assert href.startswith("?")  # this page: no other path, no host
        assert query(href) == [("q", hostile), ("q", "two"), ("lang", code)]


def test_a_link_page_switches_to_the_link_s_page_and_never_writes_the_secret_into_a_link(shop_web: WebApp) -> None:
    _, token = answered(shop_web)
    with TestClient(shop_web.fastapi) as client:
        start_page = client.get("/package?lang=en")
        assert switch(start_page.text)["de"] == "/package?lang=de"
        status, code_page = ask_code(client, token)  # the answer to POST /package/code
        assert status == 200 and 'name="code"' in code_page
        assert switch(code_page)["de"] == "/package?lang=de"  # /package/code cannot be fetched
        assert token not in _SWITCH.search(code_page).group(0)  # type: ignore[union-attr]
        assert '<script src="/static/package.js">' in code_page  # which carries the secret in the fragment
        assert client.get("/package?lang=de").status_code == 200
        for part in ("package", "letter"):
            gone = client.post(f"/{part}/code", data={"csrf_token": csrf_from(start_page.text), "token": "0" * 64})
            assert gone.status_code == 410 and switch(gone.text)["fr"] == f"/{part}?lang=fr"


def test_a_proof_page_s_switch_posts_its_session_and_shows_the_same_step(shop_web: WebApp, shop_client: TestClient) -> None:
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
    points = open_link(shop_client, letter)  # the answer to POST /verify/l/TOKEN
    session = session_of(points.text)
    nav = _SWITCH.search(points.text)
    assert nav and 'action="/verify/step?lang=de"' in nav.group(0) and "<a " not in nav.group(0)
    assert nav.group(0).count(f'name="session" value="{session}"') == len(LANGUAGES)

    german = shop_client.post("/verify/step?lang=de", data={"csrf_token": csrf_from(points.text), "session": session})
    assert german.status_code == 200 and '<html lang="de">' in german.text
    assert 'name="point_city"' in german.text and session_of(german.text) == session  # the same step, nothing spent
    assert CATALOGS["de"]["verify.title.points"] in html.unescape(german.text)
    refused = shop_client.post("/verify/step?lang=de", data={"session": session})
    assert refused.status_code == 403  # the CSRF token first, as every post

    done = shop_client.post(
        "/verify/points", data={"csrf_token": csrf_from(german.text), "session": session, "point_city": "san francisco"}
    )
    assert CATALOGS["de"]["verify.title.done"] in html.unescape(done.text)
    assert switch(done.text)["en"] == "/verify?lang=en"  # /verify/points cannot be fetched
    gone = shop_client.post("/verify/step?lang=en", data={"csrf_token": csrf_from(german.text), "session": session})
    assert gone.status_code == 404 and CATALOGS["en"]["verify.title.invalid"] in html.unescape(gone.text)


def test_the_pages_that_can_be_fetched_again_switch_in_place(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    (letter,) = letters(shop_web, reference(shop_web, rid))
    landing = shop_client.get(letter.path + "?lang=en")
    assert switch(landing.text)["de"] == "?lang=de"  # the link's own page, its token in the path as before
    for path in ("/verify", "/verify/resend"):
        assert switch(shop_client.get(path).text)["es"] == "?lang=es"
