"""Legal's letter sign-off (DSAR_LETTER_SIGN_OFF) outside Prefect: through the orchestration
port (the console's and the CLI's path: recorded in the engine, then the waiting run resumed
with the decision only) and through `dsar request approve-letter` / `dsar request show`, on a
migrated SQLite home with the demo shop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsar.app import App
from dsar.demo.run import latest_code
from dsar.domain.decisions import SignOffRefusal, sign_off
from dsar.domain.errors import InvalidInput
from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff
from dsar.domain.request import Status
from dsar.services import letter_sign_off as letters
from dsar.services import processing as svc
from dsar.services import queries
from dsar.services.admin import release_request
from dsar.services.intake import log_request
from dsar.services.orchestration import InMemoryOrchestrator, ensure_processing, letter_sign_off_and_resume, start_processing
from tests.conftest import SHOP_ONLY
from tests.integration.test_cli import env, run
from tests.signoff import approve, code, enrol, sign

__all__ = ["env"]

LENA = "lena.legal"


def responding(app: App, kind: str = "deletion") -> str:
    ctx = app.ctx
    r = log_request(
        ctx, {"type": kind, "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    got = latest_code(app.settings.effective_outbox_dir, r.reference)
    assert got is not None
    svc.confirm_code(ctx, r.id, got)
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    approve(ctx, r.id)
    assert svc.execute_plan(ctx, r.id) is Status.RESPONDING
    return r.id


def suspended(app: App, orchestrator: InMemoryOrchestrator, request_id: str) -> str:
    run_id = start_processing(app.ctx, orchestrator, request_id)
    orchestrator.suspend(run_id)  # the flow waits at the letter's sign-off
    return run_id


def test_the_console_and_cli_path_records_the_approval_then_resumes_the_run_without_the_code(sqlite_app: App) -> None:
    ctx, orchestrator = sqlite_app.ctx, InMemoryOrchestrator()
    rid = responding(sqlite_app)
    with pytest.raises(InvalidInput, match="no flow run is waiting"):
        letter_sign_off_and_resume(ctx, orchestrator, rid, LetterSignOff(LetterDecision.APPROVE), LENA, "123456", via="cli")
    run_id = suspended(sqlite_app, orchestrator, rid)
    secret = enrol(ctx, LENA)
    wrong = f"{(int(code(ctx, secret)) + 1) % 1_000_000:06d}"
    refused = letter_sign_off_and_resume(ctx, orchestrator, rid, LetterSignOff(LetterDecision.APPROVE), LENA, wrong, via="cli")
    assert refused.refused is SignOffRefusal.WRONG_CODE and orchestrator.resumed == []
    given = LetterSignOff(LetterDecision.APPROVE, note="INTERNAL: checked")
    result = letter_sign_off_and_resume(ctx, orchestrator, rid, given, LENA, code(ctx, secret), via="console")
    assert result.recorded and not result.returned
    (resumed,) = orchestrator.resumed
    assert resumed.run_id == run_id
    assert resumed.run_input == {"decision": "approve", "approver": LENA, "code": "", "reason": "", "note": ""}
    # the run reads the decision back (its form's input has no code): nothing more is recorded
    again = letters.letter_sign_off_attempt(ctx, rid, decision="approve", reason="", note="", approver=LENA, code="", via="prefect-ui")
    assert again == letters.LetterSignOffResult(Status.RESPONDING)
    assert svc.send_response(ctx, rid) is Status.CLOSED
    ref = svc.reference_of(ctx, rid)
    assert (sqlite_app.settings.effective_outbox_dir / f"{ref}.deletion_response_dsar.eml").exists()
    kinds = [e.kind for e in queries.request_events(ctx, ref)]
    assert kinds.count("LetterSignOffRecorded") == 1 and kinds.count("SignOffRefused") == 1


def test_a_returned_refusal_is_held_and_after_the_release_a_new_run_asks_again(sqlite_app: App) -> None:
    ctx, orchestrator = sqlite_app.ctx, InMemoryOrchestrator()
    r = log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    svc.confirm_code(ctx, r.id, latest_code(sqlite_app.settings.effective_outbox_dir, r.reference) or "")
    svc.plan_request(ctx, r.id)
    assert sign(ctx, r.id, sign_off("deny", "exempt")).status is Status.DENIED
    first = suspended(sqlite_app, orchestrator, r.id)
    secret = enrol(ctx, LENA)
    given = LetterSignOff(LetterDecision.RETURN, "say which exemption applies")
    result = letter_sign_off_and_resume(ctx, orchestrator, r.id, given, LENA, code(ctx, secret), via="console")
    assert result.returned and orchestrator.resumed[0].run_input["decision"] == "return"
    view = queries.request_view(ctx, r.reference)
    assert view.on_hold and view.hold_reason == "letter returned by legal: say which exemption applies"
    assert svc.send_response(ctx, r.id) is Status.DENIED
    assert not (sqlite_app.settings.effective_outbox_dir / f"{r.reference}.denial_dsar.eml").exists()
    orchestrator.finish(first)  # the run ended with the request held
    release_request(ctx, r.id, "the exemption is named now", by="sam.support")
    # a refusal whose letter has not gone gets a new run, though DENIED is final
    second = ensure_processing(ctx, orchestrator, r.id)
    assert second not in (None, first)
    assert letters.letter_state(ctx, r.id).waiting


def test_approve_letter_refuses_a_return_without_a_reason_and_a_request_whose_letter_does_not_wait(env: dict[str, str]) -> None:
    from tests.integration.test_cli import NEW

    code_, out, _ = run(env, *NEW)
    assert code_ == 0
    ref = out.split("DSR-", 1)[1][:11]
    ref = f"DSR-{ref}"
    rc, _, errout = run(env, "request", "approve-letter", ref, "--approver", LENA, "--code", "123456", "--return")
    assert rc == 2 and "a return needs a reason" in errout
    rc, _, errout = run(env, "request", "approve-letter", ref, "--approver", LENA, "--code", "123456")
    assert rc == 2 and "no letter waits for legal's approval" in errout


def test_show_says_the_letter_waits_for_legal_and_then_who_approved_it(env: dict[str, str], tmp_path: Path) -> None:
    from dsar.app import build_app
    from dsar.demo.shop import seed_shop
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home")
    seed_shop(settings.demo_shop_path)
    app = build_app(settings)
    try:
        rid = responding(app)
        ref = svc.reference_of(app.ctx, rid)
    finally:
        app.engine.dispose()
    shop = {**env, "DSAR_DATA_MAP_DIR": str(SHOP_ONLY), "COLUMNS": "200"}
    rc, out, _ = run(shop, "request", "show", ref, "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["letter_sign_off"] == {"letter": "deletion_response", "waits_for_legal": True, "decisions": []}
    rc, out, _ = run(shop, "request", "show", ref)
    # the table's cells wrap at the terminal's width (80 under some runners): look for short pieces
    flat = " ".join(out.split())
    assert "deletion_response: waits for legal's" in flat and "approve-letter" in flat
    app = build_app(settings)
    try:
        secret = enrol(app.ctx, LENA)
        assert letters.record_letter_sign_off(
            app.ctx, rid, LetterSignOff(LetterDecision.APPROVE), LENA, code(app.ctx, secret), via="cli"
        ).recorded
    finally:
        app.engine.dispose()
    rc, out, _ = run(shop, "request", "show", ref, "--json")
    ls = json.loads(out)["letter_sign_off"]
    assert ls["waits_for_legal"] is False and ls["decisions"][0]["approver"] == LENA and ls["decisions"][0]["decision"] == "approve"
    rc, out, _ = run(shop, "request", "show", ref)
    assert f"approve by {LENA}" in " ".join(out.split())
    rc, out, _ = run(shop, "request", "events", ref, "--json")
    (recorded,) = [e["details"] for e in json.loads(out) if e["kind"] == "LetterSignOffRecorded"]
    assert recorded["letter"] == "deletion_response" and recorded["verified_by"] == "totp" and recorded["via"] == "cli"


def test_the_deadline_watch_on_sql_alerts_a_refusal_whose_letter_waits(sqlite_app: App) -> None:
    from dsar.services import deadlines

    ctx = sqlite_app.ctx
    r = log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    svc.confirm_code(ctx, r.id, latest_code(sqlite_app.settings.effective_outbox_dir, r.reference) or "")
    svc.plan_request(ctx, r.id)
    assert sign(ctx, r.id, sign_off("deny", "exempt")).status is Status.DENIED
    due = queries.request_view(ctx, r.reference).deadline.due
    from datetime import timedelta

    breached = deadlines.sweep(ctx, [7, 3, 1], as_of=due + timedelta(days=1))
    assert [a.kind for a in breached.raised if a.request_id == r.id and a.notify] == ["breached"]
    assert deadlines.sweep(ctx, [7, 3, 1], as_of=due + timedelta(days=1)).raised == []


@pytest.mark.parametrize("edited", ["deletion_response/default.en.j2", "_partials/rights.en.j2"])
def test_an_approval_lapses_when_the_letter_s_files_change_before_it_goes(home: Path, tmp_path: Path, edited: str) -> None:
    """Legal approved the letter as previewed; a template (or a partial it uses) is approved
    anew before the letter is sent: what would go is not what legal read, so nothing is sent,
    the approval lapses (recorded), and the letter waits for legal again, under a step of its
    own; approved again, it goes."""
    import shutil

    from tests.conftest import ROOT, approve_all_templates, build_migrated_app, make_settings
    from tests.signoff import sign_letter

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    settings = make_settings(home, templates_dir=tmp_path / "templates")
    from dsar.demo.shop import seed_shop

    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    try:
        ctx = app.ctx
        rid = responding(app)
        ref = svc.reference_of(ctx, rid)
        assert sign_letter(ctx, rid, LetterSignOff(LetterDecision.APPROVE)).recorded
        path = tmp_path / "templates" / edited
        path.write_text(path.read_text() + "\n{# reworded by legal's team #}\n")
        assert approve_all_templates(app) == 1  # legal approves the new version of the file
        assert svc.send_response(ctx, rid) is Status.RESPONDING
        outbox = app.settings.effective_outbox_dir
        assert not list(outbox.glob(f"{ref}.deletion_response*"))
        (lapsed,) = [e.details for e in queries.request_events(ctx, ref) if e.kind == "LetterSignOffLapsed"]
        assert lapsed["step"] == "letter" and lapsed["letter"] == "deletion_response"
        assert lapsed["approved_version"] != lapsed["current_version"] and len(lapsed["current_version"]) == 64
        state = letters.letter_state(ctx, rid)
        assert state.waiting and state.lapsed == 1
        assert "An earlier approval lapsed" in letters.letter_summary(ctx, rid)
        assert (
            svc.send_response(ctx, rid) is Status.RESPONDING
            and len([e for e in queries.request_events(ctx, ref) if e.kind == "LetterSignOffLapsed"]) == 1
        )  # waits: nothing sent, nothing lapses twice
        again = sign_letter(ctx, rid, LetterSignOff(LetterDecision.APPROVE), "other.legal")
        assert again.recorded
        steps = [e.details["step"] for e in queries.request_events(ctx, ref) if e.kind == "LetterSignOffRecorded"]
        assert steps == ["letter", "letter-2"]
        assert svc.send_response(ctx, rid) is Status.CLOSED
        assert list(outbox.glob(f"{ref}.deletion_response*"))
    finally:
        app.engine.dispose()
