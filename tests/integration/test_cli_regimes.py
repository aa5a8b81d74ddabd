"""The CLI for issue 16: `dsar deadline --explain` and `--type appeal`, `dsar regimes`, a request
picked by place, and appeals (`--appeal-of`, `decide-appeal`, `appeals-report`)."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import env, run

__all__ = ["env"]


def test_deadline_explain_shows_each_step_with_its_rule(env: dict[str, str]) -> None:
    code, out, _ = run(env, "deadline", "--regime", "nz", "--received", "2026-12-10", "--explain", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["due"] == "2027-01-29" and doc["regime"] == "nz"
    skipped = {s["on"]: s["detail"] for s in doc["trace"] if s["step"] == "skip"}
    assert "closedown" in skipped["2027-01-15"] and skipped["2026-12-12"].endswith("Saturday")
    assert all(s["rule"] for s in doc["trace"])
    code, out, _ = run(env, "deadline", "--regime", "us-ia", "--received", "2026-01-31", "--explain")
    assert code == 0 and "2026-04-30" in out and "How it was counted" in out and "715D" in out


def test_deadline_for_an_appeal_uses_the_states_rule(env: dict[str, str]) -> None:
    code, out, _ = run(env, "deadline", "--regime", "us-va", "--type", "appeal", "--received", "2026-03-31", "--json")
    assert code == 0 and json.loads(out) == {
        "regime": "vcdpa",
        "received": "2026-03-31",
        "due": "2026-05-29",
        "acknowledge_by": None,
        "extension_notice_by": None,
        "extended_due": None,
        "type": "appeal",
    }
    code, _, err = run(env, "deadline", "--regime", "ucpa", "--type", "appeal", "--received", "2026-03-31")
    assert code == 2 and "no right to appeal" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regime", "us-ok", "--received", "2026-12-31"], "takes effect on 2027-01-01"),
        (["--regime", "us-zz", "--received", "2026-01-01"], "unknown regime"),
        (["--regime", "jp", "--received", "2026-01-01", "--type", "refund"], "unknown request type"),
    ],
)
def test_deadline_refuses_clearly(env: dict[str, str], args: list[str], message: str) -> None:
    code, out, err = run(env, "deadline", *args)
    assert code == 2 and message in " ".join(err.split()) and out == ""


def test_target_regimes_take_the_configured_target(env: dict[str, str]) -> None:
    code, out, _ = run({**env, "DSAR_REASONABLE_PERIOD_DAYS": "14"}, "deadline", "--regime", "jp", "--received", "2026-03-02", "--json")
    assert code == 0 and json.loads(out)["due"] == "2026-03-15"
    code, out, _ = run(env, "deadline", "--regime", "au", "--received", "2026-03-02", "--target-days", "20", "--json")
    assert code == 0 and json.loads(out)["due"] == "2026-03-21"


def test_regimes_lists_every_regime_with_its_facts(env: dict[str, str]) -> None:
    code, out, _ = run(env, "regimes", "--json")
    rows = {r["code"]: r for r in json.loads(out)}
    assert code == 0 and len(rows) == 37
    assert rows["vcdpa"]["aliases"] == "us-va" and rows["us-ok"]["effective"] == "2027-01-01"
    assert rows["nz"]["response"] == "20 working days after the day of receipt"


NEW = ["request", "new", "--no-start", "--type", "access", "--name", "Jane Doe", "--email", "jane.doe@example.com"]


def test_a_request_without_regime_is_picked_by_its_place(env: dict[str, str]) -> None:
    code, out, err = run(env, *NEW, "--country", "US", "--subdivision", "IA", "--received", "2026-12-01", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["due"] == "2027-02-28"  # Iowa: 90 days
    code, out, _ = run(env, "request", "show", doc["reference"], "--json")
    assert json.loads(out)["regime"] == "us-ia"
    code, _, err = run(env, *NEW, "--country", "US", "--subdivision", "OK", "--received", "2026-12-01")
    assert code == 2 and "takes effect on 2027-01-01" in " ".join(err.split())


def test_an_appeal_of_a_request_that_was_not_refused_is_refused(env: dict[str, str]) -> None:
    code, out, _ = run(env, *NEW, "--regime", "us-va", "--received", "2026-12-01", "--json")
    ref = json.loads(out)["reference"]
    code, _, err = run(env, *NEW[:4], "appeal", *NEW[5:], "--appeal-of", ref, "--received", "2026-12-02")
    assert code == 2 and f"{ref} was not refused" in " ".join(err.split())
    code, _, err = run(env, "request", "decide-appeal", ref, "--outcome", "upheld", "--reasons", "x", "--approver", "a", "--code", "1")
    assert code == 2 and "is not an appeal" in " ".join(err.split())
    code, out, _ = run(env, "request", "appeals-report", "--year", "2026", "--json")
    assert code == 0 and json.loads(out)["total"]["received"] == 0


def test_the_regime_deadlines_benchmark_runs_and_reports() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "regime_deadlines.py"), "--years", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "365 received dates x 37 regimes" in result.stdout and "slowest" in result.stdout


def test_an_appeal_logged_and_decided_from_the_command_line(env: dict[str, str]) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from dsar.app import build_app
    from dsar.domain.request import Move
    from dsar.services import queries, recording
    from tests.conftest import make_settings
    from tests.signoff import code as totp_code
    from tests.signoff import enrol

    code, out, _ = run(env, *NEW, "--country", "US", "--subdivision", "CT", "--received", "2026-12-01", "--json")
    ref = json.loads(out)["reference"]
    app = build_app(make_settings(Path(env["DSAR_HOME"])))
    with app.ctx.uow() as uow:
        r = uow.requests.facts(queries.lookup(app.ctx, ref).id)
        recording.move(uow, r, Move.DENY, datetime.now(UTC), "exempt")
        uow.commit()
    # without --no-start: an appeal still starts no flow run (nothing is even tried)
    code, out, err = run(env, "request", "new", "--type", "appeal", *NEW[5:], "--appeal-of", ref, "--json")
    assert code == 0, err
    appeal = json.loads(out)
    assert appeal["flow_run_id"] is None and appeal["flow_run"] is None
    secret = enrol(app.ctx, "lena.cli")
    args = ["request", "decide-appeal", appeal["reference"], "--outcome", "upheld", "--reasons", "Kept under a legal hold."]
    code, _, err = run(env, *args, "--approver", "lena.cli", "--code", "000000")
    assert code == 1 and "decision refused" in err
    code, out, err = run(env, *args, "--approver", "lena.cli", "--code", totp_code(app.ctx, secret))
    assert code == 0 and "appeal upheld" in out, err
    code, out, _ = run(env, "request", "appeals-report", "--year", str(datetime.now(UTC).year), "--json")
    assert json.loads(out)["by_regime"]["ctdpa"]["upheld"] == 1
    app.engine.dispose()


def test_request_metrics_counts_the_year_per_type_and_refuses_an_unknown_regime(env: dict[str, str]) -> None:
    from datetime import UTC, datetime

    year = str(datetime.now(UTC).year)
    code, out, err = run(env, *NEW, "--country", "US", "--subdivision", "CT", "--json")
    assert code == 0, err
    code, out, err = run(env, "request", "metrics", "--year", year, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["by_type"]["access"]["received"] == 1 and doc["by_type"]["access"]["open"] == 1
    assert doc["by_regime"]["ctdpa"]["access"]["median_days"] is None  # nothing answered yet
    code, out, _ = run(env, "request", "metrics", "--year", year, "--regime", "us-ct")  # an alias of ctdpa
    assert code == 0 and "access" in out and "unverifiable" in out
    code, _, err = run(env, "request", "metrics", "--year", year, "--regime", "nowhere")
    assert code == 2 and "unknown regime" in err
