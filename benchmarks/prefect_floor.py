"""What Prefect alone costs for one request's orchestration: a flow of process-request's shape
with empty steps, run by dsar's in-process worker on a real Prefect server on PostgreSQL.

The flow has what an access request has in Prefect: four task runs (verification, planning,
execution, the answer), two suspensions for a person's input (the subject's code, legal's
sign-off), each handed over with ``resume_flow_run(run_input=...)``, so three attempts, each
claimed by the worker (proposed Pending) and run by Prefect's flow engine. Its steps do nothing:
no engine database, no letters, no package. Whatever this costs, dsar's flow costs at least that
as long as Prefect orchestrates it (the issue's "never by skipping the orchestration").

    uv run python benchmarks/prefect_floor.py [--sequential 20] [--in-flight 1,16] [--per-level 3]

Prints, for the sequential requests, submit → closed (median, min, max), and for each level of
requests in flight the throughput and the CPU seconds per request of Prefect's server (the
``prefect server start`` process and its children) and of this process (the worker and the
script playing the subject and legal). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

# Prefect reads its settings when it is imported: the API's address is known before that.
with socket.socket() as _s:
    _s.bind(("127.0.0.1", 0))
    PORT = int(_s.getsockname()[1])
FOLDER = Path(tempfile.mkdtemp(prefix="dsar-floor-"))
API = f"http://127.0.0.1:{PORT}/api"
os.environ.update({"PREFECT_API_URL": API, "PREFECT_HOME": str(FOLDER / "client")})

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.flow_runs import suspend_flow_run  # noqa: E402
from prefect.input import RunInput  # noqa: E402
from prefect.runtime import flow_run as current_run  # noqa: E402
from shop import RunEvents, answers, cpu_seconds, databases, pg_url, wait_for  # noqa: E402 - the benchmark next door

# What the record says of each request (dsar's status): how far its run got. A run resumed
# after a suspension starts again from the top, as dsar's does, and skips what is done.
DONE: dict[str, int] = {}


class Proof(RunInput):
    code: str = ""


class Decision(RunInput):
    decision: str = "approve"


@task(cache_policy=NO_CACHE, persist_result=False)  # as process-request's steps
def _step(name: str) -> str:
    return name


TASKS = True  # --no-tasks: the steps are plain calls (what the task runs themselves cost)


def step(name: str) -> str:
    return _step(name) if TASKS else name


@flow(name="prefect-floor", persist_result=True, log_prints=False)
def floor_flow(n: int) -> str:
    run_id = str(current_run.id)
    if n == 0:  # --one-attempt: no person to wait for (what the suspensions cost)
        for name in ("verification", "planning", "execution", "answer"):
            step(name)
        return "closed"
    if DONE.get(run_id, 0) == 0:
        step("verification")
        DONE[run_id] = 1
    if PLAIN_FIRST:
        suspend_flow_run(key="verify", timeout=None)
    else:
        suspend_flow_run(wait_for_input=Proof, key="verify", timeout=None)  # returns the input once given
    if DONE[run_id] == 1:
        step("planning")
        DONE[run_id] = 2
    suspend_flow_run(wait_for_input=Decision, key="sign-off", timeout=None)
    step("execution")
    step("answer")
    DONE.pop(run_id, None)
    return "closed"


class Board(RunEvents):
    """Which runs suspended or completed, and how often, from Prefect's events."""

    names = ("prefect.flow-run.Suspended", "prefect.flow-run.Completed")

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: dict[str, list[str]] = {}
        super().__init__(self.cond)

    def heard(self, run_id: str, name: str) -> None:
        self.seen.setdefault(run_id, []).append(name.rsplit(".", 1)[1])

    def wait(self, run_id: str, what: str, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.seen.get(run_id, []).count(what) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"run {run_id} never reached {what} #{count}")
                self.cond.wait(left)


ONE_ATTEMPT = False
PLAIN_FIRST = False  # --plain-first: the subject's wait without a form (what the form costs)


def resume(client: Any, run_id: UUID, given: dict[str, str] | None) -> None:
    """Hand the input over. Prefect marks a run Suspended before it stores the run's form: a
    resume in between is refused (the form is not there yet) and is tried again."""
    from prefect.client.schemas.responses import SetStateStatus

    for _ in range(200):
        if client.resume_flow_run(run_id, run_input=given).status == SetStateStatus.ACCEPT:
            return
        time.sleep(0.01)
    raise RuntimeError(f"run {run_id} could not be resumed")


def one_request(client: Any, deployment_id: UUID, board: Board, worker: Any) -> float:
    return request_run(client, deployment_id, board, worker)[0]


def request_run(client: Any, deployment_id: UUID, board: Board, worker: Any) -> tuple[float, UUID]:
    """One request, submit to closed: its seconds and its flow run's id."""
    t0 = time.perf_counter()
    run = client.create_flow_run_from_deployment(deployment_id, parameters={"n": 0 if ONE_ATTEMPT else 1})
    rid = str(run.id)
    worker.wake()
    if ONE_ATTEMPT:
        board.wait(rid, "Completed", 1)
        return time.perf_counter() - t0, run.id
    board.wait(rid, "Suspended", 1)
    resume(client, run.id, None if PLAIN_FIRST else {"code": "123456"})
    worker.wake()
    board.wait(rid, "Suspended", 2)
    resume(client, run.id, {"decision": "approve"})
    worker.wake()
    board.wait(rid, "Completed", 1)
    return time.perf_counter() - t0, run.id


def gaps(client: Any, deployment_id: UUID, board: Board, worker: Any, count: int) -> None:
    """The median time from each of a run's states to the next (the server's timestamps), over
    ``count`` requests one after the other: where a request's wall time goes."""
    from collections import defaultdict

    seen: dict[str, list[float]] = defaultdict(list)
    for _ in range(count):
        t0 = time.time()
        run_id = request_run(client, deployment_id, board, worker)[1]
        states = sorted(client.read_flow_run_states(run_id), key=lambda st: st.timestamp)
        previous = ("submit", t0)
        for i, st in enumerate(states):
            at = st.timestamp.timestamp()
            seen[f"{i:2d} {previous[0]} → {st.name}"].append(at - previous[1])
            previous = (st.name, at)
    print("  between states (median of the requests above, ms):")
    for key in sorted(seen):
        print(f"    {key[3:]:<34} {statistics.median(seen[key]) * 1000:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequential", type=int, default=20, help="requests one after the other")
    parser.add_argument("--in-flight", default="1,16", help="throughput: requests in flight, comma-separated")
    parser.add_argument("--per-level", type=int, default=3, help="requests per level = this × in flight (at least 8)")
    parser.add_argument("--no-tasks", action="store_true", help="the four steps as plain calls, not task runs")
    parser.add_argument("--one-attempt", action="store_true", help="no suspension: the four steps in one attempt")
    parser.add_argument("--states", action="store_true", help="print the median time between the run's states")
    parser.add_argument("--plain-first", action="store_true", help="the first wait without a form (no run input)")
    args = parser.parse_args()
    global TASKS, ONE_ATTEMPT, PLAIN_FIRST
    TASKS, ONE_ATTEMPT, PLAIN_FIRST = not args.no_tasks, args.one_attempt, args.plain_first

    tag = secrets.token_hex(4)
    db = f"dsar_floor_{tag}"
    folder, port, api = FOLDER, PORT, API
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))} | {
        "PREFECT_API_URL": api,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server: subprocess.Popen[bytes] | None = None
    with databases(db):
        try:
            log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the folder
            server = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env
                | {"PREFECT_HOME": str(folder / "prefect"), "PREFECT_API_DATABASE_CONNECTION_URL": pg_url(db, "postgresql+asyncpg")},
                start_new_session=True,
            )
            wait_for(lambda: answers(api + "/health"), 240, "the Prefect server")
            run(args, server.pid)
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, server_pid: int) -> None:
    from dsar.orchestration.clients import shared_client
    from dsar.orchestration.worker import InProcessWorker

    deployment = floor_flow.to_deployment(name="floor")
    worker = InProcessWorker([(deployment, floor_flow)], threads=16, poll_seconds=5.0)
    ready = threading.Event()
    serving = threading.Thread(target=worker.run, kwargs={"ready": ready.set}, daemon=True)
    serving.start()
    ready.wait(120)
    board = Board()
    client = shared_client()
    deployment_id = client.read_deployment_by_name("prefect-floor/floor").id
    time.sleep(1.0)  # the event streams connect
    one_request(client, deployment_id, board, worker)  # warm-up
    times = [one_request(client, deployment_id, board, worker) for _ in range(args.sequential)]
    shape = ("one attempt" if ONE_ATTEMPT else "three attempts, two hand-overs") + (", no task runs" if not TASKS else ", four task runs")
    shape += ", the first wait without a form" if PLAIN_FIRST and not ONE_ATTEMPT else ""
    print(f"Prefect floor (empty steps, in-process worker; {shape}), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(
        f"  submit → closed, {len(times)} one after the other: median {statistics.median(times):.3f} s ({min(times):.3f}–{max(times):.3f})"
    )
    if args.states:
        gaps(client, deployment_id, board, worker, args.sequential)
    for level in (int(x) for x in args.in_flight.split(",")):
        count = max(8, level * args.per_level)
        before = (cpu_seconds(server_pid), cpu_seconds(os.getpid(), descendants=False))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=level) as pool:
            list(pool.map(lambda _: one_request(client, deployment_id, board, worker), range(count)))
        rate = count / (time.perf_counter() - t0)
        after = (cpu_seconds(server_pid), cpu_seconds(os.getpid(), descendants=False))
        print(
            f"  {level:2d} in flight: {rate:5.2f} req/s; CPU s per request: Prefect server "
            f"{(after[0] - before[0]) / count:.3f}, this process (worker and script) {(after[1] - before[1]) / count:.3f}"
        )
    print(f"  load {os.getloadavg()[0]:.1f}")
    worker.stop()
    serving.join(30)
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)  # the runs' last logs, while the server still answers


if __name__ == "__main__":
    main()
