"""`dsar request verify` says how the run judged the code (issue 13, item 6): verified, wrong
with the tries left, expired, or too many tries; the attempt is counted once, by the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.domain.verification import VerificationOutcome
from dsar.services import processing, queries
from dsar.services.context import ServiceContext
from dsar.services.orchestration import InMemoryOrchestrator, start_processing, submit_code
from tests.unit.services.conftest import World


@dataclass
class FlowPlayingOrchestrator(InMemoryOrchestrator):
    """The orchestrator port played as the served process-request run does: on resume it judges
    the code (confirm_code) and waits again while the request still awaits a code."""

    ctx: ServiceContext | None = None
    calls: list[str] = field(default_factory=list)

    def resume(self, run_id: str, run_input: Mapping[str, Any]) -> None:
        super().resume(run_id, run_input)
        assert self.ctx is not None
        request_id = next(s.request_id for s in self.started if s.run_id == run_id)
        self.calls.append("confirm_code")
        processing.confirm_code(self.ctx, request_id, str(run_input["code"]))
        if processing.status_of(self.ctx, request_id) is Status.AWAITING_VERIFICATION:
            self.suspend(run_id)
        else:
            self.finish(run_id)


class FakeTimer:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def waiting(world: World, orch: InMemoryOrchestrator) -> str:
    rid = world.log()
    processing.start_verification(world.ctx, rid)
    run_id = start_processing(world.ctx, orch, rid)
    orch.suspend(run_id)
    return rid


@pytest.fixture
def orch(world: World) -> FlowPlayingOrchestrator:
    return FlowPlayingOrchestrator(ctx=world.ctx)


def test_the_right_code_is_verified(world: World, orch: FlowPlayingOrchestrator) -> None:
    rid = waiting(world, orch)
    result = submit_code(world.ctx, orch, rid, world.letters.last_code())
    assert result.outcome is VerificationOutcome.VERIFIED
    assert queries.lookup_id(world.ctx, rid).status is Status.VERIFIED
    assert orch.calls == ["confirm_code"]  # judged once, by the run


def test_a_wrong_code_says_so_with_the_tries_left_and_counts_one_attempt(world: World, orch: FlowPlayingOrchestrator) -> None:
    rid = waiting(world, orch)
    first = submit_code(world.ctx, orch, rid, "00000000")
    assert (first.outcome, first.attempts_left, first.expired) == (VerificationOutcome.WRONG_CODE, 4, False)
    second = submit_code(world.ctx, orch, rid, "00000001")
    assert (second.outcome, second.attempts_left) == (VerificationOutcome.WRONG_CODE, 3)
    assert processing.verification_state(world.ctx, rid).attempts == 2  # one attempt per code handed over


def test_too_many_wrong_codes_refuse_the_request(world: World, orch: FlowPlayingOrchestrator) -> None:
    rid = waiting(world, orch)
    for _ in range(4):
        assert submit_code(world.ctx, orch, rid, "00000000").outcome is VerificationOutcome.WRONG_CODE
    last = submit_code(world.ctx, orch, rid, "00000000")
    assert (last.outcome, last.attempts_left, last.expired) == (VerificationOutcome.EXHAUSTED, 0, False)
    assert queries.lookup_id(world.ctx, rid).status is Status.DENIED
    with pytest.raises(InvalidInput, match="not awaiting_verification"):
        submit_code(world.ctx, orch, rid, world.letters.last_code())


def test_an_expired_code_says_so(world: World, orch: FlowPlayingOrchestrator) -> None:
    rid = waiting(world, orch)
    code = world.letters.last_code()
    world.clock.advance(hours=73)
    result = submit_code(world.ctx, orch, rid, code)
    assert (result.outcome, result.expired) == (VerificationOutcome.EXHAUSTED, True)


def test_no_verdict_in_time_is_reported_as_such_after_a_bounded_wait(world: World) -> None:
    silent = InMemoryOrchestrator()  # resumes, but no run picks the code up
    rid = waiting(world, silent)
    timer = FakeTimer()
    result = submit_code(world.ctx, silent, rid, "12345678", wait_seconds=5, poll_seconds=0.5, sleep=timer.sleep, monotonic=timer.monotonic)
    assert result.outcome is None and timer.slept == 5.0
    assert [r.run_input for r in silent.resumed] == [{"code": "12345678"}]
    assert processing.verification_state(world.ctx, rid).attempts == 0
