"""Verification data deleted when the request ends (dsar.services.identity.forget), over the
in-memory repositories: every way a request ends (denied after the last wrong code, withdrawn
as a duplicate, withdrawn before verification began), once, and the sweep of requests that ended
before, a shredded one included. No event holds a value."""

from __future__ import annotations

import json
from dataclasses import replace

from dsar.domain.request import Status
from dsar.domain.verification_case import VerificationCase
from dsar.services import identity, processing, timeline
from dsar.services.admin import withdraw_request
from tests.unit.services.conftest import JANE_PHONE, START, World


def case_of(w: World, rid: str) -> VerificationCase:
    with w.uow() as uow:
        case = uow.cases.get(rid)
    assert case is not None
    return case


def test_the_last_wrong_code_denies_the_request_and_deletes_its_verification_data_in_the_same_step(world: World) -> None:
    rid = world.log()
    processing.start_verification(world.ctx, rid)
    for _ in range(5):
        identity.use_code(world.ctx, rid, "00000000")
    assert processing.status_of(world.ctx, rid) is Status.DENIED
    case = case_of(world, rid)
    assert (case.state.value, case.salt, case.link_digest, case.code_digest, case.attempts) == ("closed", "", None, None, 5)
    (deleted,) = world.details(rid, "VerificationDataDeleted")
    assert deleted["deleted"]["salt"] == 1 and deleted["deleted"]["data_points_on_file"] == 1  # the phone on file
    # the trail has the refusal, then the deletion; legal still hears of the tries used up
    kinds = world.events(rid)
    assert kinds.index("VerificationDataDeleted") > kinds.index("VerificationProofRefused")
    assert "VerificationRiskFlagged" in kinds
    blob = json.dumps(deleted)
    assert JANE_PHONE not in blob and "jane" not in blob.lower()


def test_a_request_withdrawn_as_a_duplicate_at_its_verification_loses_its_data_and_the_original_keeps_its_own(world: World) -> None:
    first, second = world.log(), world.log()
    world.verify(first)
    world.verify(second)
    assert processing.status_of(world.ctx, second) is Status.WITHDRAWN
    assert case_of(world, second).state.value == "closed" and len(world.details(second, "VerificationDataDeleted")) == 1
    assert case_of(world, first).state.value == "verified" and world.details(first, "VerificationDataDeleted") == []


def test_a_request_withdrawn_before_its_verification_began_records_nothing_to_delete(world: World) -> None:
    rid = world.log()
    withdraw_request(world.ctx, rid, "asked by mistake")
    assert world.details(rid, "VerificationDataDeleted") == []


def test_the_sweep_clears_a_request_ended_and_shredded_before_without_an_event(world: World) -> None:
    rid = world.log()
    world.verify(rid)
    with world.uow() as uow:  # ended by an earlier build (nothing deleted), then shredded at retention
        uow.requests.save_state(replace(uow.requests.get(rid), status=Status.CLOSED), world.clock())
        uow.requests.shred(rid, world.clock())
        uow.commit()
    assert identity.forget_ended(world.ctx) == [rid]
    case = case_of(world, rid)
    assert (case.state.value, case.salt, case.sealed) == ("closed", "", None)
    assert identity.forget_ended(world.ctx) == []


def test_the_deletion_reads_in_words_on_the_timeline() -> None:
    details = {
        "case": 3,
        "deleted": {"link": 1, "code": 1, "session": 0, "salt": 1, "data_points_on_file": 2},
        "kept": ["level", "proofs", "declaration"],
        "via": "close",
    }
    entry = timeline.describe(9, "VerificationDataDeleted", START, details)
    assert entry.title == "Verification data deleted as the request ended"
    assert entry.lines == ("deleted: code 1, data points on file 2, link 1, salt 1", "kept: level, proofs, declaration")
    swept = timeline.describe(10, "VerificationDataDeleted", START, details | {"via": "sweep"})
    assert swept.title == "Verification data deleted by the sweep (the request ended earlier)"
