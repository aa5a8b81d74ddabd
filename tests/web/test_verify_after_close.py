"""The identity pages after the request ended and its verification data was deleted (issue 17),
on SQLite and PostgreSQL: a used link, an unused one, its code and a new-link request answer as
an expired or unknown link does (the same page, no error, nothing telling whether the request or
its subject exists), and nothing is spent, counted or recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dsar.services.admin import withdraw_request
from dsar.web.i18n import CATALOGS
from tests.web.conftest import WebApp, make_web
from tests.web.verify_fixtures import ANA, all_mail, give_code, letters, log, open_link, post, reference, start, status

UNKNOWN_LINK = "/verify/l/" + "0" * 40
_TOKENS = re.compile(r'(name="csrf_token" value=")[^"]+|(nonce=")[^"]+')


@pytest.fixture(params=["sqlite", "postgres"])
def ended_web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WebApp]:
    from dsar.demo.shop import seed_shop

    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    w = make_web(tmp_path / "home", database_url=url)
    seed_shop(w.app.settings.demo_shop_path)
    yield w
    w.app.engine.dispose()


@pytest.fixture
def ended_client(ended_web: WebApp) -> Iterator[TestClient]:
    with TestClient(ended_web.fastapi) as c:
        yield c


def page(text: str) -> str:
    """A page without its per-response tokens, to compare two answers."""
    return _TOKENS.sub(r"\1\2", text)


def kinds(w: WebApp, rid: str) -> list[str]:
    with w.web.ctx.uow() as uow:
        return [e.kind for e in uow.audit.events(rid)]


def deleted(w: WebApp, rid: str) -> list[dict[str, object]]:
    with w.web.ctx.uow() as uow:
        return [e.details for e in uow.audit.events(rid) if e.kind == "VerificationDataDeleted"]


def test_a_used_link_and_its_code_after_the_request_closed_answer_as_an_unknown_link_does(
    ended_web: WebApp, ended_client: TestClient
) -> None:
    rid = log(ended_web)
    start(ended_web, rid)
    ref = reference(ended_web, rid)
    (letter,) = letters(ended_web, ref)
    assert letter.code and open_link(ended_client, letter).status_code == 200 and status(ended_web, rid) == "verified"
    withdraw_request(ended_web.web.ctx, rid, "the subject called to take it back", by="sam.support")
    assert status(ended_web, rid) == "withdrawn" and len(deleted(ended_web, rid)) == 1
    trail, mail = kinds(ended_web, rid), all_mail(ended_web)

    unknown = ended_client.get(UNKNOWN_LINK)
    used = ended_client.get(letter.path)
    assert used.status_code == unknown.status_code == 404
    assert CATALOGS["en"]["verify.invalid.text"] in used.text and page(used.text) == page(unknown.text)
    assert ref not in used.text
    pressed = post(ended_client, letter.path, {"confirm": "yes"})
    assert pressed.status_code == 404 and page(pressed.text) == page(post(ended_client, UNKNOWN_LINK, {"confirm": "yes"}).text)
    # its code: the words of a wrong code for a reference nobody has
    by_code = give_code(ended_client, ref, letter.code)
    nobody = give_code(ended_client, "DSR-2000-999999", letter.code)
    assert by_code.status_code == nobody.status_code == 422
    assert page(by_code.text).replace(ref, "REF") == page(nobody.text).replace("DSR-2000-999999", "REF")
    # a new link: the same words as for anyone, and nothing goes
    assert post(ended_client, "/verify/resend", {"reference": ref}).status_code == 200
    assert kinds(ended_web, rid) == trail and all_mail(ended_web) == mail  # nothing spent, counted or recorded


def test_an_unused_link_of_a_request_withdrawn_while_waiting_answers_as_an_expired_link_does(
    ended_web: WebApp, ended_client: TestClient
) -> None:
    ctx = ended_web.web.ctx
    rid = log(ended_web)
    start(ended_web, rid)
    (letter,) = letters(ended_web, reference(ended_web, rid))
    # another subject's link that expired unused (its request still waits)
    other = log(ended_web, ANA, subject={"name": "Ana Silva", "emails": [ANA]})
    start(ended_web, other)
    (expired,) = letters(ended_web, reference(ended_web, other))
    with ctx.uow() as uow:
        case = uow.cases.get(other)
        assert case is not None
        uow.cases.save(replace(case, expires_at=ctx.clock() - timedelta(minutes=1)))
        uow.commit()

    withdraw_request(ctx, rid, "sent twice by mistake", by="sam.support")
    (gone,) = deleted(ended_web, rid)
    counts = gone["deleted"]
    assert isinstance(counts, dict) and (counts["link"], counts["code"], counts["salt"]) == (1, 1, 1)
    after_close, after_expiry = ended_client.get(letter.path), ended_client.get(expired.path)
    assert after_close.status_code == after_expiry.status_code == 404
    assert page(after_close.text) == page(after_expiry.text)
    assert CATALOGS["en"]["verify.title.invalid"] in after_close.text
    assert status(ended_web, other) == "awaiting_verification"  # looking spends nothing
