"""The JSON API for helpdesk integrations (``/api``; schema at ``/api/openapi.json``, pages at
``/api/docs``).

* ``POST /api/requests`` (scope ``requests:write``): log a request through the one intake
  (:func:`dsar.services.submissions.submit`); an ``Idempotency-Key`` makes a retry return the
  first answer and store nothing new.
* ``GET /api/requests/{reference}`` (scope ``requests:read``): where one request stands, its
  subject's data masked (the API never reveals it).
* ``GET /api/requests`` (scope ``requests:read``): the queue, soonest due first, a page at a
  time (``cursor``).

Authentication: ``Authorization: Bearer <secret>`` of an API token (``dsar tokens create``).
Errors are RFC 9457 problems (``application/problem+json``, built by the app's handlers):
messages name fields and headers, never the values given, and nothing here logs personal data.

Rate limits (per process, in memory): calls per token per minute, submissions per subject
email address (by digest) per hour, refused tokens per client address per minute.
Idempotency keys are remembered per token in the process's memory too (``api_idempotency_hours``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from time import monotonic
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from dsar.domain.accounts import ApiToken, TokenScope
from dsar.domain.errors import InvalidInput, ScopeMissing, TokenRefused
from dsar.domain.regimes import REGIMES, AccessScope, RequestType, all_codes
from dsar.domain.request import MAX_CORRECTIONS, MAX_TEXT, Channel, Status, parse_reference
from dsar.services import queries
from dsar.services.accounts import authenticate_token
from dsar.services.intake import CorrectionIn, SubjectIn, Submission
from dsar.services.submissions import Submitted, submit
from dsar.web.context import WebContext
from dsar.web.ratelimit import Limit, RateLimiter
from dsar.web.templating import render

PROBLEM = "application/problem+json"
REALM = 'Bearer realm="dsar"'
MAX_PAGE = 200
_REGIME_PATTERN = "^(" + "|".join(sorted(REGIMES)) + ")$"  # codes are [a-z-]
# Refused tokens (unknown, revoked) per client address per minute before 429.
REFUSED_PER_MINUTE = 20


class ApiJSONResponse(JSONResponse):
    """JSON with ``<``, ``>`` and ``&`` written as ``\\u003c``... : a value someone typed can
    never read as markup, even where a client mis-sniffs the response."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


# --- what the API answers (documented in the schema) -------------------------------------------


class Problem(BaseModel):
    """An RFC 9457 problem document. ``problems`` names each field that is wrong, never the value."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    problems: list[str] | None = None


class Links(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    self_: str = Field(alias="self", description="This resource.")


class PageLinks(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    self_: str = Field(alias="self", description="This page.")
    next: str | None = Field(None, description="The next page, or null on the last one.")


class Created(BaseModel):
    """The answer to a submission."""

    reference: str = Field(description="The request's reference, e.g. DSR-2026-000123.")
    status: Status
    due: date = Field(description="When the answer is due (the regime's deadline).")
    acknowledge_by: date | None = Field(description="When receipt must be confirmed (CCPA), if the regime asks.")
    run_started: bool = Field(description="Whether its processing run was started now (false: it starts later).")
    links: Links


class DeadlineOut(BaseModel):
    due: date
    acknowledge_by: date | None
    acknowledged_at: datetime | None
    extension_notice_by: date | None
    extended_due: date | None
    statutory_due: date | None
    extended: bool
    paused_days: int
    clock_stopped: bool


class SubjectOut(BaseModel):
    """The subject's data, masked (``J*** D***``, ``j***@example.com``)."""

    name: str | None
    emails: list[str | None]
    phone: str | None
    postal_address: str | None
    account_id: str | None
    extra: dict[str, str | None] = Field(description="Further data points offered for matching: name -> masked value.")


class AgentOut(BaseModel):
    name: str | None
    email: str | None
    kind: str


class CorrectionOut(BaseModel):
    attribute: str
    value: str | None = Field(description="Masked.")


class FlowRunOut(BaseModel):
    id: str
    state: str | None = Field(description="The run's state type (SCHEDULED, RUNNING, PAUSED, COMPLETED, ...), null if unknown now.")
    name: str | None


class RequestOut(BaseModel):
    """One request as the API shows it: its subject's data masked."""

    reference: str
    type: str
    access_scope: str | None
    regime: str
    country: str
    subdivision: str | None
    channel: str
    status: Status
    on_hold: bool
    received_at: datetime
    deadline: DeadlineOut
    subject: SubjectOut
    agent: AgentOut | None
    corrections: list[CorrectionOut]
    linked_to: str | None = Field(
        description="Reference of the earlier request this one duplicates (same type and regime, verified with the same "
        "contact within the duplicate window); this one was then withdrawn and the earlier one's letters answer both."
    )
    flow_run: FlowRunOut | None
    links: Links


class SummaryOut(BaseModel):
    reference: str
    type: str
    regime: str
    status: Status
    on_hold: bool
    due: date
    received_at: datetime
    links: Links


class RequestPage(BaseModel):
    items: list[SummaryOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last one.")
    links: PageLinks


def _values(kind: type[StrEnum]) -> list[Any]:
    return [member.value for member in kind]


_REGIME_CODES: list[Any] = all_codes()  # us-va reaches vcdpa (dsar.domain.regimes.ALIASES)


class SubjectBody(SubjectIn):
    """Who the request is about (personal data: encrypted at rest, never logged). At least one
    of emails, phone or postal_address, to reply to."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_TEXT, description="Full name, one line.")
    emails: list[str] = Field(
        default_factory=list,
        description="Email addresses; the first gets the letters.",
        json_schema_extra={"items": {"type": "string", "format": "email", "maxLength": 254}},
    )


class CorrectionBody(CorrectionIn):
    model_config = ConfigDict(extra="forbid")
    attribute: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$", description="A correctable field of the data map, e.g. phone.")
    value: str = Field(min_length=1, max_length=MAX_TEXT, description="The correct value.")


class SubmissionBody(Submission):
    """A request as the helpdesk hands it over: the intake's ``Submission`` (``channel``
    defaults to ``api``). The schema marks what the intake needs; the intake checks the rest
    (a right the regime gives, a country it covers, a way to reply)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "access",
                    "regime": "gdpr",
                    "country": "DE",
                    "subject": {"name": "Jane Doe", "emails": ["jane@example.com"]},
                },
                {
                    "type": "correction",
                    "regime": "ccpa",
                    "channel": "email",
                    "received_at": "2026-03-01T09:30:00-08:00",
                    "backdated_reason": "sent to a retired support address; found in its archive",
                    "subject": {"name": "Sam Lee", "emails": ["sam@example.com"], "account_id": "C-1001"},
                    "agent": {"name": "Pat Agent", "email": "pat@agency.example", "kind": "authorized_agent"},
                    "corrections": [{"attribute": "phone", "value": "+1 415 555 0100"}],
                },
            ]
        },
    )
    type: str = Field(description="What the subject asks for.", json_schema_extra={"enum": _values(RequestType)})
    regime: str = Field(description="The law the request is made under.", json_schema_extra={"enum": _REGIME_CODES})
    access_scope: str | None = Field(
        None,
        description="For an access request under a regime that distinguishes them (CCPA): categories or specific_pieces.",
        json_schema_extra={"enum": [*_values(AccessScope), None]},
    )
    country: str | None = Field(
        None, description="ISO 3166 country where the subject lives; required where the regime spans several (gdpr)."
    )
    subdivision: str | None = Field(None, description="State or nation where the regime needs one (US states, UK nations).")
    channel: str = Field(
        Channel.API.value, description="How the request reached the helpdesk.", json_schema_extra={"enum": _values(Channel)}
    )
    received_at: datetime | date | None = Field(
        None, description="When the subject made it (default: now); without an offset read in the organisation's timezone."
    )
    backdated_reason: str | None = Field(
        None, description="Why a request received more than DSAR_MAX_BACKDATE_DAYS ago is logged only now (required then; recorded)."
    )
    subject: SubjectBody
    corrections: list[CorrectionBody] = Field(  # type: ignore[assignment]
        default_factory=list, max_length=MAX_CORRECTIONS, description="For a correction request: what to put right."
    )


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` put in place (the request body's schema is inlined)."""
    defs: dict[str, Any] = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


_PROBLEM_SCHEMA = Problem.model_json_schema()


def _problem(description: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}
    if headers:
        response["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return response


_AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("No token, or an unknown or revoked one.", {"WWW-Authenticate": "Bearer"}),
    403: _problem("The token lacks the scope this call needs.", {"WWW-Authenticate": "Bearer error=insufficient_scope"}),
    413: _problem("The request is larger than the server accepts."),
    422: _problem("Invalid fields (each named, never its value)."),
    429: _problem("Too many calls: of this token, for this subject, or of refused tokens from this address.", {"Retry-After": "seconds"}),
}


# --- per-process state: rate limits and idempotency keys --------------------------------------


class IdempotencyConflict(Exception):
    def __init__(self, in_flight: bool) -> None:
        super().__init__("in flight" if in_flight else "different body")
        self.in_flight = in_flight


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]
    location: str


@dataclass
class _Entry:
    fingerprint: str
    at: float
    replay: Replay | None  # None while the first call is still running


class IdempotencyStore:
    """Idempotency keys per token: digest(token id, key) -> digest of the body and the first
    answer, for ``ttl`` seconds, in this process's memory (bounded; the oldest go first). Only
    a successful answer is remembered: a refused call may be retried with the same key."""

    def __init__(self, ttl: float, clock: Any = monotonic, max_entries: int = 50_000) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._salt = secrets.token_bytes(32)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, *parts: str) -> str:
        return hmac.new(self._salt, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()

    def begin(self, key: str, fingerprint: str) -> Replay | None:
        """The first answer for ``key``; None if there is none (the key is then held as in
        flight until :meth:`finish` or :meth:`abandon`). IdempotencyConflict if its first call is
        still running, or the key came with another body."""
        now = self._clock()
        with self._lock:
            while self._entries and next(iter(self._entries.values())).at <= now - self._ttl:
                self._entries.popitem(last=False)  # expired (oldest first: entries keep their order)
            entry = self._entries.get(key)
            if entry is None:
                while len(self._entries) >= self._max:
                    self._entries.popitem(last=False)
                self._entries[key] = _Entry(fingerprint, now, None)
                return None
            if entry.replay is None:
                raise IdempotencyConflict(in_flight=True)
            if entry.fingerprint != fingerprint:
                raise IdempotencyConflict(in_flight=False)
            return entry.replay

    def finish(self, key: str, replay: Replay) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.replay = replay

    def abandon(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.replay is None:
                del self._entries[key]


@dataclass(frozen=True)
class _ApiState:
    limiter: RateLimiter
    idempotency: IdempotencyStore


_STATE_LOCK = threading.Lock()


def _state(request: Request) -> _ApiState:
    web: WebContext = request.app.state.web
    with _STATE_LOCK:
        state = web.extra.get("api")
        if not isinstance(state, _ApiState):
            s = web.settings
            state = _ApiState(
                RateLimiter(
                    {
                        "token": Limit(s.api_rate_per_token, 60),
                        "subject": Limit(s.api_rate_per_subject, 3600),
                        "refused": Limit(REFUSED_PER_MINUTE, 60),
                    }
                ),
                IdempotencyStore(s.api_idempotency_hours * 3600.0),
            )
            web.extra["api"] = state
        return state


def _too_many(retry_after: int, what: str) -> HTTPException:
    return HTTPException(429, f"too many calls {what}; retry later", headers={"Retry-After": str(retry_after)})


# --- authentication ---------------------------------------------------------------------------


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token's secret (`dsar tokens create NAME --scope requests:write --scope requests:read`).",
)


def _token(request: Request, scope: TokenScope) -> ApiToken:
    """The API token of this call, allowed ``scope``: 401 without one (or with an unknown or
    revoked one), 403 without the scope, 429 over the token's rate (or, for refused tokens, the
    client address's)."""
    state = _state(request)
    address = request.client.host if request.client else "-"
    header = request.headers.get("authorization", "")
    kind, _, secret = header.partition(" ")
    secret = secret.strip()
    if kind.lower() != "bearer" or not secret:
        raise HTTPException(401, "an API token is required (Authorization: Bearer ...)", headers={"WWW-Authenticate": REALM})
    web: WebContext = request.app.state.web
    try:
        token = authenticate_token(web.ctx, secret, scope)
    except TokenRefused:
        wait = state.limiter.check("refused", address)
        if wait is not None:
            raise _too_many(wait, "with refused tokens from this address") from None
        raise HTTPException(
            401, "the token is unknown or revoked", headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'}
        ) from None
    except ScopeMissing:
        raise HTTPException(
            403,
            f"the token lacks the scope {scope.value}",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope.value}"'},
        ) from None
    wait = state.limiter.check("token", str(token.id))
    if wait is not None:
        raise _too_many(wait, "of this token")
    return token


Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]


def write_token(request: Request, _: Credentials) -> ApiToken:
    return _token(request, TokenScope.REQUESTS_WRITE)


def read_token(request: Request, _: Credentials) -> ApiToken:
    return _token(request, TokenScope.REQUESTS_READ)


# --- helpers ----------------------------------------------------------------------------------


def _only_query(request: Request, *allowed: str) -> None:
    """422 for a query parameter the operation does not take (a typo must not widen a list)."""
    if set(request.query_params) - set(allowed):
        names = ", ".join(allowed) or "none"
        raise InvalidInput("unknown query parameter", [f"query: unknown parameter (this call takes: {names})"])


def _self(reference: str) -> str:
    return f"/api/requests/{reference}"


def _read_json(request: Request, raw: bytes) -> Any:
    """The body as JSON: 415 unless ``application/json`` (UTF-8), 400 for bytes that are not
    UTF-8, not JSON, or JSON that is not Unicode (lone surrogates)."""
    media, _, params = request.headers.get("content-type", "").partition(";")
    if media.strip().lower() != "application/json":
        raise HTTPException(415, "the body must be application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise HTTPException(415, "the body must be UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not valid UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body is not valid JSON") from None
    try:
        # An escaped lone surrogate (\ud800) is valid JSON but no character: nothing could store it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPException(400, "the body holds an escaped lone surrogate, which is not Unicode") from None
    return data


def _no_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _subject_emails(data: Any) -> list[str]:
    subject = data.get("subject") if isinstance(data, dict) else None
    emails = subject.get("emails") if isinstance(subject, dict) else None
    return [e for e in emails if isinstance(e, str)] if isinstance(emails, list) else []


def _created(done: Submitted) -> Created:
    return Created(
        reference=done.request.reference,
        status=done.request.status,
        due=done.deadline.due,
        acknowledge_by=done.deadline.acknowledge_by,
        run_started=done.flow_run_id is not None,
        links=Links(self_=_self(done.request.reference)),
    )


def _encode_cursor(due: date, reference: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([due.isoformat(), reference]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[date, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, reference = json.loads(raw.decode("utf-8"))
        return date.fromisoformat(due), parse_reference(reference)
    except (binascii.Error, ValueError, TypeError, InvalidInput):
        raise InvalidInput("the cursor is malformed", ["cursor: malformed (pass next_cursor as given)"]) from None


def _run(web: WebContext, run_id: str | None) -> FlowRunOut | None:
    if run_id is None:
        return None
    if web.orchestrator is None:
        return FlowRunOut(id=run_id, state=None, name=None)
    try:
        state = web.orchestrator.run_state(run_id)
    except Exception:  # noqa: BLE001 - the orchestrator may be down; the request still reads
        return FlowRunOut(id=run_id, state=None, name=None)
    return FlowRunOut(id=run_id, state=state.type, name=state.name)


# --- the reference page (/api/docs) -----------------------------------------------------------
# Rendered on the server from the app's own OpenAPI schema: no script, nothing from another
# site (the pages' CSP allows neither), readable without JavaScript. Tools read the JSON schema.


def _spans(text: str) -> list[tuple[str, bool]]:
    """Markdown ``code`` spans of a description: (text, is_code) pieces, escaped by the template."""
    return [(piece, i % 2 == 1) for i, piece in enumerate(text.split("`")) if piece]


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return _resolve(components[ref.rsplit("/", 1)[1]], components)
    return schema


def _value(schema: dict[str, Any], components: dict[str, Any]) -> str:
    """A schema in a few words: 'string (date)', 'one of a, b', 'list of string'."""
    s = _resolve(schema, components)
    if "anyOf" in s:
        kinds = [_value(x, components) for x in s["anyOf"] if x.get("type") != "null"]
        text = " or ".join(kinds) + (" or null" if any(x.get("type") == "null" for x in s["anyOf"]) else "")
    elif "enum" in s:
        text = "one of " + ", ".join("null" if v is None else str(v) for v in s["enum"])
    elif s.get("type") == "array":
        text = "list of " + _value(s.get("items", {}), components)
    elif s.get("type") == "object" and "properties" not in s:
        text = "object of " + _value(s.get("additionalProperties") or {"type": "string"}, components)
    else:
        text = str(s.get("type", "object"))
        if "format" in s:
            text += f" ({s['format']})"
    if "enum" in s and "anyOf" in s:
        text = "one of " + ", ".join("null" if v is None else str(v) for v in s["enum"])
    if "pattern" in s:
        text += f", matching {s['pattern']}"
    if "default" in s and s["default"] not in (None, [], {}):
        text += f", default {s['default']}"
    return text


def _fields(schema: dict[str, Any], components: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """The fields of an object schema, nested ones with dotted names (``subject.emails``)."""
    s = _resolve(schema, components)
    required = set(s.get("required", []))
    out: list[dict[str, Any]] = []
    for name, prop in s.get("properties", {}).items():
        full = f"{prefix}{name}"
        inner = _resolve(prop, components)
        options = [_resolve(x, components) for x in inner.get("anyOf", [inner])]
        nested = next((x for x in options if "properties" in x), None)
        items = next((_resolve(x.get("items", {}), components) for x in options if x.get("type") == "array"), {})
        value = "object" if nested is not None else ("list of objects" if "properties" in items else _value(prop, components))
        out.append({"name": full, "required": name in required, "value": value, "description": inner.get("description", "")})
        if nested is not None:
            out += _fields(nested, components, f"{full}.")
        elif "properties" in items:
            out += _fields(items, components, f"{full}[].")
    return out


def _reference(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    components = openapi.get("components", {}).get("schemas", {})
    operations = []
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            fields: list[dict[str, Any]] = []
            for status, r in sorted(op["responses"].items()):
                content = r.get("content", {})
                headers = list(r.get("headers", {}))
                responses.append({"status": status, "content": list(content), "headers": headers, "description": _spans(r["description"])})
                ok = content.get("application/json", {}).get("schema")
                if status.startswith("2") and ok is not None and not fields:
                    fields = _fields(ok, components)
            operations.append(
                {
                    "anchor": re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-"),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": _spans(op.get("description", "")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "required": p.get("required", False),
                            "value": _value(p.get("schema", {}), components),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _fields(body, components) if body else [],
                    "examples": [json.dumps(x, indent=2, ensure_ascii=False) for x in (body or {}).get("examples", [])],
                    "responses": responses,
                    "response_fields": fields,
                }
            )
    return operations


# --- routes -----------------------------------------------------------------------------------


def router() -> APIRouter:
    r = APIRouter(tags=["requests"], default_response_class=ApiJSONResponse)

    @r.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def reference(request: Request) -> HTMLResponse:
        openapi = request.app.openapi()
        return render(
            request,
            "api_docs.html",
            info=openapi["info"],
            version=openapi["openapi"],
            schema_url=request.app.openapi_url,
            operations=_reference(openapi),
        )

    body_schema = _inline(SubmissionBody.model_json_schema())

    @r.post(
        "/requests",
        status_code=201,
        response_model=Created,
        summary="Log a request",
        description=(
            "Scope `requests:write`. Logs a request through the same intake as every other channel and starts "
            "its processing: every valid submission is a new request with its own reference. Repeats are linked "
            "only after verification, between requests verified with the same contact. Send an `Idempotency-Key` "
            "to make retries safe: the same key with the same body returns the first answer (with "
            "`Idempotent-Replayed: true`) and stores nothing new."
        ),
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}}},
        responses={
            201: {
                "description": "Logged (or, with `Idempotent-Replayed: true`, the first answer again).",
                "headers": {"Location": {"description": "The request.", "schema": {"type": "string"}}},
            },
            400: _problem("The body is not UTF-8 or not JSON."),
            409: _problem("A call with this Idempotency-Key is still running.", {"Retry-After": "seconds"}),
            415: _problem("The body is not application/json."),
            **_AUTH_PROBLEMS,
        },
    )
    async def create_request(
        request: Request,
        token: Annotated[ApiToken, Depends(write_token)],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="Any unique string per logical call (e.g. a UUID); retries send the same one.",
            ),
        ] = None,
    ) -> Response:
        _only_query(request)
        raw = await request.body()
        data = _read_json(request, raw)
        if isinstance(data, dict):
            data.setdefault("channel", Channel.API.value)
        state = _state(request)
        key = fingerprint = None
        if idempotency_key is not None:
            key = state.idempotency.digest(str(token.id), idempotency_key)
            fingerprint = state.idempotency.digest(json.dumps(data, sort_keys=True, ensure_ascii=False))
            try:
                replay = state.idempotency.begin(key, fingerprint)
            except IdempotencyConflict as exc:
                if exc.in_flight:
                    raise HTTPException(409, "a call with this Idempotency-Key is still running", headers={"Retry-After": "1"}) from None
                raise InvalidInput("Idempotency-Key was used with another body", ["Idempotency-Key: used with another body"]) from None
            if replay is not None:
                return ApiJSONResponse(
                    replay.body, status_code=replay.status, headers={"Location": replay.location, "Idempotent-Replayed": "true"}
                )
        try:
            for email in _subject_emails(data):
                wait = state.limiter.check("subject", RateLimiter.digest(email))
                if wait is not None:
                    raise _too_many(wait, "for this subject")
            web: WebContext = request.app.state.web
            done = await run_in_threadpool(submit, web.ctx, web.orchestrator, data)
        except BaseException:  # noqa: BLE001 - re-raised: a refused call may be retried with its key
            if key is not None:
                state.idempotency.abandon(key)
            raise
        answer = _created(done)
        body = answer.model_dump(mode="json", by_alias=True)
        if key is not None:
            state.idempotency.finish(key, Replay(201, body, answer.links.self_))
        return ApiJSONResponse(body, status_code=201, headers={"Location": answer.links.self_})

    @r.get(
        "/requests/{reference}",
        response_model=RequestOut,
        summary="One request",
        description="Scope `requests:read`. Where the request stands; its subject's data masked.",
        responses={200: {"description": "The request."}, 404: _problem("No request has this reference."), **_AUTH_PROBLEMS},
    )
    def get_request(
        request: Request,
        reference: Annotated[str, Path(pattern=r"^DSR-\d{4}-\d{6,}$", max_length=40, description="e.g. DSR-2026-000123")],
        token: Annotated[ApiToken, Depends(read_token)],
    ) -> RequestOut:
        _only_query(request)
        web: WebContext = request.app.state.web
        v = queries.request_view(web.ctx, reference, reveal=False, via="api")
        d = v.deadline
        return RequestOut(
            reference=v.reference,
            type=v.type,
            access_scope=v.access_scope,
            regime=v.regime,
            country=v.country,
            subdivision=v.subdivision,
            channel=v.channel,
            status=v.status,
            on_hold=v.on_hold,
            received_at=v.received_at,
            deadline=DeadlineOut.model_validate(d, from_attributes=True),
            subject=SubjectOut(
                name=v.subject.name,
                emails=list(v.subject.emails),
                phone=v.subject.phone,
                postal_address=v.subject.postal_address,
                account_id=v.subject.account_id,
                extra=dict(v.subject.extra),
            ),
            agent=None if v.agent is None else AgentOut(name=v.agent.name, email=v.agent.email, kind=v.agent.kind),
            corrections=[CorrectionOut(attribute=c.attribute, value=c.value) for c in v.corrections],
            linked_to=v.linked_to,
            flow_run=_run(web, v.flow_run_id),
            links=Links(self_=_self(v.reference)),
        )

    @r.get(
        "/requests",
        response_model=RequestPage,
        summary="List requests",
        description=(
            "Scope `requests:read`. Requests soonest due first (then by reference), filtered; `limit` per page, "
            "`next_cursor` (or `links.next`) for the next one. No personal data."
        ),
        responses={200: {"description": "A page of requests."}, **_AUTH_PROBLEMS},
    )
    def list_requests(
        request: Request,
        token: Annotated[ApiToken, Depends(read_token)],
        status: Annotated[Status | None, Query(description="Only requests in this status.")] = None,
        due_before: Annotated[date | None, Query(description="Only requests due strictly before this date.")] = None,
        regime: Annotated[str | None, Query(pattern=_REGIME_PATTERN, description="Only requests under this regime.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Requests per page.")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page.")
        ] = None,
    ) -> RequestPage:
        _only_query(request, "status", "due_before", "regime", "limit", "cursor")
        web: WebContext = request.app.state.web
        after = _decode_cursor(cursor) if cursor is not None else None
        rows = queries.request_list(web.ctx, status, due_before, limit + 1, regime=regime, after=after)
        page, more = rows[:limit], len(rows) > limit
        next_cursor = _encode_cursor(page[-1].due, page[-1].reference) if more and page else None
        filters = {"status": status.value if status else None, "due_before": due_before.isoformat() if due_before else None}
        filters |= {"regime": regime, "limit": str(limit) if "limit" in request.query_params else None}

        def url(cur: str | None) -> str:
            query = urlencode({k: v for k, v in {**filters, "cursor": cur}.items() if v is not None})
            return "/api/requests" + (f"?{query}" if query else "")

        return RequestPage(
            items=[
                SummaryOut(
                    reference=s.reference,
                    type=s.type,
                    regime=s.regime,
                    status=s.status,
                    on_hold=s.on_hold,
                    due=s.due,
                    received_at=s.received_at,
                    links=Links(self_=_self(s.reference)),
                )
                for s in page
            ],
            next_cursor=next_cursor,
            links=PageLinks(self_=url(cursor), next=url(next_cursor) if next_cursor else None),
        )

    return r
