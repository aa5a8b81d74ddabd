"""The web form's appeal page (issue 16): the refusal letter links it, it takes the appeal of
that refused request (its regime and place, no place asked), and refuses what it cannot take
in the page's language, without echoing what was typed."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dsar.domain.request import Move
from dsar.services import queries, recording
from dsar.services.intake import log_request
from dsar.web.i18n import CATALOGS, LANGUAGES
from tests.signoff import respond
from tests.web.conftest import WebApp, make_web, submit_form

PUBLIC = "https://privacy.example.com"
JANE = {"name": "Jane Appeal", "email": "jane.appeal@example.com"}


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    w = make_web(tmp_path / "home", web_public_url=PUBLIC)
    yield w
    w.app.engine.dispose()


@pytest.fixture
def client(web_app: WebApp) -> Iterator[TestClient]:
    with TestClient(web_app.fastapi) as c:
        yield c


def refused(web_app: WebApp, regime: str = "us-va", **raw: Any) -> str:
    ctx = web_app.web.ctx
    r = log_request(
        ctx, {"type": "access", "regime": regime, "country": "US", "subject": {"name": JANE["name"], "emails": [JANE["email"]]}, **raw}
    ).request
    with ctx.uow() as uow:
        recording.move(uow, uow.requests.facts(r.id), Move.DENY, datetime.now(UTC), "exempt")
        uow.commit()
    respond(ctx, r.id)  # the denial letter, once legal approved it (DSAR_LETTER_SIGN_OFF)
    return r.reference


def test_the_refusal_letter_links_the_appeal_page_and_the_page_takes_the_appeal(web_app: WebApp, client: TestClient) -> None:
    reference = refused(web_app)
    outbox = web_app.app.settings.effective_outbox_dir / f"{reference}.denial_dsar.eml"
    body = message_from_bytes(outbox.read_bytes(), policy=policy.default).get_body(preferencelist=("plain",))
    assert body is not None
    link = f"{PUBLIC}/?appeal_of={reference}"
    assert link in str(body.get_content()) and "Virginia Attorney General" in str(body.get_content())

    page = html.unescape(client.get(f"/?appeal_of={reference}&lang=en").text)
    assert reference in page and 'name="appeal_of"' in page and 'name="country"' not in page
    assert CATALOGS["en"]["type.appeal"] in page

    answer = submit_form(client, {"type": "appeal", "appeal_of": reference, **JANE}, path=f"/?appeal_of={reference}")
    assert answer.status_code == 303, answer.text[-1500:]
    appeals = queries.request_list(web_app.web.ctx, request_type="appeal")
    assert len(appeals) == 1
    view = queries.request_view(web_app.web.ctx, appeals[0].reference)
    assert (view.regime, view.type, view.linked_to) == ("vcdpa", "appeal", reference)
    assert web_app.web.orchestrator.started == []  # an appeal runs no flow: legal decides it


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_an_appeal_from_another_address_is_refused_in_the_pages_language(web_app: WebApp, client: TestClient, lang: str) -> None:
    reference = refused(web_app)
    fields = {"type": "appeal", "appeal_of": reference, "name": "Mallory", "email": "mallory@example.com"}
    answer = submit_form(client, fields, path=f"/?appeal_of={reference}&lang={lang}")
    assert answer.status_code == 422
    expected = CATALOGS[lang]["err.appeal_of"].format(contact=web_app.app.settings.privacy_contact)
    assert expected in html.unescape(answer.text)
    assert queries.request_list(web_app.web.ctx, request_type="appeal") == []


def test_a_forged_reference_is_refused_and_not_echoed(web_app: WebApp, client: TestClient) -> None:
    forged = "DSR-2026-<script>alert(1)</script>"
    page = client.get("/", params={"appeal_of": forged}).text
    assert "<script>alert(1)" not in page and 'name="appeal_of"' not in page  # the ordinary form
    answer = submit_form(client, {"type": "appeal", "appeal_of": forged, **JANE})
    assert answer.status_code == 422 and "<script>alert(1)" not in answer.text
    assert web_app.request_count() == 0


def test_the_ordinary_form_offers_no_appeal(client: TestClient) -> None:
    page = client.get("/?lang=en").text
    assert 'value="appeal"' not in page


def test_a_german_refusal_letter_s_appeal_link_opens_the_german_appeal_page(web_app: WebApp) -> None:
    """The appeal link carries the request's language after the reference (…&lang=de): the
    German appeal page for a browser set to English; an unknown language is as none."""
    reference = refused(web_app, language="de")
    outbox = web_app.app.settings.effective_outbox_dir / f"{reference}.denial_dsar.eml"
    body = message_from_bytes(outbox.read_bytes(), policy=policy.default).get_body(preferencelist=("plain",))
    assert body is not None
    assert f"{PUBLIC}/?appeal_of={reference}&lang=de" in str(body.get_content())
    with TestClient(web_app.fastapi, headers={"Accept-Language": "en"}) as browser:
        page = browser.get(f"/?appeal_of={reference}&lang=de")
        assert '<html lang="de">' in page.text and CATALOGS["de"]["type.appeal"] in html.unescape(page.text)
        assert 'name="appeal_of"' in page.text and 'name="country"' not in page.text
    with TestClient(web_app.fastapi) as fresh:
        assert '<html lang="en">' in fresh.get(f"/?appeal_of={reference}&lang=xx").text
