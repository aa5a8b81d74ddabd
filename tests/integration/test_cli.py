from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsar.cli import app
from tests.conftest import build_migrated_app, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k in ("DSAR_DATABASE_URL", "PREFECT_API_URL", "DSAR_PREFECT_API_URL"):
        monkeypatch.delenv(k, raising=False)
    # `dsar db upgrade` (commands only check the schema) and legal's approval of the letter
    # templates as they are (tests/conftest.py), so the letters of these commands are sent
    build_migrated_app(make_settings(tmp_path / "home")).engine.dispose()
    return {
        "DSAR_HOME": str(tmp_path / "home"),
        "DSAR_PREFECT_PORT": "9",
        "DSAR_DATA_MAP_DIR": str(ROOT / "connectors"),
        "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


NEW = [
    "request",
    "new",
    "--type",
    "access",
    "--regime",
    "gdpr",
    "--country",
    "DE",
    "--name",
    "Jane Doe",
    "--email",
    "jane.doe@example.com",
    "--received",
    "2026-11-02",
]


def test_logging_a_request_prints_reference_and_due_date_and_says_when_prefect_is_not_up(env: dict[str, str]) -> None:
    code, out, _ = run(env, *NEW)
    assert code == 0
    assert "DSR-" in out and "due 2026-12-02" in out
    assert "No Prefect API answers" in out


def test_new_with_json_prints_one_object_and_list_and_show_read_it_back(env: dict[str, str]) -> None:
    code, out, _ = run(env, *NEW, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["due"] == "2026-12-02" and "created" not in doc
    code, out, _ = run(env, "request", "list", "--json")
    assert [r["reference"] for r in json.loads(out)] == [doc["reference"]]
    code, out, _ = run(env, "request", "show", doc["reference"], "--json")
    shown = json.loads(out)
    assert shown["subject"]["name"] == "J*** D***" and shown["subject"]["emails"] == ["j***@example.com"]
    code, out, _ = run(env, "request", "show", doc["reference"], "--json", "--reveal")
    assert json.loads(out)["subject"]["name"] == "Jane Doe"
    code, out, _ = run(env, "request", "events", doc["reference"], "--json")
    assert [e["kind"] for e in json.loads(out)][-1] == "SubjectDataViewed"


def test_a_request_naming_someone_else_s_address_never_swallows_theirs_nor_shows_its_reference(env: dict[str, str]) -> None:
    # Security probe, item 4: the attacker files first, naming the victim's address too.
    code, out, _ = run(env, *NEW[:-4], "--email", "mallory@evil.example", "--email", "jane.doe@example.com", *NEW[-2:])
    assert code == 0, out
    attacker = out.split("Logged ")[1].split(" ")[0]
    code, out, _ = run(env, *NEW)  # the victim's own request
    assert code == 0 and "Logged DSR-" in out and attacker not in out and "nothing new" not in out
    victim = json.loads(run(env, *NEW, "--json")[1])["reference"]
    assert victim != attacker
    listed = [r["reference"] for r in json.loads(run(env, "request", "list", "--json")[1])]
    assert len(listed) == 3 and attacker in listed and victim in listed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--regime", "gdrp"], "unknown regime"),
        (["--type", "erase"], "unknown request type"),
        (["--email", "not-an-email"], "not a valid email"),
        (["--received", "2999-01-01"], "lies in the future"),
        (["--received", "yesterday"], "received_at"),
        (["--received", "2020-01-01"], "received_at: more than 90 days ago"),
        (["--country", "XX"], "country: country not covered by gdpr"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(env: dict[str, str], change: list[str], message: str) -> None:
    args = list(NEW)
    flag = change[0]
    i = args.index(flag)
    args[i + 1] = change[1]
    code, _, err = run(env, *args)
    assert code == 2
    assert message in err
    assert json.loads(run(env, "request", "list", "--json")[1]) == []


def test_gdpr_without_a_country_exits_2_and_an_old_request_needs_a_recorded_reason(env: dict[str, str]) -> None:
    code, _, err = run(env, *[a for a in NEW if a not in ("--country", "DE")])
    assert code == 2 and "country: gdpr spans several countries" in err
    old = [*NEW[: NEW.index("--received")], "--received", "2020-01-01"]
    code, out, _ = run(env, *old, "--backdated-reason", "letter found in the archive", "--no-start", "--json")
    assert code == 0, out
    events = json.loads(run(env, "request", "events", json.loads(out)["reference"], "--json")[1])
    assert events[0]["details"]["backdated_reason"] == "letter found in the archive"


def test_a_correction_of_an_attribute_no_system_holds_exits_2_naming_it(env: dict[str, str]) -> None:
    args = ["request", "new", "--type", "correction", *NEW[4:], "--correct", "shoe_size=42"]
    code, _, err = run(env, *args)
    assert code == 2 and "corrections.shoe_size: no system of the data map can correct this attribute" in err and "42" not in err


def test_a_missing_name_exits_2(env: dict[str, str]) -> None:
    args = [a for a in NEW if a not in ("--name", "Jane Doe")]
    code, _, err = run(env, *args)
    assert code == 2 and "subject.name" in err


def test_from_json_reads_a_whole_request_and_rejects_broken_files(env: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "r.json"
    good.write_text(
        json.dumps(
            {
                "type": "access",
                "regime": "ccpa",
                "access_scope": "categories",
                "subject": {"name": "Ana Silva", "emails": ["ana.silva@example.com"]},
            }
        )
    )
    code, out, _ = run(env, "request", "new", "--from-json", str(good), "--json")
    assert code == 0 and json.loads(out)["acknowledge_by"] is not None
    broken = tmp_path / "b.json"
    broken.write_text('{"type": "access",')
    code, _, err = run(env, "request", "new", "--from-json", str(broken))
    assert code == 2 and "not valid JSON" in err


def test_unknown_reference_and_status_are_clear_errors(env: dict[str, str]) -> None:
    assert run(env, "request", "show", "DSR-2026-999999")[0] == 1
    assert run(env, "request", "show", "nonsense")[0] == 2
    code, _, err = run(env, "request", "list", "--status", "bogus")
    assert code == 2 and "unknown status" in err


def test_config_show_masks_the_database_password(env: dict[str, str]) -> None:
    code, out, _ = run(env | {"DSAR_DATABASE_URL": "postgresql+psycopg://app:s3cret@db.internal/dsar"}, "config", "show", "--json")
    doc = json.loads(out)
    assert code == 0
    assert "s3cret" not in out and doc["database_url"] == "postgresql+psycopg://app:***@db.internal/dsar"


def test_config_show_says_loudly_where_alerts_go_when_no_alert_url_is_set(env: dict[str, str]) -> None:
    code, out, err = run(env, "config", "show")
    assert code == 0 and "warning: NO ALERT URL IS SET" in err and "outbox" in err and "privacy@example-shop.test" in err
    assert "NO ALERT URL IS SET" in json.loads(run(env, "config", "show", "--json")[1])["alerts_go_to"]
    code, out, err = run(env | {"DSAR_ALERT_URLS": '["json://127.0.0.1:9/hook"]'}, "config", "show", "--json")
    assert code == 0 and "warning" not in err and json.loads(out)["alerts_go_to"] == "alerts go to 1 alert URL(s): json://"


def test_deadline_prints_the_dates_as_json_with_nulls(env: dict[str, str]) -> None:
    code, out, _ = run(env, "deadline", "--regime", "uk-gdpr", "--received", "2024-11-25", "--json")
    assert code == 0
    assert json.loads(out) == {
        "regime": "uk-gdpr",
        "received": "2024-11-25",
        "due": "2024-12-27",
        "acknowledge_by": None,
        "extension_notice_by": "2024-12-25",
        "extended_due": "2025-02-25",
    }
    code, out, _ = run(env, "deadline", "--regime", "ccpa", "--received", "2026-01-01", "--json")
    assert code == 0 and json.loads(out)["acknowledge_by"] == "2026-01-15"
    code, out, _ = run(env, "deadline", "--regime", "gdpr", "--country", "de", "--subdivision", "BY", "--received", "2026-05-04")
    assert code == 0 and "2026-06-05" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regime", "hipaa", "--received", "2026-01-01"], "unknown regime"),
        (["--regime", "gdpr", "--country", "US", "--received", "2026-01-01"], "not covered by gdpr"),
        (["--regime", "gdpr", "--country", "ZZ", "--received", "2026-01-01"], "not covered by gdpr"),
        (["--regime", "gdpr", "--country", "DE", "--received", "2026-02-30"], "must be a date"),
        (["--regime", "gdpr", "--country", "DE", "--received", "yesterday"], "must be a date"),
    ],
)
def test_deadline_refuses_bad_input_with_exit_code_2(env: dict[str, str], args: list[str], message: str) -> None:
    code, out, err = run(env, "deadline", *args)
    assert code == 2
    assert message in " ".join(err.split())
    assert out == ""


def test_extend_then_show_and_list_alerts(env: dict[str, str]) -> None:
    # received two days ago, so the extension is in time whatever day the test runs
    from datetime import date, timedelta

    from dsar.domain.deadlines import compute_deadlines

    received = date.today() - timedelta(days=2)
    expected = compute_deadlines("gdpr", received, country="DE")
    new = [*NEW[:-1], received.isoformat(), "--no-start", "--json"]
    code, out, _ = run(env, *new)
    ref = json.loads(out)["reference"]
    code, out, _ = run(env, "request", "extend", ref, "--reason", "ten years of orders", "--by", "Lena Legal", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert expected.extended_due is not None
    assert doc["extended"] is True
    assert (doc["due"], doc["statutory_due"]) == (expected.extended_due.isoformat(), expected.due.isoformat())
    code, out, err = run(env, "request", "extend", ref, "--reason", "again")
    assert code == 2 and "already extended" in err
    code, out, _ = run(env, "request", "show", ref, "--json")
    assert json.loads(out)["due"] == expected.extended_due.isoformat()
    code, out, _ = run(env, "alerts", "sweep", "--as-of", (expected.extended_due + timedelta(days=1)).isoformat(), "--json")
    assert code == 0
    sweep = json.loads(out)
    assert [(a["reference"], a["kind"]) for a in sweep["raised"] if a["notify"]] == [(ref, "breached")]
    assert sweep["delivered"] == 1
    code, out, _ = run(env, "alerts", "list", "--request", ref, "--json")
    assert [(a["kind"], a["state"]) for a in json.loads(out)] == [("breached", "delivered")]  # the covered thresholds are not listed
    code, out, _ = run(env, "alerts", "list", "--request", ref, "--all", "--json")
    assert sorted(a["state"] for a in json.loads(out)) == ["delivered", "superseded", "superseded", "superseded"]
    code, _, err = run(env, "request", "pause-clock", ref, "--reason", "ID", "--on", "not-a-date")
    assert code == 2 and "must be a date" in err


def test_hold_release_and_withdraw(env: dict[str, str]) -> None:
    code, out, _ = run(env, *NEW, "--no-start", "--json")
    ref = json.loads(out)["reference"]
    assert run(env, "request", "hold", ref, "--reason", "legal review")[:2] == (0, f"{ref}: on hold\n")
    assert json.loads(run(env, "request", "show", ref, "--json")[1])["on_hold"] is True
    # no Prefect answers here: the release is recorded, and the CLI says who carries the request on
    released = f"{ref}: released; Prefect does not answer: the deadline watch starts its run later (or `dsar request run`)\n"
    assert run(env, "request", "release", ref, "--reason", "cleared")[:2] == (0, released)
    code, _, err = run(env, "request", "withdraw", ref, "--reason", "")
    assert code == 2 and "reason" in err
    assert run(env, "request", "withdraw", ref, "--reason", "the subject called to withdraw")[:2] == (0, f"{ref}: withdrawn\n")
    assert json.loads(run(env, "request", "show", ref, "--json")[1])["status"] == "withdrawn"
    code, _, err = run(env, "request", "withdraw", ref, "--reason", "twice")
    assert code == 1 and "cannot withdraw from withdrawn" in err
    kinds = [e["kind"] for e in json.loads(run(env, "request", "events", ref, "--json")[1])]
    assert kinds.count("HoldChanged") == 2 and kinds[-1] == "StatusChanged"


def test_acknowledge_records_a_receipt_confirmation_given_by_phone(env: dict[str, str]) -> None:
    ccpa = ["request", "new", "--type", "access", "--access-scope", "categories", "--regime", "ccpa", "--country", "US"]
    code, out, err = run(env, *ccpa, "--subdivision", "CA", "--name", "Jane Doe", "--phone", "+1 415 555 0100", "--no-start", "--json")
    assert code == 0, err
    ref = json.loads(out)["reference"]
    shown = json.loads(run(env, "request", "show", ref, "--json")[1])
    assert shown["acknowledge_by"] and shown["acknowledged_at"] is None
    code, _, err = run(env, "request", "acknowledge", ref, "--how", "pigeon", "--by", "Sam")
    assert code == 2 and "unknown channel" in err
    code, out, err = run(env, "request", "acknowledge", ref, "--how", "phone", "--by", "Sam Support", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["reference"] == ref and doc["acknowledged_at"]
    assert json.loads(run(env, "request", "show", ref, "--json")[1])["acknowledged_at"] == doc["acknowledged_at"]
    kinds = [e["kind"] for e in json.loads(run(env, "request", "events", ref, "--json")[1])]
    assert kinds.count("ReceiptConfirmed") == 1


def test_audit_export_and_verify_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    from dsar.audit.bundle import read_member, rewrite_member

    code, out, _ = run(env, *NEW, "--no-start", "--json")
    ref = json.loads(out)["reference"]
    bundle = tmp_path / "ev.zip"
    code, out, _ = run(env, "audit", "export", "--request", ref, "--out", str(bundle), "--json")
    assert code == 0 and json.loads(out)["requests"] == [ref]
    code, out, _ = run(env, "audit", "verify", str(bundle))
    assert code == 3 and "NOT ANCHORED" in out and "no trusted key" in out  # intact, but checked against nothing trusted
    key = tmp_path / "published.pem"
    code, _, _ = run(env, "audit", "public-key", "--out", str(key))
    assert code == 0 and key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    code, out, _ = run(env, "audit", "verify", str(bundle), "--public-key", str(key))
    assert code == 0 and "OK" in out and "intact" in out
    kept = tmp_path / "kept-checkpoint.json"
    kept.write_bytes(read_member(bundle, "checkpoint.json"))
    later = tmp_path / "later.zip"
    assert run(env, "audit", "export", "--request", ref, "--out", str(later))[0] == 0
    code, out, _ = run(env, "audit", "verify", str(later), "--known-checkpoint", str(kept))
    assert code == 0 and "including the 1 you kept" in out
    code, _, err = run(env, "audit", "verify", str(later), "--known-checkpoint", str(tmp_path / "nowhere.json"))
    assert code == 2 and "cannot read" in err
    events = read_member(bundle, "events.jsonl").decode().splitlines()
    rewrite_member(bundle, "events.jsonl", ("\n".join(events[1:]) + "\n").encode())
    code, out, err = run(env, "audit", "verify", str(bundle), "--json")
    assert code == 1
    assert json.loads(out)["bad_seq"] == json.loads(events[0])["seq"]
    code, _, err = run(env, "audit", "export", "--out", str(tmp_path / "none.zip"))
    assert code == 2 and "selection" in err
    code, _, err = run(env, "audit", "export", "--since", "last week", "--out", str(tmp_path / "none.zip"))
    assert code == 2 and "must be a date" in err


def test_connectors_check_and_plan_dry_run(env: dict[str, str], tmp_path: Path) -> None:
    """The demo company's whole data map: shop (sql), file store folder (s3 on file://), the
    helpdesk API (http, served here as the demo serves it) and the ledger (manual)."""
    from dsar.demo.run import seed_demo, serve_helpdesk
    from tests.e2e.conftest import free_port

    env = {**env, "DSAR_DEMO_HELPDESK_PORT": str(free_port())}
    settings = make_settings(Path(env["DSAR_HOME"]), demo_helpdesk_port=int(env["DSAR_DEMO_HELPDESK_PORT"]))
    seed_demo(settings)
    code, out, _ = run(env, "connectors", "check", "--json")
    assert code == 1 and [x["system"] for x in json.loads(out) if not x["ok"]] == ["helpdesk"]  # not served yet
    helpdesk = serve_helpdesk(settings)
    try:
        code, out, _ = run(env, "connectors", "check", "--json")
        assert code == 0, out
        assert [(x["system"], x["ok"], x["warnings"]) for x in json.loads(out)] == [
            ("files", True, []),
            ("helpdesk", True, []),
            ("shop", True, []),
            ("warehouse", True, []),
        ]
        deletion = [*NEW[:2], "--type", "deletion", *NEW[4:], "--no-start", "--json"]
        code, out, _ = run(env, *deletion)
        ref = json.loads(out)["reference"]
        code, out, _ = run(env, "request", "plan", ref, "--json")
        assert code == 0
        steps = {s["system"]: s for s in json.loads(out)}
    finally:
        helpdesk.stop()
    assert set(steps) == {"files", "helpdesk", "shop", "warehouse"}
    step = steps["shop"]
    assert steps["warehouse"]["detail"].startswith("manual: ")
    assert step["system"] == "shop" and step["operation"] == "erase" and step["records"] == 1
    assert "customer: anonymise 1" in step["detail"]
    code, out, _ = run(env, "request", "show", ref, "--json")
    assert json.loads(out)["status"] == "received" and json.loads(out)["plan"] == []  # a dry run stores nothing

    bad = tmp_path / "maps"
    bad.mkdir()
    (bad / "x.yaml").write_text("system: x\ntitle: X\ntype: sql\nconnection: lower_case\n")
    code, _, err = run({**env, "DSAR_DATA_MAP_DIR": str(bad)}, "connectors", "check")
    assert code == 2 and "x.yaml:4" in " ".join(err.split())


def test_a_correction_request_from_the_command_line(env: dict[str, str]) -> None:
    fix = [*NEW[:2], "--type", "correction", *NEW[4:], "--correct", "phone=+49 30 5550999", "--correct", "city=Lyon", "--no-start"]
    code, out, _ = run(env, *fix, "--json")
    assert code == 0, out
    ref = json.loads(out)["reference"]
    code, out, _ = run(env, "request", "show", ref, "--json")
    assert json.loads(out)["corrections"] == [{"attribute": "phone", "value": "+*** 3*** 5***"}, {"attribute": "city", "value": "L***"}]
    code, out, _ = run(env, "request", "show", ref)
    assert code == 0 and "correct.city" in out and "Lyon" not in out
    code, out, _ = run(env, "request", "show", ref, "--reveal", "--json")
    assert json.loads(out)["corrections"][1] == {"attribute": "city", "value": "Lyon"}
    code, _, err = run(env, *fix[:-5], "--correct", "phone", "--no-start")
    assert code == 2 and "ATTRIBUTE=VALUE" in err
    code, _, err = run(env, *NEW, "--correct", "phone=1", "--no-start")
    assert code == 2 and "only a correction request carries corrections" in err


def test_help_imports_neither_prefect_nor_the_flow_files() -> None:
    # Prefect reads its settings when first imported: only commands that talk to it import it,
    # after pointing it at the configured API.
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dsar.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "import dsar.orchestration.prefect, dsar.orchestration.server, dsar.services.orchestration\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows', 'process_request')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_request_without_a_run_shows_so_and_reconcile_says_why_it_cannot_start_one(env: dict[str, str]) -> None:
    """Friction list, item 5: a request logged while Prefect is down is not forgotten: the list
    says it has no run, and the reconciler (here with Prefect still down) says so plainly."""
    code, out, _ = run(env, *NEW, "--json")
    assert code == 0 and json.loads(out)["flow_run_id"] is None
    ref = json.loads(out)["reference"]
    (row,) = json.loads(run(env, "request", "list", "--json")[1])
    assert row["reference"] == ref and row["flow_run_id"] is None
    code, out, _ = run(env, "request", "list")
    assert code == 0 and " run " in out.splitlines()[1] and " none " in out  # the only row says it has no run
    code, _, err = run(env, "request", "reconcile")
    assert code == 1 and "the orchestrator does not answer: nothing was reconciled" in err


def _tamper(env: dict[str, str], sql: str) -> None:
    import sqlite3

    with sqlite3.connect(Path(env["DSAR_HOME"]) / "dsar.db") as db:
        db.execute(sql)


def _flip(env: dict[str, str], table: str, column: str) -> None:
    import sqlite3

    with sqlite3.connect(Path(env["DSAR_HOME"]) / "dsar.db") as db:
        (value,) = db.execute(f"SELECT {column} FROM {table} LIMIT 1").fetchone()
        damaged = bytearray(value)
        damaged[len(damaged) // 2] ^= 0x01
        db.execute(f"UPDATE {table} SET {column} = ?", (bytes(damaged),))


@pytest.mark.parametrize(
    ("damage", "commands"),
    [
        (("flip", "privacy_request", "subject_name_enc"), [["request", "show"]]),
        (("flip", "audit_event", "details_enc"), [["request", "events"]]),
        (("flip", "request_key", "wrapped_key"), [["request", "show"], ["request", "events"]]),
        (("sql", "UPDATE privacy_request SET status = 'bogus'"), [["request", "show"], ["request", "list"], ["request", "hold"]]),
        (("sql", "UPDATE privacy_request SET received_at = 'garbage'"), [["request", "show"], ["request", "list"]]),
        (("sql", "UPDATE audit_event SET at = 'garbage'"), [["request", "events"]]),
    ],
)
def test_a_damaged_or_tampered_record_is_one_line_naming_the_reference_and_exit_1(
    env: dict[str, str], damage: tuple[str, ...], commands: list[list[str]]
) -> None:
    """Issue 13, item 9: no traceback, no stored value, the reference, exit 1."""
    ref = json.loads(run(env, *NEW, "--json")[1])["reference"]
    if damage[0] == "flip":
        _flip(env, damage[1], damage[2])
    else:
        _tamper(env, damage[1])
    for command in commands:
        args = [*command] if command == ["request", "list"] else [*command, ref]
        if command[-1] == "hold":
            args += ["--reason", "looking"]
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (command, result.exception)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and ref in lines[0] and "damaged or tampered with" in lines[0], (command, result.stderr)
        assert "Jane" not in result.stderr and "garbage" not in result.stderr and "bogus" not in result.stderr


def test_show_and_help_import_only_what_they_need(env: dict[str, str]) -> None:
    """Issue 13, item 8: `--help` reads no settings; `request show` on an up-to-date schema
    imports neither alembic nor the connector types (boto3, httpx) nor jinja2 nor Prefect, nor
    PyJWT (no account login configured), phonenumbers, the calendars or the processing use cases
    (a request that owes no letter) or identity verification (its summary is read apart); `request new --no-start` imports no Prefect."""
    from dsar.persistence.database import schema_head, shipped_head

    assert shipped_head() == schema_head()  # the fast schema check reads the same head as alembic
    ref = json.loads(run(env, *NEW, "--no-start", "--json")[1])["reference"]
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dsar.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic_settings', 'sqlalchemy')))\n"
        f"result = CliRunner().invoke(app, ['request', 'show', '{ref}'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = {'alembic', 'boto3', 'botocore', 'httpx', 'prefect', 'jinja2', 'jwt', 'phonenumbers', 'holidays'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
        "print(sorted(m for m in sys.modules if m in ('dsar.services.processing', 'dsar.connectors.schema', 'dsar.services.identity')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "[]", "[]"]
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dsar.cli import app\n"
        f"result = CliRunner().invoke(app, {[*NEW, '--email', 'jane.roe@example.com', '--no-start']!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'prefect', 'boto3', 'httpx'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]"]


def test_a_command_closes_its_database_before_the_process_ends(env: dict[str, str]) -> None:
    """`dsar` freezes its objects at exit instead of letting the interpreter free them one by one
    (issue 13, item 8); it closes its engines' connections first, so SQLite checkpoints the
    write-ahead log into dsar.db and removes it, as the interpreter's teardown did: a copy of
    dsar.db alone holds every committed request."""
    home = Path(env["DSAR_HOME"])
    for args in ([*NEW, "--no-start", "--json"], ["request", "list", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "dsar", *args], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env}
        )
        assert done.returncode == 0, done.stderr
        assert not (home / "dsar.db-wal").exists() and not (home / "dsar.db-shm").exists(), args
    import sqlite3

    copy = home.parent / "copy.db"
    copy.write_bytes((home / "dsar.db").read_bytes())
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM privacy_request").fetchone() == (1,)


def test_request_resend_sends_a_new_link_to_the_contact_on_file_within_the_allowed_sends(env: dict[str, str], tmp_path: Path) -> None:
    from dsar.app import build_app
    from dsar.demo.shop import seed_shop
    from dsar.services import processing, queries

    settings = make_settings(tmp_path / "home")
    seed_shop(settings.demo_shop_path)  # the system of record: jane.doe@example.com is customer 1
    code, out, _ = run(env, *NEW, "--no-start", "--json")
    ref = json.loads(out)["reference"]
    code, _, err = run(env, "request", "resend", ref)
    assert code == 1 and "no new link was sent" in err  # not waiting for verification yet
    engine = build_app(settings)
    try:
        processing.start_verification(engine.ctx, queries.lookup(engine.ctx, ref).id)
    finally:
        engine.engine.dispose()
    outbox = tmp_path / "home" / "outbox"
    assert len(list(outbox.glob(f"{ref}.verify-*.eml"))) == 1
    for n in (2, 3):
        assert run(env, "request", "resend", ref)[:2] == (0, f"{ref}: a new link and code went to the contact on file\n")
        assert len(list(outbox.glob(f"{ref}.verify-*.eml"))) == n
    code, _, err = run(env, "request", "resend", ref)
    assert code == 1 and "no sends left" in err  # DSAR_VERIFICATION_MAX_SENDS (3) used up
    assert len(list(outbox.glob(f"{ref}.verify-*.eml"))) == 3
    assert {str(p.name).split(".verify-")[0] for p in outbox.glob("*.verify-*.eml")} == {ref}
