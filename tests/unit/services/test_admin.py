"""Holds and withdrawals (dsar.services.admin)."""

from __future__ import annotations

import pytest

from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.domain.request import Status
from dsar.services.admin import hold_request, release_request, withdraw_request
from tests.unit.services.conftest import World


def test_a_hold_and_its_release_are_recorded_once_each(world: World) -> None:
    rid = world.log()
    assert hold_request(world.ctx, rid, "waiting for legal").on_hold
    assert hold_request(world.ctx, rid, "waiting for legal").on_hold
    world.clock.advance(minutes=5)  # a hold's event is unique by its moment
    assert not release_request(world.ctx, rid, "legal answered").on_hold
    assert not release_request(world.ctx, rid, "legal answered").on_hold
    assert world.details(rid, "HoldChanged") == [
        {"on_hold": "true", "reason": "waiting for legal"},
        {"on_hold": "false", "reason": "legal answered"},
    ]


def test_holding_a_request_opens_no_personal_data(world: World) -> None:
    rid = world.log()
    world.reads()
    hold_request(world.ctx, rid, "waiting")
    assert world.reads() == {"facts": 1}


def test_a_withdrawal_ends_the_request_once(world: World) -> None:
    rid = world.log()
    assert withdraw_request(world.ctx, rid, "the subject withdrew by phone").status is Status.WITHDRAWN
    with pytest.raises(TransitionNotAllowed):
        withdraw_request(world.ctx, rid, "again")
    assert world.details(rid, "StatusChanged") == [
        {"move": "withdraw", "from": "received", "to": "withdrawn", "reason": "the subject withdrew by phone"}
    ]


def test_a_withdrawal_needs_a_reason_and_a_finished_request_cannot_be_held(world: World) -> None:
    rid = world.log()
    with pytest.raises(InvalidInput):
        withdraw_request(world.ctx, rid, "  ")
    withdraw_request(world.ctx, rid, "withdrawn")
    with pytest.raises(TransitionNotAllowed):
        hold_request(world.ctx, rid, "too late")


def test_the_staff_member_who_holds_releases_or_withdraws_is_recorded_when_named(world: World) -> None:
    rid = world.log()
    hold_request(world.ctx, rid, "waiting", by="sam.support")
    world.clock.advance(minutes=1)
    release_request(world.ctx, rid, "done", by="sam.support")
    withdraw_request(world.ctx, rid, "by phone", by="lena.legal")
    assert [d.get("by") for d in world.details(rid, "HoldChanged")] == ["sam.support", "sam.support"]
    assert world.details(rid, "StatusChanged")[-1]["by"] == "lena.legal"
