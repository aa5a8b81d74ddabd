"""`dsar serve`'s in-process worker on a real Prefect server: a burst of requests all close
without a single process started; a decision given while no worker runs is applied when it is
back; a run is cancelled from Prefect's API whether it waits or is executing a step, and one
executing a step stops when suspended from outside and carries on when resumed."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from dsar.app import App, build_app
from dsar.demo.run import latest_code
from dsar.domain.decisions import SignOff, SignOffDecision
from dsar.domain.request import Status
from dsar.orchestration.prefect import PrefectOrchestrator
from dsar.services import orchestration, queries
from tests.conftest import PG_ADMIN_URL, SHOP_ONLY, make_settings, require_postgres
from tests.e2e.conftest import Dsar, PrefectServer, running_prefect_server, wait_until
from tests.e2e.test_deadline_watch import post
from tests.signoff import code, enrol
from tests.web.conftest import csrf_from

pytestmark = pytest.mark.prefect

DEPLOYMENT = "process-request/process-request"


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """Prefect's server on PostgreSQL for this module: on SQLite it answers "database is
    locked" when twenty runs change state at once (Prefect's own limit, docs/performance.md)."""
    from sqlalchemy import create_engine, text

    require_postgres()
    name = f"dsar_prefect_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    try:
        with running_prefect_server(tmp_path_factory.mktemp("prefect-pg"), {"PREFECT_API_DATABASE_CONNECTION_URL": url}) as server:
            yield server
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def children_of(pid: int) -> set[str]:
    """Processes whose parent is ``pid`` (from /proc, as `ps --ppid` reads it): pid and command line."""
    found: set[str] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(f"{entry.name}: {cmdline[:200]}")
    return found


@dataclass
class Helpers:
    """The subject and legal, played from the test's own process (another process than the
    worker's, as a person at the console or the CLI is): codes from the outbox, sign-offs with
    enrolled authenticators, resumes through Prefect's API."""

    app: App
    orchestrator: PrefectOrchestrator
    outbox: Path
    approvers: dict[str, bytes] = field(default_factory=dict)  # name -> authenticator secret
    assigned: dict[str, str] = field(default_factory=dict)  # reference -> approver

    def enrol_approvers(self, n: int) -> None:
        """Legal accounts with authenticators, made before any run renders its sign-off form
        (the form's dropdown is the roster of that moment). A code is good once per account
        and 30-second step, so each request gets an approver of its own."""
        for i in range(n):
            name = f"legal.{i:02d}"
            self.approvers[name] = enrol(self.app.ctx, name)

    def status(self, ref: str) -> Status:
        return queries.lookup(self.app.ctx, ref).status

    def run_id(self, ref: str) -> str | None:
        return queries.flow_run_id(self.app.ctx, queries.lookup(self.app.ctx, ref).id)

    def waiting(self, ref: str) -> bool:
        run_id = self.run_id(ref)
        return run_id is not None and self.orchestrator.run_state(run_id).waiting_for_input

    def give_code(self, ref: str) -> None:
        found = latest_code(self.outbox, ref)
        assert found is not None, f"no code mailed for {ref}"
        request_id = queries.lookup(self.app.ctx, ref).id
        orchestration.submit_code(self.app.ctx, self.orchestrator, request_id, found, via="test")

    def approve(self, ref: str) -> None:
        request_id = queries.lookup(self.app.ctx, ref).id
        if ref not in self.assigned:
            self.assigned[ref] = sorted(set(self.approvers) - set(self.assigned.values()))[0]
        who = self.assigned[ref]
        secret = self.approvers[who]
        result = orchestration.sign_off_and_resume(
            self.app.ctx, self.orchestrator, request_id, SignOff(SignOffDecision.APPROVE), who, code(self.app.ctx, secret), via="test"
        )
        assert result.recorded, result

    def act(self, ref: str) -> None:
        """Whatever the request waits for now, if its run waits for it."""
        status = self.status(ref)
        if status in (Status.AWAITING_VERIFICATION, Status.AWAITING_SIGN_OFF) and self.waiting(ref):
            (self.give_code if status is Status.AWAITING_VERIFICATION else self.approve)(ref)


@pytest.fixture
def helpers(prefect_server: PrefectServer, dsar: Dsar) -> Iterator[Helpers]:
    settings = make_settings(dsar.home, prefect_api_url=prefect_server.api)
    helpers = Helpers(build_app(settings), PrefectOrchestrator.configured(settings), dsar.home / "outbox")
    helpers.enrol_approvers(20)
    yield helpers


def serve(dsar: Dsar, prefect_server: PrefectServer) -> Any:
    serving = dsar.serve()
    wait_until(lambda: prefect_server.has_deployment(DEPLOYMENT), 180, "dsar serve to register its deployment")
    url = f"http://127.0.0.1:{dsar.env['DSAR_WEB_PORT']}"
    wait_until(lambda: _answers(url), 180, "the web app to answer")
    return serving


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=5) as r:  # noqa: S310 - loopback
            return bool(r.status == 200)
    except OSError:
        return False


def stop(serving: Any) -> None:
    serving.terminate()
    serving.wait(timeout=120)


def submit_form(url: str, n: int) -> None:
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as web:
        token = csrf_from(web.get("/").text)
        # a customer of the demo shop (the system of record): verification finds them on file
        fields = {
            "csrf_token": token,
            "type": "access",
            "country": "DE",
            "name": f"Customer {n + 1}",
            "email": f"customer{n + 1}@example.net",
        }
        answer = web.post("/", data=fields)
    assert answer.status_code == 200, answer.text[-500:]


def test_a_burst_of_twenty_requests_all_close_in_the_serving_process_with_every_event_once(
    prefect_server: PrefectServer, dsar: Dsar, helpers: Helpers
) -> None:
    # twenty people behind one address (an office): the form's per-address limit lets them in
    # (and their requests are not a burst for legal: DSAR_WEB_BURST_SUBJECTS off)
    dsar = Dsar(dsar.env | {"DSAR_WEB_RATE_PER_ADDRESS": "100", "DSAR_WEB_BURST_SUBJECTS": "0"}, dsar.home)
    serving = serve(dsar, prefect_server)
    spawned: set[str] = set()
    watching = threading.Event()

    def watch() -> None:
        while not watching.is_set():
            spawned.update(children_of(serving.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        url = f"http://127.0.0.1:{dsar.env['DSAR_WEB_PORT']}"
        with ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(lambda n: submit_form(url, n), range(20)))
        refs = [r["reference"] for r in dsar.json("request", "list")]
        assert len(refs) == 20

        def all_closed() -> bool:
            open_refs = [r for r in refs if helpers.status(r) is not Status.CLOSED]
            for r in open_refs:
                helpers.act(r)
            return not open_refs

        wait_until(
            all_closed,
            600,
            "all 20 requests to close",
            explain=lambda: str(Counter(helpers.status(r).value for r in refs)) + (dsar.home.parent / "serve.log").read_text()[-3000:],
        )
    finally:
        watching.set()
        watcher.join()
        stop(serving)
    assert spawned == set(), f"dsar serve started processes: {spawned}"
    for ref in refs:
        run_id = helpers.run_id(ref)
        assert run_id is not None and prefect_server.run_state(run_id) == "COMPLETED"
        events = dsar.json("request", "events", ref)
        # each event once (a letter once per kind: the verification letter, then the response)
        kinds = Counter(
            e["kind"] + (f":{e['details']['kind']}" if e["kind"] == "LetterSent" else "") for e in events if e["kind"] != "StatusChanged"
        )
        assert all(n == 1 for n in kinds.values()), (ref, kinds)
        moves = [(e["details"]["from"], e["details"]["to"]) for e in events if e["kind"] == "StatusChanged"]
        assert len(moves) == len(set(moves)) and moves[-1][1] == "closed", (ref, moves)
        assert {"RequestLogged", "VerificationLinkSent", "VerificationProofGiven", "PlanMade", "SignOffRecorded"} <= set(kinds), kinds
        assert {"LetterSent:verification_code", "LetterSent:access_response"} <= set(kinds), kinds
    log = (dsar.home.parent / "serve.log").read_text()
    assert "customer 1" not in log.lower() and "@example.net" not in log  # no personal data in what serve and its runs print


def test_a_code_and_a_decision_given_while_no_worker_runs_are_applied_when_it_is_back(
    prefect_server: PrefectServer, dsar: Dsar, helpers: Helpers
) -> None:
    serving = serve(dsar, prefect_server)
    try:
        url = f"http://127.0.0.1:{dsar.env['DSAR_WEB_PORT']}"
        submit_form(url, 1)
        [row] = dsar.json("request", "list")
        ref = row["reference"]
        wait_until(lambda: helpers.waiting(ref), 180, "the run to wait for the subject's code")
    finally:
        stop(serving)
    helpers.give_code(ref)  # judged by the engine at once; nobody runs flows now: the run is only marked to resume
    run_id = helpers.run_id(ref)
    assert run_id is not None
    time.sleep(2)
    assert prefect_server.run_state(run_id) == "SCHEDULED" and helpers.status(ref) is Status.VERIFIED

    serving = serve(dsar, prefect_server)
    try:
        wait_until(lambda: helpers.status(ref) is Status.AWAITING_SIGN_OFF and helpers.waiting(ref), 180, "the code to be judged")
    finally:
        stop(serving)
    helpers.approve(ref)  # recorded by the engine now, handed to a run nobody executes
    assert prefect_server.run_state(run_id) == "SCHEDULED"

    serving = serve(dsar, prefect_server)
    try:
        wait_until(lambda: helpers.status(ref) is Status.CLOSED, 180, "the request to close")
    finally:
        stop(serving)
    assert prefect_server.run_state(run_id) == "COMPLETED"
    # legal's decision was given outside the run's form: the form the run had shown (its
    # description and schema name the legal roster) is deleted from Prefect all the same
    left = post(prefect_server, f"/flow_runs/{run_id}/input/filter", {"prefix": "suspended-", "limit": 100, "exclude_keys": []})
    assert left == [], sorted(i["key"] for i in left)
    # the worker sent the run's heartbeats (Prefect's liveness signal), as Prefect's engine would
    wait_until(lambda: heartbeats(prefect_server, run_id) > 0, 60, "the run's heartbeat events")


def heartbeats(prefect_server: PrefectServer, run_id: str) -> int:
    found = post(
        prefect_server,
        "/events/filter",
        {
            "filter": {
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "resource": {"id": [f"prefect.flow-run.{run_id}"]},
                "occurred": {"since": "2000-01-01T00:00:00Z"},
            },
            "limit": 50,
        },
    )
    return len(found.get("events", []))


def set_state(prefect_server: PrefectServer, run_id: str, state_type: str) -> Any:
    return post(prefect_server, f"/flow_runs/{run_id}/set_state", {"state": {"type": state_type}, "force": False})


UNREACHABLE_SYSTEM = """\
system: crm
title: CRM (unreachable in this test)
type: sql
connection: DSAR_TEST_CRM_URL
purposes: [Customer service]
legal_basis: Legitimate interests (GDPR Art. 6(1)(f))
retention: 2 years after the last contact
source: Collected from you
entities:
  contact:
    table: contact
    key: id
    identity:
      email: email
    erase: delete
    fields:
      email: {category: contact}
"""


@pytest.fixture
def unreachable_map(tmp_path: Path) -> Path:
    folder = tmp_path / "map-with-crm"
    folder.mkdir()
    shutil.copy(SHOP_ONLY / "shop.yaml", folder / "shop.yaml")
    (folder / "crm.yaml").write_text(UNREACHABLE_SYSTEM)
    return folder


def test_cancelling_from_prefects_api_stops_a_waiting_run_and_one_executing_a_step(
    prefect_server: PrefectServer, dsar: Dsar, unreachable_map: Path
) -> None:
    # A system that refuses connections: locating the subject there fails as retryable, and
    # the step waits 2, 10 and 30 s between tries inside the worker's thread.
    with socket_closed_port() as port:
        # the shop stays the system of record that verification looks the subject up in
        env = dsar.env | {
            "DSAR_DATA_MAP_DIR": str(unreachable_map),
            "DSAR_TEST_CRM_URL": f"postgresql+psycopg://u@127.0.0.1:{port}/none",
            "DSAR_VERIFICATION_SYSTEM": "shop",
        }
        dsar = Dsar(env, dsar.home)
        settings = make_settings(dsar.home, prefect_api_url=prefect_server.api).model_copy(
            update={"data_map_dir": unreachable_map, "verification_system": "shop"}
        )
        helpers = Helpers(build_app(settings), PrefectOrchestrator.configured(settings), dsar.home / "outbox")
        helpers.enrol_approvers(2)
        os.environ["DSAR_TEST_CRM_URL"] = env["DSAR_TEST_CRM_URL"]
        serving = serve(dsar, prefect_server)
        try:
            url = f"http://127.0.0.1:{dsar.env['DSAR_WEB_PORT']}"
            submit_form(url, 1)
            submit_form(url, 2)
            waiting, executing = (r["reference"] for r in sorted(dsar.json("request", "list"), key=lambda r: r["reference"]))
            wait_until(lambda: helpers.waiting(waiting) and helpers.waiting(executing), 180, "both runs to wait for the code")

            # waiting (suspended): Prefect's server cancels it at once, no worker involved
            waiting_run = helpers.run_id(waiting)
            assert waiting_run is not None
            set_state(prefect_server, waiting_run, "CANCELLING")
            wait_until(lambda: prefect_server.run_state(waiting_run) == "CANCELLED", 60, "the waiting run to be cancelled")

            # executing: the code goes in, planning retries the unreachable system in the worker
            helpers.give_code(executing)
            executing_run = helpers.run_id(executing)
            assert executing_run is not None
            wait_until(
                lambda: (
                    prefect_server.run_state(executing_run) == "RUNNING" and helpers.status(executing) is not Status.AWAITING_VERIFICATION
                ),
                120,
                "the run to execute planning",
            )
            time.sleep(3)  # inside the retries now
            assert prefect_server.run_state(executing_run) == "RUNNING"

            # Suspended from outside (as Prefect's UI or `suspend_flow_run` does it): the worker
            # hears it on its event stream (it starts no watcher per run) and the run stops at
            # its next step, its thread free; resumed, it is claimed again and carries on.
            outside(prefect_server, "suspend", executing_run)
            assert prefect_server.run_state(executing_run) == "PAUSED"
            time.sleep(15)  # past the next try (2 s, then 10 s between tries): it must not start
            tries = _task_runs(prefect_server, executing_run, "plan_request")
            time.sleep(12)
            assert _task_runs(prefect_server, executing_run, "plan_request") == tries, "the suspended run kept executing"
            assert prefect_server.run_state(executing_run) == "PAUSED"
            outside(prefect_server, "resume", executing_run)
            wait_until(lambda: prefect_server.run_state(executing_run) == "RUNNING", 60, "the resumed run to be claimed again")
            time.sleep(3)  # inside planning's retries again

            set_state(prefect_server, executing_run, "CANCELLING")
            wait_until(
                lambda: prefect_server.run_state(executing_run) == "CANCELLED",
                60,
                "the executing run to be cancelled",
                explain=lambda: (dsar.home.parent / "serve.log").read_text()[-3000:],
            )
            # the step stopped: no further tries after the cancel, the request stays where it was
            status = helpers.status(executing)
            assert status in (Status.VERIFIED, Status.PLANNING), status
            tries = _task_runs(prefect_server, executing_run, "plan_request")
            time.sleep(15)
            assert _task_runs(prefect_server, executing_run, "plan_request") == tries
            assert helpers.status(executing) is status
            # the worker's thread is free again and it still serves: a new run starts and waits
            submit_form(url, 3)
            third = max(r["reference"] for r in dsar.json("request", "list"))
            wait_until(lambda: helpers.waiting(third), 120, "a new request's run after the cancel")
        finally:
            os.environ.pop("DSAR_TEST_CRM_URL", None)
            stop(serving)


def outside(prefect_server: PrefectServer, action: str, flow_run_id: str) -> None:
    """Suspend or resume a run from this process, with Prefect's own functions."""
    from uuid import UUID

    from prefect.flow_runs import resume_flow_run, suspend_flow_run
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api}):
        if action == "suspend":
            suspend_flow_run(flow_run_id=UUID(flow_run_id), timeout=600)
        else:
            resume_flow_run(UUID(flow_run_id))


def _task_runs(prefect_server: PrefectServer, flow_run_id: str, name: str) -> list[str]:
    runs = post(prefect_server, "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200})
    return sorted(f"{r['id']}:{r['run_count']}" for r in runs if r["name"].startswith(name))  # tries so far


class socket_closed_port:  # noqa: N801 - used as a context manager
    """A loopback port nobody listens on (bound, never listening, released at the end)."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
