"""The JSON API on PostgreSQL (DSAR_DATABASE_URL): a helpdesk submits, retries, reads and lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.api_fixtures import READ, WRITE, Api, a_submission, api_app

pytestmark = pytest.mark.postgres


@pytest.fixture
def api(tmp_path: Path, pg_database: str) -> Iterator[Api]:
    with api_app(tmp_path, database_url=pg_database) as a:
        assert a.app.engine.dialect.name == "postgresql"
        yield a


def test_submit_retry_read_and_list_on_postgresql(api: Api) -> None:
    headers = {**api.headers(WRITE, READ), "Idempotency-Key": "pg-1"}
    first = api.client.post("/api/requests", json=a_submission(1), headers=headers)
    retry = api.client.post("/api/requests", json=a_submission(1), headers=headers)
    other = api.client.post("/api/requests", json=a_submission(2, received_at="2026-11-01"), headers=api.headers(WRITE))

    assert (first.status_code, retry.status_code, other.status_code) == (201, 201, 201)
    assert retry.json() == first.json()
    ref = first.json()["reference"]
    got = api.client.get(f"/api/requests/{ref}", headers=headers)
    assert got.status_code == 200
    assert got.json()["subject"]["emails"] == ["j***@example.com"] and got.json()["channel"] == "api"

    page1 = api.client.get("/api/requests?limit=1", headers=headers).json()
    page2 = api.client.get(page1["links"]["next"], headers=headers).json()
    assert [x["reference"] for x in page1["items"] + page2["items"]] == [other.json()["reference"], ref]
    assert page2["next_cursor"] is None
    assert api.client.get("/api/requests/DSR-2026-000099", headers=headers).status_code == 404
