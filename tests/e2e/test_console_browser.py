"""The staff console in a real headless Chromium: a support user signs in, logs a request
received by phone, finds it in the queue with its due date, opens it and flags it
legal-sensitive. Screenshots of the queue, the log form and the request page go to
/tmp/console-shots/ (or DSAR_CONSOLE_SHOTS) for a person to look at."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dsar.domain.accounts import Role
from dsar.services import queries
from tests.e2e.browser import browser_page
from tests.e2e.conftest import free_port
from tests.web.console_fixtures import NAMES, PASSWORD, Console, make_console, received_days_ago

SHOTS = Path(os.environ.get("DSAR_CONSOLE_SHOTS", "/tmp/console-shots"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Console, str]]:
    with ExitStack() as stack:
        console = make_console(tmp_path / "home", stack)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(console.fastapi, host="127.0.0.1", port=port, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    pytest.fail("the web app did not start")
                thread.join(0.05)
            yield console, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(30)
            console.app.engine.dispose()


@pytest.fixture
def page() -> Iterator[Any]:
    with browser_page() as pg:
        yield pg


def test_support_logs_a_phone_request_finds_it_in_the_queue_and_flags_it(served: tuple[Console, str], page: Any) -> None:
    from playwright.sync_api import expect

    console, base = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    # a queue with some history: one past due, one due soon
    console.log(received_at=received_days_ago(45), subject={"name": "Old Case", "emails": ["old@example.com"]})
    console.log(type="deletion", received_at=received_days_ago(28))

    page.goto(base + "/console")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label("Name").fill(NAMES[Role.SUPPORT])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_contain_text("sam.support")

    page.get_by_role("link", name="Log a request").click()
    expect(page.get_by_role("heading", name="Log a request")).to_be_visible()
    page.get_by_label("Type *").select_option("access")
    page.get_by_label("Received by *").select_option("phone")
    page.get_by_label("Regime *").select_option("gdpr")
    page.get_by_label("Country", exact=False).first.fill("DE")
    page.locator("#name").fill("Erika Mustermann")
    page.get_by_label("Email 1").fill("erika@example.com")
    page.get_by_label("Phone", exact=True).fill("+49 30 9876543")
    page.get_by_label("Postal address").fill("Hauptstrasse 1\n10115 Berlin")
    page.screenshot(path=str(SHOTS / "log-form.png"), full_page=True)
    page.get_by_role("button", name="Log the request").click()

    expect(page.get_by_role("status")).to_have_text("Request logged.")
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]
    view = queries.request_view(console.app.ctx, reference)
    assert view.channel == "phone" and view.type == "access"

    page.get_by_role("link", name="Queue", exact=True).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
    expect(row).to_contain_text(view.deadline.due.isoformat())
    expect(page.locator("tr.row-past-due")).to_contain_text("past due")
    expect(page.locator("tr.row-due-soon")).to_contain_text("due soon")
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)

    row.get_by_role("link", name=reference).click()
    page.get_by_label("Reason").first.wait_for()
    page.locator("#flag-reason").fill("Solicitor's letter announces a claim")
    page.get_by_role("button", name="Flag legal-sensitive").click()
    expect(page.get_by_role("status")).to_have_text("Flagged legal-sensitive.")
    expect(page.locator("h1 .tag.legal")).to_have_text("legal-sensitive")
    expect(page.locator("#legal-flag-shown")).to_contain_text("Solicitor's letter announces a claim")
    expect(page.locator("#hold-reason-shown")).to_contain_text("escalated to legal")  # the flag holds the request for legal
    page.screenshot(path=str(SHOTS / "request.png"), full_page=True)

    assert [e.kind for e in queries.request_events(console.app.ctx, reference)].count("LegalSensitiveFlagged") == 1
    page.get_by_role("link", name="Queue", exact=True).click()
    expect(page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))).to_contain_text("legal-sensitive")
