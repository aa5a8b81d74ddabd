"""Legal's queue on the console (/console/legal): support's legal-sensitive flag sends the
request there, held, with legal's response target; legal decides it on the request's page with
the session and the authenticator code; the queue empties and the figures count it."""

from __future__ import annotations

from dsar.crypto.totp import secret_from_base32
from dsar.domain.accounts import Role
from dsar.services import accounts, queries
from tests.signoff import code
from tests.web.console_fixtures import Console, console
from tests.web.test_console_request import act, done, page_of

__all__ = ["console"]


def test_a_flag_from_support_reaches_legal_s_queue_and_legal_decides_it_on_the_console(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    done(act(console, r.reference, "flag", {"reason": "the caller threatened staff"}), r.reference, "flagged")
    assert queries.lookup(console.app.ctx, r.reference).on_hold
    # no run carried the request: one is started, to wait for legal in its own Prefect form
    (started,) = console.orchestrator.started
    assert started.request_id == r.id
    console.orchestrator.suspend(started.run_id, "escalation-1")
    queue = console.client.get("/console/legal")
    assert queue.status_code == 200 and r.reference in queue.text and "legal sensitive" in queue.text and "day(s) left" in queue.text
    assert "threatened" not in queue.text  # the reason shows on the request's page only
    page = page_of(console, r.reference)
    assert "Escalations to legal" in page and "waiting for legal" in page and "Decide escalation" not in page  # support cannot decide
    assert act(console, r.reference, "resolve-escalation", {"number": "1", "decision": "proceed", "code": "1"}).status_code == 403

    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    assert "Decide escalation no. 1" in page_of(console, r.reference)
    wrong = f"{(int(code(console.app.ctx, secret)) + 1) % 1_000_000:06d}"
    refused = act(console, r.reference, "resolve-escalation", {"number": "1", "decision": "proceed", "code": wrong})
    assert refused.status_code == 422 and "decision refused: the authenticator code is wrong or expired" in refused.text
    assert console.details(r.reference, "SignOffRefused")[-1]["step"] == "escalation:1"
    given = {"number": "1", "decision": "proceed", "note": "no legal risk", "code": code(console.app.ctx, secret)}
    done(act(console, r.reference, "resolve-escalation", given), r.reference, "escalation-decided")
    assert not queries.lookup(console.app.ctx, r.reference).on_hold
    (resolved,) = console.details(r.reference, "EscalationResolved")
    assert resolved["approver"] == legal.name and resolved["via"] == "console" and resolved["decision"] == "proceed"
    assert resolved["flow_run"] == started.run_id  # handed to the run waiting on the form: the decision, no code or note
    assert [x.run_input for x in console.orchestrator.resumed] == [{"decision": "proceed", "approver": legal.name, "code": "", "note": ""}]
    queue = console.client.get("/console/legal")
    assert "No escalation waits for legal." in queue.text and "resolved 1" in queue.text
    assert "Legal decided escalation no. 1: proceed" in page_of(console, r.reference)
