"""Documents from an s3 set on a local folder, through the whole access request into the
package and out of it again: a document that goes in unread is the same bytes after the
download; a text document's SSNs are withheld wherever they fall, also across the 1 MiB
pieces the store reads and the seal writes in."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dsar.services.intake import log_request
from dsar.services.redaction import SSN_MARK
from tests.conftest import build_migrated_app, make_settings
from tests.integration.test_processing import run_everything_once
from tests.packages import download

MIB = 1 << 20
EMAIL = "docs.subject@example.com"

SHOP = """system: shop
title: Online shop
type: sql
connection: DOCS_SHOP_URL
purposes: [Orders]
legal_basis: Contract
retention: 10 years
source: You
entities:
  customer:
    table: customer
    key: id
    identity: {email: email}
    fields:
      email: {category: contact}
      name: {category: identity}
"""

FILES = """system: files
title: File store
type: s3
connection: DOCS_FILES_URL
purposes: [Returns]
legal_basis: Contract
retention: 2 years
source: You
objects:
  uploads:
    prefix: "uploads/{email}/"
    format: blob
    category: documents
    unscannable: include
"""


def test_documents_arrive_as_they_are_and_numbers_across_a_chunk_boundary_are_withheld(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite3.connect(tmp_path / "shop.db")
    db.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
    db.execute("INSERT INTO customer VALUES (1, ?, 'Docs Subject')", (EMAIL,))
    db.commit()
    db.close()
    uploads = tmp_path / "files" / "uploads" / EMAIL
    uploads.mkdir(parents=True)
    scan = os.urandom(3 * MIB + 12345)  # random bytes: unreadable, included as they are (the data map says so)
    (uploads / "scan.bin").write_bytes(scan)
    text = bytearray()
    for boundary in (MIB, 2 * MIB, 3 * MIB):  # an SSN straddling each 1 MiB boundary but the last
        filler = boundary - 8 - len(text)  # lines of prose up to 8 bytes before the boundary
        text += (b"the customer called about the delivery.\n" * (filler // 40 + 1))[: filler - 1] + b"\n"
        text += b"SSN 123-45-6789 ok.\n" if boundary < 3 * MIB else b"the end.\n"
        assert boundary < 3 * MIB or len(text) > boundary
    assert text[MIB - 4 : MIB + 7] == b"123-45-6789" == text[2 * MIB - 4 : 2 * MIB + 7]
    (uploads / "notes.txt").write_bytes(bytes(text))
    dm = tmp_path / "map"
    dm.mkdir()
    (dm / "shop.yaml").write_text(SHOP)
    (dm / "files.yaml").write_text(FILES)
    monkeypatch.setenv("DOCS_SHOP_URL", f"sqlite:///{tmp_path / 'shop.db'}")
    monkeypatch.setenv("DOCS_FILES_URL", f"file://{tmp_path / 'files'}")

    settings = make_settings(home, data_map_dir=dm)
    app = build_migrated_app(settings)
    try:
        r = log_request(app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Docs", "emails": [EMAIL]}})
        run_everything_once(app, r.request.id, r.request.reference)
        files = download(app.ctx, settings.effective_outbox_dir, r.request.reference)
    finally:
        app.engine.dispose()
    docs = {name.rsplit("/", 1)[-1]: data for name, data in files.items() if "/documents/" in name}
    assert docs["0002-scan.bin"] == scan  # streamed in and out: byte for byte
    notes = docs["0001-notes.txt"]
    assert b"123-45-6789" not in notes and notes.count(SSN_MARK.encode()) == 2
    assert notes == bytes(text).replace(b"123-45-6789", SSN_MARK.encode())
