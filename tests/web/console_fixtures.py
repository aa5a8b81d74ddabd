"""The staff console's test fixtures: the real app (SQLite, migrated; the demo shop as its one
system) behind FastAPI's TestClient, an in-memory orchestrator, and staff accounts of every role.

Kept apart from tests/web/conftest.py (the public form's); the console tests import it with
``from tests.web.console_fixtures import *``-free explicit names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dsar.app import App
from dsar.domain.accounts import Role, StaffAccount
from dsar.services import queries
from dsar.services.deadlines import local_today
from dsar.services.intake import log_request
from dsar.services.orchestration import InMemoryOrchestrator
from dsar.web.app import create_app
from dsar.web.context import WebContext
from dsar.web.interim_staff import signed_in_staff
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


@dataclass
class Console:
    """The web app under test, and who is signed in."""

    app: App
    web: WebContext
    client: TestClient
    orchestrator: InMemoryOrchestrator
    staff: dict[Role, StaffAccount] = field(default_factory=dict)
    signed_in: StaffAccount | None = None

    def sign_in(self, role: Role) -> StaffAccount:
        self.signed_in = self.staff[role]
        return self.signed_in

    def sign_out(self) -> None:
        self.signed_in = None

    def csrf(self, path: str = "/console/requests/new") -> str:
        """A CSRF token as a page of the console carries it (tied to this browser's cookie)."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], *, token: str | None = None) -> Any:
        body = dict(data)
        found = REQUEST_PATH.match(path)
        body["csrf_token"] = token if token is not None else self.csrf(found.group(0) if found else "/console/requests/new")
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


def account(i: int, name: str, role: Role) -> StaffAccount:
    return StaffAccount(id=i, name=name, role=role, active=True, created_at=datetime(2026, 1, 1, tzinfo=UTC), password_set=True)


STAFF = {
    Role.SUPPORT: account(1, "sam.support", Role.SUPPORT),
    Role.LEGAL: account(2, "lena.legal", Role.LEGAL),
    Role.AUDITOR: account(3, "otto.auditor", Role.AUDITOR),
    Role.ADMIN: account(4, "ada.admin", Role.ADMIN),
}


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    from dsar.demo.shop import seed_shop

    settings = make_settings(tmp_path / "home")
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    orchestrator = InMemoryOrchestrator()
    web = WebContext(app, orchestrator, session_key=b"console-test-key".ljust(32, b"."))
    fastapi = create_app(web)
    holder: list[Console] = []

    def current() -> StaffAccount:
        from fastapi import HTTPException

        signed = holder[0].signed_in
        if signed is None:
            raise HTTPException(401, "sign in first")
        return signed

    fastapi.dependency_overrides[signed_in_staff] = current
    with TestClient(fastapi, base_url="http://testserver") as client:
        c = Console(app, web, client, orchestrator, dict(STAFF))
        holder.append(c)
        yield c
    app.engine.dispose()


def received_days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()
