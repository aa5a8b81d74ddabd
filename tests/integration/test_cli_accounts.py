"""`dsar users ...` and `dsar tokens ...` through typer's CliRunner, on a migrated SQLite home."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dsar.app import build_app
from dsar.domain.accounts import TokenScope
from dsar.services import accounts
from tests.conftest import make_settings
from tests.integration.test_cli import env, run

__all__ = ["env"]


def link_token(out: str) -> str:
    m = re.search(r"http://127\.0\.0\.1:8000/console/set-password#(\S+)", out)
    assert m, out
    return m.group(1)


def test_users_add_prints_a_one_time_link_with_the_token_in_the_fragment(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(env, "users", "add", "alice", "--role", "admin")
    assert code == 0 and "Added alice (admin)" in out and "valid 72 hours" in out
    token = link_token(out)
    app = build_app(make_settings(tmp_path / "home"))
    account = accounts.set_password(app.ctx, token, "a long enough password")
    assert account.name == "alice" and account.password_set
    app.engine.dispose()


def test_users_list_shows_role_activity_and_flags_training(env: dict[str, str]) -> None:
    run(env, "users", "add", "alice", "--role", "admin")
    run(env, "users", "add", "lena", "--role", "legal")
    assert run(env, "users", "trained", "lena", "--on", "2020-01-01")[0] == 0
    code, out, errout = run(env, "users", "list")
    assert code == 0 and "alice" in out and "lena" in out and "2020-01-01" in out
    assert "over 12 months" in out and "warning" in errout
    code, out, _ = run(env, "users", "list", "--json")
    docs = {d["name"]: d for d in json.loads(out)}
    assert docs["lena"]["role"] == "legal" and docs["lena"]["trained_on"] == "2020-01-01" and docs["lena"]["training_overdue"]
    assert docs["alice"]["active"] and docs["alice"]["last_login_at"] is None


def test_set_role_deactivate_and_reset_password(env: dict[str, str]) -> None:
    run(env, "users", "add", "root", "--role", "admin")
    first = link_token(run(env, "users", "add", "sam", "--role", "support")[1])
    code, out, _ = run(env, "users", "set-role", "sam", "legal")
    assert code == 0 and "sam: role legal" in out
    code, out, _ = run(env, "users", "reset-password", "sam")
    assert code == 0 and link_token(out) != first
    code, out, _ = run(env, "users", "deactivate", "sam")
    assert code == 0 and "deactivated" in out
    docs = {d["name"]: d for d in json.loads(run(env, "users", "list", "--json")[1])}
    assert docs["sam"]["role"] == "legal" and not docs["sam"]["active"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["users", "add", "bad name", "--role", "admin"], 2, "name:"),
        (["users", "add", "alice", "--role", "root"], 2, "role:"),
        (["users", "set-role", "nobody", "legal"], 1, "no staff account"),
        (["users", "trained", "nobody", "--on", "yesterday"], 2, "on: not a date"),
        (["tokens", "create", "helpdesk", "--scope", "requests:delete"], 2, "scope:"),
        (["tokens", "revoke", "42"], 1, "no API token 42"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(env: dict[str, str], args: list[str], code: int, message: str) -> None:
    got, _, errout = run(env, *args)
    assert got == code and message in errout
    assert json.loads(run(env, "users", "list", "--json")[1]) == []
    assert json.loads(run(env, "tokens", "list", "--json")[1]) == []


def test_tokens_create_prints_the_secret_once_and_list_never_shows_it(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(env, "tokens", "create", "helpdesk", "--scope", "requests:write", "--scope", "requests:read")
    assert code == 0 and "requests:read requests:write" in out
    secret = re.search(r"dsar_\S+", out)
    assert secret
    code, out, _ = run(env, "tokens", "list", "--json")
    [doc] = json.loads(out)
    assert secret.group(0) not in out and doc["prefix"] == secret.group(0)[:13] and doc["created_by"].startswith("cli:")
    app = build_app(make_settings(tmp_path / "home"))
    assert accounts.authenticate_token(app.ctx, secret.group(0), TokenScope.REQUESTS_READ).id == doc["id"]
    assert run(env, "tokens", "revoke", str(doc["id"]))[0] == 0
    assert json.loads(run(env, "tokens", "list", "--json")[1])[0]["revoked_at"] is not None
    with pytest.raises(accounts.TokenRefused):
        accounts.authenticate_token(app.ctx, secret.group(0), TokenScope.REQUESTS_READ)
    app.engine.dispose()
    assert "helpdesk" in run(env, "tokens", "list")[1]
