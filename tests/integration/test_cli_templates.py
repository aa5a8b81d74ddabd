"""Letters as approved scripts through the CLI (`dsar templates list|diff|approve`), on a
migrated SQLite home with a copy of the templates: legal approves with the authenticator's
code; an edit since the approval shows as changed, its diff names the lines; a request whose
letter waits for an approval is released by it and its letter records the version."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsar.app import build_app
from dsar.crypto.totp import code_at, secret_from_base32, step_of
from dsar.demo.shop import seed_shop
from dsar.services import accounts, processing
from tests.conftest import ROOT, make_settings, migrate_database
from tests.integration.test_cli import run


@pytest.fixture
def templated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A migrated home where legal approved nothing yet, with a copy of the templates."""
    for k in ("DSAR_DATABASE_URL", "PREFECT_API_URL", "DSAR_PREFECT_API_URL"):
        monkeypatch.delenv(k, raising=False)
    settings = make_settings(tmp_path / "home")
    migrate_database(settings)
    seed_shop(settings.demo_shop_path)  # verification looks the subject up in the system of record
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return {
        "DSAR_HOME": str(tmp_path / "home"),
        "DSAR_PREFECT_PORT": "9",
        "DSAR_DATA_MAP_DIR": str(ROOT / "connectors"),
        "DSAR_TEMPLATES_DIR": str(tmp_path / "templates"),
    }


def legal(env: dict[str, str], tmp_path: Path, name: str = "lena") -> bytes:
    run(env, "users", "add", name, "--role", "legal")
    app = build_app(make_settings(tmp_path / "home", templates_dir=Path(env["DSAR_TEMPLATES_DIR"])))
    try:
        return secret_from_base32(accounts.enrol_totp(app.ctx, name, by="test").secret)
    finally:
        app.engine.dispose()


def now_code(secret: bytes, after_step: int | None = None) -> str:
    import time

    now = datetime.now(UTC)
    if after_step is not None and step_of(now) <= after_step:  # a code is good once: wait for the next
        time.sleep(30 - now.timestamp() % 30 + 0.2)
        now = datetime.now(UTC)
    return code_at(secret, now)


def listed(env: dict[str, str]) -> dict[str, dict[str, object]]:
    code, out, _ = run(env, "templates", "list", "--json")
    assert code == 0, out
    return {d["path"]: d for d in json.loads(out)}


def test_templates_are_listed_unapproved_then_approved_by_legal_with_the_authenticator(templated: dict[str, str], tmp_path: Path) -> None:
    before = listed(templated)
    assert {"denial/default.en.j2", "_partials/rights.en.j2", "_layout/letter.html.j2", "vocabulary.toml"} <= set(before)
    assert {d["state"] for d in before.values()} == {"unapproved"}
    content = (Path(templated["DSAR_TEMPLATES_DIR"]) / "denial/default.en.j2").read_bytes()
    assert before["denial/default.en.j2"]["version"] == hashlib.sha256(content).hexdigest()
    assert before["denial/default.en.j2"]["kind"] == "denial" and before["denial/default.en.j2"]["language"] == "en"
    _, out, errout = run(templated, "templates", "list")
    assert "not approved" in out and "letters made of them are not sent" in errout

    secret = legal(templated, tmp_path)
    code, _, errout = run(templated, "templates", "approve", "--approver", "lena", "--code", "000000")
    assert code == 1 and "not approved: the authenticator code is wrong or expired" in errout
    code, _, errout = run(templated, "templates", "approve", "--approver", "nobody", "--code", "123456")
    assert code == 1 and "not an active legal account" in errout
    assert {d["state"] for d in listed(templated).values()} == {"unapproved"}

    code, out, _ = run(templated, "templates", "approve", "--approver", "lena", "--code", now_code(secret), "--json")
    assert code == 0, out
    assert len(json.loads(out)["approved"]) == len(before)
    after = listed(templated)
    assert {d["state"] for d in after.values()} == {"approved"}
    assert after["denial/default.en.j2"]["approved_by"] == "lena"
    assert run(templated, "templates", "diff", "denial/default.en.j2")[:2] == (0, "denial/default.en.j2: approved as it is\n")


def test_an_edit_since_the_approval_shows_as_changed_with_its_diff_and_is_approved_again(templated: dict[str, str], tmp_path: Path) -> None:
    secret = legal(templated, tmp_path)
    first = now_code(secret)
    assert run(templated, "templates", "approve", "--approver", "lena", "--code", first)[0] == 0
    path = Path(templated["DSAR_TEMPLATES_DIR"]) / "denial/default.en.j2"
    path.write_text(path.read_text().replace("Our reason:", "The reason:"))
    state = listed(templated)["denial/default.en.j2"]
    assert state["state"] == "changed" and state["approved_version"] != state["version"]
    code, out, _ = run(templated, "templates", "diff", "denial/default.en.j2")
    assert code == 1
    assert "-Our reason: {{ denial_reason" in out and "+The reason: {{ denial_reason" in out and "approved" in out
    code, _, errout = run(templated, "templates", "diff", "../../etc/passwd")
    assert code == 2 and "relative to the templates folder" in errout
    assert run(templated, "templates", "diff", "nothing.j2")[0] == 1
    code, out, _ = run(
        templated,
        "templates",
        "approve",
        "denial/default.en.j2",
        "--approver",
        "lena",
        "--code",
        now_code(secret, step_of(datetime.now(UTC))),
    )
    assert code == 0 and "approved 1 template file(s)" in out
    assert listed(templated)["denial/default.en.j2"]["state"] == "approved"


def test_a_request_whose_letter_is_not_approved_waits_with_the_reason_and_is_released_by_the_approval(
    templated: dict[str, str], tmp_path: Path
) -> None:
    secret = legal(templated, tmp_path)
    code, out, _ = run(
        templated,
        *["request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Jane Doe"],
        *["--email", "jane.doe@example.com", "--language", "de", "--no-start"],
    )
    assert code == 0, out
    app = build_app(make_settings(tmp_path / "home", templates_dir=Path(templated["DSAR_TEMPLATES_DIR"])))
    try:
        with app.ctx.uow() as uow:
            (r,) = uow.requests.query(__import__("dsar.services.ports", fromlist=["RequestQuery"]).RequestQuery())
        assert r.language == "de"
        processing.start_verification(app.ctx, r.id)
        code, out, _ = run(templated, "request", "show", r.reference, "--json")
        shown = json.loads(out)
        assert shown["on_hold"] is True
        assert "letter template not approved" in json.dumps(shown) and "dsar templates approve" in json.dumps(shown)
        assert not list((tmp_path / "home" / "outbox").glob("*.eml"))
        code, out, _ = run(templated, "templates", "approve", "--approver", "lena", "--code", now_code(secret))
        assert code == 0 and f"released {r.reference}" in out
        processing.start_verification(app.ctx, r.id)
        with app.ctx.uow() as uow:
            kinds = [e.kind for e in uow.audit.events(r.id)]
            sent = [e.details for e in uow.audit.events(r.id) if e.kind == "LetterSent"]
        assert "VerificationLinkSent" in kinds
        assert [s["kind"] for s in sent] == ["verification_code"]
        assert sent[0]["language"] in ("de", "en") and len(str(sent[0]["version"])) == 64
        assert len(list((tmp_path / "home" / "outbox").glob("*.eml"))) == 1
    finally:
        app.engine.dispose()
