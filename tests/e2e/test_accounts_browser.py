"""The console's set-password link and sign-in in a real headless Chromium: the page's script
(same origin, allowed by the CSP) takes the token from the URL fragment and drops it from the
address bar; the account then signs in and sees the console frame with its training banner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsar.domain.accounts import Role
from dsar.services import accounts
from tests.e2e.browser import browser_page
from tests.e2e.conftest import free_port
from tests.web.accounts_fixtures import AccountsWeb, make_accounts_web


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[AccountsWeb, str]]:
    import uvicorn

    site = make_accounts_web(tmp_path / "home")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.client.app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web app did not start")
        time.sleep(0.05)
    try:
        yield site, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        site.app.engine.dispose()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with browser_page(tmp_path / "last.png") as pg:
        yield pg


def test_a_set_password_link_fills_the_form_and_the_account_signs_in(served: tuple[AccountsWeb, str], page: Any) -> None:
    site, base = served
    new = accounts.add_user(site.ctx, "alice", Role.ADMIN, by="test")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/console/set-password#{new.set_password_token}")
    token = page.get_by_label("Set-password code")
    token.wait_for()
    assert token.input_value() == new.set_password_token
    assert "#" not in page.url  # the token left the address bar
    page.get_by_label("New password", exact=True).fill("a long browser password")
    page.get_by_label("New password again").fill("a long browser password")
    page.get_by_role("button", name="Set password").click()
    page.get_by_text("Your password is set").wait_for()
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill("a long browser password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console")  # the queue is the console helper's page
    page.goto(f"{base}/console/users")
    assert page.get_by_role("status").filter(has_text="privacy-law training").is_visible()
    assert "Signed in as alice (admin)" in page.locator("header").inner_text()
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_text("You are signed out").wait_for()
    page.goto(f"{base}/console/users")
    assert "/console/login" in page.url
    assert [e for e in errors if "Content Security Policy" in e] == []  # the page's script was allowed to run
