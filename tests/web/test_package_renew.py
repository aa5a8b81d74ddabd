"""A subject whose download link no longer works asks for a new one on the link's page: a new
link goes to the contact on file (never to whoever asks) when the link is the package's current
one and it expired, had its downloads started too often or was spent by wrong codes before
anything was downloaded; never for a link that works, a downloaded or deleted package, or an
unknown, altered or replaced link; recorded as asked for by the subject; within the package's
new links."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from dsar.domain.packages import LinkRefusal
from dsar.services import package
from dsar.web.i18n import CATALOGS
from tests.packages import body_of, download, link_token
from tests.web.conftest import WebApp, csrf_from
from tests.web.console_fixtures import Console, console
from tests.web.test_console_package_link import answered, new_link_letters
from tests.web.test_package_page import JANE, ask_code, shop_web
from tests.web.test_package_page import answered as page_answered

__all__ = ["console", "shop_web"]


def test_an_expired_link_brings_a_new_one_to_the_contact_on_file_once(console: Console) -> None:
    rid, ref, token = answered(console)
    ctx = console.app.ctx
    assert package.renew_link(ctx, token) is False  # it still works: nothing to renew
    later = replace(ctx, clock=lambda: ctx.clock() + timedelta(days=ctx.policy.package_link_days, minutes=1))
    assert package.link_refusal(later, token) is LinkRefusal.EXPIRED
    assert package.renew_link(later, token) is True
    (letter,) = new_link_letters(console, ref)
    path = console.app.settings.effective_outbox_dir / letter
    assert "To: jane.doe@example.com" in path.read_text()
    fresh = link_token(body_of(path))
    assert fresh and fresh != token and package.link_refusal(later, fresh) is None
    (issued,) = console.details(ref, "PackageLinkIssued")
    assert issued["by"] == package.BY_SUBJECT and "jane" not in str(issued).lower()
    # the old link was replaced: asking again with it does nothing
    assert package.renew_link(later, token) is False and len(new_link_letters(console, ref)) == 1


def test_nothing_is_sent_for_unknown_altered_downloaded_or_deleted(console: Console) -> None:
    rid, ref, token = answered(console)
    ctx = console.app.ctx
    later = replace(ctx, clock=lambda: ctx.clock() + timedelta(days=ctx.policy.package_link_days, minutes=1))
    for forged in ("", "x" * 500, "0" * 64, token[:-1] + ("1" if token[-1] != "1" else "2"), "'; DROP TABLE access_package; --"):
        assert package.renew_link(later, forged) is False
    assert new_link_letters(console, ref) == []
    download(ctx, console.app.settings.effective_outbox_dir, ref)
    assert package.renew_link(later, token) is False  # downloaded: the subject has it
    assert package.purge_packages(ctx) == 1
    assert package.renew_link(later, token) is False  # deleted
    assert new_link_letters(console, ref) == [] and console.details(ref, "PackageLinkIssued") == []


def test_renewals_count_against_the_package_s_new_links(console: Console) -> None:
    rid, ref, token = answered(console)
    ctx = console.app.ctx
    days = ctx.policy.package_link_days
    current = token
    for n in range(ctx.policy.package_max_new_links):
        late = replace(ctx, clock=lambda n=n: ctx.clock() + timedelta(days=(n + 1) * (days + 1)))
        assert package.renew_link(late, current) is True
        current = link_token(body_of(console.app.settings.effective_outbox_dir / new_link_letters(console, ref)[-1])) or ""
    last = replace(ctx, clock=lambda: ctx.clock() + timedelta(days=10 * (days + 1)))
    assert package.renew_link(last, current) is False  # the new links are used up
    assert len(new_link_letters(console, ref)) == ctx.policy.package_max_new_links


# --- on the page (/package) --------------------------------------------------------------------


def _renew(client: Any, page_html: str, token: str) -> Any:
    return client.post("/package/renew", data={"csrf_token": csrf_from(page_html), "token": token})


def test_the_expired_link_s_page_offers_a_new_link_and_says_the_same_for_a_forged_one(shop_web: WebApp) -> None:
    ref, token = page_answered(shop_web)
    later = shop_web.app.ctx.clock() + timedelta(days=8)
    object.__setattr__(shop_web.app.ctx, "clock", lambda: later)
    outbox = shop_web.app.settings.effective_outbox_dir
    with TestClient(shop_web.fastapi) as client:
        status, text = ask_code(client, token)
        assert status == 410 and CATALOGS["en"]["package.refused.expired"] in text
        assert 'action="/package/renew"' in text and CATALOGS["en"]["package.renew"] in text
        assert client.post("/package/renew", data={"token": token}).status_code == 403  # no CSRF token: nothing sent
        done = _renew(client, text, token)
        assert done.status_code == 200 and CATALOGS["en"]["package.renewed"].split("{")[0] in done.text
        assert token not in done.text
        letters = sorted(outbox.glob(f"{ref}.package_link.*.eml"))
        assert len(letters) == 1 and f"To: {JANE}" in letters[0].read_text()
        # a forged link: the same 410 page with the same button, the same answer, nothing sent
        status, forged_page = ask_code(client, "f" * 64)
        assert status == 410 and 'action="/package/renew"' in forged_page
        forged = _renew(client, forged_page, "f" * 64)
        assert (forged.status_code, forged.text.replace("f" * 64, "")) == (done.status_code, done.text.replace(token, ""))
        assert len(sorted(outbox.glob(f"{ref}.package_link.*.eml"))) == 1


def test_a_deleted_package_s_page_offers_no_new_link_and_the_renewal_speaks_german(shop_web: WebApp) -> None:
    from tests.packages import download

    ref, token = page_answered(shop_web, language="de")
    with TestClient(shop_web.fastapi) as client:
        client.cookies.set("lang", "de")
        download(shop_web.app.ctx, shop_web.app.settings.effective_outbox_dir, ref)
        assert package.purge_packages(shop_web.app.ctx) == 1
        status, text = ask_code(client, token)
        assert status == 410 and CATALOGS["de"]["package.refused.deleted"] in text and 'action="/package/renew"' not in text
        status, used_page = ask_code(client, "e" * 64)  # the expired page, in German, with its button
        assert CATALOGS["de"]["package.renew"] in used_page
        answer = _renew(client, used_page, "e" * 64)
        assert answer.status_code == 200 and CATALOGS["de"]["package.renewed"].split("{")[0] in answer.text
