"""Legal's sign-off given through Prefect's API (`POST /flow_runs/{id}/resume`), against a real
Prefect server and `dsar serve`: what Prefect's schema refuses (a name off the roster, a
support account, an exemption the plan does not hold, an unknown ground) never reaches the
run; what it lets through but the engine refuses (a wrong code, a replayed code, a denial
without a reason, an exemption without a ground, an approver deactivated since the form was
made) is recorded and asked again under a new key, never a failed run; and a decision given
while no worker runs is applied, with its exemption, when `dsar serve` comes back (its code
checked against when it was given)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dsar.crypto.totp import code_at, secret_from_base32
from dsar.demo.run import latest_code
from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.e2e.test_deadline_watch import post
from tests.e2e.test_ui_resume import explain, form_schema

pytestmark = pytest.mark.prefect


def enrol(dsar: Dsar, name: str) -> bytes:
    assert dsar("users", "add", name, "--role", "legal").returncode == 0
    out = dsar("users", "totp", name, "--no-qr").stdout
    return secret_from_base32(parse_qs(urlsplit(out.split("otpauth://", 1)[1].split()[0]).query)["secret"][0])


def now_code(secret: bytes) -> str:
    return code_at(secret, datetime.now(UTC))


def resume(server: PrefectServer, run_id: str, run_input: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = post(server, f"/flow_runs/{run_id}/resume", {"run_input": run_input})
    return answer


def refusals(dsar: Dsar, ref: str) -> list[str]:
    return [e["details"]["reason"] for e in dsar.json("request", "events", ref) if e["kind"] == "SignOffRefused"]


def until_verified(dsar: Dsar, server: PrefectServer, ref: str, run_id: str) -> None:
    wait_until(lambda: server.run_state(run_id) == "PAUSED", 180, "the run to wait for the code")
    code = latest_code(dsar.home / "outbox", ref)
    assert code is not None
    # the subject's code goes to the engine (as the link's page or `dsar request verify` give
    # it), never through Prefect; the engine wakes the run
    given = dsar("request", "verify", ref, "--code", code)
    assert given.returncode == 0 and "identity verified" in given.stdout, given.stdout + given.stderr
    waiting_for_legal(dsar, server, ref, run_id)


def waiting_for_legal(dsar: Dsar, server: PrefectServer, ref: str, run_id: str) -> None:
    wait_until(
        lambda: dsar.json("request", "show", ref)["status"] == "awaiting_sign_off" and server.run_state(run_id) == "PAUSED",
        180,
        "the sign-off form",
        explain=lambda: explain(dsar, server, ref, run_id),
    )


def refused_again(dsar: Dsar, server: PrefectServer, ref: str, run_id: str, n: int, reason: str) -> None:
    """The engine recorded the n-th refusal, and the run waits again (a new form), not failed."""
    wait_until(
        lambda: len(refusals(dsar, ref)) >= n and server.run_state(run_id) == "PAUSED",
        180,
        f"refusal {n} ({reason}) and the form again",
        explain=lambda: explain(dsar, server, ref, run_id),
    )
    assert refusals(dsar, ref)[n - 1] == reason
    assert dsar.json("request", "show", ref)["status"] == "awaiting_sign_off"


def letter_form(server: PrefectServer, run_id: str) -> tuple[dict[str, Any], str]:
    """The letter sign-off form's schema and its description (the markdown above it)."""
    inputs = post(server, f"/flow_runs/{run_id}/input/filter", {"prefix": "suspended-letter-sign-off", "limit": 50})
    schemas = [i for i in inputs if i["key"].endswith("-schema")]
    descriptions = [i for i in inputs if i["key"].endswith("-description")]
    assert len(schemas) == 1 and len(descriptions) == 1, [i["key"] for i in inputs]
    return json.loads(schemas[0]["value"]), str(json.loads(descriptions[0]["value"]))


def approve_the_letter(dsar: Dsar, server: PrefectServer, ref: str, run_id: str, lena: bytes) -> None:
    """Legal approves the response letter through Prefect's API: a return without a reason is a
    refused attempt, asked again under a new key; then the approval."""
    tags = server.get(f"/flow_runs/{run_id}")["tags"]
    assert "awaiting:legal-letter" in tags and "awaiting:legal" not in tags, tags
    schema, description = letter_form(server, run_id)
    assert schema["properties"]["approver"]["enum"] == ["lena.legal"]  # otto was deactivated
    assert schema["properties"]["decision"]["enum"] == ["approve", "return"]
    assert f"### {ref}: the deletion response letter waits for legal's approval" in description
    assert "deletion under `gdpr`" in description and "`deletion_response`" in description
    assert f"/console/requests/{ref}/letter-preview" in description and "Jane" not in description and "jane" not in description
    assert dsar.json("request", "show", ref)["letter_sign_off"]["waits_for_legal"] is True
    before = len(refusals(dsar, ref))
    code = now_code(lena)
    assert resume(server, run_id, {"decision": "return", "approver": "lena.legal", "code": code})["status"] == "ACCEPT"
    wait_until(
        lambda: len(refusals(dsar, ref)) > before and server.run_state(run_id) == "PAUSED",
        180,
        "the refused return and the letter's form again",
        explain=lambda: explain(dsar, server, ref, run_id),
    )
    assert refusals(dsar, ref)[-1] == "return_without_reason"
    assert not (dsar.home / "outbox" / f"{ref}.deletion_response_dsar.eml").exists()
    _, again = letter_form(server, run_id)
    assert "The last attempt was refused: a letter returned to the team needs a reason for them" in again
    # the refused return spent no code (a code of this step or the next is still unused)
    given = {"decision": "approve", "approver": "lena.legal", "code": now_code(lena), "note": "retention lines checked"}
    assert resume(server, run_id, given)["status"] == "ACCEPT"


@pytest.mark.timeout(1800)  # a dozen suspensions and resumes, two worker starts and a minute without a worker
def test_sign_off_through_prefect_s_api_refuses_what_it_must_and_applies_a_decision_given_while_no_worker_runs(
    prefect_server: PrefectServer, dsar: Dsar
) -> None:
    from dsar.demo.shop import seed_shop

    seed_shop(dsar.home / "demo" / "shop.db")
    lena = enrol(dsar, "lena.legal")
    otto = enrol(dsar, "otto.legal")
    assert dsar("users", "add", "sam.support", "--role", "support").returncode == 0
    serving = dsar.serve()
    try:
        wait_until(lambda: prefect_server.has_deployment("process-request/process-request"), 180, "dsar serve to register its deployment")
        new = dsar.json("request", "new", "--type", "deletion", "--regime", "gdpr", "--country", "DE", "--name", "Jane Doe", "--email",
                        "jane.doe@example.com")  # fmt: skip
        run_id, ref = new["flow_run_id"], new["reference"]
        assert run_id, new
        until_verified(dsar, prefect_server, ref, run_id)
        tags = prefect_server.get(f"/flow_runs/{run_id}")["tags"]
        assert "awaiting:legal" in tags and any(t.startswith("due:20") for t in tags), tags

        schema = form_schema(prefect_server, run_id)["properties"]
        assert schema["approver"]["enum"] == ["lena.legal", "otto.legal"]  # the roster: no support account
        exemptable = schema["exemptions"]["items"]["enum"]
        entity = next(t for t in exemptable if t.startswith("shop/") and "." not in t)
        good = {"decision": "approve", "approver": "lena.legal", "code": "000000"}

        # Prefect's own check of the form: these never reach the run
        for bad in (
            {**good, "approver": "nobody"},
            {**good, "approver": "sam.support"},
            {**good, "exemptions": ["warehouse/boxes"], "ground": "legal-hold"},
            {**good, "exemptions": [entity], "ground": "gdpr-17-3-z"},
        ):
            answer = resume(prefect_server, run_id, bad)
            assert answer["status"] == "REJECT", (bad, answer)
        assert prefect_server.run_state(run_id) == "PAUSED" and refusals(dsar, ref) == []

        # what the engine refuses: recorded, asked again under a new key
        wrong = f"{(int(now_code(lena)) + 500_000) % 1_000_000:06d}"
        assert resume(prefect_server, run_id, {**good, "code": wrong})["status"] == "ACCEPT"
        refused_again(dsar, prefect_server, ref, run_id, 1, "wrong_code")

        assert resume(prefect_server, run_id, {**good, "decision": "deny", "code": now_code(lena)})["status"] == "ACCEPT"
        refused_again(dsar, prefect_server, ref, run_id, 2, "incomplete")

        assert resume(prefect_server, run_id, {**good, "exemptions": [entity], "code": now_code(lena)})["status"] == "ACCEPT"
        refused_again(dsar, prefect_server, ref, run_id, 3, "exemption_without_ground")

        # an approver on the form's roster who was deactivated since: off the roster now
        assert dsar("users", "deactivate", "otto.legal").returncode == 0
        otto_code = now_code(otto)
        assert resume(prefect_server, run_id, {**good, "approver": "otto.legal", "code": otto_code})["status"] == "ACCEPT"
        refused_again(dsar, prefect_server, ref, run_id, 4, "not_on_roster")

        # a code spent by a decision elsewhere is refused as replayed
        other = dsar.json("request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Ana Silva",
                          "--email", "ana.silva@example.com")  # fmt: skip
        until_verified(dsar, prefect_server, other["reference"], other["flow_run_id"])
        # at the start of a 30-second step, so the code is still current (one step either side)
        # when it is handed to Prefect after the CLI's sign-off, however slow the machine
        time.sleep(30.5 - time.time() % 30)
        spent = now_code(lena)
        signed = dsar("request", "sign-off", other["reference"], "--approver", "lena.legal", "--code", spent)
        assert signed.returncode == 0, signed.stderr
        assert resume(prefect_server, run_id, {**good, "code": spent})["status"] == "ACCEPT"
        refused_again(dsar, prefect_server, ref, run_id, 5, "replayed_code")
        # none of these failed the run; the codes typed are nowhere in the record
        assert wrong not in json.dumps(dsar.json("request", "events", ref))

        # the worker goes away; legal decides meanwhile, with an exemption
        serving.terminate()
        serving.wait(timeout=60)
        time.sleep(30.5 - time.time() % 30)  # the start of the next 30-second step: a fresh code, never used
        given = {**good, "code": now_code(lena), "exemptions": [entity], "ground": "gdpr-17-3-e", "note": "matter 12"}
        assert resume(prefect_server, run_id, given)["status"] == "ACCEPT"
        time.sleep(62)  # two steps on: the code would be wrong if checked when the worker comes back
        assert dsar.json("request", "show", ref)["status"] == "awaiting_sign_off"  # nothing applied without a worker
        serving = dsar.serve()
        # applied: the erasure is carried out, and the deletion's letter waits for legal's
        # approval (DSAR_LETTER_SIGN_OFF, default deletion,refusal) in a form of its own
        wait_until(
            lambda: dsar.json("request", "show", ref)["status"] == "responding" and prefect_server.run_state(run_id) == "PAUSED",
            300,
            "the decision to be applied once dsar serve is back, then the letter's sign-off form",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        approve_the_letter(dsar, prefect_server, ref, run_id, lena)
        wait_until(
            lambda: dsar.json("request", "show", ref)["status"] == "closed",
            300,
            "the letter to go once legal approved it",
            explain=lambda: explain(dsar, prefect_server, ref, run_id),
        )
        events = dsar.json("request", "events", ref)
        (letter_ok,) = [e["details"] for e in events if e["kind"] == "LetterSignOffRecorded"]
        assert letter_ok["decision"] == "approve" and letter_ok["approver"] == "lena.legal" and letter_ok["via"] == "prefect-ui"
        assert letter_ok["flow_run"] == run_id and letter_ok["letter"] == "deletion_response" and len(letter_ok["template_version"]) == 64
        (recorded,) = [e["details"] for e in events if e["kind"] == "SignOffRecorded"]
        assert recorded["approver"] == "lena.legal" and recorded["via"] == "prefect-ui" and recorded["flow_run"] == run_id
        assert recorded["exemptions"] == [{"target": entity, "ground": "gdpr-17-3-e"}] and recorded["note"] == "matter 12"
        mail = message_from_bytes((dsar.home / "outbox" / f"{ref}.deletion_response_dsar.eml").read_bytes(), policy=policy.default)
        letter = " ".join(mail.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
        assert (
            "because an exemption in the law applies:" in letter and "it is needed to establish, exercise or defend legal claims" in letter
        )
        assert prefect_server.run_state(run_id) == "COMPLETED"
        assert not [t for t in prefect_server.get(f"/flow_runs/{run_id}")["tags"] if t.startswith("awaiting:")]
    finally:
        serving.terminate()
        serving.wait(timeout=60)
