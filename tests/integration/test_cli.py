from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsar.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k in ("DSAR_DATABASE_URL", "PREFECT_API_URL", "DSAR_PREFECT_API_URL"):
        monkeypatch.delenv(k, raising=False)
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
    assert code == 0 and doc["created"] and doc["due"] == "2026-12-02"
    code, out, _ = run(env, "request", "list", "--json")
    assert [r["reference"] for r in json.loads(out)] == [doc["reference"]]
    code, out, _ = run(env, "request", "show", doc["reference"], "--json")
    shown = json.loads(out)
    assert shown["subject"]["name"] == "J*** D***" and shown["subject"]["emails"] == ["j***@example.com"]
    code, out, _ = run(env, "request", "show", doc["reference"], "--json", "--reveal")
    assert json.loads(out)["subject"]["name"] == "Jane Doe"
    code, out, _ = run(env, "request", "events", doc["reference"], "--json")
    assert [e["kind"] for e in json.loads(out)][-1] == "SubjectDataViewed"


def test_a_second_identical_submission_is_linked(env: dict[str, str]) -> None:
    first = json.loads(run(env, *NEW, "--json")[1])
    second = json.loads(run(env, *NEW, "--json")[1])
    assert not second["created"] and second["reference"] == first["reference"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--regime", "gdrp"], "unknown regime"),
        (["--type", "erase"], "unknown request type"),
        (["--email", "not-an-email"], "not a valid email"),
        (["--received", "2999-01-01"], "lies in the future"),
        (["--received", "yesterday"], "received_at"),
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
