"""The console's sign-in, sign-out, set-password page and the accounts admin page
(``/console/login``, ``/console/logout``, ``/console/set-password``, ``/console/users``).
Sessions and role checks: :mod:`dsar.web.staff`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dsar.domain.accounts import Permission, Role, StaffAccount
from dsar.domain.errors import InvalidInput, LoginRefused, NotFound
from dsar.services import accounts
from dsar.web.forms import checked_form
from dsar.web.staff import check_rate, current_staff, now_of, require, safe_next, sign_in, sign_out, source_of, web_of
from dsar.web.templating import render

# The signed-in account of an accounts page or action (an admin).
Admin = Annotated[StaffAccount, Depends(require(Permission.MANAGE_ACCOUNTS))]
# The signed-in account that signs off (its own authenticator page; enrolment takes legal only).
Legal = Annotated[StaffAccount, Depends(require(Permission.SIGN_OFF))]

LOGIN_FAILED = "The name or password is not right, or the account is locked for now."


def _login_page(
    request: Request, status: int = 200, error: str | None = None, notice: str | None = None, nxt: str = "/console"
) -> Response:
    policy = web_of(request).ctx.policy
    return render(
        request,
        "console/login.html",
        status_code=status,
        error=error,
        notice=notice,
        next=nxt,
        max_failures=policy.login_max_failures,
        lockout_minutes=policy.login_lockout_minutes,
    )


def _set_password_page(
    request: Request, status: int = 200, error: str | None = None, problems: list[str] | None = None, token: str = ""
) -> Response:
    return render(
        request,
        "console/set_password.html",
        status_code=status,
        error=error,
        problems=problems or [],
        token=token,
        min_length=web_of(request).ctx.policy.password_min_length,
    )


def _users_page(request: Request, status: int = 200, **extra: object) -> Response:
    web = web_of(request)
    now = now_of(request)
    values: dict[str, object] = {"notice": None, "link": None, "link_for": None, "problems": []}
    values.update(extra)
    return render(
        request,
        "console/users.html",
        status_code=status,
        accounts=accounts.list_accounts(web.ctx),
        roles=[r.value for r in Role],
        now=now,
        today=now.astimezone(web.ctx.policy.timezone).date(),
        link_hours=web.ctx.policy.set_password_hours,
        **values,
    )


def _link(request: Request, token: str) -> str:
    return f"{web_of(request).settings.effective_web_url}/console/set-password#{token}"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> Response:
        if current_staff(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return _login_page(request, nxt=safe_next(next))

    @r.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await checked_form(request)
        check_rate(request, "login")
        nxt = safe_next(form.text("next"))
        name, password = form.text("name") or "", form.first("password") or ""
        try:
            account = accounts.authenticate(web_of(request).ctx, name, password, source=source_of(request))
        except LoginRefused:
            return _login_page(request, 401, error=LOGIN_FAILED, nxt=nxt)
        response = RedirectResponse(nxt, status_code=303)
        sign_in(request, response, account)
        return response

    @r.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await checked_form(request)
        account = current_staff(request)
        if account is not None:
            # Signing out ends every session of the account: a copied cookie stops working too.
            accounts.end_sessions(web_of(request).ctx, account.id, by=account.name, reason="signed out")
        response = _login_page(request, notice="You are signed out.")
        sign_out(request, response)
        return response

    @r.get("/set-password", include_in_schema=False)
    def set_password_form(request: Request) -> Response:
        return _set_password_page(request)

    @r.post("/set-password", include_in_schema=False)
    async def set_password(request: Request) -> Response:
        form = await checked_form(request)
        check_rate(request, "set-password")
        token = form.text("token") or ""
        password, again = form.first("password") or "", form.first("password2") or ""
        if password != again:
            return _set_password_page(request, 422, "The two passwords differ.", ["password2: not the same as password"], token)
        try:
            accounts.set_password(web_of(request).ctx, token, password)
        except InvalidInput as exc:
            bad_token = any(p.startswith("token:") for p in exc.problems)
            # A refused token is not echoed back; a weak password keeps the (still valid) token.
            return _set_password_page(request, 422, str(exc).splitlines()[0], list(exc.problems), "" if bad_token else token)
        response = _login_page(request, notice="Your password is set. Sign in with it.")
        sign_out(request, response)
        return response

    # --- the signed-in legal account's own authenticator --------------------------------------

    @r.get("/authenticator", include_in_schema=False)
    def authenticator(request: Request, staff: Legal) -> Response:
        return render(request, "console/authenticator.html", uri=None, problems=[])

    @r.post("/authenticator", include_in_schema=False)
    async def authenticator_enrol(request: Request, staff: Legal) -> Response:
        import segno

        await checked_form(request)
        try:
            enrolled = accounts.enrol_totp(web_of(request).ctx, staff.name, by=staff.name)
        except InvalidInput as exc:
            return render(request, "console/authenticator.html", status_code=422, uri=None, problems=list(exc.problems))
        qr = segno.make(enrolled.uri, error="m")
        scale = 5
        return render(
            request,
            "console/authenticator.html",
            uri=enrolled.uri,
            secret=enrolled.secret,
            qr=qr.svg_data_uri(scale=scale),
            qr_size=qr.symbol_size(scale=scale)[0],
            problems=[],
        )

    # --- accounts (admin) ------------------------------------------------------------------

    @r.get("/users", include_in_schema=False)
    def users(request: Request, staff: Admin) -> Response:
        return _users_page(request)

    @r.post("/users/add", include_in_schema=False)
    async def users_add(request: Request, staff: Admin) -> Response:
        form = await checked_form(request)
        try:
            new = accounts.add_user(web_of(request).ctx, form.text("name") or "", form.text("role") or "", by=staff.name)
        except InvalidInput as exc:
            return _users_page(request, 422, problems=list(exc.problems))
        return _users_page(
            request, notice=f"Account {new.account.name} added.", link=_link(request, new.set_password_token), link_for=new.account.name
        )

    def _action(request: Request, done: str) -> Response:
        return _users_page(request, notice=done)

    @r.post("/users/{name}/role", include_in_schema=False)
    async def users_role(request: Request, name: str, staff: Admin) -> Response:
        form = await checked_form(request)
        try:
            a = accounts.set_role(web_of(request).ctx, name, form.text("role") or "", by=staff.name)
        except InvalidInput as exc:
            return _users_page(request, 422, problems=list(exc.problems))
        return _action(request, f"{a.name} is now {a.role.value}.")

    @r.post("/users/{name}/deactivate", include_in_schema=False)
    async def users_deactivate(request: Request, name: str, staff: Admin) -> Response:
        await checked_form(request)
        try:
            a = accounts.deactivate(web_of(request).ctx, name, by=staff.name)
        except InvalidInput as exc:
            return _users_page(request, 422, problems=list(exc.problems))
        return _action(request, f"{a.name} is deactivated.")

    @r.post("/users/{name}/training", include_in_schema=False)
    async def users_training(request: Request, name: str, staff: Admin) -> Response:
        form = await checked_form(request)
        try:
            on = date.fromisoformat(form.text("on") or "")
        except ValueError:
            return _users_page(request, 422, problems=["on: a date (YYYY-MM-DD)"])
        try:
            a = accounts.record_training(web_of(request).ctx, name, on, by=staff.name)
        except InvalidInput as exc:
            return _users_page(request, 422, problems=list(exc.problems))
        return _action(request, f"Training of {a.name} recorded.")

    @r.post("/users/{name}/reset-password", include_in_schema=False)
    async def users_reset(request: Request, name: str, staff: Admin) -> Response:
        await checked_form(request)
        try:
            token = accounts.password_reset_token(web_of(request).ctx, name, by=staff.name)
        except InvalidInput as exc:
            return _users_page(request, 422, problems=list(exc.problems))
        return _users_page(request, notice="A new set-password link was made.", link=_link(request, token), link_for=name)

    @r.post("/users/{name}/end-sessions", include_in_schema=False)
    async def users_end_sessions(request: Request, name: str, staff: Admin) -> Response:
        await checked_form(request)
        found = accounts.find_account(web_of(request).ctx, name)
        if found is None:
            raise NotFound("no staff account of this name")
        accounts.end_sessions(web_of(request).ctx, found.id, by=staff.name, reason="ended by an administrator")
        return _action(request, f"Every session of {found.name} is ended.")

    return r
