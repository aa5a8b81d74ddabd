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


def test_a_proof_given_while_the_run_waits_in_legal_s_form_wakes_nothing_and_returns_at_once(
    world: World, orch: InMemoryOrchestrator
) -> None:
    import time

    from dsar.services import casework
    from dsar.services.orchestration import escalation_key, wake_when_waiting

    rid = world.log()
    processing.start_verification(world.ctx, rid)
    run_id = start_processing(world.ctx, orch, rid)
    # support flagged it while the link was out: the run waits in legal's escalation form
    casework.flag_legal_sensitive(world.ctx, rid, "regulator involved", by="sam")
    orch.suspend(run_id, escalation_key(1))
    started = time.monotonic()
    result = submit_code(world.ctx, orch, rid, world.letters.last_code())
    assert result.outcome is VerificationOutcome.VERIFIED  # recorded: the proof is the subject's
    assert queries.lookup_id(world.ctx, rid).status is Status.VERIFIED and queries.lookup_id(world.ctx, rid).on_hold
    assert orch.resumed == []  # legal's form is not answered with the subject's empty input
    assert time.monotonic() - started < 5  # and nobody waits a minute for a run that will not wake
    # a run in the subject's wait is woken
    orch.suspend(run_id, "verify-1-0")
    assert wake_when_waiting(world.ctx, orch, rid, for_seconds=1)
    assert [r.run_input for r in orch.resumed] == [{}]


def test_a_run_that_reaches_the_subject_s_wait_between_two_looks_is_woken(world: World, orch: InMemoryOrchestrator) -> None:
    """Prefect sets the run Suspended, then stores its form: the wake's first look sees a run not
    waiting for input yet, the next one a run waiting in the subject's wait. It is woken, not
    left there (it was, until the reconciler came by: a benchmark run stalled on it)."""
    from dsar.services.orchestration import RunState, wake_when_waiting

    class SuspendsBetweenLooks(InMemoryOrchestrator):
        looks = 0

        def run_state(self, run_id: str) -> RunState:
            self.looks += 1
            if self.looks == 2:  # after the wake's look, before the check that decides to look again
                self.suspend(run_id, "verify-1-0")
            return super().run_state(run_id)

    racing = SuspendsBetweenLooks()
    rid = world.log()
    processing.start_verification(world.ctx, rid)
    run_id = start_processing(world.ctx, racing, rid)
    racing.states[run_id] = RunState("Running", "RUNNING")
    assert processing.confirm_code(world.ctx, rid, world.letters.last_code()) is VerificationOutcome.VERIFIED
    assert wake_when_waiting(world.ctx, racing, rid, for_seconds=5)
    assert [r.run_input for r in racing.resumed] == [{}]
