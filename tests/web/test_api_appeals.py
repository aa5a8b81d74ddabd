"""An appeal through the API (issue 16): linked to the refused request, under its regime, with
the state's appeal period, and no flow run (legal decides it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsar.domain.request import Move
from dsar.services import queries, recording
from tests.web.api_fixtures import WRITE, Api, a_submission, api_app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_app(tmp_path) as a:
        yield a


def test_an_appeal_is_logged_through_the_api_without_a_flow_run(api: Api) -> None:
    first = api.client.post("/api/requests", json=a_submission(regime="us-va", country="US"), headers=api.headers(WRITE)).json()
    original = queries.lookup(api.web.ctx, first["reference"])
    with api.web.ctx.uow() as uow:
        recording.move(uow, uow.requests.facts(original.id), Move.DENY, datetime.now(UTC), "exempt")
        uow.commit()
    started = len(api.orchestrator.started)

    body = a_submission(type="appeal", regime="us-va", country="US", appeal_of=first["reference"])
    r = api.client.post("/api/requests", json=body, headers=api.headers(WRITE))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["run_started"] is False and len(api.orchestrator.started) == started
    view = queries.request_view(api.web.ctx, answer["reference"])
    assert (view.type, view.regime) == ("appeal", "vcdpa")
    assert (view.deadline.due - view.received_at.date()).days == 59  # Va. Code 59.1-577(C): 60 days


def test_an_appeal_of_nothing_refused_is_a_problem_response(api: Api) -> None:
    first = api.client.post("/api/requests", json=a_submission(regime="us-tx", country="US"), headers=api.headers(WRITE)).json()
    body = a_submission(type="appeal", regime="us-tx", country="US", appeal_of=first["reference"])
    r = api.client.post("/api/requests", json=body, headers=api.headers(WRITE))
    assert r.status_code == 422 and "was not refused" in r.text
