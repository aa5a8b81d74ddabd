"""A new demo customer for each interactive demo (issue 13, item 3).

The interactive demo used to log Jane Doe's request again. After an earlier demo (the
unattended one answers Jane within the duplicate window) her new request was linked to the
closed one once verified, and nothing was left waiting. Each interactive demo now signs up a
customer of its own, numbered, on file in the demo shop (an account with an address and an
order, and an upload in the file store), so its request is never a repeat of an earlier one and
always waits, fresh, in the Prefect UI.

The number is one more than the highest newcomer the shop or the counter file knows, taken under
SQLite's write lock: two demos started at once get different numbers.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

DOMAIN = "example.com"
_EMAIL = re.compile(r"^newcomer(\d+)@example\.com$")
COUNTER_FILE = "newcomers"  # in the demo folder: survives a re-seeded shop


def newcomer_email(n: int) -> str:
    return f"newcomer{n}@{DOMAIN}"


def newcomer_name(n: int) -> str:
    return f"Nova Newcomer {n}"


def _counted(counter: Path) -> int:
    try:
        return int(counter.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def add_newcomer(shop_path: Path, files_dir: Path | None = None) -> int:
    """Sign a new customer up in the demo shop (and give them an upload in the file store);
    returns their number."""
    counter = shop_path.parent / COUNTER_FILE
    db = sqlite3.connect(shop_path, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # the number and the rows under one write lock
        known = [int(m.group(1)) for (email,) in db.execute("SELECT email FROM customer") if (m := _EMAIL.match(email))]
        n = max([_counted(counter), *known]) + 1
        (address_id,) = db.execute(
            "INSERT INTO address (street, city, postcode, country) VALUES (?, 'Berlin', '10115', 'DE') RETURNING id",
            (f"{n} Newcomer Lane",),
        ).fetchone()
        (customer_id,) = db.execute(
            "INSERT INTO customer (email, name, phone, address_id) VALUES (?, ?, ?, ?) RETURNING id",
            (newcomer_email(n), newcomer_name(n), f"+49 30 555{n:04d}", address_id),
        ).fetchone()
        (order_id,) = db.execute(
            "INSERT INTO orders (customer_id, placed_at, total) VALUES (?, '2026-11-20T10:00:00Z', '19.90') RETURNING id",
            (customer_id,),
        ).fetchone()
        db.execute(
            "INSERT INTO order_line (order_id, sku, description, quantity, price) VALUES (?, ?, ?, 1, '19.90')",
            (order_id, "SKU-TEE", "Organic cotton t-shirt"),
        )
        counter.write_text(f"{n}\n")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    if files_dir is not None:
        upload = files_dir / "uploads" / newcomer_email(n) / "size-exchange-note.txt"
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_text("Please exchange the t-shirt for a size M.\n")
    return n


def newcomer_request(n: int) -> dict[str, Any]:
    """The access request the newcomer sends (GDPR, Germany, through the web form)."""
    return {
        "type": "access",
        "regime": "gdpr",
        "country": "DE",
        "channel": "web",
        "subject": {"name": newcomer_name(n), "emails": [newcomer_email(n)]},
    }
