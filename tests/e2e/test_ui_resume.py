"""Legal's work in the Prefect UI, in a real headless Chromium: the run waits suspended; a
subject follows the verification link in the browser (the web app wakes the run), then a
person clicks Resume and signs off in the form — their name
picked from the legal roster's dropdown and the code of their authenticator (computed here
from the secret `dsar users totp` enrolled, with the real RFC 6238 TOTP); a wrong code is
refused and asked again; the right one closes the request."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dsar.crypto.totp import code_at, secret_from_base32
from dsar.demo.run import latest_code, latest_link
from tests.e2e.browser import browser_page
from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.e2e.test_deadline_watch import post

pytestmark = pytest.mark.prefect


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with browser_page(tmp_path / "last.png", 1400, 1000) as pg:
        yield pg


SHOTS = os.environ.get("DSAR_SCREENSHOTS_DIR")  # set: the sign-off dialog and the runs list are saved there


def overflowing(dialog: Any) -> list[str]:
    """Elements of the dialog that reach past its right edge (a plan clipped at the dialog's
    edge, or sideways scrolling): their tag and start of text."""
    found: list[str] = dialog.evaluate(
        """d => { const edge = d.getBoundingClientRect().right + 1;
                  return Array.from(d.querySelectorAll('*'))
                    .filter(x => x.getBoundingClientRect().right > edge && x.getClientRects().length)
                    .map(x => x.tagName + ': ' + (x.textContent || '').trim().slice(0, 60)); }"""
    )
    return found


def pick_many(page: Any, dialog: Any, n: int, choices: tuple[str, ...]) -> None:
    """Tick ``choices`` in the n-th dropdown when it is a multi-select (the exemptions)."""
    dialog.locator("button.p-select-button__control").nth(n).focus()
    page.keyboard.press("ArrowDown")
    for choice in choices:
        page.get_by_role("option", name=choice, exact=True).click()
    # the list stays open for more ticks (Escape only clears its search box): click beside it
    dialog.locator("h3").first.click()
    page.get_by_role("option", name=choices[0], exact=True).wait_for(state="hidden")
    shown = dialog.locator("button.p-select-button__control").nth(n).inner_text()
    assert all(c in shown for c in choices), shown


def resume_in_ui(
    page: Any,
    url: str,
    texts: list[Any],
    choose: tuple[str, ...] = (),
    dump: Path | None = None,
    exempt: tuple[str, ...] = (),
    ground: str | None = None,
    shot: str | None = None,
) -> None:
    """Click Resume and fill the form: the dropdowns (Enum fields) in field order, then the text
    areas in field order. Prefect's form does not tie labels to inputs, so order it is. A text
    may be a function, called when it is typed (an authenticator code of that moment).

    The form can re-render once its schema and initial data arrive, wiping what was typed a
    moment before; a person would see the box empty and type again, and so does this. Then the
    dialog must close: a form that stays open (a validation message) fails here, saying why."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url)
    page.get_by_role("button", name="Resume").click(timeout=60_000)
    dialog = page.get_by_role("dialog")
    dialog.locator("textarea").first.wait_for()
    if dump is not None:
        dump.write_text(dialog.inner_html())
    for n, choice in enumerate(choose):
        # A mouse click on the closed dropdown does not open it in headless Chromium; the
        # keyboard does (as it would for a keyboard user).
        dialog.locator("button.p-select-button__control").nth(n).focus()
        page.keyboard.press("ArrowDown")
        page.get_by_role("option", name=choice, exact=True).click()
        # the chosen value shows in the closed control before anything is submitted
        assert dialog.locator(".p-select-button__value").nth(n).inner_text().strip() == choice
    if exempt:
        pick_many(page, dialog, 3, exempt)  # decision, approver, reason, then the exemptions
    if ground is not None:
        dialog.locator("button.p-select-button__control").nth(4).focus()
        page.keyboard.press("ArrowDown")
        page.get_by_role("option", name=ground, exact=True).click()
        assert dialog.locator(".p-select-button__value").nth(4).inner_text().strip() == ground
    for i, text in enumerate(texts):
        value = text() if callable(text) else text
        box = dialog.locator("textarea").nth(i)
        for _ in range(5):
            box.fill(value)
            page.wait_for_timeout(1_000)
            if box.input_value() == value:
                break
        else:
            pytest.fail(f"text area {i} of the resume form does not keep what is typed")
    if shot is not None:
        assert overflowing(dialog) == []  # the plan fits the dialog: no sideways scrolling
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            dialog.screenshot(path=str(Path(SHOTS) / shot))
    dialog.get_by_role("button", name="Submit").click()
    try:
        dialog.wait_for(state="hidden", timeout=60_000)
    except PlaywrightTimeout:
        pytest.fail("the resume form did not close after Submit: " + dialog.inner_text()[-1500:])


def form_schema(server: PrefectServer, run_id: str) -> dict[str, Any]:
    inputs = post(server, f"/flow_runs/{run_id}/input/filter", {"prefix": "suspended-sign-off", "limit": 50})
    schemas = [i for i in inputs if i["key"].endswith("-schema")]
    assert len(schemas) == 1, [i["key"] for i in inputs]
    schema: dict[str, Any] = json.loads(schemas[0]["value"])
    return schema


def explain(dsar: Dsar, server: PrefectServer, ref: str, run_id: str) -> str:
    """Where things stood when a wait ran out: the request, the run, the worker's last words."""
    events = [e["kind"] for e in dsar.json("request", "events", ref)]
    serve_log = dsar.home.parent / "serve.log"
    tail = serve_log.read_text(errors="replace")[-3000:] if serve_log.exists() else "(no serve.log)"
    return (
        f"request {dsar.json('request', 'show', ref)['status']}, run {server.run_state(run_id)}, "
        f"events {events}\n--- dsar serve ---\n{tail}"
    )


def test_a_person_verifies_and_signs_off_through_the_prefect_ui(prefect_server: PrefectServer, dsar: Dsar, page: Any) -> None:
    from dsar.demo.shop import seed_shop

    seed_shop(dsar.home / "demo" / "shop.db")
    assert dsar("users", "add", "lena.legal", "--role", "legal").returncode == 0
    enrolled = dsar("users", "totp", "lena.legal", "--no-qr")
    secret = secret_from_base32(parse_qs(urlsplit(enrolled.stdout.split("otpauth://", 1)[1].split()[0]).query)["secret"][0])
    serving = dsar.serve()
    try:
        wait_until(lambda: prefect_server.has_deployment("process-request/process-request"), 180, "dsar serve to register its deployment")
        new = dsar.json(
            "request",
            "new",
            "--type",
            "access",
            "--regime",
            "gdpr",
            "--country",
            "DE",
            "--name",
            "Jane Doe",
            "--email",
            "jane.doe@example.com",
        )
        run_id, ref = new["flow_run_id"], new["reference"]
        assert run_id, new["flow_run"]
        url = f"{prefect_server.ui}/runs/flow-run/{run_id}"

        wait_until(lambda: prefect_server.run_state(run_id) == "PAUSED", 180, "the run to wait for the subject")
        code = latest_code(dsar.home / "outbox", ref)
        link = latest_link(dsar.home / "outbox", ref)
        assert code is not None and link is not None
        # the subject follows the single-use link in a real browser and confirms; the web app
        # judges it and wakes the run (nobody resumes anything in Prefect)
        page.goto(link)
        page.get_by_role("button", name="Yes, I made this request").click()
        page.get_by_text("Your identity is confirmed").wait_for(timeout=30_000)
        wait_until(
            lambda: dsar.json("request", "show", ref)["status"] == "awaiting_sign_off" and prefect_server.run_state(run_id) == "PAUSED",
            180,
            "the sign-off form",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )

        # the runs list says what the run waits for and when it is due
        tags = prefect_server.get(f"/flow_runs/{run_id}")["tags"]
        assert "awaiting:legal" in tags and any(t.startswith("due:20") for t in tags), tags

        # a wrong code: refused, recorded, and the form is asked again
        wrong = f"{(int(code_at(secret, datetime.now(UTC))) + 500_000) % 1_000_000:06d}"
        resume_in_ui(page, url, [wrong], choose=("approve", "lena.legal"))
        wait_until(
            lambda: (
                "SignOffRefused" in [e["kind"] for e in dsar.json("request", "events", ref)]
                and prefect_server.run_state(run_id) == "PAUSED"
            ),
            180,
            "the refused attempt and the form again",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        assert dsar.json("request", "show", ref)["status"] == "awaiting_sign_off"

        # the runs list: what the run waits for, and when it is due
        if SHOTS:
            page.goto(f"{prefect_server.ui}/runs")
            page.get_by_text("awaiting:legal").first.wait_for(timeout=60_000)
            page.screenshot(path=str(Path(SHOTS) / "prefect-runs-list.png"))
        dump = dsar.home.parent / "sign-off-dialog.html"
        entity = next(t for t in form_schema(prefect_server, run_id)["properties"]["exemptions"]["items"]["enum"] if "/" in t and "." in t)
        page.set_viewport_size({"width": 1400, "height": 2400})  # the whole dialog in one screenshot
        resume_in_ui(
            page,
            url,
            [lambda: code_at(secret, datetime.now(UTC))],
            choose=("approve", "lena.legal"),
            dump=dump,
            exempt=(entity,),
            ground="gdpr-17-3-e",
            shot="prefect-sign-off-dialog.png",
        )
        shown = dump.read_text()
        assert ref in shown and "The last attempt was refused" in shown  # the plan summary is shown above the form
        assert "letter-preview" in shown and "fields of" in shown

        # legal kept part out: the answer is a partial refusal, so its letter waits for legal's
        # approval too (DSAR_LETTER_SIGN_OFF's default), in a form of its own
        wait_until(
            lambda: (
                "awaiting:legal-letter" in prefect_server.get(f"/flow_runs/{run_id}")["tags"]
                and prefect_server.run_state(run_id) == "PAUSED"
            ),
            180,
            "the letter's sign-off form",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        assert dsar.json("request", "show", ref)["status"] == "responding"
        assert not (dsar.home / "outbox" / f"{ref}.access_response_dsar.eml").exists()  # nothing went yet
        time.sleep(31 - time.time() % 30)  # a code is good once per account: the next 30-second step
        letter_dump = dsar.home.parent / "letter-dialog.html"
        resume_in_ui(
            page,
            url,
            [lambda: code_at(secret, datetime.now(UTC))],
            choose=("approve", "lena.legal"),
            dump=letter_dump,
            shot="prefect-letter-sign-off-dialog.png",
        )
        letter_form = letter_dump.read_text()
        assert ref in letter_form and "letter-preview" in letter_form and "Jane" not in letter_form
        wait_until(
            lambda: dsar.json("request", "show", ref)["status"] == "closed",
            180,
            "the request to close",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        events = dsar.json("request", "events", ref)
        sign_off = next(e for e in events if e["kind"] == "SignOffRecorded")
        assert sign_off["details"] == {
            "step": "release",
            "decision": "approve",
            "approver": "lena.legal",
            "verified_by": "totp",
            "via": "prefect-ui",
            "flow_run": run_id,
            "exemptions": [{"target": entity, "ground": "gdpr-17-3-e"}],
        }
        letter = next(e for e in events if e["kind"] == "LetterSignOffRecorded")
        assert {k: letter["details"][k] for k in ("decision", "approver", "verified_by", "via", "flow_run")} == {
            "decision": "approve",
            "approver": "lena.legal",
            "verified_by": "totp",
            "via": "prefect-ui",
            "flow_run": run_id,
        }
        refused = next(e for e in events if e["kind"] == "SignOffRefused")
        assert refused["details"]["reason"] == "wrong_code" and wrong not in json.dumps(refused)
        assert (dsar.home / "outbox" / f"{ref}.access_response_dsar.eml").exists()
        # what the person typed (the code, the approver) is gone from Prefect's database once
        # the engine recorded it (security probe, item 11)
        inputs = post(prefect_server, f"/flow_runs/{run_id}/input/filter", {"prefix": "suspended-", "limit": 50})
        assert [i["key"] for i in inputs if i["key"].endswith(("-response", "-description", "-schema"))] == []
        assert code not in json.dumps(inputs) and "lena.legal" not in json.dumps(inputs)
        assert "awaiting:legal" not in prefect_server.get(f"/flow_runs/{run_id}")["tags"]
    finally:
        serving.terminate()
        serving.wait(timeout=60)
