"""The web app's answer times, served by uvicorn on loopback and called over real HTTP
(httpx, one keep-alive connection), on SQLite in a temporary folder:

* ``POST /api/requests``: a helpdesk logging a request (token check, rate limits, intake,
  encryption, audit events; no orchestrator, so no flow run is started);
* ``GET /api/requests/{reference}`` and ``GET /api/requests?limit=50``;
* ``GET /`` (the public form) and ``POST /`` (a subject's submission with its CSRF token);
* ``GET /console`` (the queue, 50 a page) and a request's page, signed in as support,
  over ``--requests`` requests already logged.

    uv run python benchmarks/web.py [--requests 1000] [--calls 200]

Prints median, 95th percentile and maximum per call in milliseconds; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from dsar.app import build_app
from dsar.domain.accounts import Role, TokenScope
from dsar.services import accounts
from dsar.settings import Settings
from dsar.web.app import build_web, create_app

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long benchmark password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(i: int) -> dict[str, object]:
    return {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": f"Person {i}", "emails": [f"person{i}@example.com"]}}


def timed(label: str, calls: int, fn: Callable[[int], object]) -> None:
    ms = []
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{label:<48} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms   ({calls} calls)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000, help="requests logged before the page timings")
    ap.add_argument("--calls", type=int, default=200, help="calls per measured operation")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dsar-bench-web-"))
    try:
        port = free_port()
        settings = Settings(
            home=home,
            data_map_dir=ROOT / "connectors",
            templates_dir=ROOT / "templates",
            web_port=port,
            # generous limits: the benchmark measures the work, not the limiter's refusals
            api_rate_per_token=10**6,
            api_rate_per_subject=10**6,
            web_rate_per_address=10**6,
            web_rate_per_subject=10**6,
            _env_file=None,  # type: ignore[call-arg]
        )
        app = build_app(settings, migrate_schema=True)
        token = accounts.create_token(app.ctx, "bench", {TokenScope.REQUESTS_WRITE, TokenScope.REQUESTS_READ}, by="bench").secret
        new = accounts.add_user(app.ctx, "sam.support", Role.SUPPORT, by="bench")
        accounts.set_password(app.ctx, new.set_password_token, PASSWORD)
        server = uvicorn.Server(uvicorn.Config(create_app(build_web(app, None)), host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        refs: list[str] = []
        print(f"web app on uvicorn, SQLite, {args.calls} calls per line")
        timed(
            "POST /api/requests (log a request)",
            args.calls,
            lambda i: refs.append(api.post("/api/requests", json=body(i)).json()["reference"]),
        )
        for i in range(args.calls, args.requests):  # fill the queue
            api.post("/api/requests", json=body(i)).raise_for_status()
        timed("GET /api/requests/{reference}", args.calls, lambda i: api.get(f"/api/requests/{refs[i % len(refs)]}").raise_for_status())
        timed("GET /api/requests?limit=50", args.calls, lambda i: api.get("/api/requests", params={"limit": 50}).raise_for_status())

        browser = httpx.Client(base_url=base, timeout=30)
        timed("GET / (public form)", args.calls, lambda i: browser.get("/").raise_for_status())
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/").text)
        assert csrf is not None

        def submit(i: int) -> None:
            form = {"csrf_token": csrf.group(1), "type": "access", "country": "DE", "name": f"Form {i}", "email": f"form{i}@example.org"}
            answer = browser.post("/", data=form, follow_redirects=False)
            if answer.status_code != 303:  # 303 to the thank-you page: logged
                raise RuntimeError(f"the form answered {answer.status_code}")

        timed("POST / (a subject submits the form)", args.calls, submit)

        staff = httpx.Client(base_url=base, timeout=30)
        login = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/console/login").text)
        assert login is not None
        staff.post("/console/login", data={"csrf_token": login.group(1), "name": "sam.support", "password": PASSWORD})
        print(f"console over {args.requests + args.calls:,} requests")
        timed("GET /console (the queue, 50 a page)", args.calls, lambda i: staff.get("/console").raise_for_status())
        timed(
            "GET /console/requests/{reference}",
            args.calls,
            lambda i: staff.get(f"/console/requests/{refs[i % len(refs)]}").raise_for_status(),
        )
        server.should_exit = True
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
