"""The console's session: who is signed in, and what their role lets them do.

A session is the ``dsar_session`` cookie: ``signing.sign(session_key, "session", {"a": account
id, "e": session epoch}, now)``, HttpOnly, SameSite=Lax, Secure behind TLS
(``web_secure_cookies``), path ``/console``, lasting ``web_session_hours``. It is honoured
while its signature verifies, it is younger than ``web_session_hours``, the account is active
and the account's session epoch is still the one in the cookie (a password change, a role
change, deactivation or a sign-out end every session at once).

    @r.get("/queue")
    def queue(request: Request, staff: StaffAccount = Depends(require(Permission.VIEW_REQUESTS))): ...

``require`` sets ``request.state.staff`` (templates show the account) and
``request.state.training_overdue``; signed out -> 303 to ``/console/login``; a role without
the permission -> a 403 page. It builds on ``signed_in_staff``, which tests of other pages may
replace through ``app.dependency_overrides``. Console pages extend ``console/layout.html`` and
fill its ``content`` block.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.accounts import Permission, StaffAccount, allows
from dsar.services import accounts
from dsar.web.context import WebContext
from dsar.web.ratelimit import Limit, RateLimiter
from dsar.web.security import SESSION_COOKIE
from dsar.web.signing import BadToken, sign, unsign

SESSION_PURPOSE = "session"
COOKIE_PATH = "/console"
LOGIN_PATH = "/console/login"
# Sign-in and set-password attempts per source address (on top of the per-account lock-out).
AUTH_LIMITS = {"login": Limit(10, 60), "set-password": Limit(10, 60)}


def web_of(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def now_of(request: Request) -> datetime:
    return web_of(request).ctx.clock()


def source_of(request: Request) -> str:
    """The client's address as the server sees it (the proxy's behind a reverse proxy)."""
    return request.client.host if request.client else "unknown"


def auth_limiter(request: Request) -> RateLimiter:
    web = web_of(request)
    limiter = web.extra.get("auth_limiter")
    if not isinstance(limiter, RateLimiter):
        limiter = RateLimiter(AUTH_LIMITS)
        web.extra["auth_limiter"] = limiter
    return limiter


def check_rate(request: Request, bucket: str) -> None:
    wait = auth_limiter(request).check(bucket, source_of(request))
    if wait is not None:
        raise HTTPException(429, "too many attempts from this address; wait and try again", headers={"Retry-After": str(wait)})


def session_age(request: Request) -> timedelta:
    return timedelta(hours=web_of(request).settings.web_session_hours)


def _cookie_attributes(request: Request) -> str:
    secure = "; Secure" if web_of(request).secure_cookies else ""
    return f"Path={COOKIE_PATH}; HttpOnly; SameSite=Lax{secure}"


def sign_in(request: Request, response: Response, account: StaffAccount) -> None:
    """Put a session cookie for ``account`` (at its current epoch) on ``response``."""
    web = web_of(request)
    value = sign(web.session_key, SESSION_PURPOSE, {"a": account.id, "e": account.session_epoch}, now_of(request))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(session_age(request).total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
    )


def sign_out(request: Request, response: Response) -> None:
    """Remove the session cookie (the caller ends the account's sessions when it should)."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=web_of(request).secure_cookies)


def current_staff(request: Request) -> StaffAccount | None:
    """The account of a valid session cookie, or None (no cookie, tampered, expired, account
    gone or deactivated, epoch ended)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    web = web_of(request)
    try:
        data = unsign(web.session_key, SESSION_PURPOSE, cookie, session_age(request), now_of(request))
    except BadToken:
        return None
    account_id, epoch = data.get("a"), data.get("e")
    if not isinstance(account_id, int) or not isinstance(epoch, int) or isinstance(account_id, bool):
        return None
    account = accounts.get_account(web.ctx, account_id)
    if account is None or not account.active or account.session_epoch != epoch:
        return None
    return account


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value and (value == "/console" or value.startswith("/console/")) and "//" not in value and "\\" not in value:
        if not any(c in value for c in "\r\n\t") and value.isascii():
            return value
    return "/console"


def signed_in_staff(request: Request) -> StaffAccount:
    """A FastAPI dependency: the signed-in account (any role), or a 303 to the sign-in page that
    comes back here afterwards (and drops a session cookie that no longer works). Tests of other
    pages may replace it through ``app.dependency_overrides[signed_in_staff]``."""
    account = current_staff(request)
    if account is None:
        target = f"{LOGIN_PATH}?next={quote(safe_next(request.url.path), safe='/')}"
        headers = {"Location": target}
        if request.cookies.get(SESSION_COOKIE):
            headers["Set-Cookie"] = f'{SESSION_COOKIE}=""; Max-Age=0; {_cookie_attributes(request)}'
        raise HTTPException(303, "sign in first", headers=headers)
    return account


def require(permission: Permission) -> Callable[..., StaffAccount]:
    """A FastAPI dependency: the signed-in account whose role allows ``permission`` (403 page
    otherwise). Sets ``request.state.staff`` and ``request.state.training_overdue``."""

    def dependency(request: Request, account: Annotated[StaffAccount, Depends(signed_in_staff)]) -> StaffAccount:
        request.state.staff = account
        today = now_of(request).astimezone(web_of(request).ctx.policy.timezone).date()
        request.state.training_overdue = account.training_overdue(today)
        if not allows(account.role, permission):
            raise HTTPException(403, f"the {account.role.value} role does not allow this page or action")
        return account

    return dependency
