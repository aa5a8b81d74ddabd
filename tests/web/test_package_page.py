"""The package download page (/package) through the FastAPI test client: the link's code
page, the code mailed to the verified address, the streamed zip, and every refusal."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dsar.services import processing as svc
from dsar.services.intake import log_request
from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.integration.test_processing import run_everything_once
from tests.packages import body_of, latest_package_code, link_token
from tests.web.conftest import WebApp, csrf_from, make_web

JANE = "jane.doe@example.com"


@pytest.fixture
def shop_web(tmp_path: Path) -> Iterator[WebApp]:
    from dsar.demo.shop import seed_shop

    w = make_web(tmp_path / "home")
    seed_shop(w.app.settings.demo_shop_path)
    yield w
    w.app.engine.dispose()


def answered(w: WebApp, email: str = JANE, language: str = "en") -> tuple[str, str]:
    """(reference, link token) of an access request run to its letter."""
    r = log_request(
        w.app.ctx,
        {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane", "emails": [email]}, "language": language},
    ).request
    run_everything_once(w.app, r.id, r.reference)
    token = link_token(body_of(w.app.settings.effective_outbox_dir / f"{r.reference}.access_response_dsar.eml"))
    assert token
    return r.reference, token


def test_the_code_goes_to_the_address_on_file_never_to_one_only_typed(tmp_path: Path) -> None:
    """Found in the shop by her phone number, with an address that is not on file typed in: the
    link and the download code both go to the address on file (THREATS 2, 7)."""
    from dsar.demo.shop import seed_shop
    from tests.conftest import SHOP_ONLY

    by_phone = tmp_path / "map"
    by_phone.mkdir()
    shop = (SHOP_ONLY / "shop.yaml").read_text()
    assert shop.count("    identity:\n      email: email\n") == 1
    (by_phone / "shop.yaml").write_text(
        shop.replace("    identity:\n      email: email\n", "    identity:\n      email: email\n      phone: phone\n")
    )
    shop_web = make_web(tmp_path / "home", data_map_dir=by_phone)
    seed_shop(shop_web.app.settings.demo_shop_path)
    typed = "jane.new.address@example.org"
    r = log_request(
        shop_web.app.ctx,
        {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane", "emails": [typed], "phone": "+49 30 5550101"}},
    ).request
    run_everything_once(shop_web.app, r.id, r.reference)
    outbox = shop_web.app.settings.effective_outbox_dir
    token = link_token(body_of(outbox / f"{r.reference}.access_response_dsar.eml"))
    assert token
    with TestClient(shop_web.fastapi) as client:
        assert ask_code(client, token)[0] == 200
    (mail,) = outbox.glob(f"{r.reference}.package-code-*.eml")
    assert f"To: {JANE}" in mail.read_text()
    assert all(typed not in p.read_text() for p in outbox.glob(f"{r.reference}.*.eml"))  # nothing went to the typed address
    shop_web.app.engine.dispose()


def ask_code(client: TestClient, token: str) -> tuple[int, str]:
    page = client.get("/package")
    r = client.post("/package/code", data={"csrf_token": csrf_from(page.text), "token": token})
    return r.status_code, r.text


def give_code(client: TestClient, token: str, code: str) -> object:
    page = client.get("/package")
    return client.post("/package/download", data={"csrf_token": csrf_from(page.text), "token": token, "code": code})


def test_the_link_then_a_code_then_the_zip(shop_web: WebApp) -> None:
    ref, token = answered(shop_web)
    with TestClient(shop_web.fastapi) as client:
        page = client.get("/package")
        assert page.status_code == 200 and CATALOGS["en"]["package.send_code"] in page.text
        assert '<script src="/static/package.js">' in page.text and token not in page.text
        status, text = ask_code(client, token)
        assert status == 200 and 'name="code"' in text
        mails = list(shop_web.app.settings.effective_outbox_dir.glob(f"{ref}.package-code-*.eml"))
        assert len(mails) == 1 and f"To: {JANE}" in mails[0].read_text()
        r = give_code(client, token, latest_package_code(shop_web.app.settings.effective_outbox_dir, ref))
        assert r.status_code == 200  # type: ignore[attr-defined]
        assert r.headers["content-type"] == "application/zip"  # type: ignore[attr-defined]
        assert r.headers["content-disposition"] == f'attachment; filename="{ref}-your-data.zip"'  # type: ignore[attr-defined]
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:  # type: ignore[attr-defined]
            assert f"{ref}-your-data/index.html" in z.namelist() and z.testzip() is None
        # used: the link works once
        status, text = ask_code(client, token)
        assert status == 410 and CATALOGS["en"]["package.refused.used"] in text


def test_a_wrong_code_is_refused_and_the_page_asks_again(shop_web: WebApp) -> None:
    _, token = answered(shop_web)
    with TestClient(shop_web.fastapi) as client:
        assert ask_code(client, token)[0] == 200
        r = give_code(client, token, "000000")
        assert r.status_code == 422 and CATALOGS["en"]["package.code.wrong"] in r.text  # type: ignore[attr-defined]
        assert 'name="code"' in r.text  # type: ignore[attr-defined]


def test_unknown_and_foreign_links_and_missing_csrf(shop_web: WebApp) -> None:
    _, token = answered(shop_web)
    with TestClient(shop_web.fastapi) as client:
        status, text = ask_code(client, "f" * 64)
        assert status == 410 and CATALOGS["en"]["package.refused.expired"] in text  # the expired link's page
        assert client.post("/package/code", data={"token": token}).status_code == 403  # no CSRF token: nothing sent
    assert not list(shop_web.app.settings.effective_outbox_dir.glob("*.package-code-*.eml"))


def test_an_expired_link_says_so(shop_web: WebApp) -> None:
    _, token = answered(shop_web)
    later = shop_web.app.ctx.clock() + timedelta(days=8)
    object.__setattr__(shop_web.app.ctx, "clock", lambda: later)
    with TestClient(shop_web.fastapi) as client:
        status, text = ask_code(client, token)
        assert status == 410 and CATALOGS["en"]["package.refused.expired"] in text


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_the_page_speaks_the_visitors_language(shop_web: WebApp, lang: str) -> None:
    with TestClient(shop_web.fastapi) as client:
        assert CATALOGS[lang]["package.title"] in client.get(f"/package?lang={lang}").text


def test_the_access_letter_carries_the_link_and_no_attachment(shop_web: WebApp) -> None:
    ref, token = answered(shop_web)
    body = body_of(shop_web.app.settings.effective_outbox_dir / f"{ref}.access_response_dsar.eml")
    assert f"{shop_web.app.settings.effective_web_url}/package?lang=en#{token}" in body
    assert "attached" not in body
    with shop_web.app.ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
    assert svc.status_of(shop_web.app.ctx, rid).value == "closed"


def test_a_german_request_s_package_link_opens_the_german_page_and_the_token_still_decides(shop_web: WebApp) -> None:
    """The access letter's link is /package?lang=de#TOKEN: the page opens in German for a
    browser set to English with a French cookie, the code and download pages after it stay
    German (the link's visit set the cookie), and the language never stands in for the token."""
    ref, token = answered(shop_web, language="de")
    outbox = shop_web.app.settings.effective_outbox_dir
    assert f"{shop_web.app.settings.effective_web_url}/package?lang=de#{token}" in body_of(outbox / f"{ref}.access_response_dsar.eml")
    with TestClient(shop_web.fastapi, headers={"Accept-Language": "en"}, cookies={"lang": "fr"}) as client:
        page = client.get("/package?lang=de")  # what the browser asks for: the fragment stays with it
        assert page.status_code == 200 and '<html lang="de">' in page.text and CATALOGS["de"]["package.send_code"] in page.text
        forged = client.post("/package/code?lang=de", data={"csrf_token": csrf_from(page.text), "token": "f" * 64})
        assert forged.status_code == 410 and CATALOGS["de"]["package.refused.expired"] in forged.text
        asked = client.post("/package/code", data={"csrf_token": csrf_from(page.text), "token": token})
        assert asked.status_code == 200 and '<html lang="de">' in asked.text and 'name="code"' in asked.text
        wrong = client.post("/package/download", data={"csrf_token": csrf_from(page.text), "token": token, "code": "000000"})
        assert wrong.status_code == 422 and CATALOGS["de"]["package.code.wrong"] in wrong.text
        got = give_code(client, token, latest_package_code(outbox, ref))
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"  # type: ignore[attr-defined]
    with TestClient(shop_web.fastapi) as fresh:  # an unknown language: as without one
        assert '<html lang="en">' in fresh.get("/package?lang=xx").text
