"""One request's page in the console: facts (masked; reveal recorded), deadlines, the
decrypted timeline in words, plan, flow run; and every casework action changing the state and
writing its audit event, with who did it, ending in a 303 and a one-line message."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from dsar.crypto.totp import secret_from_base32
from dsar.demo.run import latest_code
from dsar.domain.accounts import Role
from dsar.domain.request import Status
from dsar.services import accounts, casework, processing, queries
from tests.conftest import ROOT
from tests.signoff import approve, code
from tests.web.console_fixtures import Console, console, make_console, received_days_ago

__all__ = ["console"]


def page_of(console: Console, reference: str) -> str:
    answer = console.client.get(f"/console/requests/{reference}")
    assert answer.status_code == 200, answer.text
    return answer.text


def act(console: Console, reference: str, action: str, data: dict[str, Any] | None = None) -> Any:
    return console.post(f"/console/requests/{reference}/{action}", data or {})


def done(answer: Any, reference: str, code: str) -> None:
    assert answer.status_code == 303, answer.text[-2000:]
    assert answer.headers["location"] == f"/console/requests/{reference}?done={code}"


def test_the_page_shows_facts_masked_deadlines_and_the_decrypted_timeline(console: Console) -> None:
    console.sign_in(Role.AUDITOR)
    r = console.log()
    casework.add_note(console.app.ctx, r.id, "Called back; she will post her ID.", by="sam.support", via="console")
    html = page_of(console, r.reference)
    assert "J*** D***" in html and "j***@example.com" in html
    assert "Jane" not in html and "jane.doe" not in html
    view = queries.request_view(console.app.ctx, r.reference)
    assert view.deadline.due.isoformat() in html
    assert f"{(view.deadline.due - console.today()).days} day(s) left" in html
    # the timeline: kinds in words, the note decrypted, who wrote it
    assert "Request logged (access, gdpr)" in html
    assert f"Deadlines set: due {view.deadline.due.isoformat()}" in html
    assert "Called back; she will post her ID." in html and "— sam.support" in html
    assert "Dry run: the plan this request would get now" in html


def test_revealing_the_subject_shows_the_data_and_records_who_through_the_console(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    answer = act(console, r.reference, "reveal")
    assert answer.status_code == 200
    assert "Jane Doe" in answer.text and "jane.doe@example.com" in answer.text
    assert console.details(r.reference, "SubjectDataViewed") == [{"via": "console:sam.support"}]
    # the page itself stays masked
    assert "Jane Doe" not in page_of(console, r.reference)


def test_a_past_due_request_says_so_in_words(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(received_at=received_days_ago(45))
    html = page_of(console, r.reference)
    assert 'class="past-due"' in html and "<strong>past due</strong>" in html


def test_hold_and_release(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    done(act(console, r.reference, "hold", {"reason": "waiting for legal"}), r.reference, "held")
    assert queries.lookup(console.app.ctx, r.reference).on_hold
    html = page_of(console, r.reference + "?done=held")
    assert "Put on hold." in html and "on hold" in html
    assert console.orchestrator.started == []  # a hold starts nothing
    done(act(console, r.reference, "release", {"reason": "legal answered"}), r.reference, "released")
    assert not queries.lookup(console.app.ctx, r.reference).on_hold
    assert [s.request_id for s in console.orchestrator.started] == [r.id]  # no live run carried it: one starts at once
    assert console.details(r.reference, "HoldChanged") == [
        {"on_hold": "true", "reason": "waiting for legal", "by": "sam.support"},
        {"on_hold": "false", "reason": "legal answered", "by": "sam.support"},
    ]
    assert 'Put on hold</span> <span class="who">— sam.support' in page_of(console, r.reference)


def test_withdraw(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    done(act(console, r.reference, "withdraw", {"reason": "the subject withdrew by phone"}), r.reference, "withdrawn")
    assert queries.lookup(console.app.ctx, r.reference).status is Status.WITHDRAWN
    assert console.details(r.reference, "StatusChanged")[-1] == {
        "move": "withdraw",
        "from": "received",
        "to": "withdrawn",
        "reason": "the subject withdrew by phone",
        "by": "sam.support",
    }
    html = page_of(console, r.reference)
    assert "Status: received → withdrawn" in html and "the subject withdrew by phone" in html
    assert 'action="/console/requests/' + r.reference + '/withdraw"' not in html  # nothing left to withdraw


def test_a_request_withdrawn_after_its_verification_shows_its_verification_data_deleted(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    processing.start_verification(console.app.ctx, r.id)
    code = latest_code(console.app.settings.effective_outbox_dir, r.reference)
    assert code is not None and processing.confirm_code(console.app.ctx, r.id, code).value == "verified"
    done(act(console, r.reference, "withdraw", {"reason": "the subject withdrew by phone"}), r.reference, "withdrawn")
    html = page_of(console, r.reference)
    assert "— closed: its verification data was deleted when the request ended (proofs given: contact)" in html
    assert "Verification data deleted as the request ended" in html and "kept: level, proofs, contact on file" in html


def test_extend_records_who_decided(console: Console) -> None:
    console.sign_in(Role.LEGAL)
    r = console.log()
    before = queries.request_view(console.app.ctx, r.reference).deadline
    done(act(console, r.reference, "extend", {"reason": "many systems to search"}), r.reference, "extended")
    after = queries.request_view(console.app.ctx, r.reference).deadline
    assert after.extended and after.due == before.extended_due
    [event] = console.details(r.reference, "DeadlineExtended")
    assert (event["by"], event["reason"]) == ("lena.legal", "many systems to search")


def test_an_extension_too_late_is_not_offered_and_says_why(console: Console) -> None:
    console.sign_in(Role.LEGAL)
    r = console.log(received_at=received_days_ago(40))  # GDPR: the notice was due within the month
    notice_by = queries.request_view(console.app.ctx, r.reference).deadline.extension_notice_by
    assert notice_by is not None and notice_by < console.today()
    html = page_of(console, r.reference)
    assert f"Too late: the subject had to be told by {notice_by.isoformat()}" in html
    assert f'action="/console/requests/{r.reference}/extend"' not in html


def test_pause_and_restart_the_clock(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="uk-gdpr", country="GB", subdivision="ENG", received_at=received_days_ago(3))
    asked = console.today().isoformat()
    done(act(console, r.reference, "pause-clock", {"reason": "asked for ID", "on": asked}), r.reference, "paused")
    assert queries.request_view(console.app.ctx, r.reference).deadline.clock_stopped
    assert console.details(r.reference, "ClockPaused")[0]["reason"] == "asked for ID"
    assert console.details(r.reference, "ClockPaused")[0]["by"] == "sam.support"
    done(act(console, r.reference, "restart-clock", {"on": asked}), r.reference, "restarted")
    assert not queries.request_view(console.app.ctx, r.reference).deadline.clock_stopped
    assert console.details(r.reference, "ClockRestarted")[0]["answered_on"] == asked
    assert console.details(r.reference, "ClockRestarted")[0]["by"] == "sam.support"


def test_acknowledge_records_how_and_who(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories")
    done(act(console, r.reference, "acknowledge", {"how": "phone", "note": "told her on the call"}), r.reference, "acknowledged")
    assert queries.request_view(console.app.ctx, r.reference).deadline.acknowledged_at is not None
    assert console.details(r.reference, "ReceiptConfirmed") == [{"how": "phone", "by": "sam.support", "note": "told her on the call"}]


def test_a_note_and_the_legal_sensitive_flag_are_audit_events_shown_on_the_page_and_in_the_queue(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    done(act(console, r.reference, "note", {"text": "Line one\nline two"}), r.reference, "noted")
    done(act(console, r.reference, "flag", {"reason": "solicitor's letter received"}), r.reference, "flagged")
    assert console.details(r.reference, "InternalNoteAdded") == [{"text": "Line one\nline two", "by": "sam.support", "via": "console"}]
    assert console.details(r.reference, "LegalSensitiveFlagged") == [
        {"reason": "solicitor's letter received", "by": "sam.support", "via": "console"}
    ]
    html = page_of(console, r.reference)
    assert "legal-sensitive" in html and "solicitor&#39;s letter received" in html
    assert "Flagged legal-sensitive" in html
    assert "legal-sensitive" in console.client.get("/console").text
    # flagging again changes nothing; unflagging needs its reason
    done(act(console, r.reference, "flag", {"reason": "again"}), r.reference, "unchanged")
    assert len(console.details(r.reference, "LegalSensitiveFlagged")) == 1
    done(act(console, r.reference, "unflag", {"reason": "settled"}), r.reference, "unflagged")
    assert casework.flagged_ids(console.app.ctx, [r.id]) == set()


def test_run_starts_or_keeps_the_flow_run_and_links_to_it(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    done(act(console, r.reference, "run"), r.reference, "run")
    done(act(console, r.reference, "run"), r.reference, "run")
    assert [s.reference for s in console.orchestrator.started] == [r.reference]
    html = page_of(console, r.reference)
    assert "run-1 · Scheduled" in html and 'href="memory://flow-runs/run-1"' in html


def test_run_without_an_orchestrator_says_none_is_configured(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    object.__setattr__(console.web, "orchestrator", None)
    answer = act(console, r.reference, "run")
    assert answer.status_code == 422
    assert "no orchestrator is configured" in answer.text


def waiting_run(console: Console, reference: str) -> str:
    assert act(console, reference, "run").status_code == 303
    run_id = console.orchestrator.started[-1].run_id
    console.orchestrator.suspend(run_id)
    return run_id


def test_the_subjects_code_is_judged_by_the_engine_and_wakes_the_run_with_an_empty_input(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    processing.start_verification(console.app.ctx, r.id)
    waiting_run(console, r.reference)
    assert "Hand the code to the run" in page_of(console, r.reference)
    wrong = act(console, r.reference, "verify", {"code": "123456"})
    assert wrong.status_code == 422 and "wrong code; 4 tries left" in wrong.text and console.orchestrator.resumed == []
    code = latest_code(console.app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    done(act(console, r.reference, "verify", {"code": code}), r.reference, "verified")
    assert [x.run_input for x in console.orchestrator.resumed] == [{}]  # the code never goes to Prefect
    assert queries.lookup(console.app.ctx, r.reference).status is Status.VERIFIED


def test_a_code_when_no_run_waits_is_refused_and_nothing_resumed(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    answer = act(console, r.reference, "verify", {"code": "123456"})
    assert answer.status_code == 422 and "not awaiting_verification" in answer.text
    assert console.orchestrator.resumed == []


def awaiting_sign_off(console: Console, email: str | None = None) -> queries.RequestRef:
    r = console.log(**({"subject": {"name": "Jo Other", "emails": [email]}} if email else {}))
    ctx = console.app.ctx
    processing.start_verification(ctx, r.id)
    code = latest_code(console.app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    processing.confirm_code(ctx, r.id, code)
    assert processing.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    return r


def test_legal_signs_off_with_their_session_and_authenticator_code_then_the_run_resumes(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    html = page_of(console, r.reference)
    assert "Record the decision" in html and "Code from your authenticator app" in html and "manifestly unfounded or excessive" in html
    # a denial without a reason for the subject is refused at input: nothing recorded, nothing resumed
    answer = act(console, r.reference, "sign-off", {"decision": "deny", "note": "INTERNAL", "code": code(console.app.ctx, secret)})
    assert answer.status_code == 422 and "reason: a denial needs a reason code for the subject" in answer.text
    assert "SignOffRefused" not in console.kinds(r.reference) and console.orchestrator.resumed == []
    typed = code(console.app.ctx, secret)
    done(
        act(console, r.reference, "sign-off", {"decision": "approve", "note": "checked with the DPO", "code": typed}),
        r.reference,
        "signed-off",
    )
    assert queries.lookup(console.app.ctx, r.reference).status is Status.EXECUTING
    # the run gets the decision without the spent code or the note
    assert [x.run_input for x in console.orchestrator.resumed] == [
        {"decision": "approve", "approver": legal.name, "code": "", "reason": "-", "reason_text": "", "note": ""}
    ]
    (recorded,) = console.details(r.reference, "SignOffRecorded")
    assert recorded["approver"] == legal.name and recorded["verified_by"] == "totp" and recorded["via"] == "console"
    assert recorded["note"] == "checked with the DPO" and recorded["flow_run"] == console.orchestrator.resumed[0].run_id
    # the timeline shows legal's reasoning to staff and auditors
    console.sign_in(Role.AUDITOR)
    html = page_of(console, r.reference)
    assert "Legal approved the response" in html and "internal note: checked with the DPO" in html


def test_a_wrong_or_replayed_code_on_the_console_is_refused_recorded_and_the_request_keeps_waiting(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    good = code(console.app.ctx, secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    answer = act(console, r.reference, "sign-off", {"decision": "approve", "code": wrong})
    assert answer.status_code == 422 and "sign-off refused: the authenticator code is wrong or expired" in answer.text
    assert console.orchestrator.resumed == [] and queries.lookup(console.app.ctx, r.reference).status is Status.AWAITING_SIGN_OFF
    (attempt,) = console.details(r.reference, "SignOffRefused")
    assert attempt == {"step": "release", "attempt": 1, "reason": "wrong_code", "via": "console", "approver": legal.name}
    # the code used on another request already is refused on this one
    other = awaiting_sign_off(console, email="ana.silva@example.com")  # another customer on file
    waiting_run(console, other.reference)
    done(act(console, other.reference, "sign-off", {"decision": "approve", "code": good}), other.reference, "signed-off")
    replay = act(console, r.reference, "sign-off", {"decision": "approve", "code": good})
    assert replay.status_code == 422 and "the authenticator code was used already" in replay.text
    assert [a["reason"] for a in console.details(r.reference, "SignOffRefused")] == ["wrong_code", "replayed_code"]
    assert "SignOffRefused" in console.kinds(r.reference) and good not in str(console.details(r.reference, "SignOffRefused"))


def test_an_admin_may_open_the_form_but_is_not_on_the_legal_roster(console: Console) -> None:
    console.sign_in(Role.ADMIN)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    answer = act(console, r.reference, "sign-off", {"decision": "deny", "reason": "exempt", "code": "123456"})
    assert answer.status_code == 422 and "the approver is not an active legal account" in answer.text
    assert console.orchestrator.resumed == []


def test_support_sees_no_sign_off_and_is_refused_it(console: Console) -> None:
    console.sign_in(Role.LEGAL)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    console.sign_in(Role.SUPPORT)
    assert "Record the decision" not in page_of(console, r.reference)
    answer = act(console, r.reference, "sign-off", {"decision": "approve", "note": ""})
    assert answer.status_code == 403
    assert console.orchestrator.resumed == []


def test_confirming_a_manual_step_nobody_waits_for_is_refused(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    answer = act(console, r.reference, "confirm", {"system": "paper-archive", "outcome": "done", "records": "2"})
    assert answer.status_code == 422
    assert console.orchestrator.resumed == []


def test_the_dry_run_plan_is_a_read_only_page(console: Console) -> None:
    console.sign_in(Role.AUDITOR)
    r = console.log()
    before = console.kinds(r.reference)
    answer = console.client.get(f"/console/requests/{r.reference}/plan")
    assert answer.status_code == 200
    assert "shop" in answer.text and "export" in answer.text
    assert console.kinds(r.reference) == before


def test_the_evidence_bundle_downloads_and_the_export_is_recorded(console: Console) -> None:
    console.sign_in(Role.AUDITOR)
    r = console.log()
    answer = act(console, r.reference, "evidence")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert f'filename="evidence-{r.reference}.zip"' in answer.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert any(n.endswith(".json") for n in names)
    assert "EvidenceExported" in console.kinds(r.reference)


@pytest.mark.parametrize(
    ("action", "data", "problem"),
    [
        ("hold", {"reason": ""}, "reason: required"),
        ("withdraw", {}, "reason: required"),
        ("note", {"text": "   "}, "note: required"),
        ("flag", {}, "reason: required"),
        ("pause-clock", {"reason": "ID", "on": "yesterday-ish"}, "asked on: not a date"),
        ("acknowledge", {"how": "pigeon"}, "how: one of"),
    ],
)
def test_a_refused_action_shows_the_page_with_the_problem_and_changes_nothing(
    console: Console, action: str, data: dict[str, str], problem: str
) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="uk-gdpr", country="GB", subdivision="ENG") if action == "pause-clock" else console.log()
    before = console.kinds(r.reference)
    answer = act(console, r.reference, action, data)
    assert answer.status_code == 422
    assert problem in answer.text and r.reference in answer.text
    assert console.kinds(r.reference) == before


def test_hostile_text_in_notes_reasons_and_identity_is_shown_escaped(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    r = console.log(subject={"name": "Jane Doe", "emails": ["jane.doe@example.com"], "postal_address": hostile, "extra": {"note": hostile}})
    act(console, r.reference, "note", {"text": hostile})
    act(console, r.reference, "flag", {"reason": hostile})
    act(console, r.reference, "hold", {"reason": hostile})
    for html in (page_of(console, r.reference), act(console, r.reference, "reveal").text, console.client.get("/console").text):
        assert "<script>alert(2)" not in html and "<img src=x" not in html
    revealed = act(console, r.reference, "reveal").text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in revealed


def test_unknown_and_malformed_references(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    assert console.client.get("/console/requests/DSR-2026-999999").status_code == 404
    answer = console.client.get("/console/requests/<b>x</b>")
    assert answer.status_code in (404, 422) and "<b>x</b>" not in answer.text


def test_actions_only_for_what_the_role_allows(console: Console) -> None:
    r = console.log()
    console.sign_in(Role.AUDITOR)
    html = page_of(console, r.reference)
    assert re.findall(r'action="/console/requests/[^"]+/([a-z-]+)"', html) == ["evidence"]
    console.sign_in(Role.SUPPORT)
    actions = set(re.findall(r'action="/console/requests/[^"]+/([a-z-]+)"', page_of(console, r.reference)))
    assert {"reveal", "note", "flag", "hold", "run", "withdraw", "extend", "pause-clock"} <= actions
    assert "evidence" not in actions and "sign-off" not in actions


def test_an_overdue_confirmation_of_receipt_says_so_and_a_regime_without_stop_the_clock_offers_no_pause(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories", received_at=received_days_ago(20))
    d = queries.request_view(console.app.ctx, r.reference).deadline
    assert d.acknowledge_by is not None and d.acknowledge_by < console.today()  # the set-up: 10 business days passed
    html = page_of(console, r.reference)
    assert '<strong class="past-due">not yet: overdue</strong>' in html
    assert "/pause-clock" not in html
    assert "/pause-clock" in page_of(console, console.log(regime="uk-gdpr", country="GB", subdivision="ENG").reference)


def test_a_refused_action_names_the_problem_once(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="ccpa", country="US", subdivision="CA", access_scope="categories")
    answer = act(console, r.reference, "pause-clock", {"reason": "ID"})
    assert answer.status_code == 422
    assert answer.text.count("regime: ccpa cannot be paused") == 1
    assert "ccpa has no stop-the-clock" in answer.text


def test_a_manual_systems_confirmation_goes_to_the_waiting_run_under_the_persons_name(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    for name in ("shop.yaml", "warehouse.yaml"):
        shutil.copy(ROOT / "connectors" / name, maps / name)
    with ExitStack() as stack:
        console = make_console(tmp_path / "home", stack, data_map_dir=maps)
        try:
            console.sign_in(Role.SUPPORT)
            r = awaiting_sign_off(console)
            ctx = console.app.ctx
            approve(ctx, r.id)
            assert processing.execute_plan(ctx, r.id) is Status.EXECUTING
            waiting_run(console, r.reference)
            html = page_of(console, r.reference)
            assert "Manual step: Warehouse returns ledger (kept by hand)" in html
            answer = act(console, r.reference, "confirm", {"system": "warehouse", "outcome": "done", "records": "2", "note": "two rows"})
            done(answer, r.reference, "confirmed")
            assert [x.run_input for x in console.orchestrator.resumed] == [
                {"outcome": "done", "records": 2, "person": "sam.support", "note": "two rows"}
            ]
            bad = act(console, r.reference, "confirm", {"system": "warehouse", "outcome": "done", "records": "-1"})
            assert bad.status_code == 422 and "records: not a number" in bad.text
        finally:
            console.app.engine.dispose()


@pytest.mark.parametrize(("role", "shown"), [(Role.SUPPORT, True), (Role.AUDITOR, False), (Role.LEGAL, False), (Role.ADMIN, True)])
def test_the_navigation_offers_logging_a_request_only_to_roles_that_may(console: Console, role: Role, shown: bool) -> None:
    console.sign_in(role)
    html = console.client.get("/console").text
    assert ('href="/console/requests/new"' in html) is shown
    assert ('href="/console/users"' in html) is (role is Role.ADMIN)


def verified(console: Console) -> queries.RequestRef:
    r = console.log()
    ctx = console.app.ctx
    processing.start_verification(ctx, r.id)
    code = latest_code(console.app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    assert processing.confirm_code(ctx, r.id, code) is processing.VerificationOutcome.VERIFIED
    return r


def test_a_duplicate_s_page_links_to_the_request_it_duplicates_and_both_timelines_say_so(console: Console) -> None:
    console.sign_in(Role.AUDITOR)
    first, second = verified(console), verified(console)  # the same subject's address, verified twice
    html = page_of(console, second.reference)
    assert f'<a href="/console/requests/{first.reference}">{first.reference}</a>' in html
    assert f"Duplicate of {first.reference} (same verified contact)" in html
    assert f"duplicate of {first.reference} (same verified contact)" in html  # the withdrawal's reason
    assert f"{second.reference} was verified with the same contact" in page_of(console, first.reference)
    assert queries.lookup(console.app.ctx, second.reference).status is Status.WITHDRAWN


def test_legal_enrols_their_own_authenticator_on_the_console_and_signs_off_with_it(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    page = console.client.get("/console/authenticator")
    assert page.status_code == 200 and "No authenticator is enrolled for <strong>lena.legal</strong>" in page.text
    answer = console.post("/console/authenticator", {})
    assert answer.status_code == 200 and 'src="data:image/svg+xml' in answer.text
    found = re.search(r"Secret: <code>([A-Z2-7]+)</code>", answer.text)
    assert found and "otpauth://totp/" in answer.text
    secret = secret_from_base32(found.group(1))
    assert "Replace my authenticator" in console.client.get("/console/authenticator").text
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    reason = {"decision": "deny", "reason": "other", "reason_text": "we hold no account of yours", "note": "INTERNAL: dup of 4711"}
    done(act(console, r.reference, "sign-off", {**reason, "code": code(console.app.ctx, secret)}), r.reference, "signed-off")
    assert queries.lookup(console.app.ctx, r.reference).status is Status.DENIED
    assert console.details(r.reference, "SignOffRecorded")[0]["approver"] == legal.name
    # support has no authenticator page
    console.sign_in(Role.SUPPORT)
    assert console.client.get("/console/authenticator").status_code == 403


def queue_row(console: Console, reference: str) -> str:
    page = console.client.get("/console?status=denied").text
    found = re.search(rf'<tr[^>]*>\s*<td><a href="/console/requests/{reference}">.*?</tr>', page, re.S)
    assert found is not None, page
    return found.group(0)


def test_a_refusal_whose_letter_waits_for_legal_still_counts_to_its_date_until_the_letter_goes(console: Console) -> None:
    from dsar.domain.decisions import sign_off
    from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff
    from tests.signoff import sign, sign_letter

    console.sign_in(Role.SUPPORT)
    r = awaiting_sign_off(console)
    ctx = console.app.ctx
    assert sign(ctx, r.id, sign_off("deny", "exempt")).status is Status.DENIED
    assert processing.send_response(ctx, r.id) is Status.DENIED  # DSAR_LETTER_SIGN_OFF: the refusal waits for legal
    due = queries.request_view(ctx, r.reference).deadline.due
    row = queue_row(console, r.reference)
    assert "answered" not in row and due.isoformat() in row and re.search(r"<td[^>]*>\d+</td>", row), row  # days left
    due_line = page_of(console, r.reference).split("<dt>Due</dt>")[1].split("</dd>")[0]
    assert "day(s) left" in due_line and "answered" not in due_line
    assert sign_letter(ctx, r.id, LetterSignOff(LetterDecision.APPROVE)).recorded
    assert processing.send_response(ctx, r.id) is Status.DENIED  # the refusal letter went: now it is answered
    assert "answered" in queue_row(console, r.reference)
