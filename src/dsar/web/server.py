"""Serving the web app with uvicorn in a background thread of the process that serves the
Prefect deployments (``dsar serve``) or runs the demo.

    server = start_web(web)        # binds web_host:web_port now; raises ConfigurationError if taken
    print(server.url)              # http://127.0.0.1:8000
    server.stop()

The access log holds the method, the route's path template (``/console/requests/{reference}``,
never the path as sent, never a query string), the status and the duration: no client
address, no token, nothing a subject typed. uvicorn's own access log is off.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsar.domain.errors import ConfigurationError
from dsar.settings import Settings
from dsar.web.app import create_app
from dsar.web.context import WebContext

access_log = logging.getLogger("dsar.web.access")


class AccessLog:
    """Pure ASGI: one line per request with method, route template, status and time to the
    answer's start."""

    def __init__(self, app: ASGIApp, logger: logging.Logger = access_log) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Logged as the answer starts (routing is done: the route is in the scope), so a
                # client that has its answer can read the line.
                template = getattr(scope.get("route"), "path", None) or "(no route)"
                ms = (time.perf_counter() - started) * 1000
                self.logger.info("%s %s %d %.0fms", scope.get("method", "-"), template, int(message["status"]), ms)
            await send(message)

        await self.app(scope, receive, send_logged)


@dataclass
class WebServer:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot serve the web app on {host}:{port} ({exc.strerror or exc}); set DSAR_WEB_PORT (or DSAR_WEB_HOST) to a free one"
        ) from None
    sock.setblocking(False)
    return sock


def check_web_port(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` (naming DSAR_WEB_PORT) when ``web_host:web_port``
    cannot be bound now; the demo asks before its `dsar serve` child tries."""
    _bind(settings.web_host, settings.web_port).close()


def start_web(web: WebContext, *, startup_timeout: float = 30) -> WebServer:
    """Bind ``web_host:web_port`` (port 0: any free one) and serve the web app from a daemon
    thread; returns once it answers. Forwarded headers are trusted from 127.0.0.1 only (the
    TLS reverse proxy on the same machine)."""
    s = web.settings
    sock = _bind(s.web_host, s.web_port)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        AccessLog(create_app(web)),
        access_log=False,
        log_config=None,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        date_header=False,
        h11_max_incomplete_event_size=16 * 1024,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="dsar-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ConfigurationError(f"the web app did not start on {s.web_host}:{port}")
        time.sleep(0.05)
    return WebServer(server, thread, s.web_host, port)
