"""Server-rendered pages: one jinja2 environment (autoescape on, StrictUndefined), the
language of the request, its CSRF token and the signed-in staff account in every template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page. ``context`` may override ``lang``; ``staff`` (the signed-in account or
    None) is filled in by the console's dependency when present."""
    web = request.app.state.web
    lang = context.pop("lang", None) or language(request)
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
    }
    values.update(context)
    response = HTMLResponse(_env.get_template(template).render(values), status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        secure = web.secure_cookies
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax", secure=secure)
    return response
