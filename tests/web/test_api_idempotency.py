"""Idempotency keys: the store's rules (per key, expiry, bound, in flight) and a key whose first
call is still running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dsar.services import queries
from dsar.web.api import IdempotencyConflict, IdempotencyStore, Replay
from tests.web.api_fixtures import WRITE, Api, a_submission, api_app

ANSWER = Replay(201, {"reference": "DSR-2026-000001"}, "/api/requests/DSR-2026-000001")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_then_in_flight_then_answers_the_same_body_only() -> None:
    store = IdempotencyStore(ttl=60)
    assert store.begin("k", "body-1") is None
    with pytest.raises(IdempotencyConflict) as running:
        store.begin("k", "body-1")
    assert running.value.in_flight
    store.finish("k", ANSWER)
    assert store.begin("k", "body-1") == ANSWER
    with pytest.raises(IdempotencyConflict) as other:
        store.begin("k", "body-2")
    assert not other.value.in_flight


def test_an_abandoned_key_may_be_used_again_and_a_finished_one_is_not_abandoned() -> None:
    store = IdempotencyStore(ttl=60)
    store.begin("k", "bad body")
    store.abandon("k")
    assert store.begin("k", "good body") is None
    store.finish("k", ANSWER)
    store.abandon("k")
    assert store.begin("k", "good body") == ANSWER


def test_keys_expire_after_their_time_and_the_oldest_go_first_when_full() -> None:
    clock = Clock()
    store = IdempotencyStore(ttl=60, clock=clock, max_entries=2)
    for key in ("a", "b"):
        store.begin(key, "x")
        store.finish(key, ANSWER)
    store.begin("c", "x")  # full: "a" goes
    store.finish("c", ANSWER)
    assert store.begin("a", "x") is None  # forgotten: new again ("b" went to make room)
    assert store.begin("c", "x") == ANSWER
    clock.now += 61
    assert store.begin("c", "x") is None  # expired


def test_digests_are_keyed_per_store_and_never_hold_the_text() -> None:
    one, two = IdempotencyStore(ttl=60), IdempotencyStore(ttl=60)
    assert one.digest("7", "key") == one.digest("7", "key") != two.digest("7", "key")
    assert one.digest("7", "key") != one.digest("8", "key") and "key" not in one.digest("7", "key")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_app(tmp_path) as a:
        yield a


def test_a_retry_while_the_first_call_still_runs_gets_409_with_retry_after(api: Api) -> None:
    token_id, headers = api.token(WRITE)
    api.client.get("/api/requests", headers=headers)  # the API's state exists once called
    store = api.web.extra["api"].idempotency  # type: ignore[attr-defined]
    store.begin(store.digest(str(token_id), "slow-1"), "the first call's body")  # the first call, still running

    r = api.client.post("/api/requests", json=a_submission(), headers={**headers, "Idempotency-Key": "slow-1"})

    assert r.status_code == 409 and r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert queries.request_list(api.web.ctx) == []
