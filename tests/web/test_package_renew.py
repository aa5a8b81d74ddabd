"""A subject whose download link no longer works asks for a new one on the link's page: a new
link goes to the contact on file (never to whoever asks) when the link is the package's current
one and it expired, had its downloads started too often or was spent by wrong codes before
anything was downloaded; never for a link that works, a downloaded or deleted package, or an
unknown, altered or replaced link; recorded as asked for by the subject; within the package's
new links."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from dsar.domain.packages import LinkRefusal
from dsar.services import package
from tests.packages import body_of, download, link_token
from tests.web.console_fixtures import Console, console
from tests.web.test_console_package_link import answered, new_link_letters

__all__ = ["console"]


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
