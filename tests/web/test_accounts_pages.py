"""The set-password page and the accounts admin page (/console/users)."""

from __future__ import annotations

import re
from datetime import timedelta

from httpx import Response

from dsar.domain.accounts import Role
from dsar.services import accounts
from tests.web.accounts_fixtures import AccountsWeb, login, post_form, site

__all__ = ["site"]

NEW_PASSWORD = "another long password"


def set_password(site: AccountsWeb, token: str, password: str = NEW_PASSWORD, again: str | None = None) -> Response:
    fields = {"token": token, "password": password, "password2": password if again is None else again}
    return post_form(site.client, "/console/set-password", fields)


def test_the_set_password_page_works_without_inline_script(site: AccountsWeb) -> None:
    r = site.client.get("/console/set-password")
    assert r.status_code == 200 and 'name="token"' in r.text
    assert '<script src="/static/console-set-password.js"></script>' in r.text and "<script>" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"] and r.headers["referrer-policy"] == "no-referrer"
    js = site.client.get("/static/console-set-password.js")
    assert js.status_code == 200 and "location.hash" in js.text


def test_a_token_sets_the_password_once_and_then_the_account_signs_in(site: AccountsWeb) -> None:
    new = accounts.add_user(site.ctx, "alice", Role.SUPPORT, by="test")
    r = set_password(site, new.set_password_token)
    assert r.status_code == 200 and "Your password is set" in r.text
    assert login(site.client, "alice", NEW_PASSWORD).status_code == 303
    r = set_password(site, new.set_password_token, "yet another long password")
    assert r.status_code == 422 and "not valid" in r.text
    assert new.set_password_token not in r.text
    assert login(site.client, "alice", "yet another long password").status_code == 401


def test_an_expired_token_is_refused_and_nothing_changes(site: AccountsWeb) -> None:
    new = accounts.add_user(site.ctx, "alice", Role.SUPPORT, by="test")
    site.clock.advance(hours=72)
    r = set_password(site, new.set_password_token)
    assert r.status_code == 422 and "token: unknown, used or expired" in r.text
    found = accounts.find_account(site.ctx, "alice")
    assert found is not None and not found.password_set


def test_a_weak_or_mismatched_password_keeps_the_token_usable(site: AccountsWeb) -> None:
    new = accounts.add_user(site.ctx, "alice", Role.SUPPORT, by="test")
    r = set_password(site, new.set_password_token, "short")
    assert r.status_code == 422 and "password: at least 12 characters" in r.text
    r = set_password(site, new.set_password_token, NEW_PASSWORD, "something else entirely")
    assert r.status_code == 422 and "password2: not the same as password" in r.text
    assert set_password(site, new.set_password_token).status_code == 200


def test_set_password_without_a_csrf_token_is_refused(site: AccountsWeb) -> None:
    new = accounts.add_user(site.ctx, "alice", Role.SUPPORT, by="test")
    site.client.get("/console/set-password")
    fields = {"token": new.set_password_token, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    r = site.client.post("/console/set-password", data=fields)
    assert r.status_code == 403
    found = accounts.find_account(site.ctx, "alice")
    assert found is not None and not found.password_set


def admin(site: AccountsWeb) -> None:
    site.user("root", Role.ADMIN)
    assert login(site.client, "root").status_code == 303


def test_the_admin_adds_an_account_and_sees_its_link_once(site: AccountsWeb) -> None:
    admin(site)
    r = post_form(site.client, "/console/users/add", {"name": "sam", "role": "support"}, page="/console/users")
    assert r.status_code == 200 and "Account sam added." in r.text
    m = re.search(r'value="http://127\.0\.0\.1:8000/console/set-password#([^"]+)"', r.text)
    assert m
    assert m.group(1) not in site.client.get("/console/users").text
    assert accounts.set_password(site.ctx, m.group(1), NEW_PASSWORD).name == "sam"
    assert ("StaffAccountAdded", {"account": "sam", "role": "support", "by": "root"}) in site.staff_events()


def test_the_admin_page_refuses_bad_input_naming_the_field(site: AccountsWeb) -> None:
    admin(site)
    r = post_form(site.client, "/console/users/add", {"name": "<script>x</script>", "role": "support"}, page="/console/users")
    assert r.status_code == 422 and "name: 1 to 64 letters" in r.text and "<script>x" not in r.text
    r = post_form(site.client, "/console/users/add", {"name": "sam", "role": "root"}, page="/console/users")
    assert r.status_code == 422 and "role: one of" in r.text
    assert [a.name for a in accounts.list_accounts(site.ctx)] == ["root"]


def test_the_admin_changes_roles_records_training_ends_sessions_and_deactivates(site: AccountsWeb) -> None:
    admin(site)
    site.user("sam", Role.SUPPORT)
    r = post_form(site.client, "/console/users/sam/role", {"role": "legal"}, page="/console/users")
    assert r.status_code == 200 and "sam is now legal" in r.text
    day = (site.clock.now - timedelta(days=3)).date().isoformat()
    r = post_form(site.client, "/console/users/sam/training", {"on": day}, page="/console/users")
    assert r.status_code == 200 and day in r.text
    r = post_form(site.client, "/console/users/sam/training", {"on": "not a date"}, page="/console/users")
    assert r.status_code == 422 and "on: a date" in r.text
    r = post_form(site.client, "/console/users/sam/end-sessions", {}, page="/console/users")
    assert r.status_code == 200
    r = post_form(site.client, "/console/users/sam/reset-password", {}, page="/console/users")
    assert r.status_code == 200 and "/console/set-password#" in r.text
    r = post_form(site.client, "/console/users/sam/deactivate", {}, page="/console/users")
    assert r.status_code == 200 and "sam is deactivated" in r.text
    sam = accounts.find_account(site.ctx, "sam")
    assert sam is not None and sam.role is Role.LEGAL and not sam.active and sam.trained_on is not None
    kinds = [k for k, _ in site.staff_events()]
    for kind in ("StaffRoleChanged", "StaffTrainingRecorded", "StaffSessionsEnded", "StaffPasswordResetIssued", "StaffDeactivated"):
        assert kind in kinds
    # The last admin cannot demote themself.
    r = post_form(site.client, "/console/users/root/role", {"role": "support"}, page="/console/users")
    assert r.status_code == 422 and "last active admin" in r.text


def test_an_admin_action_without_csrf_changes_nothing(site: AccountsWeb) -> None:
    admin(site)
    site.user("sam", Role.SUPPORT)
    r = site.client.post("/console/users/sam/role", data={"role": "admin"}, follow_redirects=False)
    assert r.status_code == 403
    sam = accounts.find_account(site.ctx, "sam")
    assert sam is not None and sam.role is Role.SUPPORT


def test_a_signed_out_admin_action_redirects_and_changes_nothing(site: AccountsWeb) -> None:
    site.user("root", Role.ADMIN)
    site.user("sam", Role.SUPPORT)
    r = post_form(site.client, "/console/users/sam/deactivate", {})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    sam = accounts.find_account(site.ctx, "sam")
    assert sam is not None and sam.active
