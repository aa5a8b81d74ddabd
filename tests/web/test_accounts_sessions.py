"""Signing in and out of the console, lock-out, CSRF, and what makes a session cookie stop
working (expiry, tampering, a new epoch, deactivation); role checks on /console/users."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dsar.domain.accounts import Role
from dsar.services import accounts
from dsar.web.security import SESSION_COOKIE
from dsar.web.signing import sign
from tests.web.accounts_fixtures import PASSWORD, AccountsWeb, csrf_from, login, make_accounts_web, post_form, site

__all__ = ["site"]


def signed_in(site: AccountsWeb) -> bool:
    r = site.client.get("/console/users", follow_redirects=False)
    return r.status_code == 200


def test_the_login_page_has_a_form_with_a_csrf_token(site: AccountsWeb) -> None:
    r = site.client.get("/console/login")
    assert r.status_code == 200 and 'action="/console/login"' in r.text and csrf_from(r.text)
    assert 'autocomplete="current-password"' in r.text and "<script>" not in r.text


def test_a_good_login_sets_an_httponly_lax_session_cookie_and_redirects(site: AccountsWeb) -> None:
    alice = site.user("alice", Role.ADMIN)
    r = login(site.client, "alice")
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    low = cookie.lower()
    assert "httponly" in low and "samesite=lax" in low and "path=/console" in low and "max-age=28800" in low
    assert "secure" not in low  # web_secure_cookies is off by default
    assert signed_in(site)
    page = site.client.get("/console/users").text
    assert "Signed in as <strong>alice</strong> (admin)" in page
    found = accounts.get_account(site.ctx, alice.id)
    assert found is not None and found.last_login_at == site.clock.now
    assert site.staff_events()[-1] == ("StaffLoggedIn", {"account": "alice", "source": "testclient"})


def test_secure_cookies_when_configured(tmp_path: Path) -> None:
    s = make_accounts_web(tmp_path / "home", secure_cookies=True)
    with s.client:
        s.user("alice", Role.ADMIN)
        r = login(s.client, "alice")
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
        assert "secure" in cookie.lower()
    s.app.engine.dispose()


def test_a_login_goes_back_to_the_console_page_asked_for_and_never_elsewhere(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    r = site.client.get("/console/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/users"
    r = post_form(site.client, "/console/login", {"name": "alice", "password": PASSWORD, "next": "/console/users"})
    assert r.headers["location"] == "/console/users"
    for evil in ("https://evil.example/", "//evil.example", "/console/../x\\y", "/elsewhere"):
        r = post_form(site.client, "/console/login", {"name": "alice", "password": PASSWORD, "next": evil})
        assert r.headers["location"] == "/console"


def test_every_failure_shows_the_same_message_and_sets_no_cookie(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    accounts.add_user(site.ctx, "nopass", Role.SUPPORT, by="test")
    bodies = set()
    for name, pw in [("alice", "wrong password here"), ("nobody", PASSWORD), ("nopass", PASSWORD), ("", "")]:
        r = login(site.client, name, pw)
        assert r.status_code == 401 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
        assert "The name or password is not right" in r.text
        bodies.add(r.text.split('name="csrf_token"')[0])
    assert len(bodies) == 1
    assert not signed_in(site)


def test_five_failures_lock_the_account_for_fifteen_minutes(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    for _ in range(5):
        assert login(site.client, "alice", "wrong password here").status_code == 401
    assert login(site.client, "alice").status_code == 401  # locked: the right password is refused too
    kinds = [k for k, _ in site.staff_events()]
    assert kinds.count("StaffLoginFailed") == 6 and kinds.count("StaffLockedOut") == 1
    site.clock.advance(minutes=15)
    assert login(site.client, "alice").status_code == 303


def test_logins_are_rate_limited_per_source_address(site: AccountsWeb) -> None:
    codes = [login(site.client, f"user{i}", "whatever password").status_code for i in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    r = login(site.client, "user99", "whatever password")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_a_login_without_or_with_a_forged_csrf_token_is_refused_and_records_nothing(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    before = site.staff_events()
    site.client.get("/console/login")
    r = site.client.post("/console/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    forged = sign(b"x" * 32, "csrf", {"b": site.client.cookies.get("dsar_b")}, site.clock.now)
    r = site.client.post("/console/login", data={"csrf_token": forged, "name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert site.staff_events() == before


def test_signed_out_pages_redirect_to_the_login(site: AccountsWeb) -> None:
    r = site.client.get("/console/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def _cookie(site: AccountsWeb, account_id: int, epoch: int, age: timedelta = timedelta(0)) -> str:
    return sign(site.web.session_key, "session", {"a": account_id, "e": epoch}, site.clock.now - age)


def test_an_expired_session_cookie_signs_out(site: AccountsWeb) -> None:
    alice = site.user("alice", Role.ADMIN)
    site.client.cookies.set(SESSION_COOKIE, _cookie(site, alice.id, alice.session_epoch, timedelta(hours=7, minutes=59)), path="/console")
    assert signed_in(site)
    site.client.cookies.set(SESSION_COOKIE, _cookie(site, alice.id, alice.session_epoch, timedelta(hours=8, seconds=1)), path="/console")
    r = site.client.get("/console/users", follow_redirects=False)
    assert r.status_code == 303 and "max-age=0" in r.headers.get("set-cookie", "").lower()


def test_a_tampered_or_foreign_cookie_signs_out(site: AccountsWeb) -> None:
    alice = site.user("alice", Role.ADMIN)
    good = _cookie(site, alice.id, alice.session_epoch)
    body, mac = good.split(".")
    for bad in (
        body + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        sign(b"k" * 32, "session", {"a": alice.id, "e": alice.session_epoch}, site.clock.now),
        sign(site.web.session_key, "csrf", {"a": alice.id, "e": alice.session_epoch}, site.clock.now),
        sign(site.web.session_key, "session", {"a": "1", "e": alice.session_epoch}, site.clock.now),
        "garbage",
    ):
        site.client.cookies.set(SESSION_COOKIE, bad, path="/console")
        assert not signed_in(site)


def test_a_new_epoch_ends_the_session(site: AccountsWeb) -> None:
    alice = site.user("alice", Role.ADMIN)
    login(site.client, "alice")
    assert signed_in(site)
    accounts.end_sessions(site.ctx, alice.id, by="test")
    assert not signed_in(site)
    login(site.client, "alice")
    assert signed_in(site)
    accounts.password_reset_token(site.ctx, "alice", by="test")  # a reset link alone ends nothing
    assert signed_in(site)


def test_a_deactivated_account_is_signed_out(site: AccountsWeb) -> None:
    site.user("root", Role.ADMIN)
    site.user("alice", Role.ADMIN)
    login(site.client, "alice")
    assert signed_in(site)
    accounts.deactivate(site.ctx, "alice", by="test")
    assert not signed_in(site)
    assert login(site.client, "alice").status_code == 401


def test_logout_ends_every_session_of_the_account(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    login(site.client, "alice")
    copied = site.client.cookies.get(SESSION_COOKIE)
    assert copied
    r = post_form(site.client, "/console/logout", {}, page="/console/users")
    assert r.status_code == 200 and "You are signed out" in r.text
    assert not signed_in(site)
    site.client.cookies.set(SESSION_COOKIE, copied, path="/console")
    assert not signed_in(site)
    assert site.staff_events()[-1][0] == "StaffSessionsEnded"


def test_support_gets_403_on_the_accounts_page_and_its_actions(site: AccountsWeb) -> None:
    site.user("root", Role.ADMIN)
    for role in (Role.SUPPORT, Role.LEGAL, Role.AUDITOR):
        name = f"u-{role.value}"
        site.user(name, role)
        login(site.client, name)
        r = site.client.get("/console/users", follow_redirects=False)
        assert r.status_code == 403 and f"the {role.value} role does not allow" in r.text
        r = post_form(site.client, "/console/users/add", {"name": "mallory", "role": "admin"})
        assert r.status_code == 403
        assert accounts.find_account(site.ctx, "mallory") is None
        assert "Accounts</a>" not in r.text


def test_the_training_banner_shows_when_training_is_over_a_year_old(site: AccountsWeb) -> None:
    site.user("alice", Role.ADMIN)
    login(site.client, "alice")
    assert "privacy-law training is over 12 months old" in site.client.get("/console/users").text
    accounts.record_training(site.ctx, "alice", site.clock.now.date() - timedelta(days=30), by="test")
    assert "privacy-law training is over 12 months old" not in site.client.get("/console/users").text
    site.clock.advance(days=340)
    login(site.client, "alice")  # the session's age is kept by the clock too
    assert "privacy-law training is over 12 months old" in site.client.get("/console/users").text


def test_other_pages_tests_can_stand_in_an_account_for_the_session(site: AccountsWeb) -> None:
    from dsar.web.staff import signed_in_staff

    root = site.user("root", Role.ADMIN)
    sam = site.user("sam", Role.SUPPORT)
    overrides = site.client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[signed_in_staff] = lambda: root
    assert site.client.get("/console/users").status_code == 200
    overrides[signed_in_staff] = lambda: sam
    assert site.client.get("/console/users").status_code == 403  # the role check still applies
    overrides.clear()
    assert site.client.get("/console/users", follow_redirects=False).status_code == 303
