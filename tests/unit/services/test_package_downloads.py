"""Downloads that can be restarted and new links (dsar.services.package): a link is spent
when a download *finishes*, not when it starts; a link starts a bounded number of downloads,
each after a fresh code; of two downloads finishing at once, one spends the link; staff issue
a new link for the same package (bounded, recorded, by letter to the contact on file); a
package deleted from storage is refused clearly."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest

from dsar.domain.errors import DownloadStopped, PackageLinkRefused
from dsar.domain.packages import CodeRefusal, LinkRefusal
from dsar.domain.request import Status
from dsar.services import package
from dsar.services import processing as svc
from tests.unit.services.conftest import JANE, World, shop_map
from tests.unit.services.fakes import FakeSystem

# Random text (a document of text goes in once checked; documents are stored, not deflated): the
# zip is larger than one chunk and the held-back tail.
DOC = base64.b64encode(os.urandom(3 * 1024 * 1024 + 12345))


def big_shop() -> FakeSystem:
    return FakeSystem(
        "shop",
        rows={
            "customer": [{"key": "1", "email": JANE}],
            "uploads": [{"key": "scan.txt", "email": JANE, "content_base64": base64.b64encode(DOC).decode()}],
        },
    )


@pytest.fixture
def world() -> World:
    return World([big_shop()], (shop_map(),))


def answered(w: World) -> str:
    rid = w.log()
    assert w.approve(rid) is Status.EXECUTING
    assert svc.execute_plan(w.ctx, rid) is Status.RESPONDING
    assert svc.send_response(w.ctx, rid) is Status.CLOSED
    return rid


def token_of(w: World) -> str:
    return str(w.letters.contexts("access_response")[-1]["package"]["url"].split("#", 1)[1])


def start(w: World, token: str) -> package.Download:
    """Ask for a code and give it: a download starts."""
    assert package.send_code(w.ctx, token) is None
    got = package.open_download(w.ctx, token, str(w.letters.contexts("package_code")[-1]["code"]))
    assert isinstance(got, package.Download), got
    return got


def interrupted(got: package.Download, pieces: int = 1) -> None:
    """The browser reads a little and goes away (the generator is closed, as the server does)."""
    for _ in range(pieces):
        next(got.chunks)
    got.chunks.close()  # type: ignore[attr-defined]


def whole(got: package.Download) -> bytes:
    data = b"".join(got.chunks)
    assert len(data) == got.size
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
    return data


def state(w: World, rid: str) -> package.AccessPackage:
    found = package.package_status(w.ctx, rid)
    assert found is not None
    return found


# --- a download that does not finish does not spend the link ---------------------------------------


def test_an_interrupted_download_leaves_the_link_working_and_a_finished_one_spends_it(world: World) -> None:
    rid = answered(world)
    token = token_of(world)
    first = start(world, token)
    assert first.size > package.DOWNLOAD_TAIL + (1 << 20)
    interrupted(first, pieces=2)
    assert package.link_refusal(world.ctx, token) is None  # still works
    assert state(world, rid).link_used_at is None and state(world, rid).download_starts == 1
    second = start(world, token)  # a fresh code, and it starts again from the beginning
    assert second.start == 2
    data = whole(second)
    assert DOC in data
    assert package.link_refusal(world.ctx, token) is LinkRefusal.USED
    assert package.send_code(world.ctx, token) is LinkRefusal.USED
    assert state(world, rid).downloaded_at is not None
    kinds = [k for k in world.events(rid) if k.startswith("PackageDownload")]
    assert kinds == ["PackageDownloadStarted", "PackageDownloadStarted", "PackageDownloaded"]
    (done,) = world.details(rid, "PackageDownloaded")
    assert done == {"package": state(world, rid).id, "size": second.size, "link": 0, "start": 2}
    assert world.details(rid, "PackageDownloadStarted")[0] == {"package": state(world, rid).id, "link": 0, "start": 1}


def test_each_start_needs_a_fresh_code(world: World) -> None:
    answered(world)
    token = token_of(world)
    assert package.send_code(world.ctx, token) is None
    code = str(world.letters.contexts("package_code")[-1]["code"])
    got = package.open_download(world.ctx, token, code)
    assert isinstance(got, package.Download)
    interrupted(got)
    assert package.open_download(world.ctx, token, code) is CodeRefusal.NONE_SENT  # the code went with the start


def test_a_link_starts_at_most_the_allowed_downloads(world: World) -> None:
    rid = answered(world)
    token = token_of(world)
    allowed = world.ctx.policy.package_max_download_starts
    assert allowed == 3
    for _ in range(allowed):
        interrupted(start(world, token))
    assert package.link_refusal(world.ctx, token) is LinkRefusal.STARTS
    assert package.send_code(world.ctx, token) is LinkRefusal.STARTS  # no code is mailed for a start refused
    assert package.open_download(world.ctx, token, "123456") is LinkRefusal.STARTS
    assert len(world.letters.contexts("package_code")) == allowed
    assert [d["reason"] for d in world.details(rid, "PackageDownloadRefused")] == ["starts"]
    assert state(world, rid).link_used_at is None  # not spent: kept for a new link


def test_a_smaller_start_limit_is_a_setting(world: World) -> None:
    object.__setattr__(world.ctx, "policy", replace(world.ctx.policy, package_max_download_starts=1))
    answered(world)
    token = token_of(world)
    interrupted(start(world, token))
    assert package.send_code(world.ctx, token) is LinkRefusal.STARTS


def test_of_two_downloads_finishing_one_spends_the_link_and_the_other_gets_no_end(world: World) -> None:
    rid = answered(world)
    token = token_of(world)
    a = start(world, token)
    b = start(world, token)
    # both run side by side up to the held-back tail
    head_a, head_b = next(a.chunks), next(b.chunks)
    assert head_a == head_b
    whole_a = head_a + b"".join(a.chunks)
    assert len(whole_a) == a.size
    with pytest.raises(DownloadStopped):
        b"".join(b.chunks)
    assert world.events(rid).count("PackageDownloaded") == 1
    assert [d["reason"] for d in world.details(rid, "PackageDownloadRefused")] == ["used"]


def test_a_download_running_when_a_new_link_is_issued_gets_no_end(world: World) -> None:
    rid = answered(world)
    old = start(world, token_of(world))
    next(old.chunks)
    package.issue_link(world.ctx, rid, by="sam.support")
    with pytest.raises(DownloadStopped):
        b"".join(old.chunks)
    assert "PackageDownloaded" not in world.events(rid)
    assert [d["reason"] for d in world.details(rid, "PackageDownloadRefused")] == ["replaced"]


# --- a new link on request ----------------------------------------------------------------------


def test_a_new_link_replaces_the_old_one_goes_by_letter_and_is_recorded(world: World) -> None:
    rid = answered(world)
    old_token = token_of(world)
    interrupted(start(world, old_token))
    world.clock.advance(days=3)
    link = package.issue_link(world.ctx, rid, by="sam.support")
    new_token = link.url.split("#", 1)[1]
    assert new_token != old_token and link.expires_at == world.clock.now + timedelta(days=7)
    # the old link stops working, and looks like any link that does not work
    assert package.link_refusal(world.ctx, old_token) is LinkRefusal.UNKNOWN
    assert package.send_code(world.ctx, old_token) is LinkRefusal.UNKNOWN
    # the letter, to the contact on file, carries the new link
    (ctx,) = world.letters.contexts("package_link")
    assert ctx["package"]["url"] == link.url and ctx["request"]["reference"] == svc.reference_of(world.ctx, rid)
    (mail,) = [m for k, m in world.mailer.sent.items() if "package_link.1" in k]
    assert mail.to == JANE
    assert [d["kind"] for d in world.details(rid, "LetterSent")][-1] == "package_link.1"
    # recorded with who asked, and no personal data
    (issued,) = world.details(rid, "PackageLinkIssued")
    assert issued == {"package": state(world, rid).id, "link": 1, "expires_at": link.expires_at.isoformat(), "by": "sam.support"}
    assert JANE not in str(issued)
    # the new link starts afresh and works
    assert state(world, rid).download_starts == 0
    got = start(world, new_token)
    assert DOC in whole(got)
    (done,) = world.details(rid, "PackageDownloaded")
    assert done["link"] == 1 and done["start"] == 1


def test_a_spent_or_expired_link_can_be_replaced_while_the_package_is_kept(world: World) -> None:
    rid = answered(world)
    whole(start(world, token_of(world)))  # downloaded: spent
    link = package.issue_link(world.ctx, rid, by="cli:ops")
    world.clock.advance(days=8)  # that one expired unused
    assert package.purge_packages(world.ctx) == 0  # kept DSAR_PACKAGE_KEEP_DAYS for a new link
    third = package.issue_link(world.ctx, rid, by="cli:ops")
    assert third.url != link.url
    assert DOC in whole(start(world, third.url.split("#", 1)[1]))
    assert [d["link"] for d in world.details(rid, "PackageLinkIssued")] == [1, 2]


def test_new_links_are_limited(world: World) -> None:
    rid = answered(world)
    allowed = world.ctx.policy.package_max_new_links
    assert allowed == 3
    for _ in range(allowed):
        package.issue_link(world.ctx, rid, by="sam.support")
    with pytest.raises(PackageLinkRefused, match="DSAR_PACKAGE_MAX_NEW_LINKS=3"):
        package.issue_link(world.ctx, rid, by="sam.support")
    assert len(world.details(rid, "PackageLinkIssued")) == allowed
    assert len(world.letters.contexts("package_link")) == allowed


def test_a_package_deleted_from_storage_is_refused_clearly(world: World) -> None:
    rid = answered(world)
    token = token_of(world)
    whole(start(world, token))
    assert package.purge_packages(world.ctx) == 1  # downloaded: deleted at the next sweep
    with pytest.raises(PackageLinkRefused, match="deleted on .* \\(retention\\).*new request"):
        package.issue_link(world.ctx, rid, by="sam.support")
    assert package.send_code(world.ctx, token) is LinkRefusal.DELETED
    assert "PackageLinkIssued" not in world.events(rid)
    assert world.letters.contexts("package_link") == []


def test_a_package_whose_stream_is_gone_is_refused_and_a_request_without_one_too(world: World) -> None:
    rid = answered(world)
    world.ctx.streams.delete(package.package_key(rid))
    with pytest.raises(PackageLinkRefused, match="no longer in storage"):
        package.issue_link(world.ctx, rid, by="sam.support")
    other = world.log()
    with pytest.raises(PackageLinkRefused, match="has no access package"):
        package.issue_link(world.ctx, other, by="sam.support")


# --- hostile input --------------------------------------------------------------------------------


def test_tampered_and_unknown_tokens_are_refused_like_a_replaced_link(world: World) -> None:
    rid = answered(world)
    token = token_of(world)
    before = world.events(rid)
    for bad in ("", " ", "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1"), token.upper(), token + "\x00", "é" * 64, "x" * 10_000):
        assert package.link_refusal(world.ctx, bad) is LinkRefusal.UNKNOWN
        assert package.send_code(world.ctx, bad) is LinkRefusal.UNKNOWN
        assert package.open_download(world.ctx, bad, "123456") is LinkRefusal.UNKNOWN
    assert world.events(rid) == before  # nothing recorded, nothing mailed
    assert world.letters.contexts("package_code") == []
