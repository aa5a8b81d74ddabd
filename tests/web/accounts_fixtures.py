"""The web app for the accounts tests: a migrated SQLite home, a clock the test moves, staff
accounts made through the service, and helpers to sign in and send console forms."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from dsar.app import App, build_app
from dsar.domain.accounts import Role, StaffAccount
from dsar.services import accounts
from dsar.web.app import create_app
from dsar.web.context import WebContext
from tests.conftest import approve_all_templates, make_settings
from tests.unit.services.fakes import FakeClock

PASSWORD = "a long staff password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class AccountsWeb:
    app: App
    web: WebContext
    clock: FakeClock
    client: TestClient

    @property
    def ctx(self) -> Any:
        return self.web.ctx

    def user(self, name: str, role: Role, password: str = PASSWORD) -> StaffAccount:
        new = accounts.add_user(self.ctx, name, role, by="test")
        return accounts.set_password(self.ctx, new.set_password_token, password)

    def staff_events(self) -> list[tuple[str, dict[str, Any]]]:
        from dsar.domain.events import STAFF_STREAM

        with self.ctx.uow() as uow:
            return [(e.kind, e.details) for e in uow.audit.events(STAFF_STREAM)]


def csrf_from(page: str) -> str:
    m = _CSRF.search(page)
    assert m, "the page carries no CSRF token"
    return html.unescape(m.group(1))


def post_form(client: TestClient, path: str, fields: dict[str, str], page: str = "/console/set-password") -> Response:
    """GET ``page`` (for the browser cookie and a CSRF token), then POST ``fields`` to ``path``."""
    token = csrf_from(client.get(page, follow_redirects=False).text)
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Response:
    return post_form(client, "/console/login", {"name": name, "password": password})


def make_accounts_web(home: Path, *, secure_cookies: bool = False, **overrides: Any) -> AccountsWeb:
    app = build_app(make_settings(home, **overrides), migrate_schema=True)
    approve_all_templates(app)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    # A cheaper scrypt keeps the suite quick; the stored hash records the parameters.
    policy = replace(app.ctx.policy, password_scrypt_log2_n=10)
    app = replace(app, ctx=replace(app.ctx, clock=clock, policy=policy))
    web = WebContext(app, None, secrets.token_bytes(32), secure_cookies=secure_cookies)
    base_url = "https://testserver" if secure_cookies else "http://testserver"
    return AccountsWeb(app, web, clock, TestClient(create_app(web), base_url=base_url))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AccountsWeb]:
    s = make_accounts_web(tmp_path / "home")
    with s.client:
        yield s
    s.app.engine.dispose()
