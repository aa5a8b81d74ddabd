"""The public form in a real headless Chromium: a subject fills it in (largely by keyboard) and
sees the thank-you page; axe-core (tests/a11y, pinned; scripts/ensure-axe) finds no serious or
critical violation on the form, the form with errors, and the thank-you page, in English and
German, and on the French pages. The pages run under their real CSP; axe is injected through the DevTools protocol
(``page.evaluate``), which a page's CSP does not govern.

Screenshots of each state go to the test's folder, and to ``$DSAR_SCREENSHOTS`` when set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsar.services import queries
from dsar.web.i18n import CATALOGS
from dsar.web.server import WebServer, start_web
from tests.e2e.browser import CHROMIUM, FLAGS, browser_page, require
from tests.web.conftest import WebApp, make_web

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebApp, WebServer]]:
    w = make_web(tmp_path / "home", web_port=0)
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
        # Chromium reports the form's 422 (a page with the problems) as a failed load: not a problem.
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.console_problems = problems
        yield pg


def shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("DSAR_SCREENSHOTS"):
        target = Path(os.environ["DSAR_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;void 0")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def assert_accessible(page: Any, where: str) -> None:
    violations = axe_violations(page)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{where}: {serious}"


def test_a_subject_submits_by_keyboard_and_the_pages_pass_axe(served: tuple[WebApp, WebServer], page: Any, tmp_path: Path) -> None:
    w, server = served
    page.goto(server.url + "/")
    assert page.locator("h1").inner_text() == CATALOGS["en"]["form.title"]
    assert_accessible(page, "form (en)")
    shot(page, tmp_path, "form-en")

    # The first Tab reaches the skip link, which is then visible.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["x"] >= 0

    # Empty: the error summary, focused, with links to the fields; errors tied to their fields.
    page.get_by_role("button", name=CATALOGS["en"]["form.submit"]).click()
    page.wait_for_url("**/?lang=en")
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("Error: ")
    name = page.get_by_label(CATALOGS["en"]["field.name"])
    assert name.get_attribute("aria-invalid") == "true"
    assert CATALOGS["en"]["err.name"] in page.locator(f"#{name.get_attribute('aria-describedby')}").inner_text()
    assert_accessible(page, "form with errors (en)")
    shot(page, tmp_path, "form-errors")

    # German: the switch, remembered.
    page.get_by_role("link", name="Deutsch").click()
    page.wait_for_url("**/?lang=de")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == CATALOGS["de"]["form.title"]
    assert_accessible(page, "form (de)")
    shot(page, tmp_path, "form-de")
    page.goto(server.url + "/")
    assert page.locator("html").get_attribute("lang") == "de"

    # By keyboard: the request type, the country, the name and email; Enter sends it.
    page.get_by_label(CATALOGS["de"]["type.access"]).focus()
    page.keyboard.press("ArrowDown")  # the next radio: delete my data
    assert page.get_by_label(CATALOGS["de"]["type.deletion"]).is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-country"
    page.keyboard.type("Frankreich")
    assert page.locator("#f-country").input_value() == "FR"
    page.get_by_label(CATALOGS["de"]["field.name"]).focus()
    page.keyboard.type("Anne <Testperson>")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-email"
    page.keyboard.type("anne@example.com")
    page.keyboard.press("Enter")
    page.wait_for_url("**/thanks?**")
    assert page.locator("h1").inner_text() == CATALOGS["de"]["thanks.title"]
    assert CATALOGS["de"]["thanks.step3.deletion"] in page.locator("main").inner_text()
    assert_accessible(page, "thank-you page (de)")
    shot(page, tmp_path, "thanks-de")

    rows = queries.request_list(w.web.ctx)
    assert [(r.type, r.regime) for r in rows] == [("deletion", "gdpr")]
    view = queries.request_view(w.web.ctx, rows[0].reference, reveal=True, via="test")
    assert (view.country, view.subject.name, view.subject.emails) == ("FR", "Anne <Testperson>", ("anne@example.com",))
    # No CSP violation or script error on any page.
    assert page.console_problems == []


def test_the_agent_section_opens_by_keyboard_and_a_narrow_screen_passes_axe(
    served: tuple[WebApp, WebServer], page: Any, tmp_path: Path
) -> None:
    _, server = served
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/?lang=es")
    summary = page.locator("details.agent summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.agent").get_attribute("open") is not None
    assert page.get_by_label(CATALOGS["es"]["agent.name"]).is_visible()
    assert_accessible(page, "form (es, narrow, agent open)")
    shot(page, tmp_path, "form-es-narrow")
    assert page.console_problems == []


def test_sections_follow_the_choices(served: tuple[WebApp, WebServer], page: Any, tmp_path: Path) -> None:
    """With JavaScript the form shows only what applies: the correction rows for a correction,
    the state list for the US, UK and Canada (that country's entries only), the California
    question for a Californian asking for their data."""
    _, server = served
    page.goto(server.url + "/?lang=en")
    corrections, scope, place = page.locator("fieldset.corrections"), page.locator("[data-when-scope]"), page.locator("[data-subdivisions]")
    assert not corrections.is_visible() and not scope.is_visible() and not place.is_visible()
    page.get_by_label(CATALOGS["en"]["type.correction"]).check()
    assert corrections.is_visible()
    page.get_by_label(CATALOGS["en"]["type.access"]).check()
    assert not corrections.is_visible()
    page.locator("#f-country").select_option("US")
    assert place.is_visible()
    assert page.locator("optgroup[data-country=US]").get_attribute("disabled") is None
    assert page.locator("optgroup[data-country=GB]").get_attribute("disabled") is not None
    page.locator("#f-subdivision").select_option("US-CA")
    assert scope.is_visible()
    assert_accessible(page, "form (en, California access)")
    shot(page, tmp_path, "form-california")
    page.locator("#f-country").select_option("GB")
    assert page.locator("#f-subdivision").input_value() == ""  # a US state is no UK nation
    assert not scope.is_visible()
    assert page.console_problems == []


def test_without_javascript_everything_shows_and_works(served: tuple[WebApp, WebServer], tmp_path: Path) -> None:
    require(CHROMIUM.exists(), "Chromium is not installed (scripts/ensure-chromium installs it)")
    from playwright.sync_api import sync_playwright

    w, server = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(server.url + "/?lang=es")
            for section in ("fieldset.corrections", "[data-when-scope]", "[data-subdivisions]"):
                assert page.locator(section).is_visible()
            page.get_by_label(CATALOGS["es"]["type.correction"]).check()
            page.locator("#f-country").select_option("US")
            page.locator("#f-subdivision").select_option("US-VA")
            page.get_by_label(CATALOGS["es"]["field.name"]).fill("Ana Ejemplo")
            page.get_by_label(CATALOGS["es"]["field.email"], exact=True).fill("ana@example.com")
            page.get_by_label(CATALOGS["es"]["corr.attribute"].format(n=1)).select_option("city")
            page.get_by_label(CATALOGS["es"]["corr.value"].format(n=1)).fill("Sevilla")
            page.get_by_role("button", name=CATALOGS["es"]["form.submit"]).click()
            page.wait_for_url("**/thanks?**")
            assert page.locator("h1").inner_text() == CATALOGS["es"]["thanks.title"]
            shot(page, tmp_path, "thanks-es-nojs")
        finally:
            browser.close()
    rows = queries.request_list(w.web.ctx)
    assert [(r.type, r.regime) for r in rows] == [("correction", "vcdpa")]
    view = queries.request_view(w.web.ctx, rows[0].reference, reveal=True, via="test")
    assert [(c.attribute, c.value) for c in view.corrections] == [("city", "Sevilla")]


def test_the_letter_link_s_page_takes_the_secret_from_the_fragment_and_passes_axe(
    served: tuple[WebApp, WebServer], page: Any, tmp_path: Path
) -> None:
    """The page behind a letter's link (a subject reached by text only): its script copies the
    secret from the URL fragment into the form and drops it from the address bar; the page
    passes axe in English and German."""
    _, server = served
    token = "DSR-2026-000042.access_response.3f1c9a0b7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a"
    page.goto(server.url + "/letter?lang=de#" + token)
    assert page.locator("h1").inner_text() == CATALOGS["de"]["letter.title"]
    assert page.locator("#token").input_value() == token
    assert "#" not in page.url  # the secret left the address bar and the history
    assert_accessible(page, "letter (de)")
    shot(page, tmp_path, "letter-de")
    page.goto(server.url + "/letter?lang=en")
    assert_accessible(page, "letter (en)")


def test_the_french_pages_pass_axe(served: tuple[WebApp, WebServer], page: Any, tmp_path: Path) -> None:
    """French, the longest of the languages: the form, the form with errors, the code page, the
    package's and the letter's pages pass axe, with the language switch offering French."""
    _, server = served
    fr = CATALOGS["fr"]
    page.goto(server.url + "/?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == fr["form.title"]
    assert page.locator("nav.lang [aria-current=true]").inner_text() == "Français"
    assert_accessible(page, "form (fr)")
    shot(page, tmp_path, "form-fr")
    page.get_by_role("button", name=fr["form.submit"]).click()
    page.wait_for_url("**/?lang=fr")
    assert page.title().startswith(fr["err.title_prefix"] + ": ")
    assert fr["err.name"] in page.locator(".error-summary").inner_text()
    assert_accessible(page, "form with errors (fr)")
    for path, key in (("/verify", "verify.title.code"), ("/package", "package.title"), ("/letter", "letter.title")):
        page.goto(server.url + path + "?lang=fr")
        assert page.locator("h1").inner_text() == fr[key]
        assert_accessible(page, f"{path} (fr)")
    shot(page, tmp_path, "letter-fr")
    assert page.console_problems == []
