"""Legal's escalations on the command line: `dsar request escalate`, `dsar request
resolve-escalation`, `dsar legal queue` and `dsar legal report` (dsar.services.escalations).
Registered by dsar.cli; kept apart from it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

# dsar.cli itself, handed over by register() (its helpers: _load, _errors, _app, out, err...);
# not imported here, so the two modules do not import each other.
_cli: Any = None

legal_app = typer.Typer(no_args_is_help=True, help="Legal's queue of escalations and its figures.")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def request_escalate(
    reference: str,
    point: Annotated[
        str,
        typer.Option(help="verification_risk, verification_downgrade, manifestly_unfounded_or_excessive or legal_sensitive"),
    ],
    reason: Annotated[str, typer.Option(help="Why it goes to legal (kept sealed in the audit trail; no letter shows it)")],
) -> None:
    """Send a request to legal: held until legal decides, with legal's response target
    (DSAR_LEGAL_RESPONSE_BUSINESS_DAYS working days); in `dsar legal queue` and on /console/legal."""
    c = _cli
    from dsar.services import escalations

    engine, r = c._load(reference)
    with c._errors():
        x = escalations.escalate(engine.ctx, r.id, point, reason, by=c._by(), via="cli")
    held = "; the request is held until legal decides (the run's form in the Prefect UI, the console, or resolve-escalation)"
    done = c.CONTINUED.get(c._continue(engine, r.id), "") if x.held else ""
    c.out.print(
        f"{r.reference}: escalation {x.number} ({x.point.value}) with legal, target {x.target}{held if x.held else ''}{done}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def request_resolve_escalation(
    reference: str,
    number: Annotated[int, typer.Option(help="The escalation's number (dsar legal queue)")],
    decision: Annotated[str, typer.Option(help="proceed (release the hold) or keep_on_hold (with --note)")],
    approver: Annotated[str, typer.Option(help="Your name on the legal roster (your legal account)")],
    code: Annotated[str, typer.Option(help="The 6-digit code your authenticator app shows now")],
    note: Annotated[str, typer.Option(help="Your reasoning for the file (kept encrypted; never in a letter)")] = "",
) -> None:
    """Legal's decision on an escalation, proven by your authenticator code like a sign-off. A
    refused attempt (wrong or used code, off the roster, locked out) is recorded, exit 1."""
    c = _cli
    from dsar.services import escalations
    from dsar.services.orchestration import resolve_escalation_and_continue

    engine, r = c._load(reference)
    orchestrator = c._orchestrator(c._settings())
    with c._errors():
        up = orchestrator if orchestrator.available() else None
        result = resolve_escalation_and_continue(engine.ctx, up, r.id, number, decision, approver, code, note=note, via="cli")
    if result.refused is not None:
        c.err.print(
            f"{r.reference}: refused: {escalations.refusal_text(result.refused)}; the escalation stays open", highlight=False, markup=False
        )
        raise typer.Exit(1)
    c.out.print(f"{r.reference}: escalation {number}: {decision} recorded", highlight=False, markup=False)


def legal_queue(as_json: JsonOpt = False) -> None:
    """Open escalations, the nearest response target first; `target missed` when it passed."""
    from rich.table import Table

    c = _cli
    from dsar.services import escalations
    from dsar.services.deadlines import local_today

    engine = c._app()
    with c._errors():
        queue = escalations.legal_queue(engine.ctx)
    today = local_today(engine.ctx)
    rows = [
        {
            "reference": q.reference,
            "escalation": q.escalation.number,
            "point": q.escalation.point.value,
            "raised_at": q.escalation.raised_at.isoformat(),
            "target": q.escalation.target.isoformat(),
            "days_left": (q.escalation.target - today).days,
            "target_missed": q.missed,
            "status": q.status.value,
            "due": q.due.isoformat(),
        }
        for q in queue
    ]
    if as_json:
        c._print_json(rows)
        return
    t = Table("reference", "no.", "point", "target", "", "status", "due")
    for row in rows:
        t.add_row(
            str(row["reference"]), str(row["escalation"]), str(row["point"]), str(row["target"]),
            "target missed" if row["target_missed"] else f"{row['days_left']} day(s) left", str(row["status"]), str(row["due"]),
        )  # fmt: skip
    c.out.print(t if rows else "No escalation waits for legal.")


def legal_report(
    since: Annotated[str | None, typer.Option(help="Only escalations raised on or after this date (YYYY-MM-DD)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Escalations raised, resolved, open, targets missed, and the median time to resolution."""
    c = _cli
    from dsar.services import escalations

    engine = c._app()
    with c._errors():
        start = date.fromisoformat(since) if since else None
        rep = escalations.report(engine.ctx, start)
    doc = {
        "raised": rep.raised,
        "resolved": rep.resolved,
        "open": rep.open,
        "target_missed": rep.missed,
        "median_hours_to_resolution": rep.median_hours,
        "by_point": rep.by_point,
    }
    if as_json:
        c._print_json(doc)
        return
    for k, v in doc.items():
        c.out.print(f"{k}: {v}", highlight=False, markup=False)


def register(app: typer.Typer, request_app: typer.Typer, cli: Any) -> None:
    """Add these commands to dsar's CLI (``cli``: the dsar.cli module, for its helpers)."""
    global _cli
    _cli = cli
    request_app.command("escalate")(request_escalate)
    request_app.command("resolve-escalation")(request_resolve_escalation)
    legal_app.command("queue")(legal_queue)
    legal_app.command("report")(legal_report)
    app.add_typer(legal_app, name="legal")
