"""Issue 13, items 3 and 4 below the end-to-end tests: each interactive demo's customer is new
and on file; the demo helpdesk is served once per folder, and a second process on its port uses
its own folder's or stops with a message naming the port."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from dsar.demo.files import seed_files
from dsar.demo.helpdesk import instance_of
from dsar.demo.newcomer import add_newcomer, newcomer_email, newcomer_request
from dsar.demo.service import ensure_helpdesk, has_demo_data, serve_demo_helpdesk
from dsar.demo.shop import seed_shop
from dsar.domain.errors import ConfigurationError
from tests.conftest import make_settings
from tests.e2e.conftest import free_port


def test_each_newcomer_is_a_new_customer_on_file_with_an_address_an_order_and_an_upload(tmp_path: Path) -> None:
    shop, files = tmp_path / "demo" / "shop.db", tmp_path / "demo" / "files"
    seed_shop(shop)
    seed_files(files)
    first, second = add_newcomer(shop, files), add_newcomer(shop, files)
    assert (first, second) == (1, 2)
    with sqlite3.connect(shop) as db:
        rows = db.execute(
            "SELECT c.name, c.phone, a.street, a.postcode, count(o.id) FROM customer c JOIN address a ON a.id = c.address_id "
            "LEFT JOIN orders o ON o.customer_id = c.id WHERE c.email = ? GROUP BY c.id",
            (newcomer_email(2),),
        ).fetchall()
    assert rows == [("Nova Newcomer 2", "+49 30 5550002", "2 Newcomer Lane", "10115", 1)]
    assert (files / "uploads" / newcomer_email(2)).is_dir()
    sample = newcomer_request(2)
    assert sample["subject"]["emails"] == [newcomer_email(2)] and sample["type"] == "access"
    # a re-seeded shop (a new schema version) does not hand out a number twice
    shop.unlink()
    seed_shop(shop)
    assert add_newcomer(shop, files) == 3


def test_two_demos_at_once_get_different_newcomers(tmp_path: Path) -> None:
    shop = tmp_path / "demo" / "shop.db"
    seed_shop(shop)
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(add_newcomer(shop))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [1, 2, 3, 4, 5, 6]


def _health(url: str) -> Any:
    with urllib.request.urlopen(url + "/health", timeout=5) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


def test_the_helpdesk_is_served_once_per_folder_and_a_second_process_uses_it(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "a", demo_helpdesk_port=port)
    assert not has_demo_data(settings)  # no demo ran here: `dsar serve` serves no helpdesk
    assert serve_demo_helpdesk(settings) == (None, None)
    first = ensure_helpdesk(settings)
    try:
        assert first.own is not None and has_demo_data(settings)
        assert _health(first.url) == {"status": "ok", "instance": instance_of(settings.demo_helpdesk_dir)}
        again, said = serve_demo_helpdesk(settings)  # `dsar serve` while `dsar demo` of this folder runs
        assert again is not None and again.own is None and again.url == first.url
        assert said is not None and "another dsar process of this folder" in said
        again.stop()  # not its own: stops nothing
        assert _health(first.url)["status"] == "ok"

        other = make_settings(tmp_path / "b", demo_helpdesk_port=port)
        with pytest.raises(ConfigurationError, match=f"port {port} .*another folder's demo helpdesk.*DSAR_DEMO_HELPDESK_PORT"):
            ensure_helpdesk(other)
    finally:
        first.stop()
    # once the first process stopped, the next one serves it itself
    later = ensure_helpdesk(settings)
    try:
        assert later.own is not None
    finally:
        later.stop()


def test_another_program_on_the_port_stops_the_helpdesk_with_a_clear_message(tmp_path: Path) -> None:
    class Other(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(401)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = HTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with pytest.raises(ConfigurationError, match=f"port {port} .*another program"):
            ensure_helpdesk(make_settings(tmp_path, demo_helpdesk_port=port))
    finally:
        server.shutdown()
        server.server_close()
