"""The benchmark scripts keep working (small sizes; their timings are read, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run_benchmark(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_deadline_sweep_benchmark_runs_and_reports(tmp_path: object) -> None:
    out = run_benchmark("deadline_sweep.py", "--requests", "3000", "--open", "300", "--repeat", "2", "--home", str(tmp_path))
    assert "USING INDEX ix_privacy_request_watch_due" in out  # the sweep is two index range scans
    assert "USING INDEX ix_privacy_request_ack_watch" in out
    assert "steady-state sweep over 3,000 requests" in out
    assert "alerts raised" in out


def test_the_audit_benchmark_runs_and_reports(tmp_path: object) -> None:
    out = run_benchmark("audit.py", "--events", "3000", "--requests", "50", "--single", "100", "--home", str(tmp_path))
    assert "append, one event per transaction" in out and "bare SQLite on this disk" in out
    assert "verify the hash chain" in out
    assert "offline verify of the bundle" in out
    assert "intact: 3000 event(s)" in out


def test_the_connectors_benchmark_runs_and_reports() -> None:
    out = run_benchmark("connectors.py", "--rows", "2000", "--related", "50", "--objects", "20", "--repeat", "3")
    assert "locate in 2,000 indexed rows" in out
    assert "export of a subject with 50 related rows" in out
    assert "s3 (moto): locate a prefix of 20 objects" in out and "s3 (moto): export them" in out
    assert "s3 (folder): locate a prefix of 20 objects" in out and "s3 (folder): export them" in out


def test_the_crypto_calls_benchmark_runs_one_request_to_the_end_and_reports() -> None:
    out = run_benchmark("crypto_calls.py")
    assert "unwrap (KMS calls)" in out and "AES-GCM opens" in out
    assert "final status: closed" in out


def test_the_web_benchmark_runs_and_reports() -> None:
    out = run_benchmark("web.py", "--requests", "30", "--calls", "5")
    for line in ("POST /api/requests", "GET /api/requests/{reference}", "POST / (a subject submits the form)", "GET /console (the queue"):
        assert line in out
    assert out.count("median") == 7


def test_the_package_benchmark_runs_and_reports(tmp_path: object) -> None:
    out = run_benchmark("package.py", "--size-mib", "12", "--home", str(tmp_path))
    for line in ("raw AES-256-GCM", "package format, documents", "package format, JSON text", "whole build", "download", "peak RSS"):
        assert line in out


def test_the_letters_benchmark_runs_and_reports(tmp_path: object) -> None:
    from pathlib import Path

    png = Path(str(tmp_path)) / "letter.png"
    out = run_benchmark("letters.py", "--repeat", "1", "--png", str(png))
    assert "first PDF (WeasyPrint imported, fonts loaded)" in out
    assert "deletion_response" in out and "recipient_notice" in out and "renders/s" in out
    assert png.read_bytes().startswith(b"\x89PNG")  # page 1 as the customer sees it (pdftoppm)


def test_the_cli_benchmark_runs_and_reports_cpu_and_wall() -> None:
    out = run_benchmark("cli.py", "--repeat", "1")
    assert "load average before" in out and "CPU med" in out and "wall med" in out
    for label in ("dsar --help", "dsar request show DSR-", "dsar request new ... --no-start", "dsar request new ... (starts its flow run)"):
        assert label in out


def test_the_verification_benchmark_verifies_every_demo_subject_in_one_step() -> None:
    out = run_benchmark("verification.py", "--subjects", "3")
    assert "3 demo subjects x 5 request shapes" in out
    assert "15/15 (100%) verified in one step" in out and "submission -> verified median" in out


def test_the_prefect_floor_benchmark_runs_requests_through_prefect_and_reports() -> None:
    out = run_benchmark("prefect_floor.py", "--sequential", "2", "--in-flight", "2", "--per-level", "1", "--states")
    assert "three attempts, two hand-overs, four task runs" in out
    assert "submit → closed, 2 one after the other" in out
    assert "Suspended → Resuming" in out and "Running → Completed" in out  # every request went through both hand-overs
    assert " 2 in flight:" in out and "CPU s per request: Prefect server" in out


def test_the_shop_benchmark_runs_requests_through_the_flows_and_directly_and_reports(tmp_path: object) -> None:
    out = run_benchmark(
        "shop.py", "--access", "1", "--erasure", "1", "--in-flight", "2", "--per-level", "1", "--out", f"{tmp_path}/shop.json"
    )
    for line in ("access submit→closed", "erasure engine time", "throughput, 2 in flight", "CPU s per request, 2 in flight (flow)"):
        assert line in out
    assert "processes started by dsar serve: 0" in out
