"""`dsar serve` serves the web app beside the deployments: it prints the address, a subject's
form submission is logged and its `process-request` run is started on the real Prefect
server, with the request id only."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.web.conftest import csrf_from

pytestmark = pytest.mark.prefect


def test_dsar_serve_serves_the_public_form_and_starts_the_run(prefect_server: PrefectServer, dsar: Dsar) -> None:
    log = dsar.home.parent / "serve.log"
    serving = dsar.serve()
    try:
        wait_until(lambda: log.exists() and "Web app at" in log.read_text(), 180, "dsar serve to print the web app's address")
        found = re.search(r"Web app at (http://127\.0\.0\.1:\d+) \(public form\), console at \1/console", log.read_text())
        assert found, log.read_text()[-2000:]
        assert found.group(1) == f"http://127.0.0.1:{dsar.env['DSAR_WEB_PORT']}"
        wait_until(lambda: prefect_server.has_deployment("process-request/process-request"), 180, "dsar serve to register its deployment")
        with httpx.Client(base_url=found.group(1), follow_redirects=True, timeout=30) as web:
            token = csrf_from(web.get("/?lang=de").text)
            fields = {"csrf_token": token, "type": "access", "country": "AT", "name": "Jana Probe", "email": "jana@example.com"}
            thanks = web.post("/", data=fields)
        assert thanks.status_code == 200 and "Danke" in thanks.text
        [row] = dsar.json("request", "list")
        assert (row["type"], row["regime"]) == ("access", "gdpr")
        wait_until(lambda: dsar.json("request", "show", row["reference"])["flow_run_id"], 120, "the request's run to start")
        run_id = dsar.json("request", "show", row["reference"])["flow_run_id"]
        wait_until(lambda: prefect_server.run_state(run_id) == "PAUSED", 180, "the run to wait for the subject's code")
        assert "jana" not in log.read_text().lower()  # the access log and the run's output carry no personal data
    finally:
        serving.terminate()
        serving.wait(timeout=60)
