"""The scheduled `deadline-watch` deployment on a real Prefect server: its cron schedule, an
alert that reaches a webhook the test listens on, and the Prefect events teams automate on."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import Dsar, PrefectServer, wait_until

pytestmark = pytest.mark.prefect


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    got: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            got.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0")))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/alerts", got
    finally:
        server.shutdown()
        server.server_close()


def post(server: PrefectServer, path: str, body: dict[str, Any]) -> Any:
    """POST to the Prefect API, retrying a 503 the way Prefect's own client does (its SQLite
    database answers 'locked' now and then while the scheduler writes)."""
    for attempt in range(10):
        req = urllib.request.Request(server.api + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 9:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def test_the_watch_runs_on_schedule_alerts_a_webhook_and_emits_prefect_events(
    prefect_server: PrefectServer, dsar: Dsar, webhook: tuple[str, list[Any]]
) -> None:
    url, got = webhook
    planted = "Quentin Vexilloid"
    env = dsar.env | {"DSAR_ALERT_URLS": json.dumps([url]), "DSAR_TIMEZONE": "Europe/Berlin"}
    cli = Dsar(env, dsar.home)
    new = cli.json(
        "request", "new", "--no-start", "--type", "access", "--regime", "gdpr", "--country", "DE",
        "--received", "2026-10-01", "--name", planted, "--email", "quentin.vexilloid@example.org",
    )  # fmt: skip
    ref = new["reference"]
    assert new["due"] == "2026-11-02"

    serving = cli.serve()
    try:
        name = "deadline-watch/deadline-watch"
        wait_until(lambda: prefect_server.has_deployment(name), 180, "the deadline-watch deployment")
        deployment = prefect_server.get(f"/deployments/name/{name}")
        (schedule,) = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "0 * * * *"
        assert schedule["schedule"]["timezone"] == "Europe/Berlin"

        run = post(prefect_server, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"as_of": "2026-11-03"}})
        wait_until(lambda: prefect_server.run_state(run["id"]) in ("COMPLETED", "FAILED", "CRASHED"), 300, "the watch run to finish")
        assert prefect_server.run_state(run["id"]) == "COMPLETED"

        assert [g["title"] for g in got] == [f"{ref}: statutory deadline BREACHED (2026-11-02, 1 day(s) ago)"]
        # logged without a run (--no-start, as when Prefect was down): the watch's reconciler started one
        started = cli.json("request", "show", ref)["flow_run_id"]
        assert started is not None
        kinds = [e["kind"] for e in cli.json("request", "events", ref)]
        assert "ProcessingRestarted" in kinds

        def events() -> list[Any]:
            found = post(prefect_server, "/events/filter", {"filter": {"event": {"prefix": ["dsar.deadline."]}}, "limit": 50})
            return [e for e in found["events"] if e["resource"]["prefect.resource.id"] == f"dsar.request.{ref}"]

        wait_until(lambda: len(events()) == 1, 60, "the breach event")
        (event,) = events()
        assert event["event"] == "dsar.deadline.breached"
        assert event["payload"] == {"reference": ref, "kind": "breached", "due": "2026-11-02", "days_left": -1}
        assert planted.split()[1] not in json.dumps(event) + json.dumps(got)

        # a second run the same day: nothing new reaches anyone
        again = post(prefect_server, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"as_of": "2026-11-03"}})
        wait_until(lambda: prefect_server.run_state(again["id"]) == "COMPLETED", 300, "the second watch run")
        assert len(got) == 1
        assert len(events()) == 1
        assert cli.json("request", "show", ref)["flow_run_id"] == started  # its run is alive: not started twice
        alerts = cli.json("alerts", "list", "--request", ref)
        assert [(a["kind"], a["notify"], a["delivered_at"] is not None) for a in alerts if a["notify"]] == [("breached", True, True)]
    finally:
        serving.terminate()
        serving.wait(timeout=60)
