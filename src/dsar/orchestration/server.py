"""A local Prefect server when none is configured, and `dsar serve` in a child process.

Plain processes and HTTP: nothing here imports Prefect (the server runs as
``python -m prefect server start`` in its own process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dsar.domain.errors import ConfigurationError
from dsar.settings import Settings, mask_url


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at this address."""
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as resp:  # noqa: S310 - loopback/configured URL
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class LocalServer:
    """The Prefect API in use; ``process`` is set when this process started the server."""

    process: subprocess.Popen[bytes] | None
    api_url: str
    log_path: Path | None

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def ensure_server(settings: Settings) -> LocalServer:
    """Use the configured Prefect API; with none configured, start a local server on
    127.0.0.1 (SQLite, UI included) unless one already answers there. Call
    ``configure_environment`` first: the server's files go under PREFECT_HOME."""
    api = settings.effective_prefect_api_url
    if api_healthy(api):
        return LocalServer(None, api, None)
    if settings.prefect_api_url:
        raise ConfigurationError(f"the configured Prefect API {mask_url(api)} does not answer")
    log_path = settings.prefect_home / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "prefect", "server", "start", "--host", settings.prefect_host, "--port", str(settings.prefect_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            # The UI calls the API at this address; without it the UI assumes port 4200.
            env=os.environ | {"PREFECT_UI_API_URL": api},
            start_new_session=True,
        )
    server = LocalServer(proc, api, log_path)
    deadline = time.monotonic() + settings.prefect_startup_timeout_s
    while time.monotonic() < deadline:
        if api_healthy(api):
            return server
        if proc.poll() is not None:
            raise ConfigurationError(f"the local Prefect server exited (code {proc.returncode}); see {log_path}")
        time.sleep(1)
    server.stop()
    raise ConfigurationError(f"the local Prefect server did not answer within {settings.prefect_startup_timeout_s}s; see {log_path}")


def start_serving(settings: Settings) -> subprocess.Popen[bytes]:
    """`dsar serve` in a child process (the demo keeps its own process free to drive runs),
    logging to PREFECT_HOME/serve.log."""
    log_path = settings.prefect_home / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "dsar", "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )


def stop_serving(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
