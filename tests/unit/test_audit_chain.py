from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dsar.audit.chain import GENESIS, ChainedEvent, chain_hash, first_broken, leaf_bytes

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def a_chain(n: int) -> list[ChainedEvent]:
    events, prev = [], GENESIS
    for i in range(1, n + 1):
        at = T0 + timedelta(seconds=i)
        payload = f"sealed-{i}".encode()
        h = chain_hash(prev, leaf_bytes(i, "r1", "StatusChanged", at, f"k{i}", payload))
        events.append(ChainedEvent(i, "r1", "StatusChanged", at, f"k{i}", payload, prev, h))
        prev = h
    return events


def test_an_intact_chain_verifies() -> None:
    assert first_broken(a_chain(10)) is None


def test_an_altered_payload_names_the_altered_event() -> None:
    events = a_chain(10)
    events[4] = replace(events[4], details_enc=b"sealed-X")
    assert first_broken(events) == 5


def test_a_dropped_event_is_detected_where_it_is_missing() -> None:
    events = a_chain(10)
    del events[3]
    assert first_broken(events) == 4


def test_reordered_events_are_detected() -> None:
    events = a_chain(10)
    events[2], events[3] = events[3], events[2]
    assert first_broken(events) == 3


def test_an_inserted_event_is_detected() -> None:
    events = a_chain(5)
    forged = replace(events[2], kind="LetterSent")
    events.insert(3, forged)
    # The forged copy sits where event 4 belongs.
    assert first_broken(events) == 4
