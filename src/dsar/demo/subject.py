"""The demo's subject: opens the verification letter in the outbox (as from a mailbox) and
proves who they are on the web app's pages, over HTTP like a browser: follows the single-use
link, gives the data points the level asks for (as the demo shop holds them) and signs the
declaration. Nothing here reaches into the engine: the web app judges and wakes the run."""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SESSION = re.compile(r'name="session" value="([^"]+)"')
_POINT = re.compile(r'name="point_([a-z]+)"')
_NEEDED = re.compile(r'data-needed="(\d+)"')
# What the subject gives first: details that do not change while the demo corrects a phone.
_PREFERRED = ("postcode", "street", "city", "phone")


def _held(shop: Path, email: str) -> dict[str, str]:
    """What the demo shop holds on a customer: the subject remembers their own details."""
    with sqlite3.connect(f"file:{shop}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT c.phone, a.street, a.city, a.postcode FROM customer c LEFT JOIN address a ON a.id = c.address_id "
            "WHERE lower(c.email) = lower(?)",
            (email,),
        ).fetchone()
    if row is None:
        return {}
    return {k: str(v) for k, v in zip(("phone", "street", "city", "postcode"), row, strict=True) if v}


def _token(page: str, pattern: re.Pattern[str]) -> str:
    m = pattern.search(page)
    return html.unescape(m.group(1)) if m else ""


def prove(outbox: Path, reference: str, email: str, shop: Path, name: str, *, timeout: float = 30.0) -> str:
    """Act as the subject of ``reference``; returns the last page's outcome word (``done``,
    ``legal``, ``refused``, ``invalid`` or ``nothing`` when no letter came)."""
    from dsar.demo.run import latest_link

    link = latest_link(outbox, reference)
    if link is None:
        return "nothing"
    held = _held(shop, email)
    with httpx.Client(timeout=timeout, follow_redirects=False) as web:
        page = web.get(link).text
        page = web.post(link, data={"csrf_token": _token(page, _CSRF), "confirm": "yes"}).text
        for _ in range(4):
            if 'action="/verify/points"' in page:
                asked = set(_POINT.findall(page))
                needed = int(_token(page, _NEEDED) or "1")
                chosen = [p for p in _PREFERRED if p in asked and p in held][:needed]
                given = {f"point_{p}": held[p] for p in chosen}
                data = {"csrf_token": _token(page, _CSRF), "session": _token(page, _SESSION), **given}
                page = web.post(f"{link.split('/verify/', 1)[0]}/verify/points", data=data).text
            elif 'action="/verify/declaration"' in page:
                data = {"csrf_token": _token(page, _CSRF), "session": _token(page, _SESSION), "full_name": name, "agree": "yes"}
                page = web.post(f"{link.split('/verify/', 1)[0]}/verify/declaration", data=data).text
            else:
                break
    for word in ("done", "legal", "refused", "invalid"):
        if f'data-view="{word}"' in page:
            return word
    return "unknown"
