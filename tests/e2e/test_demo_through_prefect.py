"""The whole slice on a real Prefect server: `dsar demo --non-interactive` as a user runs it,
then the canary search: no subject's name or address anywhere Prefect or the engine keeps
plain files, apart from the outbox (mail leaving the organisation) and the demo shop itself."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, Dsar, PrefectServer, wait_until

CANARIES = [b"jane.doe@example.com", b"Jane Doe", b"ana.silva@example.com", b"Ana Silva", b"robin.nobody@example.org", b"Robin Nobody"]

pytestmark = pytest.mark.prefect


def test_the_non_interactive_demo_answers_every_sample_and_leaks_nothing_to_prefect(prefect_server: PrefectServer, demo_dsar: Dsar) -> None:
    dsar = demo_dsar
    result = dsar("demo", "--non-interactive", "--timeout", "600")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "every sample request answered" in result.stdout

    rows = dsar.json("request", "list")
    # The stranger (Robin Nobody, uk-gdpr) is not on file: no link went anywhere, and the request
    # waits for a proof nobody can give (it closes as "could not verify" after 72 h); the demo
    # counts it as answered. The three customers' requests closed.
    assert len(rows) == 4 and sorted(r["status"] for r in rows) == ["awaiting_verification", "closed", "closed", "closed"]
    (stranger,) = [r for r in rows if r["status"] == "awaiting_verification"]
    assert stranger["regime"] == "uk-gdpr"
    assert list((dsar.home / "outbox").glob(f"{stranger['reference']}.*")) == []  # nothing sent for the stranger
    assert len(list((dsar.home / "outbox").glob("*.access_response_dsar.eml"))) == 2
    assert len(list((dsar.home / "outbox").glob("*.correction_response_dsar.eml"))) == 1

    # Every system of the demo data map took part: the shop (SQL), the file store folder (s3
    # connector on file://), the helpdesk API served by the demo (http) and the ledger (manual).
    jane = next(r for r in rows if r["type"] == "access" and r["regime"] == "gdpr")
    plan = {s["system"] for s in dsar.json("request", "show", jane["reference"])["plan"]}
    assert plan == {"shop", "files", "helpdesk", "warehouse"}
    events = dsar.json("request", "events", jane["reference"])
    exported = {e["details"]["system"] for e in events if e["kind"] == "SystemExported"}
    assert exported == {"shop", "files", "helpdesk"}
    assert any(e["kind"] == "ManualStepConfirmed" for e in events)
    ana_fix = next(r for r in rows if r["type"] == "correction")
    corrected = [e for e in dsar.json("request", "events", ana_fix["reference"]) if e["kind"] == "SystemCorrected"]
    assert {e["details"]["system"]: e["details"]["counts"] for e in corrected if e["details"]["counts"]} == {
        "shop": {"customer": {"phone": 1}},
        "helpdesk": {"records": {"phone": 1}},
    }

    # Canary search: every table of Prefect's database, its logs, and every file the engine
    # keeps, except the outbox (sent mail) and the demo shop (the organisation's own system).
    with sqlite3.connect(prefect_server.home / "prefect.db") as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"')).encode()  # noqa: S608
    assert b"DSR-" in dump, "flow runs are named after references"
    for c in CANARIES:
        assert c not in dump, f"found {c!r} in Prefect's database"
    files = [p for p in dsar.home.rglob("*") if p.is_file() and p.relative_to(dsar.home).parts[0] not in ("outbox", "demo")]
    files += [p for p in prefect_server.home.rglob("*") if p.is_file()]
    assert any(p.name == "dsar.db" for p in files)
    for f in files:
        data = f.read_bytes()
        for c in CANARIES:
            assert c not in data, f"found {c!r} in {f}"


def test_re_running_a_closed_request_from_the_top_changes_nothing(demo_dsar: Dsar) -> None:
    dsar = demo_dsar
    assert dsar("demo", "--non-interactive", "--timeout", "600").returncode == 0
    ref = dsar.json("request", "list")[0]["reference"]
    before = dsar.json("request", "events", ref)
    mails = sorted(p.name for p in (dsar.home / "outbox").iterdir())

    # A flow run of a closed request, from the top: every step finds its work done.
    rid = dsar.json("request", "show", ref)["id"]
    flow = "flows/process_request.py:process_request"  # by path, as the served deployment names it
    code = f"from prefect.flows import load_flow_from_entrypoint as load; print(load({flow!r})({rid!r}))"
    rerun = subprocess.run([sys.executable, "-c", code], env=dsar.env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.stdout.strip().splitlines()[-1] == "closed"

    # A second demo logs the same samples again, each as a request of its own (nothing is linked
    # before verification); once its link is followed it is linked to the first as its duplicate
    # and ends: no second answer (security probe, item 4).
    again = dsar("demo", "--non-interactive", "--timeout", "600")
    assert again.returncode == 0, again.stdout[-2000:]
    assert "duplicate" in again.stdout
    after = dsar.json("request", "events", ref)
    assert [e["kind"] for e in after] == [e["kind"] for e in before] + ["DuplicateLinked"]
    new = sorted({p.name for p in (dsar.home / "outbox").iterdir()} - set(mails))
    # their verification letters (and the CCPA sample's acknowledgement of receipt): no answer
    assert new and all(".verify-" in name or ".acknowledgement_" in name for name in new), new
    assert any(".verify-" in name for name in new)


@pytest.mark.timeout(1800)
def test_an_interactive_demo_after_the_unattended_one_leaves_a_fresh_request_that_dsar_serve_finishes(
    prefect_server: PrefectServer, demo_dsar: Dsar
) -> None:
    """Issue 13, items 3 and 4: the interactive demo after `--non-interactive` logs a request of
    a new customer (never linked to an earlier one) that waits in the UI; after the demo stops,
    `dsar serve` alone (serving the demo helpdesk itself) carries it to the end."""
    from dsar.demo.run import latest_code

    dsar = demo_dsar
    first = dsar("demo", "--non-interactive", "--timeout", "600")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"Prefect UI at {prefect_server.ui}" in first.stdout.splitlines()
    earlier = {r["reference"] for r in dsar.json("request", "list")}

    log = dsar.home.parent / "interactive.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "dsar", "demo"], env=dsar.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        fresh: list[dict[str, object]] = []

        def waiting() -> bool:
            fresh[:] = [r for r in dsar.json("request", "list") if r["reference"] not in earlier]
            return (
                len(fresh) == 1
                and fresh[0]["status"] == "awaiting_verification"
                and fresh[0]["flow_run_id"] is not None
                and prefect_server.run_state(str(fresh[0]["flow_run_id"])) == "PAUSED"
                and "The run waits for you" in log.read_text()
            )

        wait_until(waiting, 600, "the interactive demo's request to wait in the UI", lambda: log.read_text()[-3000:])
        ref, run_id = str(fresh[0]["reference"]), str(fresh[0]["flow_run_id"])
        shown = dsar.json("request", "show", ref, "--reveal")
        assert shown["linked_to"] is None and shown["subject"]["emails"][0].startswith("newcomer")
        text = log.read_text()
        assert f"Prefect UI at {prefect_server.ui}" in text.splitlines()
        assert f"{prefect_server.ui}/runs/flow-run/{run_id}" in text  # one line, whole (not a terminal: never wrapped)
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops, the request stays where it is
        assert demo.wait(timeout=120) == 130, log.read_text()[-3000:]
    assert dsar.json("request", "show", ref)["status"] == "awaiting_verification"

    serve = dsar.serve()  # nothing else runs: no demo, no helpdesk but the one serve starts
    try:
        wait_until(lambda: "Demo helpdesk API at" in (dsar.home.parent / "serve.log").read_text(), 300, "dsar serve to start")
        code = latest_code(dsar.home / "outbox", ref)
        assert code is not None
        verified = dsar("request", "verify", ref, "--code", code)  # judged at once; the run is woken
        assert verified.returncode == 0 and "identity verified" in verified.stdout, verified.stdout + verified.stderr
        wait_until(lambda: dsar.json("request", "show", ref)["status"] == "awaiting_sign_off", 300, "the plan")

        def signed() -> bool:
            totp = dsar("users", "totp-code", "lena.legal").stdout.strip()
            return dsar("request", "sign-off", ref, "--approver", "lena.legal", "--code", totp).returncode == 0

        wait_until(signed, 120, "legal's sign-off (a code is good once per 30 s)")

        def confirmed() -> bool:
            status = dsar.json("request", "show", ref)["status"]
            if status == "executing":
                dsar("request", "confirm", ref, "--system", "warehouse", "--outcome", "nothing found", "--person", "Test Clerk")
            return bool(status == "closed")

        wait_until(confirmed, 600, "the request to close", lambda: (dsar.home.parent / "serve.log").read_text()[-3000:])
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    plan = {s["system"]: s["matches"] for s in dsar.json("request", "show", ref)["plan"]}
    assert plan == {"shop": 1, "files": 1, "helpdesk": 0, "warehouse": 0}  # the helpdesk `dsar serve` served was asked
