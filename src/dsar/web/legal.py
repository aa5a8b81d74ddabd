"""Legal's pages on the console: the letter preview the sign-off form links to."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.accounts import Permission
from dsar.services import queries
from dsar.services.letter_preview import letter_preview
from dsar.web.staff import require


def router() -> APIRouter:
    from dsar.web.console import _render, _staff, _web

    r = APIRouter(include_in_schema=False)

    @r.get("/requests/{ref}/letter-preview", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    async def preview(request: Request, ref: str) -> Response:
        _staff(request)
        web = _web(request)
        found = queries.lookup(web.ctx, ref)
        letter = await run_in_threadpool(letter_preview, web.ctx, found.id)
        return _render(request, "console/letter_preview.html", ref=found, letter=letter)

    return r
