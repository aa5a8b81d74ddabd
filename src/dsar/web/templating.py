"""Server-rendered pages: one jinja2 environment (autoescape on, StrictUndefined), the
language of the request, its CSRF token and the signed-in staff account in every template,
and the language switch's links (:func:`switch_href`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from dsar.domain.accounts import Permission, allows
from dsar.web.i18n import LANGUAGES, Translator, negotiate
from dsar.web.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.cookies.get("lang"), request.headers.get("accept-language"))


def switch_href(request: Request, lang: str, path: str | None = None, keep: Mapping[str, str] | None = None) -> str:
    """The language switch's link to this page in ``lang``: the address's query with only
    ``lang`` replaced (and ``keep`` set, for what a page holds that its address does not), as a
    query alone (``?appeal_of=DSR-…&lang=de``: the same path), or on ``path`` for a page that
    answered a post (its address cannot be fetched). Values are percent-encoded (the template
    escapes the rest). A fragment never reaches the server: the pages whose secret rides in it
    carry it over with their script (``/static/package.js``)."""
    keep = keep or {}
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang" and k not in keep]
    params += [(k, v) for k, v in keep.items() if v]
    params.append(("lang", lang))
    return f"{path or ''}?{urlencode(params, quote_via=quote)}"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page. ``context`` may override ``lang``; ``staff`` (the signed-in account or
    None) is filled in by the console's dependency when present. For the language switch
    (``public/_lang.html``, :func:`switch_href`): ``switch_path`` (a page answering a post: the
    page to switch to), ``switch_keep`` (query parameters to set), ``switch_post`` (``(action,
    {field: value})``: the switch posts these with the CSRF token, for a page whose state lives
    only in a form)."""
    web = request.app.state.web
    lang = context.pop("lang", None) or language(request)
    switch_path: str | None = context.pop("switch_path", None)
    switch_keep: Mapping[str, str] | None = context.pop("switch_keep", None)
    staff = getattr(request.state, "staff", None)
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": LANGUAGES,
        "t": Translator(lang),
        "csrf_token": csrf_token(request, web.session_key),
        "staff": staff,
        # can("log_request"): whether the signed-in role allows it (links and actions shown by it)
        "can": lambda permission: staff is not None and allows(staff.role, Permission(permission)),
        "organisation": web.settings.organisation_name,
        "switch_href": lambda code: switch_href(request, code, switch_path, switch_keep),
        "switch_post": None,
    }
    values.update(context)
    response = HTMLResponse(_env.get_template(template).render(values), status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        secure = web.secure_cookies
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax", secure=secure)
    return response
