"""The benchmark scripts keep working (small sizes; their timings are read, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_deadline_sweep_benchmark_runs_and_reports(tmp_path: object) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "deadline_sweep.py"),
            "--requests",
            "3000",
            "--open",
            "300",
            "--repeat",
            "2",
            "--home",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "USING INDEX ix_privacy_request_watch_due" in out  # the sweep is an index range scan
    assert "steady-state sweep over 3,000 requests" in out
    assert "alerts raised" in out


def test_the_audit_benchmark_runs_and_reports(tmp_path: object) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "audit.py"),
            "--events",
            "3000",
            "--requests",
            "50",
            "--single",
            "100",
            "--home",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "verify the hash chain" in result.stdout
    assert "offline verify of the bundle" in result.stdout
    assert "intact: 3000 event(s)" in result.stdout


def test_the_connectors_benchmark_runs_and_reports() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "connectors.py"),
            "--rows",
            "2000",
            "--related",
            "50",
            "--objects",
            "20",
            "--repeat",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "locate in 2,000 indexed rows" in result.stdout
    assert "export of a subject with 50 related rows" in result.stdout
