"""The access package with a large subject: peak memory and throughput.

A subject with ``--size-mib`` of data (default 1 GiB) across two systems: an S3-style store
(a local folder through the s3 connector) holding ``--doc-mib`` documents (default 4 MiB,
random bytes: they do not compress), and an SQL database with one customer row and many
activity rows (about 1 KiB of text each, some with SSNs and card numbers for the redaction
to find), together about ``--rows-share`` of the size. The request runs through the services
as a flow run would (code, plan, sign-off, execution, letter), then the package is downloaded
through the code.

Printed (numbers measured in this run, on this machine):
- raw AES-256-GCM over 1 MiB chunks (the ceiling);
- the package format alone (zip entries + CRC-32 + the chunked seal), on data in memory, for
  documents (stored) and for JSON text (deflated);
- the whole build: exporting both systems (read, redact, spool) and building the package,
  wall and CPU time, as MiB of package per second;
- the floor: the documents' bytes only read, CRC-32'd, sealed and written once (what the
  build cannot go below for them, on this machine);
- the download (open the seal chunk by chunk, as `/package` streams it);
- peak RSS of this process (target < 256 MiB), and its RSS before the request ran.

    uv run python benchmarks/package.py                       # 1 GiB
    uv run python benchmarks/package.py --size-mib 64         # quicker
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def body_of(path: Path) -> str:
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SHOP = """system: shop
title: Online shop
type: sql
connection: BENCH_SHOP_URL
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
      email: {category: contact, description: Your email address}
      name: {category: identity}
      tax_number: {category: identity, withhold: government_id}
  activity:
    table: activity
    key: id
    parent: {entity: customer, column: customer_id, parent_column: id}
    fields:
      at: {category: usage}
      page: {category: usage}
      note: {category: support, description: What support wrote}
"""

FILES = """system: files
title: File store
type: s3
connection: BENCH_FILES_URL
purposes: [Returns]
legal_basis: Contract
retention: 2 years
source: You
objects:
  uploads:
    prefix: "uploads/{email}/"
    format: blob
    category: documents
    # the scans are random bytes (no text to check): included, so their bytes are what is measured
    unscannable: include
"""

EMAIL = "big.subject@example.com"


def seed(work: Path, docs: int, doc_mib: int, rows: int) -> None:
    files = work / "files" / "uploads" / EMAIL
    files.mkdir(parents=True)
    for i in range(docs):
        with (files / f"scan-{i:04d}.pdf").open("wb") as fh:
            for _ in range(doc_mib):
                fh.write(os.urandom(MIB))
    db = sqlite3.connect(work / "shop.db")
    db.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT, name TEXT, tax_number TEXT)")
    db.execute("CREATE TABLE activity (id INTEGER PRIMARY KEY, customer_id INTEGER, at TEXT, page TEXT, note TEXT)")
    db.execute("CREATE INDEX ix_activity_customer ON activity (customer_id)")
    db.execute("INSERT INTO customer VALUES (1, ?, 'Big Subject', 'DE-TAX-1')", (EMAIL,))
    filler = ("The customer called about the delivery and asked us to note this. " * 14)[:900]
    batch = []
    for i in range(rows):
        note = filler
        if i % 1000 == 0:
            note = f"read out SSN 123-45-{i % 10000:04d} and card 4111 1111 1111 1111. " + filler
        batch.append((i + 1, 1, f"2025-01-01T00:{i % 60:02d}:00", f"/product/{i}", note))
        if len(batch) >= 10_000:
            db.executemany("INSERT INTO activity VALUES (?, ?, ?, ?, ?)", batch)
            batch = []
    db.executemany("INSERT INTO activity VALUES (?, ?, ?, ?, ?)", batch)
    db.commit()
    db.close()


def row(label: str, wall: float, cpu: float, aes_cpu: float | None = None) -> None:
    ratio = f"  = {cpu / aes_cpu:.2f} of raw AES" if aes_cpu else ""
    print(f"{label:<60} {wall:7.0f} wall {cpu:7.0f} CPU{ratio}")


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def raw_aes(total_mib: int) -> tuple[float, float]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    chunk = os.urandom(MIB)
    aad = b"x" * 41

    def run() -> None:
        for i in range(total_mib):
            aead.encrypt(i.to_bytes(12, "big"), chunk, aad)

    wall, cpu = timed(run)
    return total_mib / wall, total_mib / cpu


def json_text(size: int) -> bytes:
    """About ``size`` bytes of JSON records as an export holds them (varied words and numbers,
    so deflate does not find one long repeat)."""
    import random

    rnd = random.Random(7)
    words = ["".join(rnd.choices("etaoinshrdlucmfwyp", k=rnd.randint(2, 9))) for _ in range(3000)]
    out = io.BytesIO()
    n = 0
    while out.tell() < size:
        n += 1
        rec = {"key": str(n), "at": f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", "page": f"/product/{rnd.randint(1, 99999)}"}
        rec["note"] = " ".join(rnd.choices(words, k=rnd.randint(5, 40)))
        out.write(json.dumps(rec).encode() + b",\n")
    return out.getvalue()[:size]


def floor(files: Path, out_dir: Path) -> tuple[float, float, int]:
    """What the documents' bytes cost at the least in this process: each file read once (1 MiB
    pieces into one buffer), CRC-32, sealed (AES-256-GCM) and written once to a file (flushed
    to disk), nothing else. (wall, CPU seconds, bytes)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from isal import isal_zlib

    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    buf = bytearray(MIB)
    view = memoryview(buf)
    total = 0
    target = out_dir / ".floor"

    def run() -> None:
        nonlocal total
        with target.open("wb", buffering=MIB) as out:
            for i, path in enumerate(sorted(files.rglob("*"))):
                if not path.is_file():
                    continue
                crc = 0
                with path.open("rb", buffering=0) as f:
                    while n := f.readinto(view):
                        crc = isal_zlib.crc32(view[:n], crc)
                        out.write(aead.encrypt((total // MIB + i).to_bytes(12, "big"), view[:n], b"aad"))
                        total += n
            out.flush()
            os.fsync(out.fileno())

    wall, cpu = timed(run)
    target.unlink()
    return wall, cpu, total


class Null:
    def write(self, data: bytes) -> int:
        return len(data)


def package_format(total_mib: int, text: bool) -> tuple[float, float]:
    from dsar.crypto.stream import SealedWriter, new_content_key
    from dsar.services.zipstream import ZipStreamWriter

    piece = json_text(MIB) if text else os.urandom(MIB)
    sealed = SealedWriter(Null(), new_content_key(), b"w" * 60)
    z = ZipStreamWriter(sealed)
    per_entry = 64

    def run() -> None:
        for e in range(0, total_mib, per_entry):
            with z.open_entry(f"e{e}.bin", compress=text) as w:
                for _ in range(min(per_entry, total_mib - e)):
                    w.write(piece)
        z.close()
        sealed.close()

    wall, cpu = timed(run)
    return total_mib / wall, total_mib / cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mib", type=int, default=1024, help="the subject's data, MiB (default 1024)")
    p.add_argument("--doc-mib", type=int, default=4, help="size of each document, MiB (default 4; the s3 connector inlines up to 5 MB)")
    p.add_argument("--rows-share", type=float, default=0.1, help="share of the size held as SQL rows (default 0.1)")
    p.add_argument("--home", type=Path, default=None, help="work folder (default: a temporary one, removed after)")
    p.add_argument("--profile", type=Path, default=None, help="write a cProfile of the whole build to this file (pstats; slows the build)")
    args = p.parse_args()

    work = args.home or Path(tempfile.mkdtemp(prefix="dsar-package-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = max(100, int(args.size_mib * args.rows_share * MIB / 1024))
    docs = max(1, int(args.size_mib * (1 - args.rows_share)) // args.doc_mib)
    try:
        t = time.perf_counter()
        seed(work, docs, args.doc_mib, rows)
        print(f"subject: {docs} documents x {args.doc_mib} MiB + {rows:,} activity rows (seeded in {time.perf_counter() - t:.1f} s)")

        os.environ["BENCH_SHOP_URL"] = f"sqlite:///{work / 'shop.db'}"
        os.environ["BENCH_FILES_URL"] = f"file://{work / 'files'}"
        dm = work / "map"
        dm.mkdir(exist_ok=True)
        (dm / "shop.yaml").write_text(SHOP)
        (dm / "files.yaml").write_text(FILES)

        from dsar.app import build_app
        from dsar.crypto.totp import code_at, secret_from_base32
        from dsar.demo.run import latest_code
        from dsar.services import accounts, package
        from dsar.services import processing as svc
        from dsar.services.intake import log_request
        from dsar.settings import Settings

        aes, aes_cpu = raw_aes(512)
        print("MiB/s by the wall clock and per CPU second of this process (on a shared machine the CPU figure is the fairer one)")
        row("raw AES-256-GCM, 1 MiB chunks", aes, aes_cpu)
        row("package format, documents (stored + CRC + seal)", *package_format(512, text=False), aes_cpu)
        row("package format, JSON text (deflate + CRC + seal)", *package_format(256, text=True), aes_cpu)

        settings = Settings(home=work / "home", data_map_dir=dm, templates_dir=ROOT / "templates", _env_file=None)  # type: ignore[call-arg]
        app = build_app(settings, migrate_schema=True)
        ctx = app.ctx
        # Legal approves the letter templates first (`dsar templates approve`): no letter goes
        # out before. Another account than the sign-off's (a code is good once per 30 s step).
        from dsar.services.templates import approve_templates

        accounts.add_user(ctx, "tom.legal", "legal", by="benchmark")
        tom = secret_from_base32(accounts.enrol_totp(ctx, "tom.legal", by="benchmark").secret)
        assert approve_templates(ctx, [], "tom.legal", code_at(tom, ctx.clock())).refused is None
        r = log_request(ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Big", "emails": [EMAIL]}}).request
        svc.start_verification(ctx, r.id)
        code = latest_code(settings.effective_outbox_dir, r.reference)
        assert code is not None
        svc.confirm_code(ctx, r.id, code)
        svc.plan_request(ctx, r.id)
        accounts.add_user(ctx, "lena.legal", "legal", by="benchmark")
        secret = secret_from_base32(accounts.enrol_totp(ctx, "lena.legal", by="benchmark").secret)
        svc.record_sign_off(
            ctx, r.id, svc.SignOff(svc.SignOffDecision.APPROVE), "lena.legal", code_at(secret, ctx.clock()), via="benchmark"
        )
        before = rss_mib()

        profiler = None
        if args.profile is not None:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU time: what the figures measure
            profiler.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        status = svc.execute_plan(ctx, r.id)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
            print(f"profile of the whole build written to {args.profile} (the figures below include its overhead)")
        assert status is svc.Status.RESPONDING, status
        with ctx.uow() as uow:
            events = {e.kind: e for e in uow.audit.events(r.id) if e.kind in ("PackageCreated", "SystemExported")}
            pkg = uow.packages.for_request(r.id)
        assert pkg is not None
        svc.send_response(ctx, r.id)
        size = pkg.size / MIB
        print(f"package: {size:,.0f} MiB zip in {pkg.files:,} files, {pkg.sealed_size / MIB:,.0f} MiB sealed at rest")
        row(f"whole build: export both systems, build ({wall:.1f} s, {cpu:.1f} s CPU)", size / wall, size / cpu, aes_cpu)
        last_export = events.get("SystemExported")
        if last_export is not None:
            zip_s = (events["PackageCreated"].at - last_export.at).total_seconds()
            print(
                f"  of which the zip built from the spools after the last export: {zip_s:.1f} s wall ({size / max(zip_s, 1e-9):.0f} MiB/s)"
            )

        fwall, fcpu, fbytes = floor(work / "files", work)
        fmib = fbytes / MIB
        row(f"floor: the documents read, CRC-32, sealed, written once ({fmib:,.0f} MiB)", fmib / fwall, fmib / fcpu, aes_cpu)

        letter = body_of(settings.effective_outbox_dir / f"{r.reference}.access_response_dsar.eml")
        token = re.search(r"/package(?:\?lang=[a-z]{2})?#([0-9a-f]{64})", letter)
        assert token is not None, "the letter carries no package link"
        assert package.send_code(ctx, token.group(1)) is None
        mails = sorted(settings.effective_outbox_dir.glob(f"{r.reference}.package-code-*.eml"))
        got_code = re.search(r"^\s+(\d{6})\s*$", body_of(mails[-1]), re.M)
        assert got_code is not None
        got = package.open_download(ctx, token.group(1), got_code.group(1))
        assert isinstance(got, package.Download), got
        sizes: list[int] = []  # the download, as /package streams it
        wall, cpu = timed(lambda: sizes.extend(len(c) for c in got.chunks))
        assert sum(sizes) == pkg.size
        row("download (the seal opened chunk by chunk)", size / wall, size / cpu)
        print(f"RSS before the request ran: {before:.0f} MiB; peak RSS of the process: {peak_rss_mib():.0f} MiB (target < 256 MiB)")
        app.engine.dispose()
    finally:
        if args.home is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
