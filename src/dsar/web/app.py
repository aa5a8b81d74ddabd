"""The web app: ``create_app(web)`` -> FastAPI with the public form (``/``), the staff console
(``/console``) and the JSON API (``/api``, schema at ``/api/docs``).

Errors: under ``/api`` an RFC 9457 problem document (``application/problem+json``), elsewhere
an error page in the visitor's language. Messages name fields, never the values given.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from dsar.app import App
from dsar.domain.errors import DsarError, InvalidInput, NotFound
from dsar.services.orchestration import Orchestrator
from dsar.web.context import WebContext
from dsar.web.templating import STATIC_DIR, render

PROBLEM = "application/problem+json"


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def problem(status: int, detail: str, problems: list[str] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def error_response(
    request: Request, status: int, detail: str, problems: list[str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    if _is_api(request.url.path):
        return problem(status, detail, problems, headers)
    response = render(request, "error.html", status_code=status, status=status, detail=detail, problems=problems or [])
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def create_app(web: WebContext) -> FastAPI:
    from dsar.web import api, console, letter_link, public, verify
    from dsar.web import package as package_page

    fastapi = FastAPI(
        title="dsar",
        summary="Data-subject requests: the helpdesk API",
        docs_url=None,  # /api/docs: dsar.web.api's page, rendered on the server (Swagger UI's CDN script breaks the CSP)
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    fastapi.state.web = web

    async def too_large(scope: Scope) -> Response:
        return error_response(Request(scope), 413, "the request is too large")

    from dsar.web.security import SecurityMiddleware

    fastapi.add_middleware(
        SecurityMiddleware, max_body=web.settings.web_max_body_bytes, secure_cookies=web.secure_cookies, too_large=too_large
    )

    @fastapi.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return error_response(request, 422, str(exc), list(exc.problems or []))

    @fastapi.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return error_response(request, 404, "not found")

    @fastapi.exception_handler(DsarError)
    async def _dsar_error(request: Request, exc: DsarError) -> Response:
        return error_response(request, 409, str(exc))

    @fastapi.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return error_response(request, 422, "the request is malformed", problems)

    @fastapi.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(request, exc.status_code, detail, headers=dict(exc.headers or {}))

    @fastapi.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never the exception's text: it may carry what a visitor typed.
        return error_response(request, 500, f"internal error ({type(exc).__name__})")

    fastapi.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    fastapi.include_router(public.router(), include_in_schema=False)
    fastapi.include_router(package_page.router(), include_in_schema=False)
    fastapi.include_router(letter_link.router(), include_in_schema=False)
    fastapi.include_router(verify.router(), include_in_schema=False)
    fastapi.include_router(console.router(), prefix="/console", include_in_schema=False)
    fastapi.include_router(api.router(), prefix="/api")
    return fastapi


def build_web(app: App, orchestrator: Orchestrator | None) -> WebContext:
    """The web app's context for an entry point (``dsar serve``, the demo): session cookies and
    CSRF tokens signed with a key derived from the app's master key (``web-session``), cookies
    Secure when ``DSAR_WEB_SECURE_COOKIES`` is set."""
    from dsar.app import build_key_provider

    keys = build_key_provider(app.settings)
    return WebContext(app, orchestrator, keys.derive("web-session"), secure_cookies=app.settings.web_secure_cookies)
