"""The demo company's object store, kept in a local folder (the `s3` connector reads it through
a ``file://`` URL): customer uploads under one prefix per customer, and the newsletter
platform's event export as JSON Lines shared by every subscriber."""

from __future__ import annotations

import json
from pathlib import Path

_MARKER = ".seeded-v1"

_UPLOADS = {
    "jane.doe@example.com": {
        "return-4711-photo.jpg": b"\xff\xd8\xff\xe0 demo photo of a damaged parcel",
        "return-4711-note.txt": b"Box dented.",
    },
    "ana.silva@example.com": {"complaint-88-invoice.pdf": b"%PDF-1.4 demo invoice"},
    "customer3@example.net": {"return-17-label.pdf": b"%PDF-1.4 demo label"},
}

_NEWSLETTER = {
    "newsletter/2026-09-events.jsonl": [
        {"email": "jane.doe@example.com", "first_name": "Jane", "event": "open", "campaign": "autumn-sale"},
        {"email": "customer4@example.net", "first_name": "Customer", "event": "click", "campaign": "autumn-sale"},
        {"email": "ana.silva@example.com", "first_name": "Ana", "event": "open", "campaign": "autumn-sale"},
    ],
    "newsletter/2026-10-events.jsonl": [
        {"email": "jane.doe@example.com", "first_name": "Jane", "event": "click", "campaign": "new-collection"},
        {"email": "jane.doe@example.org", "first_name": "Jane", "event": "open", "campaign": "new-collection"},
    ],
}


def seed_files(folder: Path) -> None:
    """Create the demo store once; a re-run keeps what earlier runs erased or corrected."""
    if (folder / _MARKER).exists():
        return
    for email, objects in _UPLOADS.items():
        for name, body in objects.items():
            path = folder / "uploads" / email / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    for key, lines in _NEWSLETTER.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / _MARKER).write_text("demo object store\n")
