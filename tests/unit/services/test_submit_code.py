"""`dsar request verify --code` (and the console's code field): the engine judges the code at
once (verified, more proof needed, wrong with the tries left, expired, too many tries) and wakes
the waiting run with an empty input: the code never passes through Prefect."""

from __future__ import annotations

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.domain.verification import VerificationOutcome
from dsar.services import processing, queries
from dsar.services.orchestration import InMemoryOrchestrator, start_processing, submit_code
from tests.unit.services.conftest import World


def waiting(world: World, orch: InMemoryOrchestrator, **overrides: object) -> str:
    rid = world.log(**overrides)
    processing.start_verification(world.ctx, rid)
    run_id = start_processing(world.ctx, orch, rid)
    orch.suspend(run_id)
    return rid


@pytest.fixture
def orch() -> InMemoryOrchestrator:
    return InMemoryOrchestrator()


def test_the_right_code_is_verified_and_the_run_woken_with_an_empty_input(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch)
    result = submit_code(world.ctx, orch, rid, world.letters.last_code())
    assert result.outcome is VerificationOutcome.VERIFIED
    assert queries.lookup_id(world.ctx, rid).status is Status.VERIFIED
    assert [r.run_input for r in orch.resumed] == [{}]


def test_a_right_code_for_a_level_that_needs_more_says_so_and_wakes_nothing(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch, regime="ccpa", country="US", subdivision="CA", access_scope="specific_pieces")
    result = submit_code(world.ctx, orch, rid, world.letters.last_code())
    assert result.outcome is VerificationOutcome.MORE_PROOF
    assert queries.lookup_id(world.ctx, rid).status is Status.AWAITING_VERIFICATION and orch.resumed == []


def test_a_wrong_code_says_so_with_the_tries_left_and_counts_one_attempt(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch)
    first = submit_code(world.ctx, orch, rid, "00000000")
    assert (first.outcome, first.attempts_left, first.expired) == (VerificationOutcome.WRONG_CODE, 4, False)
    second = submit_code(world.ctx, orch, rid, "00000001")
    assert (second.outcome, second.attempts_left) == (VerificationOutcome.WRONG_CODE, 3)
    assert processing.verification_state(world.ctx, rid).attempts == 2
    assert orch.resumed == []


def test_too_many_wrong_codes_refuse_the_request_and_wake_the_run(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch)
    for _ in range(4):
        assert submit_code(world.ctx, orch, rid, "00000000").outcome is VerificationOutcome.WRONG_CODE
    last = submit_code(world.ctx, orch, rid, "00000000")
    assert (last.outcome, last.attempts_left, last.expired) == (VerificationOutcome.EXHAUSTED, 0, False)
    assert queries.lookup_id(world.ctx, rid).status is Status.DENIED
    assert [r.run_input for r in orch.resumed] == [{}]  # the run sends the refusal
    with pytest.raises(InvalidInput, match="not awaiting_verification"):
        submit_code(world.ctx, orch, rid, world.letters.last_code())


def test_an_expired_code_says_so(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch)
    code = world.letters.last_code()
    world.clock.advance(hours=73)
    result = submit_code(world.ctx, orch, rid, code)
    assert (result.outcome, result.expired) == (VerificationOutcome.EXHAUSTED, True)


def test_a_code_for_a_subject_not_on_file_is_refused_without_a_count(world: World, orch: InMemoryOrchestrator) -> None:
    rid = waiting(world, orch, subject={"name": "Robin Nobody", "emails": ["robin@example.org"]})
    with pytest.raises(InvalidInput, match="no code is waiting"):
        submit_code(world.ctx, orch, rid, "12345678")
    assert processing.verification_state(world.ctx, rid).attempts == 0
