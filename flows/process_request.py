"""The `process-request` flow: one request from intake to its closing letter.

Only the request id goes in (no personal data in parameters, run names, logs or forms). Each
task is one service call; each service is idempotent, so the flow can be re-run from the top
at any point and picks up where the engine's database says. Waiting for a person (the code
from the subject's mailbox, legal's sign-off) suspends the run: no worker is held.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from prefect import flow, get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_base_key
from prefect.runtime import flow_run as current_run
from pydantic import Field

from dsar.domain.errors import DsarError, PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Status
from dsar.orchestration.runtime import app
from dsar.services import accounts, escalations, identity
from dsar.services import letter_sign_off as letters
from dsar.services import processing as svc
from dsar.services.admin import hold_request
from dsar.services.orchestration import SUBJECT_KEY_PREFIX, escalation_key

FLOW_NAME = "process-request"
AWAITING = "awaiting:"


class ProofGiven(RunInput):
    """Nothing to enter: the subject proves who they are on the web app's pages (the link and
    code sent to the contact on file, and what else the level needs), which wake this run once
    the engine has recorded the proof. No code or proof passes through Prefect."""


VERIFY_HELP = (
    "The subject proves who they are through the single-use link sent to the contact on file (and the "
    "data points or declaration their request needs), on the web app: nothing to enter here. A legal account "
    "can verify by hand: `dsar request verify-by-hand REF`."
)

NO_REASON: Final = "-"
REASONS = (NO_REASON, *(r.value for r in svc.DenialReason))


class SignOff(RunInput):
    """Legal's decision on releasing the response, proven by the approver's authenticator code.

    ``approver`` is a dropdown of the legal roster: its ``enum`` is put into the form's schema
    when the form is made (:func:`sign_off_form`), so the UI and Prefect's check of a resume
    take only a roster name; the flow reads it as text and the engine checks it again."""

    # Literals, not enums: the UI's form renders an inline `enum` as a dropdown, but shows a
    # `$ref` to an enum definition as an empty one.
    decision: Literal["approve", "deny"] = Field(description="approve releases the response; deny refuses the request")
    approver: str = Field(description="Your name on the legal roster")
    code: str = Field(description="The 6-digit code your authenticator app shows now")
    # The reason codes of dsar.domain.decisions.DenialReason, spelled out (tests check they agree).
    reason: Literal["-", "unverifiable", "not_a_consumer", "exempt", "manifestly_unfounded_or_excessive", "other"] = Field(
        default=NO_REASON, description="For a denial: the reason the subject is given (other: say it in the reason text)"
    )
    reason_text: str = Field(default="", description="For 'other': the reason in words, as the subject reads it")
    note: str = Field(default="", description="Internal note for the file and the auditors: kept encrypted, never in a letter")
    exemptions: list[str] = Field(
        default_factory=list,
        description="For an approval: parts of the plan to keep out of the answer (system, system/entity, system/entity.field)",
    )
    # The codes of dsar.domain.exemptions.LegalGround, spelled out (tests check they agree).
    ground: Literal[
        "-",
        "gdpr-17-3-a",
        "gdpr-17-3-b",
        "gdpr-17-3-c",
        "gdpr-17-3-d",
        "gdpr-17-3-e",
        "ccpa-105-d-1",
        "ccpa-105-d-2",
        "ccpa-105-d-3",
        "ccpa-105-d-4",
        "ccpa-105-d-5",
        "ccpa-105-d-6",
        "ccpa-105-d-7",
        "ccpa-105-d-8",
        "ccpa-105-d-9",
        "legal-hold",
        "pipeda-8-8",
    ] = Field(default=NO_REASON, description="The legal ground of the exemptions ticked above (required when any is ticked)")


NOTHING_TO_EXEMPT: Final = "(nothing in this plan can be exempted)"


def sign_off_form(roster: list[str], description: str, exemptable: list[str] | None = None) -> Any:
    """The sign-off form with the approver as a dropdown of ``roster`` (the active legal
    accounts now) and the exemptions as a multi-select of what this plan holds
    (``exemptable``). With no one on the roster the dropdown says so, and no attempt can pass."""
    names: list[Any] = list(roster) or ["(no legal account: dsar users add NAME --role legal)"]
    parts: list[Any] = list(exemptable or ()) or [NOTHING_TO_EXEMPT]

    class SignOffNow(SignOff):
        approver: str = Field(description="Your name on the legal roster", json_schema_extra={"enum": names})
        exemptions: list[str] = Field(
            default_factory=list,
            description="For an approval: parts of the plan to keep out of the answer, each on the ground below",
            json_schema_extra={"items": {"type": "string", "enum": parts}, "uniqueItems": True},
        )

    SignOffNow.__name__ = SignOffNow.__qualname__ = "SignOff"
    return SignOffNow.with_initial_data(description=description)


class LetterSignOff(RunInput):
    """Legal's decision on the response letter before it goes out (DSAR_LETTER_SIGN_OFF),
    proven like the plan's sign-off; ``approver`` is a dropdown of the legal roster
    (:func:`letter_sign_off_form`)."""

    decision: Literal["approve", "return"] = Field(
        description="approve sends the letter as previewed; return sends it back to the team (the request is held with your reason)"
    )
    approver: str = Field(description="Your name on the legal roster")
    code: str = Field(description="The 6-digit code your authenticator app shows now")
    reason: str = Field(default="", description="For a return: what the team must change (required; the request is held with it)")
    note: str = Field(default="", description="Internal note for the file and the auditors: kept encrypted, never in a letter")


def letter_sign_off_form(roster: list[str], description: str) -> Any:
    """The letter sign-off form with the approver as a dropdown of ``roster`` (the active legal
    accounts now), as :func:`sign_off_form`."""
    names: list[Any] = list(roster) or ["(no legal account: dsar users add NAME --role legal)"]

    class LetterSignOffNow(LetterSignOff):
        approver: str = Field(description="Your name on the legal roster", json_schema_extra={"enum": names})

    LetterSignOffNow.__name__ = LetterSignOffNow.__qualname__ = "LetterSignOff"
    return LetterSignOffNow.with_initial_data(description=description)


class EscalationDecision(RunInput):
    """Legal's decision on an escalation (a verification risk flag, a requested downgrade, a
    possibly unfounded or excessive request, support's legal-sensitive flag), proven like a
    sign-off; ``approver`` is a dropdown of the legal roster (:func:`escalation_form`)."""

    decision: Literal["proceed", "keep_on_hold"] = Field(
        description="proceed releases the hold this escalation put on; keep_on_hold keeps the request held (say why in the note)"
    )
    approver: str = Field(description="Your name on the legal roster")
    code: str = Field(description="The 6-digit code your authenticator app shows now")
    note: str = Field(
        default="", description="Your reasoning for the file (required to keep it on hold): kept encrypted, never in a letter"
    )


def escalation_form(roster: list[str], description: str) -> Any:
    """The escalation form with the approver as a dropdown of ``roster``, as :func:`sign_off_form`."""
    names: list[Any] = list(roster) or ["(no legal account: dsar users add NAME --role legal)"]

    class EscalationDecisionNow(EscalationDecision):
        approver: str = Field(description="Your name on the legal roster", json_schema_extra={"enum": names})

    EscalationDecisionNow.__name__ = EscalationDecisionNow.__qualname__ = "EscalationDecision"
    return EscalationDecisionNow.with_initial_data(description=description)


class ManualConfirmation(RunInput):
    """What a person did in a system without an API."""

    outcome: Literal["done", "nothing found", "cannot do it"] = Field(
        description="done, nothing found, or cannot do it (the request is held)"
    )
    records: int = Field(default=0, ge=0, description="How many records you exported, erased or corrected")
    person: str = Field(description="Your name, recorded in the audit trail")
    note: str = Field(default="", description="Anything the auditor should know; kept encrypted")


def _retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except RetryableConnectorError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


def forget_left_inputs() -> None:
    """As the run ends: delete every form input Prefect still keeps for it. A decision taken on
    the console or with the CLI (legal's sign-off, an escalation, the letter's approval) is
    recorded by the engine and wakes the run, which comes back from the top and never reaches
    that wait's :func:`forget_input`: its form's description and schema (the legal roster's
    names), and any answer, would otherwise stay in Prefect's tables. One call when nothing is
    left."""
    run_id = current_run.id
    if run_id is None:
        return
    try:
        with get_client(sync_client=True) as client:
            left = client.filter_flow_run_input(UUID(str(run_id)), key_prefix="suspended-", limit=500, exclude_keys=set())
            for found in left:
                client.delete_flow_run_input(UUID(str(run_id)), found.key)
    except Exception as exc:  # noqa: BLE001 - best effort: everything is recorded; say so, never the input
        get_run_logger().warning("could not delete the run's remaining inputs (%s)", type(exc).__name__)


def forget_input(key: str) -> None:
    """Delete what a person entered at the suspension ``key`` (code, decision, names, notes),
    the form's description and its schema (the sign-off form's names the legal roster) from
    Prefect's database once the engine has recorded it (encrypted where it keeps it): the
    orchestrator's tables keep no plain-text copy (security probe, item 11). Called after the
    consuming step committed, so a crash in between leaves the input for the re-run to use.
    Safe on a re-run from the top: a finished step never suspends again."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    keys = keyset_from_base_key(f"suspended-{key}")
    run_id = current_run.id
    if run_id is None:
        return
    with get_client(sync_client=True) as client:  # one connection for the three deletions
        for k in (keys["response"], keys["description"], keys["schema"]):
            try:
                client.delete_flow_run_input(UUID(str(run_id)), k)
            except (ObjectNotFound, PrefectHTTPStatusError) as exc:
                if isinstance(exc, ObjectNotFound) or exc.response.status_code == 404:
                    continue  # nothing kept under this key (a wake from the web app gives no input)
                get_run_logger().warning("could not delete the run input %s (%s)", k, type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - best effort: the step is recorded; say so, never the input
                get_run_logger().warning("could not delete the run input %s (%s)", k, type(exc).__name__)


def _run_name() -> str:
    return f"{svc.reference_of(app().ctx, str(current_run.parameters['request_id']))}"


# Steps that change the request's record are Prefect tasks: each shows in the run's graph with
# its state, and the connectors' steps retry. What only reads the record (its status, the
# roster, the plan's summary for a form, the due date for a tag) is a plain call: a task run
# there cost Prefect API work and events for a box that adds nothing (issue 15: 17 task runs
# per access request before, 4 after).
_step = task(cache_policy=NO_CACHE, persist_result=False)
_retrying_step = task(
    cache_policy=NO_CACHE, persist_result=False, retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=_retry_if_retryable
)


def load_status(request_id: str) -> Status:
    return svc.status_of(app().ctx, request_id)


@_step
def start_verification(request_id: str) -> Status:
    return svc.start_verification(app().ctx, request_id)


def verification_wait(request_id: str) -> tuple[int, int]:
    return identity.wake_key(app().ctx, request_id)


@_step
def woke(request_id: str, wakes: int) -> None:
    identity.woke(app().ctx, request_id, wakes)


@_retrying_step
def plan_request(request_id: str) -> Status:
    return svc.plan_request(app().ctx, request_id)


def plan_summary(request_id: str, refused: svc.SignOffRefusal | None = None) -> str:
    return svc.plan_summary(app().ctx, request_id, refused)


def sign_off_state(request_id: str) -> svc.SignOffState:
    return svc.sign_off_state(app().ctx, request_id)


def exemptable(request_id: str) -> list[str]:
    return svc.exemptable(app().ctx, request_id)


def legal_roster() -> list[str]:
    return [a.name for a in accounts.legal_roster(app().ctx)]


def resumed_at() -> datetime | None:
    """When the run was last resumed (Prefect's server time of the state after the last
    Paused one): the moment the approver submitted the form. Their code is checked against
    that moment, not against when a worker got round to it (a worker that was down, a slow
    start). None when it cannot be read: the code is then checked against now."""
    try:
        with get_client(sync_client=True) as client:
            states = sorted(client.read_flow_run_states(UUID(str(current_run.id))), key=lambda s: s.timestamp)
    except Exception as exc:  # noqa: BLE001 - fall back to the present
        get_run_logger().warning("could not read the run's states (%s)", type(exc).__name__)
        return None
    paused = [i for i, s in enumerate(states) if s.type is StateType.PAUSED]
    if not paused or paused[-1] + 1 >= len(states):
        return None
    return states[paused[-1] + 1].timestamp


@_step
def record_sign_off(request_id: str, given: SignOff, submitted: datetime | None) -> svc.SignOffResult:
    return svc.sign_off_attempt(
        app().ctx,
        request_id,
        decision=given.decision,
        reason=None if given.reason == NO_REASON else given.reason,
        reason_text=given.reason_text,
        note=given.note,
        approver=given.approver,
        code=given.code,
        via="prefect-ui",
        flow_run=str(current_run.id),
        at=submitted,
        exempt=[(target, None if given.ground == NO_REASON else given.ground) for target in given.exemptions],
    )


def escalation_wait(request_id: str) -> escalations.EscalationWait:
    return escalations.escalation_wait(app().ctx, request_id)


def escalation_summary(request_id: str, number: int, refused: svc.SignOffRefusal | None) -> str:
    return escalations.escalation_summary(app().ctx, request_id, number, refused)


@_step
def record_escalation_decision(
    request_id: str, number: int, given: EscalationDecision, submitted: datetime | None
) -> escalations.ResolveResult:
    return escalations.escalation_attempt(
        app().ctx,
        request_id,
        number,
        decision=given.decision,
        note=given.note,
        approver=given.approver,
        code=given.code,
        via="prefect-ui",
        flow_run=str(current_run.id),
        at=submitted,
    )


def decide_escalations(request_id: str) -> Status:
    """Wait for legal's decision on each open escalation that holds the request, one form at a
    time (``awaiting:legal-escalation``); then the request's status. A refused attempt is
    recorded and the run waits again under a new key; ``keep_on_hold`` leaves the request held
    (the steps after this one then change nothing and the run ends; releasing the hold starts
    a new run). Costs one read when the request is not on hold."""
    log = get_run_logger()
    while (wait := escalation_wait(request_id)).escalation is not None:
        x = wait.escalation
        key = escalation_key(x.number, wait.refused_attempts)
        log.info("waiting for legal's decision on escalation %d (%s)", x.number, x.point.value)
        waiting_for(request_id, "legal-escalation")
        form = escalation_form(legal_roster(), escalation_summary(request_id, x.number, wait.last_refusal))
        given = suspend_flow_run(wait_for_input=form, key=key, timeout=None)
        decided = record_escalation_decision(request_id, x.number, given, resumed_at())
        forget_input(key)
        if decided.refused is not None:
            log.warning("escalation decision refused: %s", decided.refused.value)
    return load_status(request_id)


def due_tag(request_id: str) -> str:
    return f"due:{svc.due_date(app().ctx, request_id).isoformat()}"


def waiting_for(request_id: str, what: str | None) -> None:
    """Keep the run's tags current so Prefect's runs list says what a waiting run waits for
    (``awaiting:subject``, ``awaiting:legal``, ``awaiting:legal-letter``, ``awaiting:legal-escalation``,
    ``awaiting:manual:<system>``) and when it is due
    (``due:YYYY-MM-DD``); ``what=None`` clears the waiting tag. No personal data: a system's
    name, a date. Best effort: a tag that cannot be set is logged, never fatal.

    The run's tags as they stand are the engine's copy of the run (read from the API as this
    attempt began, kept current here), not read again: one call when they change, none when
    they do not."""
    try:
        context = FlowRunContext.get()
        run = context.flow_run if context is not None else None
        if run is None:
            return
        due = due_tag(request_id)
        tags = [x for x in run.tags if not x.startswith((AWAITING, "due:"))]
        tags += [due] + ([f"{AWAITING}{what}"] if what else [])
        if sorted(tags) != sorted(run.tags):
            with get_client(sync_client=True) as client:
                client.update_flow_run(run.id, tags=tags)
            run.tags = tags
    except Exception as exc:  # noqa: BLE001 - the tags are a convenience; the engine's record is the truth
        get_run_logger().warning("could not update the run's tags (%s)", type(exc).__name__)


@_retrying_step
def execute_plan(request_id: str) -> Status:
    return svc.execute_plan(app().ctx, request_id)


def pending_manual_steps(request_id: str) -> list[svc.PendingManualStep]:
    return svc.pending_manual_steps(app().ctx, request_id)


def manual_step_form(request_id: str, step: svc.PendingManualStep) -> str:
    return svc.manual_step_form(app().ctx, request_id, step)


@_step
def confirm_manual_step(request_id: str, system: str, outcome: str, records: int, person: str, note: str) -> Status:
    return svc.confirm_manual_step(app().ctx, request_id, system, outcome, records, person, note)


def letter_state(request_id: str) -> letters.LetterState:
    return letters.letter_state(app().ctx, request_id)


def letter_summary(request_id: str, refused: svc.SignOffRefusal | None = None) -> str:
    return letters.letter_summary(app().ctx, request_id, refused)


@_step
def record_letter_sign_off(request_id: str, given: LetterSignOff, submitted: datetime | None) -> letters.LetterSignOffResult:
    return letters.letter_sign_off_attempt(
        app().ctx,
        request_id,
        decision=given.decision,
        reason=given.reason,
        note=given.note,
        approver=given.approver,
        code=given.code,
        via="prefect-ui",
        flow_run=str(current_run.id),
        at=submitted,
    )


def wait_for_letter_approval(request_id: str) -> None:
    """While the letter waits for legal's approval, suspend with its form
    (``awaiting:legal-letter``); a refused attempt is recorded and the run waits again under a
    new key (a new series after an approval lapsed)."""
    log = get_run_logger()
    while (letter := letter_state(request_id)).waiting:
        n, lapsed = letter.refused_attempts, letter.lapsed
        base = "letter-sign-off" if lapsed == 0 else f"letter-sign-off-again-{lapsed}"
        key = base if n == 0 else f"{base}-{n}"
        log.info("waiting for legal's approval of the letter (%d attempt(s) refused so far)", n)
        waiting_for(request_id, "legal-letter")
        form = letter_sign_off_form(legal_roster(), letter_summary(request_id, letter.last_refusal))
        given = suspend_flow_run(wait_for_input=form, key=key, timeout=None)
        decided = record_letter_sign_off(request_id, given, resumed_at())
        forget_input(key)
        if decided.refused is not None:
            log.warning("letter sign-off attempt refused: %s", decided.refused.value)


@_step
def send_response(request_id: str) -> Status:
    return svc.send_response(app().ctx, request_id)


@_step
def hold(request_id: str, reason: str) -> None:
    hold_request(app().ctx, request_id, reason)


@flow(name=FLOW_NAME, flow_run_name=_run_name, persist_result=True, log_prints=False)
def process_request(request_id: str) -> str:
    log = get_run_logger()
    try:
        # An escalation that holds the request (support's legal-sensitive flag, a burst from one
        # sender, a verification risk flag) is decided by legal in this run's form before anything else moves; the
        # checks between the stages below catch one raised while the run was on its way.
        status = decide_escalations(request_id)
        if status is Status.RECEIVED:
            status = start_verification(request_id)
            if status is Status.RECEIVED:
                # Held as the case opened (a look-alike address: a verification risk flag) before
                # any link went: legal decides here, then the link goes (or, kept on hold, nothing).
                status = decide_escalations(request_id)
                if status is Status.RECEIVED:
                    status = start_verification(request_id)
        while status is Status.AWAITING_VERIFICATION:
            # The subject gives their proofs on the web app, which wakes this run with an empty
            # input once the engine has judged them; a wake without a verdict waits again.
            case, wakes = verification_wait(request_id)
            key = f"{SUBJECT_KEY_PREFIX}{case}-{wakes}"
            log.info("waiting for the subject to prove their identity on the web pages")
            waiting_for(request_id, "subject")
            suspend_flow_run(wait_for_input=ProofGiven.with_initial_data(description=VERIFY_HELP), key=key, timeout=None)
            woke(request_id, wakes)
            forget_input(key)
            status = decide_escalations(request_id)  # an escalation raised meanwhile wakes the run to ask legal
        if status in (Status.VERIFIED, Status.DENIED):
            # Woken by the web app: the run came back from the top and skipped the wait above.
            # The empty input and the form it answered are deleted from Prefect all the same.
            case, wakes = verification_wait(request_id)
            if case:
                forget_input(f"verify-{case}-{wakes}")
        if status in (Status.VERIFIED, Status.PLANNING):
            # a verification risk flag raised as the request was verified holds it: legal first
            status = decide_escalations(request_id)
        if status in (Status.VERIFIED, Status.PLANNING):
            status = plan_request(request_id)
            status = decide_escalations(request_id)
        while status is Status.AWAITING_SIGN_OFF:
            # Each refused attempt (wrong or replayed code, a name off the roster, a denial
            # without a reason) is recorded and the run waits again under a new key.
            so = sign_off_state(request_id)
            key = "sign-off" if so.refused_attempts == 0 else f"sign-off-{so.refused_attempts}"
            log.info("waiting for legal's sign-off (%d attempt(s) refused so far)", so.refused_attempts)
            waiting_for(request_id, "legal")
            form = sign_off_form(legal_roster(), plan_summary(request_id, so.last_refusal), exemptable(request_id))
            given = suspend_flow_run(wait_for_input=form, key=key, timeout=None)
            result = record_sign_off(request_id, given, resumed_at())
            forget_input(key)
            if result.refused is not None:
                log.warning("sign-off attempt refused: %s", result.refused.value)
            status = result.status
        status = decide_escalations(request_id)
        if status is Status.EXECUTING:
            status = execute_plan(request_id)
        while status is Status.EXECUTING and (pending := pending_manual_steps(request_id)):
            step = pending[0]
            log.info("waiting for a person to confirm the manual step in %s", step.system)
            waiting_for(request_id, f"manual:{step.system}")
            done = suspend_flow_run(
                wait_for_input=ManualConfirmation.with_initial_data(description=manual_step_form(request_id, step)),
                key=f"manual-{step.system}",
                timeout=None,
            )
            status = confirm_manual_step(request_id, step.system, done.outcome, done.records, done.person, done.note)
            forget_input(f"manual-{step.system}")
        status = decide_escalations(request_id)
        if status in (Status.RESPONDING, Status.DENIED):
            # The letter waits for legal's approval where DSAR_LETTER_SIGN_OFF says so. A return
            # holds the request (the letter is not sent; a run after the release asks again).
            wait_for_letter_approval(request_id)
            status = send_response(request_id)
            while letter_state(request_id).waiting:
                # The approval lapsed: the letter's files changed after legal previewed it (a
                # template approved anew meanwhile). Nothing was sent; legal approves again.
                log.info("legal's approval of the letter lapsed (its templates changed): waiting for legal again")
                wait_for_letter_approval(request_id)
                status = send_response(request_id)
        waiting_for(request_id, None)
        forget_left_inputs()
    except PermanentConnectorError as exc:
        # A system needs a person (credentials, schema): stop here, keep the record, say which.
        hold(request_id, f"{exc.system}: permanent connector failure")
        raise
    except DsarError as exc:
        log.error("stopped: %s", type(exc).__name__)
        raise
    log.info("status: %s", status.value)
    return status.value
