"""Every refusal of the JSON API: an RFC 9457 problem with the right status and headers, naming
fields and never the values given, nothing stored, nothing personal in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import Response

from dsar.services import queries
from tests.web.api_fixtures import READ, WRITE, Api, a_submission, api_app

PROBLEM = "application/problem+json"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_app(tmp_path, api_rate_per_token=6, api_rate_per_subject=3) as a:
        yield a


def problem(r: Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"] and body["detail"]
    return body


def nothing_stored(api: Api) -> None:
    assert queries.request_list(api.web.ctx) == []
    assert api.orchestrator.started == []


@pytest.mark.parametrize(
    ("method", "path"), [("post", "/api/requests"), ("get", "/api/requests"), ("get", "/api/requests/DSR-2026-000001")]
)
def test_a_call_without_a_token_gets_401_with_a_bearer_challenge(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path, json=a_submission())
    problem(r, 401)
    assert r.headers["www-authenticate"] == 'Bearer realm="dsar"'
    nothing_stored(api)


@pytest.mark.parametrize("authorization", ["Bearer dsar_unknown-secret", "Bearer ", "Basic dXNlcjpwYXNz", "bearer-only"])
def test_an_unknown_or_malformed_token_gets_401(api: Api, authorization: str) -> None:
    r = api.client.post("/api/requests", json=a_submission(), headers={"Authorization": authorization})
    problem(r, 401)
    assert r.headers["www-authenticate"].startswith('Bearer realm="dsar"')
    assert "secret" not in r.text and "dXNlcjpwYXNz" not in r.text
    nothing_stored(api)


def test_a_revoked_token_gets_401(api: Api) -> None:
    token_id, headers = api.token(WRITE, READ)
    assert api.client.get("/api/requests", headers=headers).status_code == 200
    api.revoke(token_id)

    r = api.client.post("/api/requests", json=a_submission(), headers=headers)

    problem(r, 401)
    assert r.headers["www-authenticate"] == 'Bearer realm="dsar", error="invalid_token"'
    assert api.client.get("/api/requests", headers=headers).status_code == 401
    nothing_stored(api)


def test_a_read_only_token_gets_403_on_post_and_a_write_only_one_on_get(api: Api) -> None:
    r = api.client.post("/api/requests", json=a_submission(), headers=api.headers(READ))
    body = problem(r, 403)
    assert "requests:write" in body["detail"]
    assert r.headers["www-authenticate"] == 'Bearer realm="dsar", error="insufficient_scope", scope="requests:write"'
    nothing_stored(api)

    writer = api.headers(WRITE)
    problem(api.client.get("/api/requests", headers=writer), 403)
    problem(api.client.get("/api/requests/DSR-2026-000001", headers=writer), 403)


def test_an_unknown_reference_is_404_and_a_malformed_one_422(api: Api) -> None:
    headers = api.headers(READ)
    problem(api.client.get("/api/requests/DSR-2026-000042", headers=headers), 404)
    r = api.client.get("/api/requests/not-a-ref<x>", headers=headers)
    (named,) = problem(r, 422)["problems"]
    assert named.startswith("path.reference: ") and "not-a-ref" not in r.text
    # A reference is written as issued, in capitals (the schema says so by its pattern).
    problem(api.client.get("/api/requests/dsr-2026-000042", headers=headers), 422)


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"type": "access",', "application/json", 400),  # cut short
        (b"", "application/json", 400),
        (b'{"subject": {"name": "J\xe4ne"}}', "application/json", 400),  # Latin-1, not UTF-8
        (b"\xff\xfe{\x00}\x00", "application/json", 400),
        (b'{"a": NaN}', "application/json", 400),
        (rb'{"subject": {"name": "Jane \ud800 Doe", "emails": ["j@example.com"]}}', "application/json", 400),  # no character
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400),  # nested past the parser's depth
        (b'{"type": "access"}', "text/plain", 415),
        (b"type=access&regime=gdpr", "application/x-www-form-urlencoded", 415),
        (b'{"type": "access"}', "application/json; charset=latin-1", 415),
        (b'{"type": "access"}', "", 415),
    ],
)
def test_a_body_that_is_not_utf8_json_is_refused_before_anything_is_read(api: Api, content: bytes, content_type: str, status: int) -> None:
    headers = {**api.headers(WRITE), "Content-Type": content_type}
    body = problem(api.client.post("/api/requests", content=content, headers=headers), status)
    assert "J\ufffdne" not in body["detail"]
    nothing_stored(api)


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    big = a_submission(subject={"name": "Jane Doe", "emails": ["jane@example.com"], "extra": {"note": "x" * 70_000}})
    problem(api.client.post("/api/requests", json=big, headers=api.headers(WRITE)), 413)
    nothing_stored(api)


def test_invalid_fields_are_422_naming_the_fields_never_the_values(api: Api) -> None:
    body = a_submission(
        regime="gdpr",
        type="erase-all",
        subject={"name": "Jane\u202eDoe", "emails": ["SECRET-not-an-email"], "phone": "+49\n123"},
        agent={"name": "Pat Agent", "email": "pat-SECRET", "kind": "cousin"},
    )
    r = api.client.post("/api/requests", json=body, headers=api.headers(WRITE))

    got = problem(r, 422)
    fields = {p.split(":")[0] for p in got["problems"]}
    assert {"type", "subject.name", "subject.emails", "subject.phone", "agent.kind"} <= fields
    for value in ("erase-all", "SECRET", "Jane", "cousin", "Pat"):
        assert value not in r.text
    nothing_stored(api)


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "a string",
        {"type": "access", "regime": "gdpr", "subject": {"name": "J", "emails": "jane@example.com"}},
        {"type": "access", "regime": "gdpr", "unexpected": "SECRET"},
        {"type": ["access"], "regime": {"a": 1}},
    ],
)
def test_a_body_of_the_wrong_shape_is_422(api: Api, body: Any) -> None:
    r = api.client.post("/api/requests", json=body, headers=api.headers(WRITE))
    problem(r, 422)
    assert "SECRET" not in r.text and "jane@example.com" not in r.text
    nothing_stored(api)


@pytest.mark.parametrize(
    "query",
    ["status=lost", "due_before=tomorrow", "regime=hipaa", "limit=0", "limit=201", "limit=x", "cursor=not-a-cursor", "cursor=" + "a" * 500],
)
def test_invalid_list_parameters_are_422(api: Api, query: str) -> None:
    body = problem(api.client.get(f"/api/requests?{query}", headers=api.headers(READ)), 422)
    assert body["problems"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/requests?statuss=received"), ("get", "/api/requests/DSR-2026-000001?reveal=1"), ("post", "/api/requests?dry_run=1")],
)
def test_an_unknown_query_parameter_is_422_without_echoing_it(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path, json=a_submission(), headers=api.headers(WRITE, READ))
    assert problem(r, 422)["problems"][0].startswith("query: unknown parameter")
    assert "statuss" not in r.text and "reveal" not in r.text and "dry_run" not in r.text
    nothing_stored(api)


@pytest.mark.parametrize("key", ["", "x" * 256, "key with spaces", "schl\u00fcssel"])
def test_a_malformed_idempotency_key_is_422(api: Api, key: str) -> None:
    headers: dict[str, str | bytes] = {**api.headers(WRITE), "Idempotency-Key": key.encode(), "Content-Type": "application/json"}
    r = api.client.post("/api/requests", content=b"{}", headers=headers)
    body = problem(r, 422)
    assert any("idempotency-key" in p.lower() for p in body["problems"])
    nothing_stored(api)


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(api: Api) -> None:
    busy, calm = api.headers(READ), api.headers(READ)
    answers = [api.client.get("/api/requests", headers=busy).status_code for _ in range(7)]

    assert answers == [200] * 6 + [429]
    r = api.client.get("/api/requests", headers=busy)
    problem(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert api.client.get("/api/requests", headers=calm).status_code == 200


def test_submissions_for_one_subject_over_the_rate_get_429_and_store_nothing(api: Api) -> None:
    headers = api.headers(WRITE)
    kinds = ["access", "deletion", "correction"]
    for kind in kinds:
        extra = {"corrections": [{"attribute": "phone", "value": "+49 1"}]} if kind == "correction" else {}
        assert api.client.post("/api/requests", json=a_submission(type=kind, **extra), headers=headers).status_code == 201
    before = queries.request_list(api.web.ctx)

    # The same address, written differently, is the same subject.
    again = a_submission(type="access", subject={"name": "Jane Doe1", "emails": [" JANE1@Example.com"]}, regime="uk-gdpr", country="GB")
    r = api.client.post("/api/requests", json=again, headers=api.headers(WRITE))

    problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1 and "jane1" not in r.text.lower()
    assert queries.request_list(api.web.ctx) == before
    assert api.client.post("/api/requests", json=a_submission(2), headers=headers).status_code == 201


def test_refused_tokens_from_one_address_are_slowed_down(api: Api) -> None:
    answers = [api.client.get("/api/requests", headers={"Authorization": f"Bearer dsar_guess{i}"}).status_code for i in range(21)]
    assert answers == [401] * 20 + [429]


def test_no_personal_data_or_secret_reaches_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    token_id, headers = api.token(WRITE, READ)
    secret = headers["Authorization"].removeprefix("Bearer ")
    with caplog.at_level(logging.DEBUG):
        ref = api.client.post("/api/requests", json=a_submission(7), headers=headers).json()["reference"]
        api.client.get(f"/api/requests/{ref}", headers=headers)
        api.client.post("/api/requests", json=a_submission(8, regime="nope"), headers=headers)
        api.client.post("/api/requests", json=a_submission(9), headers={"Authorization": "Bearer dsar_wrong"})
    text = caplog.text.lower()
    for value in ("jane doe7", "jane7@", "jane8", "jane9", secret.lower()):
        assert value not in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("delete", "/api/requests", 405), ("put", "/api/requests/DSR-2026-000001", 405), ("get", "/api/nothing", 404)],
)
def test_an_unknown_route_or_method_under_api_is_a_problem_too(api: Api, method: str, path: str, status: int) -> None:
    problem(api.client.request(method, path, headers=api.headers(WRITE, READ)), status)
