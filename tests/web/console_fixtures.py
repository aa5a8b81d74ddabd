"""The staff console's test fixtures: the real app (SQLite, migrated; the demo shop as its one
system) behind FastAPI's TestClient, an in-memory orchestrator, and staff accounts of every role.

Staff accounts are made through dsar.services.accounts (add_user, set_password) and every
browser signs in through the real login form. Kept apart from tests/web/conftest.py (the
public form's)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dsar.app import App
from dsar.domain.accounts import Role, StaffAccount
from dsar.services import accounts, queries
from dsar.services.deadlines import local_today
from dsar.services.intake import log_request
from dsar.services.orchestration import InMemoryOrchestrator
from dsar.web.app import create_app
from dsar.web.context import WebContext
from tests.conftest import build_migrated_app, make_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REQUEST_PATH = re.compile(r"^/console/requests/DSR-\d{4}-\d{6}")
JANE: dict[str, Any] = {
    "type": "access",
    "regime": "gdpr",
    "country": "DE",
    "channel": "email",
    "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"], "phone": "+49 30 1234567"},
}


PASSWORD = "a long staff password"
NAMES = {Role.SUPPORT: "sam.support", Role.LEGAL: "lena.legal", Role.AUDITOR: "otto.auditor", Role.ADMIN: "ada.admin"}


@dataclass
class Console:
    """The web app under test, and a browser (TestClient with its own cookies) per role, each
    signed in through the real login form; ``client`` is the current one."""

    app: App
    web: WebContext
    orchestrator: InMemoryOrchestrator
    stack: ExitStack
    fastapi: Any
    staff: dict[Role, StaffAccount] = field(default_factory=dict)
    clients: dict[Role | None, TestClient] = field(default_factory=dict)
    role: Role | None = None

    def browser(self) -> TestClient:
        return self.stack.enter_context(TestClient(self.fastapi, base_url="http://testserver"))

    @property
    def client(self) -> TestClient:
        if self.role not in self.clients:
            client = self.browser()
            if self.role is not None:
                signed = login(client, NAMES[self.role])
                assert signed.status_code == 303, signed.text
            self.clients[self.role] = client
        return self.clients[self.role]

    def sign_in(self, role: Role) -> StaffAccount:
        self.role = role
        self.client  # noqa: B018 - signs in once per role
        return self.staff[role]

    def sign_out(self) -> None:
        self.role = None

    def csrf(self, path: str = "/console") -> str:
        """A CSRF token as a page of the console carries it (tied to this browser's cookie)."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, "no CSRF token on the page"
        return html.unescape(found.group(1))

    def post(self, path: str, data: dict[str, Any], *, token: str | None = None) -> Any:
        body = dict(data)
        found = REQUEST_PATH.match(path)
        body["csrf_token"] = token if token is not None else self.csrf(found.group(0) if found else "/console")
        return self.client.post(path, data=body, follow_redirects=False)

    def log(self, **overrides: Any) -> queries.RequestRef:
        raw = {**JANE, **overrides}
        r = log_request(self.app.ctx, raw).request
        return queries.lookup(self.app.ctx, r.reference)

    def today(self) -> date:
        return local_today(self.app.ctx)

    def kinds(self, reference: str) -> list[str]:
        return [e.kind for e in queries.request_events(self.app.ctx, reference)]

    def details(self, reference: str, kind: str) -> list[dict[str, Any]]:
        return [e.details for e in queries.request_events(self.app.ctx, reference) if e.kind == kind]


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the console's login form, as a person would."""
    page = client.get("/console/login")
    found = CSRF.search(page.text)
    assert found, "the login page carries no CSRF token"
    return client.post(
        "/console/login",
        data={"csrf_token": html.unescape(found.group(1)), "name": name, "password": password, "next": "/console"},
        follow_redirects=False,
    )


def make_console(home: Path, stack: ExitStack, data_map_dir: Path | None = None) -> Console:
    from dsar.demo.shop import seed_shop

    settings = make_settings(home)
    if data_map_dir is not None:
        settings = settings.model_copy(update={"data_map_dir": data_map_dir})
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    # A cheaper scrypt keeps the suite quick (the stored hash records its parameters).
    app = replace(app, ctx=replace(app.ctx, policy=replace(app.ctx.policy, password_scrypt_log2_n=10)))
    orchestrator = InMemoryOrchestrator()
    web = WebContext(app, orchestrator, session_key=b"console-test-key".ljust(32, b"."))
    console = Console(app, web, orchestrator, stack, create_app(web))
    for role, name in NAMES.items():
        new = accounts.add_user(app.ctx, name, role, by="test")
        console.staff[role] = accounts.record_training(
            app.ctx, accounts.set_password(app.ctx, new.set_password_token, PASSWORD).name, local_today(app.ctx), by="test"
        )
    return console


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    with ExitStack() as stack:
        c = make_console(tmp_path / "home", stack)
        try:
            yield c
        finally:
            c.app.engine.dispose()


def received_days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()
