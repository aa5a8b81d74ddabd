"""The web app served by uvicorn in a thread (as `dsar serve` and the demo do): it answers on
its port, logs no query string or personal data, and a taken port fails naming the setting."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dsar.domain.errors import ConfigurationError
from dsar.web.server import check_web_port, start_web
from tests.web.conftest import WebApp, csrf_from, make_web


@pytest.fixture
def served(tmp_path: Path) -> Iterator[WebApp]:
    w = make_web(tmp_path / "home", web_port=0)
    yield w
    w.app.engine.dispose()


def test_the_server_answers_and_logs_only_route_templates(served: WebApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dsar.web.access")
    server = start_web(served.web)
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=server.url, follow_redirects=True) as http:
            page = http.get("/?lang=de&email=ann@example.com")
            assert page.status_code == 200 and '<html lang="de">' in page.text
            token = csrf_from(page.text)
            sent = http.post(
                "/", data={"csrf_token": token, "type": "access", "country": "FR", "name": "Ann Secret", "email": "ann@example.com"}
            )
            assert sent.status_code == 200 and "Danke" in sent.text  # followed the redirect to /thanks
            assert http.get("/no/such/ann@example.com").status_code == 404
    finally:
        server.stop()
    assert not server.thread.is_alive()
    lines = [r.getMessage() for r in caplog.records if r.name == "dsar.web.access"]
    assert [line.rsplit(" ", 1)[0] for line in lines] == ["GET / 200", "POST / 303", "GET /thanks 200", "GET (no route) 404"]
    text = "\n".join(lines)
    assert "ann" not in text.lower() and "lang" not in text and "?" not in text and "127.0.0.1" not in text
    assert served.request_count() == 1


def test_a_taken_port_names_the_setting(served: WebApp) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        w = make_web(served.app.settings.home_dir / "other", web_port=port)
        try:
            with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}.*DSAR_WEB_PORT"):
                start_web(w.web)
            with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}.*DSAR_WEB_PORT"):
                check_web_port(w.web.settings)  # what the demo asks before starting `dsar serve`
        finally:
            w.app.engine.dispose()
