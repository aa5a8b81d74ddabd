"""Orchestration as a port: what the entry points ask of the thing that runs flows.

The engine's database stays the record of truth; the orchestrator only runs the
``process-request`` flow for a request and holds it while it waits for a person. The entry
points need four things of it: start a run for a request, read a run's state, resume a run that
waits for input, and wait until the deployment is being served.

* :class:`Orchestrator` is the port. The Prefect adapter lives in
  :mod:`dsar.orchestration.prefect`.
* :class:`InMemoryOrchestrator` is shipped beside it (as httpx ships ``MockTransport`` beside
  ``BaseTransport``): it records what it was asked and lets a test put a run in any state.
* :func:`start_processing`, :func:`ensure_processing` and :func:`resume_waiting` are the use
  cases the CLI and the demo call.

Only a request's id and reference cross this boundary, and run inputs hold codes, decisions and
staff names: never the subject's personal data.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from dsar.domain.decisions import SignOff
from dsar.domain.errors import ConfigurationError, InvalidInput, TransitionNotAllowed
from dsar.domain.events import HoldChanged, ProcessingRestarted
from dsar.domain.letter_sign_off import LetterSignOff
from dsar.domain.request import OPEN_STATUSES, Status
from dsar.services import queries, recording
from dsar.services.context import ServiceContext

log = logging.getLogger("dsar.orchestration")

if TYPE_CHECKING:
    from dsar.services.escalations import ResolveResult as EscalationResolveResult
    from dsar.services.letter_sign_off import LetterSignOffResult
    from dsar.services.processing import AttemptResult, SignOffResult


@dataclass(frozen=True)
class RunState:
    """Where a flow run stands. ``type`` is one of Prefect's state types (SCHEDULED, PENDING,
    RUNNING, PAUSED, CANCELLING, COMPLETED, FAILED, CRASHED, CANCELLED) or UNKNOWN; ``name`` is
    what the UI shows (``Suspended`` is a PAUSED run that holds no process)."""

    FINAL: ClassVar[frozenset[str]] = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})

    name: str
    type: str
    input_ready: bool = False  # PAUSED with a form to fill in
    input_key: str | None = None  # which form: the flow's suspension key (``escalation-2``, ``sign-off``)

    @property
    def final(self) -> bool:
        return self.type in self.FINAL

    @property
    def waiting_for_input(self) -> bool:
        return self.type == "PAUSED" and self.input_ready


class Orchestrator(Protocol):
    """Runs the ``process-request`` flow. Implementations: ``PrefectOrchestrator``,
    :class:`InMemoryOrchestrator`."""

    def available(self) -> bool:
        """Whether the orchestrator answers now (a quick check, no exception)."""
        ...

    def start_run(self, request_id: str, reference: str) -> str:
        """Start a run of process-request for one request (the id is its only parameter, the
        reference its name); returns the run id."""
        ...

    def run_state(self, run_id: str) -> RunState:
        """The run's current state."""
        ...

    def resume(self, run_id: str, run_input: Mapping[str, Any]) -> None:
        """Resume a run that waits for input, with that input (the fields of its form)."""
        ...

    def wait_for_deployment(self, timeout: float) -> None:
        """Return once process-request is served; ConfigurationError after ``timeout`` seconds."""
        ...

    def run_url(self, run_id: str) -> str:
        """Where a person sees the run (and its Resume form)."""
        ...


@dataclass(frozen=True)
class StartedRun:
    run_id: str
    request_id: str
    reference: str


@dataclass(frozen=True)
class ResumedRun:
    run_id: str
    run_input: dict[str, Any]


@dataclass
class InMemoryOrchestrator:
    """An orchestrator that runs nothing: it records the runs started and resumed, and a test
    moves runs between states with :meth:`suspend` and :meth:`finish`. ``up=False`` plays an
    orchestrator that does not answer; ``deployed=False`` one whose deployment is not served."""

    up: bool = True
    deployed: bool = True
    started: list[StartedRun] = field(default_factory=list)
    resumed: list[ResumedRun] = field(default_factory=list)
    states: dict[str, RunState] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def available(self) -> bool:
        return self.up

    def start_run(self, request_id: str, reference: str) -> str:
        if not self.up:
            raise ConfigurationError("the orchestrator does not answer")
        run_id = f"run-{next(self._ids)}"
        self.started.append(StartedRun(run_id, request_id, reference))
        self.states[run_id] = RunState("Scheduled", "SCHEDULED")
        return run_id

    def run_state(self, run_id: str) -> RunState:
        return self.states.get(run_id, RunState("Unknown", "UNKNOWN"))

    def resume(self, run_id: str, run_input: Mapping[str, Any]) -> None:
        if not self.run_state(run_id).waiting_for_input:
            raise TransitionNotAllowed(f"run {run_id} does not wait for input")
        self.resumed.append(ResumedRun(run_id, dict(run_input)))
        self.states[run_id] = RunState("Running", "RUNNING")

    def wait_for_deployment(self, timeout: float) -> None:
        if not self.deployed:
            raise ConfigurationError(f"deployment process-request did not appear within {timeout:.0f}s")

    def run_url(self, run_id: str) -> str:
        return f"memory://flow-runs/{run_id}"

    # --- for tests: what the flow would do ---------------------------------------------------
    def suspend(self, run_id: str, key: str | None = None) -> None:
        """The run suspends, waiting for a person's input (at the flow's suspension ``key``)."""
        self.states[run_id] = RunState("Suspended", "PAUSED", input_ready=True, input_key=key)

    def finish(self, run_id: str, type_: str = "COMPLETED") -> None:
        self.states[run_id] = RunState(type_.title(), type_)


def start_processing(ctx: ServiceContext, orchestrator: Orchestrator, request_id: str) -> str:
    """Start a new process-request run for a request and record its id; returns it. Safe at
    any point: the flow picks up where the record stands."""
    ref = queries.lookup_id(ctx, request_id)
    with ctx.uow() as uow:
        if uow.requests.facts(request_id).type.value == "appeal":
            raise InvalidInput(f"{ref.reference} is an appeal: it runs no flow; legal decides it (dsar request decide-appeal)")
    run_id = orchestrator.start_run(ref.id, ref.reference)
    queries.record_flow_run(ctx, ref.id, run_id)
    return run_id


def ensure_processing(ctx: ServiceContext, orchestrator: Orchestrator, request_id: str) -> str | None:
    """The run carrying a request: the recorded one while it is not finished, else a new one
    (recorded). A finished request starts nothing (its last run, if any, is returned), unless
    it is a refusal whose letter has not gone yet."""
    ref = queries.lookup_id(ctx, request_id)
    run_id = queries.flow_run_id(ctx, request_id)
    if ref.status.is_final and not _refusal_owed(ctx, ref.id):
        return run_id
    if run_id is not None and not orchestrator.run_state(run_id).final:
        return run_id
    return start_processing(ctx, orchestrator, request_id)


def _refusal_owed(ctx: ServiceContext, request_id: str) -> bool:
    """A refused request whose letter has not gone yet (it waits for legal's approval, or was
    returned or not delivered and then released): a run still has to send it."""
    from dsar.services.processing import letter_due

    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        return r.status is Status.DENIED and letter_due(ctx, uow, r) is not None


def resume_waiting(
    ctx: ServiceContext,
    orchestrator: Orchestrator,
    request_id: str,
    expected: Status,
    run_input: Mapping[str, Any],
    *,
    system: str | None = None,
) -> None:
    """Hand a person's input to the run waiting for it: the one-time code, legal's sign-off or
    a manual system's confirmation. Refused (InvalidInput, nothing resumed) unless the request is
    in ``expected`` status, the manual step waiting is ``system``'s, and its run waits for input."""
    from dsar.services.processing import pending_manual_steps

    ref = queries.lookup_id(ctx, request_id)
    if ref.status is not expected:
        raise InvalidInput(f"{ref.reference} is {ref.status.value}, not {expected.value}")
    if system is not None:
        pending = [m.system for m in pending_manual_steps(ctx, ref.id)]
        if not pending or pending[0] != system:
            waiting = f"the run waits for {pending[0]}" if pending else "no manual step is waiting"
            raise InvalidInput(f"{ref.reference}: {waiting}", ["system: not the one waiting"])
    run_id = queries.flow_run_id(ctx, ref.id)
    if run_id is None or not orchestrator.run_state(run_id).waiting_for_input:
        raise InvalidInput(f"{ref.reference}: no flow run is waiting for this input; try `dsar request run {ref.reference}` first")
    orchestrator.resume(run_id, run_input)


# The flow's suspension keys while a run waits for the subject's proofs (``verify-<case>-<wakes>``).
SUBJECT_KEY_PREFIX = "verify-"


def waits_for_subject(state: RunState) -> bool:
    """Whether the run waits in the subject's wait (not in legal's or a manual system's form);
    an orchestrator that reports no key counts as the subject's."""
    return state.waiting_for_input and (state.input_key is None or state.input_key.startswith(SUBJECT_KEY_PREFIX))


def wake_verified(ctx: ServiceContext, orchestrator: Orchestrator | None, request_id: str) -> bool:
    """Wake the run waiting for a request's identity once the engine has it verified (or
    refused): an empty input, since the proofs were judged and recorded by the engine; no code
    or proof passes through Prefect. False when no run waits for the subject now (the run finds
    the request verified when it gets there; a run in legal's form, held by an escalation raised
    while the link was out, goes on from legal's decision)."""
    if orchestrator is None:
        return False
    run_id = queries.flow_run_id(ctx, request_id)
    if run_id is None:
        return False
    try:
        if not waits_for_subject(orchestrator.run_state(run_id)):
            return False
        orchestrator.resume(run_id, {})
    except Exception:  # noqa: BLE001 - the run may have been resumed meanwhile; the record is the truth
        return False
    return True


WAKE_FOR_SECONDS = 60.0


def wake_when_waiting(
    ctx: ServiceContext, orchestrator: Orchestrator | None, request_id: str, *, for_seconds: float = WAKE_FOR_SECONDS
) -> bool:
    """Wake the request's run, retrying while it is live but not yet waiting: a proof judged
    while the run was between its status check and its suspension would otherwise find no run
    to wake, and the run would then wait for ever. Nothing to retry without a run (the one the
    reconciler starts finds the request verified) or when it has ended."""
    stop = time.monotonic() + for_seconds
    pause = 0.05  # a run suspends within a fraction of a second of its status check: look again soon, then less often
    while orchestrator is not None:
        run_id = queries.flow_run_id(ctx, request_id)
        if run_id is None:
            return False
        try:
            state = orchestrator.run_state(run_id)  # one look a turn (the wake and the check looked twice)
        except Exception:  # noqa: BLE001 - the orchestrator is away: the record is the truth
            return False
        if state.final:
            return False
        if waits_for_subject(state):
            try:
                orchestrator.resume(run_id, {})
                return True
            except Exception:  # noqa: BLE001, S110 - resumed meanwhile, or the server refused once: look again
                pass
        elif state.waiting_for_input:
            return False  # in someone else's form (legal's): it reads the record when it goes on
        # Not waiting yet (Prefect 3.8 sets a run Suspended before it stores the form: a look can
        # find it suspended without a form, the next one with it): look again.
        if time.monotonic() >= stop:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
    return False


def submit_code(
    ctx: ServiceContext,
    orchestrator: Orchestrator | None,
    request_id: str,
    code: str,
    *,
    via: str = "cli",
) -> AttemptResult:
    """Judge the subject's one-time code in the engine (a wrong code counts a try, the last
    refuses the request) and, once the request is verified or refused, wake its run with an
    empty input. Refused (InvalidInput) unless the request waits for verification."""
    from dsar.services.processing import AttemptResult, confirm_code
    from dsar.services.processing import VerificationOutcome as V

    ref = queries.lookup_id(ctx, request_id)
    if ref.status is not Status.AWAITING_VERIFICATION:
        raise InvalidInput(f"{ref.reference} is {ref.status.value}, not {Status.AWAITING_VERIFICATION.value}")
    before = ctx.clock()
    outcome = confirm_code(ctx, request_id, code, via=via)
    with ctx.uow() as uow:
        case = uow.cases.get(request_id)
    left = ctx.policy.verification.attempts_left(case.attempts) if case else 0
    expired = case is not None and before > case.expires_at
    if outcome in (V.VERIFIED, V.EXHAUSTED):
        wake_when_waiting(ctx, orchestrator, request_id)
    if outcome is V.NOT_WAITING:
        raise InvalidInput(f"{ref.reference}: no code is waiting (nothing was sent, or it was used)", ["code: not waiting"])
    return AttemptResult(outcome, left, expired)


def sign_off_and_resume(
    ctx: ServiceContext,
    orchestrator: Orchestrator,
    request_id: str,
    given: SignOff,
    approver: str,
    code: str,
    *,
    via: str,
) -> SignOffResult:
    """Legal's decision given on the console or the CLI: checked and recorded in the engine at
    once (the approver on the legal roster, their authenticator's current code, not used
    before), then handed to the waiting run, which finds it recorded and carries on. A refused
    attempt is recorded and returned (the run keeps waiting); nothing is checked or recorded
    unless the request waits for sign-off in a run that waits for input."""
    from dsar.services.processing import record_sign_off

    ref = queries.lookup_id(ctx, request_id)
    if ref.status is not Status.AWAITING_SIGN_OFF:
        raise InvalidInput(f"{ref.reference} is {ref.status.value}, not {Status.AWAITING_SIGN_OFF.value}")
    run_id = queries.flow_run_id(ctx, ref.id)
    if run_id is None or not orchestrator.run_state(run_id).waiting_for_input:
        raise InvalidInput(f"{ref.reference}: no flow run is waiting for this input; try `dsar request run {ref.reference}` first")
    result = record_sign_off(ctx, ref.id, given, approver, code, via=via, flow_run=run_id)
    if result.recorded:
        # The run's form takes the decision again; the engine has it already, so the run only
        # reads it back (neither the spent code nor any text goes to Prefect).
        orchestrator.resume(
            run_id,
            {
                "decision": given.decision.value,
                "approver": approver.strip(),
                "code": "",
                "reason": given.reason.value if given.reason is not None else "-",
                "reason_text": "",
                "note": "",
            },
        )
    return result


def escalation_key(number: int, refused_attempts: int = 0) -> str:
    """The flow's suspension key while a run waits for legal's decision on escalation ``number``."""
    return f"escalation-{number}" if refused_attempts == 0 else f"escalation-{number}-{refused_attempts}"


def _waits_on_escalation(state: RunState, number: int) -> bool:
    key = state.input_key or ""
    return state.waiting_for_input and (key == f"escalation-{number}" or key.startswith(f"escalation-{number}-"))


def resolve_escalation_and_continue(
    ctx: ServiceContext,
    orchestrator: Orchestrator | None,
    request_id: str,
    number: int,
    decision: str,
    approver: str,
    code: str,
    *,
    note: str = "",
    via: str,
) -> EscalationResolveResult:
    """Legal's decision on an escalation given on the console or the CLI: checked and recorded
    in the engine at once (:func:`dsar.services.escalations.resolve`), then the request's run is
    told. A run waiting on this escalation's form in the Prefect UI is handed the decision (it
    finds it recorded and goes on; no code or note goes to Prefect); with no live run, a request
    the decision released gets a new run, which picks up where the record stands. Without an
    orchestrator, or one that does not answer, the record stands and the reconciler of the
    deadline watch starts the run later."""
    from dsar.services import escalations

    run_id = queries.flow_run_id(ctx, request_id)
    state = _state_of(orchestrator, run_id)
    handed = run_id if state is not None and _waits_on_escalation(state, number) else None
    result = escalations.resolve(ctx, request_id, number, decision, approver, code, note=note, via=via, flow_run=handed)
    if result.recorded and orchestrator is not None:
        continue_processing(ctx, orchestrator, request_id, {"decision": decision, "approver": approver.strip(), "code": "", "note": ""})
    return result


def _state_of(orchestrator: Orchestrator | None, run_id: str | None) -> RunState | None:
    if orchestrator is None or run_id is None:
        return None
    try:
        return orchestrator.run_state(run_id)
    except Exception:  # noqa: BLE001 - an orchestrator that does not answer: the record is the truth
        return None


def continue_processing(
    ctx: ServiceContext, orchestrator: Orchestrator, request_id: str, run_input: Mapping[str, Any] | None = None
) -> str:
    """After an escalation was raised or decided, or a hold released, outside a run: bring the
    request's run to where the record now stands, so legal sees the escalation's form in the
    Prefect UI and a released request goes on without waiting for the hourly reconciler.

    * a run waiting on an escalation's form that was decided is handed ``run_input`` (the
      decision, read back from the engine's record);
    * a run waiting for the subject is woken (it checks for an escalation before it waits
      again), when the request is held by an open escalation;
    * a request with no live run that is open and not held, or held by an open escalation,
      gets a new run (:func:`ensure_processing`).

    Returns what was done (``resumed``, ``woken``, ``started``, ``nothing``, or ``unavailable``
    when the orchestrator did not answer). Never raises: the record is the truth, and the
    reconciler of the deadline watch catches up later."""
    from dsar.domain.escalations import escalations_of
    from dsar.services import escalations

    try:
        waiting = escalations.escalation_wait(ctx, request_id).escalation
        with ctx.uow() as uow:
            facts = uow.requests.facts(request_id)
            decided = [x.number for x in escalations_of(uow.audit.events(request_id)) if not x.open]
        if facts.type.value == "appeal" or (facts.status.is_final and not _refusal_owed(ctx, request_id)):
            return "nothing"
        run_id = queries.flow_run_id(ctx, request_id)
        state = orchestrator.run_state(run_id) if run_id is not None else None
        if state is not None and not state.final:
            if run_input is not None and run_id is not None and any(_waits_on_escalation(state, n) for n in decided):
                orchestrator.resume(run_id, run_input)
                return "resumed"
            if waiting is not None and run_id is not None and waits_for_subject(state):
                orchestrator.resume(run_id, {})
                return "woken"
            return "nothing"
        if facts.on_hold and waiting is None:
            return "nothing"  # held for another reason: a person releases it first
        ensure_processing(ctx, orchestrator, request_id)
        return "started"
    except Exception as exc:  # noqa: BLE001 - the record stands; the reconciler starts what is missing
        log.warning("request %s: its run could not be brought on now (%s); the reconciler will", request_id, type(exc).__name__)
        return "unavailable"


def letter_sign_off_and_resume(
    ctx: ServiceContext,
    orchestrator: Orchestrator,
    request_id: str,
    given: LetterSignOff,
    approver: str,
    code: str,
    *,
    via: str,
) -> LetterSignOffResult:
    """Legal's decision on a waiting letter given on the console or the CLI, like
    :func:`sign_off_and_resume`: checked and recorded in the engine at once, then handed to the
    run waiting for it, which finds it recorded and sends the letter (or, returned, stops with
    the request held). Nothing is checked or recorded unless the letter waits for approval in a
    run that waits for input."""
    from dsar.services.letter_sign_off import letter_state, record_letter_sign_off

    ref = queries.lookup_id(ctx, request_id)
    state = letter_state(ctx, ref.id)
    if not state.waiting:
        held = " (the request is on hold)" if state.on_hold and state.awaiting_approval else ""
        raise InvalidInput(f"{ref.reference}: no letter waits for legal's approval{held}", ["letter: not waiting"])
    run_id = queries.flow_run_id(ctx, ref.id)
    if run_id is None or not orchestrator.run_state(run_id).waiting_for_input:
        raise InvalidInput(f"{ref.reference}: no flow run is waiting for this input; try `dsar request run {ref.reference}` first")
    result = record_letter_sign_off(ctx, ref.id, given, approver, code, via=via, flow_run=run_id)
    if result.recorded:
        # The engine has the decision: the run reads it back (no code, reason or note goes to Prefect).
        orchestrator.resume(run_id, {"decision": given.decision.value, "approver": approver.strip(), "code": "", "reason": "", "note": ""})
    return result


# --- the reconciler ---------------------------------------------------------------------------

# Runs started for a request (since it was last released) before the reconciler stops
# restarting it and holds it for a person instead.
RESTART_LIMIT = 3


@dataclass(frozen=True)
class Reconciled:
    """What the reconciler did for one request (no personal data)."""

    reference: str
    # "started" (no run was recorded), "restarted" (its run had ended), "held", "woken" (its run
    # waited for the subject's proofs although the engine had judged them)
    action: str
    previous_state: str | None
    run_id: str | None


def reconcile(ctx: ServiceContext, orchestrator: Orchestrator, *, restart_limit: int = RESTART_LIMIT) -> list[Reconciled]:
    """Nothing sits unprocessed silently: every open request that is not on hold and has no
    live flow run (none recorded — the orchestrator was down when it was logged — or its run
    failed, crashed, was cancelled or ended early) gets a new run. A request whose runs keep
    ending is held after ``restart_limit`` restarts, with the reason, for a person to look at.
    A run still waiting for the subject's proofs of a request the engine has verified or refused
    meanwhile (judged while the run was on its way to suspending, after the pages' wake gave
    up; a refusal within the deadline watch's look-back whose letter has not gone) is woken.
    Run by the deadline watch and by ``dsar request reconcile``."""
    if not orchestrator.available():
        raise ConfigurationError("the orchestrator does not answer: nothing was reconciled")
    done: list[Reconciled] = []
    for status in sorted(OPEN_STATUSES):
        for s in queries.request_list(ctx, status, limit=100_000):
            if s.on_hold or s.type == "appeal":  # appeals are decided by legal, not by the flow (services/appeals.py)
                continue
            run_id = queries.flow_run_id(ctx, s.id)
            state = orchestrator.run_state(run_id) if run_id is not None else None
            if state is not None and not state.final:
                if run_id is not None and s.status is not Status.AWAITING_VERIFICATION and waits_for_subject(state):
                    if _wake(orchestrator, run_id):
                        done.append(Reconciled(s.reference, "woken", state.type, run_id))
                continue
            previous = state.type if state is not None else None
            if _restarts_since_release(ctx, s.id) >= restart_limit:
                reason = f"processing stopped {restart_limit + 1} times (last run {previous}); see its flow run, fix, then release"
                with ctx.uow() as uow:
                    recording.hold(uow, uow.requests.facts(s.id), True, ctx.clock(), reason)
                    uow.commit()
                done.append(Reconciled(s.reference, "held", previous, run_id))
                continue
            new_run = start_processing(ctx, orchestrator, s.id)
            with ctx.uow() as uow:
                uow.audit.append([ProcessingRestarted(s.id, ctx.clock(), run_id, previous, new_run)])
                uow.commit()
            done.append(Reconciled(s.reference, "restarted" if run_id is not None else "started", previous, new_run))
    for request_id, reference in _refusals_owing_a_letter(ctx):
        # refused while its run was on its way to the subject's wait (every try used up, the link
        # expired): the run sends the refusal's letter once woken
        run_id = queries.flow_run_id(ctx, request_id)
        state = orchestrator.run_state(run_id) if run_id is not None else None
        if run_id is not None and state is not None and waits_for_subject(state) and _wake(orchestrator, run_id):
            done.append(Reconciled(reference, "woken", state.type, run_id))
    return done


def _wake(orchestrator: Orchestrator, run_id: str) -> bool:
    """Resume a run with an empty input; False (the sweep goes on) when it went on meanwhile."""
    try:
        orchestrator.resume(run_id, {})
    except Exception as exc:  # noqa: BLE001 - resumed by someone else meanwhile: the record is the truth
        log.warning("run %s could not be woken (%s)", run_id, type(exc).__name__)
        return False
    return True


def _refusals_owing_a_letter(ctx: ServiceContext) -> list[tuple[str, str]]:
    """(id, reference) of the refused requests not on hold, due within the deadline watch's
    look-back, whose refusal letter has not gone yet."""
    from datetime import timedelta

    from dsar.services.deadlines import REFUSAL_LOOKBACK_DAYS, local_today
    from dsar.services.pending_letter import letter_due
    from dsar.services.ports import RequestQuery

    since = local_today(ctx) - timedelta(days=REFUSAL_LOOKBACK_DAYS)
    with ctx.uow() as uow:
        found = uow.requests.query(RequestQuery(status=Status.DENIED, after=(since, ""), limit=100_000))
        return [(r.id, r.reference) for r in found if not r.on_hold and letter_due(ctx, uow, r) is not None]


def _restarts_since_release(ctx: ServiceContext, request_id: str) -> int:
    with ctx.uow() as uow:
        events = uow.audit.events(request_id)
    n = 0
    for e in events:
        if e.kind == ProcessingRestarted.kind:
            n += 1
        elif e.kind == HoldChanged.kind and e.details.get("on_hold") == "false":
            n = 0
    return n


@dataclass
class VerificationSweep:
    """What one sweep of the waiting verifications did (references only, no personal data)."""

    reminded: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # refused as unverifiable: the link expired unused
    failed: int = 0  # reminders that could not be sent now (tried again on the next sweep)
    data_deleted: list[str] = field(default_factory=list)  # ended before their verification data was deleted: deleted now


def sweep_verification(ctx: ServiceContext, orchestrator: Orchestrator | None) -> VerificationSweep:
    """Remind the subjects whose verification link expires within the reminder period (once,
    at the contact on file) and close as unverifiable the requests whose link expired unused,
    waking their runs to send the could-not-verify letter. Run by the deadline watch and by
    ``dsar alerts sweep``; nothing waits for ever on a subject who never answers. Then the
    requests that ended before their verification data was deleted at their end (an earlier
    build) have it deleted (:func:`dsar.services.identity.forget_ended`)."""
    from dsar.domain.errors import DeliveryFailed
    from dsar.services import identity

    to_remind, expired = identity.expiring(ctx)
    result = VerificationSweep()
    for request_id in to_remind:
        try:
            if identity.remind(ctx, request_id):
                result.reminded.append(queries.lookup_id(ctx, request_id).reference)
        except DeliveryFailed:
            result.failed += 1
    for request_id in expired:
        if identity.expire(ctx, request_id):
            result.closed.append(queries.lookup_id(ctx, request_id).reference)
            wake_verified(ctx, orchestrator, request_id)
    result.data_deleted = [queries.lookup_id(ctx, request_id).reference for request_id in identity.forget_ended(ctx)]
    return result
