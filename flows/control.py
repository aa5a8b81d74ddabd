"""Client-side control of Prefect for the CLI and the demo: a local server, starting runs,
reading their state, resuming suspended runs. Nothing here carries personal data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from dsar.domain.errors import ConfigurationError
from dsar.settings import Settings

# The deployment's full name. Kept here, free of Prefect imports, because Prefect reads its
# settings when first imported: configure_environment() must run before that.
PROCESS_REQUEST = "process-request/process-request"
DEADLINE_WATCH = "deadline-watch/deadline-watch"


def configure_environment(settings: Settings) -> dict[str, str]:
    """Point Prefect at the configured API and keep its files under DSAR_HOME. Must run
    before prefect is imported in this process; returns the environment for child processes."""
    if "prefect" in sys.modules and os.environ.get("PREFECT_API_URL") != settings.effective_prefect_api_url:
        raise ConfigurationError("Prefect was imported before its API was configured; this is a bug in the entry point")
    env = {
        "PREFECT_API_URL": settings.effective_prefect_api_url,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(settings.prefect_startup_timeout_s),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        # A resumed run is picked up at the runner's next poll; 3 s keeps the demo brisk.
        "PREFECT_RUNNER_POLL_FREQUENCY": "3",
    }
    for k, v in env.items():
        if k == "PREFECT_API_URL" or k not in os.environ:
            os.environ[k] = v
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    return dict(os.environ)


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as resp:  # noqa: S310 - loopback/configured URL
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class LocalServer:
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
    127.0.0.1 (SQLite, UI included) unless one already answers there."""
    api = settings.effective_prefect_api_url
    if api_healthy(api):
        return LocalServer(None, api, None)
    if settings.prefect_api_url:
        raise ConfigurationError(f"the configured Prefect API {api} does not answer")
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
    """`dsar serve` in a child process (the demo keeps its own process free to drive runs)."""
    log_path = settings.prefect_home / "serve.log"
    with open(log_path, "ab") as log:
        return subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "dsar", "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )


def wait_for_deployment(name: str, timeout: float = 120.0) -> None:
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name(name)
                return
            except Exception:  # noqa: BLE001 - not there yet
                time.sleep(1)
    raise ConfigurationError(f"deployment {name} did not appear within {timeout:.0f}s (is `dsar serve` running?)")


def start_run(request_id: str, reference: str) -> str:
    """Create a flow run of process-request for one request; returns the flow run id."""
    from prefect.deployments import run_deployment

    run = run_deployment(PROCESS_REQUEST, parameters={"request_id": request_id}, flow_run_name=reference, timeout=0)
    return str(run.id)


@dataclass(frozen=True)
class RunState:
    name: str
    type: str
    input_ready: bool

    @property
    def final(self) -> bool:
        return self.type in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

    @property
    def waiting_for_input(self) -> bool:
        return self.type == "PAUSED" and self.input_ready


def run_state(flow_run_id: str) -> RunState:
    from prefect import get_client
    from prefect.input.actions import read_flow_run_input

    with get_client(sync_client=True) as client:
        fr = client.read_flow_run(UUID(flow_run_id))
    st = fr.state
    if st is None:
        return RunState("Unknown", "UNKNOWN", False)
    ready = False
    keyset: Any = st.state_details.run_input_keyset if st.state_details else None
    if st.type.value == "PAUSED" and keyset:
        ready = read_flow_run_input(keyset["schema"], flow_run_id=UUID(flow_run_id)) is not None
    return RunState(st.name or st.type.value, st.type.value, ready)


def resume(flow_run_id: str, run_input: dict[str, Any]) -> None:
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(UUID(flow_run_id), run_input=run_input)
