"""Profile one access (or erasure) request on the shop database (pyinstrument), through the
flow and through the services directly, and count the SQL statements and Prefect API calls each
sends.

The flow path is what `dsar serve`'s in-process worker does, on this script's main thread so
the profiler sees all of it: the intake starts a run of `process-request` on a real Prefect
server, the run is claimed (proposed Pending) and executed with Prefect's flow engine
(``run_flow``) until it suspends for the subject's code; the code is handed over (resume), the
run executes again until legal's sign-off; the sign-off is given, the run executes to the end
(an erasure waits once more, for legal's approval of the letter). The claims use one Prefect
client for the whole script, as the worker's poll loop does. The direct path calls the same
services in the same order without Prefect. Set-up as in
``benchmarks/shop.py`` (its own PostgreSQL databases, dropped after).

    uv run python benchmarks/profile_request.py [--kind access|erasure] [--html profile.html] [--warm 2]

Prints both profiles (pyinstrument's text, the slowest frames), the wall time of each path, the
SQL statements sent (engine database and shop) and the Prefect API calls made by this process
(REST, by method and path, ids elided; the events and logs Prefect sends on its websocket and
in batches are not counted). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from pyinstrument import Profiler
from sqlalchemy import Engine, event, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shop import Shop, databases  # noqa: E402 - the benchmark next door

from dsar.domain.decisions import SignOff, SignOffDecision  # noqa: E402
from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff  # noqa: E402
from dsar.domain.request import Status  # noqa: E402
from dsar.orchestration.worker import execute_claimed  # noqa: E402
from dsar.services import orchestration, queries  # noqa: E402
from dsar.services.submissions import submit  # noqa: E402


class _Counting:
    """Counts what it sees while :meth:`counting` is open (from any thread)."""

    def __init__(self) -> None:
        self.on = False
        self.count: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.count = Counter()
        self.on = True
        try:
            yield self.count
        finally:
            self.on = False


class SqlCounter(_Counting):
    """Every statement any SQLAlchemy engine of this process sends, while counting."""

    def __init__(self) -> None:
        super().__init__()
        event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.on:
            db = conn.engine.url.database or "?"
            with self._lock:
                self.count["shop" if "shop" in db else "engine"] += 1


class ApiCounter(_Counting):
    """Every Prefect REST call this process makes (httpx: Prefect's clients; urllib: the plain
    start of a run), by method and path with ids elided, while counting."""

    ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

    def __init__(self, callers: bool = False) -> None:
        import urllib.request

        import httpx

        super().__init__()
        self.callers = callers
        sync_send, async_send, urlopen = httpx.Client.send, httpx.AsyncClient.send, urllib.request.urlopen

        def seen(method: str, url: str) -> None:
            if self.on:
                path = self.ID.sub("{id}", url.split("/api/", 1)[-1].split("?", 1)[0])
                if self.callers:
                    path += "  <- " + self._caller()
                with self._lock:
                    self.count[f"{method} {path}"] += 1

        def send(client: Any, request: Any, *a: Any, **kw: Any) -> Any:
            seen(request.method, str(request.url))
            return sync_send(client, request, *a, **kw)

        async def asend(client: Any, request: Any, *a: Any, **kw: Any) -> Any:
            seen(request.method, str(request.url))
            return await async_send(client, request, *a, **kw)

        def opened(req: Any, *a: Any, **kw: Any) -> Any:
            if isinstance(req, urllib.request.Request) and "/api/" in req.full_url:
                seen(req.get_method(), req.full_url)
            return urlopen(req, *a, **kw)

        httpx.Client.send = send  # type: ignore[method-assign]
        httpx.AsyncClient.send = asend  # type: ignore[method-assign]
        urllib.request.urlopen = opened

    @staticmethod
    def _caller() -> str:
        """The innermost frames of this project (and of Prefect's engine) that led to the call."""
        import traceback

        names = []
        for f in traceback.extract_stack()[:-3]:
            if "/prefect/" in f.filename and not f.filename.endswith(("flow_engine.py", "flow_runs.py", "engine/__init__.py")):
                continue
            if "/site-packages/" in f.filename and "/prefect/" not in f.filename:
                continue
            names.append(f"{Path(f.filename).stem}.{f.name}")
        return " < ".join(reversed(names[-3:]))


def run_until_it_waits(shop: Shop, run_id: str) -> None:
    """Claim the run and execute it with Prefect's flow engine here, as the worker does (with
    the one client of the script, as the worker's poll loop has one)."""
    from prefect.exceptions import Abort, Pause
    from prefect.states import Pending
    from prefect.utilities.engine import propose_state_sync

    client = shop.prefect_client
    for _ in range(200):
        fr = client.read_flow_run(UUID(run_id))
        if fr.state is not None and fr.state.is_scheduled():
            break
        time.sleep(0.02)
    state = propose_state_sync(client, Pending(), flow_run_id=fr.id)
    assert state.is_pending(), state
    fr.state = state
    try:
        execute_claimed(shop.flow, fr)
    except (Pause, Abort):
        pass


def through_flow(shop: Shop, kind: str) -> float:
    t0 = time.perf_counter()
    n = shop.customer()
    done = submit(shop.app.ctx, shop.orchestrator, shop.body(kind, n))
    assert done.flow_run_id is not None, done.run_problem
    request_id, reference = done.request.id, done.request.reference
    run_until_it_waits(shop, done.flow_run_id)
    assert shop.give_code(request_id, reference)
    run_until_it_waits(shop, done.flow_run_id)
    name, code = shop.approvers.take()
    result = orchestration.sign_off_and_resume(
        shop.app.ctx, shop.orchestrator, request_id, SignOff(SignOffDecision.APPROVE), name, code, via="bench"
    )
    assert result.recorded, result
    run_until_it_waits(shop, done.flow_run_id)
    if kind == "erasure":  # legal approves the letter (DSAR_LETTER_SIGN_OFF: deletions by default)
        name, code = shop.approvers.take()
        letter = orchestration.letter_sign_off_and_resume(
            shop.app.ctx, shop.orchestrator, request_id, LetterSignOff(LetterDecision.APPROVE), name, code, via="bench"
        )
        assert letter.recorded, letter
        run_until_it_waits(shop, done.flow_run_id)
    status = queries.lookup_id(shop.app.ctx, request_id).status
    assert status is Status.CLOSED, status
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["access", "erasure"], default="access", help="the request profiled")
    ap.add_argument("--warm", type=int, default=2, help="requests through each path before the profiled one")
    ap.add_argument("--html", type=Path, help="also write the flow's profile as HTML here")
    ap.add_argument("--all", action="store_true", help="show library frames too (Prefect's own waits)")
    ap.add_argument("--callers", action="store_true", help="count the Prefect API calls by caller too")
    ap.add_argument("--worker", default="in-process", help=argparse.SUPPRESS)
    ap.add_argument("--approvers", type=int, default=16, help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dsar-profile-"))
    shop = Shop(args, folder, secrets.token_hex(4))
    # The flow runs in this process, and builds its engine from this process's settings (as in
    # `dsar serve`, which runs with the shop's): the same database, data map and templates.
    os.environ.update({k: v for k, v in shop.env.items() if k.startswith("DSAR_")})
    names = [make_url(u).database or "" for u in (shop.shop_url, shop.engine_url, shop.prefect_db)]
    counter = SqlCounter()
    api = ApiCounter(args.callers)
    try:
        with databases(*names):
            shop.start()
            from prefect.utilities.importtools import import_object

            from dsar import resources

            served = import_object(resources.entrypoint("deployments.py", "served"))(shop.settings)
            from prefect import get_client

            for deployment, _ in served:
                deployment.apply()
            shop.flow = next(f for d, f in served if d.flow_name == "process-request")
            shop.prefect_client = get_client(sync_client=True)
            shop.prefect_client.__enter__()
            for _ in range(args.warm):
                through_flow(shop, args.kind)
                shop.direct(args.kind)
            print(f"load {os.getloadavg()[0]:.1f}", flush=True)

            profiler = Profiler(interval=0.001)
            with counter.counting() as flow_sql, api.counting() as flow_api:
                profiler.start()
                flow_s = through_flow(shop, args.kind)
                profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=args.all))
            if args.html:
                args.html.write_text(profiler.output_html())

            direct_profiler = Profiler(interval=0.001)
            with counter.counting() as direct_sql:
                direct_profiler.start()
                direct_s = shop.direct(args.kind).total
                direct_profiler.stop()
            print(direct_profiler.output_text(unicode=True, color=False, show_all=False))
            print(f"one {args.kind} request: through the flow {flow_s:.2f} s, direct {direct_s:.2f} s (load {os.getloadavg()[0]:.1f})")
            flow_n, direct_n = sum(flow_sql.values()), sum(direct_sql.values())
            print(f"SQL statements: through the flow {dict(flow_sql)} ({flow_n}), direct {dict(direct_sql)} ({direct_n})")
            print(f"Prefect API calls through the flow ({sum(flow_api.values())}):")
            for call, n in sorted(flow_api.items(), key=lambda kv: (-kv[1], kv[0])):
                print(f"  {n:3}  {call}")
    finally:
        if hasattr(shop, "prefect_client"):
            shop.prefect_client.__exit__(None, None, None)
        shop.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
