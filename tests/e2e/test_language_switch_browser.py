"""The language switch on the access package's page in a real headless Chromium, under the
page's real CSP: the subject opens the letter's link (``/package?lang=en#TOKEN``), switches to
German, asks for the code, switches to French on the code page, and downloads the package with
the code mailed to them. The secret goes from page to page in the fragment only, never in what
the browser sends to the server, and the pages pass axe after each switch."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsar.web.i18n import CATALOGS
from dsar.web.server import WebServer, start_web
from tests.e2e.browser import browser_page, require
from tests.e2e.test_public_form_browser import AXE, assert_accessible, shot
from tests.packages import latest_package_code
from tests.web.conftest import WebApp, make_web
from tests.web.test_package_page import answered


@pytest.fixture
def served_shop(tmp_path: Path) -> Iterator[tuple[WebApp, WebServer]]:
    from dsar.demo.shop import seed_shop

    w = make_web(tmp_path / "home", web_port=0)
    seed_shop(w.app.settings.demo_shop_path)
    server = start_web(w.web)
    try:
        yield w, server
    finally:
        server.stop()
        w.app.engine.dispose()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    require(AXE.exists(), "axe-core is not installed (scripts/ensure-axe installs it)")
    with browser_page(tmp_path / "last.png", 1100, 900) as pg:
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.console_problems = problems
        yield pg


def test_switching_language_on_the_package_page_keeps_the_link_s_secret(
    served_shop: tuple[WebApp, WebServer], page: Any, tmp_path: Path
) -> None:
    w, server = served_shop
    reference, token = answered(w)
    outbox = w.app.settings.effective_outbox_dir
    addresses: list[str] = []  # what the browser asked the server for (a fragment is never part of it)
    bodies: list[str] = []
    page.on("request", lambda r: (addresses.append(r.url.split("#", 1)[0]), bodies.append(r.post_data or "")))

    page.goto(server.url + "/package?lang=en#" + token)
    assert page.locator("h1").inner_text() == CATALOGS["en"]["package.title"]
    assert page.locator("#token").input_value() == token

    # German, from the link's page: the page again, the secret still in the form
    page.locator("nav.lang").get_by_role("link", name="Deutsch").click()
    page.wait_for_url("**/package?lang=de")  # the secret left the address bar again
    de = CATALOGS["de"]
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == de["package.title"]
    assert page.locator("#token").input_value() == token
    assert_accessible(page, "package (de) after the switch")
    shot(page, tmp_path, "package-de")

    # the code step (an answer to POST /package/code), then French: the link's page, the secret
    # carried from the code form
    page.get_by_role("button", name=de["package.send_code"]).click()
    page.wait_for_url("**/package/code")
    assert page.locator("#code").is_visible()
    page.locator("nav.lang").get_by_role("link", name="Français").click()
    page.wait_for_url("**/package?lang=fr")
    fr = CATALOGS["fr"]
    assert page.locator("h1").inner_text() == fr["package.title"]
    assert page.locator("#token").input_value() == token
    assert_accessible(page, "package (fr) after the switch from the code step")

    # and the link still works: a code, then the zip
    page.get_by_role("button", name=fr["package.send_code"]).click()
    page.wait_for_url("**/package/code")
    page.locator("#code").fill(latest_package_code(outbox, reference))
    with page.expect_download() as download:
        page.get_by_role("button", name=fr["package.download"]).click()
    saved = tmp_path / "package.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        assert z.testzip() is None and z.namelist()

    # the secret went in no address, only in the forms' posts: the two code requests, the download
    assert [a for a in addresses if token in a] == []
    assert sum(token in b for b in bodies) == 3
    assert page.console_problems == []
