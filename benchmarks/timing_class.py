"""Timing classes of the public pages (THREATS scenario 9): does the time of an answer tell
whether the subject is a customer, or whether a reference exists?

Through the real web app (FastAPI's test client, SQLite home, the demo shop as the system of
record, an in-memory orchestrator), each probe is timed many times, the two sides interleaved
so that machine noise falls on both alike:

* ``form``: the public form's POST for a customer's email vs an address the shop does not know;
* ``code``: a wrong one-time code on ``/verify`` for a customer's request vs an unknown
  subject's request (both waiting for verification; the unknown one was sent nothing);
* ``reference``: a wrong code for an existing reference vs a reference that does not exist;
* ``resend``: ``/verify/resend`` for a customer's request, an unknown subject's request, and a
  reference that does not exist.

Prints per probe the median, p10 and p90 of each side in milliseconds, the difference of the
medians and a two-sided permutation test's p-value (the chance of a difference at least this
large if the side made no difference). A difference of more than 2 ms with p < 0.01 is marked
DISTINGUISHABLE: an observer on a quiet line could tell the sides apart. Asserts nothing.

    uv run python benchmarks/timing_class.py [--samples 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from verification import approve_letters  # noqa: E402

from dsar.app import build_app  # noqa: E402
from dsar.demo.shop import seed_shop  # noqa: E402
from dsar.services import processing  # noqa: E402
from dsar.services.intake import log_request  # noqa: E402
from dsar.services.orchestration import InMemoryOrchestrator  # noqa: E402
from dsar.settings import Settings  # noqa: E402
from dsar.web.app import create_app  # noqa: E402
from dsar.web.context import WebContext  # noqa: E402

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LIMIT_NOTE = "each sample from an address of its own: the pages' per-address limits never answer instead"


def csrf(client: TestClient, path: str) -> str:
    m = _CSRF.search(client.get(path).text)
    if m is None:
        raise SystemExit(f"{path}: no CSRF token on the page")
    return m.group(1).replace("&#43;", "+").replace("&amp;", "&")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def permutation_p(a: list[float], b: list[float], rounds: int = 2000, seed: int = 7) -> float:
    """Two-sided permutation test on the difference of medians."""
    observed = abs(statistics.median(a) - statistics.median(b))
    pooled = a + b
    rng = random.Random(seed)
    hits = 0
    for _ in range(rounds):
        rng.shuffle(pooled)
        if abs(statistics.median(pooled[: len(a)]) - statistics.median(pooled[len(a) :])) >= observed:
            hits += 1
    return (hits + 1) / (rounds + 1)


class Probe:
    def __init__(self, fastapi: Any) -> None:
        self.fastapi = fastapi
        self.n = 0

    def timed(self, path: str, form_path: str, fields: dict[str, str]) -> float:
        """One POST from a fresh client at an address of its own (its CSRF token fetched first, untimed)."""
        self.n += 1
        host = f"10.{self.n // 65536 % 256}.{self.n // 256 % 256}.{self.n % 256}"
        with TestClient(self.fastapi, client=(host, 50000), follow_redirects=False) as client:
            token = csrf(client, form_path)
            started = time.perf_counter()
            response = client.post(path, data={"csrf_token": token, **fields})
            elapsed = time.perf_counter() - started
        if response.status_code >= 500 or response.status_code == 429:
            raise SystemExit(f"{path}: answered {response.status_code}")
        return elapsed * 1000


def run(samples: int) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="dsar-timing-bench-"))
    try:
        maps = work / "map"
        maps.mkdir()
        shutil.copy(ROOT / "connectors" / "shop.yaml", maps / "shop.yaml")
        # The per-subject limit of the form (the same customer, hundreds of times) would answer 429
        # instead: lifted here, as the per-address ones are sidestepped (LIMIT_NOTE).
        settings = Settings(  # type: ignore[call-arg]
            home=work / "home", data_map_dir=maps, templates_dir=ROOT / "templates", web_rate_per_subject=1_000_000, _env_file=None
        )
        seed_shop(settings.demo_shop_path)
        app = build_app(settings, migrate_schema=True)
        approve_letters(app.ctx)
        web = WebContext(app, InMemoryOrchestrator(), session_key=secrets.token_bytes(32))
        fastapi = create_app(web)
        with sqlite3.connect(settings.demo_shop_path) as db:
            customer = str(db.execute("SELECT email FROM customer ORDER BY id LIMIT 1").fetchone()[0])

        def waiting(email: str) -> str:
            raw = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Timing Probe", "emails": [email]}}
            r = log_request(app.ctx, raw).request
            processing.start_verification(app.ctx, r.id)
            return r.reference

        known_ref, unknown_ref = waiting(customer), waiting("nobody.at.all@example.org")
        missing_ref = "DSR-2026-999999"
        probe = Probe(fastapi)
        form = {"type": "access", "country": "DE", "name": "Timing Probe"}
        sides: dict[str, dict[str, Callable[[], float]]] = {
            "form": {
                "customer": lambda: probe.timed("/", "/", form | {"email": customer}),
                "unknown": lambda: probe.timed("/", "/", form | {"email": f"x{secrets.token_hex(4)}@example.org"}),
            },
            "code": {
                "customer": lambda: probe.timed("/verify", "/verify", {"reference": known_ref, "code": "00000000"}),
                "unknown": lambda: probe.timed("/verify", "/verify", {"reference": unknown_ref, "code": "00000000"}),
            },
            "reference": {
                "exists": lambda: probe.timed("/verify", "/verify", {"reference": known_ref, "code": "00000000"}),
                "missing": lambda: probe.timed("/verify", "/verify", {"reference": missing_ref, "code": "00000000"}),
            },
            "resend": {
                "customer": lambda: probe.timed("/verify/resend", "/verify/resend", {"reference": known_ref}),
                "unknown": lambda: probe.timed("/verify/resend", "/verify/resend", {"reference": unknown_ref}),
                "missing": lambda: probe.timed("/verify/resend", "/verify/resend", {"reference": missing_ref}),
            },
        }
        rows: list[dict[str, Any]] = []
        for name, probes in sides.items():
            times: dict[str, list[float]] = {side: [] for side in probes}
            for side in probes:  # warm each path once, untimed
                probes[side]()
            for _ in range(samples):
                for side in random.sample(list(probes), len(probes)):  # interleaved, in a random order each round
                    times[side].append(probes[side]())
            first = next(iter(times))
            for side in list(times)[1:]:
                a, b = times[first], times[side]
                diff = statistics.median(b) - statistics.median(a)
                p = permutation_p(a, b)
                rows.append(
                    {
                        "probe": name,
                        "a": first,
                        "b": side,
                        "a_median_ms": round(statistics.median(a), 2),
                        "a_p10_ms": round(pct(a, 0.1), 2),
                        "a_p90_ms": round(pct(a, 0.9), 2),
                        "b_median_ms": round(statistics.median(b), 2),
                        "b_p10_ms": round(pct(b, 0.1), 2),
                        "b_p90_ms": round(pct(b, 0.9), 2),
                        "diff_ms": round(diff, 2),
                        "p": round(p, 4),
                        "distinguishable": abs(diff) > 2.0 and p < 0.01,
                    }
                )
        app.engine.dispose()
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="timed answers per side and probe")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = run(args.samples)
    print(f"timing classes of the public pages: {args.samples} samples per side ({LIMIT_NOTE}); milliseconds")
    print(f"{'probe':<10} {'side A':<9} {'side B':<9} {'A med':>7} {'A p10-p90':>15} {'B med':>7} {'B p10-p90':>15} {'B-A':>7} {'p':>7}")
    for r in rows:
        verdict = "  DISTINGUISHABLE" if r["distinguishable"] else ""
        print(
            f"{r['probe']:<10} {r['a']:<9} {r['b']:<9} {r['a_median_ms']:>7.2f} {r['a_p10_ms']:>7.2f}-{r['a_p90_ms']:<7.2f}"
            f" {r['b_median_ms']:>7.2f} {r['b_p10_ms']:>7.2f}-{r['b_p90_ms']:<7.2f} {r['diff_ms']:>+7.2f} {r['p']:>7.4f}{verdict}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
