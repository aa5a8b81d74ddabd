"""Browser-facing protections shared by every page: the browser id cookie, CSRF tokens,
security headers and the request-size limit.

CSRF: every page gets a ``dsar_b`` cookie holding a random browser id (HttpOnly,
SameSite=Strict); each form carries ``csrf_token`` = a signed token bound to that id (and to
the staff session when there is one). A POST without a token that verifies against the
cookie is refused with 403 before anything is read from the form.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsar.web.signing import BadToken, sign, unsign

BROWSER_COOKIE = "dsar_b"
SESSION_COOKIE = "dsar_session"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = timedelta(hours=12)

# Pages that never load a script from elsewhere, never run inline script, never sit in a frame.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # No page leaks its address (which may carry a token) to another site.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}


def browser_id(request: Request) -> str:
    """The browser id of this request: the cookie's, or a new one (set on the response by the
    middleware)."""
    existing = request.cookies.get(BROWSER_COOKIE)
    if existing and 16 <= len(existing) <= 64 and existing.isalnum():
        return existing
    # In the scope's state, where the middleware looks (``request.state.__dict__`` is the State
    # object's own attributes, which the middleware never sees).
    state: dict[str, Any] = request.scope.setdefault("state", {})
    new: str = state.setdefault("new_browser_id", secrets.token_hex(16))
    return new


def csrf_token(request: Request, key: bytes, now: datetime | None = None) -> str:
    return sign(key, "csrf", {"b": browser_id(request)}, now or datetime.now(UTC))


def csrf_valid(request: Request, key: bytes, token: str | None, now: datetime | None = None) -> bool:
    cookie = request.cookies.get(BROWSER_COOKIE)
    if not token or not cookie:
        return False
    try:
        data = unsign(key, "csrf", token, CSRF_MAX_AGE, now or datetime.now(UTC))
    except BadToken:
        return False
    return bool(data.get("b") == cookie)


class PayloadTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Pure ASGI: security headers and the browser cookie on every response; bodies over
    ``max_body`` bytes refused with 413 (by Content-Length, or while streaming)."""

    def __init__(self, app: ASGIApp, *, max_body: int, secure_cookies: bool, too_large: Callable[[Scope], Awaitable[Any]]) -> None:
        self.app = app
        self.max_body = max_body
        self.secure_cookies = secure_cookies
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            response = await self.too_large(scope)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise PayloadTooLarge
            return message

        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        cookie_header = headers.get("cookie", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in raw}
                for k, v in SECURITY_HEADERS.items():
                    if k.lower() not in present:
                        raw.append((k.encode(), v.encode()))
                new_id = state.get("new_browser_id")
                if new_id and f"{BROWSER_COOKIE}=" not in cookie_header:
                    secure = "; Secure" if self.secure_cookies else ""
                    raw.append((b"set-cookie", f"{BROWSER_COOKIE}={new_id}; Path=/; HttpOnly; SameSite=Strict{secure}".encode()))
                message["headers"] = raw
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except PayloadTooLarge:
            response = await self.too_large(scope)
            await response(scope, receive, send_with_headers)
