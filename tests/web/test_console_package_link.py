"""The console's "Send a new download link" on a request's page: casework roles only; the old
link stops working, the new one (by letter to the contact on file) works; recorded with who
asked; limited; a package deleted from storage refused with a clear message."""

from __future__ import annotations

import re

from dsar.domain.accounts import Role
from dsar.domain.packages import LinkRefusal
from dsar.services import package
from tests.integration.test_processing import run_everything_once
from tests.packages import body_of, link_token
from tests.web.console_fixtures import Console, console

__all__ = ["console"]


def answered(c: Console) -> tuple[str, str, str]:
    r = c.log()
    run_everything_once(c.app, r.id, r.reference)
    token = link_token(body_of(c.app.settings.effective_outbox_dir / f"{r.reference}.access_response_dsar.eml"))
    assert token
    return r.id, r.reference, token


def new_link_letters(c: Console, ref: str) -> list[str]:
    return sorted(p.name for p in c.app.settings.effective_outbox_dir.glob(f"{ref}.package_link.*.eml"))


def test_support_sends_a_new_link_the_old_one_stops_and_the_new_one_works(console: Console) -> None:
    rid, ref, token = answered(console)
    console.sign_in(Role.SUPPORT)
    page = console.client.get(f"/console/requests/{ref}")
    assert "Access package" in page.text and "Send a new download link" in page.text and "new links 0 of 3" in page.text
    done = console.post(f"/console/requests/{ref}/package-link", {})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=package-link")
    assert "A new download link went to the contact on file" in console.client.get(done.headers["location"]).text
    (letter,) = new_link_letters(console, ref)
    body = body_of(console.app.settings.effective_outbox_dir / letter)
    assert "To: jane.doe@example.com" in (console.app.settings.effective_outbox_dir / letter).read_text()
    new = link_token(body)
    assert new and new != token
    assert package.link_refusal(console.app.ctx, token) is LinkRefusal.UNKNOWN
    assert package.link_refusal(console.app.ctx, new) is None
    (issued,) = console.details(ref, "PackageLinkIssued")
    assert issued["by"] == "sam.support" and issued["link"] == 1 and "jane" not in str(issued).lower()
    assert "PackageLinkIssued" in console.client.get(f"/console/requests/{ref}").text


def test_auditors_cannot_and_see_no_button(console: Console) -> None:
    _, ref, token = answered(console)
    console.sign_in(Role.AUDITOR)
    page = console.client.get(f"/console/requests/{ref}")
    assert "Send a new download link" not in page.text
    assert console.post(f"/console/requests/{ref}/package-link", {}).status_code == 403
    assert "PackageLinkIssued" not in console.kinds(ref) and new_link_letters(console, ref) == []
    assert package.link_refusal(console.app.ctx, token) is None


def test_the_limit_then_a_clear_refusal(console: Console) -> None:
    _, ref, _ = answered(console)
    console.sign_in(Role.LEGAL)
    for _ in range(console.app.ctx.policy.package_max_new_links):
        assert console.post(f"/console/requests/{ref}/package-link", {}).status_code == 303
    assert "Send a new download link" not in console.client.get(f"/console/requests/{ref}").text
    refused = console.post(f"/console/requests/{ref}/package-link", {})
    assert refused.status_code == 409 and "DSAR_PACKAGE_MAX_NEW_LINKS=3" in refused.text
    assert len(new_link_letters(console, ref)) == 3


def test_a_package_deleted_from_storage_is_refused_clearly(console: Console) -> None:
    from tests.packages import download

    rid, ref, _ = answered(console)
    download(console.app.ctx, console.app.settings.effective_outbox_dir, ref)
    assert package.purge_packages(console.app.ctx) == 1
    console.sign_in(Role.SUPPORT)
    assert "Send a new download link" not in console.client.get(f"/console/requests/{ref}").text
    refused = console.post(f"/console/requests/{ref}/package-link", {})
    assert refused.status_code == 409 and "was deleted on" in refused.text and "new request" in refused.text
    assert new_link_letters(console, ref) == []


def test_the_page_says_where_the_package_stands_from_sent_to_deleted(console: Console) -> None:
    """Support answering "did they get it?" reads it on the page: sent and not opened, a code
    sent, downloaded, expired, deleted (the newest package, deleted or not)."""
    from dataclasses import replace
    from datetime import timedelta

    from tests.packages import download

    rid, ref, token = answered(console)
    console.sign_in(Role.SUPPORT)

    def state() -> str:
        page = console.client.get(f"/console/requests/{ref}").text
        found = re.search(r'<p class="package-state" data-state="([a-z-]+)"><strong>([^<]+)</strong>', page)
        assert found, "the page shows no package state"
        return f"{found.group(1)}: {found.group(2)}"

    assert state() == "waiting: Link sent, not opened yet"
    assert package.send_code(console.app.ctx, token) is None
    assert state() == "code-sent: Code sent, not downloaded yet"
    later = replace(console.app.ctx, clock=lambda: console.app.ctx.clock() + timedelta(days=8))
    expired = package.package_state(later, rid)
    assert expired is not None and expired.state == "expired"
    download(console.app.ctx, console.app.settings.effective_outbox_dir, ref)
    assert state() == "downloaded: Downloaded"
    assert package.purge_packages(console.app.ctx) == 1
    assert state() == "deleted: Deleted"
    page = console.client.get(f"/console/requests/{ref}").text
    assert "the sealed copy is gone" in page and "Send a new download link" not in page
