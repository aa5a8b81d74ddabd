"""A real Prefect server on loopback for the end-to-end tests (one per test session)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dsar.demo.shop import seed_shop
from tests.conftest import (  # SHOP_ONLY: the demo shop alone (tests/conftest.py says why)
    SHOP_ONLY,
    build_migrated_app,
    make_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
    env.update({"PREFECT_HOME": str(prefect_home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    return env


@dataclass(frozen=True)
class PrefectServer:
    api: str
    home: Path

    @property
    def ui(self) -> str:
        return self.api.removesuffix("/api")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.api + path, timeout=10) as r:  # noqa: S310 - loopback
            return json.loads(r.read())

    def has_deployment(self, name: str) -> bool:
        try:
            self.get(f"/deployments/name/{name}")
        except OSError:
            return False
        return True

    def run_state(self, flow_run_id: str) -> str:
        return str(self.get(f"/flow_runs/{flow_run_id}")["state"]["type"])


@contextmanager
def running_prefect_server(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[PrefectServer]:
    """`prefect server start` on a free loopback port, its files under ``home``; stopped after."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(home) | {"PREFECT_UI_API_URL": api} | (extra_env or {}),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(api + "/health", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("Prefect server did not start: " + (home / "server.log").read_text()[-2000:])
            time.sleep(1)
        yield PrefectServer(api, home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    with running_prefect_server(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@dataclass(frozen=True)
class Dsar:
    """The `dsar` command in a subprocess, as a user runs it."""

    env: dict[str, str]
    home: Path

    def __call__(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dsar", *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    def serve(self) -> subprocess.Popen[bytes]:
        log = open(self.home.parent / "serve.log", "ab")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(
            [sys.executable, "-m", "dsar", "serve"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.fixture
def dsar(prefect_server: PrefectServer, tmp_path: Path) -> Dsar:
    home = tmp_path / "dsar-home"
    # `dsar db upgrade` (the commands only check the schema), and legal's approval of the letter
    # templates as they are (recorded as `dsar templates approve` records it)
    build_migrated_app(make_settings(home)).engine.dispose()
    # The map's shop (DSAR_DEMO_SHOP_URL unset: the demo's file): the system of record that
    # verification looks the subject up in.
    seed_shop(make_settings(home).demo_shop_path)
    env = clean_env(tmp_path / "client-prefect") | {
        "DSAR_HOME": str(home),
        "PREFECT_API_URL": prefect_server.api,
        "DSAR_WEB_PORT": str(free_port()),
        "DSAR_DATA_MAP_DIR": str(SHOP_ONLY),
    }
    return Dsar(env, home)


@pytest.fixture
def demo_dsar(prefect_server: PrefectServer, tmp_path: Path) -> Dsar:
    """`dsar` with the demo company's whole data map (connectors/: shop, file store, helpdesk,
    manual ledger), as `dsar demo` runs on a fresh clone."""
    home = tmp_path / "dsar-home"
    env = clean_env(tmp_path / "client-prefect") | {
        "DSAR_HOME": str(home),
        "PREFECT_API_URL": prefect_server.api,
        "DSAR_WEB_PORT": str(free_port()),
        "DSAR_DEMO_HELPDESK_PORT": str(free_port()),
    }
    return Dsar(env, home)


def wait_until(predicate: Any, timeout: float, what: str, explain: Any = None) -> None:
    """Poll until `predicate()` holds; on timeout fail, with `explain()` (where things stood)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}" + (f"\n{explain()}" if explain is not None else ""))
