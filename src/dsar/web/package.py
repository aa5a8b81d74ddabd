"""The access package's download page (``/package``), reached by the single-use link in the access
letter.

The link carries its secret in the URL fragment (``/package?lang=LANG#TOKEN``: the page in the
letter's language), which browsers never send to a server: the page's script copies it into the
form (without JavaScript the person pastes it). Step one mails a fresh one-time code to the
address the request was verified with; step two takes the code and streams the zip, decrypted
chunk by chunk as it goes out. The link is spent when a download **finishes** (its last bytes
are handed over only then), and after too many wrong codes; a download interrupted halfway
leaves it working, within the starts a link allows (each after a fresh code). A used, deleted or
used-up link gets a page saying which, without naming the request; an unknown, altered or
replaced link gets the expired link's page.

The steps, the CSRF check, the rate limit and the pages are :mod:`dsar.web.link_page`'s; this
module gives what differs.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response, StreamingResponse

from dsar.domain.packages import CodeRefusal, LinkRefusal
from dsar.services import package
from dsar.web.link_page import LinkPage
from dsar.web.ratelimit import Limit

# Code requests and download attempts per source address per hour.
PACKAGE_LIMIT = Limit(20, 3600)


def _ends_link(why: LinkRefusal | CodeRefusal) -> str | None:
    if isinstance(why, CodeRefusal):
        return "used" if why is CodeRefusal.TOO_MANY else None  # the last wrong code spends the link
    # An unknown, altered or replaced link gets the expired link's page: the page never tells a
    # guessed or tampered token from one that once worked.
    return LinkRefusal.EXPIRED.value if why is LinkRefusal.UNKNOWN else why.value


def _stream(got: package.Download) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{got.filename}"',
        "Content-Length": str(got.size),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(got.chunks, media_type="application/zip", headers=headers)


PAGE: LinkPage[LinkRefusal | CodeRefusal, package.Download] = LinkPage(
    part="package",
    opens="download",
    limit=PACKAGE_LIMIT,
    send_failed="package.mail_failed",
    send_code=package.send_code,
    open=package.open_download,
    opened=package.Download,
    answer=_stream,
    ends_link=_ends_link,
    renew=package.renew_link,
    # an unknown link gets the expired page, and its button: the answer is the same
    renewable=frozenset({LinkRefusal.EXPIRED.value, LinkRefusal.STARTS.value, LinkRefusal.USED.value}),
)


def router() -> APIRouter:
    return PAGE.router()
