"""Every POST of the console refuses a missing, forged or foreign CSRF token with 403 before
anything is read, and nothing changes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dsar.domain.accounts import Role
from dsar.services import queries
from tests.web.console_fixtures import NAMES, Console, console, login
from tests.web.test_console_roles import TABLE

__all__ = ["console"]

POSTS = [(path, data) for method, path, _, data in TABLE if method == "POST"]


def forged(token: str) -> str:
    body, _, mac = token.partition(".")
    return f"{body}.{'A' * len(mac)}"


@pytest.mark.parametrize(("path", "data"), POSTS, ids=[p for p, _ in POSTS])
def test_missing_or_forged_tokens_are_refused_and_nothing_changes(console: Console, path: str, data: dict[str, str]) -> None:
    console.sign_in(Role.ADMIN)
    r = console.log()
    url = path.replace("{ref}", r.reference)
    good = console.csrf(f"/console/requests/{r.reference}")
    before = (console.kinds(r.reference), len(queries.request_list(console.app.ctx)))
    for token in ("", forged(good), "not-a-token"):
        answer = console.post(url, data, token=token)
        assert answer.status_code == 403, (token, answer.status_code)
        assert "the form expired or did not come from this site" in answer.text
    answer = console.client.post(url, data=data or {"nothing": ""}, follow_redirects=False)  # no token field at all
    assert answer.status_code == 403
    assert (console.kinds(r.reference), len(queries.request_list(console.app.ctx))) == before
    assert console.orchestrator.started == [] and console.orchestrator.resumed == []


def test_a_token_from_another_browser_is_refused(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    theirs = console.csrf(f"/console/requests/{r.reference}")
    with TestClient(console.client.app, base_url="http://testserver") as other:
        assert login(other, NAMES[Role.SUPPORT]).status_code == 303  # the same person, another browser
        answer = other.post(f"/console/requests/{r.reference}/hold", data={"reason": "x", "csrf_token": theirs}, follow_redirects=False)
    assert answer.status_code == 403
    assert not queries.lookup(console.app.ctx, r.reference).on_hold


def test_a_form_that_is_not_urlencoded_is_refused(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log()
    token = console.csrf(f"/console/requests/{r.reference}")
    answer = console.client.post(
        f"/console/requests/{r.reference}/hold", files={"reason": ("r.txt", b"x")}, data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 415
    assert not queries.lookup(console.app.ctx, r.reference).on_hold
