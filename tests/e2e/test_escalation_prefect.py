"""Escalations decided in the Prefect UI's form (issue 11), against a real Prefect server and
`dsar serve`: support escalates a request whose run waits for the subject; the run is woken and
waits for legal in a form of its own (``awaiting:legal-escalation``) whose description names no
one; what Prefect's schema refuses never reaches the run, what the engine refuses is recorded
and asked again; legal's decision in the form releases the hold and the run goes back to the
subject. The same decision given on the command line is handed to the waiting run, and a
release carries the request on."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.e2e.test_deadline_watch import post
from tests.e2e.test_sign_off_api import enrol, now_code, refusals, resume, until_verified
from tests.e2e.test_ui_resume import explain, page, resume_in_ui

pytestmark = pytest.mark.prefect
__all__ = ["page"]  # the browser fixture of the Prefect UI test


def escalation_form(server: PrefectServer, run_id: str, number: int) -> tuple[dict[str, Any], str]:
    inputs = post(server, f"/flow_runs/{run_id}/input/filter", {"prefix": f"suspended-escalation-{number}", "limit": 50})
    schemas = [i for i in inputs if i["key"].endswith("-schema")]
    descriptions = [i for i in inputs if i["key"].endswith("-description")]
    assert len(schemas) == 1 and len(descriptions) == 1, [i["key"] for i in inputs]
    return json.loads(schemas[0]["value"]), str(json.loads(descriptions[0]["value"]))


def waits_for(dsar: Dsar, server: PrefectServer, ref: str, run_id: str, what: str) -> None:
    wait_until(
        lambda: server.run_state(run_id) == "PAUSED" and f"awaiting:{what}" in server.get(f"/flow_runs/{run_id}")["tags"],
        180,
        f"the run to wait for {what}",
        explain=lambda: explain(dsar, server, ref, run_id),
    )


def resolved(dsar: Dsar, ref: str) -> list[dict[str, Any]]:
    return [e["details"] for e in dsar.json("request", "events", ref) if e["kind"] == "EscalationResolved"]


@pytest.mark.timeout(1200)
def test_legal_decides_an_escalation_in_the_run_s_form_or_on_the_command_line(prefect_server: PrefectServer, dsar: Dsar, page: Any) -> None:
    from dsar.demo.shop import seed_shop

    seed_shop(dsar.home / "demo" / "shop.db")
    lena = enrol(dsar, "lena.legal")
    assert dsar("users", "add", "sam.support", "--role", "support").returncode == 0
    serving = dsar.serve()
    try:
        wait_until(lambda: prefect_server.has_deployment("process-request/process-request"), 180, "dsar serve to register its deployment")
        new = dsar.json("request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Jane Doe", "--email",
                        "jane.doe@example.com")  # fmt: skip
        run_id, ref = new["flow_run_id"], new["reference"]
        waits_for(dsar, prefect_server, ref, run_id, "subject")

        # support escalates while the run waits for the subject: the run is woken to ask legal
        raised = dsar("request", "escalate", ref, "--point", "legal_sensitive", "--reason", "Jane's lawyer called about a lawsuit")
        assert raised.returncode == 0 and "its run was woken to ask legal" in raised.stdout, raised.stdout + raised.stderr
        waits_for(dsar, prefect_server, ref, run_id, "legal-escalation")
        schema, description = escalation_form(prefect_server, run_id, 1)
        assert schema["properties"]["approver"]["enum"] == ["lena.legal"]  # the legal roster: no support account
        assert schema["properties"]["decision"]["enum"] == ["proceed", "keep_on_hold"]
        assert f"### {ref}: escalation 1 waits for legal's decision" in description
        assert "flagged legal-sensitive by support" in description and f"/console/requests/{ref}" in description
        assert "Jane" not in description and "lawsuit" not in description and "jane.doe" not in description

        # Prefect's own check: never reaches the run
        answer = resume(prefect_server, run_id, {"decision": "proceed", "approver": "sam.support", "code": now_code(lena)})
        assert answer["status"] == "REJECT", answer
        # the engine's: recorded, asked again under a new key
        assert (
            resume(prefect_server, run_id, {"decision": "keep_on_hold", "approver": "lena.legal", "code": now_code(lena)})["status"]
            == "ACCEPT"
        )
        wait_until(
            lambda: refusals(dsar, ref) == ["hold_without_note"] and prefect_server.run_state(run_id) == "PAUSED",
            180,
            "the refused hold and the form again",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        _, again = escalation_form(prefect_server, run_id, 1)
        assert "The last attempt was refused: keeping an escalation on hold needs a note saying why" in again
        assert dsar.json("request", "show", ref)["on_hold"] is True

        # legal decides in the Prefect UI: the run's page, Resume, the dropdowns and a real code
        resume_in_ui(
            page,
            f"{prefect_server.ui}/runs/flow-run/{run_id}",
            [lambda: now_code(lena), "spoke to support; no claim filed"],
            choose=("proceed", "lena.legal"),
            shot="prefect-escalation-dialog.png",
        )
        waits_for(dsar, prefect_server, ref, run_id, "subject")  # the hold released, back to the subject
        (done,) = resolved(dsar, ref)
        assert (done["decision"], done["approver"], done["via"], done["flow_run"]) == ("proceed", "lena.legal", "prefect-ui", run_id)
        assert dsar.json("request", "show", ref)["on_hold"] is False
        until_verified(dsar, prefect_server, ref, run_id)  # and on to legal's sign-off of the plan

        # the same decision on the command line is handed to the run waiting on the form
        other = dsar.json("request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Ana Silva",
                          "--email", "ana.silva@example.com")  # fmt: skip
        other_run, other_ref = other["flow_run_id"], other["reference"]
        waits_for(dsar, prefect_server, other_ref, other_run, "subject")
        assert (
            dsar(
                "request", "escalate", other_ref, "--point", "manifestly_unfounded_or_excessive", "--reason", "fifth this month"
            ).returncode
            == 0
        )
        waits_for(dsar, prefect_server, other_ref, other_run, "legal-escalation")
        time.sleep(30.5 - time.time() % 30)  # a fresh 30-second step: the code above was spent
        kept = dsar("request", "resolve-escalation", other_ref, "--number", "1", "--decision", "keep_on_hold", "--approver", "lena.legal",
                    "--code", now_code(lena), "--note", "asked the regulator")  # fmt: skip
        assert kept.returncode == 0, kept.stdout + kept.stderr
        waits_for(dsar, prefect_server, other_ref, other_run, "subject")  # the run took the decision and waits again
        (cli,) = resolved(dsar, other_ref)
        assert (cli["decision"], cli["via"], cli["flow_run"]) == ("keep_on_hold", "cli", other_run)
        assert dsar.json("request", "show", other_ref)["on_hold"] is True and refusals(dsar, other_ref) == []
        released = dsar("request", "release", other_ref, "--reason", "the regulator answered")
        assert released.returncode == 0 and "released" in released.stdout, released.stderr
        until_verified(dsar, prefect_server, other_ref, other_run)
        assert "asked the regulator" not in json.dumps(
            post(prefect_server, f"/flow_runs/{other_run}/input/filter", {"prefix": "", "limit": 200})
        )
    finally:
        serving.terminate()
        serving.wait(timeout=60)
