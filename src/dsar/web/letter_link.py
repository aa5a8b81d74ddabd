"""The page behind a letter's link (``/letter``), for a subject reached by text message only
(:mod:`dsar.services.letter_links`).

The link carries its secret in the URL fragment (``/letter?lang=LANG#TOKEN``: the page in the
letter's language), which browsers never send to a server: the page's script copies it into the
form (without JavaScript the person pastes it). Step one texts a fresh one-time code to the
number on file; step two takes the code and answers with the letter's PDF. A forged, mistyped or
expired link gets the same page ("no longer works"), never naming the request, with "Text me
the link again" (``POST /letter/renew``: the text goes again to the number on file and the link
works again, :func:`dsar.services.letter_links.renew_link`; the same answer whether it went).

The steps, the CSRF check, the rate limit and the pages are :mod:`dsar.web.link_page`'s; this
module gives what differs.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from dsar.domain.letter_links import CodeProblem, LinkProblem
from dsar.services import letter_links
from dsar.web.link_page import LinkPage
from dsar.web.ratelimit import Limit

# Code requests and openings per source address per hour.
LETTER_LIMIT = Limit(20, 3600)


def _ends_link(why: LinkProblem | CodeProblem) -> str | None:
    if isinstance(why, CodeProblem):
        return None
    # An unknown (forged, mistyped) link gets the expired link's page: the page never tells a
    # guessed token from one that once worked.
    return "too_many_codes" if why is LinkProblem.TOO_MANY_CODES else "expired"


def _pdf(got: letter_links.LetterFile) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{got.filename}"', "Cache-Control": "no-store"}
    return Response(got.content, media_type="application/pdf", headers=headers)


PAGE: LinkPage[LinkProblem | CodeProblem, letter_links.LetterFile] = LinkPage(
    part="letter",
    opens="open",
    limit=LETTER_LIMIT,
    send_failed="letter.text_failed",
    send_code=letter_links.send_code,
    open=letter_links.open_letter,
    opened=letter_links.LetterFile,
    answer=_pdf,
    ends_link=_ends_link,
    renew=letter_links.renew_link,
    # an unknown link gets the expired page, and its button: the answer is the same
    renewable=frozenset({"expired", "too_many_codes"}),
)


def router() -> APIRouter:
    return PAGE.router()
