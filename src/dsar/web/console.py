"""The staff console (``/console``): the queue, logging a request received by phone, mail,
email or chat, one request's page with its timeline, and every casework action the CLI offers
for one request.

Every route names the permission it needs (:func:`require`); a page shows only the actions the
signed-in role allows. Every POST goes through :func:`~dsar.web.forms.checked_form` (content
type, UTF-8, CSRF) before anything is read, records who acted (``by`` = the account's name,
``via`` = ``console``) and ends with a 303 back to the request's page and a one-line message
chosen by a fixed code in the address (``?done=held``): no personal data in URLs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dsar.domain.accounts import Permission, StaffAccount, allows
from dsar.domain.deadlines import PAUSE_MOVES_DUE
from dsar.domain.decisions import REFUSAL_TEXT, DenialReason, sign_off
from dsar.domain.errors import DsarError, InvalidInput, NotFound
from dsar.domain.escalations import escalations_of
from dsar.domain.exemptions import GROUND_LABEL, LegalGround
from dsar.domain.letter_sign_off import letter_sign_off
from dsar.domain.regimes import REGIMES, AccessScope, RequestType
from dsar.domain.request import DEADLINE_STOPPED, REFERENCE_SEARCH_HINT, Channel, Status, parse_reference, reference_search
from dsar.services import casework, deadlines, package, processing, queries
from dsar.services.admin import hold_request, release_request, withdraw_request
from dsar.services.deadline_trace import explain_request
from dsar.services.letter_sign_off import letter_state
from dsar.services.orchestration import (
    continue_processing,
    ensure_processing,
    letter_sign_off_and_resume,
    resume_waiting,
    sign_off_and_resume,
)
from dsar.services.submissions import submit
from dsar.services.timeline import TimelineEntry, describe
from dsar.web.context import WebContext
from dsar.web.forms import Form, checked_form
from dsar.web.legal import resolve_escalation
from dsar.web.staff import require
from dsar.web.templating import render

PAGE_SIZE = 50
DUE_SOON_DAYS = 5
VIA = "console"
# The channels support logs requests from (web and api have their own entry points).
STAFF_CHANNELS = (Channel.PHONE, Channel.MAIL, Channel.EMAIL, Channel.CHAT)
AGENT_KINDS = ("authorized_agent", "power_of_attorney", "parent_or_guardian")
MANUAL_OUTCOMES = ("done", "nothing found", "cannot do it")

# The one-line messages after an action, by the code in ``?done=`` (fixed texts only).
FLASH: dict[str, str] = {
    "logged": "Request logged.",
    "logged-norun": "Request logged; no flow run was started (see the flow run section).",
    "held": "Put on hold.",
    "released": "Hold released.",
    "withdrawn": "Withdrawn: the request ends here.",
    "extended": "Deadline extended; the extension letter is in the outbox.",
    "paused": "Clock pause recorded.",
    "restarted": "The clock runs again.",
    "acknowledged": "Confirmation of receipt recorded.",
    "run": "Flow run started or already running.",
    "noted": "Note added.",
    "flagged": "Flagged legal-sensitive.",
    "unflagged": "Legal-sensitive flag removed.",
    "unchanged": "Nothing changed: it already was so.",
    "verified": "Code accepted (see Identity verification below).",
    "verified-by-hand": "Identity verified by hand: recorded with the evidence described; the run goes on.",
    "confirmed": "Manual step confirmed to the flow run.",
    "signed-off": "Sign-off recorded and handed to the flow run.",
    "letter-approved": "Letter approved and handed to the flow run, which sends it.",
    "letter-returned": "Letter returned to the team: the request is on hold with your reason.",
    "escalation-decided": "Legal's decision on the escalation recorded.",
    "package-link": "A new download link went to the contact on file; the earlier link no longer works.",
}


def _web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def _staff(request: Request) -> StaffAccount:
    """The account the route's ``require(...)`` dependency let in."""
    staff: StaffAccount = request.state.staff
    return staff


def today(request: Request) -> date:
    return deadlines.local_today(_web(request).ctx)


@dataclass(frozen=True)
class Urgency:
    """Days left to a due date, and how to show it: a class for the colour and a word, so
    colour is never the only signal."""

    days_left: int | None
    css: str
    word: str


def urgency(due: date, status: Status, on: date, *, untold: bool = False) -> Urgency:
    """``untold``: a refusal whose letter has not gone (it waits for legal's approval, or was
    returned): its clock stopped, but the subject is not answered yet, so it counts to its date."""
    if status in DEADLINE_STOPPED and not untold:
        return Urgency(None, "", "answered")
    left = (due - on).days
    if left < 0:
        return Urgency(left, "past-due", "past due")
    if left <= DUE_SOON_DAYS:
        return Urgency(left, "due-soon", "due soon")
    return Urgency(left, "", "")


def _allowed(staff: StaffAccount) -> dict[str, bool]:
    return {p.value: allows(staff.role, p) for p in Permission}


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A console page: ``allowed`` (permission -> bool) of the signed-in account for the menu
    and the actions."""
    staff = getattr(request.state, "staff", None)
    allowed = _allowed(staff) if staff is not None else {p.value: False for p in Permission}
    zone = _web(request).ctx.policy.timezone

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def day(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d")

    return render(request, template, status_code=status_code, allowed=allowed, when=when, day=day, **context)


def _regimes() -> list[tuple[str, str]]:
    return [(code, r.title) for code, r in sorted(REGIMES.items())]


# --- the queue --------------------------------------------------------------------------------


def _queue(request: Request, staff: StaffAccount) -> Response:
    ctx = _web(request).ctx
    params = request.query_params
    problems: list[str] = []
    values = {k: (params.get(k) or "").strip()[:100] for k in ("status", "regime", "type", "due_before", "q", "page")}
    status: Status | None = None
    if values["status"]:
        try:
            status = Status(values["status"])
        except ValueError:
            problems.append("status: unknown")
    regime = values["regime"] or None
    if regime is not None and regime not in REGIMES:
        problems.append("regime: unknown")
        regime = None
    rtype = values["type"] or None
    if rtype is not None and rtype not in {t.value for t in RequestType}:
        problems.append("type: unknown")
        rtype = None
    due_before: date | None = None
    if values["due_before"]:
        try:
            due_before = date.fromisoformat(values["due_before"])
        except ValueError:
            problems.append("due before: not a date like 2026-12-31")
    search: str | None = None
    if values["q"]:
        try:
            reference_search(values["q"])
            search = values["q"]
        except InvalidInput:
            problems.append(f"reference: {REFERENCE_SEARCH_HINT}")
    page = int(values["page"]) if values["page"].isdigit() and 0 < int(values["page"]) < 100_000 else 1
    rows = queries.request_list(
        ctx, status, due_before, PAGE_SIZE + 1, regime=regime, request_type=rtype, search=search, offset=(page - 1) * PAGE_SIZE
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    flagged = casework.flagged_ids(ctx, [r.id for r in rows])
    on = today(request)
    untold = processing.refusal_letters_owed(ctx, [r.id for r in rows if r.status is Status.DENIED])
    lines = [{"r": r, "u": urgency(r.due, r.status, on, untold=r.id in untold), "flagged": r.id in flagged} for r in rows]
    filters = {k: v for k, v in values.items() if k != "page" and v}
    return _render(
        request,
        "console/queue.html",
        lines=lines,
        values=values,
        problems=problems,
        statuses=[s.value for s in Status],
        regimes=_regimes(),
        types=[t.value for t in RequestType],
        page=page,
        more=more,
        filters=filters,
        today=on,
        page_size=PAGE_SIZE,
    )


# --- logging a request ------------------------------------------------------------------------


def _pairs(text: str | None, field: str, problems: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            problems.append(f"{field}: each line is NAME=VALUE")
            continue
        out.append((key.strip(), value.strip()))
    return out


def submission_from_form(form: Form, default_regime: str) -> tuple[dict[str, Any], list[str]]:
    """The request's JSON shape (services.intake.Submission) from the console's form, and the
    problems the form itself has (the intake checks everything else)."""
    problems: list[str] = []
    raw: dict[str, Any] = {
        "type": form.text("type"),
        "regime": form.text("regime") or default_regime,
        "channel": form.text("channel") or Channel.PHONE.value,
    }
    if raw["channel"] not in {c.value for c in STAFF_CHANNELS}:
        problems.append("channel: one of " + ", ".join(c.value for c in STAFF_CHANNELS))
    for key in ("access_scope", "country", "subdivision"):
        if value := form.text(key):
            raw[key] = value
    received_on, received_time = form.text("received_on"), form.text("received_time")
    if received_time and not received_on:
        problems.append("received: give the date as well as the time")
    elif received_on:
        raw["received_at"] = f"{received_on}T{received_time}" if received_time else received_on
    subject: dict[str, Any] = {"emails": form.all("email")}
    for key in ("name", "phone", "postal_address", "account_id"):
        if (value := form.text(key)) is not None:
            subject[key] = value
    extra = _pairs(form.first("extra"), "extra data points", problems)
    if extra:
        subject["extra"] = dict(extra)
    raw["subject"] = subject
    agent = {k: v for k in ("name", "email", "kind", "organisation") if (v := form.text(f"agent_{k}")) is not None}
    if set(agent) - {"kind"}:
        raw["agent"] = agent
    corrections = _pairs(form.first("corrections"), "corrections", problems)
    if corrections:
        raw["corrections"] = [{"attribute": a, "value": v} for a, v in corrections]
    return raw, problems


class Values(dict[str, Any]):
    """What the form showed: a field never given reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _new_form(request: Request, values: dict[str, Any], problems: list[str], status_code: int = 200) -> Response:
    web = _web(request)
    values = Values(values)
    return _render(
        request,
        "console/new.html",
        status_code=status_code,
        values=values,
        problems=problems,
        types=[t.value for t in RequestType if t is not RequestType.APPEAL],  # appeals: `dsar request new --appeal-of`
        regimes=_regimes(),
        scopes=[s.value for s in AccessScope],
        channels=[c.value for c in STAFF_CHANNELS],
        agent_kinds=AGENT_KINDS,
        default_regime=web.settings.web_default_regime,
    )


# The intake's field names as the form labels them (problems read "Email addresses: ...").
FIELD_LABELS: dict[str, str] = {
    "type": "Type",
    "regime": "Regime",
    "access_scope": "Access scope",
    "country": "Country",
    "subdivision": "State or nation",
    "channel": "Received by",
    "received_at": "Received",
    "subject": "The subject",
    "subject.name": "Name",
    "subject.emails": "Email addresses",
    "subject.phone": "Phone",
    "subject.postal_address": "Postal address",
    "subject.account_id": "Account id",
    "subject.extra": "Further data points",
    "agent": "Authorized agent",
    "agent.name": "Agent's name",
    "agent.email": "Agent's email",
    "agent.kind": "Acting as",
    "agent.organisation": "Agent's organisation",
    "corrections": "Corrections",
}


def labelled(problem: str) -> str:
    """``subject.emails: not a valid email address`` -> ``Email addresses: not a valid email address``."""
    field, sep, rest = problem.partition(":")
    key = field.strip()
    if sep and key in FIELD_LABELS:
        return f"{FIELD_LABELS[key]}:{rest}"
    if sep and key.startswith(("corrections.", "subject.extra.")):
        return f"{FIELD_LABELS[key.rsplit('.', 1)[0]]} ({key.rsplit('.', 1)[1]}):{rest}"
    return problem


def _form_values(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = {k: v[0] for k, v in form.items() if v and k != "csrf_token"}
    values["emails"] = form.get("email", [])
    return values


# --- one request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    state: str
    url: str | None
    waiting: bool


def _run_info(web: WebContext, run_id: str | None) -> RunInfo | None:
    if run_id is None:
        return None
    orchestrator = web.orchestrator
    if orchestrator is None:
        return RunInfo(run_id, "unknown (no orchestrator configured)", None, False)
    try:
        state = orchestrator.run_state(run_id)
    except Exception as exc:  # noqa: BLE001 - the page shows the request whatever the orchestrator does
        return RunInfo(run_id, f"unknown ({type(exc).__name__})", orchestrator.run_url(run_id), False)
    return RunInfo(run_id, state.name, orchestrator.run_url(run_id), state.waiting_for_input)


def _request_page(
    request: Request,
    staff: StaffAccount,
    reference: str,
    *,
    reveal: bool = False,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    web = _web(request)
    ctx = web.ctx
    view = queries.request_view(ctx, reference, reveal=reveal, via=f"{VIA}:{staff.name}")
    events = queries.request_events(ctx, view.reference)
    timeline: list[TimelineEntry] = [describe(e.seq, e.kind, e.at, e.details) for e in events]
    flag = casework.flag_of(events)
    letters = [t for t in timeline if t.kind == "LetterSent"]
    pending = processing.pending_manual_steps(ctx, view.id) if view.status is Status.EXECUTING else []
    on = today(request)
    untold = view.status is Status.DENIED and bool(processing.refusal_letters_owed(ctx, [view.id]))
    done = request.query_params.get("done", "")
    return _render(
        request,
        "console/request.html",
        status_code=status_code,
        v=view,
        d=view.deadline,
        u=urgency(view.deadline.due, view.status, on, untold=untold),
        timeline=timeline,
        flag=flag,
        letters=letters,
        alerts=queries.alerts(ctx, view.reference),
        can_pause=view.regime in PAUSE_MOVES_DUE,
        trace=explain_request(ctx, view.id),
        ack_late=view.deadline.acknowledged_at is None
        and view.deadline.acknowledge_by is not None
        and view.deadline.acknowledge_by < on
        and view.status not in DEADLINE_STOPPED,
        pending=pending,
        run=_run_info(web, view.flow_run_id),
        verification=_verification(ctx, view.id),
        package=package.package_state(ctx, view.id),
        package_policy=ctx.policy,
        orchestrator=web.orchestrator is not None,
        flash=FLASH.get(done) if not problems else None,
        problems=problems or [],
        ack_channels=deadlines.ACK_CHANNELS,
        outcomes=MANUAL_OUTCOMES,
        denial_reasons=[(x.value, x.value.replace("_", " ")) for x in DenialReason],
        exemptable=processing.exemptable(ctx, view.id) if view.status is Status.AWAITING_SIGN_OFF else [],
        letter=letter_state(ctx, view.id) if view.status in (Status.RESPONDING, Status.DENIED) else None,
        escalations=escalations_of(events),
        grounds=[(g.value, GROUND_LABEL[g]) for g in LegalGround],
        today=on,
    )


def _parse_date(form: Form, field: str, label: str) -> date | None:
    value = form.text(field)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{label} must be a date like 2026-12-31", [f"{label}: not a date"]) from None


Action = Callable[[Form, queries.RequestRef, StaffAccount], str]


def _orchestrator(web: WebContext) -> Any:
    if web.orchestrator is None:
        raise InvalidInput("no orchestrator is configured: flow runs cannot be started or resumed here", ["flow run: no orchestrator"])
    return web.orchestrator


def _action(act: Callable[[WebContext, Form, queries.RequestRef, StaffAccount], str]) -> Any:
    """A POST route on one request: CSRF-checked form, the action in a worker thread, then 303
    to the page; a refused action shows the page again with the problems."""

    async def route(request: Request, ref: str) -> Response:
        staff = _staff(request)
        form = await checked_form(request)
        web = _web(request)
        r = await run_in_threadpool(queries.lookup, web.ctx, ref)
        try:
            done = await run_in_threadpool(act, web, form, r, staff)
        except (NotFound, HTTPException):
            raise
        except DsarError as exc:
            headline = str(exc.args[0]) if exc.args else type(exc).__name__
            listed = list(getattr(exc, "problems", None) or [])
            problems = [headline, *(p for p in listed[:10] if p != headline)]
            code = 422 if isinstance(exc, InvalidInput) else 409
            return await run_in_threadpool(lambda: _request_page(request, staff, r.reference, problems=problems, status_code=code))
        return RedirectResponse(f"/console/requests/{r.reference}?done={done}", status_code=303)

    return route


def _required(form: Form, field: str, label: str | None = None) -> str:
    value = form.text(field)
    if value is None:
        name = label or field
        raise InvalidInput(f"{name} is required", [f"{name}: required"])
    return value


def _hold(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    hold_request(web.ctx, r.id, _required(form, "reason"), by=staff.name)
    return "held"


def _release(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    release_request(web.ctx, r.id, _required(form, "reason"), by=staff.name)
    if web.orchestrator is not None:
        continue_processing(web.ctx, web.orchestrator, r.id)  # best effort: the reconciler catches up
    return "released"


def _withdraw(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    withdraw_request(web.ctx, r.id, _required(form, "reason"), by=staff.name)
    return "withdrawn"


def _extend(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    deadlines.extend_request(web.ctx, r.id, _required(form, "reason"), staff.name)
    return "extended"


def _pause(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    deadlines.pause_clock(web.ctx, r.id, _required(form, "reason"), _parse_date(form, "on", "asked on"), by=staff.name)
    return "paused"


def _restart(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    deadlines.restart_clock(web.ctx, r.id, _parse_date(form, "on", "answered on"), by=staff.name)
    return "restarted"


def _acknowledge(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    deadlines.acknowledge_receipt(web.ctx, r.id, _required(form, "how"), staff.name, form.text("note"))
    return "acknowledged"


def _run(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    orchestrator = _orchestrator(web)
    if not orchestrator.available():
        raise InvalidInput("the orchestrator does not answer: try again once it runs", ["flow run: orchestrator down"])
    ensure_processing(web.ctx, orchestrator, r.id)
    return "run"


def _note(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    casework.add_note(web.ctx, r.id, _required(form, "text", "note"), by=staff.name, via=VIA)
    return "noted"


def _flag(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    changed = casework.flag_legal_sensitive(web.ctx, r.id, _required(form, "reason"), by=staff.name, via=VIA)
    if changed and web.orchestrator is not None:
        continue_processing(web.ctx, web.orchestrator, r.id)  # the run shows legal the escalation's form
    return "flagged" if changed else "unchanged"


def _unflag(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    changed = casework.unflag_legal_sensitive(web.ctx, r.id, _required(form, "reason"), by=staff.name, via=VIA)
    return "unflagged" if changed else "unchanged"


def _verify(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    code = _required(form, "code")
    if len(code) > 64:
        raise InvalidInput("the code is too long", ["code: too long"])
    from dsar.domain.verification import VerificationOutcome as V
    from dsar.services.orchestration import submit_code

    result = submit_code(web.ctx, _orchestrator(web), r.id, code, via="console")
    if result.outcome is V.WRONG_CODE:
        raise InvalidInput(f"wrong code; {result.attempts_left} tries left", ["code: wrong"])
    return "verified"


def _confirm(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    system = _required(form, "system")
    outcome = form.text("outcome") or "done"
    if outcome not in MANUAL_OUTCOMES:
        raise InvalidInput("unknown outcome", ["outcome: done, nothing found or cannot do it"])
    records_text = form.text("records") or "0"
    if not records_text.isdigit() or len(records_text) > 9:
        raise InvalidInput("records must be a whole number", ["records: not a number"])
    run_input = {"outcome": outcome, "records": int(records_text), "person": staff.name, "note": form.text("note") or ""}
    resume_waiting(web.ctx, _orchestrator(web), r.id, Status.EXECUTING, run_input, system=system)
    return "confirmed"


def _sign_off(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    """Legal's decision: the signed-in account (on the legal roster) plus the current code of
    its authenticator. Checked and recorded at once; a refused attempt is recorded and shown."""
    pairs = [(target, form.text("ground")) for target in form.all("exempt")]
    given = sign_off(form.text("decision") or "", form.text("reason"), form.text("reason_text"), form.text("note"), pairs)
    code = form.text("code") or ""
    if len(code) > 16:
        raise InvalidInput("the code is too long", ["code: 6 digits"])
    result = sign_off_and_resume(web.ctx, _orchestrator(web), r.id, given, staff.name, code, via=VIA)
    if result.refused is not None:
        raise InvalidInput(f"sign-off refused: {REFUSAL_TEXT[result.refused]}", [f"code: {REFUSAL_TEXT[result.refused]}"])
    return "signed-off" if result.recorded else "unchanged"


def _approve_letter(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    """Legal's sign-off of the letter before it goes out (DSAR_LETTER_SIGN_OFF): the signed-in
    account plus its authenticator's current code, as the plan's sign-off; a refused attempt
    is recorded and shown."""
    given = letter_sign_off(form.text("decision") or "", form.text("reason"), form.text("note"))
    code = form.text("code") or ""
    if len(code) > 16:
        raise InvalidInput("the code is too long", ["code: 6 digits"])
    result = letter_sign_off_and_resume(web.ctx, _orchestrator(web), r.id, given, staff.name, code, via=VIA)
    if result.refused is not None:
        why = REFUSAL_TEXT[result.refused]
        raise InvalidInput(f"letter sign-off refused: {why}", [f"code: {why}"])
    if not result.recorded:
        return "unchanged"
    return "letter-returned" if result.returned else "letter-approved"


def _verification(ctx: Any, request_id: str) -> Any:
    from dsar.services.verification_summary import summary

    return summary(ctx, request_id)


def _verify_by_hand(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    """A legal account (signed in, proven again by its authenticator's code) records identity
    verified by other means, describing the evidence seen; the waiting run is woken."""
    from dsar.services import identity
    from dsar.services.orchestration import wake_verified

    code = form.text("code") or ""
    if len(code) > 16:
        raise InvalidInput("the code is too long", ["code: 6 digits"])
    identity.verify_by_hand(web.ctx, r.id, approver=staff.name, code=code, evidence=form.text("evidence") or "", via=VIA)
    wake_verified(web.ctx, web.orchestrator, r.id)
    return "verified-by-hand"


def _package_link(web: WebContext, form: Form, r: queries.RequestRef, staff: StaffAccount) -> str:
    package.issue_link(web.ctx, r.id, by=staff.name)
    return "package-link"


# (path, permission, action) of every POST on one request.
ACTIONS: tuple[tuple[str, Permission, Callable[[WebContext, Form, queries.RequestRef, StaffAccount], str]], ...] = (
    ("hold", Permission.CASEWORK, _hold),
    ("release", Permission.CASEWORK, _release),
    ("withdraw", Permission.CASEWORK, _withdraw),
    ("extend", Permission.CASEWORK, _extend),
    ("pause-clock", Permission.CASEWORK, _pause),
    ("restart-clock", Permission.CASEWORK, _restart),
    ("acknowledge", Permission.CASEWORK, _acknowledge),
    ("run", Permission.CASEWORK, _run),
    ("note", Permission.CASEWORK, _note),
    ("flag", Permission.CASEWORK, _flag),
    ("unflag", Permission.CASEWORK, _unflag),
    ("verify", Permission.CASEWORK, _verify),
    ("confirm", Permission.CASEWORK, _confirm),
    ("package-link", Permission.CASEWORK, _package_link),
    ("sign-off", Permission.SIGN_OFF, _sign_off),
    ("approve-letter", Permission.SIGN_OFF, _approve_letter),
    ("verify-by-hand", Permission.SIGN_OFF, _verify_by_hand),
    ("resolve-escalation", Permission.SIGN_OFF, resolve_escalation),
)


def _export(web: WebContext, reference: str) -> tuple[str, bytes]:
    from dsar.app import build_checkpoint_archive, build_signer
    from dsar.services.audit import export_evidence

    ref = parse_reference(reference)
    with tempfile.TemporaryDirectory(prefix="dsar-evidence-") as folder:
        path = Path(folder) / f"evidence-{ref}.zip"
        export_evidence(web.ctx, build_signer(web.app), path, reference=ref, archive=build_checkpoint_archive(web.app))
        return path.name, path.read_bytes()


# --- routes -----------------------------------------------------------------------------------


def router() -> APIRouter:
    from dsar.web import console_auth

    r = APIRouter(include_in_schema=False)
    r.include_router(console_auth.router())
    from dsar.web import legal

    legal.add_routes(r)

    @r.get("", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    def queue(request: Request) -> Response:
        staff = _staff(request)
        return _queue(request, staff)

    @r.get("/requests/new", dependencies=[Depends(require(Permission.LOG_REQUEST))])
    def new_form(request: Request) -> Response:
        _staff(request)
        web = _web(request)
        return _new_form(request, {"channel": Channel.PHONE.value, "regime": web.settings.web_default_regime, "emails": []}, [])

    @r.post("/requests/new", dependencies=[Depends(require(Permission.LOG_REQUEST))])
    async def new_submit(request: Request) -> Response:
        _staff(request)
        form = await checked_form(request)
        web = _web(request)
        raw, problems = submission_from_form(form, web.settings.web_default_regime)
        if problems:
            return _new_form(request, _form_values(form), problems, 422)
        try:
            done = await run_in_threadpool(submit, web.ctx, web.orchestrator, raw)
        except InvalidInput as exc:
            return _new_form(request, _form_values(form), [labelled(p) for p in exc.problems or [str(exc.args[0])]], 422)
        flag = "logged-norun" if done.flow_run_id is None else "logged"
        return RedirectResponse(f"/console/requests/{done.request.reference}?done={flag}", status_code=303)

    @r.get("/requests/{ref}", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    def request_page(request: Request, ref: str) -> Response:
        staff = _staff(request)
        return _request_page(request, staff, ref)

    @r.post("/requests/{ref}/reveal", dependencies=[Depends(require(Permission.REVEAL_SUBJECT))])
    async def reveal(request: Request, ref: str) -> Response:
        staff = _staff(request)
        await checked_form(request)
        # Rendered in the answer to the POST: the clear data never sits behind an address.
        return await run_in_threadpool(lambda: _request_page(request, staff, ref, reveal=True))

    @r.get("/requests/{ref}/plan", dependencies=[Depends(require(Permission.VIEW_REQUESTS))])
    def plan(request: Request, ref: str) -> Response:
        _staff(request)
        web = _web(request)
        found = queries.lookup(web.ctx, ref)
        steps = processing.dry_run_plan(web.ctx, found.id)
        rows = [
            {
                "system": s.system,
                "operation": s.operation.value,
                "records": None if processing.is_manual(s) else s.matches,
                "detail": processing.describe_step(s),
            }
            for s in steps
        ]
        return _render(request, "console/plan.html", ref=found, rows=rows)

    @r.post("/requests/{ref}/evidence", dependencies=[Depends(require(Permission.EXPORT_EVIDENCE))])
    async def evidence(request: Request, ref: str) -> Response:
        _staff(request)
        await checked_form(request)
        web = _web(request)
        name, data = await run_in_threadpool(_export, web, ref)
        return Response(data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'})

    for path, permission, act in ACTIONS:
        r.add_api_route(
            f"/requests/{{ref}}/{path}",
            _action(act),
            methods=["POST"],
            name=f"console-{path}",
            dependencies=[Depends(require(permission))],
        )
    return r
