"""The demo helpdesk as a service of whichever process runs first in a folder (issue 13, item 4).

`dsar demo` and `dsar serve` in a folder with demo data both need the helpdesk API (the `http`
system of the demo data map) on DSAR_DEMO_HELPDESK_PORT. The first one serves it; a second one
on the same port asks its health check which folder's instance answers: its own folder's is
used as it is, anything else stops the second process with a message naming the port, instead
of sending this folder's token to another folder's helpdesk and reading 401s later.
"""

from __future__ import annotations

import errno
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dsar.demo.helpdesk import PREFIX, Helpdesk, instance_of, start_helpdesk
from dsar.domain.errors import ConfigurationError
from dsar.settings import Settings


@dataclass
class ServedHelpdesk:
    """The demo helpdesk in use: ``own`` is set when this process serves it."""

    url: str
    own: Helpdesk | None

    def stop(self) -> None:
        if self.own is not None:
            self.own.stop()


def has_demo_data(settings: Settings) -> bool:
    """Whether this folder has a demo helpdesk to serve: an earlier demo left its token, and no
    other helpdesk URL is configured."""
    return settings.demo_helpdesk_url is None and (settings.demo_helpdesk_dir / "token").is_file()


def _token(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "token"
    if not token_file.is_file():
        token_file.write_text(secrets.token_urlsafe(24))
        token_file.chmod(0o600)
    return token_file.read_text().strip()


def _instance_at(port: int) -> str | None:
    """The instance the helpdesk on this loopback port names; None when what answers is not a
    demo helpdesk (or nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{PREFIX}/health", timeout=3) as resp:  # noqa: S310 - loopback
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    instance = body.get("instance") if isinstance(body, dict) else None
    return instance if isinstance(instance, str) else None


def ensure_helpdesk(settings: Settings) -> ServedHelpdesk:
    """Serve this folder's demo helpdesk on 127.0.0.1:DSAR_DEMO_HELPDESK_PORT, or use the one
    another process of this folder serves there. ConfigurationError, naming the port, when
    something else holds it."""
    folder, port = settings.demo_helpdesk_dir, settings.demo_helpdesk_port
    token = _token(folder)
    url = f"http://127.0.0.1:{port}{PREFIX}"
    try:
        return ServedHelpdesk(url, start_helpdesk(folder, token, port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigurationError(
                f"cannot serve the demo helpdesk on 127.0.0.1:{port} ({exc.strerror}); set DSAR_DEMO_HELPDESK_PORT"
            ) from None
    running = _instance_at(port)
    if running == instance_of(folder):
        return ServedHelpdesk(url, None)  # this folder's, served by another process (`dsar serve` or `dsar demo`)
    held_by = "another folder's demo helpdesk" if running is not None else "another program"
    raise ConfigurationError(
        f"port {port} (the demo helpdesk's, 127.0.0.1:{port}) is taken by {held_by}; stop it, or set DSAR_DEMO_HELPDESK_PORT to a free port"
    )


def serve_demo_helpdesk(settings: Settings) -> tuple[ServedHelpdesk | None, str | None]:
    """For `dsar serve`: the demo helpdesk of a folder with demo data (served here, or this
    folder's already running one), and a line saying which; (None, None) elsewhere. Requests the
    demo left waiting are finished by `dsar serve` alone."""
    if not has_demo_data(settings):
        return None, None
    served = ensure_helpdesk(settings)
    whose = "" if served.own is not None else " (served by another dsar process of this folder)"
    return served, f"Demo helpdesk API at {served.url}{whose}"
