"""`request new` starts its run with two REST calls instead of importing Prefect (issue 13,
item 8): the run it creates on a real Prefect server is the one Prefect's own client creates."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from dsar.orchestration import rest
from dsar.orchestration.prefect import PrefectOrchestrator
from tests.conftest import make_settings
from tests.e2e.conftest import PrefectServer

# A deployment of its own: the session's server also carries the real process-request one.
FLOW, DEPLOYMENT = "dsar-rest-check", "rest-check"


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST")  # noqa: S310 - loopback
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


def _deployment(server: PrefectServer) -> str:
    flow = _post(server.api, "/flows/", {"name": FLOW})
    # tags and a default parameter on the deployment: the server merges them into each run
    dep = _post(
        server.api,
        "/deployments/",
        {"name": DEPLOYMENT, "flow_id": flow["id"], "tags": ["dsar", "process"], "parameters": {"request_id": "default"}},
    )
    return str(dep["id"])


SAME = ("deployment_id", "flow_id", "tags", "work_queue_name", "work_queue_id", "parent_task_run_id", "idempotency_key", "job_variables")


def test_the_rest_start_creates_the_run_prefects_client_creates(prefect_server: PrefectServer, tmp_path: Path) -> None:
    deployment_id = _deployment(prefect_server)
    orchestrator = PrefectOrchestrator.configured(make_settings(tmp_path / "home", prefect_api_url=prefect_server.api))
    orchestrator.deployment = f"{FLOW}/{DEPLOYMENT}"
    assert rest.usable(prefect_server.api)

    by_rest = orchestrator.start_run("aaaa1111", "DSR-2026-900001")  # the plain path
    by_client = orchestrator._start_run_with_client("bbbb2222", "DSR-2026-900002")  # run_deployment
    a, b = prefect_server.get(f"/flow_runs/{by_rest}"), prefect_server.get(f"/flow_runs/{by_client}")

    assert a["deployment_id"] == b["deployment_id"] == deployment_id
    assert a["name"] == "DSR-2026-900001" and b["name"] == "DSR-2026-900002"
    assert a["parameters"] == {"request_id": "aaaa1111"} and b["parameters"] == {"request_id": "bbbb2222"}
    assert sorted(a["tags"]) == ["dsar", "process"]
    for key in SAME:
        assert a[key] == b[key], key
    assert a["labels"] == b["labels"]
    assert a["empirical_policy"] == b["empirical_policy"]
    assert (a["state"]["type"], a["state"]["name"]) == (b["state"]["type"], b["state"]["name"]) == ("SCHEDULED", "Scheduled")
    assert a["state"]["state_details"]["scheduled_time"] is not None
    # both are due now, not later: a served deployment picks them up at once
    assert abs(_seconds(a["expected_start_time"]) - _seconds(b["expected_start_time"])) < 120


def test_an_unknown_deployment_is_a_clear_configuration_error(prefect_server: PrefectServer) -> None:
    import pytest

    from dsar.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="is `dsar serve` running"):
        rest.start_run(prefect_server.api, "no-such-flow/no-such-deployment", {"request_id": "x"}, "DSR-2026-900003")


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
