"""The page behind a letter's link (``/letter``), for a subject reached by text message only
(:mod:`dsar.services.letter_links`).

The link carries its secret in the URL fragment (``/letter#TOKEN``), which browsers never send
to a server: the page's script copies it into the form (without JavaScript the person pastes
it). Step one texts a fresh one-time code to the number on file; step two takes the code and
answers with the letter's PDF. A forged, mistyped or expired link gets the same page ("no
longer works"), never naming the request.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.errors import DeliveryFailed
from dsar.domain.letter_links import CodeProblem, LinkProblem
from dsar.services import letter_links
from dsar.web.forms import checked_form
from dsar.web.ratelimit import Limit, address_wait
from dsar.web.templating import render

# Code requests and openings per source address per hour.
LETTER_LIMIT = Limit(20, 3600)


def _page(request: Request, step: str, status: int = 200, token: str = "", problem: str | None = None) -> Response:
    web = request.app.state.web
    return render(
        request, "public/letter.html", status_code=status, step=step, token=token, problem=problem, contact=web.settings.privacy_contact
    )


def _refused(request: Request, why: LinkProblem | CodeProblem, token: str) -> Response:
    if isinstance(why, LinkProblem):
        # An unknown (forged, mistyped) link gets the expired link's page: the page never tells
        # a guessed token from one that once worked.
        key = "too_many_codes" if why is LinkProblem.TOO_MANY_CODES else "expired"
        return _page(request, "refused", 410, problem=f"letter.refused.{key}")
    return _page(request, "code", 422, token=token, problem=f"letter.code.{why.value}")


def _slow(request: Request) -> Response | None:
    wait = address_wait(request.app.state.web.extra, "letter_limiter", LETTER_LIMIT, request.client.host if request.client else None)
    if wait is None:
        return None
    response = _page(request, "refused", 429, problem="letter.slow")
    response.headers["Retry-After"] = str(wait)
    return response


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/letter")
    async def start(request: Request) -> Response:
        return _page(request, "start")

    @r.post("/letter/code")
    async def code(request: Request) -> Response:
        form = await checked_form(request)
        slow = _slow(request)
        if slow is not None:
            return slow
        token = form.text("token") or ""
        web = request.app.state.web
        try:
            why = await run_in_threadpool(letter_links.send_code, web.ctx, token)
        except DeliveryFailed:
            return _page(request, "start", 503, token=token, problem="letter.text_failed")
        if why is not None:
            return _refused(request, why, token)
        return _page(request, "code", token=token)

    @r.post("/letter/open")
    async def open_letter(request: Request) -> Response:
        form = await checked_form(request)
        slow = _slow(request)
        if slow is not None:
            return slow
        token = form.text("token") or ""
        web = request.app.state.web
        got = await run_in_threadpool(letter_links.open_letter, web.ctx, token, form.text("code") or "")
        if not isinstance(got, letter_links.LetterFile):
            return _refused(request, got, token)
        headers = {"Content-Disposition": f'inline; filename="{got.filename}"', "Cache-Control": "no-store"}
        return Response(got.content, media_type="application/pdf", headers=headers)

    return r
