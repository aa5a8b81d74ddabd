"""Recording moves and holds with their events (dsar.services.recording)."""

from __future__ import annotations

import pytest

from dsar.domain.errors import TransitionNotAllowed
from dsar.domain.request import Move, Status
from dsar.services import recording
from tests.unit.services.conftest import World


def test_a_move_saves_the_new_status_and_its_event_together(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        changed = recording.move(uow, uow.requests.facts(rid), Move.REQUEST_VERIFICATION, world.clock.now)
        uow.commit()
    assert changed.status is Status.AWAITING_VERIFICATION
    with world.uow() as uow:
        assert uow.requests.facts(rid).status is Status.AWAITING_VERIFICATION
    assert world.details(rid, "StatusChanged") == [{"move": "request_verification", "from": "received", "to": "awaiting_verification"}]


def test_a_move_not_in_the_table_writes_nothing(world: World) -> None:
    rid = world.log()
    events = world.db.committed_events
    with world.uow() as uow, pytest.raises(TransitionNotAllowed):
        recording.move(uow, uow.requests.facts(rid), Move.CLOSE, world.clock.now)
    assert world.db.committed_events == events


def test_a_move_recorded_twice_from_the_same_status_is_one_event(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        stale = uow.requests.facts(rid)  # two runs that both read the request as received
    for _ in range(2):
        world.clock.advance(seconds=1)
        with world.uow() as uow:
            recording.move(uow, stale, Move.DENY, world.clock.now, "x")
            uow.commit()
    assert world.events(rid).count("StatusChanged") == 1


def test_a_hold_already_in_place_writes_nothing(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        r = recording.hold(uow, uow.requests.facts(rid), True, world.clock.now, "legal")
        assert recording.hold(uow, r, True, world.clock.now, "legal") is r
        uow.commit()
    assert world.events(rid).count("HoldChanged") == 1
