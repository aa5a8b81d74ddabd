"""Time one deadline-watch sweep over 1,000,000 requests on SQLite.

Seeds a fresh engine database (under a temporary DSAR_HOME unless --home is given) with
1,000,000 requests: most closed long ago, --open of them still open with due dates spread from
10 days past to 45 days ahead, as a busy privacy team's history looks; one open request in five
is a CCPA one, and a tenth of those have no confirmation of receipt recorded yet (the watch
follows their ``acknowledge_by`` too). Then times:

* the first sweep, which raises the whole backlog of alerts at once (a new install);
* the steady-state sweep that runs every hour afterwards (nothing new to raise);
* the delivery of the backlog as one digest mail (the default notifier).

Prints the figures; asserts nothing about time (targets are read off the output).

    uv run python benchmarks/deadline_sweep.py [--requests N] [--open N] [--repeat N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text

from dsar.app import App, build_app, build_notifier
from dsar.crypto import LocalKeyProvider, new_data_key
from dsar.services import deadlines as dl
from dsar.settings import Settings

TODAY = date(2026, 11, 23)
BATCH = 20_000


def seed(app: App, total: int, open_count: int) -> None:
    engine = app.engine
    keys = LocalKeyProvider.from_file(app.settings.effective_key_file)
    rnd = random.Random(42)
    logged = datetime(2026, 1, 1, tzinfo=UTC)
    open_ids = set(rnd.sample(range(total), open_count))
    insert = text(
        "INSERT INTO privacy_request (id, reference, type, regime, country, channel, received_at, received_tz, logged_at, status,"
        " on_hold, due, statutory_due, acknowledge_by, extended, paused_days, clock_stopped, watch_due, ack_watch, version,"
        " subject_name_enc, subject_emails_enc)"
        " VALUES (:id, :ref, 'access', :regime, :country, 'web', :at, 'UTC', :at, :status, 0, :due, :due, :ack, 0, 0, 0, :watch,"
        " :ack_watch, 1, :blob, :blob)"
    )
    insert_key = text("INSERT INTO request_key (request_id, key_id, wrapped_key, created_at) VALUES (:id, :kid, :wrapped, :at)")
    blob = b"\x00" * 40  # closed requests' sealed fields are never read by the watch
    with engine.begin() as conn:
        rows, key_rows = [], []
        for i in range(total):
            rid = f"{i:032x}"
            regime, country, ack, ack_watch = "gdpr", "DE", None, None
            if i in open_ids:
                due = TODAY + timedelta(days=rnd.randint(-10, 45))
                status, watch = "awaiting_sign_off", due
                if rnd.random() < 0.2:
                    regime, country, ack = "ccpa", "US", due - timedelta(days=31)
                    ack_watch = ack if rnd.random() < 0.1 else None
                wrapped = keys.wrap(new_data_key(), f"request-key/{rid}".encode())
                key_rows.append({"id": rid, "kid": keys.key_id, "wrapped": wrapped, "at": logged})
            else:
                due = TODAY - timedelta(days=rnd.randint(30, 700))
                status, watch = "closed", None
            rows.append(
                {
                    "id": rid,
                    "ref": f"DSR-2026-{i:07d}",
                    "regime": regime,
                    "country": country,
                    "at": logged,
                    "status": status,
                    "due": due,
                    "ack": ack,
                    "watch": watch,
                    "ack_watch": ack_watch,
                    "blob": blob,
                }
            )
            if len(rows) >= BATCH:
                conn.execute(insert, rows)
                rows = []
        if rows:
            conn.execute(insert, rows)
        if key_rows:
            conn.execute(insert_key, key_rows)


R = TypeVar("R")


def timed(fn: Callable[[], R]) -> tuple[float, R]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--open", type=int, default=30_000, help="how many of them are still open")
    p.add_argument("--repeat", type=int, default=7, help="steady-state sweeps to time")
    p.add_argument("--home", type=Path, default=None)
    args = p.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="dsar-bench-"))
    settings = Settings(home=home, _env_file=None)
    app = build_app(settings, migrate_schema=True)
    t_seed, _ = timed(lambda: seed(app, args.requests, args.open))
    with app.engine.connect() as c:
        c.execute(text("ANALYZE"))
        plans = [
            c.execute(
                text(f"EXPLAIN QUERY PLAN SELECT id FROM privacy_request WHERE {col} IS NOT NULL AND {col} <= :h"), {"h": TODAY}
            ).fetchall()
            for col in ("watch_due", "ack_watch")
        ]
    thresholds = settings.alert_thresholds_days
    print(f"database: {home / 'dsar.db'} ({(home / 'dsar.db').stat().st_size / 1e6:.0f} MB)")
    print(f"seeded {args.requests:,} requests ({args.open:,} open) in {t_seed:.1f} s")
    for plan in plans:
        print(f"query plan: {' / '.join(str(r[-1]) for r in plan)}")

    t_first, first = timed(lambda: dl.sweep(app.ctx, thresholds, TODAY))
    print(
        f"first sweep (backlog): {t_first * 1000:.0f} ms; {first.considered:,} requests near or past due, "
        f"{len(first.notified):,} alerts raised (+{len(first.raised) - len(first.notified):,} covered)"
    )
    t_deliver, report = timed(lambda: dl.deliver(app.ctx, build_notifier(app), digest_over=settings.alert_digest_over))
    print(f"delivery of the backlog as one digest mail: {t_deliver * 1000:.0f} ms ({report})")

    times = []
    for _ in range(args.repeat):
        t, again = timed(lambda: dl.sweep(app.ctx, thresholds, TODAY))
        assert not again.raised
        times.append(t)
    print(
        f"steady-state sweep over {args.requests:,} requests: median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms ({args.repeat} runs; target <= 1000 ms)"
    )
    tomorrow = TODAY + timedelta(days=1)
    t_next, nxt = timed(lambda: dl.sweep(app.ctx, thresholds, tomorrow))
    print(f"next day's sweep: {t_next * 1000:.0f} ms, {len(nxt.notified):,} new alerts")


if __name__ == "__main__":
    main()
