"""Requests on the shop database through the real flows (`dsar serve`, Prefect) and through the
engine's services directly, side by side on one machine.

Everything is real and local: PostgreSQL on 127.0.0.1:5432 holds three databases made for the
run and dropped after it (the shop of ``benchmarks/data/shop_schema.sql``: 10,000 customers,
10,000 addresses, 30,000 orders; the engine's database; Prefect's database, since Prefect's
server on SQLite answers "database is locked" under bursts), a Prefect server on a free
loopback port, and a real ``dsar serve`` (``--worker in-process`` or ``subprocess``). The data
map lives in a temporary folder: customer found by email, address, orders; email, name,
street and city erased by keyed pseudonym, orders kept.

The subject and legal are played by this script the moment a run waits: the one-time code read
from the outbox, legal's approval with an enrolled authenticator's TOTP code (a pool of legal
accounts: a code is good once per account and 30-second step). Requests are logged through the
JSON API of ``dsar serve`` (a helpdesk integration), each for a different customer.

Printed: per kind the median, min and max of submit → closed and of engine time (submit →
closed less the time a run waited for the subject's or legal's input, from the moment it was
ready for it to the moment the input was handed over); throughput with 1, 4 and 16 requests in
flight; the same through the services directly; the overhead as flow / direct; the processes
``dsar serve`` started. Also written to ``benchmarks/results/shop.json``.

    uv run python benchmarks/shop.py [--access 20] [--erasure 5] [--worker in-process|subprocess]

Needs PostgreSQL (``scripts/ensure-postgres``). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text

from dsar.app import App, build_app
from dsar.crypto.totp import code_at, secret_from_base32
from dsar.demo.run import latest_code
from dsar.domain.accounts import TokenScope
from dsar.domain.decisions import SignOff, SignOffDecision
from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.services import accounts, orchestration, processing, queries
from dsar.services.intake import log_request
from dsar.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "benchmarks" / "data" / "shop_schema.sql"
RESULTS = ROOT / "benchmarks" / "results" / "shop.json"
PG_ADMIN_URL = os.environ.get("DSAR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TICK = 0.02  # how often the script looks at what waits (its resolution, in seconds)
# Statuses in which a request may wait for a person the benchmark plays: the subject's code,
# legal's sign-off, legal's approval of the letter (DSAR_LETTER_SIGN_OFF; RESPONDING).
WAITS_FOR_A_PERSON = (Status.AWAITING_VERIFICATION, Status.AWAITING_SIGN_OFF, Status.RESPONDING)

DATA_MAP = """\
system: shop
title: Benchmark shop
type: sql
connection: DSAR_BENCH_SHOP_URL
purposes: [Customer accounts and orders]
legal_basis: Performance of a contract (GDPR Art. 6(1)(b))
retention: Account data while the account is open; orders 10 years
source: Collected from you
entities:
  customer:
    table: customer
    key: id
    identity:
      email: email
    erase: anonymise
    fields:
      email: {category: contact, erase: pseudonymise}
      name: {category: identity, erase: pseudonymise}
  address:
    table: address
    key: id
    parent: {entity: customer, column: id, parent_column: address_id}
    erase: anonymise
    fields:
      street: {category: postal_address, erase: pseudonymise}
      city: {category: postal_address, erase: pseudonymise}
  orders:
    table: orders
    key: id
    parent: {entity: customer, column: customer_id, parent_column: id}
    erase: {retain: "orders: 10 years (commercial and tax law)"}
    fields:
      total: {category: commercial}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return make_url(PG_ADMIN_URL).set(drivername=driver, database=name).render_as_string(hide_password=False)


@contextmanager
def databases(*names: str) -> Iterator[None]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            for n in names:
                c.execute(text(f'CREATE DATABASE "{n}"'))
        yield
    finally:
        with admin.connect() as c:
            for n in names:
                c.execute(text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
        admin.dispose()


def load_shop(url: str) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(SCHEMA.read_text())  # no parameters: the file's own % stays an operator
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback
            return bool(r.status == 200)
    except OSError:
        return False


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


@dataclass
class Timing:
    kind: str
    total: float
    engine: float


class StatusBoard:
    """The status of every request in flight, read for all of them in one statement per tick
    by one thread (the script's own load on the two cores: a status query per request per tick
    cost it more CPU than dsar serve and Prefect together at 16 in flight)."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, pool_size=1)
        self._ids: set[str] = set()
        self._status: dict[str, Status] = {}
        self._changed = self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-status", daemon=True)
        self._thread.start()

    def watch(self, request_id: str) -> None:
        with self._changed:
            self._ids.add(request_id)

    def forget(self, request_id: str) -> None:
        with self._changed:
            self._ids.discard(request_id)
            self._status.pop(request_id, None)

    def wait(self, request_id: str, seen: Status | None, timeout: float, until: Callable[[], bool] | None = None) -> Status | None:
        """The request's status once it differs from ``seen`` or ``until`` holds (or after
        ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: self._status.get(request_id) != seen or (until is not None and until()), timeout)
            return self._status.get(request_id)

    def _poll(self) -> None:
        while not self._stop.wait(TICK):
            with self._changed:
                ids = list(self._ids)
            if not ids:
                continue
            with self._engine.connect() as c:
                rows = c.execute(text("SELECT id, status FROM privacy_request WHERE id = ANY(:ids)"), {"ids": ids}).all()
            with self._changed:
                for rid, status in rows:
                    if rid in self._ids:
                        self._status[rid] = Status(status)
                self._changed.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()


class RunEvents:
    """Prefect's events of the names given, about flow runs, heard on one websocket (reconnected
    when it drops): :meth:`heard` is called for each, under ``notify``, which is then notified."""

    names: tuple[str, ...] = ()

    def __init__(self, notify: threading.Condition) -> None:
        self._notify = notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-run-events", daemon=True)
        self._thread.start()

    def heard(self, run_id: str, name: str) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        import asyncio

        while not self._stop.is_set():
            try:
                asyncio.run(self._listen())
            except Exception:  # noqa: BLE001 - reconnect
                time.sleep(0.5)

    async def _listen(self) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter

        flt = EventFilter(event=EventNameFilter(name=list(self.names)))
        async with get_events_subscriber(filter=flt, reconnection_attempts=3) as events:
            async for event in events:
                if self._stop.is_set():
                    return
                with self._notify:
                    self.heard(event.resource.id.removeprefix("prefect.flow-run."), event.event)
                    self._notify.notify_all()

    def close(self) -> None:
        self._stop.set()


class Suspensions(RunEvents):
    """Which flow runs suspended since the script last acted on them, from Prefect's
    ``prefect.flow-run.Suspended`` events: legal is asked to act only once the run has suspended
    (a run that has not waits for nothing; asking anyway cost a read of the record and of the
    run per try, every tick, for every request in flight)."""

    names = ("prefect.flow-run.Suspended",)

    def __init__(self, notify: threading.Condition) -> None:
        self._armed: set[str] = set()
        super().__init__(notify)

    def heard(self, run_id: str, name: str) -> None:
        self._armed.add(run_id)

    def armed(self, run_id: str | None) -> bool:
        with self._notify:
            return run_id is not None and run_id in self._armed

    def disarm(self, run_id: str | None) -> None:
        with self._notify:
            self._armed.discard(run_id or "")


@dataclass
class Approvers:
    """Legal accounts with authenticators; each sign-off takes one not used in this 30-second
    step (a TOTP code is good once per account)."""

    secrets_: dict[str, bytes] = field(default_factory=dict)
    last_step: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[str, str]:
        while True:
            now = time.time()
            step = int(now // 30)
            with self.lock:
                for name, secret in self.secrets_.items():
                    if self.last_step.get(name, -1) < step:
                        self.last_step[name] = step
                        from datetime import UTC, datetime

                        return name, code_at(secret, datetime.fromtimestamp(now, UTC))
            time.sleep(0.5)

    def give_back(self, name: str) -> None:
        """A code taken but never checked (the run did not wait yet): the account is free again."""
        with self.lock:
            self.last_step.pop(name, None)


class Shop:
    def __init__(self, args: argparse.Namespace, folder: Path, tag: str) -> None:
        self.args = args
        self.folder = folder
        self.shop_url = pg_url(f"dsar_bench_shop_{tag}")
        self.engine_url = pg_url(f"dsar_bench_engine_{tag}")
        self.prefect_db = pg_url(f"dsar_bench_prefect_{tag}", "postgresql+asyncpg")
        self.map_dir = folder / "map"
        self.map_dir.mkdir()
        (self.map_dir / "shop.yaml").write_text(DATA_MAP)
        self.home = folder / "home"
        self.prefect_port = free_port()
        self.web_port = free_port()
        self.api = f"http://127.0.0.1:{self.prefect_port}/api"
        os.environ["DSAR_BENCH_SHOP_URL"] = self.shop_url
        self.settings = Settings(
            home=self.home,
            database_url=self.engine_url,
            data_map_dir=self.map_dir,
            templates_dir=ROOT / "templates",
            prefect_api_url=self.api,
            _env_file=None,  # type: ignore[call-arg]
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))} | {
            "DSAR_HOME": str(self.home),
            "DSAR_DATABASE_URL": self.engine_url,
            "DSAR_DATA_MAP_DIR": str(self.map_dir),
            "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
            "DSAR_BENCH_SHOP_URL": self.shop_url,
            "DSAR_WEB_PORT": str(self.web_port),
            "DSAR_WORKER": args.worker,
            "DSAR_API_RATE_PER_TOKEN": str(10**6),
            "DSAR_API_RATE_PER_SUBJECT": str(10**6),
            "PREFECT_API_URL": self.api,
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self.approvers = Approvers()
        self.next_customer = 1
        self.customer_lock = threading.Lock()
        self.spawned: set[int] = set()

    # --- set-up -------------------------------------------------------------------------------
    def customer(self) -> int:
        with self.customer_lock:
            n = self.next_customer
            self.next_customer += 1
            return n

    def start(self) -> None:
        load_shop(self.shop_url)
        prefect_home = self.folder / "prefect"
        prefect_home.mkdir()
        self.prefect_log = open(prefect_home / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.prefect = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.prefect_port)],
            stdout=self.prefect_log,
            stderr=subprocess.STDOUT,
            env=self.env | {"PREFECT_HOME": str(prefect_home), "PREFECT_API_DATABASE_CONNECTION_URL": self.prefect_db},
            start_new_session=True,
        )
        wait_for(lambda: answers(self.api + "/health"), 240, "the Prefect server")
        self.app: App = build_app(self.settings, migrate_schema=True)
        for i in range(self.args.approvers):
            name = f"legal.{i:02d}"
            accounts.add_user(self.app.ctx, name, "legal", by="bench")
            self.approvers.secrets_[name] = secret_from_base32(accounts.enrol_totp(self.app.ctx, name, by="bench").secret)
        # legal approves the letter templates (`dsar templates approve`): no letter goes out before
        from dsar.services.templates import approve_templates

        name, code = self.approvers.take()
        refused = approve_templates(self.app.ctx, [], name, code).refused
        if refused is not None:
            raise RuntimeError(f"template approval refused: {refused}")
        self.board = StatusBoard(self.engine_url)
        self.token = accounts.create_token(self.app.ctx, "bench", {TokenScope.REQUESTS_WRITE, TokenScope.REQUESTS_READ}, by="bench").secret
        from dsar.orchestration.prefect import PrefectOrchestrator

        self.orchestrator = PrefectOrchestrator.configured(self.settings)
        self.suspensions = Suspensions(self.board.changed)

    def start_serving(self) -> None:
        self.serve_log = open(self.folder / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        self.serving = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "dsar", "serve"],
            cwd=ROOT,
            env=self.env | {"PREFECT_HOME": str(self.folder / "serve-prefect")},
            stdout=self.serve_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.web = f"http://127.0.0.1:{self.web_port}"
        wait_for(lambda: answers(self.web + "/"), 240, "dsar serve's web app")
        wait_for(lambda: self._deployed(), 240, "dsar serve's deployments")
        self._watching = threading.Event()
        self._watcher = threading.Thread(target=self._watch_children, daemon=True)
        self._watcher.start()
        self.client = httpx.Client(base_url=self.web, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)

    def _deployed(self) -> bool:
        return answers(f"{self.api}/deployments/name/process-request/process-request")

    def _watch_children(self) -> None:
        while not self._watching.is_set():
            self.spawned |= children_of(self.serving.pid)
            time.sleep(0.2)

    def stop(self) -> None:
        for name in ("_watching",):
            if hasattr(self, name):
                getattr(self, name).set()
        for proc in (getattr(self, "serving", None), getattr(self, "prefect", None)):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for f in (getattr(self, "serve_log", None), getattr(self, "prefect_log", None)):
            if f is not None:
                f.close()
        try:
            from dsar.connectors.sql import ENGINES
        except ImportError:  # a dsar from before shared engines (the baseline)
            pass
        else:
            ENGINES.dispose_all()
        if hasattr(self, "suspensions"):
            self.suspensions.close()
        if hasattr(self, "board"):
            self.board.close()
        if hasattr(self, "app"):
            self.app.engine.dispose()

    # --- the subject and legal ----------------------------------------------------------------
    def body(self, kind: str, n: int) -> dict[str, Any]:
        return {
            "type": "deletion" if kind == "erasure" else kind,
            "regime": "gdpr",
            "country": "DE",
            "subject": {"name": f"Customer {n}", "emails": [f"customer{n}@example.com"]},
        }

    def give_code(self, request_id: str, reference: str) -> bool:
        code = latest_code(self.settings.effective_outbox_dir, reference)
        if code is None:
            return False
        try:
            orchestration.submit_code(self.app.ctx, self.orchestrator, request_id, code, via="benchmark")
        except InvalidInput:
            return False  # the run does not wait for it yet
        return True

    def sign_off(self, request_id: str) -> bool:
        """Legal's sign-off as the console gives it; False while the run does not wait for it
        yet (the service checks that before it checks or records anything: nothing spent)."""
        name, code = self.approvers.take()
        try:
            result = orchestration.sign_off_and_resume(
                self.app.ctx, self.orchestrator, request_id, SignOff(SignOffDecision.APPROVE), name, code, via="bench"
            )
        except InvalidInput:
            self.approvers.give_back(name)
            return False
        if not result.recorded:
            raise RuntimeError(f"sign-off refused: {result}")
        return True

    def approve_letter(self, request_id: str) -> bool:
        """Legal's approval of the letter before it goes out, where DSAR_LETTER_SIGN_OFF asks
        for it (default: deletions and refusals), as the console gives it; False when no letter
        waits in a run waiting for input (or this dsar predates the letter sign-off)."""
        try:
            from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff
        except ImportError:  # a dsar from before the letter sign-off (the baseline)
            return False
        name, code = self.approvers.take()
        try:
            result = orchestration.letter_sign_off_and_resume(
                self.app.ctx, self.orchestrator, request_id, LetterSignOff(LetterDecision.APPROVE), name, code, via="bench"
            )
        except InvalidInput:
            self.approvers.give_back(name)
            return False
        if not result.recorded:
            raise RuntimeError(f"letter sign-off refused: {result}")
        return True

    # --- one request through the flow ---------------------------------------------------------
    def through_flow(self, kind: str) -> Timing:
        n = self.customer()
        t0 = time.perf_counter()
        answer = self.client.post("/api/requests", json=self.body(kind, n))
        answer.raise_for_status()
        reference = answer.json()["reference"]
        request_id = queries.lookup(self.app.ctx, reference).id
        run_id = queries.flow_run_id(self.app.ctx, request_id)
        waited = 0.0
        acted: set[tuple[Status, int]] = set()
        self.board.watch(request_id)
        status: Status | None = None
        try:
            while True:
                # The next status from the board. While a step waits to be acted on: the code at
                # once (the engine judges it; the wake waits for the run), legal once the run has
                # suspended (a Suspended event), then each tick until the form takes it (Prefect
                # stores the form just after the state).
                pending = status in WAITS_FOR_A_PERSON and (status, len(acted)) not in acted
                if pending and status is not Status.AWAITING_VERIFICATION and not self.suspensions.armed(run_id):
                    status = self.board.wait(request_id, status, 120, until=lambda: self.suspensions.armed(run_id))
                else:
                    status = self.board.wait(request_id, status, TICK if pending else 120)
                if status is None:
                    continue
                if status is Status.CLOSED:
                    return Timing(kind, time.perf_counter() - t0, time.perf_counter() - t0 - waited)
                if status.is_final:
                    raise RuntimeError(f"{reference} ended {status.value}")
                if status in WAITS_FOR_A_PERSON:
                    key = (status, len(acted))
                    ready = time.perf_counter()
                    if key in acted or (status is not Status.AWAITING_VERIFICATION and not self.suspensions.armed(run_id)):
                        continue
                    if self._act(status, request_id, reference):
                        acted.add(key)
                        self.suspensions.disarm(run_id)
                        waited += time.perf_counter() - ready
        finally:
            self.board.forget(request_id)

    def _act(self, status: Status, request_id: str, reference: str) -> bool:
        if status is Status.AWAITING_VERIFICATION:
            return self.give_code(request_id, reference)
        if status is Status.RESPONDING:
            return self.approve_letter(request_id)
        return self.sign_off(request_id)

    # --- the same through the services --------------------------------------------------------
    def direct(self, kind: str) -> Timing:
        ctx = self.app.ctx
        n = self.customer()
        t0 = time.perf_counter()
        request_id = log_request(ctx, self.body(kind, n)).request.id
        waited = 0.0
        for _ in range(50):
            status = processing.status_of(ctx, request_id)
            if status is Status.CLOSED:
                return Timing(kind, time.perf_counter() - t0, time.perf_counter() - t0 - waited)
            if status is Status.RECEIVED:
                processing.start_verification(ctx, request_id)
            elif status is Status.AWAITING_VERIFICATION:
                t = time.perf_counter()
                code = latest_code(self.settings.effective_outbox_dir, queries.lookup_id(ctx, request_id).reference)
                waited += time.perf_counter() - t
                assert code is not None
                processing.confirm_code(ctx, request_id, code)
            elif status in (Status.VERIFIED, Status.PLANNING):
                processing.plan_request(ctx, request_id)
            elif status is Status.AWAITING_SIGN_OFF:
                t = time.perf_counter()
                name, code = self.approvers.take()
                processing.record_sign_off(ctx, request_id, SignOff(SignOffDecision.APPROVE), name, code, via="bench")
                waited += time.perf_counter() - t
            elif status is Status.EXECUTING:
                processing.execute_plan(ctx, request_id)
            elif status in (Status.RESPONDING, Status.DENIED):
                t = time.perf_counter()
                self._approve_letter_directly(request_id)
                waited += time.perf_counter() - t
                processing.send_response(ctx, request_id)
            else:
                raise RuntimeError(f"direct path stuck at {status.value}")
        raise RuntimeError("direct path did not close")

    def _approve_letter_directly(self, request_id: str) -> None:
        try:
            from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff
            from dsar.services.letter_sign_off import letter_state, record_letter_sign_off
        except ImportError:  # a dsar from before the letter sign-off (the baseline)
            return
        if letter_state(self.app.ctx, request_id).waiting:
            name, code = self.approvers.take()
            record_letter_sign_off(self.app.ctx, request_id, LetterSignOff(LetterDecision.APPROVE), name, code, via="bench")


def cpu_seconds(pid: int, *, descendants: bool = True) -> float:
    """CPU time (user + system) of a process and all its descendants now, from /proc (Prefect's
    `server start` runs its web server in a child process); with ``descendants=False`` of the
    process alone (this script, whose children are Prefect's server and `dsar serve`)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, cpu seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state(0) ppid(1) … utime(11) stime(12)
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, grew = {pid}, descendants
    while grew:
        more = {p for p, (parent, _) in stats.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(stats[p][1] for p in tree if p in stats)


def throughput(
    fn: Callable[[str], Timing], in_flight: int, count: int, cpu: dict[str, int] | None = None
) -> tuple[float, dict[str, float]]:
    """Requests per second with ``in_flight`` at once, and the CPU seconds per request each
    process of ``cpu`` (name: pid) spent meanwhile (where two cores went)."""
    cpu = cpu or {}
    alone = {name: pid == os.getpid() for name, pid in cpu.items()}  # the script's children are counted as themselves
    before = {name: cpu_seconds(pid, descendants=not alone[name]) for name, pid in cpu.items()}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda _: fn("access"), range(count)))
    rate = count / (time.perf_counter() - t0)
    return rate, {name: (cpu_seconds(pid, descendants=not alone[name]) - before[name]) / count for name, pid in cpu.items()}


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s: dict[str, float]) -> str:
    return f"{s['median']:6.2f} s ({s['min']:.2f}–{s['max']:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--access", type=int, default=20, help="sequential access requests per path")
    ap.add_argument("--erasure", type=int, default=5, help="sequential erasure requests per path")
    ap.add_argument("--in-flight", default="1,4,16", help="throughput: requests in flight, comma-separated")
    ap.add_argument("--per-level", type=int, default=2, help="throughput: requests per level = this × in flight (at least 8)")
    ap.add_argument("--worker", choices=["in-process", "subprocess"], default="in-process", help="DSAR_WORKER of dsar serve")
    ap.add_argument("--approvers", type=int, default=48, help="legal accounts (a TOTP code is good once per 30 s step)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args()
    levels = [int(x) for x in args.in_flight.split(",")]
    tag = secrets.token_hex(4)
    folder = Path(tempfile.mkdtemp(prefix="dsar-bench-shop-"))
    shop = Shop(args, folder, tag)
    names = [make_url(u).database or "" for u in (shop.shop_url, shop.engine_url, shop.prefect_db)]
    result: dict[str, Any] = {"worker": args.worker, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    try:
        with databases(*names):
            shop.start()
            shop.start_serving()
            result["load_before"] = os.getloadavg()[0]
            print(f"shop benchmark: worker={args.worker}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
            # alternate: flow, then direct, per kind
            runs: dict[str, dict[str, list[Timing]]] = {"flow": {}, "direct": {}}
            for kind, count in (("access", args.access), ("erasure", args.erasure)):
                for path, fn in (("flow", shop.through_flow), ("direct", shop.direct)):
                    runs[path][kind] = [fn(kind) for _ in range(count)]
                    print(f"  {path:6} {kind:7} {fmt(stats([t.total for t in runs[path][kind]]))}", flush=True)
            rates: dict[str, dict[int, float]] = {"flow": {}, "direct": {}}
            cpu: dict[int, dict[str, float]] = {}
            processes = {"this script": os.getpid(), "dsar serve": shop.serving.pid, "Prefect server": shop.prefect.pid}
            for k in levels:
                for path, fn in (("flow", shop.through_flow), ("direct", shop.direct)):
                    rates[path][k], used = throughput(fn, k, max(8, args.per_level * k), processes if path == "flow" else None)
                    print(f"  {path:6} {k:2} in flight {rates[path][k]:6.2f} req/s", flush=True)
                    if path == "flow":
                        cpu[k] = used
            result["cpu_per_request"] = cpu
            result["load_after"] = os.getloadavg()[0]
            result["processes_started_by_serve"] = len(shop.spawned)
    finally:
        shop.stop()
        shutil.rmtree(folder, ignore_errors=True)
    table: dict[str, Any] = {}
    lines = [f"{'':34}{'flow (dsar serve)':>26}{'direct (services)':>26}{'flow/direct':>13}"]
    for kind in ("access", "erasure"):
        for measure in ("total", "engine"):
            f = stats([getattr(t, measure) for t in runs["flow"][kind]])
            d = stats([getattr(t, measure) for t in runs["direct"][kind]])
            label = f"{kind} {'submit→closed' if measure == 'total' else 'engine time'}"
            table[f"{kind}_{measure}"] = {"flow": f, "direct": d, "ratio": f["median"] / d["median"]}
            lines.append(f"{label:34}{fmt(f):>26}{fmt(d):>26}{f['median'] / d['median']:12.1f}×")
    for k in levels:
        f, d = rates["flow"][k], rates["direct"][k]
        table[f"throughput_{k}"] = {"flow": f, "direct": d, "ratio": d / f}
        lines.append(f"{f'throughput, {k} in flight':34}{f'{f:.2f} req/s':>26}{f'{d:.2f} req/s':>26}{d / f:12.1f}×")
    for k in levels:
        lines.append(
            f"CPU s per request, {k} in flight (flow): " + ", ".join(f"{n} {v:.2f}" for n, v in result["cpu_per_request"][k].items())
        )
    lines.append(f"processes started by dsar serve: {result['processes_started_by_serve']}; load {result['load_after']:.1f}")
    print("\n".join(lines))
    result["table"] = table
    result["runs"] = {p: {k: [asdict(t) for t in v] for k, v in d.items()} for p, d in runs.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
