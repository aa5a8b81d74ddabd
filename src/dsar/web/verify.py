"""The subject's identity pages (``/verify``): the single-use link's landing page, the code
form, the data points, the declaration under penalty of perjury, the consumer's confirmation
of an agent, the account holder's sign-in through the organisation's login, and the page that
asks for a new link (sent to the contact on file). The engine
judges every proof (:mod:`dsar.services.identity`); once the request is verified (or refused),
the waiting flow run is woken with an empty input, so no code or proof ever passes through
Prefect.

What a page says never depends on whether a subject exists: an unknown link, a used one and an
expired one read alike; a wrong data point is "did not match", never which. No page takes a
file: no copy of an identity document is ever asked for or kept.

The account login posts its assertion back from another site: the browser sends no dsar cookie
with it (SameSite=Strict), so that post cannot carry a CSRF token that verifies. It judges
nothing and spends nothing: it shows a page whose Continue button posts the assertion again,
now from this site with its CSRF token, and only that post is judged. The assertion travels
in POST bodies only, never in an address (nor in access logs).
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.errors import InvalidInput
from dsar.domain.verification_policy import Proof
from dsar.services import identity
from dsar.services.account_login import MAX_ASSERTION_CHARS
from dsar.services.identity import Step, StepOutcome
from dsar.services.orchestration import wake_when_waiting
from dsar.web.context import WebContext
from dsar.web.forms import checked_form, read_form
from dsar.web.ratelimit import Limit, address_wait
from dsar.web.security import CSRF_FIELD
from dsar.web.templating import render

log = logging.getLogger("dsar.web.verify")

# How long the app keeps trying to wake a run that was not yet waiting when the proof came in
# (it was still starting, or between steps); after that it finds the request verified itself.
WAKE_FOR_SECONDS = 90.0
VERIFY_LIMIT = Limit(30, 3600)  # proof-page posts per source address per hour
_STATE = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
_ASSERTION = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def _wake(web: WebContext, request_id: str) -> None:
    """Wake the run (after the answer has gone), retried while its run is live but not yet
    waiting (:func:`dsar.services.orchestration.wake_when_waiting`)."""
    try:
        wake_when_waiting(web.ctx, web.orchestrator, request_id, for_seconds=WAKE_FOR_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the engine's record is the truth; the run finds it
        log.warning("could not wake the run (%s)", type(exc).__name__)


def _resend(web: WebContext, reference: str) -> None:
    """Send a fresh link for a waiting request (after the answer has gone; see resend_submit)."""
    try:
        request_id = identity.reference_request(web.ctx, reference)
        if request_id is not None:
            identity.resend(web.ctx, request_id)
    except Exception as exc:  # noqa: BLE001 - nothing to tell the requester; the console shows a held request
        log.warning("resend failed (%s)", type(exc).__name__)


# Pages whose address a language switch can fetch again (the others answer a post only).
_FETCHABLE = re.compile(r"^/verify(/resend|/l/[^/]+)?$")


def _page(request: Request, view: str, status_code: int = 200, **context: object) -> Response:
    """A verify page. Its language switch: a page of a proof session (data points, declaration,
    account) posts the session to ``/verify/step`` (the same step again, in that language; the
    session never goes into an address); another page answering a post links to ``/verify``
    (what it said lives in no address)."""
    step = context.get("step")
    session = context.get("state") if view == "account_return" else getattr(step, "session", None)
    if isinstance(session, str) and session:
        context["switch_post"] = ("/verify/step", {"session": session})
    elif request.method != "GET" or not _FETCHABLE.match(request.url.path):
        context["switch_path"] = "/verify"
    return render(request, "verify/page.html", status_code=status_code, view=view, **context)


def _over_limit(request: Request) -> Response | None:
    """Count a proof page's post against its source address: the 429 page when over the limit."""
    wait = address_wait(request.app.state.web.extra, "verify_limiter", VERIFY_LIMIT, request.client.host if request.client else None)
    return _too_many(request, wait) if wait is not None else None


def _too_many(request: Request, wait: int) -> Response:
    response = _page(request, "slow", status_code=429)
    response.headers["Retry-After"] = str(wait)
    return response


def _answer(request: Request, step: Step, *, error: bool = False) -> Response:
    """The page after a proof: what is needed next, done, or refused."""
    web: WebContext = request.app.state.web
    background = None
    if (step.outcome in (StepOutcome.VERIFIED, StepOutcome.EXHAUSTED) or step.escalated) and step.request_id:
        # verified, refused, or sent to legal by a risk flag: the run goes on (to legal's form);
        # the page says what it says to anyone
        background = BackgroundTask(_wake, web, step.request_id)
    if step.outcome is StepOutcome.VERIFIED:
        response = _page(request, "done", reference=step.reference)
    elif step.outcome is StepOutcome.EXHAUSTED:
        response = _page(request, "refused", status_code=403, reference=step.reference)
    elif step.outcome is StepOutcome.INVALID:
        response = _page(request, "invalid", status_code=404)
    elif step.next is Proof.DATA_POINTS:
        response = _page(
            request,
            "points",
            status_code=422 if error else 200,
            step=step,
            error=error,
            needed=max(step.points_needed, 1),
        )
    elif step.next is Proof.DECLARATION:
        response = _page(request, "declaration", status_code=422 if error else 200, step=step, error=error)
    elif step.next is Proof.ACCOUNT and (sign_in := identity.sign_in_url(web.ctx, step.session or "")):
        response = _page(request, "account", status_code=422 if error else 200, step=step, sign_in=sign_in, error=error)
    elif step.next in (Proof.AGENT_PERMISSION, Proof.POWER_OF_ATTORNEY, Proof.ACCOUNT):
        response = _page(request, "legal", reference=step.reference)
    else:
        response = _page(request, "invalid", status_code=404)
    response.background = background
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/verify")
    async def code_form(request: Request) -> Response:
        return _page(request, "code")

    @r.post("/verify")
    async def code_submit(request: Request) -> Response:
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        slow = _over_limit(request)
        if slow is not None:
            return slow
        reference = (form.text("reference") or "")[:40]
        code = (form.text("code") or "")[:32]
        request_id = await run_in_threadpool(identity.reference_request, web.ctx, reference)
        if request_id is None or not code:
            # the same words as a wrong code for an unknown reference (nothing to count)
            return _page(request, "code", status_code=422, error=True, reference=reference)
        step = await run_in_threadpool(lambda: identity.use_code(web.ctx, request_id, code, via="web"))
        if step.outcome is StepOutcome.WRONG or step.outcome is StepOutcome.INVALID:
            return _page(request, "code", status_code=422, error=True, reference=reference)
        return _answer(request, step)

    @r.get("/verify/resend")
    async def resend_form(request: Request) -> Response:
        return _page(request, "resend")

    @r.post("/verify/resend")
    async def resend_submit(request: Request) -> Response:
        """A new link and code, sent to the contact on file, never to anything typed here. The
        answer is the same words, at once, whatever the reference: the send (if any) happens
        after the answer has gone, so neither the text nor the time tells whether the request
        exists, waits, or has sends left (THREATS 9)."""
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        slow = _over_limit(request)
        if slow is not None:
            return slow
        reference = (form.text("reference") or "").strip()[:40]
        response = _page(request, "resent")
        if reference:
            response.background = BackgroundTask(_resend, web, reference)
        response.headers["Cache-Control"] = "no-store"
        return response

    @r.get("/verify/l/{token}")
    async def landing(request: Request, token: str) -> Response:
        web: WebContext = request.app.state.web
        view = await run_in_threadpool(identity.link_view, web.ctx, token)
        if view is None:
            response = _page(request, "invalid", status_code=404)
        else:
            response = _page(request, "landing", token=token, link=view)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @r.post("/verify/l/{token}")
    async def landing_submit(request: Request, token: str) -> Response:
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        slow = _over_limit(request)
        if slow is not None:
            return slow
        confirms = form.text("confirm") != "no"
        step = await run_in_threadpool(lambda: identity.use_link(web.ctx, token, consumer_confirms=confirms, via="web"))
        return _answer(request, step)

    @r.post("/verify/step")
    async def step_again(request: Request) -> Response:
        """The language switch on a proof page: the session's current step again (in the
        language of ``?lang=``), spending nothing; counted like a proof page's post."""
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        slow = _over_limit(request)
        if slow is not None:
            return slow
        step = await run_in_threadpool(identity.session_step, web.ctx, form.text("session") or "")
        return _answer(request, step)

    @r.post("/verify/points")
    async def points_submit(request: Request) -> Response:
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        session = form.text("session") or ""
        given = {k: (form.text(f"point_{k}") or "") for k in ("phone", "postcode", "street", "city")}
        step = await run_in_threadpool(lambda: identity.give_points(web.ctx, session, given, via="web"))
        return _answer(request, step, error=step.outcome is StepOutcome.WRONG)

    @r.post("/verify/declaration")
    async def declaration_submit(request: Request) -> Response:
        web: WebContext = request.app.state.web
        form = await checked_form(request)
        session = form.text("session") or ""
        try:
            step = await run_in_threadpool(
                lambda: identity.declare(web.ctx, session, form.text("full_name") or "", form.text("agree") == "yes", via="web")
            )
        except InvalidInput:
            current = await run_in_threadpool(identity.session_step, web.ctx, session)
            return _answer(request, current, error=True)
        return _answer(request, step)

    @r.post("/verify/account")
    async def account_submit(request: Request) -> Response:
        """Where the organisation's login sends the subject back (``return_to``) with
        ``assertion`` and ``state``. Without a CSRF token (the login's cross-site post): the
        page to continue, nothing judged. With one (that page's Continue): judged."""
        web: WebContext = request.app.state.web
        form = await read_form(request)
        state = form.text("state") or ""
        assertion = form.text("assertion") or ""
        if form.first(CSRF_FIELD) is None:
            if not _STATE.match(state) or len(assertion) > MAX_ASSERTION_CHARS or not _ASSERTION.match(assertion):
                return _answer(request, Step(StepOutcome.INVALID))
            current = await run_in_threadpool(identity.session_step, web.ctx, state)
            if current.outcome is StepOutcome.INVALID or current.next is not Proof.ACCOUNT:
                return _answer(request, current)
            response = _page(request, "account_return", state=state, assertion=assertion)
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
        form = await checked_form(request)
        slow = _over_limit(request)
        if slow is not None:
            return slow
        step = await run_in_threadpool(lambda: identity.sign_in(web.ctx, state, assertion, via="web"))
        return _answer(request, step, error=step.outcome is StepOutcome.WRONG)

    return r
