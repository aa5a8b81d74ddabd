"""Legal's pages on the console: the legal queue of escalations, legal's decision on one, and
the letter preview the sign-off form links to."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.accounts import Permission, StaffAccount
from dsar.domain.errors import InvalidInput
from dsar.services import escalations, queries
from dsar.services.deadlines import local_today
from dsar.services.letter_preview import letter_preview
from dsar.services.orchestration import resolve_escalation_and_continue
from dsar.web.context import WebContext
from dsar.web.forms import Form
from dsar.web.staff import require


def add_routes(r: APIRouter) -> None:
    """Add legal's pages to the console's router (they are console routes, listed with them)."""
    from dsar.web.console import _render, _staff, _web

    @r.get("/requests/{ref}/letter-preview", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    async def preview(request: Request, ref: str) -> Response:
        _staff(request)
        web = _web(request)
        found = queries.lookup(web.ctx, ref)
        letter = await run_in_threadpool(letter_preview, web.ctx, found.id)
        return _render(request, "console/letter_preview.html", ref=found, letter=letter)

    @r.get("/legal", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    async def queue(request: Request) -> Response:
        _staff(request)
        ctx = _web(request).ctx
        rows = await run_in_threadpool(escalations.legal_queue, ctx)
        report = await run_in_threadpool(escalations.report, ctx)
        days = ctx.policy.legal_response_business_days
        return _render(request, "console/legal.html", rows=rows, report=report, days=days, today=local_today(ctx), flash=None)


def resolve_escalation(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    """Legal's decision on an escalation from the request's page: the signed-in legal account
    plus its authenticator's current code (a refused attempt is recorded and shown)."""
    number = form.text("number") or ""
    if not number.isdigit() or len(number) > 6:
        raise InvalidInput("which escalation?", ["escalation: a number"])
    code = form.text("code") or ""
    if len(code) > 16:
        raise InvalidInput("the code is too long", ["code: 6 digits"])
    decision, note = form.text("decision") or "", form.text("note") or ""
    ctx, orchestrator = web.ctx, web.orchestrator
    result = resolve_escalation_and_continue(ctx, orchestrator, r.id, int(number), decision, staff.name, code, note=note, via="console")
    if result.refused is not None:
        why = escalations.refusal_text(result.refused)
        raise InvalidInput(f"decision refused: {why}", [f"code: {why}"])
    return "escalation-decided"
