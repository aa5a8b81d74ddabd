"""The demo company's shop database (SQLite): customers, addresses, orders and order lines.

Generated deterministically; the fixed demo subjects below are what the samples and tests use.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

SCHEMA_VERSION = "2"

DEMO_SUBJECTS: list[tuple[str, str, str, int]] = [
    # email, name, phone, number of orders
    ("jane.doe@example.com", "Jane Doe", "+49 30 5550101", 3),
    ("ana.silva@example.com", "Ana Silva", "+1 415 5550102", 1),
    ("max.mustermann@example.de", "Max Mustermann", "+49 89 5550103", 2),
    ("lee.chan@example.com", "Lee Chan", "+1 212 5550104", 0),
]
GENERATED_CUSTOMERS = 50

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE address (id INTEGER PRIMARY KEY, street TEXT, city TEXT, postcode TEXT, country TEXT);
CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, phone TEXT,
                       address_id INTEGER REFERENCES address(id));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),
                     placed_at TEXT NOT NULL, total NUMERIC NOT NULL);
CREATE TABLE order_line (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),
                         sku TEXT NOT NULL, description TEXT, quantity INTEGER NOT NULL, price NUMERIC NOT NULL);
CREATE INDEX customer_email_idx ON customer (lower(email));
CREATE INDEX customer_address_idx ON customer (address_id);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX order_line_order_idx ON order_line (order_id);
"""

_CITIES = [("Berlin", "10115", "DE"), ("Paris", "75001", "FR"), ("San Francisco", "94103", "US"), ("Edinburgh", "EH1 1AA", "GB")]
_ITEMS = [("SKU-TEE", "Organic cotton t-shirt", "19.90"), ("SKU-MUG", "Stoneware mug", "12.50"), ("SKU-BAG", "Canvas tote bag", "9.00")]


def _rows() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    people = list(DEMO_SUBJECTS) + [
        (f"customer{i}@example.net", f"Customer {i}", f"+44 20 7946 {i:04d}", i % 4) for i in range(1, GENERATED_CUSTOMERS + 1)
    ]
    addresses: list[tuple[object, ...]] = []
    customers: list[tuple[object, ...]] = []
    orders: list[tuple[object, ...]] = []
    lines: list[tuple[object, ...]] = []
    order_id = line_id = 0
    for cid, (email, name, phone, n_orders) in enumerate(people, start=1):
        city, postcode, country = _CITIES[cid % len(_CITIES)]
        addresses.append((cid, f"{cid} Market Street", city, postcode, country))
        customers.append((cid, email, name, phone, cid))
        for k in range(n_orders):
            order_id += 1
            items = [_ITEMS[(order_id + j) % len(_ITEMS)] for j in range(1 + k % 2)]
            total = sum(float(price) for _, _, price in items)
            orders.append((order_id, cid, f"2026-0{1 + (order_id % 9)}-1{k}T10:00:00Z", f"{total:.2f}"))
            for sku, desc, price in items:
                line_id += 1
                lines.append((line_id, order_id, sku, desc, 1, price))
    return addresses, customers, orders, lines


def _current(path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return row is not None and row[0] == SCHEMA_VERSION
    except sqlite3.Error:
        return False


def seed_shop(path: Path) -> None:
    """Create the demo shop at ``path`` unless a current one is there. Built in a temporary
    file and renamed into place, so a crash halfway never leaves a broken database."""
    if path.exists() and _current(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".shop-", suffix=".db")
    os.close(fd)
    try:
        addresses, customers, orders, lines = _rows()
        with sqlite3.connect(tmp) as db:
            db.executescript(_DDL)
            db.executemany("INSERT INTO address VALUES (?, ?, ?, ?, ?)", addresses)
            db.executemany("INSERT INTO customer VALUES (?, ?, ?, ?, ?)", customers)
            db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", orders)
            db.executemany("INSERT INTO order_line VALUES (?, ?, ?, ?, ?, ?)", lines)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        db.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
