"""Every console route against every role: let in (200/303, or 409/422 when the request is
not in a state for that action) when the role allows it, 403 and nothing written when not.
The table is written here, apart from the code: a new console route missing from it fails."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route

from dsar.domain.accounts import ROLE_PERMISSIONS, Permission, Role
from tests.web.console_fixtures import Console, console

__all__ = ["console"]

V, L, C, R, S, E = (
    Permission.VIEW_REQUESTS,
    Permission.LOG_REQUEST,
    Permission.CASEWORK,
    Permission.REVEAL_SUBJECT,
    Permission.SIGN_OFF,
    Permission.EXPORT_EVIDENCE,
)
# (method, path, permission, form data)
TABLE: list[tuple[str, str, Permission, dict[str, str]]] = [
    ("GET", "/console", V, {}),
    ("GET", "/console/requests/new", L, {}),
    (
        "POST",
        "/console/requests/new",
        L,
        {"type": "access", "regime": "gdpr", "country": "DE", "channel": "phone", "name": "Max Mustermann", "email": "max@example.com"},
    ),
    ("GET", "/console/requests/{ref}", V, {}),
    ("GET", "/console/requests/{ref}/plan", V, {}),
    ("POST", "/console/requests/{ref}/reveal", R, {}),
    ("POST", "/console/requests/{ref}/evidence", E, {}),
    ("POST", "/console/requests/{ref}/hold", C, {"reason": "waiting"}),
    ("POST", "/console/requests/{ref}/release", C, {"reason": "done waiting"}),
    ("POST", "/console/requests/{ref}/extend", C, {"reason": "complex"}),
    ("POST", "/console/requests/{ref}/pause-clock", C, {"reason": "asked for ID"}),
    ("POST", "/console/requests/{ref}/restart-clock", C, {}),
    ("POST", "/console/requests/{ref}/acknowledge", C, {"how": "phone"}),
    ("POST", "/console/requests/{ref}/run", C, {}),
    ("POST", "/console/requests/{ref}/note", C, {"text": "a note"}),
    ("POST", "/console/requests/{ref}/flag", C, {"reason": "solicitor"}),
    ("POST", "/console/requests/{ref}/unflag", C, {"reason": "settled"}),
    ("POST", "/console/requests/{ref}/verify", C, {"code": "123456"}),
    ("POST", "/console/requests/{ref}/confirm", C, {"system": "shop", "outcome": "done", "records": "1"}),
    ("POST", "/console/requests/{ref}/sign-off", S, {"decision": "approve", "note": "ok"}),
    ("POST", "/console/requests/{ref}/withdraw", C, {"reason": "subject withdrew"}),
]
LET_IN = {200, 303, 409, 422}


def console_routes(console: Console) -> set[tuple[str, str]]:
    found = set()
    for route in console.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/console"):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, route.path))
    return found


def test_the_table_names_every_console_route(console: Console) -> None:
    assert console_routes(console) - {(m, p) for m, p, _, _ in TABLE} == set()


def test_the_accounts_routes_are_not_in_the_casework_table(console: Console) -> None:
    # sign-in pages (the accounts' part) are open to everyone; checked by their own tests
    assert all("login" not in p for _, p, _, _ in TABLE)


@pytest.mark.parametrize("role", list(Role))
def test_every_route_lets_in_exactly_the_roles_allowed(console: Console, role: Role) -> None:
    console.sign_in(role)
    wrong: list[str] = []
    for method, path, permission, data in TABLE:
        r = console.log()
        url = path.replace("{ref}", r.reference)
        before = console.kinds(r.reference)
        if method == "GET":
            answer: Any = console.client.get(url, follow_redirects=False)
        else:
            console.sign_in(Role.ADMIN)  # a token from a page this browser may see
            token = console.csrf(f"/console/requests/{r.reference}")
            console.sign_in(role)
            answer = console.post(url, data, token=token)
        allowed = permission in ROLE_PERMISSIONS[role]
        if allowed and answer.status_code not in LET_IN:
            wrong.append(f"{method} {path}: {answer.status_code}, expected to be let in")
        if not allowed:
            if answer.status_code != 403:
                wrong.append(f"{method} {path}: {answer.status_code}, expected 403")
            if console.kinds(r.reference) != before:
                wrong.append(f"{method} {path}: refused but the audit trail changed")
    assert wrong == []


def test_support_is_refused_sign_off_and_auditors_casework_and_logging(console: Console) -> None:
    assert Permission.SIGN_OFF not in ROLE_PERMISSIONS[Role.SUPPORT]
    assert not {Permission.CASEWORK, Permission.LOG_REQUEST} & ROLE_PERMISSIONS[Role.AUDITOR]
    r = console.log()
    console.sign_in(Role.ADMIN)
    token = console.csrf(f"/console/requests/{r.reference}")
    console.sign_in(Role.SUPPORT)
    assert console.post(f"/console/requests/{r.reference}/sign-off", {"decision": "approve"}, token=token).status_code == 403
    console.sign_in(Role.AUDITOR)
    assert console.post(f"/console/requests/{r.reference}/hold", {"reason": "x"}, token=token).status_code == 403
    assert console.post("/console/requests/new", {"type": "access"}, token=token).status_code == 403
    assert console.client.get("/console/requests/new").status_code == 403


def test_signed_out_nobody_gets_in(console: Console) -> None:
    r = console.log()
    console.sign_out()
    for method, path, _, data in TABLE:
        url = path.replace("{ref}", r.reference)
        answer = console.client.request(method, url, data=data or None, follow_redirects=False)
        assert answer.status_code in (303, 401), f"{method} {path}: {answer.status_code}"
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/console/login")
