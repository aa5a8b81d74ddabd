"""The API's OpenAPI schema: what it lists and documents, and a property-based run over it.

The run uses schemathesis' Python API (``schemathesis.openapi.from_asgi`` and each operation's
``as_strategy``) under Hypothesis' own ``@given``: for every operation, valid (positive) and
invalid (negative) calls generated from the schema go to the ASGI app with a real API token,
and each answer is checked: no 5xx; status code, content type, headers and body conform to
what the schema documents; and a call the schema calls invalid is refused. Bounded and deterministic (``derandomize``, no example database).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.api_fixtures import READ, WRITE, Api, a_submission, api_app

EXAMPLES_PER_OPERATION_AND_MODE = 60
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,  # what the schema calls invalid is refused (4xx)
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    # Rates high enough for the run: it is not about 429s.
    with api_app(tmp_path, api_rate_per_token=100_000, api_rate_per_subject=100_000) as a:
        yield a


def test_the_schema_lists_exactly_the_api_routes_with_the_bearer_scheme(api: Api) -> None:
    schema = api.client.get("/api/openapi.json").json()

    assert set(schema["paths"]) == {"/api/requests", "/api/requests/{reference}"}
    assert set(schema["paths"]["/api/requests"]) == {"get", "post"}
    assert schema["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearer"]["description"]}
    }
    for path in schema["paths"].values():
        for op in path.values():
            assert op["security"] == [{"bearer": []}]
            assert "Scope `requests:" in op["description"]
            for status in ("401", "403", "422", "429"):
                assert set(op["responses"][status]["content"]) == {"application/problem+json"}
    assert op["responses"]["429"]["headers"]["Retry-After"]


def test_the_request_body_is_the_intakes_submission_with_examples(api: Api) -> None:
    post = api.client.get("/api/openapi.json").json()["paths"]["/api/requests"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]

    assert set(body["properties"]) == {
        "type",
        "regime",
        "access_scope",
        "country",
        "subdivision",
        "channel",
        "received_at",
        "backdated_reason",
        "subject",
        "agent",
        "corrections",
        "appeal_of",  # issue 16: an appeal names the refused request
        "language",  # issue 12: the language of the subject's letters (en, de, fr, es)
    }
    assert body["properties"]["channel"]["default"] == "api" and body["additionalProperties"] is False
    assert set(body["properties"]["subject"]["properties"]) == {"name", "emails", "phone", "postal_address", "account_id", "extra"}
    assert body["examples"]
    headers = api.headers(WRITE)
    for n, example in enumerate(body["examples"], start=1):  # every documented example is accepted
        example = {**example, "subject": {**example["subject"], "emails": [f"example{n}@example.com"]}}
        assert api.client.post("/api/requests", json=example, headers=headers).status_code == 201
    assert set(post["responses"]) >= {"201", "400", "401", "403", "409", "413", "415", "422", "429"}
    assert "200" not in post["responses"]  # every submission is a new request (a replay repeats its 201)
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}


def test_the_docs_page_is_rendered_from_the_schema_without_any_script(api: Api) -> None:
    schema = api.client.get("/api/openapi.json").json()
    r = api.client.get("/api/docs")

    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]  # the pages' CSP, unrelaxed
    assert "<script" not in r.text and "cdn." not in r.text and " style=" not in r.text
    assert 'href="/api/openapi.json"' in r.text
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            assert f"<code>{method.upper()} {path}</code> — {op['summary']}" in r.text
    for field in ("subject.emails", "corrections[].attribute", "links.self", "Idempotency-Key", "next_cursor"):
        assert f"<code>{field}</code>" in r.text
    assert "one of access, deletion, correction" in r.text and "application/problem+json" in r.text


def test_html_pages_stay_out_of_the_schema(api: Api) -> None:
    paths = api.client.get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/api/")]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_calls_generated_from_the_schema_never_get_a_5xx_and_conform_to_it(api: Api, mode: GenerationMode) -> None:
    headers = api.headers(WRITE, READ)
    # Some requests exist, so reads and links find something.
    for n in range(1, 4):
        assert api.client.post("/api/requests", json=a_submission(n), headers=headers).status_code == 201
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.fastapi)
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            statuses[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        call()

    calls = sum(statuses.values())
    print(f"schemathesis {mode.value}: {calls} calls", dict(sorted(statuses.items())))
    assert not [k for k in statuses if k[1] >= 500]
    assert calls >= len(operations) * 10
    if mode is GenerationMode.POSITIVE:
        assert statuses[("GET /api/requests", 200)] > 0
    else:
        assert sum(n for (_, status), n in statuses.items() if status in (400, 415, 422)) > 0
