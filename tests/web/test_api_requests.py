"""The JSON API's happy paths: submitting (new, a repeat is a request of its own, idempotent
retry), reading one request (masked, with the request it duplicates) and listing them a page at
a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsar.demo.run import latest_code
from dsar.services import processing, queries
from tests.web.api_fixtures import READ, WRITE, Api, a_submission, api_app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_app(tmp_path) as a:
        yield a


def stored_references(api: Api) -> list[str]:
    return [r.reference for r in queries.request_list(api.web.ctx)]


def test_a_submission_is_logged_through_the_intake_and_its_run_started_with_the_id_only(api: Api) -> None:
    r = api.client.post("/api/requests", json=a_submission(), headers=api.headers(WRITE))

    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"reference", "status", "due", "acknowledge_by", "run_started", "links"}
    assert body["run_started"] is True and body["status"] == "received"
    assert r.headers["location"] == body["links"]["self"] == f"/api/requests/{body['reference']}"
    assert stored_references(api) == [body["reference"]]
    (run,) = api.orchestrator.started
    assert (run.reference, run.request_id) == (body["reference"], queries.lookup(api.web.ctx, body["reference"]).id)
    view = queries.request_view(api.web.ctx, body["reference"])
    assert view.channel == "api" and body["due"] == view.deadline.due.isoformat()


def test_a_channel_given_is_kept(api: Api) -> None:
    r = api.client.post("/api/requests", json=a_submission(channel="phone"), headers=api.headers(WRITE))
    assert r.status_code == 201
    assert queries.request_view(api.web.ctx, r.json()["reference"]).channel == "phone"


def test_a_ccpa_request_answers_with_its_acknowledge_by_date(api: Api) -> None:
    r = api.client.post(
        "/api/requests",
        json=a_submission(regime="ccpa", country="US", access_scope="categories"),
        headers=api.headers(WRITE),
    )
    assert r.status_code == 201, r.text
    assert r.json()["acknowledge_by"] is not None


def test_a_repeat_of_the_same_subject_type_and_regime_is_a_request_of_its_own(api: Api) -> None:
    # Nothing is verified at intake: a repeat answers 201 with its own reference, never another
    # request's (security probe, item 4). Repeats are linked after verification.
    headers = api.headers(WRITE)
    first = api.client.post("/api/requests", json=a_submission(), headers=headers)
    again = api.client.post("/api/requests", json=a_submission(), headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["run_started"] is True
    assert again.json()["reference"] != first.json()["reference"]
    assert again.headers["location"] == f"/api/requests/{again.json()['reference']}"
    assert sorted(stored_references(api)) == sorted([first.json()["reference"], again.json()["reference"]])
    assert len(api.orchestrator.started) == 2


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer_and_stores_nothing(api: Api) -> None:
    headers = {**api.headers(WRITE), "Idempotency-Key": "ticket-4711-attempt"}
    first = api.client.post("/api/requests", json=a_submission(), headers=headers)
    retry = api.client.post("/api/requests", json=a_submission(), headers=headers)

    assert first.status_code == retry.status_code == 201  # the first answer, not a "linked" 200
    assert retry.json() == first.json() and retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert stored_references(api) == [first.json()["reference"]]
    assert len(api.orchestrator.started) == 1
    events = queries.request_events(api.web.ctx, first.json()["reference"])
    assert "DuplicateSubmissionLinked" not in {e.kind for e in events}  # nothing recorded for the retry


def test_an_idempotency_key_reused_with_another_body_is_refused_and_stores_nothing(api: Api) -> None:
    headers = {**api.headers(WRITE), "Idempotency-Key": "k-1"}
    first = api.client.post("/api/requests", json=a_submission(1), headers=headers)
    other = api.client.post("/api/requests", json=a_submission(2), headers=headers)

    assert other.status_code == 422
    assert other.json()["problems"] == ["Idempotency-Key: used with another body"]
    assert "jane2" not in other.text
    assert stored_references(api) == [first.json()["reference"]]


def test_idempotency_keys_belong_to_their_token(api: Api) -> None:
    key = {"Idempotency-Key": "same-key"}
    one = api.client.post("/api/requests", json=a_submission(1), headers={**api.headers(WRITE), **key})
    two = api.client.post("/api/requests", json=a_submission(2), headers={**api.headers(WRITE), **key})

    assert one.status_code == two.status_code == 201
    assert one.json()["reference"] != two.json()["reference"]


def test_a_refused_call_is_not_remembered_under_its_key(api: Api) -> None:
    headers = {**api.headers(WRITE), "Idempotency-Key": "fix-and-retry"}
    bad = api.client.post("/api/requests", json=a_submission(regime="nope"), headers=headers)
    good = api.client.post("/api/requests", json=a_submission(), headers=headers)

    assert (bad.status_code, good.status_code) == (422, 201)


def test_one_request_reads_with_its_dates_state_and_run_and_the_subject_masked(api: Api) -> None:
    body = a_submission(
        subject={"name": "Jane Doe", "emails": ["jane.doe@example.com"], "phone": "+49 30 1234567", "extra": {"customer_no": "C-99"}},
        agent={"name": "Pat Agent", "email": "pat@agency.example"},
    )
    ref = api.client.post("/api/requests", json=body, headers=api.headers(WRITE)).json()["reference"]
    api.orchestrator.suspend(api.orchestrator.started[0].run_id)

    r = api.client.get(f"/api/requests/{ref}", headers=api.headers(READ))

    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    got = r.json()
    assert (got["reference"], got["type"], got["regime"], got["status"], got["on_hold"]) == (ref, "access", "gdpr", "received", False)
    assert got["deadline"]["due"] == queries.request_view(api.web.ctx, ref).deadline.due.isoformat()
    assert got["flow_run"] == {"id": "run-1", "state": "PAUSED", "name": "Suspended"}
    assert got["subject"] == {
        "name": "J*** D***",
        "emails": ["j***@example.com"],
        "phone": "+*** 3*** 1***",
        "postal_address": None,
        "account_id": None,
        "extra": {"customer_no": "C***"},
    }
    assert got["agent"] == {"name": "P*** A***", "email": "p***@agency.example", "kind": "authorized_agent"}
    for secret in ("Jane", "jane.doe", "1234567", "C-99", "Pat"):
        assert secret not in r.text
    # Reading through the API reveals nothing, so records no view of the subject's data.
    assert "SubjectDataViewed" not in {e.kind for e in queries.request_events(api.web.ctx, ref)}


def verify(api: Api, reference: str) -> None:
    import sqlite3

    from dsar.demo.shop import seed_shop

    shop = api.web.app.settings.demo_shop_path
    seed_shop(shop)  # the system of record the subject is found in: the API's subjects are customers
    with sqlite3.connect(shop) as db:
        db.execute("UPDATE customer SET email = 'jane1@example.com' WHERE id = 1")
    ctx = api.web.ctx
    rid = queries.lookup(ctx, reference).id
    processing.start_verification(ctx, rid)
    code = latest_code(api.web.app.settings.effective_outbox_dir, reference)
    assert code is not None
    assert processing.confirm_code(ctx, rid, code) is processing.VerificationOutcome.VERIFIED


def test_a_duplicate_names_the_first_by_reference_once_both_are_verified_with_the_same_address(api: Api) -> None:
    headers = api.headers(WRITE, READ)
    first = api.client.post("/api/requests", json=a_submission(), headers=headers).json()["reference"]
    second = api.client.post("/api/requests", json=a_submission(), headers=headers)
    assert second.status_code == 201
    assert api.client.get(second.headers["location"], headers=headers).json()["linked_to"] is None  # nothing verified yet

    verify(api, first)
    verify(api, second.json()["reference"])
    got = api.client.get(second.headers["location"], headers=headers).json()
    assert (got["linked_to"], got["status"]) == (first, "withdrawn")
    assert api.client.get(f"/api/requests/{first}", headers=headers).json()["linked_to"] is None


HOSTILE = "<script>alert('x')</script>"


def test_hostile_strings_are_stored_as_data_and_returned_escaped(api: Api) -> None:
    body = a_submission(subject={"name": f"{HOSTILE} Doe", "emails": ["x@example.com"], "extra": {HOSTILE: "<img src=x onerror=alert(1)>"}})
    post = api.client.post("/api/requests", json=body, headers=api.headers(WRITE))
    assert post.status_code == 201
    ref = post.json()["reference"]

    r = api.client.get(f"/api/requests/{ref}", headers=api.headers(READ))

    assert r.status_code == 200
    assert "<" not in r.text and ">" not in r.text  # \u003c ... : never markup, whatever sniffs it
    assert r.headers["x-content-type-options"] == "nosniff"
    got = r.json()
    assert got["subject"]["extra"] == {HOSTILE: "<*** s*** o***"}  # the key as given, as data; the value masked
    assert got["subject"]["name"] == "<*** D***"
    stored = queries.request_view(api.web.ctx, ref, reveal=True, via="tests").subject
    assert stored.name == f"{HOSTILE} Doe" and dict(stored.extra) == {HOSTILE: "<img src=x onerror=alert(1)>"}


def test_the_list_is_soonest_due_first_and_pages_through_every_request_once(api: Api) -> None:
    headers = api.headers(WRITE, READ)
    made = []
    for n, received in enumerate(["2026-11-20", "2026-11-01", "2026-11-10", "2026-11-05", "2026-11-15"], start=1):
        r = api.client.post("/api/requests", json=a_submission(n, received_at=received), headers=headers)
        assert r.status_code == 201, r.text
        made.append(r.json())
    by_due = [x["reference"] for x in sorted(made, key=lambda x: (x["due"], x["reference"]))]

    seen: list[str] = []
    url: str | None = "/api/requests?limit=2"
    pages = 0
    while url is not None:
        page = api.client.get(url, headers=headers)
        assert page.status_code == 200
        data = page.json()
        assert len(data["items"]) <= 2
        seen += [x["reference"] for x in data["items"]]
        assert (data["next_cursor"] is None) == (data["links"]["next"] is None)
        url = data["links"]["next"]
        pages += 1

    assert seen == by_due and pages == 3
    first = api.client.get("/api/requests", headers=headers).json()["items"][0]
    assert set(first) == {"reference", "type", "regime", "status", "on_hold", "due", "received_at", "links"}


def test_the_list_filters_by_status_regime_and_due_date(api: Api) -> None:
    headers = api.headers(WRITE, READ)
    gdpr = api.client.post("/api/requests", json=a_submission(1, received_at="2026-11-01"), headers=headers).json()
    ccpa = api.client.post(
        "/api/requests", json=a_submission(2, regime="ccpa", country="US", access_scope="categories"), headers=headers
    ).json()

    def refs(query: str) -> list[str]:
        r = api.client.get(f"/api/requests?{query}", headers=headers)
        assert r.status_code == 200, r.text
        return [x["reference"] for x in r.json()["items"]]

    assert refs("regime=gdpr") == [gdpr["reference"]]
    assert refs("regime=ccpa") == [ccpa["reference"]]
    assert refs("status=received&regime=ccpa") == [ccpa["reference"]]
    assert refs("status=closed") == []
    assert refs(f"due_before={gdpr['due']}") == []
    assert gdpr["reference"] in refs("due_before=2099-01-01&regime=gdpr")


def test_a_page_link_keeps_the_filters(api: Api) -> None:
    headers = api.headers(WRITE, READ)
    for n in range(1, 4):
        api.client.post("/api/requests", json=a_submission(n), headers=headers)
    data = api.client.get("/api/requests?regime=gdpr&limit=1&status=received", headers=headers).json()
    assert data["links"]["self"] == "/api/requests?status=received&regime=gdpr&limit=1"
    nxt = data["links"]["next"]
    assert nxt.startswith("/api/requests?status=received&regime=gdpr&limit=1&cursor=")
    assert json.loads(api.client.get(nxt, headers=headers).text)["items"][0]["reference"] != data["items"][0]["reference"]
