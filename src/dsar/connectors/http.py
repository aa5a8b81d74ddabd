"""The `http` connector: a declarative REST connector for SaaS systems (helpdesk, CRM, ...).

The data map says which calls find, export, erase and correct a subject's records; no code
per vendor::

    system: helpdesk
    type: http
    title: Support helpdesk
    connection: HELPDESK_URL          # env var holding the base URL, e.g. https://acme.example.com/api/v2
    auth_header: Authorization        # the default
    auth_secret: HELPDESK_TOKEN       # env var holding the header's value ("Bearer ..."), never the value
    locate:                           # identity kind (email | account_id | phone) -> call listing matching records
      email: {path: /contacts, query: {email: "{email}"}, items: data}
      account_id: {path: "/accounts/{account_id}/contacts", items: data}
    export: {path: "/contacts/{id}", items: data}     # one record per located id
    erase: {method: DELETE, path: "/contacts/{id}"}   # or {retain: REASON}, or absent (a person decides)
    correct: {method: PATCH, path: "/contacts/{id}"}  # PATCH, PUT or POST; absent: no field is correctable
    fields:                           # the only fields ever exported; dotted paths reach nested values
      email: {category: contact}
      name: {category: identity, correctable: name}
      address.city: {category: address, correctable: city}
    pagination: {style: cursor, cursor_param: cursor, next_field: next_cursor}   # or page / none
    purposes: [customer support]
    legal_basis: contract
    retention: 3 years after the last ticket
    source: the subject

Templates take ``{email}``, ``{account_id}``, ``{phone}`` (each only in its own locate call)
and ``{id}`` (export, erase and correct). In a path every value is encoded with
``urllib.parse.quote(value, safe="")``, so ``/``, ``?`` or ``#`` in a value cannot change the
path; query values are encoded by httpx. Values that are empty, ``.`` or ``..``, hold NUL or
are longer than 1000 characters match nothing and are never sent. Emails are lower-cased.

A SaaS search is not trusted: when ``email`` is a mapped field, a located record whose email
differs (case-insensitively) from the subject's is ignored, and a locate call answering more
than 1000 records fails rather than exporting or erasing other people's data. A locate call
answering 404 is a mapping error, not "no data" (a letter saying "we hold nothing" must not
rest on a wrong path); on export, erase and correct, 404 means the record is already gone.

Correction: ``plan_correction`` lists, per field whose ``correctable`` attribute the request
names, how many located records it touches. ``correct`` reads each record with the export call,
leaves fields that already hold the requested value alone (counted as ``unchanged``), and sends
one ``correct`` call per record holding only the approved fields that differ, as a JSON body
(httpx encodes it; nothing is built from strings). Dotted field names become nested objects
(``address.city`` -> ``{"address": {"city": ...}}``); ``items`` on the correct call, when set,
is where the record goes in the body (``items: user`` -> ``{"user": {...}}``), as it is where
the export call finds it. A PUT must be one the API treats as a partial update. The receipt
holds the old and new values only as keyed hashes. Fields marked ``correctable`` without a
``correct`` call are refused when the data map loads; ``Capability.CORRECT`` is offered only
when the call is mapped.

429, 5xx and transport errors are retried with exponential backoff (0.2 s * 2**attempt, at
most 5 s; a numeric Retry-After wins, at most 10 s) up to ``max_retries`` times, then raise
:class:`~dsar.domain.errors.RetryableConnectorError`. 401/403 and other answers raise
:class:`~dsar.domain.errors.PermanentConnectorError`. Redirects are not followed (the
credential stays with the configured host). Requests go straight to the httpx transport, so
httpx's request log line (which would hold the URL and so the subject's values) is never
written; messages name the system, the operation and the path template, never a value or the
credential.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dsar.connectors.base import (
    Capability,
    Connector,
    CorrectionAction,
    CorrectionReceipt,
    ErasureAction,
    ErasureKind,
    ErasureReceipt,
    ExportRecord,
    FieldChange,
    Health,
    LocateResult,
    Match,
    SubjectKeys,
    corrections_by_attribute,
    receipt_key,
    value_hash,
)
from dsar.connectors.schema import IDENTITY_KINDS, FieldMap, Retain, SystemBase, identity_kind
from dsar.domain.errors import ConfigurationError, PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

ENTITY = "records"
_MAX_VALUE = 1000
_MAX_MATCHES = 1000
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PLACEHOLDER_NAMES = frozenset({*IDENTITY_KINDS, "id"})
_DOTTED = re.compile(r"^[^.\s{}]+(\.[^.\s{}]+)*$")
_MISSING: Any = object()
_GONE: Any = object()


def _placeholders(template: str, where: str) -> set[str]:
    names = set(_PLACEHOLDER.findall(template))
    unknown = names - _PLACEHOLDER_NAMES
    if unknown:
        raise ValueError(f"{where}: unknown placeholder {{{sorted(unknown)[0]}}}; use {', '.join(sorted(_PLACEHOLDER_NAMES))}")
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise ValueError(f"{where}: unbalanced braces")
    return names


def _dotted(value: str, what: str) -> str:
    if not _DOTTED.match(value):
        raise ValueError(f"{what} {value!r} is not a dotted path (name.name...)")
    return value


class HttpCall(BaseModel):
    """One request: method, path and query templates, where the records are in the answer."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "POST", "DELETE", "PATCH", "PUT"] = "GET"
    path: str = Field(min_length=1, max_length=500)
    query: dict[str, str] = Field(default_factory=dict)
    # dotted path to the list (locate) or the record (export; correct: where the record goes in
    # the request body); None: the body itself
    items: str | None = None
    id_field: str = "id"

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or v.startswith("//"):
            raise ValueError("path must start with a single '/' (it is appended to the base URL)")
        if any(c in v for c in "?#\\") or any(ord(c) <= 32 or ord(c) == 127 for c in v):
            raise ValueError("path must not hold '?', '#', '\\', spaces or control characters; put parameters in query")
        if any(seg in (".", "..") for seg in v.split("/")):
            raise ValueError("path must not hold '.' or '..' segments")
        _placeholders(v, "path")
        return v

    @field_validator("query")
    @classmethod
    def _query(cls, v: dict[str, str]) -> dict[str, str]:
        for name, template in v.items():
            if not name or _PLACEHOLDER.search(name):
                raise ValueError(f"query parameter name {name!r} must be plain text")
            _placeholders(template, f"query {name}")
        return v

    @field_validator("items")
    @classmethod
    def _items(cls, v: str | None) -> str | None:
        return None if v is None else _dotted(v, "items")

    @field_validator("id_field")
    @classmethod
    def _id_field(cls, v: str) -> str:
        return _dotted(v, "id_field")

    def placeholders(self) -> set[str]:
        names = _placeholders(self.path, "path")
        for name, template in self.query.items():
            names |= _placeholders(template, f"query {name}")
        return names


class HttpPagination(BaseModel):
    """How a locate call's answer continues: ``page`` asks page 1, 2, ... until an empty page;
    ``cursor`` sends the value found at ``next_field`` until it is null or absent."""

    model_config = ConfigDict(extra="forbid")
    style: Literal["none", "page", "cursor"] = "none"
    page_param: str = Field("page", min_length=1)
    cursor_param: str = Field("cursor", min_length=1)
    next_field: str = "next_cursor"
    max_pages: int = Field(1000, ge=1, le=100_000)

    @field_validator("next_field")
    @classmethod
    def _next(cls, v: str) -> str:
        return _dotted(v, "next_field")


class HttpSystem(SystemBase):
    """A REST API (a SaaS helpdesk or CRM) described declaratively: see the module docstring."""

    type: Literal["http"]
    auth_header: str = Field("Authorization", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
    auth_secret: str | None = Field(
        None, pattern=r"^[A-Z][A-Z0-9_]*$", description="Name of the environment variable holding the header value (never the value)"
    )
    locate: dict[str, HttpCall] = Field(min_length=1)
    export: HttpCall
    erase: HttpCall | Retain | None = None
    correct: HttpCall | None = None
    fields: dict[str, FieldMap]
    pagination: HttpPagination = Field(default_factory=HttpPagination)
    timeout_s: float = Field(10.0, gt=0, le=300)
    max_retries: int = Field(4, ge=0, le=10)

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, FieldMap]) -> dict[str, FieldMap]:
        for name in v:
            _dotted(name, "field")
        return v

    @model_validator(mode="after")
    def _calls(self) -> HttpSystem:
        for kind, call in self.locate.items():
            identity_kind(kind, "locate: identity kind")
            if call.placeholders() != {kind}:
                raise ValueError(f"locate.{kind}: the call must use {{{kind}}} and no other placeholder")
            if call.method not in ("GET", "POST"):
                raise ValueError(f"locate.{kind}: a search must be GET or POST")
        if self.export.placeholders() != {"id"}:
            raise ValueError("export: the call must use {id} and no other placeholder")
        if self.export.method not in ("GET", "POST"):
            raise ValueError("export: must be GET or POST")
        if isinstance(self.erase, HttpCall):
            if self.erase.placeholders() != {"id"}:
                raise ValueError("erase: the call must use {id} and no other placeholder")
            if self.erase.method not in ("DELETE", "POST", "PATCH"):
                raise ValueError("erase: must be DELETE, POST or PATCH")
        correctable = sorted(name for name, fm in self.fields.items() if fm.correctable is not None)
        if self.correct is not None:
            if self.correct.placeholders() != {"id"}:
                raise ValueError("correct: the call must use {id} and no other placeholder")
            if self.correct.method not in ("PATCH", "PUT", "POST"):
                raise ValueError("correct: must be PATCH, PUT or POST")
        elif correctable:
            raise ValueError(f"fields: {correctable[0]} is correctable but no correct call is mapped")
        for name in correctable:
            for other in correctable:
                if other.startswith(name + "."):
                    raise ValueError(f"fields: {name} and {other} are both correctable; one holds the other")
        return self


def _dig(body: Any, path: str | None) -> Any:
    if path is None:
        return body
    cur = body
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _usable(value: str) -> bool:
    """Values that cannot name a record match nothing and are never sent."""
    return bool(value) and "\x00" not in value and len(value) <= _MAX_VALUE and value not in (".", "..")


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None  # an HTTP date: use the backoff
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), 10.0)


def _nest(values: Mapping[str, Any], under: str | None) -> dict[str, Any]:
    """``{"address.city": v}`` -> ``{"address": {"city": v}}``, inside ``under`` when given."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        cur = body
        *parents, last = name.split(".")
        for part in parents:
            cur = cur.setdefault(part, {})
        cur[last] = value
    for part in reversed(under.split(".") if under is not None else []):
        body = {part: body}
    return body


def _key_order(key: str) -> tuple[int, int, str]:
    return (0, int(key), key) if key.isdigit() and len(key) < 19 else (1, 0, key)


class HttpConnector(Connector):
    capabilities = frozenset({Capability.LOCATE, Capability.EXPORT, Capability.ERASE})

    def __init__(
        self,
        system_map: HttpSystem,
        url: str,
        pseudonym_key: bytes = b"",
        auth_value: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.system = system_map.system
        self.map = system_map
        if system_map.correct is not None:
            self.capabilities = frozenset({*type(self).capabilities, Capability.CORRECT})
        self._receipt_key = receipt_key(pseudonym_key, self.system)
        self._base = self._base_url(url)
        self._prefix = str(self._base).rstrip("/")
        if auth_value is not None and (not auth_value or any(ord(c) < 32 or ord(c) == 127 for c in auth_value)):
            raise PermanentConnectorError(self.system, "the credential is empty or holds control characters")
        self._headers = {"Accept": "application/json", "User-Agent": "dsar-http-connector"}
        if auth_value is not None:
            self._headers[system_map.auth_header] = auth_value
        self._has_auth = auth_value is not None
        self._timeout = httpx.Timeout(system_map.timeout_s).as_dict()
        self._owns_transport = transport is None
        self._transport: httpx.BaseTransport = transport if transport is not None else httpx.HTTPTransport()

    @classmethod
    def from_env(cls, system_map: HttpSystem, url: str, pseudonym_key: bytes = b"") -> HttpConnector:
        """Build the connector with the credential read from the variable ``auth_secret`` names."""
        auth: str | None = None
        if system_map.auth_secret is not None:
            auth = os.environ.get(system_map.auth_secret)
            if not auth:
                raise ConfigurationError(f"system {system_map.system}: environment variable {system_map.auth_secret} is not set")
        return cls(system_map, url, pseudonym_key, auth)

    def _base_url(self, url: str) -> httpx.URL:
        refused = PermanentConnectorError(self.system, "the base URL must be an http(s) URL with a host, without query or fragment")
        try:
            base = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise refused from None
        if base.scheme not in ("http", "https") or not base.host or base.query or base.fragment:
            raise refused
        return base

    # --- requests -----------------------------------------------------------------------------
    def _url(self, call: HttpCall, values: Mapping[str, str], extra: Mapping[str, str]) -> httpx.URL:
        path = _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), call.path)
        params = {name: _PLACEHOLDER.sub(lambda m: values[m.group(1)], t) for name, t in call.query.items()}
        params.update(extra)
        url = httpx.URL(self._prefix + path, params=params or None)
        # belt and braces: whatever the values, the request stays under the base URL
        if (url.scheme, url.host, url.port) != (self._base.scheme, self._base.host, self._base.port) or not url.path.startswith(
            self._base.path.rstrip("/") + "/"
        ):
            raise PermanentConnectorError(self.system, f"{call.path}: a value would leave the base URL")
        return url

    def _once(self, method: str, url: httpx.URL, body: Mapping[str, Any] | None = None) -> tuple[int, httpx.Headers, bytes]:
        request = httpx.Request(method, url, headers=self._headers, json=body, extensions={"timeout": self._timeout})
        response = self._transport.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        return response.status_code, response.headers, content

    def _send(
        self,
        what: str,
        call: HttpCall,
        values: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        *,
        gone_ok: bool = False,
        want_body: bool = True,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call with retries (``body`` sent as JSON): the JSON answer, None (no answer
        wanted) or _GONE (404, gone_ok)."""
        url = self._url(call, values, extra or {})
        where = f"{what}: {call.method} {call.path}"
        problem = ""
        attempts = self.map.max_retries + 1
        for attempt in range(attempts):
            wait = min(0.2 * 2**attempt, 5.0)
            try:
                status, headers, content = self._once(call.method, url, body)
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            except httpx.HTTPError as exc:
                raise PermanentConnectorError(self.system, f"{where}: {type(exc).__name__}") from None
            else:
                if status == 429 or status >= 500:
                    problem = f"HTTP {status}"
                    after = _retry_after(headers)
                    if after is not None:
                        wait = after
                elif status in (401, 403):
                    raise PermanentConnectorError(self.system, f"{where}: credentials refused (HTTP {status})")
                elif status == 404 and gone_ok:
                    return _GONE
                elif 200 <= status < 300:
                    if not want_body:
                        return None
                    try:
                        return json.loads(content)
                    except ValueError:
                        raise PermanentConnectorError(self.system, f"{where}: the answer is not JSON") from None
                else:
                    raise PermanentConnectorError(self.system, f"{where}: HTTP {status}; does the data map match the API?")
            if attempt + 1 < attempts:
                time.sleep(wait)
        raise RetryableConnectorError(self.system, f"{where}: {problem} after {attempts} attempts")

    # --- operations ---------------------------------------------------------------------------
    def check(self) -> Health:
        try:
            status, _, _ = self._once("GET", self._base)
        except httpx.HTTPError as exc:
            return Health(self.system, False, f"unreachable ({type(exc).__name__})")
        if status in (401, 403):
            return Health(self.system, False, f"credentials refused (HTTP {status})")
        if status >= 500:
            return Health(self.system, False, f"server error (HTTP {status})")
        notes: list[str] = []
        if self.map.auth_secret is not None and not self._has_auth:
            notes.append(f"no credential given although the data map names {self.map.auth_secret}")
        if self._base.scheme == "http" and self._base.host not in ("localhost", "127.0.0.1", "::1"):
            notes.append("plain http: the credential and the subject's identifiers travel unencrypted")
        return Health(self.system, True, f"reachable (HTTP {status})", tuple(notes))

    def _records(self, what: str, call: HttpCall, values: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every record a locate call answers, page after page."""
        p = self.map.pagination
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for page in range(1, p.max_pages + 1):
            extra: dict[str, str] = {}
            if p.style == "page":
                extra[p.page_param] = str(page)
            elif p.style == "cursor" and cursor is not None:
                extra[p.cursor_param] = cursor
            body = self._send(what, call, values, extra)
            items = _dig(body, call.items)
            if items is None:
                items = []
            elif isinstance(items, dict):
                items = [items]  # an API answering one record
            if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
                raise PermanentConnectorError(self.system, f"{what}: no list of records at {call.items or 'the top level'} of the answer")
            out.extend(items)
            if len(out) > _MAX_MATCHES:
                raise PermanentConnectorError(self.system, f"{what}: locate matched too much; check the data map")
            if p.style == "none" or (p.style == "page" and not items):
                return out
            if p.style == "cursor":
                nxt = _dig(body, p.next_field)
                if nxt is _MISSING or nxt is None or nxt == "":
                    return out
                if isinstance(nxt, bool) or not isinstance(nxt, str | int):
                    raise PermanentConnectorError(self.system, f"{what}: {p.next_field} is not a cursor")
                cursor = str(nxt)
                if cursor in seen:
                    raise PermanentConnectorError(self.system, f"{what}: the API repeats a cursor")
                seen.add(cursor)
        raise PermanentConnectorError(self.system, f"{what}: more than {p.max_pages} pages; check pagination in the data map")

    def _record_key(self, what: str, call: HttpCall, record: Mapping[str, Any]) -> str:
        value = _dig(record, call.id_field)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PermanentConnectorError(self.system, f"{what}: a record has no usable {call.id_field}")
        key = str(value)
        if not _usable(key):
            raise PermanentConnectorError(self.system, f"{what}: a record's {call.id_field} cannot be used in a path")
        return key

    def locate(self, subject: SubjectKeys) -> LocateResult:
        by_kind = subject.by_kind()
        verify_email = "email" in self.map.fields
        found: dict[str, set[str]] = {}
        for kind, call in self.map.locate.items():
            wanted = dict.fromkeys(v.lower() if kind == "email" else v for v in by_kind.get(kind, ()))
            for value in wanted:
                if not _usable(value):
                    continue
                what = f"locate {kind}"
                for record in self._records(what, call, {kind: value}):
                    if kind == "email" and verify_email:
                        got = _dig(record, "email")
                        if not isinstance(got, str) or got.lower() != value:
                            continue  # the API's search is looser than an exact match
                    found.setdefault(self._record_key(what, call, record), set()).add(kind)
        matches = tuple(Match(ENTITY, key, tuple(sorted(found[key]))) for key in sorted(found, key=_key_order))
        return LocateResult(self.system, matches)

    def _keys(self, located: LocateResult) -> list[str]:
        keys = list(dict.fromkeys(m.key for m in located.matches if m.entity == ENTITY))
        if not all(_usable(k) for k in keys):
            raise PermanentConnectorError(self.system, "a located record key cannot be used in a path")
        return keys

    def _read(self, what: str, key: str) -> Any:
        """One record through the export call, or _GONE (404: deleted since it was located)."""
        call = self.map.export
        body = self._send(what, call, {"id": key}, gone_ok=True)
        if body is _GONE:
            return _GONE
        record = _dig(body, call.items)
        if not isinstance(record, dict):
            raise PermanentConnectorError(self.system, f"{what}: no record at {call.items or 'the top level'} of the answer")
        return record

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        for key in self._keys(located):
            record = self._read("export", key)
            if record is _GONE:
                continue  # deleted since it was located
            fields = {name: v for name in self.map.fields if (v := _dig(record, name)) is not _MISSING}
            yield ExportRecord(ENTITY, key, fields, {name: self.map.fields[name].category for name in fields})

    # --- erasure ------------------------------------------------------------------------------
    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        n = len(self._keys(located))
        if not n:
            return []
        rule = self.map.erase
        if rule is None:
            return [ErasureAction(ENTITY, ErasureKind.UNMAPPED, n, "the data map has no erasure rule for this system")]
        if isinstance(rule, Retain):
            return [ErasureAction(ENTITY, ErasureKind.RETAIN, n, rule.retain)]
        return [ErasureAction(ENTITY, ErasureKind.DELETE, n)]

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        """One call per record; a record already gone (404) counts nothing, so a second run is 0."""
        if any(a.action is ErasureKind.UNMAPPED for a in approved):
            raise PermanentConnectorError(self.system, "the approved plan holds an entity without an erasure rule")
        action = next((a for a in approved if a.entity == ENTITY), None)
        keys = self._keys(located)
        if action is None or not keys:
            return ErasureReceipt(self.system, {})
        if action.action is ErasureKind.RETAIN:
            return ErasureReceipt(self.system, {ENTITY: {"retain": len(keys)}})
        rule = self.map.erase
        if action.action is not ErasureKind.DELETE or not isinstance(rule, HttpCall):
            raise PermanentConnectorError(self.system, f"{ENTITY}: the approved action {action.action!r} does not match the data map")
        done = 0
        for key in keys:
            if self._send("erase", rule, {"id": key}, gone_ok=True, want_body=False) is not _GONE:
                done += 1
        return ErasureReceipt(self.system, {ENTITY: {"delete": done}})

    # --- correction ---------------------------------------------------------------------------
    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        if self.map.correct is None:
            raise self._unsupported(Capability.CORRECT)
        wanted = corrections_by_attribute(corrections)
        n = len(self._keys(located))
        if not n:
            return []
        return [
            CorrectionAction(ENTITY, name, fm.correctable, n)
            for name, fm in self.map.fields.items()
            if fm.correctable is not None and fm.correctable in wanted
        ]

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        """Per located record: read it, then one call with only the approved fields that differ.
        A field already holding the value counts as unchanged; a record gone (404) counts
        nothing; so a second run changes nothing and says so."""
        rule = self.map.correct
        wanted = corrections_by_attribute(corrections)
        new: dict[str, str] = {}
        for a in approved:
            fm = self.map.fields.get(a.field)
            if rule is None or a.entity != ENTITY or fm is None or fm.correctable != a.attribute:
                raise PermanentConnectorError(self.system, f"{a.entity}: the approved correction does not match the data map")
            if a.attribute not in wanted:
                raise PermanentConnectorError(self.system, f"{ENTITY}.{a.field}: the request asks no new value for {a.attribute}")
            new[a.field] = wanted[a.attribute]
        keys = self._keys(located)
        if rule is None or not new or not keys:
            return CorrectionReceipt(self.system)
        changes: list[FieldChange] = []
        unchanged = 0
        for key in keys:
            record = self._read("correct", key)
            if record is _GONE:
                continue
            old = {name: _dig(record, name) for name in new}
            changed = {name: value for name, value in new.items() if old[name] != value}
            if changed:
                if self._send("correct", rule, {"id": key}, gone_ok=True, want_body=False, body=_nest(changed, rule.items)) is _GONE:
                    continue  # deleted between the read and the write
                for name, value in changed.items():
                    before = None if old[name] is _MISSING else old[name]
                    changes.append(
                        FieldChange(ENTITY, key, name, value_hash(self._receipt_key, before), value_hash(self._receipt_key, value))
                    )
            unchanged += len(new) - len(changed)
        return CorrectionReceipt(self.system, tuple(changes), unchanged)

    def close(self) -> None:
        if self._owns_transport:
            self._transport.close()
