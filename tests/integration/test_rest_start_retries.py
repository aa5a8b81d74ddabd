"""The REST start answers a busy Prefect server as Prefect's client does (issue 13, item 8): a
503 (SQLite locked), 429, 502 or 408 is tried again, as Retry-After says or after a back-off;
other failures are one clear error; a 401/403 hands the call to Prefect's client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dsar.domain.errors import ConfigurationError
from dsar.orchestration import rest


class Scripted(ThreadingHTTPServer):
    """A loopback HTTP server answering each call with the next (status, headers, body)."""

    def __init__(self, answers: list[tuple[int, dict[str, str], Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = answers
        self.seen: list[tuple[str, str, Any]] = []

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.seen.append((self.command, self.path, body))
        status, headers, reply = self.server.answers.pop(0)
        data = json.dumps(reply).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(answers: list[tuple[int, dict[str, str], Any]]) -> Scripted:
        s = Scripted(answers)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


BUSY = (503, {"Retry-After": "0"}, {"detail": "database is locked"})


def test_a_busy_server_is_tried_again_until_it_creates_the_run(serve: Any) -> None:
    s = serve([BUSY, (200, {}, {"id": "dep-1"}), BUSY, (429, {"Retry-After": "0"}, {}), (201, {}, {"id": "run-1"})])
    assert rest.start_run(s.api, "process-request/process-request", {"request_id": "abc"}, "DSR-2026-000001") == "run-1"
    assert [(m, p) for m, p, _ in s.seen] == [
        ("GET", "/api/deployments/name/process-request/process-request"),
        ("GET", "/api/deployments/name/process-request/process-request"),
        ("POST", "/api/deployments/dep-1/create_flow_run"),
        ("POST", "/api/deployments/dep-1/create_flow_run"),
        ("POST", "/api/deployments/dep-1/create_flow_run"),
    ]
    assert s.seen[-1][2]["parameters"] == {"request_id": "abc"} and s.seen[-1][2]["name"] == "DSR-2026-000001"


def test_without_retry_after_the_tries_back_off_and_end_in_one_clear_error(serve: Any) -> None:
    s = serve([(503, {}, {})] * (rest.MAX_RETRIES + 1))
    waited: list[float] = []
    with pytest.raises(ConfigurationError, match="answered 503 to GET deployments/name"):
        rest._call("GET", s.api + "/deployments/name/a/b", sleep=waited.append)
    assert len(waited) == rest.MAX_RETRIES and waited == sorted(waited) and waited[0] >= 1.6


def test_other_failures_are_not_tried_again(serve: Any) -> None:
    s = serve([(500, {}, {"detail": "boom"})])
    with pytest.raises(ConfigurationError, match="answered 500"):
        rest._call("POST", s.api + "/deployments/x/create_flow_run", {}, sleep=lambda _: pytest.fail("no retry"))
    s = serve([(404, {}, {})])
    with pytest.raises(ConfigurationError, match="is `dsar serve` running"):
        rest.deployment_id(s.api, "process-request/process-request")


def test_credentials_wanted_hand_the_call_to_prefects_client(serve: Any) -> None:
    s = serve([(401, {}, {"detail": "unauthorized"})])
    with pytest.raises(rest.NeedsPrefectClient):
        rest.deployment_id(s.api, "process-request/process-request")


def test_nothing_listening_is_said_at_once() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConfigurationError, match="does not answer"):
            rest._call("GET", f"http://127.0.0.1:{port}/api/health", sleep=lambda _: pytest.fail("no retry"))
