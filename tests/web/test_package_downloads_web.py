"""Restartable downloads through the web app served by uvicorn (as `dsar serve` does), with a
browser-like client (httpx) that reads part of the zip and closes the connection: the link
keeps working until a download finishes; the start limit's page; a new link replaces the
old one, whose page is the expired link's."""

from __future__ import annotations

import io
import secrets
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dsar.services import package
from dsar.web.i18n import CATALOGS
from dsar.web.server import WebServer, start_web
from tests.packages import latest_package_code
from tests.web.conftest import WebApp, csrf_from, make_web
from tests.web.test_package_page import JANE, answered

EN = CATALOGS["en"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebApp, WebServer]]:
    """The web app on a free port over the demo shop, where Jane's orders carry 12 MiB of
    text that does not compress much: her zip is far larger than what the sockets buffer."""
    from dsar.demo.shop import seed_shop

    w = make_web(tmp_path / "home", web_port=0)
    seed_shop(w.app.settings.demo_shop_path)
    with sqlite3.connect(w.app.settings.demo_shop_path) as db:
        (order,) = db.execute("SELECT o.id FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = ?", (JANE,)).fetchone()
        lines = [(order, secrets.token_urlsafe(384 * 1024)) for _ in range(24)]
        db.executemany("INSERT INTO order_line (order_id, sku, description, quantity, price) VALUES (?, 'SKU-BIG', ?, 1, 1)", lines)
    db.close()
    server = start_web(w.web)
    try:
        yield w, server
    finally:
        server.stop()
        w.app.engine.dispose()


def ask_code(http: httpx.Client, token: str) -> httpx.Response:
    page = http.get("/package")
    return http.post("/package/code", data={"csrf_token": csrf_from(page.text), "token": token})


def download(http: httpx.Client, w: WebApp, ref: str, token: str, *, stop_after: int | None = None) -> bytes:
    """Ask for a code, give it, and read the zip: all of it, or ``stop_after`` bytes and then
    close the connection (the person closed the tab, the train went into a tunnel)."""
    asked = ask_code(http, token)
    assert asked.status_code == 200, asked.text
    page = http.get("/package")
    form = {"csrf_token": csrf_from(page.text), "token": token, "code": latest_package_code(w.app.settings.effective_outbox_dir, ref)}
    got = b""
    with http.stream("POST", "/package/download", data=form) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        size = int(r.headers["content-length"])
        for chunk in r.iter_bytes(64 * 1024):
            got += chunk
            if stop_after is not None and len(got) >= stop_after:
                assert len(got) < size // 2
                return got  # leaving the block closes the connection half-way
    assert len(got) == size
    return got


def events(w: WebApp, ref: str) -> list[str]:
    with w.app.ctx.uow() as uow:
        return [e.kind for e in uow.audit.events(uow.requests.id_for_reference(ref))]


def settled(w: WebApp, ref: str, kind: str, n: int) -> None:
    """Wait (a little) until the server recorded ``n`` events of ``kind``; then a moment more,
    to see that no more come."""
    deadline = time.monotonic() + 10
    while events(w, ref).count(kind) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert events(w, ref).count(kind) == n


def test_an_interrupted_download_leaves_the_link_working_until_the_start_limit(served: tuple[WebApp, WebServer]) -> None:
    w, server = served
    ref, token = answered(w)
    with w.app.ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
    p = package.package_status(w.app.ctx, rid)
    assert p is not None and p.size > 16 * 1024 * 1024
    allowed = w.app.ctx.policy.package_max_download_starts
    with httpx.Client(base_url=server.url) as http:
        for n in range(1, allowed + 1):
            part = download(http, w, ref, token, stop_after=256 * 1024)
            assert part.startswith(b"PK\x03\x04")
            settled(w, ref, "PackageDownloadStarted", n)
            assert "PackageDownloaded" not in events(w, ref)  # not spent: the link works on
            assert package.link_refusal(w.app.ctx, token) is (None if n < allowed else package.LinkRefusal.STARTS)
        refused = ask_code(http, token)
        assert refused.status_code == 410 and EN["package.refused.starts"] in refused.text
    assert EN["package.refused.help"].split("{")[0] in refused.text


def test_a_finished_download_spends_the_link_and_a_new_link_replaces_the_old(served: tuple[WebApp, WebServer]) -> None:
    w, server = served
    ref, token = answered(w)
    with w.app.ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
    with httpx.Client(base_url=server.url) as http:
        download(http, w, ref, token, stop_after=128 * 1024)  # one given up ...
        settled(w, ref, "PackageDownloadStarted", 1)
        link = package.issue_link(w.app.ctx, rid, by="sam.support")  # ... and the subject asked for a new link
        new = link.url.split("#", 1)[1]
        old = ask_code(http, token)
        unknown = ask_code(http, "f" * 64)
        assert old.status_code == unknown.status_code == 410  # the replaced link's page is the expired link's
        assert EN["package.refused.expired"] in old.text and EN["package.refused.expired"] in unknown.text
        data = download(http, w, ref, new)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert z.testzip() is None and f"{ref}-your-data/index.html" in z.namelist()
        settled(w, ref, "PackageDownloaded", 1)
        used = ask_code(http, new)
        assert used.status_code == 410 and EN["package.refused.used"] in used.text
    kinds = [k for k in events(w, ref) if k.startswith("Package")]
    assert kinds.count("PackageDownloadStarted") == 2 and kinds[-1] == "PackageDownloaded" and "PackageLinkIssued" in kinds
