"""Legal's sign-off of the response letter on the console (DSAR_LETTER_SIGN_OFF, on by default
for deletions and refusals): the page says the letter waits; legal, signed in, approves it or
returns it with their authenticator's code, as for the plan's sign-off; the waiting run is
resumed with the decision only."""

from __future__ import annotations

from typing import Any

from dsar.crypto.totp import secret_from_base32
from dsar.demo.run import latest_code
from dsar.domain.accounts import Role
from dsar.domain.request import Status
from dsar.services import accounts, processing, queries
from tests.signoff import approve, code
from tests.web.console_fixtures import Console, console

__all__ = ["console"]


def page_of(console: Console, reference: str) -> str:
    answer = console.client.get(f"/console/requests/{reference}")
    assert answer.status_code == 200, answer.text
    return answer.text


def act(console: Console, reference: str, data: dict[str, Any]) -> Any:
    return console.post(f"/console/requests/{reference}/approve-letter", data)


def letter_waiting(console: Console) -> queries.RequestRef:
    """A deletion carried out, its letter waiting for legal, its run suspended on the form."""
    ctx = console.app.ctx
    r = console.log(type="deletion")
    processing.start_verification(ctx, r.id)
    got = latest_code(console.app.settings.effective_outbox_dir, r.reference)
    assert got is not None
    processing.confirm_code(ctx, r.id, got)
    assert processing.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    approve(ctx, r.id)
    assert processing.execute_plan(ctx, r.id) is Status.RESPONDING
    assert processing.send_response(ctx, r.id) is Status.RESPONDING  # waits for legal
    run_id = console.orchestrator.start_run(r.id, r.reference)
    queries.record_flow_run(ctx, r.id, run_id)
    console.orchestrator.suspend(run_id)
    return r


def sent(console: Console, reference: str) -> bool:
    return (console.app.settings.effective_outbox_dir / f"{reference}.deletion_response_dsar.eml").exists()


def test_legal_approves_the_letter_with_their_session_and_code_then_the_run_resumes_and_sends_it(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = letter_waiting(console)
    html = page_of(console, r.reference)
    assert "The deletion response letter waits for legal's approval" in html
    assert "Legal sign-off of the letter" in html and f"/console/requests/{r.reference}/letter-preview" in html
    answer = act(
        console, r.reference, {"decision": "approve", "note": "checked the retention lines", "code": code(console.app.ctx, secret)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/console/requests/{r.reference}?done=letter-approved"
    assert [x.run_input for x in console.orchestrator.resumed] == [
        {"decision": "approve", "approver": legal.name, "code": "", "reason": "", "note": ""}
    ]
    (recorded,) = console.details(r.reference, "LetterSignOffRecorded")
    assert recorded["approver"] == legal.name and recorded["via"] == "console" and recorded["letter"] == "deletion_response"
    assert recorded["template"].startswith("deletion_response/") and len(recorded["template_version"]) == 64
    assert recorded["flow_run"] == console.orchestrator.resumed[0].run_id
    # the run carries on: the letter goes
    assert processing.send_response(console.app.ctx, r.id) is Status.CLOSED and sent(console, r.reference)
    console.sign_in(Role.AUDITOR)
    html = page_of(console, r.reference)
    assert "Legal approved the deletion response letter" in html and "internal note: checked the retention lines" in html


def test_a_wrong_code_is_refused_and_recorded_and_a_return_holds_the_request_with_the_reason(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = letter_waiting(console)
    good = code(console.app.ctx, secret)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    answer = act(console, r.reference, {"decision": "approve", "code": wrong})
    assert answer.status_code == 422 and "letter sign-off refused: the authenticator code is wrong or expired" in answer.text
    assert console.details(r.reference, "SignOffRefused") == [
        {"step": "letter", "attempt": 1, "reason": "wrong_code", "via": "console", "approver": legal.name}
    ]
    assert console.orchestrator.resumed == []
    # a return without a reason is refused at input: nothing recorded
    answer = act(console, r.reference, {"decision": "return", "code": good})
    assert answer.status_code == 422 and "a return needs a reason for the team" in answer.text
    assert len(console.details(r.reference, "SignOffRefused")) == 1
    answer = act(console, r.reference, {"decision": "return", "reason": "name the retention ground of the orders", "code": good})
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=letter-returned")
    view = queries.request_view(console.app.ctx, r.reference)
    assert view.on_hold and view.hold_reason == "letter returned by legal: name the retention ground of the orders"
    assert processing.send_response(console.app.ctx, r.id) is Status.RESPONDING and not sent(console, r.reference)
    html = page_of(console, r.reference)
    assert "Legal sign-off of the letter" not in html and "it is asked again once the hold is released" in html


def test_support_sees_that_the_letter_waits_but_no_form_and_is_refused_the_action(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = letter_waiting(console)
    html = page_of(console, r.reference)
    assert 'id="letter-waits"' in html and "Legal sign-off of the letter" not in html
    assert act(console, r.reference, {"decision": "approve", "code": "123456"}).status_code == 403
    console.sign_in(Role.ADMIN)
    answer = act(console, r.reference, {"decision": "approve", "code": "123456"})
    assert answer.status_code == 422 and "the approver is not an active legal account" in answer.text
    assert console.orchestrator.resumed == []
