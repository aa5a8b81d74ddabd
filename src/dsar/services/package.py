"""The access package: the subject's data as a zip (per system and entity a JSON and a CSV
file, their documents, and an HTML index saying what every field means), sealed at rest under
the request's key and handed out once, through an expiring link and a fresh one-time code.

Two stages, both front to back in constant memory, whatever the size:

1. **Spool** (the execution step of each system, :func:`spool_export`): the connector's records
   are redacted (:mod:`dsar.services.redaction`: nothing withheld is ever written) and written
   as JSON lines into one sealed stream per entity; a document's bytes go to a sealed stream of
   their own. A small summary (counts, columns, categories, what was withheld; no values) is
   what the step keeps beside its receipt.
2. **Build** (before the access letter, :func:`ensure_package`): the spools are read back and
   written as one zip (:mod:`dsar.services.zipstream`) into one sealed stream
   (:mod:`dsar.crypto.stream`) in the stream store. Only once it is complete is the package
   recorded, with its link; a build that stops halfway leaves nothing anyone can download.

Every stream's content key is random, sealed under the request's data key with the stream's
name as associated data, and kept in the stream's header: shredding the request's key makes
the package and its spools unreadable.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from dsar.connectors.base import ExportRecord
from dsar.crypto import digests_equal, keyed_digest
from dsar.crypto.stream import SealedWriter, new_content_key, open_chunks, read_header
from dsar.domain.errors import DeliveryFailed, DownloadStopped, DsarError, IntegrityError, PackageLinkRefused
from dsar.domain.letters import in_language, message_id
from dsar.domain.packages import (
    CODE_DIGITS,
    CODES_PER_LINK,
    AccessPackage,
    CodeRefusal,
    LinkRefusal,
    PackageCodeSent,
    PackageCreated,
    PackageDeleted,
    PackageDownloaded,
    PackageDownloadRefused,
    PackageDownloadStarted,
    PackageLinkIssued,
)
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import PrivacyRequest
from dsar.services.context import ServiceContext
from dsar.services.correspondence import letter_language, letter_request, send_letter
from dsar.services.package_index import index_html
from dsar.services.ports import OutgoingMail, UnitOfWork
from dsar.services.redaction import DocumentScanner, Redactor
from dsar.services.streams import StreamStore
from dsar.services.templates import check_approved
from dsar.services.zipstream import ZipStreamWriter, safe_name

PACKAGE_CODE_LETTER = "package_code"
PACKAGE_LINK_LETTER = "package_link"  # a new link for the same package (recorded as package_link.N)
# The last bytes of a download are handed over only once its link is spent (the database row
# judges between two downloads finishing at once): an interrupted download never spends it.
DOWNLOAD_TAIL = 64 * 1024
_TRIES = 5  # compare-and-set rounds before a busy package is given up on
_STREAM_AAD = "stream/"
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CSV_QUOTED = ('"', "\r", "\n", "\x00")  # (and the comma) what makes the csv module quote a cell

_log = logging.getLogger("dsar.package")


def lookback_start(regime: str) -> date | None:
    """Where a regime's request to know reaches back to (CCPA: 2022-01-01, for data kept
    longer than 12 months; the regime data cites it)."""
    from dsar.domain.regimes import REGIMES

    known = REGIMES.get(regime)
    start = getattr(known, "lookback_start", None) if known is not None else None
    return start if isinstance(start, date) else None


def streams_of(ctx: ServiceContext) -> StreamStore:
    return ctx.streams


def spool_key(request_id: str, system: str, entity: str) -> str:
    return f"spool/{request_id}/{safe_name(system)}/{safe_name(entity)}.jsonl"


def package_key(request_id: str) -> str:
    return f"packages/{request_id}/package.zip.sealed"


# --- sealed streams under the request's key ------------------------------------------------------


@contextmanager
def sealed_writer(ctx: ServiceContext, request_id: str, key: str) -> Iterator[SealedWriter]:
    """Write the stream ``key`` sealed under a fresh content key, itself sealed under the
    request's data key. The stream exists only if the block ends without an error."""
    content_key = new_content_key()
    with ctx.uow() as uow:
        wrapped = uow.keys.seal(request_id, content_key, _STREAM_AAD + key)
    with streams_of(ctx).writer(key) as sink:
        writer = SealedWriter(sink, content_key, wrapped)
        yield writer
        writer.close()


def sealed_chunks(ctx: ServiceContext, request_id: str, key: str) -> Iterator[bytes]:
    """The plaintext of the stream ``key``, piece by piece (IntegrityError on any tampering)."""
    with streams_of(ctx).reader(key) as source:
        wrapped, chunk_size, header = read_header(source)
        with ctx.uow() as uow:
            content_key = uow.keys.open(request_id, wrapped, _STREAM_AAD + key)
        yield from open_chunks(source, content_key, header, chunk_size)


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield data[start:end]
            start = end + 1
        carry = data[start:]
    if carry:
        yield carry


# --- stage 1: spool one system's export ------------------------------------------------------------


# A spool's lines: "spool-2" (this build) holds each record as its JSON file's item, ``{"key":
# KEY, FIELD: VALUE, ...}``, so the JSON file is the lines joined, never parsed again; "spool-1"
# (earlier builds, read still) held ``{"key", "fields", "categories"}``.
SPOOL_FORMAT = "spool-2"
_FLUSH = 1 << 20  # bytes of lines gathered before they go to the sealed spool in one write
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_line(value: Any) -> bytes:
    """``value`` as one line of compact JSON, as the standard library's ``json.dumps(value,
    default=str, ensure_ascii=False)`` would write it but for the spaces (dates, decimals and
    anything else unknown as their ``str``)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits, a float NaN ...: the slow way
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class _EntitySpool:
    key: str
    writer: SealedWriter | None
    records: int = 0
    columns: dict[str, None] = field(default_factory=dict)  # an ordered set
    pending: list[bytes] = field(default_factory=list)  # lines not yet written
    pending_size: int = 0

    def add(self, line: bytes) -> None:
        self.pending.append(line)
        self.pending_size += len(line)
        if self.pending_size >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.writer is not None and self.pending:
            self.writer.write(b"".join(self.pending))
        self.pending, self.pending_size = [], 0


def spool_export(
    ctx: ServiceContext, request_id: str, system: str, records: Iterable[ExportRecord], *, keep: bool = True
) -> dict[str, Any]:
    """Redact and spool one system's records (see the module's docstring); the summary. With
    ``keep`` false (a request for the categories only: no package) nothing is spooled."""
    system_map = next((m for m in ctx.data_map if m.system == system), None)
    redactor = Redactor.for_system(system_map)
    scanner = DocumentScanner(redactor)
    entities: dict[str, _EntitySpool] = {}
    categories: set[str] = set()
    documents: list[dict[str, Any]] = []
    withheld_documents: list[dict[str, str]] = []
    seen_categories: tuple[Any, ...] = ()  # the last record's categories and field names: most records repeat them
    with ExitStack() as stack:
        for rec in records:
            spool = entities.get(rec.entity)
            if spool is None:
                key = spool_key(request_id, system, rec.entity)
                writer = stack.enter_context(sealed_writer(ctx, request_id, key)) if keep else None
                spool = entities[rec.entity] = _EntitySpool(key, writer)
            # A document's content (its bytes; base64 in a field from earlier builds and other
            # connectors) is the document itself: checked as a document
            # (redaction.DocumentScanner), never scanned as a field's text.
            legacy = rec.fields.get("content_base64")
            content = rec.content if rec.content is not None else _decoded(legacy) if isinstance(legacy, str) else None
            plain = rec.fields if legacy is None else {k: v for k, v in rec.fields.items() if k != "content_base64"}
            values = redactor.fields(rec.entity, plain)
            if content is not None and keep:
                verdict = scanner.check(content, _document_name(rec), include_unscannable=_includes_unscannable(system_map, rec.entity))
                if verdict.content is None:
                    assert verdict.withheld is not None
                    withheld_documents.append({"entity": rec.entity, "name": _document_name(rec), "reason": verdict.withheld})
                    values["file"] = WITHHELD_DOCUMENT
                else:
                    values["file"] = _spool_document(ctx, request_id, system, rec, verdict.content, len(documents), documents)
            if content is not None or seen_categories != (rec.categories, values.keys()):
                categories.update(c for f, c in rec.categories.items() if f in values or f == "content_base64")
                seen_categories = (rec.categories, values.keys())
            if not spool.columns.keys() >= values.keys():
                for name in values:
                    spool.columns.setdefault(name, None)
            if spool.writer is not None:
                spool.add(_json_line({"key": rec.key, **values}) + b"\n")
            spool.records += 1
        for spool in entities.values():
            spool.flush()
    return {
        "format": SPOOL_FORMAT,
        "system": system,
        "records": sum(s.records for s in entities.values()),
        "categories": sorted(categories),
        "entities": {name: {"spool": s.key, "records": s.records, "columns": list(s.columns)} for name, s in entities.items()},
        "documents": documents,
        "withheld_documents": withheld_documents,
        "withheld": redactor.counts() | scanner.counts(),
        "withheld_fields": redactor.withheld_fields,
    }


# What a withheld document's record says in place of its file (the index says why).
WITHHELD_DOCUMENT = "[withheld: see the index]"


def _decoded(content: str) -> bytes:
    import base64

    return base64.b64decode(content, validate=False)


def _document_name(rec: ExportRecord) -> str:
    return str(rec.fields.get("key") or rec.key).rsplit("/", 1)[-1]


def _includes_unscannable(system_map: Any, entity: str) -> bool:
    """Whether the data map lets documents of ``entity`` that cannot be checked into packages
    (``unscannable: include`` on an s3 blob set)."""
    sets = getattr(system_map, "objects", None)
    found = sets.get(entity) if isinstance(sets, dict) else None
    return getattr(found, "unscannable", "withhold") == "include"


def _spool_document(
    ctx: ServiceContext, request_id: str, system: str, rec: ExportRecord, content: bytes, n: int, documents: list[dict[str, Any]]
) -> str:
    """Write a document (checked, see :class:`DocumentScanner`) into a sealed stream of its
    own; returns the file's name in the package."""
    path = f"{safe_name(system)}/documents/{n + 1:04d}-{safe_name(_document_name(rec))}"
    key = f"spool/{request_id}/{safe_name(system)}/doc-{n + 1:06d}"
    with sealed_writer(ctx, request_id, key) as w:
        step = 1024 * 1024
        for i in range(0, len(content), step):
            w.write(content[i : i + step])
    documents.append({"spool": key, "file": path, "size": len(content)})
    return path


def legacy_summary(ctx: ServiceContext, request_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """An export written before packages existed (all records in one sealed JSON): spooled
    now, so it is packaged like the others."""
    recs = (
        ExportRecord(r["entity"], r["key"], r.get("fields", {}), r.get("categories", {}))
        for r in doc.get("records", [])
        if isinstance(r, dict)
    )
    return spool_export(ctx, request_id, str(doc["system"]), recs)


# --- stage 2: build the zip -------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageLink:
    url: str
    expires_at: datetime


def link_token(ctx: ServiceContext, package_id: str, link: int = 0) -> str:
    """The secret of the package's link number ``link`` (0: the access letter's; 1, 2...: the
    new links staff issued): derived from the package under the code key, so a letter rendered
    again after a crash carries the same link; stored only as :func:`link_digest`."""
    return keyed_digest(ctx.code_key, f"package-link/{package_id}" + (f"/{link}" if link else ""))


def link_digest(ctx: ServiceContext, token: str) -> str:
    return keyed_digest(ctx.code_key, f"package-link-digest/{token.strip()}")


def link_for(ctx: ServiceContext, package: AccessPackage, language: str | None = None) -> PackageLink:
    """The package's current link, ``/package?lang=LANGUAGE#TOKEN``: the page in the letter's
    language (the request's), the secret in the fragment."""
    base = ctx.policy.console_url or "http://127.0.0.1:8000"  # the web app's address (DSAR_WEB_PUBLIC_URL or HOST:PORT)
    url = f"{base.rstrip('/')}/package#{link_token(ctx, package.id, package.links_issued)}"
    return PackageLink(in_language(url, language), package.expires_at)


def wants_package(r: PrivacyRequest) -> bool:
    """A request to know the specific pieces (or a GDPR copy) gets a package; a request for the
    categories only does not."""
    return r.type is RequestType.ACCESS and r.access_scope is not AccessScope.CATEGORIES


def ensure_package(ctx: ServiceContext, r: PrivacyRequest, summaries: Sequence[Mapping[str, Any]]) -> AccessPackage | None:
    """The request's package, built now if it has none; None when nothing was found (no
    package, and the letter says so)."""
    request_id = r.id
    with ctx.uow() as uow:
        existing = uow.packages.for_request(request_id)
        if existing is not None:
            return existing
    if not any(s.get("records") for s in summaries):
        return None
    now = ctx.clock()
    key = package_key(request_id)
    files = 0
    with sealed_writer(ctx, request_id, key) as sealed:
        archive = ZipStreamWriter(sealed, mtime=now.timestamp())
        root = safe_name(f"{r.reference}-your-data")
        archive.write_entry(f"{root}/index.html", [_index_html(ctx, r, summaries, now).encode()])
        files += 1
        for s in summaries:
            system = safe_name(str(s["system"]))
            items = s.get("format") == SPOOL_FORMAT  # the spool's lines are the JSON file's items
            for entity, info in s.get("entities", {}).items():
                base = f"{root}/{system}/{safe_name(entity)}"
                archive.write_entry(f"{base}.json", _json_entity(ctx, request_id, str(s["system"]), entity, info, items=items))
                archive.write_entry(f"{base}.csv", _csv_entity(ctx, request_id, info, items=items))
                files += 2
            for d in s.get("documents", []):
                archive.write_entry(f"{root}/{d['file']}", sealed_chunks(ctx, request_id, d["spool"]), compress=False)
                files += 1
        archive.close()
        size = archive.bytes_written
    now = ctx.clock()  # complete now: the link works from here, for the configured days
    package = AccessPackage(
        id=uuid.uuid4().hex,
        request_id=request_id,
        object_key=key,
        size=size,
        sealed_size=sealed.sealed_bytes,
        files=files,
        created_at=now,
        expires_at=now + timedelta(days=ctx.policy.package_link_days),
        link_digest="",
    )
    package = AccessPackage(**{**package.__dict__, "link_digest": link_digest(ctx, link_token(ctx, package.id))})
    withheld: dict[str, int] = {}
    for s in summaries:
        for k, v in s.get("withheld", {}).items():
            withheld[k] = withheld.get(k, 0) + int(v)
    with ctx.uow() as uow:
        uow.packages.add(package)
        uow.audit.append([PackageCreated(request_id, now, package.id, files, size, package.expires_at, withheld)])
        uow.commit()
    _drop_spools(ctx, request_id)
    return package


def _drop_spools(ctx: ServiceContext, request_id: str) -> None:
    store = streams_of(ctx)
    for key in store.keys(f"spool/{request_id}/"):
        store.delete(key)


def _items(ctx: ServiceContext, request_id: str, info: Mapping[str, Any], *, items: bool) -> Iterator[list[dict[str, Any]]]:
    """The spooled records as their JSON file's items (``{"key": KEY, FIELD: VALUE ...}``), a
    list per piece of the spool read."""
    chunks = sealed_chunks(ctx, request_id, info["spool"])
    if items:
        carry = b""
        for chunk in chunks:
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            yield [orjson.loads(line) for line in data[:cut].split(b"\n")[:-1]]
        if carry.strip():
            yield [orjson.loads(carry)]
        return
    for line in _lines(chunks):  # spool-1: {"key", "fields", "categories"} per line
        if line:
            rec = orjson.loads(line)
            yield [{"key": rec["key"], **rec["fields"]}]


def _json_entity(
    ctx: ServiceContext, request_id: str, system: str, entity: str, info: Mapping[str, Any], *, items: bool = True
) -> Iterator[bytes]:
    head = {"system": system, "entity": entity, "records": info.get("records", 0)}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "items": [\n').encode()
    if items:
        # The spool is the items, one a line: joined by ",\n" as they come, never parsed.
        held = b""
        for chunk in sealed_chunks(ctx, request_id, info["spool"]):
            if not chunk:
                continue
            if held:
                yield held.replace(b"\n", b",\n")
            held = chunk
        yield held[:-1].replace(b"\n", b",\n") + b"\n]}\n" if held.endswith(b"\n") else held + b"\n]}\n"
        return
    buf: list[bytes] = []
    size = 0
    first = True
    for batch in _items(ctx, request_id, info, items=False):
        for item in batch:
            line = _json_line(item)
            buf.append(line if first else b",\n" + line)
            first = False
            size += len(line) + 2
        if size >= 1 << 20:
            yield b"".join(buf)
            buf, size = [], 0
    buf.append(b"\n]}\n")
    yield b"".join(buf)


def _cell(value: Any) -> str:
    if type(value) is str:
        text = value
    elif value is None:
        text = ""
    elif type(value) is int:
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    # A cell a spreadsheet would run as a formula is shown as text (CSV injection).
    return "'" + text if text.startswith(_CSV_FORMULA) else text


def csv_rows(items: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The CSV rows of ``items`` (their ``columns``' cells, see :func:`_cell`), exactly as the
    csv module writes them (quoting only what needs it, CRLF): a row with no cell to quote is
    joined by commas at C speed; a row with a comma, quote, line break or NUL in a cell goes
    through the csv module."""
    cell, formula, width = _cell, _CSV_FORMULA, len(columns) - 1
    out: list[str] = []
    quoted = io.StringIO()
    w = csv.writer(quoted, lineterminator="\r\n")
    for item in items:
        cells = [v if type(v) is str and not v.startswith(formula) else cell(v) for v in map(item.get, columns)]
        line = ",".join(cells)
        if width and line.count(",") == width and not any(ch in line for ch in _CSV_QUOTED):
            out.append(line + "\r\n")
        else:
            w.writerow(cells)
            out.append(quoted.getvalue())
            quoted.seek(0)
            quoted.truncate()
    return "".join(out)


def _csv_entity(ctx: ServiceContext, request_id: str, info: Mapping[str, Any], *, items: bool = True) -> Iterator[bytes]:
    columns = ["key", *[c for c in info.get("columns", []) if c != "key"]]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")  # so spreadsheets read it as UTF-8
    w.writerow(columns)
    for batch in _items(ctx, request_id, info, items=items):
        out.write(csv_rows(batch, columns))
        if out.tell() >= 1 << 20:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def _index_html(ctx: ServiceContext, r: PrivacyRequest, summaries: Sequence[Mapping[str, Any]], now: datetime) -> str:
    """The package's readable index, in the request's language (:mod:`dsar.services.package_index`)."""
    return index_html(
        language=letter_language(r),
        organisation=ctx.policy.organisation_name,
        contact=ctx.policy.privacy_contact,
        reference=r.reference,
        received=r.received_at,
        prepared=now,
        lookback=lookback_start(r.regime),
        data_map=ctx.data_map,
        summaries=summaries,
    )


# --- delivery: the link, the code, the download ------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A download that started: ``chunks`` stream the zip; the link is spent just before its
    last :data:`DOWNLOAD_TAIL` bytes go (:func:`finish_download`), so a download given up
    halfway leaves the link working. ``start``: which start of the link this is (from 1)."""

    package_id: str
    filename: str
    size: int
    chunks: Iterator[bytes]
    start: int = 1


def _find(uow: UnitOfWork, ctx: ServiceContext, token: str) -> AccessPackage | None:
    token = token.strip()
    if not token or len(token) > 200:
        return None
    found = uow.packages.by_link(link_digest(ctx, token))
    # The digest found by lookup is compared again in constant time.
    return found if found is not None and digests_equal(found.link_digest, link_digest(ctx, token)) else None


def _max_starts(ctx: ServiceContext) -> int:
    return max(1, ctx.policy.package_max_download_starts)


def _codes_allowed(ctx: ServiceContext) -> int:
    """Codes one link may ask for: a code per download start, and a few more."""
    return max(CODES_PER_LINK, _max_starts(ctx) + 2)


def link_refusal(ctx: ServiceContext, token: str) -> LinkRefusal | None:
    """Why this link does not work now (None: it does); nothing is recorded."""
    with ctx.uow() as uow:
        p = _find(uow, ctx, token)
        return LinkRefusal.UNKNOWN if p is None else p.refusal(ctx.clock(), _max_starts(ctx))


def _code_digest(ctx: ServiceContext, package_id: str, code: str) -> str:
    return keyed_digest(ctx.code_key, f"package-code/{package_id}/{code.strip()}")


def _busy(what: str) -> IntegrityError:
    return IntegrityError(f"the access package changed {_TRIES} times while {what}; try again")


def send_code(ctx: ServiceContext, token: str) -> LinkRefusal | CodeRefusal | None:
    """Mail a fresh one-time code to the address the request was verified with (any earlier
    code stops working). None when sent; otherwise why not."""
    for _ in range(_TRIES):
        now = ctx.clock()
        with ctx.uow() as uow:
            p = _find(uow, ctx, token)
            if p is None:
                return LinkRefusal.UNKNOWN
            refused = p.refusal(now, _max_starts(ctx))
            if refused is not None:
                return refused
            if p.codes_sent >= _codes_allowed(ctx):
                return CodeRefusal.TOO_MANY
            r = uow.requests.get(p.request_id)
            # The contact on file of a subject verified against the system of record, never an
            # address only typed into the request (THREATS 2, 7): the link and the code meet there.
            from dsar.services.identity import letter_address, letter_phone

            address = letter_address(uow, r)
            phone = letter_phone(uow, r) if not address else None
            if not address and not phone:
                raise DeliveryFailed("the request has no verified address to send a code to")
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            fresh = p.with_code(_code_digest(ctx, p.id, code), now)
            if not uow.packages.swap(fresh):
                continue  # changed since it was read (a download finished, a new link): judge again
            link_part = f"-{p.links_issued}" if p.links_issued else ""
            if phone is not None:
                # A subject reached by text only (their letters come behind a link): the code by text.
                from dsar.domain.letter_links import LETTER_SMS_CODE
                from dsar.services.correspondence import deliver_text

                context = {
                    "organisation": ctx.policy.organisation_name,
                    "request": {"reference": r.reference},
                    "code": code,
                    "expires_at": fresh.code_expires_at,
                }
                text_id = message_id(r.reference, f"package-code-{p.id[:8]}{link_part}-{fresh.codes_sent}.sms")
                deliver_text(ctx, uow, r, LETTER_SMS_CODE, context, text_id, phone)
                uow.audit.append([PackageCodeSent(p.request_id, now, p.id, fresh.codes_sent)])
                uow.commit()
                return None
            assert address is not None  # one of the two, checked above
            to = (address,)
            letter = ctx.letters.render(
                PACKAGE_CODE_LETTER,
                r.regime,
                {
                    "request": {"reference": r.reference, "subject_name": r.subject.name},
                    "code": code,
                    "expires_at": fresh.code_expires_at,
                    "organisation": ctx.policy.organisation_name,
                    "contact": ctx.policy.privacy_contact,
                },
                letter_language(r),
            )
            check_approved(uow, PACKAGE_CODE_LETTER, letter)  # an approved script, like every letter
            mail_id = message_id(r.reference, f"package-code-{p.id[:8]}{link_part}-{fresh.codes_sent}")
            mail = OutgoingMail(mail_id, to[0], ctx.policy.privacy_contact, letter.subject, letter.body, html=letter.html)
            try:
                ctx.mailer.send(mail)
            except DsarError as exc:
                raise DeliveryFailed(f"the download code could not be sent: {exc.args[0] if exc.args else type(exc).__name__}") from None
            except Exception as exc:  # noqa: BLE001 - said without its text
                raise DeliveryFailed(f"the download code could not be sent ({type(exc).__name__})") from None
            uow.audit.append([PackageCodeSent(p.request_id, now, p.id, fresh.codes_sent)])
            uow.commit()
            return None
    raise _busy("a code was sent")


def open_download(ctx: ServiceContext, token: str, code: str) -> Download | LinkRefusal | CodeRefusal:
    """Judge the code given with the link: a refusal (recorded), or a download that starts
    (``PackageDownloadStarted``; the code is spent, the link is not: it is spent when the
    download finishes). A link whose downloads were started the most times allowed
    (DSAR_PACKAGE_MAX_DOWNLOAD_STARTS) starts no more."""
    for _ in range(_TRIES):
        now = ctx.clock()
        with ctx.uow() as uow:
            p = _find(uow, ctx, token)
            if p is None:
                return LinkRefusal.UNKNOWN
            refused = p.refusal(now, _max_starts(ctx))
            if refused is not None:
                uow.audit.append([PackageDownloadRefused(p.request_id, now, p.id, refused.value)])
                uow.commit()
                return refused
            matches = p.code_digest is not None and digests_equal(p.code_digest, _code_digest(ctx, p.id, code))
            judged, why = p.judge(matches, now)
            if judged != p and not uow.packages.swap(judged):
                continue  # another attempt judged a code meanwhile: judge this one again
            if why is not None:
                uow.audit.append([PackageDownloadRefused(p.request_id, now, p.id, why.value)])
                uow.commit()
                return why
            r = uow.requests.facts(p.request_id)
            start = judged.download_starts
            uow.audit.append([PackageDownloadStarted(p.request_id, now, p.id, p.links_issued, start)])
            uow.commit()
        return Download(p.id, f"{r.reference}-your-data.zip", p.size, _delivered(ctx, judged, start), start)
    raise _busy("a code was judged")


def _delivered(ctx: ServiceContext, p: AccessPackage, start: int) -> Iterator[bytes]:
    """The zip, decrypted chunk by chunk; its last :data:`DOWNLOAD_TAIL` bytes only once the
    link is spent by this download (:func:`finish_download`). A consumer that stops early
    (the browser closed the connection) never gets there: the link keeps working."""
    held = b""
    for chunk in sealed_chunks(ctx, p.request_id, p.object_key):
        if held:
            yield held
        held = chunk
    cut = max(0, len(held) - DOWNLOAD_TAIL)
    if cut:
        yield held[:cut]
    if not finish_download(ctx, p, start):
        raise DownloadStopped("the download link was spent, replaced or deleted while this download ran; its end was withheld")
    yield held[cut:]


def finish_download(ctx: ServiceContext, p: AccessPackage, start: int) -> bool:
    """Spend the link ``p`` was started through, for the download that reached its end: True
    for the one download that does (``PackageDownloaded``); False (``PackageDownloadRefused``)
    when the link was spent by another download first, or replaced or deleted meanwhile. The
    package's row is the arbiter (compare-and-set): of two downloads finishing at once, one."""
    for _ in range(_TRIES):
        now = ctx.clock()
        with ctx.uow() as uow:
            current = uow.packages.by_link(p.link_digest)
            why = (
                "replaced"
                if current is None or current.id != p.id
                else LinkRefusal.DELETED.value
                if current.deleted_at is not None
                else LinkRefusal.USED.value
                if current.link_used_at is not None
                else None
            )
            if current is None or why is not None:
                uow.audit.append([PackageDownloadRefused(p.request_id, now, p.id, why or "replaced")])
                uow.commit()
                return False
            if not uow.packages.swap(current.finished(now)):
                continue
            uow.audit.append([PackageDownloaded(p.request_id, now, p.id, p.size, current.links_issued, start)])
            uow.commit()
            return True
    return False


def issue_link(ctx: ServiceContext, request_id: str, *, by: str) -> PackageLink:
    """A new link for the request's access package, when the old one expired, was spent, or
    the subject lost it: the old link stops working at once, the new one works for
    DSAR_PACKAGE_LINK_DAYS from now, and the ``package_link`` letter takes it to the contact on
    file. At most DSAR_PACKAGE_MAX_NEW_LINKS per package; each a ``PackageLinkIssued`` event
    naming ``by`` (staff, never the subject). Raises PackageLinkRefused (saying why) when the
    request has no package, its package was deleted, or its new links are used up; and
    DeliveryFailed when the letter could not go (then nothing changed)."""
    from dsar.services.identity import letter_address

    for _ in range(_TRIES):
        now = ctx.clock()
        with ctx.uow() as uow:
            r = uow.requests.get(request_id)
            p = uow.packages.for_request(request_id)
            if p is None:
                deleted = [e for e in uow.audit.events(request_id) if e.kind == PackageDeleted.kind]
                if deleted:
                    when = deleted[-1].at.date().isoformat()
                    raise PackageLinkRefused(
                        f"{r.reference}: its access package was deleted on {when} (retention): no link can bring it back; "
                        "a new copy needs a new request"
                    )
                raise PackageLinkRefused(
                    f"{r.reference} has no access package (not a request for a copy, nothing found, or not answered yet)"
                )
            if not ctx.streams.exists(p.object_key):
                raise PackageLinkRefused(f"{r.reference}: its access package is no longer in storage; a new copy needs a new request")
            allowed = ctx.policy.package_max_new_links
            if p.links_issued >= allowed:
                raise PackageLinkRefused(
                    f"{r.reference}: its access package has had {p.links_issued} new link(s), the most allowed "
                    f"(DSAR_PACKAGE_MAX_NEW_LINKS={allowed})"
                )
            address = letter_address(uow, r)
            if not address:
                raise PackageLinkRefused(f"{r.reference}: there is no email address on file to send a new link to")
            n = p.links_issued + 1
            fresh = p.with_new_link(link_digest(ctx, link_token(ctx, p.id, n)), now, ctx.policy.package_link_days)
            if not uow.packages.swap(fresh):
                continue  # a download or a code changed it meanwhile: look again
            link = link_for(ctx, fresh, letter_language(r))
            context = {
                "request": letter_request(r),
                "package": link.__dict__,
                "organisation": ctx.policy.organisation_name,
                "contact": ctx.policy.privacy_contact,
                "sent_on": now.date(),
            }
            # Recorded as package_link.N (a letter goes once per kind); no PDF is kept of a
            # letter carrying a live link.
            send_letter(ctx, uow, r, f"{PACKAGE_LINK_LETTER}.{n}", context, template_kind=PACKAGE_LINK_LETTER, to=address, keep_pdf=False)
            uow.audit.append([PackageLinkIssued(request_id, now, p.id, n, fresh.expires_at, by)])
            uow.commit()
            return link
    raise _busy("a new link was issued")


def purge_packages(ctx: ServiceContext, *, by: str = "dsar") -> int:
    """Delete every package whose download finished, or whose link expired more than
    DSAR_PACKAGE_KEEP_DAYS ago (kept that long for a new link on request): its record is
    marked deleted (``PackageDeleted``, reason downloaded or expired) and its sealed stream
    deleted, in one transaction; a package changed meanwhile (a new link) is left for the next
    sweep. Returns how many."""
    now = ctx.clock()
    with ctx.uow() as uow:
        due = uow.packages.to_purge(now - timedelta(days=ctx.policy.package_keep_days))
    done = 0
    for p in due:
        with ctx.uow() as uow:
            reason = "downloaded" if p.downloaded_at is not None else "expired"
            if not uow.packages.swap(AccessPackage(**{**p.__dict__, "deleted_at": now})):
                continue  # changed since it was found due: judged again on the next sweep
            streams_of(ctx).delete(p.object_key)
            uow.audit.append([PackageDeleted(p.request_id, now, p.id, reason, by)])
            uow.commit()
            done += 1
    return done


# Who a new link the subject asked for on the link's page is recorded as (PackageLinkIssued.by)
BY_SUBJECT = "the subject (the link's page)"


def renew_link(ctx: ServiceContext, token: str) -> bool:
    """The subject asks, on the page of a link that no longer works, for a new one. A new link
    goes (``issue_link``: to the contact on file, never to whoever asks, within
    DSAR_PACKAGE_MAX_NEW_LINKS, recorded as asked for by the subject) when this is the
    package's current link and it expired, its downloads were started too often, or it was
    spent by wrong codes before anything was downloaded. Nothing happens for a link that still
    works, a downloaded or deleted package, or a link that is unknown, altered or replaced.
    Whether a link went is returned for the tests and the log; the page says the same either
    way, so it tells nobody whether a link was ever real."""
    with ctx.uow() as uow:
        p = _find(uow, ctx, token)
    if p is None:
        return False
    refusal = p.refusal(ctx.clock(), _max_starts(ctx))
    renewable = refusal in (LinkRefusal.EXPIRED, LinkRefusal.STARTS) or (refusal is LinkRefusal.USED and p.downloaded_at is None)
    if not renewable:
        return False
    try:
        issue_link(ctx, p.request_id, by=BY_SUBJECT)
    except DsarError as exc:  # refused, not delivered, or the package kept changing: the page says the same
        _log.info("a new package link the subject asked for was not sent (%s)", type(exc).__name__)
        return False
    return True


def package_status(ctx: ServiceContext, request_id: str) -> AccessPackage | None:
    with ctx.uow() as uow:
        return uow.packages.for_request(request_id)


@dataclass(frozen=True)
class PackageState:
    """Where a request's access package stands, as staff see it on the console: one of
    ``deleted``, ``downloaded``, ``spent`` (too many wrong codes), ``expired``, ``started`` (a
    download began, none finished), ``code-sent`` (the subject asked for a code, downloaded
    nothing yet) or ``waiting`` (the link works, not opened yet), with the package."""

    state: str
    package: AccessPackage


def package_state(ctx: ServiceContext, request_id: str) -> PackageState | None:
    """The request's newest package, deleted or not, and where it stands (None: none built)."""
    with ctx.uow() as uow:
        p = uow.packages.last_for_request(request_id)
    if p is None:
        return None
    if p.deleted_at is not None:
        state = "deleted"
    elif p.downloaded_at is not None:
        state = "downloaded"
    elif p.link_used_at is not None:
        state = "spent"
    elif ctx.clock() >= p.expires_at:
        state = "expired"
    elif p.download_starts:
        state = "started"
    elif p.codes_sent:
        state = "code-sent"
    else:
        state = "waiting"
    return PackageState(state, p)


__all__ = [
    "Download",
    "PackageLink",
    "PackageState",
    "ensure_package",
    "finish_download",
    "issue_link",
    "legacy_summary",
    "link_for",
    "link_refusal",
    "open_download",
    "package_state",
    "purge_packages",
    "renew_link",
    "send_code",
    "spool_export",
    "wants_package",
]
