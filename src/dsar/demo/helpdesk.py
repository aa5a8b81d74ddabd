"""The demo company's support helpdesk: a small SaaS-like REST API served locally (stdlib only).

It stands in for a hosted helpdesk so the demo has one system reached over HTTP through the
declarative `http` connector (``connectors/helpdesk.yaml``). Bound to 127.0.0.1 only::

    GET    /api/health                      {"status": "ok", "instance": ...} (no credential needed)
    GET    /api                             what the API is (the connector's check)
    GET    /api/contacts?email=ADDRESS      contacts whose email is ADDRESS (any case), paginated
    GET    /api/contacts                    every contact, paginated
    GET    /api/accounts/ACCOUNT/contacts   the contacts of a customer account, paginated
    GET    /api/contacts/ID                 {"data": contact with its tickets}
    PATCH  /api/contacts/ID                 JSON merge patch of name, email, phone, company, address
    DELETE /api/contacts/ID                 the contact and its tickets (204; 404 when gone)

Every call but the health check needs ``Authorization: Bearer TOKEN``. The health check names
the instance, a digest of the data folder's path (:func:`instance_of`): a second process finds
out whether the helpdesk on its port is its own folder's before it sends its token there. Lists answer
``{"data": [...], "next_cursor": "..."}``; the cursor is sent back as ``?cursor=`` and is null
on the last page.

The data lives in ``helpdesk.json`` in the given folder, so a second run of the demo (another
process) finds what the first one erased or corrected. Writes go to a temporary file renamed
into place (a crash never leaves half a file) under a lock (the server answers from several
threads); one server per folder at a time. The server never logs a request: paths hold
email addresses.

:func:`start_helpdesk` serves it from a daemon thread; the handler and its ``search`` and
``page`` methods may be subclassed (the connector tests add throttling and failures that way).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dsar.demo.shop import DEMO_SUBJECTS

SCHEMA_VERSION = 1
FILE_NAME = "helpdesk.json"
PREFIX = "/api"
URL_ENV = "DSAR_DEMO_HELPDESK_URL"
TOKEN_ENV = "DSAR_DEMO_HELPDESK_TOKEN"
EDITABLE = frozenset({"name", "email", "phone", "company", "address"})
_MAX_BODY = 64 * 1024
_GENERATED = 12


# --- seed data ----------------------------------------------------------------------------------
def _seed_data() -> dict[str, Any]:
    """The demo helpdesk: some of the demo subjects (Jane twice: mail and chat), plus people
    who only look alike, plus unrelated customers. Lee Chan and Robin Nobody are not here."""
    demo = {email: (name, phone) for email, name, phone, _ in DEMO_SUBJECTS}
    jane, ana, max_ = "jane.doe@example.com", "ana.silva@example.com", "max.mustermann@example.de"
    people: list[tuple[str, str, str | None, str | None, list[tuple[str, str]]]] = [
        # email, name, phone, company, tickets (subject, status)
        (jane, demo[jane][0], "+49 30 5550199", None, [("Parcel arrived damaged", "solved"), ("Change of delivery address", "open")]),
        ("Jane.Doe@Example.com", "J. Doe", None, None, [("Chat: which size should I order?", "solved")]),
        (ana, demo[ana][0], demo[ana][1], "Silva Design LLC", [("Invoice for order needed", "solved")]),
        (max_, demo[max_][0], demo[max_][1], None, [("Return label does not print", "pending")]),
        ("jane.doe@example.org", "Jane Doe", "+44 20 7946 0999", None, [("Wholesale enquiry", "open")]),  # another Jane Doe
    ]
    people += [
        (f"requester{i}@example.net", f"Requester {i}", f"+44 20 7946 1{i:03d}", None, [(f"Order question #{1000 + i}", "solved")])
        for i in range(1, _GENERATED + 1)
    ]
    contacts: dict[str, Any] = {}
    tickets: dict[str, Any] = {}
    ticket_id = 0
    for cid, (email, name, phone, company, subjects) in enumerate(people, start=1):
        created = f"2025-{1 + cid % 12:02d}-{1 + cid % 27:02d}T09:30:00Z"
        contacts[str(cid)] = {
            "id": cid,
            "email": email,
            "name": name,
            "phone": phone,
            "company": company,
            "created_at": created,
            "internal_notes": "agent-only notes",
        }
        for n, (subject, status) in enumerate(subjects):
            ticket_id += 1
            tickets[str(ticket_id)] = {
                "id": ticket_id,
                "contact_id": cid,
                "subject": subject,
                "status": status,
                "created_at": f"2026-{1 + (ticket_id + n) % 9:02d}-1{n}T14:00:00Z",
            }
    return {"version": SCHEMA_VERSION, "contacts": contacts, "tickets": tickets}


def _contacts_data(contacts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "contacts": {str(c["id"]): copy.deepcopy(dict(c)) for c in contacts},
        "tickets": {},
    }


# --- storage --------------------------------------------------------------------------------------
def _read(path: Path) -> dict[str, Any] | None:
    """The stored data, or None when the file is missing, unreadable or of another version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and data.get("version") == SCHEMA_VERSION
        and isinstance(data.get("contacts"), dict)
        and isinstance(data.get("tickets"), dict)
    )
    return data if ok else None


def _write(path: Path, data: Mapping[str, Any]) -> None:
    """Write to a temporary file in the same folder, then rename it into place (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".helpdesk-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def seed_helpdesk(folder: Path, contacts: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Create the helpdesk's data in ``folder`` unless a current one is there (a re-run keeps
    what earlier runs changed). ``contacts`` replaces the demo people (tests bring their own)."""
    path = folder / FILE_NAME
    if _read(path) is not None:
        return
    _write(path, _seed_data() if contacts is None else _contacts_data(contacts))


class HelpdeskStore:
    """The data in memory, written through to the JSON file on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        data = _read(path)
        if data is None:
            raise ValueError(f"{path.name}: no helpdesk data of version {SCHEMA_VERSION}; call seed_helpdesk first")
        self._data = data

    def snapshot(self) -> dict[str, Any]:
        """A copy of everything (contacts and tickets keyed by their id as text)."""
        with self.lock:
            return copy.deepcopy(self._data)

    @contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Change the data in place; saved when the block ends without an error."""
        with self.lock:
            draft = copy.deepcopy(self._data)
            yield draft
            _write(self.path, draft)
            self._data = draft

    @contextmanager
    def view(self) -> Iterator[dict[str, Any]]:
        """Read the live data under the lock (do not change it here)."""
        with self.lock:
            yield self._data


# --- the API --------------------------------------------------------------------------------------
def instance_of(folder: Path) -> str:
    """What the health check calls the helpdesk serving ``folder`` (no path shown)."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]


class HelpdeskServer(ThreadingHTTPServer):
    daemon_threads = True
    instance = ""

    def __init__(self, store: HelpdeskStore, token: str, port: int, handler: type[HelpdeskHandler], page_size: int) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.store = store
        self.expected_auth = f"Bearer {token}".encode()
        self.page_size = page_size


class HelpdeskHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
    server: HelpdeskServer
    body: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - paths hold emails: never logged
        pass

    def reply(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve(self) -> None:
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.reply(411, {"error": "send a Content-Length"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True
            self.reply(413 if length > 0 else 400, {"error": "bad request body"})
            return
        # read the whole body first, whatever the answer: a keep-alive connection stays in step
        self.body = self.rfile.read(length) if length else b""
        self.handle_api()

    do_GET = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_POST = _serve
    do_PUT = _serve

    def authorised(self) -> bool:
        given = self.headers.get("Authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, self.server.expected_auth)

    def handle_api(self) -> None:
        """Route one request (subclasses may act before calling this)."""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path == PREFIX + "/health":
            self.reply(200, {"status": "ok", "instance": self.server.instance})
            return
        if parts.path != PREFIX and not parts.path.startswith(PREFIX + "/"):
            self.reply(404, {"error": "not found"})
            return
        if not self.authorised():
            self.reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Bearer realm="helpdesk"'})
            return
        segs = [unquote(s) for s in parts.path[len(PREFIX) + 1 :].split("/")] if parts.path != PREFIX else []
        method = self.command
        if segs == [] and method == "GET":
            self.reply(200, {"name": "demo helpdesk", "version": SCHEMA_VERSION})
        elif segs == ["contacts"] and method == "GET":
            with self.server.store.view() as data:
                rows = self.search(data, query["email"][0] if "email" in query else None)
            self.page(rows, query)
        elif len(segs) == 3 and segs[0] == "accounts" and segs[2] == "contacts" and method == "GET":
            with self.server.store.view() as data:
                rows = [_summary(c) for c in _ordered(data) if c.get("account_id") == segs[1]]
            self.page(rows, query)
        elif len(segs) == 2 and segs[0] == "contacts":
            self.contact(segs[1])
        else:
            self.reply(404 if method in ("GET", "DELETE", "PATCH") else 405, {"error": "not found"})

    def search(self, data: Mapping[str, Any], email: str | None) -> list[dict[str, Any]]:
        """Contacts whose email is ``email`` (any case); every contact when None."""
        wanted = None if email is None else email.lower()
        return [_summary(c) for c in _ordered(data) if wanted is None or str(c.get("email", "")).lower() == wanted]

    def page(self, rows: list[dict[str, Any]], query: Mapping[str, list[str]]) -> None:
        try:
            start = int(query.get("cursor", ["0"])[0])
        except ValueError:
            start = -1
        if start < 0:
            self.reply(400, {"error": "bad cursor"})
            return
        end = start + self.server.page_size
        self.reply(200, {"data": rows[start:end], "next_cursor": str(end) if end < len(rows) else None})

    def contact(self, cid: str) -> None:
        store = self.server.store
        if self.command == "GET":
            with store.view() as data:
                c = data["contacts"].get(cid)
                found = None if c is None else {**copy.deepcopy(c), "tickets": _tickets_of(data, c)}
            if found is None:
                self.reply(404, {"error": "not found"})
            else:
                self.reply(200, {"data": found})
        elif self.command == "DELETE":
            with store.lock:
                with store.view() as data:
                    exists = cid in data["contacts"]
                if exists:
                    with store.edit() as draft:
                        c = draft["contacts"].pop(cid)
                        for tid in [t for t, v in draft["tickets"].items() if v.get("contact_id") == c.get("id")]:
                            del draft["tickets"][tid]
            if exists:
                self.reply(204)
            else:
                self.reply(404, {"error": "not found"})
        elif self.command == "PATCH":
            try:
                patch = json.loads(self.body)
            except ValueError:
                self.reply(400, {"error": "the body is not JSON"})
                return
            problem = _check_patch(patch)
            if problem:
                self.reply(422, {"error": problem})
                return
            with store.lock:
                with store.view() as data:
                    exists = cid in data["contacts"]
                if not exists:
                    self.reply(404, {"error": "not found"})
                    return
                with store.edit() as draft:
                    _merge(draft["contacts"][cid], patch)
                    updated = copy.deepcopy(draft["contacts"][cid])
            self.reply(200, {"data": updated})
        else:
            self.reply(405, {"error": "method not allowed"})


def _ordered(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    contacts: dict[str, dict[str, Any]] = data["contacts"]
    return [contacts[k] for k in sorted(contacts, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))]


def _summary(c: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in c.items() if k != "internal_notes"}


def _tickets_of(data: Mapping[str, Any], c: Mapping[str, Any]) -> list[dict[str, Any]]:
    tickets: dict[str, dict[str, Any]] = data["tickets"]
    mine = [t for t in tickets.values() if t.get("contact_id") == c.get("id")]
    return [{k: v for k, v in t.items() if k != "contact_id"} for t in sorted(mine, key=lambda t: str(t.get("created_at")))]


def _check_patch(patch: Any) -> str:
    if not isinstance(patch, dict) or not patch:
        return "the body must be a JSON object of fields"
    unknown = sorted(set(patch) - EDITABLE)
    if unknown:
        return f"not editable: {', '.join(unknown)}"
    for k, v in patch.items():
        if k == "address":
            if v is not None and (not isinstance(v, dict) or not all(isinstance(x, str | None) for x in v.values())):
                return "address: an object of text fields"
        elif not isinstance(v, str | None):
            return f"{k}: text or null"
    return ""


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """JSON merge patch (RFC 7396), except that null empties a field rather than removing it:
    objects merge, anything else replaces."""
    for k, v in patch.items():
        if isinstance(v, dict):
            current = target.get(k)
            if not isinstance(current, dict):
                current = target[k] = {}
            _merge(current, v)
        else:
            target[k] = v


@dataclass
class Helpdesk:
    """A running helpdesk: ``url`` is the base URL the data map's connection names (with /api)."""

    url: str
    token: str = field(repr=False)
    store: HelpdeskStore = field(repr=False)
    _server: HelpdeskServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def auth_value(self) -> str:
        """The Authorization header's value, what DSAR_DEMO_HELPDESK_TOKEN must hold."""
        return f"Bearer {self.token}"

    def environment(self) -> dict[str, str]:
        """The variables ``connectors/helpdesk.yaml`` names, pointing at this server."""
        return {URL_ENV: self.url, TOKEN_ENV: self.auth_value}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Helpdesk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_helpdesk(
    folder: Path, token: str, port: int = 0, *, handler: type[HelpdeskHandler] = HelpdeskHandler, page_size: int = 10
) -> Helpdesk:
    """Seed ``folder`` if needed and serve the helpdesk on 127.0.0.1:``port`` (0: a free port)
    from a daemon thread. ``stop()`` ends it."""
    if not token or any(ord(c) < 33 or ord(c) == 127 for c in token):
        raise ValueError("the token must be non-empty printable text without spaces")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    seed_helpdesk(folder)
    store = HelpdeskStore(folder / FILE_NAME)
    server = HelpdeskServer(store, token, port, handler, page_size)
    server.instance = instance_of(folder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-helpdesk", daemon=True)
    thread.start()
    return Helpdesk(f"http://127.0.0.1:{server.server_address[1]}{PREFIX}", token, store, server, thread)
