"""The access package's download page (``/package``), reached by the single-use link in the
access letter.

The link carries its secret in the URL fragment (``/package#TOKEN``), which browsers never
send to a server: the page's script copies it into the form (without JavaScript the person
pastes it). Step one mails a fresh one-time code to the address the request was verified with;
step two takes the code and streams the zip, decrypted chunk by chunk as it goes out. The link
is spent when a download **finishes** (its last bytes are handed over only then), and after too
many wrong codes; a download interrupted halfway leaves it working, within the starts a link
allows (each after a fresh code). A used, deleted or used-up link gets a page saying which,
without naming the request; an unknown, altered or replaced link gets the expired link's page.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dsar.domain.errors import DeliveryFailed
from dsar.domain.packages import CodeRefusal, LinkRefusal
from dsar.services import package
from dsar.web.forms import checked_form
from dsar.web.ratelimit import Limit, address_wait
from dsar.web.templating import render

# Code requests and download attempts per source address per hour.
PACKAGE_LIMIT = Limit(20, 3600)


def _page(request: Request, step: str, status: int = 200, token: str = "", problem: str | None = None) -> Response:
    web = request.app.state.web
    return render(
        request, "public/package.html", status_code=status, step=step, token=token, problem=problem, contact=web.settings.privacy_contact
    )


def _refused(request: Request, why: LinkRefusal | CodeRefusal, token: str) -> Response:
    if isinstance(why, LinkRefusal) or why is CodeRefusal.TOO_MANY:
        key = why.value if isinstance(why, LinkRefusal) else "used"
        # An unknown, altered or replaced link gets the expired link's page: the page never
        # tells a guessed or tampered token from one that once worked.
        if key == LinkRefusal.UNKNOWN.value:
            key = LinkRefusal.EXPIRED.value
        return _page(request, "refused", 410, problem=f"package.refused.{key}")
    return _page(request, "code", 422, token=token, problem=f"package.code.{why.value}")


def _slow(request: Request) -> Response | None:
    wait = address_wait(request.app.state.web.extra, "package_limiter", PACKAGE_LIMIT, request.client.host if request.client else None)
    if wait is None:
        return None
    response = _page(request, "refused", 429, problem="package.slow")
    response.headers["Retry-After"] = str(wait)
    return response


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/package")
    async def start(request: Request) -> Response:
        return _page(request, "start")

    @r.post("/package/code")
    async def code(request: Request) -> Response:
        form = await checked_form(request)
        slow = _slow(request)
        if slow is not None:
            return slow
        token = form.text("token") or ""
        web = request.app.state.web
        try:
            why = await run_in_threadpool(package.send_code, web.ctx, token)
        except DeliveryFailed:
            return _page(request, "start", 503, token=token, problem="package.mail_failed")
        if why is not None:
            return _refused(request, why, token)
        return _page(request, "code", token=token)

    @r.post("/package/download")
    async def download(request: Request) -> Response:
        form = await checked_form(request)
        slow = _slow(request)
        if slow is not None:
            return slow
        token = form.text("token") or ""
        web = request.app.state.web
        got = await run_in_threadpool(package.open_download, web.ctx, token, form.text("code") or "")
        if not isinstance(got, package.Download):
            return _refused(request, got, token)
        headers = {
            "Content-Disposition": f'attachment; filename="{got.filename}"',
            "Content-Length": str(got.size),
            "Cache-Control": "no-store",
        }
        return StreamingResponse(got.chunks, media_type="application/zip", headers=headers)

    return r
