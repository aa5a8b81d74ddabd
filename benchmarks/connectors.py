"""Connector figures: locate a subject in a 1,000,000-row indexed table, export a subject with
10,000 related rows (SQLite), and locate and export an S3 prefix of 10,000 objects (moto,
in-process).

    uv run python benchmarks/connectors.py [--rows N] [--related N] [--objects N]

Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from dsar.connectors.base import SubjectKeys
from dsar.connectors.datamap import SqlSystem
from dsar.connectors.s3 import S3Connector, S3System
from dsar.connectors.sql import SqlConnector

SUBJECT = "subject@example.com"


def shop_map() -> SqlSystem:
    return SqlSystem.model_validate(
        {
            "system": "bench",
            "title": "Bench",
            "type": "sql",
            "connection": "BENCH_URL",
            "purposes": ["bench"],
            "legal_basis": "bench",
            "retention": "bench",
            "source": "bench",
            "entities": {
                "customer": {
                    "table": "customer",
                    "key": "id",
                    "identity": {"email": "email"},
                    "erase": "delete",
                    "fields": {"email": {"category": "contact"}, "name": {"category": "identity"}},
                },
                "orders": {
                    "table": "orders",
                    "key": "id",
                    "parent": {"entity": "customer", "column": "customer_id", "parent_column": "id"},
                    "erase": "delete",
                    "fields": {"total": {"category": "commercial"}, "placed_at": {"category": "commercial"}},
                },
            },
        }
    )


def seed(path: Path, rows: int, related: int) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, total TEXT, placed_at TEXT);"
        )
        db.executemany("INSERT INTO customer VALUES (?, ?, ?)", ((i, f"person{i}@example.net", f"Person {i}") for i in range(1, rows)))
        db.execute("INSERT INTO customer VALUES (?, ?, ?)", (rows, SUBJECT, "The Subject"))
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ((i, rows, f"{i % 100}.00", "2026-01-01") for i in range(1, related + 1)))
        db.executescript("CREATE INDEX customer_email ON customer (lower(email)); CREATE INDEX orders_customer ON orders (customer_id);")


def sql(rows: int, related: int, repeat: int) -> None:
    path = Path(tempfile.mkdtemp(prefix="dsar-conn-bench-")) / "shop.db"
    t0 = time.perf_counter()
    seed(path, rows, related)
    print(f"sql: seeded {rows:,} customers and {related:,} orders of one subject in {time.perf_counter() - t0:.1f} s")
    c = SqlConnector(shop_map(), f"sqlite:///{path}")
    keys = SubjectKeys(emails=(SUBJECT,))
    c.locate(keys)  # warm the connection pool and statement cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = c.locate(keys)
        times.append(time.perf_counter() - t0)
    assert len(found.matches) == 1
    print(
        f"sql: locate in {rows:,} indexed rows: median {statistics.median(times) * 1000:.2f} ms, "
        f"min {min(times) * 1000:.2f} ms ({repeat} runs; target <= 20 ms)"
    )
    t0 = time.perf_counter()
    records = list(c.export(found))
    dt = time.perf_counter() - t0
    print(f"sql: export of a subject with {related:,} related rows: {dt * 1000:.0f} ms ({len(records):,} records)")
    c.close()


def _s3_system() -> S3System:
    return S3System.model_validate(
        {
            "system": "files",
            "title": "Files",
            "type": "s3",
            "connection": "BENCH_S3",
            "purposes": ["bench"],
            "legal_basis": "bench",
            "retention": "bench",
            "source": "bench",
            "objects": {"uploads": {"prefix": "uploads/{account_id}/", "category": "file", "erase": "delete"}},
        }
    )


def _s3_run(label: str, c: S3Connector) -> None:
    t0 = time.perf_counter()
    found = c.locate(SubjectKeys(account_id="acct-1"))
    t_locate = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = sum(1 for _ in c.export(found))
    t_export = time.perf_counter() - t0
    print(f"s3 ({label}): locate a prefix of {len(found.matches):,} objects: {t_locate * 1000:.0f} ms")
    print(f"s3 ({label}): export them: {t_export:.1f} s ({n:,} records, {n / t_export:,.0f}/s)")


def s3(objects: int) -> None:
    """The same prefix through moto (every call goes through botocore and moto's emulation, so
    this measures mostly them) and through the file:// folder backend (the connector's own cost)."""
    import boto3  # type: ignore[import-untyped]
    from moto import mock_aws  # type: ignore[import-untyped,unused-ignore]

    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "eu-central-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        client: Any = boto3.client("s3")
        client.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        t0 = time.perf_counter()
        for i in range(objects):
            client.put_object(Bucket="bench", Key=f"uploads/acct-1/{i:06d}.bin", Body=b"x" * 64)
        print(f"s3: seeded {objects:,} objects in {time.perf_counter() - t0:.1f} s (moto, in-process)")
        _s3_run("moto", S3Connector(_s3_system(), "s3://bench", b"", client=client))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "uploads" / "acct-1"
        folder.mkdir(parents=True)
        for i in range(objects):
            (folder / f"{i:06d}.bin").write_bytes(b"x" * 64)
        _s3_run("folder", S3Connector(_s3_system(), f"file://{tmp}", b""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--related", type=int, default=10_000)
    p.add_argument("--objects", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    sql(args.rows, args.related, args.repeat)
    s3(args.objects)


if __name__ == "__main__":
    main()
