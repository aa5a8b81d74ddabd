"""What the web app's routes need, built once at start-up (:func:`dsar.web.app.create_app`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsar.app import App
from dsar.services.context import ServiceContext
from dsar.services.orchestration import Orchestrator
from dsar.settings import Settings


@dataclass(frozen=True)
class WebContext:
    app: App
    orchestrator: Orchestrator | None  # None: requests are logged, runs started later
    session_key: bytes  # HMAC key of session cookies and CSRF tokens (derived from the master key)
    secure_cookies: bool = False  # True behind a TLS reverse proxy (DSAR_WEB_SECURE_COOKIES)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ctx(self) -> ServiceContext:
        return self.app.ctx

    @property
    def settings(self) -> Settings:
        return self.app.settings
