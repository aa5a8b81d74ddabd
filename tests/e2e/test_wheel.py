"""An installed wheel works outside the checkout: `uv build`, install the wheel into a fresh
virtual environment (the locked versions), and run `dsar demo --non-interactive` from an empty
folder, with a Prefect server of its own. Templates, the demo data map, the migrations and the
flow files must all come from inside the installed package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def outside_env(home: Path) -> dict[str, str]:
    """The environment of someone who installed the wheel: nothing of this checkout, this
    test run's virtual environment or its Prefect and dsar settings."""
    drop = ("DSAR_", "PREFECT_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | {
        "DSAR_HOME": str(home),
        "DSAR_PREFECT_PORT": str(free_port()),
        "DSAR_DEMO_HELPDESK_PORT": str(free_port()),
        "DSAR_WEB_PORT": str(free_port()),
        "DO_NOT_TRACK": "1",
    }


def run(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{argv[:3]} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_wheel_installed_elsewhere_runs_the_demo_to_the_end_from_an_empty_folder(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        if os.environ.get("CI"):
            pytest.fail("uv is not on PATH (scripts/bootstrap installs it)")
        pytest.skip("uv is not on PATH (scripts/bootstrap installs it)")
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()

    # An sdist, then the wheel built from it: whatever the wheel needs must be in both.
    run([uv, "build", "--out-dir", dist, ROOT], cwd=tmp_path)
    (wheel,) = dist.glob("dsar-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("flows/")], "no top-level flows package"
    for needed in (
        "dsar/_resources/flows/process_request.py",
        "dsar/_resources/flows/deployments.py",
        "dsar/_resources/templates/access_response/default.en.j2",
        "dsar/_resources/templates/manifest.toml",
        "dsar/_resources/connectors/shop.yaml",
        "dsar/persistence/migrations/env.py",
        "dsar/persistence/migrations/versions/0001_initial_schema.py",
        "dsar/demo/samples.json",
    ):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    # A fresh environment with the locked versions of the dependencies (from uv's cache, or
    # the package registry), then the wheel.
    constraints = tmp_path / "constraints.txt"
    run([uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--output-file", constraints], cwd=ROOT)
    run([uv, "venv", "--python", sys.executable, venv], cwd=tmp_path)  # the interpreter of this test run
    python = venv / "bin" / "python"
    run([uv, "pip", "install", "--python", python, "--constraints", constraints, wheel], cwd=tmp_path, timeout=900)

    env = outside_env(tmp_path / "home")
    where = json.loads(
        run(
            [
                python,
                "-c",
                "import importlib.util, json, dsar, dsar.resources as r; "
                "print(json.dumps([dsar.__file__, r.checkout(), str(r.flows_dir()), importlib.util.find_spec('flows') is None]))",
            ],
            cwd=work,
            env=env,
        )
    )
    assert where[0].startswith(str(venv)) and where[1] is None and where[2].startswith(str(venv)) and where[3] is True

    demo = subprocess.run(
        [venv / "bin" / "dsar", "demo", "--non-interactive", "--timeout", "900"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    serve_log = tmp_path / "home" / "prefect" / "serve.log"
    explain = demo.stdout[-3000:] + demo.stderr[-3000:] + (serve_log.read_text()[-4000:] if serve_log.exists() else "")
    assert demo.returncode == 0, explain
    assert "every sample request answered" in demo.stdout, explain

    rows = json.loads(run([venv / "bin" / "dsar", "request", "list", "--json"], cwd=work, env=env))
    # The stranger (Robin Nobody, uk-gdpr) is not on file: no link went anywhere, and the request
    # waits for a proof nobody can give (it closes as "could not verify" after 72 h); the demo
    # counts it as answered. The three customers' requests closed.
    assert len(rows) == 4 and sorted(r["status"] for r in rows) == ["awaiting_verification", "closed", "closed", "closed"]
    (stranger,) = [r for r in rows if r["status"] == "awaiting_verification"]
    assert stranger["regime"] == "uk-gdpr"
    config = json.loads(run([venv / "bin" / "dsar", "config", "show", "--json"], cwd=work, env=env))
    assert config["templates_dir"].startswith(str(venv)) and config["data_map_dir"].startswith(str(venv))
    assert sorted(os.listdir(work)) == [], "nothing is written to the working folder"
