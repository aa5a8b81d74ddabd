"""The demo company's object store, kept in a local folder (the `s3` connector reads it through
a ``file://`` URL): customer uploads under one prefix per customer, and the newsletter
platform's event export as JSON Lines shared by every subscriber."""

from __future__ import annotations

import json
from pathlib import Path

_MARKER = ".seeded-v1"


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer says ``text`` (Helvetica, ASCII): the demo's invoices and
    labels, which an access package reads to check them for SSNs and card numbers."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text.replace('(', '[').replace(')', ']')}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_UPLOADS = {
    "jane.doe@example.com": {
        # a photo: nothing in it can be read as text, so access packages withhold it (docs/access-package.md)
        "return-4711-photo.jpg": b"\xff\xd8\xff\xe0 demo photo of a damaged parcel",
        "return-4711-note.txt": b"Box dented.",
    },
    "ana.silva@example.com": {"complaint-88-invoice.pdf": text_pdf("Invoice 88: 1 pair of boots, EUR 89.00")},
    "customer3@example.net": {"return-17-label.pdf": text_pdf("Return label 17")},
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
