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
    ("POST", "/console/requests/{ref}/package-link", C, {}),
    ("POST", "/console/requests/{ref}/sign-off", S, {"decision": "approve", "note": "ok"}),
    ("POST", "/console/requests/{ref}/approve-letter", S, {"decision": "approve", "code": "1"}),
    ("POST", "/console/requests/{ref}/verify-by-hand", S, {"evidence": "called back on the number on file", "code": "123456"}),
    ("POST", "/console/requests/{ref}/resolve-escalation", S, {"number": "1", "decision": "proceed", "code": "123456"}),
    ("GET", "/console/requests/{ref}/letter-preview", V, {}),
    ("GET", "/console/legal", V, {}),
    ("POST", "/console/requests/{ref}/withdraw", C, {"reason": "subject withdrew"}),
]
LET_IN = {200, 303, 409, 422}


def console_routes() -> set[tuple[str, str]]:
    """The console's own routes (the accounts' router it includes is left to its tests)."""
    from dsar.web import console as console_module

    found = set()
    for route in console_module.router().routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, "/console" + route.path))
    return found


# The accounts' pages (sign-in, sign-out, set-password, the admin's accounts page) are
# checked by their own tests (tests/web/test_accounts_*.py).
ACCOUNTS_PAGES = ("/console/login", "/console/logout", "/console/set-password", "/console/users")


def test_the_table_names_every_console_route(console: Console) -> None:
    casework = {(m, p) for m, p in console_routes() if not p.startswith(ACCOUNTS_PAGES)}
    assert casework - {(m, p) for m, p, _, _ in TABLE} == set()
    assert {(m, p) for m, p, _, _ in TABLE} <= casework


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
            answer = console.post(url, data, token=console.csrf(f"/console/requests/{r.reference}"))
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
    console.sign_in(Role.SUPPORT)
    answer = console.post(f"/console/requests/{r.reference}/sign-off", {"decision": "approve"})
    assert answer.status_code == 403 and "the support role does not allow this" in answer.text
    console.sign_in(Role.AUDITOR)
    assert console.post(f"/console/requests/{r.reference}/hold", {"reason": "x"}).status_code == 403
    assert console.post("/console/requests/new", {"type": "access"}).status_code == 403
    assert console.client.get("/console/requests/new").status_code == 403
    assert "HoldChanged" not in console.kinds(r.reference)


def test_signed_out_every_route_sends_to_the_login_page_and_nothing_changes(console: Console) -> None:
    r = console.log()
    before = console.kinds(r.reference)
    console.sign_out()
    console.client.get("/console/login")  # a browser cookie, so a refusal is not about CSRF
    for method, path, _, data in TABLE:
        url = path.replace("{ref}", r.reference)
        answer = (
            console.client.request(method, url, data=data or {"nothing": ""}, follow_redirects=False)
            if method == "POST"
            else console.client.get(url, follow_redirects=False)
        )
        assert answer.status_code == 303, f"{method} {path}: {answer.status_code}"
        assert answer.headers["location"].startswith("/console/login?next=/console"), answer.headers["location"]
    assert console.kinds(r.reference) == before
