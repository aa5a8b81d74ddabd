"""Account holders confirm their identity by signing in through the organisation's own login
(11 CCR 7061), through the real web app: the demo shop as the system of record, its customers
given account ids (a column and a data-map field of this test's own: the demo links none), the
organisation's login played by an Ed25519 key made here that signs real JWTs.

The subject follows the link in the letter, is sent to the login with ``return_to`` and a
single-use ``state``, and comes back with a signed assertion posted from the login's site (no
dsar cookie), confirms on dsar's page (CSRF token), and the run is woken. A refused assertion
says the same whatever failed, counts a try and gives a fresh state."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient

from dsar.services import queries
from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.conftest import ROOT
from tests.web.conftest import WebApp, csrf_from, make_web
from tests.web.verify_fixtures import ANA, JANE, letters, log, open_link, reference, start, status

LOGIN = "https://login.example-shop.test/signin"
ISSUER = "https://login.example-shop.test"
AUDIENCE = "dsar-privacy"
EN = CATALOGS["en"]
_SIGN_IN = re.compile(r'<a class="button" href="([^"]+)"[^>]*data-sign-in>')


@pytest.fixture
def org_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def account_web(tmp_path: Path, org_key: ed25519.Ed25519PrivateKey) -> Iterator[WebApp]:
    """The web app over the demo shop, whose customers hold accounts (``acct-<id>``; Ana none),
    with the organisation's login configured."""
    from dsar.demo.shop import seed_shop

    data_map = tmp_path / "map"
    data_map.mkdir()
    shop = (ROOT / "connectors" / "shop.yaml").read_text()
    anchor = '      phone: {category: contact, erase: "null", correctable: phone}\n'
    assert anchor in shop
    (data_map / "shop.yaml").write_text(shop.replace(anchor, anchor + '      account_id: {category: identity, erase: "null"}\n'))
    pem = tmp_path / "login.pem"
    pem.write_bytes(org_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    w = make_web(
        tmp_path / "home",
        data_map_dir=data_map,
        verification_max_attempts=3,
        account_login_url=LOGIN,
        account_login_public_key_file=pem,
        account_login_issuer=ISSUER,
        account_login_audience=AUDIENCE,
    )
    seed_shop(w.app.settings.demo_shop_path)
    with sqlite3.connect(w.app.settings.demo_shop_path) as db:
        db.execute("ALTER TABLE customer ADD COLUMN account_id TEXT")
        db.execute("UPDATE customer SET account_id = 'acct-' || id WHERE email != ?", (ANA,))
        assert db.execute("SELECT account_id FROM customer WHERE email = ?", (JANE,)).fetchone() == ("acct-1",)
    yield w
    w.app.engine.dispose()
    shutil.rmtree(data_map, ignore_errors=True)


@pytest.fixture
def browser(account_web: WebApp) -> Iterator[TestClient]:
    with TestClient(account_web.fastapi) as c:
        yield c


def assertion(key: ed25519.Ed25519PrivateKey, state: str, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "acct-1", "nonce": state, "iat": now, "exp": now + 300}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="EdDSA")


def sign_in_link(page: str) -> tuple[str, str, str]:
    """(the login's address, return_to, state) of the page's sign-in button."""
    m = _SIGN_IN.search(page)
    assert m, "the page has no sign-in button"
    url = urlsplit(unescape(m.group(1)))
    query = parse_qs(url.query)
    return f"{url.scheme}://{url.netloc}{url.path}", query["return_to"][0], query["state"][0]


def come_back(w: WebApp, token: str, state: str) -> Any:
    """The login's auto-posted form, from its own site: a browser sends no dsar cookie with it
    (SameSite=Strict), so a client without cookies; then the subject presses Continue."""
    with TestClient(w.fastapi) as returning:
        page = returning.post("/verify/account", data={"assertion": token, "state": state})
        if page.status_code != 200 or 'data-view="account_return"' not in page.text:
            return page
        assert token in page.text and 'name="csrf_token"' in page.text
        return returning.post("/verify/account", data={"csrf_token": csrf_from(page.text), "assertion": token, "state": state})


def events(w: WebApp, rid: str, kind: str) -> list[dict[str, object]]:
    with w.web.ctx.uow() as uow:
        return [e.details for e in uow.audit.events(rid) if e.kind == kind]


def at_sign_in(w: WebApp, client: TestClient, email: str = JANE, **overrides: Any) -> tuple[str, Any]:
    """A request logged, its run waiting for the verification (so the page wakes it at once),
    the link followed: the page after it."""
    rid = log(w, email, **overrides)
    run = w.orchestrator.start_run(rid, reference(w, rid))
    queries.record_flow_run(w.web.ctx, rid, run)
    assert start(w, rid) == "awaiting_verification"
    w.orchestrator.suspend(run)
    (letter,) = letters(w, reference(w, rid))
    return rid, open_link(client, letter)


def test_an_account_holder_signs_in_through_the_login_and_the_run_is_woken(
    account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey
) -> None:
    rid, page = at_sign_in(account_web, browser, regime="ccpa", country="US", subdivision="CA", access_scope="specific_pieces")
    (level,) = events(account_web, rid, "VerificationLevelSet")
    assert level["level"] == "account" and "11 CCR 7061" in " ".join(str(r) for r in level["reasons"])  # type: ignore[union-attr]
    assert page.status_code == 200 and EN["verify.account.sign_in"] in page.text
    login, return_to, state = sign_in_link(page.text)
    assert login == LOGIN and return_to == "http://127.0.0.1:8000/verify/account"
    assert reference(account_web, rid) in page.text and "acct-1" not in page.text
    done = come_back(account_web, assertion(org_key, state), state)
    assert done.status_code == 200 and EN["verify.title.done"] in done.text
    assert status(account_web, rid) == "verified"
    assert [e["proof"] for e in events(account_web, rid, "VerificationProofGiven")] == ["contact", "account"]
    assert [r.run_input for r in account_web.orchestrator.resumed] == [{}]  # no assertion through Prefect
    # the state is spent with it: the same assertion again finds nothing
    again = come_back(account_web, assertion(org_key, state), state)
    assert again.status_code == 404 and events(account_web, rid, "VerificationProofRefused") == []


def test_a_login_reporting_a_recent_password_reset_sends_the_request_to_legal_behind_the_same_page(
    account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey
) -> None:
    """THREATS 13: the login vouches for the account but says its password was reset lately
    (a watched claim, DSAR_ACCOUNT_LOGIN_RISK_CLAIMS): the subject sees the page every subject
    sees, and the request waits for legal, its run woken to ask."""
    from dsar.services import escalations

    lee = "lee.chan@example.com"  # another customer with an account: two requests of one subject would be linked
    calm, calm_page = at_sign_in(account_web, browser, lee, subject={"name": "Lee Chan", "emails": [lee]})
    risky, risky_page = at_sign_in(account_web, browser)
    _, _, calm_state = sign_in_link(calm_page.text)
    _, _, risky_state = sign_in_link(risky_page.text)
    with sqlite3.connect(account_web.app.settings.demo_shop_path) as db:
        (lee_account,) = db.execute("SELECT account_id FROM customer WHERE email = ?", (lee,)).fetchone()
    calm_done = come_back(account_web, assertion(org_key, calm_state, sub=lee_account, pwd_reset_recent=False), calm_state)
    risky_done = come_back(account_web, assertion(org_key, risky_state, pwd_reset_recent=True), risky_state)
    refs = (reference(account_web, calm), reference(account_web, risky))
    assert calm_done.status_code == risky_done.status_code == 200 and EN["verify.title.done"] in risky_done.text
    assert calm_done.text.replace(refs[0], "DSR-…") == risky_done.text.replace(refs[1], "DSR-…")
    assert status(account_web, calm) == status(account_web, risky) == "verified"
    assert escalations.escalations(account_web.web.ctx, calm) == []
    (x,) = escalations.escalations(account_web.web.ctx, risky)
    assert x.point.value == "verification_risk" and x.held and queries.lookup_id(account_web.web.ctx, risky).on_hold
    assert x.reason == "account_risk_claim: the login's assertion carries pwd_reset_recent (1 of 2 watched claim(s))"
    assert len(account_web.orchestrator.resumed) == 2  # both runs woken (the risky one asks legal next)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"sub": "acct-2"}, "wrong_subject"),
        ({"exp": 1_000_000_000}, "expired"),
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"iss": "https://login.evil.test"}, "wrong_issuer"),
        ({"nonce": "x" * 40}, "wrong_nonce"),
        ({"key": "another"}, "bad_signature"),
    ],
)
def test_a_refused_assertion_says_only_that_it_failed_counts_a_try_and_gives_a_fresh_state(
    account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey, changes: dict[str, Any], why: str
) -> None:
    rid, page = at_sign_in(account_web, browser)
    _, _, state = sign_in_link(page.text)
    key = ed25519.Ed25519PrivateKey.generate() if changes.pop("key", None) else org_key
    wrong = come_back(account_web, assertion(key, state, **changes), state)
    assert wrong.status_code == 422 and EN["verify.account.wrong"].format(n=2) in wrong.text
    assert why not in wrong.text and status(account_web, rid) == "awaiting_verification"
    (refused,) = events(account_web, rid, "VerificationProofRefused")
    assert refused == {"proof": "account", "why": why, "attempt": 1}
    _, _, fresh = sign_in_link(wrong.text)
    assert fresh != state
    # the spent state no longer opens anything; the fresh one does
    assert come_back(account_web, assertion(org_key, state), state).status_code == 404
    done = come_back(account_web, assertion(org_key, fresh), fresh)
    assert EN["verify.title.done"] in done.text and status(account_web, rid) == "verified"


def test_an_assertion_for_a_spent_state_is_a_replay(account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey) -> None:
    rid, page = at_sign_in(account_web, browser)
    _, _, first = sign_in_link(page.text)
    wrong = come_back(account_web, assertion(org_key, first, sub="acct-2"), first)
    _, _, fresh = sign_in_link(wrong.text)
    # an assertion minted for the first (spent) nonce, posted with the fresh state
    replay = come_back(account_web, assertion(org_key, first), fresh)
    assert replay.status_code == 422
    assert [e["why"] for e in events(account_web, rid, "VerificationProofRefused")] == ["wrong_subject", "replayed"]


def test_the_last_try_refuses_the_request(account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey) -> None:
    rid, page = at_sign_in(account_web, browser)
    for _ in range(2):
        _, _, state = sign_in_link(page.text)
        page = come_back(account_web, assertion(org_key, state, sub="acct-2"), state)
        assert page.status_code == 422
    _, _, state = sign_in_link(page.text)
    refused = come_back(account_web, assertion(org_key, state, sub="acct-2"), state)
    assert refused.status_code == 403 and EN["verify.title.refused"] in refused.text
    assert status(account_web, rid) == "denied"


def test_another_case_s_assertion_does_not_verify_this_one(
    account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey
) -> None:
    """Jane's and Lee's requests wait at the sign-in: Lee's assertion (for his own state) posted
    with Jane's state is refused (a nonce not hers), and the other way round nothing moves."""
    jane, jane_page = at_sign_in(account_web, browser)
    lee, lee_page = at_sign_in(
        account_web, browser, "lee.chan@example.com", subject={"name": "Lee Chan", "emails": ["lee.chan@example.com"]}
    )
    _, _, jane_state = sign_in_link(jane_page.text)
    _, _, lee_state = sign_in_link(lee_page.text)
    with sqlite3.connect(account_web.app.settings.demo_shop_path) as db:
        (lee_account,) = db.execute("SELECT account_id FROM customer WHERE email = 'lee.chan@example.com'").fetchone()
    lee_assertion = assertion(org_key, lee_state, sub=lee_account)
    assert come_back(account_web, lee_assertion, jane_state).status_code == 422
    assert [e["why"] for e in events(account_web, jane, "VerificationProofRefused")] == ["wrong_nonce"]
    assert status(account_web, jane) == "awaiting_verification" and status(account_web, lee) == "awaiting_verification"
    assert EN["verify.title.done"] in come_back(account_web, lee_assertion, lee_state).text
    assert status(account_web, lee) == "verified" and status(account_web, jane) == "awaiting_verification"


def test_the_login_s_post_back_judges_nothing_and_the_judging_post_needs_its_csrf_token(
    account_web: WebApp, browser: TestClient, org_key: ed25519.Ed25519PrivateKey
) -> None:
    rid, page = at_sign_in(account_web, browser)
    _, _, state = sign_in_link(page.text)
    token = assertion(org_key, state)
    with TestClient(account_web.fastapi) as returning:
        # the login's post: a page to continue from, nothing spent
        for _ in range(2):
            shown = returning.post("/verify/account", data={"assertion": token, "state": state})
            assert shown.status_code == 200 and EN["verify.account.return"] in shown.text
        assert status(account_web, rid) == "awaiting_verification"
        # junk, or a state that opens nothing: the invalid page, nothing counted
        for fields in ({"assertion": "<script>", "state": state}, {"assertion": token, "state": "A" * 40}, {"state": state}):
            assert returning.post("/verify/account", data=fields).status_code == 404
        # a CSRF token that does not verify: refused before anything is read
        assert returning.post("/verify/account", data={"csrf_token": "forged", "assertion": token, "state": state}).status_code == 403
        # POST only: an assertion never travels in an address
        assert returning.get(f"/verify/account?assertion={token}&state={state}").status_code == 405
    assert events(account_web, rid, "VerificationProofRefused") == [] and status(account_web, rid) == "awaiting_verification"
    assert EN["verify.title.done"] in come_back(account_web, token, state).text


def test_a_customer_without_an_account_on_file_verifies_as_before(account_web: WebApp, browser: TestClient) -> None:
    rid, page = at_sign_in(account_web, browser, ANA, subject={"name": "Ana Silva", "emails": [ANA]})
    (level,) = events(account_web, rid, "VerificationLevelSet")
    assert level["level"] == "contact" and EN["verify.title.done"] in page.text


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_the_sign_in_page_speaks_the_subject_s_language(account_web: WebApp, browser: TestClient, lang: str) -> None:
    rid = log(account_web)
    start(account_web, rid)
    (letter,) = letters(account_web, reference(account_web, rid))
    landing = browser.get(letter.path, headers={"Accept-Language": lang})
    page = browser.post(letter.path, data={"csrf_token": csrf_from(landing.text), "confirm": "yes"}, headers={"Accept-Language": lang})
    assert f'<html lang="{lang}">' in page.text and CATALOGS[lang]["verify.account.sign_in"] in page.text
