"""The web app for the API's tests: built on a fresh DSAR_HOME (SQLite, or PostgreSQL when a
URL is given), an in-memory orchestrator, and real API tokens (``dsar.services.accounts``).

Each test module defines its own thin fixture over :func:`api_app` (fixtures imported from a
module read as unused names to the linters).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dsar.app import App, build_app
from dsar.domain.accounts import TokenScope
from dsar.services.orchestration import InMemoryOrchestrator
from dsar.web.app import create_app
from dsar.web.context import WebContext
from tests.conftest import approve_all_templates, make_settings

WRITE = TokenScope.REQUESTS_WRITE
READ = TokenScope.REQUESTS_READ


def a_submission(n: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid GDPR access request of subject number ``n`` (distinct subjects never link)."""
    body: dict[str, Any] = {
        "type": "access",
        "regime": "gdpr",
        "country": "DE",
        "subject": {"name": f"Jane Doe{n}", "emails": [f"jane{n}@example.com"]},
    }
    body.update(fields)
    return body


@dataclass
class Api:
    fastapi: FastAPI
    web: WebContext
    orchestrator: InMemoryOrchestrator
    client: TestClient
    _tokens: list[int] = field(default_factory=list)

    @property
    def app(self) -> App:
        return self.web.app

    def token(self, *scopes: TokenScope, name: str | None = None) -> tuple[int, dict[str, str]]:
        """A new API token with these scopes (both when none are given): its id and the
        Authorization header carrying its secret."""
        from dsar.services.accounts import create_token

        made = create_token(self.web.ctx, name or f"helpdesk-{len(self._tokens) + 1}", list(scopes or (WRITE, READ)), by="tests")
        self._tokens.append(made.token.id)
        return made.token.id, {"Authorization": f"Bearer {made.secret}"}

    def headers(self, *scopes: TokenScope) -> dict[str, str]:
        return self.token(*scopes)[1]

    def revoke(self, token_id: int) -> None:
        from dsar.services.accounts import revoke_token

        revoke_token(self.web.ctx, token_id, by="tests")


@contextmanager
def api_app(home: Path, database_url: str | None = None, **settings: Any) -> Iterator[Api]:
    """The app on a fresh home (schema migrated), its orchestrator in memory."""
    app = build_app(make_settings(home, database_url, **settings), migrate_schema=True)
    approve_all_templates(app)
    orchestrator = InMemoryOrchestrator()
    web = WebContext(app, orchestrator, secrets.token_bytes(32))
    fastapi = create_app(web)
    try:
        with TestClient(fastapi, raise_server_exceptions=False) as client:
            yield Api(fastapi, web, orchestrator, client)
    finally:
        app.engine.dispose()
