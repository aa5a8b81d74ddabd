"""Reading a submitted HTML form safely: one place that checks, before any field is used,
that the body is ``application/x-www-form-urlencoded``, valid UTF-8, and carries a CSRF token
that verifies against the browser cookie.

    form = await checked_form(request)      # raises HTTPException 400/403/415
    name = field(form, "name")
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException
from starlette.requests import Request

from dsar.web.security import CSRF_FIELD, csrf_valid

MAX_FIELDS = 200


class Form(dict[str, list[str]]):
    """A parsed form: every name with all the values given for it."""

    def first(self, name: str) -> str | None:
        values = self.get(name)
        return values[0] if values else None

    def text(self, name: str) -> str | None:
        """The first value, stripped; None when empty."""
        value = self.first(name)
        return value.strip() or None if value is not None else None

    def all(self, name: str) -> list[str]:
        return [v for v in self.get(name, []) if v.strip()]


async def checked_form(request: Request) -> Form:
    form = await read_form(request)
    web = request.app.state.web
    if not csrf_valid(request, web.session_key, form.first(CSRF_FIELD)):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page and send it again")
    return form


async def read_form(request: Request) -> Form:
    """The form's fields, checked for type, encoding and size but not for a CSRF token: only for
    a page that changes nothing (the account login posting back from another site, whose post
    carries no dsar cookie; see dsar.web.verify)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "forms are sent as application/x-www-form-urlencoded")
    body = await request.body()
    try:
        text = body.decode("utf-8", errors="strict")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not valid UTF-8") from None
    except ValueError:
        raise HTTPException(400, "the form has too many fields") from None
    form = Form()
    for k, v in pairs:
        form.setdefault(k, []).append(v)
    return form
