"""The `dsar` command line. Every read command takes --json.

Exit codes: 0 done; 1 failed (configuration, missing request, a system down); 2 bad input
(nothing was written).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from dsar.domain.decisions import DenialReason
from dsar.domain.errors import DsarError, InvalidInput, NotFound

# What a command needs is imported inside it (issue 13, item 8: `dsar --help` imports no
# domain model, database or Prefect; tests/unit/test_cli_imports.py keeps it so).
if TYPE_CHECKING:
    from dsar.app import App
    from dsar.domain.request import Status
    from dsar.services.context import ServiceContext
    from dsar.services.orchestration import Orchestrator
    from dsar.services.queries import AlertView, RequestRef, RequestView
    from dsar.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Run data-subject requests from intake to the closing letter.")
request_app = typer.Typer(no_args_is_help=True, help="Log, inspect and steer privacy requests.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration.")
alerts_app = typer.Typer(no_args_is_help=True, help="Deadline alerts: run a watch sweep, list what was raised.")
db_app = typer.Typer(no_args_is_help=True, help="The engine's database schema.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail: checkpoints, evidence bundles, shredding.")
app.add_typer(request_app, name="request")
app.add_typer(config_app, name="config")
app.add_typer(alerts_app, name="alerts")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")

out = Console()
# Error and progress lines are never wrapped mid-sentence at the terminal's width: a line
# pasted into a ticket or grepped from a log must read as one.
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except InvalidInput as exc:
        _fail(str(exc), 2)
    except NotFound as exc:
        _fail(str(exc), 1)
    except DsarError as exc:
        _fail(f"{type(exc).__name__}: {exc}", 1)


# dsar.settings (pydantic-settings) is imported when a command first needs it, never for
# `--help` (issue 13, item 8: the CLI's start time).
def load_settings() -> Settings:
    from dsar.settings import load_settings as load

    return load()


def mask_url(url: str) -> str:
    from dsar.settings import mask_url as mask

    return mask(url)


def _settings() -> Settings:
    with _errors():
        return load_settings()


def _app(settings: Settings | None = None, *, migrate: bool = False) -> App:
    from dsar.app import build_app
    from dsar.filemodes import secure_home

    settings = settings or _settings()
    with _errors():
        secure_home(settings.home_dir)
        built = build_app(settings, migrate_schema=migrate)
    _started()
    return built


def _orchestrator(settings: Settings) -> Orchestrator:
    """Prefect, configured for these settings (before anything imports it)."""
    from dsar.orchestration.prefect import PrefectOrchestrator

    with _errors():
        return PrefectOrchestrator.configured(settings)


def _continue(engine: App, request_id: str) -> str:
    """After a release or an escalation: bring the request's run to where the record stands
    (:func:`dsar.services.orchestration.continue_processing`); best effort and quick when no
    Prefect answers (the reconciler of the deadline watch catches up). What was done."""
    from dsar.services.orchestration import continue_processing

    try:
        orchestrator = _orchestrator(_settings())
        if not orchestrator.available():
            return "unavailable"
        return continue_processing(engine.ctx, orchestrator, request_id)
    except (Exception, typer.Exit):  # noqa: BLE001 - the record stands either way
        return "unavailable"


CONTINUED = {
    "started": "; a flow run carries it on",
    "woken": "; its run was woken to ask legal",
    "resumed": "; its run goes on",
    "unavailable": "; Prefect does not answer: the deadline watch starts its run later (or `dsar request run`)",
}


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=True) + "\n")


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _request_doc(v: RequestView) -> dict[str, Any]:
    d, s = v.deadline, v.subject
    return {
        "id": v.id,
        "reference": v.reference,
        "type": v.type,
        "access_scope": v.access_scope,
        "regime": v.regime,
        "country": v.country,
        "subdivision": v.subdivision,
        "channel": v.channel,
        "received_at": v.received_at.isoformat(),
        "status": v.status.value,
        "on_hold": v.on_hold,
        "hold_reason": v.hold_reason,
        "language": v.language,
        "due": d.due.isoformat(),
        "acknowledge_by": _iso(d.acknowledge_by),
        "acknowledged_at": _iso(d.acknowledged_at),
        "extension_notice_by": _iso(d.extension_notice_by),
        "extended_due": _iso(d.extended_due),
        "statutory_due": _iso(d.statutory_due),
        "extended": d.extended,
        "paused_days": d.paused_days,
        "clock_stopped": d.clock_stopped,
        "subject": {
            "name": s.name,
            "emails": list(s.emails),
            "phone": s.phone,
            "postal_address": s.postal_address,
            "account_id": s.account_id,
            # masked, only which further data points were given
            "extra": dict(s.extra) if v.revealed else sorted(k for k, _ in s.extra),
        },
        "agent": None if v.agent is None else {"name": v.agent.name, "email": v.agent.email, "kind": v.agent.kind},
        "linked_to": v.linked_to,
        "corrections": [{"attribute": c.attribute, "value": c.value} for c in v.corrections],
        "plan": [{"system": p.system, "operation": p.operation, "matches": p.matches, "detail": p.detail} for p in v.plan],
        "receipts": [{"system": x.system, "operation": x.operation, "records": x.records, "at": x.at.isoformat()} for x in v.receipts],
        "flow_run_id": v.flow_run_id,
    }


# --- request ----------------------------------------------------------------------------------


def _submission_from_options(opts: dict[str, Any], from_json: Path | None) -> dict[str, Any]:
    if from_json is not None:
        try:
            raw = json.loads(from_json.read_text())
        except OSError:
            raise InvalidInput(f"cannot read {from_json}") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{from_json} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(raw, dict):
            raise InvalidInput(f"{from_json} must hold one JSON object")
        return raw
    extra: dict[str, str] = {}
    for item in opts.pop("extra") or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput("--extra takes KEY=VALUE", ["extra: missing '='"])
        extra[key] = value
    corrections = []
    for item in opts.pop("corrections") or []:
        attribute, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput("--correct takes ATTRIBUTE=VALUE", ["corrections: missing '='"])
        corrections.append({"attribute": attribute, "value": value})
    sub: dict[str, Any] = {k: v for k, v in opts.items() if v is not None and not k.startswith(("subject_", "agent_"))}
    if corrections:
        sub["corrections"] = corrections
    sub["subject"] = {k.removeprefix("subject_"): v for k, v in opts.items() if k.startswith("subject_") and v not in (None, [])}
    if extra:
        sub["subject"]["extra"] = extra
    agent = {k.removeprefix("agent_"): v for k, v in opts.items() if k.startswith("agent_") and v is not None}
    if agent:
        sub["agent"] = agent
    return sub


@request_app.command("new")
def request_new(
    type_: Annotated[str | None, typer.Option("--type", help="access, deletion, correction or appeal (with --appeal-of)")] = None,
    appeal_of: Annotated[
        str | None, typer.Option(help="For --type appeal: the reference of the refused request it appeals (its regime is taken)")
    ] = None,
    regime: Annotated[
        str | None,
        typer.Option(
            help="gdpr, uk-gdpr, ccpa, us-XX (a US state), ca-qc, nz ... (`dsar regimes`); default: picked by --country/--subdivision"
        ),
    ] = None,
    access_scope: Annotated[str | None, typer.Option(help="CCPA access: categories or specific_pieces")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country code (GDPR: the member state)")] = None,
    subdivision: Annotated[str | None, typer.Option(help="Subdivision (UK nation ENG/SCT/WLS/NIR, US state)")] = None,
    channel: Annotated[str, typer.Option(help="web, email, phone, mail or api")] = "web",
    received: Annotated[str | None, typer.Option(help="When it was received: ISO date or date-time (default now)")] = None,
    backdated_reason: Annotated[
        str | None, typer.Option(help="Why a request received more than DSAR_MAX_BACKDATE_DAYS ago is logged only now (recorded)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Subject's name")] = None,
    email: Annotated[list[str] | None, typer.Option(help="Subject's email (repeatable; the first receives the code)")] = None,
    phone: Annotated[str | None, typer.Option(help="Subject's phone")] = None,
    address: Annotated[str | None, typer.Option(help="Subject's postal address")] = None,
    account_id: Annotated[str | None, typer.Option(help="Subject's account id")] = None,
    extra: Annotated[list[str] | None, typer.Option(help="Further data point KEY=VALUE (repeatable)")] = None,
    agent_name: Annotated[str | None, typer.Option(help="Authorized agent's name")] = None,
    agent_email: Annotated[str | None, typer.Option(help="Authorized agent's email")] = None,
    agent_kind: Annotated[str | None, typer.Option(help="authorized_agent, power_of_attorney or parent_or_guardian")] = None,
    correct: Annotated[
        list[str] | None,
        typer.Option(help="Correction request: ATTRIBUTE=CORRECT VALUE, attributes as the data map's `correctable` (repeatable)"),
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language of the subject's letters: en, de, fr or es (default en)")] = None,
    from_json: Annotated[Path | None, typer.Option(help="Read the whole request from a JSON file instead")] = None,
    start: Annotated[bool, typer.Option(help="Start the process-request flow run")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Log a new request; print its reference and due date and start its flow run."""
    from dsar.services.intake import log_request

    settings = _settings()
    with _errors():
        raw = _submission_from_options(
            {
                "type": type_,
                "regime": regime,
                "language": language,
                "access_scope": access_scope,
                "country": country,
                "subdivision": subdivision,
                "channel": channel,
                "received_at": received,
                "backdated_reason": backdated_reason,
                "subject_name": name,
                "subject_emails": email or [],
                "subject_phone": phone,
                "subject_postal_address": address,
                "subject_account_id": account_id,
                "extra": extra,
                "agent_name": agent_name,
                "agent_email": agent_email,
                "agent_kind": agent_kind,
                "corrections": correct,
                "appeal_of": appeal_of,
            },
            from_json,
        )
        engine = _app(settings)
        result = log_request(engine.ctx, raw)
    r, d = result.request, result.deadline
    # An appeal runs no flow: legal decides it (`dsar request decide-appeal`).
    start = start and r.type.value != "appeal"
    run_id, run_note = _start_flow(settings, engine, r.id, r.reference) if start else (None, None)
    doc = {
        "reference": r.reference,
        "id": r.id,
        "due": d.due.isoformat(),
        "acknowledge_by": d.acknowledge_by.isoformat() if d.acknowledge_by else None,
        "status": r.status.value,
        "flow_run_id": run_id,
        "flow_run": run_note,
    }
    if as_json:
        _print_json(doc)
        return
    out.print(
        f"Logged [bold]{r.reference}[/] ({r.type.value}, {r.regime}); due [bold]{d.due.isoformat()}[/]"
        + (f", acknowledge by {d.acknowledge_by.isoformat()}" if d.acknowledge_by else "")
    )
    if run_note:
        out.print(run_note, soft_wrap=True)  # the run's address stays one line, whole


def _start_flow(settings: Settings, engine: App, request_id: str, reference: str) -> tuple[str | None, str]:
    """Start a process-request run; returns (flow run id or None, a sentence for the user)."""
    from dsar.services.orchestration import start_processing

    orchestrator = _orchestrator(settings)
    if not orchestrator.available():
        return None, (
            f"No Prefect API answers at {mask_url(settings.effective_prefect_api_url)}: the request is logged; "
            f"start `dsar serve` and run `dsar request run {reference}`."
        )
    try:
        run_id = start_processing(engine.ctx, orchestrator, request_id)
    except Exception as exc:  # noqa: BLE001 - report, the request itself is safely logged
        return None, f"Could not start the flow run ({type(exc).__name__}); run `dsar request run {reference}` once `dsar serve` is up."
    return run_id, f"Flow run started: {orchestrator.run_url(run_id)}"


def _load(reference: str) -> tuple[App, RequestRef]:
    from dsar.services import queries

    engine = _app()
    with _errors():
        return engine, queries.lookup(engine.ctx, reference)


@request_app.command("show")
def request_show(
    reference: str,
    reveal: Annotated[bool, typer.Option(help="Show the subject's data unmasked (recorded in the audit trail)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show one request (subject data masked unless --reveal)."""
    from dsar.services import queries

    engine = _app()
    with _errors():
        doc = _request_doc(queries.request_view(engine.ctx, reference, reveal=reveal, via="cli"))
        events = queries.request_events(engine.ctx, reference)
        doc.update(_sign_off_doc(events))
        doc["letter_sign_off"] = _letter_doc(engine, doc["id"], events)
        doc["verification"] = _verification_doc(engine, doc)
    if as_json:
        _print_json(doc)
        return
    t = Table(show_header=False, box=None)
    for k in (
        "reference",
        "type",
        "access_scope",
        "regime",
        "country",
        "subdivision",
        "channel",
        "received_at",
        "status",
        "on_hold",
        "hold_reason",
        "language",
        "due",
        "acknowledge_by",
        "acknowledged_at",
        "extension_notice_by",
        "extended_due",
        "statutory_due",
        "extended",
        "paused_days",
        "clock_stopped",
        "flow_run_id",
    ):
        t.add_row(k, str(doc[k]))
    if doc["verification"]:
        v = doc["verification"]
        t.add_row("verification", f"{v['requirement']} — {v['state']}" + (f", next: {v['next']}" if v["next"] else ""))
    for k, v in doc["subject"].items():
        t.add_row(f"subject.{k}", str(v))
    for c in doc["corrections"]:
        t.add_row(f"correct.{c['attribute']}", str(c["value"]))
    for s in doc["plan"]:
        t.add_row("plan", f"{s['system']}: {s['operation']}, {s['matches']} matched ({s['detail']})")
    if doc["sign_off"]:
        so = doc["sign_off"]
        said = f"{so['decision']} by {so['approver']} ({so.get('verified_by') or 'unverified'}, {so.get('via') or '?'}) at {so['at']}"
        t.add_row("sign-off", said)
        for k in ("reason", "reason_text", "note"):
            if so.get(k):
                t.add_row(f"sign-off.{k}", str(so[k]))
    if doc["sign_off_refused"]:
        t.add_row("sign-off refused", ", ".join(f"{x['reason']} at {x['at']}" for x in doc["sign_off_refused"]))
    if doc["letter_sign_off"]:
        ls = doc["letter_sign_off"]
        if ls["waits_for_legal"]:
            how = f"dsar request approve-letter {doc['reference']} --approver NAME --code CODE"
            said = f"{ls['letter']}: waits for legal's approval" + (
                " (returned; on hold until released)" if doc["on_hold"] else f" ({how})"
            )
        elif ls["decisions"]:
            last = ls["decisions"][-1]
            said = f"{last['letter']}: {last['decision']} by {last['approver']} ({last.get('via') or '?'}) at {last['at']}"
        else:
            said = f"{ls['letter']}: no approval needed"
        t.add_row("letter", said)
    for x in doc["receipts"]:
        t.add_row("receipt", f"{x['system']}: {x['operation']} {x['records']} records at {x['at']}")
    out.print(t)


@request_app.command("list")
def request_list(
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    due_before: Annotated[str | None, typer.Option(help="Only requests due before this date (YYYY-MM-DD)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List requests, soonest due first; `run` says `none` for an open request that never had a flow run."""
    from dsar.domain.request import FINAL_STATUSES, Status
    from dsar.services import queries

    final = {s.value for s in FINAL_STATUSES}

    with _errors():
        st = None
        if status is not None:
            try:
                st = Status(status)
            except ValueError:
                raise InvalidInput(f"unknown status {status!r}; known: {', '.join(s.value for s in Status)}") from None
        before = None
        if due_before is not None:
            try:
                before = date.fromisoformat(due_before)
            except ValueError:
                raise InvalidInput("--due-before must be a date like 2026-12-31") from None
    engine = _app()
    with _errors():
        rows = queries.request_list(engine.ctx, st, before, limit)
    docs: list[dict[str, Any]] = [
        {
            "reference": r.reference,
            "type": r.type,
            "regime": r.regime,
            "status": r.status.value,
            "on_hold": r.on_hold,
            "due": r.due.isoformat(),
            "received_at": r.received_at.isoformat(),
            "flow_run_id": r.flow_run_id,
        }
        for r in rows
    ]
    if as_json:
        _print_json(docs)
        return
    t = Table("reference", "type", "regime", "status", "hold", "run", "due", "received")
    for x in docs:
        # an open request without a run is waiting for the reconciler (`dsar request reconcile`)
        run = "none" if x["flow_run_id"] is None and x["status"] not in final else ("yes" if x["flow_run_id"] else "")
        t.add_row(x["reference"], x["type"], x["regime"], x["status"], "yes" if x["on_hold"] else "", run, x["due"], x["received_at"][:16])
    out.print(t)


def _sign_off_doc(events: list[Any]) -> dict[str, Any]:
    """Legal's decision as recorded (with the internal note: staff and auditors read it) and the
    refused attempts, from the request's decrypted audit trail."""
    signed = [{"at": e.at.isoformat(), **e.details} for e in events if e.kind == "SignOffRecorded"]
    refused = [{"at": e.at.isoformat(), **e.details} for e in events if e.kind == "SignOffRefused"]
    return {"sign_off": signed[-1] if signed else None, "sign_off_refused": refused}


def _letter_doc(engine: App, request_id: str, events: list[Any]) -> dict[str, Any] | None:
    """The closing letter's sign-off by legal (DSAR_LETTER_SIGN_OFF): whether it waits for
    legal's approval now, and the decisions on it (approved, returned), from the audit trail."""
    from dsar.services.letter_sign_off import letter_state

    state = letter_state(engine.ctx, request_id)
    decisions = [{"at": e.at.isoformat(), **e.details} for e in events if e.kind == "LetterSignOffRecorded"]
    if state.letter is None and not decisions:
        return None
    kind = state.letter.kind if state.letter is not None else decisions[-1].get("letter", "")
    return {"letter": kind, "waits_for_legal": state.awaiting_approval, "decisions": decisions}


@request_app.command("approve-letter")
def request_approve_letter(
    reference: str,
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
    return_: Annotated[
        bool, typer.Option("--return", help="Return the letter to the team instead (with --reason): the request is held with it")
    ] = False,
    reason: Annotated[str, typer.Option(help="For --return: what the team must change (the hold's reason)")] = "",
    note: Annotated[str, typer.Option(help="Internal note for the file and the auditors (kept encrypted; never in a letter)")] = "",
) -> None:
    """Legal's sign-off of the response letter before it goes out (DSAR_LETTER_SIGN_OFF), proven
    by your authenticator code: recorded at once, then handed to the waiting flow run, which
    sends it (or, returned, stops with the request held until staff release it). A refused
    attempt (wrong or used code, a name off the roster) is recorded and the letter keeps
    waiting (exit 1)."""
    from dsar.domain.decisions import REFUSAL_TEXT
    from dsar.domain.letter_sign_off import letter_sign_off
    from dsar.services.orchestration import letter_sign_off_and_resume

    with _errors():
        given = letter_sign_off("return" if return_ else "approve", reason, note)
    settings = _settings()
    engine, r = _load(reference)
    orchestrator = _orchestrator(settings)
    with _errors():
        result = letter_sign_off_and_resume(engine.ctx, orchestrator, r.id, given, approver, code, via="cli")
    if result.refused is not None:
        why = REFUSAL_TEXT[result.refused]
        err.print(f"{r.reference}: letter sign-off refused: {why}; the letter still waits", highlight=False, markup=False)
        raise typer.Exit(1)
    done = "returned to the team; the request is on hold" if result.returned else "approved; the run sends it"
    out.print(f"{r.reference}: letter {done} ({result.status.value})", highlight=False, markup=False)


@request_app.command("events")
def request_events(reference: str, as_json: JsonOpt = False) -> None:
    """The request's audit trail, decrypted."""
    from dsar.services import queries

    engine = _app()
    with _errors():
        events = queries.request_events(engine.ctx, reference)
    docs: list[dict[str, Any]] = [{"seq": e.seq, "kind": e.kind, "at": e.at.isoformat(), "details": e.details} for e in events]
    if as_json:
        _print_json(docs)
        return
    from dsar.services.timeline import describe

    t = Table("seq", "at", "event", "what", "who")
    for e in events:
        entry = describe(e.seq, e.kind, e.at, e.details)
        t.add_row(str(e.seq), e.at.isoformat()[:19], e.kind, "\n".join([entry.title, *entry.lines]), entry.who or "")
    out.print(t)


@request_app.command("run")
def request_run(reference: str) -> None:
    """Start a new flow run for a request (safe at any point: finished work is not repeated)."""
    settings = _settings()
    engine, r = _load(reference)
    out.print(_start_flow(settings, engine, r.id, r.reference)[1])


@request_app.command("reconcile")
def request_reconcile(as_json: JsonOpt = False) -> None:
    """Start a run for every open request that has none alive (never started, failed, crashed);
    hold those whose runs keep stopping. The deadline watch does this every hour."""
    from dsar.services.orchestration import reconcile

    settings = _settings()
    engine = _app(settings)
    with _errors():
        done = reconcile(engine.ctx, _orchestrator(settings))
    if as_json:
        _print_json([{"reference": d.reference, "action": d.action, "previous_state": d.previous_state, "run_id": d.run_id} for d in done])
        return
    if not done:
        out.print("Every open request has a live flow run (or is on hold).")
    for d in done:
        was = f" (its run {d.previous_state.lower()})" if d.previous_state else " (no run was recorded)"
        out.print(f"{d.reference}: {d.action}{was}")


def _resume(reference: str, expected: Status, run_input: dict[str, Any], system: str | None = None) -> None:
    from dsar.services.orchestration import resume_waiting

    settings = _settings()
    engine, r = _load(reference)
    orchestrator = _orchestrator(settings)
    with _errors():
        resume_waiting(engine.ctx, orchestrator, r.id, expected, run_input, system=system)
    out.print(f"{r.reference}: resumed")


@request_app.command("verify")
def request_verify(
    reference: str,
    code: Annotated[str, typer.Option(help="The one-time code from the verification letter")],
) -> None:
    """Give the subject's one-time code (the proof of the contact on file, like the link).

    The engine judges it at once: exit 0 when identity is verified (the waiting run is woken)
    or when the code was right but the request needs more proof (the subject's web pages ask
    for it); exit 1 for a wrong code (with the tries left), an expired code or no tries left
    (the request is then refused as unverifiable). Exit 2: the request does not wait for a code."""
    from dsar.domain.verification import VerificationOutcome as V
    from dsar.services.orchestration import submit_code

    settings = _settings()
    engine, r = _load(reference)
    orchestrator = _orchestrator(settings)
    with _errors():
        result = submit_code(engine.ctx, orchestrator, r.id, code, via="cli")
    if result.outcome is V.VERIFIED:
        out.print(f"{r.reference}: code accepted, identity verified")
        return
    if result.outcome is V.MORE_PROOF:
        out.print(f"{r.reference}: code accepted; the request needs more proof, asked for on the link's web pages")
        return
    if result.outcome is V.WRONG_CODE:
        _fail(f"{r.reference}: wrong code; {result.attempts_left} {'try' if result.attempts_left == 1 else 'tries'} left", 1)
    if result.expired:
        _fail(f"{r.reference}: the code had expired; the request is refused as unverifiable", 1)
    _fail(f"{r.reference}: wrong code and no tries left; the request is refused as unverifiable", 1)


@request_app.command("resend")
def request_resend(reference: str) -> None:
    """Send the subject a new verification link and code (the earlier ones stop working), to the
    contact on file, never to one given on the phone. Exit 1 when nothing was sent: the
    request does not wait for verification, its subject was not found on file, its link has
    expired, or its sends are used up (DSAR_VERIFICATION_MAX_SENDS)."""
    from dsar.services import identity

    engine, r = _load(reference)
    with _errors():
        sent = identity.resend(engine.ctx, r.id)
    if not sent:
        _fail(f"{r.reference}: no new link was sent (not waiting for verification, no contact on file, expired, or no sends left)", 1)
    out.print(f"{r.reference}: a new link and code went to the contact on file")


@request_app.command("package-link")
def request_package_link(reference: str, as_json: JsonOpt = False) -> None:
    """Send the subject a new download link for the request's access package, when the old one
    expired, was used or was lost: the old link stops working at once, the new one works for
    DSAR_PACKAGE_LINK_DAYS from now, and a letter takes it to the contact on file (recorded
    as an audit event naming you). Exit 1 when none was issued: the request has no package,
    its package was deleted (retention), or its new links are used up
    (DSAR_PACKAGE_MAX_NEW_LINKS); the message says which."""
    from dsar.domain.errors import PackageLinkRefused
    from dsar.services import package

    engine, r = _load(reference)
    with _errors():
        try:
            link = package.issue_link(engine.ctx, r.id, by=_by())
        except PackageLinkRefused as exc:
            _fail(str(exc), 1)
    expires = link.expires_at.isoformat(timespec="minutes")
    if as_json:
        _print_json({"reference": r.reference, "expires_at": expires})
        return
    out.print(f"{r.reference}: a new download link went to the contact on file (works until {expires})", highlight=False, markup=False)


def _verification_doc(engine: Any, doc: dict[str, Any]) -> dict[str, Any] | None:
    from dsar.services.verification_summary import summary

    found = summary(engine.ctx, str(doc["id"]))
    return found.as_json() if found is not None else None


@request_app.command("verify-by-hand")
def request_verify_by_hand(
    reference: str,
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
    evidence: Annotated[str, typer.Option(help="What you saw and how (never attach or keep an ID document copy)")],
) -> None:
    """Record identity verified by hand by a legal account (a subject with no contact on file,
    no email, or an agent's permission reviewed): the evidence described, an audit event; the
    waiting run goes on."""
    from dsar.services import identity
    from dsar.services.orchestration import wake_verified

    settings = _settings()
    engine, r = _load(reference)
    with _errors():
        status = identity.verify_by_hand(engine.ctx, r.id, approver=approver, code=code, evidence=evidence, via="cli")
    try:
        wake_verified(engine.ctx, _orchestrator(settings), r.id)
    except Exception:  # noqa: BLE001 - the run finds the request verified when it next runs
        pass
    out.print(f"{r.reference}: identity verified by hand ({status.value})")


@request_app.command("lower-verification")
def request_lower_verification(
    reference: str,
    to: Annotated[str, typer.Option("--to", help="The lower level: contact, reasonable or high")],
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
    reason: Annotated[str, typer.Option(help="Why a lower level is proportionate here (kept in the audit trail)")],
) -> None:
    """Lower the identity level a request needs: only a named legal approver with their
    authenticator's code, with the reason, as an audit event (THREATS 5)."""
    from dsar.services import identity

    engine, r = _load(reference)
    with _errors():
        new = identity.lower_level(engine.ctx, r.id, to, approver=approver, code=code, reason=reason)
    out.print(f"{r.reference}: verification lowered to {new.describe()}")


@request_app.command("sign-off")
def request_sign_off(
    reference: str,
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
    approve: Annotated[bool, typer.Option("--approve/--deny", help="Release the response, or refuse the request")] = True,
    reason: Annotated[
        str,
        typer.Option(help="For --deny, the reason the subject is given: " + ", ".join(r.value for r in DenialReason)),
    ] = "",
    reason_text: Annotated[str, typer.Option(help="For --reason other: the reason in words, for the subject's letter")] = "",
    note: Annotated[str, typer.Option(help="Internal note for the file and the auditors (kept encrypted; never in a letter)")] = "",
    exempt: Annotated[
        list[str] | None,
        typer.Option(help="Keep a part of the plan out of the answer: SYSTEM, SYSTEM/ENTITY or SYSTEM/ENTITY.FIELD (repeatable)"),
    ] = None,
    ground: Annotated[
        list[str] | None,
        typer.Option(help="The legal ground of each --exempt, in the same order (one ground for all when given once)"),
    ] = None,
) -> None:
    """Give legal's decision, proven by your authenticator code: recorded at once, then handed
    to the waiting flow run (the same as the Resume form in the UI). A refused attempt (wrong
    or used code, a name off the roster, an exemption the plan does not hold) is recorded and
    the request keeps waiting (exit 1)."""
    from dsar.domain.decisions import REFUSAL_TEXT, sign_off
    from dsar.services.orchestration import sign_off_and_resume

    targets, grounds = list(exempt or ()), list(ground or ())
    if len(grounds) == 1:
        grounds *= len(targets)
    pairs = [(t, grounds[i] if i < len(grounds) else None) for i, t in enumerate(targets)]
    with _errors():
        given = sign_off("approve" if approve else "deny", reason, reason_text, note, pairs)
    settings = _settings()
    engine, r = _load(reference)
    orchestrator = _orchestrator(settings)
    with _errors():
        result = sign_off_and_resume(engine.ctx, orchestrator, r.id, given, approver, code, via="cli")
    if result.refused is not None:
        why = REFUSAL_TEXT[result.refused]
        err.print(f"{r.reference}: sign-off refused: {why}; the request still waits", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(f"{r.reference}: {given.decision.value} recorded; the run resumes ({result.status.value})", highlight=False, markup=False)


@request_app.command("decide-appeal")
def request_decide_appeal(
    reference: str,
    outcome: Annotated[str, typer.Option(help="upheld (the refusal stands) or overturned")],
    reasons: Annotated[str, typer.Option(help="The reasons, in words, as the consumer reads them in the outcome letter")],
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
) -> None:
    """Legal's written decision on an appeal, proven by your authenticator code: recorded, the
    appeal-outcome letter queued (naming the Attorney General's complaint route where the state
    requires it) and the appeal closed. A refused attempt is recorded (exit 1)."""
    from dsar.domain.decisions import REFUSAL_TEXT
    from dsar.services.appeals import decide_appeal

    engine, r = _load(reference)
    with _errors():
        result = decide_appeal(engine.ctx, r.id, outcome, reasons, approver, code, via="cli")
    if result.refused is not None:
        err.print(f"{r.reference}: decision refused: {REFUSAL_TEXT[result.refused]}; the appeal still waits", highlight=False, markup=False)
        raise typer.Exit(1)
    assert result.outcome is not None
    out.print(f"{r.reference}: appeal {result.outcome.value}; outcome letter queued ({result.status.value})", highlight=False, markup=False)


@request_app.command("appeals-report")
def request_appeals_report(
    year: Annotated[int, typer.Option(help="Calendar year of receipt")],
    as_json: JsonOpt = False,
) -> None:
    """Appeals received in a year, per regime: received, upheld, overturned, open, decided late."""
    from dsar.services.appeals import appeal_report

    engine = _app(_settings())
    report = appeal_report(engine.ctx, year)
    if as_json:
        _print_json(report.as_json())
        return
    t = Table("regime", "received", "upheld", "overturned", "open", "decided late")
    rows = [*sorted(report.by_regime.items()), ("total", report.total)]
    for code, c in rows:
        t.add_row(code, str(c.received), str(c.upheld), str(c.overturned), str(c.open), str(c.decided_late))
    out.print(t)


@request_app.command("metrics")
def request_metrics(
    year: Annotated[int, typer.Option(help="Calendar year of receipt")],
    regime: Annotated[str | None, typer.Option(help="Only this regime (e.g. ccpa)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Requests received in a year, per type: complied with in whole or part, denied (by reason),
    open, and the median and mean days to the response (CCPA 11 CCR 7102); --json adds each regime."""
    from dsar.domain.decisions import DenialReason
    from dsar.services.metrics import UNKNOWN_REASON, request_metrics

    engine = _app(_settings())
    with _errors():
        from dsar.domain.regimes import get_regime

        code = get_regime(regime).code if regime is not None else None
        metrics = request_metrics(engine.ctx, year, code)
    if as_json:
        _print_json(metrics.as_json())
        return
    by_type = metrics.by_type()
    if not by_type:
        out.print(f"no requests received in {year}" + (f" under {code}" if code else ""))
        return
    # one column per request type, one row per figure: it fits a terminal
    reasons = [r.value for r in DenialReason] + [UNKNOWN_REASON]
    t = Table("", *by_type, title=f"Requests received in {year}" + (f" ({code})" if code else ""))
    figures = {kind: c.as_json() for kind, c in by_type.items()}
    rows: list[tuple[str, str]] = [
        ("received", "received"),
        ("complied with in whole", "complied_in_whole"),
        ("complied with in part", "complied_in_part"),
        ("denied", "denied"),
    ]
    for label, key in rows:
        t.add_row(label, *[str(f[key]) for f in figures.values()])
    for reason in reasons:
        t.add_row(f"  denied: {reason.replace('_', ' ')}", *[str(c.denied_by_reason.get(reason, 0)) for c in by_type.values()])
    t.add_row("open", *[str(f["open"]) for f in figures.values()])
    t.add_row("median days to the response", *["-" if f["median_days"] is None else str(f["median_days"]) for f in figures.values()])
    t.add_row("mean days to the response", *["-" if f["mean_days"] is None else str(f["mean_days"]) for f in figures.values()])
    out.print(t)


def _staff_action(reference: str, reason: str, action: Callable[[ServiceContext, str, str], object], done: str) -> None:
    engine, r = _load(reference)
    with _errors():
        action(engine.ctx, r.id, reason)
    out.print(f"{r.reference}: {done}")


@request_app.command("confirm")
def request_confirm(
    reference: str,
    system: Annotated[str, typer.Option(help="The manual system of the plan")],
    person: Annotated[str, typer.Option(help="Your name, recorded in the audit trail")],
    outcome: Annotated[str, typer.Option(help="done, 'nothing found' or 'cannot do it'")] = "done",
    records: Annotated[int, typer.Option(help="How many records you exported, erased or corrected")] = 0,
    note: Annotated[str, typer.Option(help="Anything the auditor should know (kept encrypted)")] = "",
) -> None:
    """Confirm a manual step to the waiting flow run (the same as its Resume form in the UI)."""
    if outcome not in ("done", "nothing found", "cannot do it"):
        _fail("--outcome must be done, 'nothing found' or 'cannot do it'", 2)
    from dsar.domain.request import Status

    _resume(reference, Status.EXECUTING, {"outcome": outcome, "records": records, "person": person, "note": note}, system=system)


@request_app.command("hold")
def request_hold(reference: str, reason: Annotated[str, typer.Option(help="Why (recorded)")]) -> None:
    """Put a request on hold: no step runs until it is released."""
    from dsar.services.admin import hold_request

    _staff_action(reference, reason, hold_request, "on hold")


@request_app.command("release")
def request_release(reference: str, reason: Annotated[str, typer.Option(help="Why (recorded)")]) -> None:
    """Release a hold; the request's flow run carries on (a new one is started when none is live)."""
    from dsar.services.admin import release_request

    engine, r = _load(reference)
    with _errors():
        release_request(engine.ctx, r.id, reason)
    out.print(f"{r.reference}: released{CONTINUED.get(_continue(engine, r.id), '')}", highlight=False, markup=False, soft_wrap=True)


@request_app.command("withdraw")
def request_withdraw(reference: str, reason: Annotated[str, typer.Option(help="How the subject withdrew (recorded)")]) -> None:
    """The subject withdrew the request: it ends here and is no longer watched."""
    from dsar.services.admin import withdraw_request

    _staff_action(reference, reason, withdraw_request, "withdrawn")


def _date_option(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} must be a date like 2026-12-31", [f"{option.lstrip('-')}: not a date"]) from None


def _deadline_doc(reference: str, d: Any) -> dict[str, Any]:
    return {
        "reference": reference,
        "due": d.due.isoformat(),
        "statutory_due": d.statutory_due.isoformat() if d.statutory_due else None,
        "extension_notice_by": d.extension_notice_by.isoformat() if d.extension_notice_by else None,
        "extended_due": d.extended_due.isoformat() if d.extended_due else None,
        "extended": d.extended,
        "paused_days": d.paused_days,
        "clock_stopped": d.clock_stopped,
    }


@request_app.command("extend")
def request_extend(
    reference: str,
    reason: Annotated[str, typer.Option(help="Why more time is needed (goes into the letter to the subject)")],
    by: Annotated[str, typer.Option(help="Who decided (recorded in the audit trail)")] = "privacy team",
    as_json: JsonOpt = False,
) -> None:
    """Extend the deadline (once, before the notice date); queue the extension letter."""
    from dsar.services.deadlines import extend_request

    engine, r = _load(reference)
    with _errors():
        d = extend_request(engine.ctx, r.id, reason, by)
    if as_json:
        _print_json(_deadline_doc(r.reference, d))
        return
    out.print(f"{r.reference}: extended; now due [bold]{d.due.isoformat()}[/]; the extension letter is in the outbox")


@request_app.command("acknowledge")
def request_acknowledge(
    reference: str,
    how: Annotated[str, typer.Option(help="How receipt was confirmed to the subject: email, phone, mail, in-person or web")],
    by: Annotated[str, typer.Option(help="Who confirmed it (recorded in the audit trail)")],
    note: Annotated[str | None, typer.Option(help="Anything an auditor should know; kept encrypted")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a confirmation of receipt given outside dsar (the one-time code letter already
    counts as one); the watch stops warning about acknowledge_by."""
    from dsar.services.deadlines import acknowledge_receipt

    engine, r = _load(reference)
    with _errors():
        d = acknowledge_receipt(engine.ctx, r.id, how, by, note)
    assert d.acknowledged_at is not None
    if as_json:
        _print_json(
            {
                "reference": r.reference,
                "acknowledge_by": d.acknowledge_by.isoformat() if d.acknowledge_by else None,
                "acknowledged_at": d.acknowledged_at.isoformat(),
            }
        )
        return
    late = d.acknowledge_by is not None and d.acknowledged_at.astimezone(engine.ctx.policy.timezone).date() > d.acknowledge_by
    out.print(
        f"{r.reference}: receipt confirmed at {d.acknowledged_at.isoformat()}"
        + (f" [bold red](after {d.acknowledge_by})[/]" if late else "")
    )


@request_app.command("pause-clock")
def request_pause_clock(
    reference: str,
    reason: Annotated[str, typer.Option(help="What the subject was asked for (ID, clarification)")],
    on: Annotated[str | None, typer.Option(help="The date the subject was asked (default today)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop the clock while waiting for the subject (uk-gdpr; recorded only for gdpr)."""
    from dsar.services.deadlines import pause_clock

    engine, r = _load(reference)
    with _errors():
        d = pause_clock(engine.ctx, r.id, reason, _date_option(on, "--on"))
    if as_json:
        _print_json(_deadline_doc(r.reference, d))
        return
    out.print(f"{r.reference}: clock {'stopped' if d.clock_stopped else 'pause recorded (the statutory date stands)'}; due {d.due}")


@request_app.command("restart-clock")
def request_restart_clock(
    reference: str,
    on: Annotated[str | None, typer.Option(help="The date the subject answered (default today)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The subject answered: the clock runs again and the due date moves by the paused days."""
    from dsar.services.deadlines import restart_clock

    engine, r = _load(reference)
    with _errors():
        d = restart_clock(engine.ctx, r.id, _date_option(on, "--on"))
    if as_json:
        _print_json(_deadline_doc(r.reference, d))
        return
    out.print(f"{r.reference}: clock running; {d.paused_days} paused day(s); due [bold]{d.due.isoformat()}[/]")


# --- deadlines and alerts ---------------------------------------------------------------------


@app.command("deadline")
def deadline(
    regime: Annotated[str, typer.Option(help="gdpr, uk-gdpr, ccpa, us-XX (a US state), ca-qc, nz ... (`dsar regimes`)")],
    received: Annotated[str, typer.Option(help="Date of receipt, YYYY-MM-DD")],
    country: Annotated[str | None, typer.Option(help="ISO country (GDPR: the member state whose holidays count)")] = None,
    subdivision: Annotated[str | None, typer.Option(help="Region for holidays (UK nation ENG/SCT/WLS/NIR, German state BY ...)")] = None,
    type_: Annotated[str, typer.Option("--type", help="access, deletion, correction or appeal (the state's appeal period)")] = "access",
    explain: Annotated[bool, typer.Option("--explain", help="Show how each date was counted, citing the rule")] = False,
    target_days: Annotated[
        int | None, typer.Option(help="Target days where the law says 'without delay' (default DSAR_REASONABLE_PERIOD_DAYS)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the statutory dates of a request received on a date (nothing is stored)."""
    from dsar.domain.deadlines import explain_deadlines
    from dsar.domain.regimes import parse_request_type

    with _errors():
        when = _date_option(received, "--received")
        assert when is not None
        rtype = parse_request_type(type_.strip().lower())
        target = target_days if target_days is not None else _settings().reasonable_period_days
        trace = explain_deadlines(
            regime.strip().lower(), when, country=country, subdivision=subdivision, request_type=rtype, target_days=target
        )
    d = trace.deadline
    doc: dict[str, Any] = {
        k: v for k, v in d.as_json().items() if k in ("regime", "received", "due", "acknowledge_by", "extension_notice_by", "extended_due")
    }
    if rtype.value == "appeal":
        doc["type"] = "appeal"
    if explain:
        doc["trace"] = trace.as_json()
    if as_json:
        _print_json(doc)
        return
    t = Table(show_header=False, box=None)
    for k, v in doc.items():
        if k != "trace":
            t.add_row(k, "—" if v is None else str(v))
    out.print(t)
    if explain:
        out.print("\n[bold]How it was counted[/]")
        for line in trace.lines():
            out.print(line, markup=False, highlight=False)


@app.command("regimes")
def regimes_list(as_json: JsonOpt = False) -> None:
    """List every regime: its codes, effective date, response period, appeal and regulator."""
    from dsar.domain.regime_docs import regime_rows

    rows = regime_rows()
    if as_json:
        _print_json(rows)
        return
    t = Table("code", "aliases", "effective", "response", "extension", "appeal", "regulator")
    for r in rows:
        t.add_row(r["code"], r["aliases"], r["effective"], r["response"], r["extension"], r["appeal"], r["regulator"])
    out.print(t)


def _alert_doc(a: AlertView) -> dict[str, Any]:
    return {
        "reference": a.reference,
        "kind": a.kind,
        "due": a.due.isoformat(),
        "days_left": a.days_left,
        "notify": a.notify,
        "raised_at": a.raised_at.isoformat(),
        "delivered_at": _iso(a.delivered_at),
        "attempts": a.attempts,
        "state": a.state,
    }


@alerts_app.command("sweep")
def alerts_sweep(
    as_of: Annotated[str | None, typer.Option(help="Sweep as if today were this date (default: today in DSAR_TIMEZONE)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One deadline-watch sweep without Prefect: raise what is due, deliver what is pending."""
    from dsar.app import build_notifier
    from dsar.services.deadlines import deliver, sweep
    from dsar.services.orchestration import sweep_verification

    settings = _settings()
    engine = _app(settings)
    with _errors():
        notifier = build_notifier(engine)
        result = sweep(engine.ctx, settings.alert_thresholds_days, _date_option(as_of, "--as-of"))
        from dsar.app import sweep_bounces

        bounced = sweep_bounces(engine)  # None: no bounce queue configured; before delivering: its alerts go now
        report = deliver(engine.ctx, notifier, max_attempts=settings.alert_max_attempts, digest_over=settings.alert_digest_over)
        verifying = sweep_verification(engine.ctx, _orchestrator(settings))  # wakes the runs of requests it closes
    doc = {
        "as_of": result.as_of.isoformat(),
        "considered": result.considered,
        # just raised: not yet delivered, nor tried
        "raised": [
            {
                "reference": a.reference,
                "kind": a.kind,
                "due": a.due.isoformat(),
                "days_left": a.days_left,
                "notify": a.notify,
                "raised_at": None,
                "delivered_at": None,
                "attempts": 0,
            }
            for a in result.raised
        ],
        "delivered": report.delivered,
        "failed": report.failed,
        "verification": {
            "reminded": verifying.reminded,
            "closed_unverifiable": verifying.closed,
            "reminders_failed": verifying.failed,
            "data_deleted": verifying.data_deleted,
        },
        "bounces": None
        if bounced is None
        else {"recorded": bounced.recorded, "held": bounced.held, "not_ours": bounced.not_ours, "malformed": bounced.malformed},
    }
    if as_json:
        _print_json(doc)
    else:
        out.print(
            f"{result.as_of}: {result.considered} request(s) near or past due; {len(result.notified)} new alert(s); "
            f"{report.delivered} delivered, {report.failed} failed"
        )
        out.print(
            f"verification: {len(verifying.reminded)} reminder(s) sent, {len(verifying.closed)} request(s) closed as unverifiable "
            f"(link expired unused){', ' + str(verifying.failed) + ' reminder(s) to retry' if verifying.failed else ''}"
        )
        if verifying.data_deleted:
            out.print(f"verification data deleted for {len(verifying.data_deleted)} request(s) that ended before")
        if bounced is not None:
            out.print(
                f"bounces: {len(bounced.recorded)} letter(s) recorded undelivered, {len(bounced.held)} request(s) held"
                f"{', ' + str(bounced.malformed) + ' unreadable notice(s) set aside' if bounced.malformed else ''}"
            )
    if report.failed:
        raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(
    reference: Annotated[str | None, typer.Option("--request", help="Only this request")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 200,
    show_all: Annotated[bool, typer.Option("--all", help="Also the alerts a more urgent one superseded (never sent)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The alerts raised so far, newest first; `state` is pending, failing, delivered, or (with
    --all) superseded by a more urgent alert for the same request (never sent). `days left`
    is as of when the alert was raised."""
    from dsar.services import queries

    engine = _app()
    with _errors():
        docs = [_alert_doc(a) for a in queries.alerts(engine.ctx, reference or None, limit) if show_all or a.state != "superseded"]
    if as_json:
        _print_json(docs)
        return
    t = Table("reference", "kind", "due", "days left", "raised", "state", "delivered")
    for d in docs:
        t.add_row(d["reference"], d["kind"], d["due"], str(d["days_left"]), d["raised_at"][:16], d["state"], (d["delivered_at"] or "")[:16])
    out.print(t)


# --- audit -----------------------------------------------------------------------------------


def _datetime_option(value: str | None, option: str, settings: Settings) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} must be a date or date-time like 2026-12-31", [f"{option.lstrip('-')}: not a date"]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=settings.zone)


@audit_app.command("export")
def audit_export(
    out_path: Annotated[Path, typer.Option("--out", help="Bundle file to write (.zip)")],
    reference: Annotated[str | None, typer.Option("--request", help="One request's events")] = None,
    since: Annotated[str | None, typer.Option(help="Events at or after this date/time (DSAR_TIMEZONE unless an offset is given)")] = None,
    until: Annotated[str | None, typer.Option(help="Events before this date/time")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained, signed evidence bundle that `dsar audit verify` checks offline."""
    from dsar.app import build_checkpoint_archive, build_signer, build_witness
    from dsar.domain.request import parse_reference
    from dsar.services.audit import export_evidence

    settings = _settings()
    engine = _app(settings)
    with _errors():
        ref = parse_reference(reference) if reference else None
        result = export_evidence(
            engine.ctx,
            build_signer(engine),
            out_path,
            reference=ref,
            since=_datetime_option(since, "--since", settings),
            until=_datetime_option(until, "--until", settings),
            archive=build_checkpoint_archive(engine),
            witness=build_witness(engine),
        )
    doc = {
        "path": str(result.path),
        "events": result.events,
        "requests": result.requests,
        "tree_size": result.tree_size,
        "key_id": result.key_id,
    }
    if as_json:
        _print_json(doc)
        return
    out.print(
        f"Wrote {result.path}: {result.events} event(s) of {len(result.requests)} request(s),"
        f" signed tree of {result.tree_size}; key {result.key_id}"
    )


@audit_app.command("verify")
def audit_verify(
    bundle: Path,
    public_key: Annotated[Path | None, typer.Option(help="The organisation's published public key (PEM) to pin")] = None,
    known_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A checkpoint you kept (an earlier bundle's checkpoint.json, or an archived one); repeatable"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle offline: exit 0 intact and checked against your trusted key or kept
    checkpoints, 1 tampered (naming the first bad event), 3 intact but anchored to nothing you
    trust (no --public-key and no --known-checkpoint)."""
    from dsar.audit.bundle import verify_bundle

    trusted = None
    kept: list[bytes] = []
    for path in ([public_key] if public_key is not None else []) + list(known_checkpoint or []):
        try:
            data = path.read_bytes()
        except OSError:
            _fail(f"cannot read {path}", 2)
        if path == public_key:
            trusted = data
        else:
            kept.append(data)
    verdict = verify_bundle(bundle, trusted, kept)
    # Intact but checked against nothing the auditor trusts: a forger with a key of their own
    # passes that too, so it is not a pass (security probe, item 9).
    anchored = trusted is not None or bool(kept)
    if as_json:
        _print_json(
            {
                "ok": verdict.ok,
                "anchored": anchored,
                "message": verdict.message,
                "events": verdict.events,
                "bad_seq": verdict.bad_seq,
                "key_id": verdict.key_id,
            }
        )
    elif not verdict.ok:
        err.print(f"[bold red]TAMPERED[/] {verdict.message}", highlight=False)
    elif anchored:
        out.print(f"[green]OK[/] {verdict.message}")
    else:
        out.print(
            f"[yellow]NOT ANCHORED[/] {verdict.message}\nbut no trusted key or kept checkpoint was given, so this only shows the "
            f"bundle agrees with itself: anyone can sign a consistent bundle with a key of their own. Verify again with "
            f"--public-key (the organisation's published key; `dsar audit public-key` prints it) or --known-checkpoint.",
            highlight=False,
        )
    raise typer.Exit(1 if not verdict.ok else 0 if anchored else 3)


@audit_app.command("public-key")
def audit_public_key(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the PEM here instead of printing it")] = None,
) -> None:
    """The public key that signs checkpoints and bundles (PEM): publish it, and give it to
    auditors for `dsar audit verify --public-key`."""
    from dsar.app import build_signer

    engine = _app()
    with _errors():
        signer = build_signer(engine)
    if out_path is not None:
        out_path.write_bytes(signer.public_pem)
        err.print(f"key {signer.key_id} written to {out_path}")
    else:
        sys.stdout.write(signer.public_pem.decode())


@audit_app.command("checkpoint")
def audit_checkpoint(as_json: JsonOpt = False) -> None:
    """Sign the current head of the audit log (after checking the whole chain)."""
    from dsar.app import build_checkpoint_archive, build_signer, build_witness
    from dsar.services.audit import sign_checkpoint

    engine = _app()
    with _errors():
        cp = sign_checkpoint(engine.ctx, build_signer(engine), build_checkpoint_archive(engine), build_witness(engine))
    doc = {
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "chain_head": cp.chain_head,
        "signed_at": cp.signed_at.isoformat(),
        "key_id": cp.key_id,
    }
    if as_json:
        _print_json(doc)
        return
    out.print(f"Signed tree of {cp.tree_size} event(s): root {cp.root_hash}; key {cp.key_id}")


@audit_app.command("shred")
def audit_shred(as_json: JsonOpt = False) -> None:
    """Destroy the data keys of requests finished longer ago than DSAR_AUDIT_RETENTION_MONTHS."""
    from dsar.services.audit import shred_expired

    settings = _settings()
    engine = _app(settings)
    with _errors():
        refs = shred_expired(engine.ctx, settings.audit_retention_months)
    if as_json:
        _print_json({"shredded": refs})
        return
    out.print(f"Shredded {len(refs)} request(s)" + (": " + ", ".join(refs) if refs else ""))


keys_app = typer.Typer(no_args_is_help=True, help="The keys that wrap every request's data key.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    retire: Annotated[bool, typer.Option(help="Afterwards drop master keys no data key uses any more")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-wrap every data key under the current key. With the local key file, first add a new
    master key to the ring; with KMS, move keys wrapped by an earlier local ring to KMS."""
    from dsar.crypto import LocalKeyProvider
    from dsar.services.keys import key_ids_in_use, rewrap_all

    settings = _settings()
    with _errors():
        if not settings.kms_key_id:
            LocalKeyProvider.rotate_file(settings.effective_key_file)
        engine = _app(settings)
        count = rewrap_all(engine.ctx)
        retired: list[str] = []
        if retire and not settings.kms_key_id:
            ring = LocalKeyProvider.from_file(settings.effective_key_file, create=False)
            retired = ring.retire_file(settings.effective_key_file, key_ids_in_use(engine.ctx))
        current = next(iter(key_ids_in_use(engine.ctx)), None)
    doc = {"rewrapped": count, "current_key": current, "retired": retired}
    if as_json:
        _print_json(doc)
        return
    out.print(f"Re-wrapped {count} data key(s) under {current}" + (f"; retired {', '.join(retired)}" if retired else ""))


@request_app.command("plan")
def request_plan(reference: str, as_json: JsonOpt = False) -> None:
    """Dry run: the plan the request would get now (systems, records, actions); nothing changes."""
    from dsar.services.processing import describe_step, dry_run_plan, is_manual

    engine, r = _load(reference)
    with _errors():
        steps = dry_run_plan(engine.ctx, r.id)
    docs: list[dict[str, Any]] = [
        {"system": st.system, "operation": st.operation, "records": None if is_manual(st) else st.matches, "detail": describe_step(st)}
        for st in steps
    ]
    if as_json:
        _print_json(docs)
        return
    t = Table("system", "operation", "records", "what happens")
    for d in docs:
        t.add_row(d["system"], d["operation"], "by hand" if d["records"] is None else str(d["records"]), d["detail"])
    out.print(t)


connectors_app = typer.Typer(no_args_is_help=True, help="The organisation's data map and its systems.")
app.add_typer(connectors_app, name="connectors")


@connectors_app.command("check")
def connectors_check(as_json: JsonOpt = False) -> None:
    """Validate every data-map file (errors name file and line) and test every connection."""
    from dsar.connectors.datamap import load_data_map
    from dsar.connectors.registry import connector_for
    from dsar.domain.errors import ConnectorError

    settings = _settings()
    with _errors():
        maps = load_data_map(settings.data_map_dir)
    results: list[dict[str, Any]] = []
    for m in maps:
        try:
            connector = connector_for(m, settings.connection_secrets())
            try:
                h = connector.check()
            finally:
                connector.close()
            results.append({"system": m.system, "type": m.type, "ok": h.ok, "detail": h.detail, "warnings": list(h.warnings)})
        except (ConnectorError, DsarError) as exc:
            results.append({"system": m.system, "type": m.type, "ok": False, "detail": str(exc), "warnings": []})
    if as_json:
        _print_json(results)
    else:
        t = Table("system", "type", "ok", "detail")
        for x in results:
            t.add_row(
                x["system"],
                x["type"],
                "yes" if x["ok"] else "[red]NO[/]",
                x["detail"] + "".join(f"\n[yellow]warning:[/] {w}" for w in x["warnings"]),
            )
        out.print(t)
    if not all(x["ok"] for x in results):
        raise typer.Exit(1)


# --- config, serve, demo ----------------------------------------------------------------------


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print the effective configuration (secrets masked)."""
    settings = _settings()
    doc = settings.describe()
    if as_json:
        _print_json(doc)
        return
    t = Table("setting", "value")
    for k, v in doc.items():
        t.add_row(k, str(v))
    out.print(t)
    if settings.alerts_reach_nobody:
        err.print(f"[bold yellow]warning:[/] {settings.alert_destination}", highlight=False)


@app.command("serve")
def serve() -> None:
    """Serve the deployments (process-request, deadline-watch, export-evidence,
    audit-maintenance) against the configured Prefect API (with none configured, start the
    local server on 127.0.0.1 first), and the web app (public form, staff console, JSON API) on
    DSAR_WEB_HOST:DSAR_WEB_PORT (127.0.0.1:8000)."""
    from dsar.demo.service import serve_demo_helpdesk
    from dsar.orchestration.prefect import configure_environment
    from dsar.orchestration.prefect import serve as serve_deployments
    from dsar.orchestration.server import ensure_server
    from dsar.web.app import build_web
    from dsar.web.server import start_web

    settings = _settings()
    with _errors():
        configure_environment(settings)
        server = ensure_server(settings)
    try:
        app = _app(settings, migrate=True)  # migrate and check configuration before taking work
        from dsar.letters.render import warm_pdf

        with _errors():
            warm_pdf()  # the PDF renderer loaded before any work: no helper processes while serving
        with _errors():  # a folder with demo data: its helpdesk too, so serve finishes what the demo left
            helpdesk, said = serve_demo_helpdesk(settings)
        if said:
            err.print(said, soft_wrap=True)
        if settings.alerts_reach_nobody:
            err.print(f"[bold yellow]warning:[/] {settings.alert_destination}", highlight=False)
        with _errors():
            web = start_web(build_web(app, _orchestrator(settings)))
        deployments = "process-request, deadline-watch, export-evidence and audit-maintenance"
        # soft_wrap: addresses stay on one line, whatever the terminal's width
        err.print(f"Serving {deployments} against {mask_url(server.api_url)}; UI at {mask_url(server.ui_url)}", soft_wrap=True)
        url = settings.web_public_url.rstrip("/") if settings.web_public_url else web.url
        err.print(f"Web app at {url} (public form), console at {url}/console", soft_wrap=True)
        try:
            with _errors():
                serve_deployments(settings)
        finally:
            web.stop()
            if helpdesk is not None:
                helpdesk.stop()
    finally:
        server.stop()


@app.command("demo")
def demo(
    non_interactive: Annotated[bool, typer.Option("--non-interactive", help="Process every sample request to the end and exit")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for the sample requests to close (non-interactive)")] = 600,
) -> None:
    """Seed the demo shop, start Prefect locally if needed, and run the sample requests."""
    from dsar.demo.console import progress_console
    from dsar.demo.run import run_demo

    settings = _settings()
    _started()  # the demo runs for minutes
    with _errors():  # progress lines wrap at words on a terminal, never elsewhere
        code = run_demo(settings, interactive=not non_interactive, timeout=timeout, console=progress_console())
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the one this dsar needs (safe to repeat).

    Every other command checks the schema and refuses, saying so, when it is behind; `serve`
    and `demo` upgrade by themselves."""
    from dsar.app import upgrade_database
    from dsar.filemodes import secure_home

    settings = _settings()
    with _errors():
        secure_home(settings.home_dir)
        before, after = upgrade_database(settings)
    moved = f"{before or 'empty'} -> {after.current}" if before != after.current else f"{after.current} (up to date)"
    out.print(f"database schema: {moved}")


@db_app.command("status")
def db_status(as_json: JsonOpt = False) -> None:
    """Where the database schema is, and the one this dsar needs; exit 1 when behind."""
    from dsar.app import database_status

    settings = _settings()
    with _errors():
        st = database_status(settings)
    if as_json:
        _print_json({"current": st.current, "head": st.head, "up_to_date": st.up_to_date})
    else:
        advice = "" if st.up_to_date else " (run `dsar db upgrade`)"
        out.print(f"database schema: {st.current or 'empty'}; this dsar needs {st.head}{advice}")
    if not st.up_to_date:
        raise typer.Exit(1)


# --- staff accounts and API tokens ------------------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Staff accounts of the web console: add, roles, training, passwords.")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens of helpdesk integrations (POST/GET /api/requests).")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


def _by() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli:unknown"


def _set_password_link(settings: Settings, token: str, hours: int) -> None:
    """The one-time link: the token in the URL fragment, which browsers never send to a server
    (so no access log holds it)."""
    sys.stdout.write(f"Set-password link (valid {hours} hours, works once):\n{settings.effective_web_url}/console/set-password#{token}\n")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name: 1-64 letters, digits, '.', '-' or '_'")],
    role: Annotated[str, typer.Option(help="support, legal, auditor or admin")],
) -> None:
    """Add a staff account and print its one-time set-password link."""
    from dsar.services import accounts

    settings = _settings()
    engine = _app(settings)
    with _errors():
        new = accounts.add_user(engine.ctx, name, role, by=_by())
    out.print(f"Added {new.account.name} ({new.account.role.value}).", highlight=False, markup=False)
    _set_password_link(settings, new.set_password_token, engine.ctx.policy.set_password_hours)


def _user_doc(a: Any, today: date) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "role": a.role.value,
        "active": a.active,
        "password_set": a.password_set,
        "locked_until": _iso(a.locked_until),
        "last_login_at": _iso(a.last_login_at),
        "trained_on": _iso(a.trained_on),
        "training_overdue": a.training_overdue(today),
    }


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every staff account: role, active, last login, training (flagged when over 12 months old)."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        found = accounts.list_accounts(engine.ctx)
    today = engine.ctx.clock().astimezone(engine.ctx.policy.timezone).date()
    docs = [_user_doc(a, today) for a in found]
    if as_json:
        _print_json(docs)
        return
    t = Table("name", "role", "active", "last login", "training")
    for d in docs:
        training = d["trained_on"] or "never"
        if d["training_overdue"]:
            training += " (over 12 months: due)" if d["trained_on"] else " (due)"
        t.add_row(d["name"], d["role"], "yes" if d["active"] else "no", (d["last_login_at"] or "never")[:16], training)
    out.print(t)
    overdue = [d["name"] for d in docs if d["active"] and d["training_overdue"]]
    if overdue:
        err.print(f"warning: privacy training over 12 months old or never recorded: {', '.join(overdue)}", highlight=False, markup=False)


@users_app.command("set-role")
def users_set_role(name: str, role: Annotated[str, typer.Argument(help="support, legal, auditor or admin")]) -> None:
    """Change an account's role (its console sessions end)."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        a = accounts.set_role(engine.ctx, name, role, by=_by())
    out.print(f"{a.name}: role {a.role.value}", highlight=False, markup=False)


@users_app.command("deactivate")
def users_deactivate(name: str) -> None:
    """The account can no longer sign in; its sessions end."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        a = accounts.deactivate(engine.ctx, name, by=_by())
    out.print(f"{a.name}: deactivated", highlight=False, markup=False)


@users_app.command("reset-password")
def users_reset_password(name: str) -> None:
    """Print a new one-time set-password link (earlier links stop working)."""
    from dsar.services import accounts

    settings = _settings()
    engine = _app(settings)
    with _errors():
        token = accounts.password_reset_token(engine.ctx, name, by=_by())
    _set_password_link(settings, token, engine.ctx.policy.set_password_hours)


@users_app.command("trained")
def users_trained(name: str, on: Annotated[str, typer.Option("--on", help="Date of the privacy-law training (YYYY-MM-DD)")]) -> None:
    """Record the date of an account's latest privacy-law training."""
    from dsar.services import accounts

    with _errors():
        when = _date_option(on, "--on")
    assert when is not None
    engine = _app()
    with _errors():
        a = accounts.record_training(engine.ctx, name, when, by=_by())
    out.print(f"{a.name}: trained on {when.isoformat()}", highlight=False, markup=False)


@users_app.command("totp")
def users_totp(
    name: str,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Also draw the URI as a QR code in the terminal")] = True,
) -> None:
    """Enrol an authenticator app for a legal account (legal's sign-off asks for its code).

    Prints the otpauth:// URI once (and a QR code to scan); a new enrolment replaces the old one."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        enrolled = accounts.enrol_totp(engine.ctx, name, by=_by())
    sys.stdout.write(
        f"Authenticator enrolled for {enrolled.account.name}. Scan the QR code or add this URI to an authenticator app "
        f"(shown once; it holds the secret):\n{enrolled.uri}\nSecret (to type by hand): {enrolled.secret}\n"
    )
    if qr:
        import segno

        segno.make(enrolled.uri, error="m").terminal(compact=True)


@users_app.command("totp-code", hidden=True)
def users_totp_code(name: str) -> None:
    """Demo only: the current authenticator code of an account `dsar demo` enrolled, read from
    the secret the demo saved for you in HOME/demo/authenticators (a stand-in for the phone
    app). Any other account has no such file: use its authenticator app."""
    from dsar.demo.run import demo_authenticator_code

    settings = _settings()
    code = demo_authenticator_code(settings, name)
    if code is None:
        err.print(f"no demo authenticator for {name}: only accounts `dsar demo` enrolled have one; use your authenticator app")
        raise typer.Exit(1)
    sys.stdout.write(code + "\n")


def _token_doc(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "scopes": sorted(s.value for s in t.scopes),
        "created_at": _iso(t.created_at),
        "created_by": t.created_by,
        "revoked_at": _iso(t.revoked_at),
        "last_used_at": _iso(t.last_used_at),
    }


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What the token is for (e.g. helpdesk)")],
    scope: Annotated[list[str], typer.Option("--scope", help="requests:write or requests:read (repeatable)")],
) -> None:
    """Create an API token; its secret is printed once and never stored."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        new = accounts.create_token(engine.ctx, name, scope, by=_by())
    scopes = " ".join(sorted(s.value for s in new.token.scopes))
    sys.stdout.write(f"API token {new.token.id} ({new.token.name}; {scopes}). The secret, shown only now:\n{new.secret}\n")


@tokens_app.command("list")
def tokens_list(as_json: JsonOpt = False) -> None:
    """Every API token (never its secret)."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        docs = [_token_doc(t) for t in accounts.list_tokens(engine.ctx)]
    if as_json:
        _print_json(docs)
        return
    t = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    for d in docs:
        t.add_row(
            str(d["id"]),
            d["name"],
            d["prefix"],
            " ".join(d["scopes"]),
            d["created_at"][:16],
            (d["last_used_at"] or "never")[:16],
            (d["revoked_at"] or "")[:16],
        )
    out.print(t)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke an API token: it stops working at once."""
    from dsar.services import accounts

    engine = _app()
    with _errors():
        t = accounts.revoke_token(engine.ctx, token_id, by=_by())
    out.print(f"API token {t.id} ({t.name}): revoked", highlight=False, markup=False)


packages_app = typer.Typer(no_args_is_help=True, help="Access packages: the sealed copies of subjects' data behind download links.")
app.add_typer(packages_app, name="packages")


@packages_app.command("purge")
def packages_purge(as_json: JsonOpt = False) -> None:
    """Delete every access package whose link expired or was used (each an audit event); the
    deadline watch does this on every sweep."""
    from dsar.services.package import purge_packages

    engine = _app()
    with _errors():
        n = purge_packages(engine.ctx, by=_by())
    if as_json:
        _print_json({"deleted": n})
    else:
        out.print(f"{n} access package(s) deleted", highlight=False, markup=False)


# --- letter templates (approved scripts) -----------------------------------------------------

templates_app = typer.Typer(no_args_is_help=True, help="Letter templates as approved scripts: list, diff, approve.")
app.add_typer(templates_app, name="templates")


@templates_app.command("list")
def templates_list(as_json: JsonOpt = False) -> None:
    """Every template file (letters per kind, regime and language; partials, layout,
    vocabulary): its version (SHA-256) and whether legal approved it as it is now."""
    from dsar.services.templates import list_templates

    engine = _app()
    with _errors():
        rows = list_templates(engine.ctx)
    docs: list[dict[str, Any]] = [
        {
            "path": t.path,
            "kind": t.kind,
            "regime": t.regime,
            "language": t.language,
            "version": t.version,
            "state": t.state,
            "approved_version": t.approval.version if t.approval else None,
            "approved_by": t.approval.approver if t.approval else None,
            "approved_at": _iso(t.approval.approved_at) if t.approval else None,
        }
        for t in rows
    ]
    if as_json:
        _print_json(docs)
        return
    table = Table("template", "version", "state", "approved by", "approved at")
    for d in docs:
        state = {"approved": "approved", "changed": "[red]changed since approved[/]", "unapproved": "[red]not approved[/]"}[d["state"]]
        table.add_row(d["path"], d["version"][:12], state, d["approved_by"] or "", (d["approved_at"] or "")[:16])
    out.print(table)
    waiting = sum(1 for d in docs if d["state"] != "approved")
    if waiting:
        err.print(f"{waiting} template file(s) not approved as they are now: letters made of them are not sent", highlight=False)


@templates_app.command("diff")
def templates_diff(path: Annotated[str, typer.Argument(help="A template file, as `dsar templates list` names it")]) -> None:
    """What changed in a template since legal last approved it (exit 1 when it changed)."""
    from dsar.services.templates import diff_template, require_paths

    engine = _app()
    with _errors():
        require_paths([path])
        text = diff_template(engine.ctx, path)
    if not text:
        out.print(f"{path}: approved as it is", highlight=False)
        return
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    raise typer.Exit(1)


@templates_app.command("approve")
def templates_approve(
    paths: Annotated[list[str] | None, typer.Argument(help="Template files to approve (default: every file)")] = None,
    approver: Annotated[str, typer.Option(help="The legal account approving")] = "",
    code: Annotated[str, typer.Option(help="The approver's current authenticator code")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Legal approves the templates as they are now, proven by their authenticator code (as a
    sign-off); requests waiting for an approval are released."""
    from dsar.services.templates import approve_templates, refusal_text, require_paths

    engine = _app()
    with _errors():
        require_paths(paths or [])
        result = approve_templates(engine.ctx, paths or [], approver, code)
    if result.refused is not None:
        _fail(f"not approved: {refusal_text(result.refused)}", 1)
    doc = {"approved": result.approved, "already_approved": result.already, "released": result.released}
    if as_json:
        _print_json(doc)
        return
    out.print(
        f"approved {len(result.approved)} template file(s) as {approver}; {len(result.already)} already approved"
        + (f"; released {', '.join(result.released)}" if result.released else ""),
        highlight=False,
        soft_wrap=True,
    )


# Legal's escalations (`request escalate`, `request resolve-escalation`, `legal queue|report`).
from dsar import cli_legal  # noqa: E402 - kept in its own module

cli_legal.register(app, request_app, sys.modules[__name__])


def main() -> None:
    import os

    from dsar.filemodes import restrict_new_files

    # pydantic looks for plugins among every installed distribution's entry points the first
    # time it builds a model (importlib.metadata: 1% of `request show`, issue 13, item 8); dsar
    # has none. Set PYDANTIC_DISABLE_PLUGINS to an empty value to have them loaded.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

    # Databases, keys, exports, mail and evidence are private to the service account, whatever
    # the umask of the shell (security probe, item 13).
    restrict_new_files()
    _starting()
    try:
        narrowed = _narrowed(sys.argv[1:])
        if narrowed is None:
            app()
        else:
            command, prog_name, args = narrowed
            command(args=args, prog_name=prog_name)
    finally:
        _done()


def _narrowed(argv: list[str]) -> tuple[typer.Typer, str, list[str]] | None:
    """The one command ``argv`` names (``request show REF``) as a Typer of its own, its program
    name (``dsar request show``) and its arguments; None when ``argv`` names no single command
    (``--help``, a group, an unknown name, an option before the command), for the whole app.

    Typer turns every command of the app into a click command, inspecting each function's
    parameters, before it runs the one asked for: 60 commands, 0.04 s of every command's start
    (issue 13, item 8). The command runs exactly as through the app: the same function, options,
    help and usage line, errors and exit codes (tests/unit/test_cli_narrowed.py)."""
    current = app
    path = ["dsar"]
    for i, token in enumerate(argv):
        if token.startswith("-"):
            return None
        group = next((g for g in current.registered_groups if g.name == token), None)
        if group is not None and group.typer_instance is not None:
            current = group.typer_instance
            path.append(token)
            continue
        found = [c for c in current.registered_commands if _command_name(c) == token]
        if len(found) != 1:
            return None
        single = typer.Typer(add_completion=False)
        single.registered_commands.append(found[0])
        return single, " ".join([*path, token]), argv[i + 1 :]
    return None


def _command_name(command: typer.models.CommandInfo) -> str:
    from typer.main import get_command_name

    if command.name:
        return command.name
    assert command.callback is not None
    return get_command_name(command.callback.__name__)


# gc's thresholds while the command starts (None once it has started, or when no process runs
# dsar's main(): CliRunner in the tests)
_thresholds: tuple[int, int, int] | None = None


def _starting() -> None:
    """A command's start (its imports, the engine's wiring) creates some 100,000 objects that live
    as long as the process, and the cycle collector, run every 700 new objects, would walk them
    again and again: 0.07 s of `request show`, 0.13 s of `request new` (issue 13, item 8). It
    waits until the start is done (:func:`_started`); a command that never gets there (no
    engine: `regimes`, `audit verify`) still collects, every 300,000 new objects."""
    global _thresholds
    _thresholds = gc.get_threshold()
    gc.set_threshold(300_000, *_thresholds[1:])


def _started() -> None:
    """The command's start is done: what it created is moved out of the collector's way for good
    (``gc.freeze``: imported modules, classes, the engine), and the collector runs as usual."""
    global _thresholds
    if _thresholds is not None:
        gc.freeze()
        gc.set_threshold(*_thresholds)
        _thresholds = None


def _done() -> None:
    """The command is done and the process ends: its database connections are closed now, and
    the objects it holds (the ~100,000 of the libraries it imported: SQLAlchemy, pydantic, the
    tables) are frozen, so the interpreter's teardown does not collect and free them one by one,
    which took a quarter of a second of `dsar request show` (issue 13, item 8). Nothing is lost:
    the process ends, and atexit handlers and the flushing of stdout and stderr still run."""
    if "dsar.app" in sys.modules:  # only a command that built an engine imported it
        from dsar.app import dispose_engines

        dispose_engines()
    gc.freeze()


if __name__ == "__main__":
    main()
