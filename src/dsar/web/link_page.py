"""A page behind a link whose secret rides in the URL fragment and that opens with a one-time
code: the access package's download (``/package``, :mod:`dsar.web.package`) and a letter
behind a link (``/letter``, :mod:`dsar.web.letter_link`) are two of these.

The fragment (``/PART?lang=LANG#TOKEN``) never reaches a server: the page's script copies it into the
form (without JavaScript the person pastes it). ``GET /PART`` shows that form; ``POST
/PART/code`` sends a fresh one-time code to the contact on file; ``POST /PART/OPENS`` takes the
code and answers with what the link leads to. Both posts need the page's CSRF token and count
against the source address's limit first (429 with ``Retry-After``). A refusal that ends the
link is the refused page (410), one about the code the code page again (422); a send that
failed is the first page again (503). What each page says comes from its texts
(``PART.title``, ``PART.refused.KEY``, ``PART.code.REASON`` …, ``locales/PART.LANG.json``).
The language switch on every step leads to ``/PART?lang=LANG``; the script adds the secret to
that link's fragment when one is followed (never to its query). A page with ``renew`` offers,
on the refused page of a link that expired (or, as ``renewable`` says, ran out), ``POST
/PART/renew``: a new link to the contact on file, and the same answer whether one went or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar, cast

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dsar.domain.errors import DeliveryFailed
from dsar.services.context import ServiceContext
from dsar.web.forms import Form, checked_form
from dsar.web.ratelimit import Limit, address_wait
from dsar.web.templating import render

TEMPLATE = "public/link_page.html"

Refusal = TypeVar("Refusal", bound=Enum)
Opened = TypeVar("Opened")


@dataclass(frozen=True)
class LinkPage(Generic[Refusal, Opened]):
    """One such page. ``part``: its path, texts and limiter (``package``: ``/package``,
    ``package.*``, ``package_limiter``); ``opens``: the last step's path and button
    (``download``: ``POST /package/download``, ``package.download``)."""

    part: str
    opens: str
    limit: Limit  # code requests and openings per source address
    send_failed: str  # the text when the code could not be sent
    send_code: Callable[[ServiceContext, str], Refusal | None]
    # what the link opens for a token and code (run in a worker thread), or why not
    open: Callable[[ServiceContext, str, str], Opened | Refusal]
    opened: type[Opened]
    answer: Callable[[Opened], Response]  # the response that hands it over
    # the key of the refused page's text (PART.refused.KEY) for a refusal that ends the link;
    # None for one about the code (the code page, PART.code.REASON)
    ends_link: Callable[[Refusal], str | None]
    # a new link to the contact on file, asked for on the refused page (``POST /PART/renew``)
    # after one of these refusals (their keys); None: the page offers none
    renew: Callable[[ServiceContext, str], bool] | None = None
    renewable: frozenset[str] = frozenset()

    def page(
        self, request: Request, step: str, status: int = 200, token: str = "", problem: str | None = None, renew: bool = False
    ) -> Response:
        web = request.app.state.web
        return render(
            request,
            TEMPLATE,
            status_code=status,
            part=self.part,
            opens=self.opens,
            step=step,
            token=token,
            problem=problem,
            renew=renew,
            contact=web.settings.privacy_contact,
            # also from a post's answer (/PART/code …, which cannot be fetched): the link's page,
            # the secret carried in the fragment by the page's script
            switch_path=f"/{self.part}",
        )

    def refused(self, request: Request, why: Refusal, token: str) -> Response:
        key = self.ends_link(why)
        if key is not None:
            renew = self.renew is not None and key in self.renewable
            return self.page(request, "refused", 410, token=token if renew else "", problem=f"{self.part}.refused.{key}", renew=renew)
        return self.page(request, "code", 422, token=token, problem=f"{self.part}.code.{why.value}")

    def slow(self, request: Request) -> Response | None:
        limiter = f"{self.part}_limiter"
        wait = address_wait(request.app.state.web.extra, limiter, self.limit, request.client.host if request.client else None)
        if wait is None:
            return None
        response = self.page(request, "refused", 429, problem=f"{self.part}.slow")
        response.headers["Retry-After"] = str(wait)
        return response

    async def posted(self, request: Request) -> tuple[str, Form] | Response:
        """A post's token and form (the CSRF token checked first, then the address's count), or
        the 429 page."""
        form = await checked_form(request)
        slow = self.slow(request)
        if slow is not None:
            return slow
        return form.text("token") or "", form

    async def send(self, request: Request, token: str, form: Form) -> Response:
        """Step one: a fresh code to the contact on file, then the code page."""
        try:
            why = await run_in_threadpool(self.send_code, request.app.state.web.ctx, token)
        except DeliveryFailed:
            return self.page(request, "start", 503, token=token, problem=self.send_failed)
        if why is not None:
            return self.refused(request, why, token)
        return self.page(request, "code", token=token)

    async def take_code(self, request: Request, token: str, form: Form) -> Response:
        """Step two: the code; what the link opens, or why not."""
        got = await run_in_threadpool(self.open, request.app.state.web.ctx, token, form.text("code") or "")
        if isinstance(got, self.opened):
            return self.answer(got)
        return self.refused(request, cast(Refusal, got), token)  # not what it opens: why not

    def router(self) -> APIRouter:
        r = APIRouter(include_in_schema=False)

        @r.get(f"/{self.part}")
        async def start(request: Request) -> Response:
            return self.page(request, "start")

        @r.post(f"/{self.part}/code")
        async def code(request: Request) -> Response:
            posted = await self.posted(request)
            return posted if isinstance(posted, Response) else await self.send(request, *posted)

        @r.post(f"/{self.part}/{self.opens}")
        async def open_link(request: Request) -> Response:
            posted = await self.posted(request)
            return posted if isinstance(posted, Response) else await self.take_code(request, *posted)

        if self.renew is not None:
            renew = self.renew

            @r.post(f"/{self.part}/renew")
            async def renew_link(request: Request) -> Response:
                """A new link to the contact on file, when this one may be renewed; the page
                says the same whether one went or not (it never tells a real link from a
                guessed one)."""
                posted = await self.posted(request)
                if isinstance(posted, Response):
                    return posted
                await run_in_threadpool(renew, request.app.state.web.ctx, posted[0])
                return self.page(request, "renewed")

        return r
