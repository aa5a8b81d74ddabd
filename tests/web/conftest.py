"""The web app on a fresh home per test: ``web_app`` (the FastAPI app over a migrated SQLite
database and an in-memory orchestrator), ``client`` (FastAPI's TestClient on it), and helpers
for forms (``csrf_from``, ``submit_form``). ``make_web(home, **settings)`` builds one with other
settings (e.g. a lower rate limit)."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dsar.app import App, build_app
from dsar.services import queries
from dsar.services.orchestration import InMemoryOrchestrator
from dsar.web.app import create_app
from dsar.web.context import WebContext
from tests.conftest import approve_all_templates, make_settings

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebApp:
    app: App
    web: WebContext
    fastapi: FastAPI
    orchestrator: InMemoryOrchestrator

    def request_count(self) -> int:
        return len(queries.request_list(self.web.ctx))


def make_web(home: Path, **overrides: Any) -> WebApp:
    settings = make_settings(home, **overrides)
    app = build_app(settings, migrate_schema=True)
    approve_all_templates(app)
    orchestrator = InMemoryOrchestrator()
    web = WebContext(app, orchestrator, session_key=secrets.token_bytes(32))
    return WebApp(app, web, create_app(web), orchestrator)


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    w = make_web(tmp_path / "home")
    yield w
    w.app.engine.dispose()


@pytest.fixture
def client(web_app: WebApp) -> Iterator[TestClient]:
    with TestClient(web_app.fastapi) as c:
        yield c


def csrf_from(page: str) -> str:
    m = _CSRF.search(page)
    assert m, "the page carries no CSRF token"
    return html.unescape(m.group(1))


def submit_form(client: TestClient, fields: dict[str, Any], path: str = "/", **kwargs: Any) -> Any:
    """GET the page (for the cookie and token), then POST ``fields`` with its CSRF token."""
    token = csrf_from(client.get(path, **kwargs).text)
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=False, **kwargs)


@pytest.fixture
def shop_web(tmp_path: Path) -> Iterator[WebApp]:
    """The web app over the demo shop, the system of record identity is verified against."""
    from dsar.demo.shop import seed_shop

    w = make_web(tmp_path / "home")
    seed_shop(w.app.settings.demo_shop_path)
    yield w
    w.app.engine.dispose()


@pytest.fixture
def shop_client(shop_web: WebApp) -> Iterator[TestClient]:
    with TestClient(shop_web.fastapi) as c:
        yield c
