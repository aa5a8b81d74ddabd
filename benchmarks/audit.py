"""Audit trail figures on SQLite: append rate, verify rate, and export plus offline verify of a
large log (default 1,000,000 events).

    uv run python benchmarks/audit.py [--events N] [--requests N] [--single N]

Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text

from dsar.app import App, build_app, build_signer
from dsar.audit.bundle import verify_bundle
from dsar.audit.chain import first_broken
from dsar.crypto import LocalKeyProvider, new_data_key
from dsar.domain.events import AuditEvent, JsonValue
from dsar.services.audit import export_evidence
from dsar.settings import Settings

R = TypeVar("R")
START = datetime(2026, 1, 1, tzinfo=UTC)


def timed(fn: Callable[[], R]) -> tuple[float, R]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def seed_requests(app: App, n: int) -> list[str]:
    keys = LocalKeyProvider.from_file(app.settings.effective_key_file)
    ids = [f"{i:032x}" for i in range(n)]
    with app.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO privacy_request (id, reference, type, regime, country, channel, received_at, received_tz, logged_at, status,"
                " on_hold, due, extended, paused_days, clock_stopped, version, subject_name_enc, subject_emails_enc)"
                " VALUES (:id, :ref, 'access', 'gdpr', 'DE', 'web', :at, 'UTC', :at, 'closed', 0, '2026-02-01', 0, 0, 0, 1, :b, :b)"
            ),
            [{"id": rid, "ref": f"DSR-2026-{i:06d}", "at": START, "b": b"\x00"} for i, rid in enumerate(ids)],
        )
        c.execute(
            text("INSERT INTO request_key (request_id, key_id, wrapped_key, created_at) VALUES (:id, :kid, :w, :at)"),
            [{"id": rid, "kid": keys.key_id, "w": keys.wrap(new_data_key(), f"request-key/{rid}".encode()), "at": START} for rid in ids],
        )
    return ids


def sqlite_commit_ceiling(folder: Path, n: int = 2_000) -> float:
    """Commits per second SQLite itself manages on this disk with the engine's settings (WAL,
    synchronous FULL: every commit reaches the disk), one tiny row per transaction through the
    bare sqlite3 module: the ceiling for one audit event per transaction, whatever the code."""
    path = folder / "ceiling.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        t0 = time.perf_counter()
        for _ in range(n):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (body) VALUES (?)", (b"x" * 200,))
            db.execute("COMMIT")
        return n / (time.perf_counter() - t0)
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass(frozen=True)
class BenchEvent(AuditEvent):
    """A status change's payload, numbered so that every one is a new event."""

    n: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"move": "close", "from": "responding", "to": "closed", "n": self.n}

    @property
    def idempotency_key(self) -> str:
        return f"bench:{self.n}"


def event(rid: str, i: int) -> AuditEvent:
    return BenchEvent(rid, START + timedelta(seconds=i), i)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--single", type=int, default=2_000, help="events appended one transaction each")
    p.add_argument("--batch", type=int, default=1_000)
    p.add_argument("--home", type=Path, default=None)
    args = p.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="dsar-audit-bench-"))
    app = build_app(Settings(home=home, _env_file=None), migrate_schema=True)
    ids = seed_requests(app, args.requests)
    ctx = app.ctx

    def single() -> None:
        for i in range(args.single):
            with ctx.uow() as uow:
                uow.audit.append([event(ids[i % len(ids)], i)])
                uow.commit()

    t, _ = timed(single)
    print(f"append, one event per transaction: {args.single / t:,.0f} events/s ({args.single:,} events in {t:.2f} s)")
    print(f"  for scale, bare SQLite on this disk: {sqlite_commit_ceiling(home):,.0f} commits/s (WAL, synchronous FULL, one row each)")

    def batched() -> int:  # events appended
        n = args.single
        while n < args.events:
            size = min(args.batch, args.events - n)
            with ctx.uow() as uow:
                uow.audit.append([event(ids[(n + k) % len(ids)], n + k) for k in range(size)])
                uow.commit()
            n += size
        return int(n - args.single)

    t, count = timed(batched)
    print(f"append, {args.batch:,} events per transaction: {count / t:,.0f} events/s ({count:,} events in {t:.1f} s)")

    t0 = time.perf_counter()
    with ctx.uow() as uow:
        chain = list(uow.audit.iter_chain())
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    broken = first_broken(chain)
    t_verify = time.perf_counter() - t0
    assert broken is None
    n = len(chain)
    print(f"read the log: {n / t_read:,.0f} events/s; verify the hash chain: {n / t_verify:,.0f} events/s ({t_verify:.2f} s)")
    del chain

    out = home / "evidence.zip"
    signer = build_signer(app)
    t_export, result = timed(lambda: export_evidence(ctx, signer, out, since=START - timedelta(days=1)))
    size_mb = out.stat().st_size / 1e6
    print(f"export of {result.events:,} events: {t_export:.1f} s ({result.events / t_export:,.0f} events/s), bundle {size_mb:.0f} MB")
    t_check, verdict = timed(lambda: verify_bundle(out, signer.public_pem))
    assert verdict.ok, verdict.message
    print(f"offline verify of the bundle: {t_check:.1f} s ({verdict.events / t_check:,.0f} events/s): {verdict.message}")


if __name__ == "__main__":
    main()
