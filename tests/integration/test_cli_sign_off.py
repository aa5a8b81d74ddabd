"""Legal's sign-off and authenticators through the CLI (typer's CliRunner, a migrated SQLite
home): `dsar users totp`, `dsar request sign-off` refusing incomplete or unproven decisions,
and legal's reasoning shown to staff by `request events` and `request show --json`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dsar.app import build_app
from dsar.crypto.totp import code_at, secret_from_base32
from dsar.domain.events import SignOffRecorded, SignOffRefused
from dsar.services import accounts, queries
from tests.conftest import make_settings
from tests.integration.test_cli import NEW, env, run

__all__ = ["env"]


def reference(out: str) -> str:
    m = re.search(r"DSR-\d{4}-\d{6}", out)
    assert m, out
    return m.group(0)


def test_users_totp_prints_the_uri_once_and_a_qr_code_and_the_code_it_gives_is_accepted(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "users", "add", "lena", "--role", "legal")[0] == 0
    code, out, _ = run(env, "users", "totp", "lena")
    assert code == 0 and "Authenticator enrolled for lena" in out
    uri = re.search(r"otpauth://totp/\S+", out)
    assert uri, out
    secret = parse_qs(urlsplit(uri.group(0)).query)["secret"][0]
    assert f"Secret (to type by hand): {secret}" in out
    assert "█" in out or "▀" in out or "▄" in out  # the QR code, drawn with block characters
    app = build_app(make_settings(tmp_path / "home"))
    try:
        with app.ctx.uow() as uow:
            found = uow.accounts.find("lena")
            assert found is not None and found.totp_enrolled
            sealed = uow.accounts.totp(found.id)
            assert sealed is not None and secret.encode() not in sealed.sealed_secret
            proven = accounts.prove_approver(uow, "lena", code_at(secret_from_base32(secret), app.ctx.clock()), app.ctx.clock())
            assert not isinstance(proven, str) and proven.name == "lena"
    finally:
        app.engine.dispose()
    code, out, _ = run(env, "users", "totp", "lena", "--no-qr")
    assert code == 0 and secret not in out  # a new enrolment, a new secret


def test_users_totp_refuses_accounts_that_do_not_sign_off(env: dict[str, str]) -> None:
    run(env, "users", "add", "sam", "--role", "support")
    code, _, errout = run(env, "users", "totp", "sam")
    assert code == 2 and "only legal accounts sign off" in errout
    assert run(env, "users", "totp", "nobody")[0] == 1


def test_totp_code_is_only_for_accounts_the_demo_enrolled(env: dict[str, str]) -> None:
    run(env, "users", "add", "lena", "--role", "legal")
    run(env, "users", "totp", "lena", "--no-qr")
    code, out, errout = run(env, "users", "totp-code", "lena")
    assert code == 1 and out == "" and "only accounts `dsar demo` enrolled" in errout


def test_a_denial_without_a_reason_is_refused_at_input_and_nothing_is_recorded(env: dict[str, str], tmp_path: Path) -> None:
    ref = reference(run(env, *NEW)[1])
    code, _, errout = run(env, "request", "sign-off", ref, "--deny", "--approver", "lena", "--code", "123456", "--note", "INTERNAL")
    assert code == 2 and "a denial needs a reason code for the subject" in errout
    code, _, errout = run(env, "request", "sign-off", ref, "--deny", "--reason", "other", "--approver", "lena", "--code", "123456")
    assert code == 2 and "'other' needs the reason in words" in errout
    # a complete decision on a request that does not wait for one is refused before any check
    code, _, errout = run(env, "request", "sign-off", ref, "--deny", "--reason", "exempt", "--approver", "lena", "--code", "1")
    assert code == 2 and "not awaiting_sign_off" in errout
    app = build_app(make_settings(tmp_path / "home"))
    try:
        kinds = [e.kind for e in queries.request_events(app.ctx, ref)]
    finally:
        app.engine.dispose()
    assert "SignOffRefused" not in kinds and "SignOffRecorded" not in kinds


def test_events_and_show_json_give_auditors_legal_s_reasoning(env: dict[str, str], tmp_path: Path) -> None:
    ref = reference(run(env, *NEW)[1])
    app = build_app(make_settings(tmp_path / "home"))
    try:
        r = queries.lookup(app.ctx, ref)
        now = app.ctx.clock()
        with app.ctx.uow() as uow:
            uow.audit.append(
                [
                    SignOffRefused(r.id, now, "release", 1, "wrong_code", "lena", None, "prefect-ui"),
                    SignOffRecorded(
                        r.id, now, "release", "deny", "lena", "exempt", "", "legal hold, matter 12", "totp", "console", "run-1"
                    ),
                ]
            )
            uow.commit()
    finally:
        app.engine.dispose()
    wide = {**env, "COLUMNS": "200"}
    code, out, _ = run(wide, "request", "events", ref)
    # the table's cells wrap at the terminal's width (80 under some runners): look for short pieces
    assert code == 0 and "Legal refused" in out and "internal note:" in out and "SignOffRefused" in out
    code, out, _ = run(env, "request", "events", ref, "--json")
    details = {e["kind"]: e["details"] for e in json.loads(out)}
    assert details["SignOffRecorded"]["note"] == "legal hold, matter 12" and details["SignOffRefused"]["reason"] == "wrong_code"
    code, out, _ = run(env, "request", "show", ref, "--json")
    doc = json.loads(out)
    assert doc["sign_off"]["note"] == "legal hold, matter 12" and doc["sign_off"]["reason"] == "exempt"
    assert doc["sign_off"]["verified_by"] == "totp" and doc["sign_off"]["approver"] == "lena"
    assert [x["reason"] for x in doc["sign_off_refused"]] == ["wrong_code"]
    code, out, _ = run(wide, "request", "show", ref)
    assert code == 0 and "sign-off.note" in out and "legal hold" in out


def test_an_exemption_without_a_known_ground_or_with_a_denial_is_refused_at_input(env: dict[str, str], tmp_path: Path) -> None:
    ref = reference(run(env, *NEW)[1])
    base = ("request", "sign-off", ref, "--approver", "lena", "--code", "123456")
    code, _, errout = run(env, *base, "--exempt", "shop/orders")
    assert code == 2 and "exempt shop/orders: needs a legal ground" in errout
    code, _, errout = run(env, *base, "--exempt", "shop/orders", "--ground", "gdpr-17-3-z")
    assert code == 2 and "ground: one of gdpr-17-3-a" in errout
    code, _, errout = run(env, *base, "--exempt", "shop", "--exempt", "files", "--ground", "legal-hold", "--ground", "")
    assert code == 2 and "exempt files: needs a legal ground" in errout
    code, _, errout = run(env, *base, "--deny", "--reason", "exempt", "--exempt", "shop", "--ground", "legal-hold")
    assert code == 2 and "only an approval keeps parts of the plan out" in errout
    # one ground for every exemption passes the input check (the request waits for nothing yet)
    code, _, errout = run(env, *base, "--exempt", "shop", "--exempt", "files", "--ground", "gdpr-17-3-b")
    assert code == 2 and "not awaiting_sign_off" in errout


def test_escalation_through_the_cli_from_queue_to_decision_and_report(env: dict[str, str], tmp_path: Path) -> None:
    ref = reference(run(env, *NEW)[1])
    code, out, errout = run(env, "request", "escalate", ref, "--point", "manifestly-unfounded-or-excessive", "--reason", "sixth in a week")
    assert code == 0 and "escalation 1 (manifestly_unfounded_or_excessive) with legal" in out and "held" in out, errout
    code, _, errout = run(env, "request", "escalate", ref, "--point", "whim", "--reason", "x")
    assert code == 2 and "point: one of verification_risk" in errout
    code, out, _ = run(env, "legal", "queue", "--json")
    (row,) = json.loads(out)
    assert row["reference"] == ref and row["escalation"] == 1 and row["target_missed"] is False and row["days_left"] >= 1
    assert run(env, "users", "add", "lena", "--role", "legal")[0] == 0
    enrolled = run(env, "users", "totp", "lena", "--no-qr")[1]
    uri = re.search(r"otpauth://totp/\S+", enrolled)
    assert uri, enrolled
    secret = secret_from_base32(parse_qs(urlsplit(uri.group(0)).query)["secret"][0])
    base = ("request", "resolve-escalation", ref, "--number", "1", "--approver", "lena")

    def now() -> datetime:
        return datetime.now(UTC)

    wrong = f"{(int(code_at(secret, now())) + 1) % 1_000_000:06d}"
    code, _, errout = run(env, *base, "--decision", "proceed", "--code", wrong)
    assert code == 1 and "refused: the authenticator code is wrong or expired; the escalation stays open" in errout
    code, out, errout = run(env, *base, "--decision", "proceed", "--code", code_at(secret, now()), "--note", "answer normally")
    assert code == 0 and "escalation 1: proceed recorded" in out, errout
    code, out, _ = run(env, "legal", "queue")
    assert code == 0 and "No escalation waits for legal." in out
    code, out, _ = run(env, "legal", "report", "--json")
    rep = json.loads(out)
    assert (rep["raised"], rep["resolved"], rep["open"], rep["target_missed"]) == (1, 1, 0, 0)
    assert rep["by_point"] == {"manifestly_unfounded_or_excessive": 1} and rep["median_hours_to_resolution"] is not None
    code, out, _ = run(env, "request", "show", ref, "--json")
    assert json.loads(out)["on_hold"] is False
