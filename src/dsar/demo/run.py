"""`dsar demo`: the demo company end to end on embedded defaults.

Non-interactive, the demo plays both outside parts itself: the subject (reads the one-time
code from the outbox, as from a mailbox) and legal (approves the release, and lets a request a
verification risk flag sent to legal go on: the sample correcting a phone number on file). Interactive, it
logs one request and leaves the run waiting for you in the Prefect UI.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dsar.app import App, build_app
from dsar.crypto.totp import code_at, secret_from_base32, step_of
from dsar.demo.files import seed_files
from dsar.demo.newcomer import add_newcomer, newcomer_request
from dsar.demo.service import ServedHelpdesk, ensure_helpdesk
from dsar.demo.shop import seed_shop
from dsar.demo.subject import prove
from dsar.domain.request import Status
from dsar.services import queries
from dsar.services.escalations import escalation_wait
from dsar.services.intake import log_request
from dsar.services.letter_sign_off import letter_state
from dsar.services.orchestration import Orchestrator, ensure_processing
from dsar.services.processing import pending_manual_steps
from dsar.settings import Settings, mask_url

_CODE = re.compile(r"^\s+(\d{8})\s*$", re.M)
_LINK = re.compile(r"(https?://\S+/verify/l/[0-9a-f]+)")
# The demo's legal account: enrolled with an authenticator whose secret the demo keeps in
# HOME/demo/authenticators/<name> (0600), standing in for the phone app; `dsar users totp-code
# lena.legal` prints its current code. Real legal accounts have no such file.
DEMO_APPROVER = "lena.legal"
_NOUN = {"export": "look-up", "erase": "erasure", "correct": "correction"}
DEMO_CLERK = "demo-warehouse (automatic confirmation by `dsar demo --non-interactive`)"


def seed_demo(settings: Settings) -> None:
    """The demo company's systems on embedded defaults: the shop database, the file store
    folder and the helpdesk's data (each kept as earlier runs left it)."""
    seed_shop(settings.demo_shop_path)
    seed_files(settings.demo_files_dir)


def serve_helpdesk(settings: Settings) -> ServedHelpdesk:
    """Serve the demo helpdesk API on 127.0.0.1 (the `http` system of the demo data map) while
    the demo runs, or use the one `dsar serve` of this folder serves already; its token lies in
    the demo folder, where `dsar serve` reads it (and serves it after the demo)."""
    return ensure_helpdesk(settings)


def _authenticator_file(settings: Settings, name: str) -> Path:
    return settings.home_dir / "demo" / "authenticators" / name


def ensure_demo_approver(engine: App, settings: Settings) -> bytes:
    """The demo's legal account and its authenticator secret: made once, kept in the demo folder."""
    from dsar.services import accounts

    file = _authenticator_file(settings, DEMO_APPROVER)
    account = accounts.find_account(engine.ctx, DEMO_APPROVER)
    if account is None:
        accounts.add_user(engine.ctx, DEMO_APPROVER, "legal", by="dsar demo")
        account = accounts.find_account(engine.ctx, DEMO_APPROVER)
    if account is not None and account.totp_enrolled and file.is_file():
        return secret_from_base32(file.read_text())
    enrolled = accounts.enrol_totp(engine.ctx, DEMO_APPROVER, by="dsar demo")
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    file.write_text(enrolled.secret + "\n")
    file.chmod(0o600)
    return secret_from_base32(enrolled.secret)


def approve_demo_templates(engine: App, secret: bytes) -> int | None:
    """Legal (the demo's account) approves the letter templates as they are, with the
    authenticator's code, when any is not approved yet: the demo's letters are sent only then.
    Returns the authenticator step spent (a code is good once), None when nothing was to do."""
    from dsar.services.templates import approve_templates, list_templates, refusal_text

    if all(t.state == "approved" for t in list_templates(engine.ctx)):
        return None
    now = datetime.now(UTC)
    result = approve_templates(engine.ctx, [], DEMO_APPROVER, code_at(secret, now))
    if result.refused is not None:
        # the step was spent by a sign-off a moment ago: the next one is fresh
        time.sleep(30 - now.timestamp() % 30 + 0.5)
        now = datetime.now(UTC)
        result = approve_templates(engine.ctx, [], DEMO_APPROVER, code_at(secret, now))
        if result.refused is not None:
            raise RuntimeError(f"the demo could not approve its letter templates: {refusal_text(result.refused)}")
    return step_of(now)


def demo_authenticator_code(settings: Settings, name: str) -> str | None:
    """The current code of an authenticator the demo enrolled (None for any other account)."""
    file = _authenticator_file(settings, name)
    if "/" in name or not file.is_file():
        return None
    return code_at(secret_from_base32(file.read_text()), datetime.now(UTC))


def sample_requests() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(resources.files("dsar.demo").joinpath("samples.json").read_text())
    return data


def _send_order(path: Path) -> tuple[int, ...]:
    # DSR-….verify-<case>-<send>_dsar.eml (older builds: verify-<challenge>_dsar.eml)
    return tuple(int(x) for x in path.stem.split("verify-")[1].split("_")[0].split("-"))


def _latest_letter(outbox: Path, reference: str) -> str | None:
    mails = sorted(outbox.glob(f"{reference}.verify-*.eml"), key=_send_order)
    if not mails:
        return None
    msg = message_from_bytes(mails[-1].read_bytes(), policy=policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def latest_code(outbox: Path, reference: str) -> str | None:
    """Read the newest verification code mailed for a reference (what the subject would do)."""
    text = _latest_letter(outbox, reference)
    m = _CODE.search(text) if text else None
    return m.group(1) if m else None


def latest_link(outbox: Path, reference: str) -> str | None:
    """The newest single-use verification link mailed for a reference."""
    text = _latest_letter(outbox, reference)
    m = _LINK.search(text) if text else None
    return m.group(1) if m else None


@dataclass
class Tracked:
    request_id: str
    reference: str
    flow_run_id: str | None = None
    email: str = ""  # the subject's: what the demo's subject reads their mail at
    name: str = ""


def not_on_file(engine: App, t: Tracked) -> bool:
    """The subject was not found in the system of record: no link went anywhere."""
    from dsar.services.verification_summary import summary

    case = summary(engine.ctx, t.request_id)
    return case is not None and not case.known and case.state == "open"


def _status(engine: App, t: Tracked) -> tuple[Status, bool]:
    r = queries.lookup_id(engine.ctx, t.request_id)
    return r.status, r.on_hold


def run_demo(settings: Settings, *, interactive: bool, timeout: int, console: Console) -> int:
    from dsar.orchestration.prefect import PrefectOrchestrator
    from dsar.orchestration.server import ensure_server, start_serving, stop_serving
    from dsar.web.server import check_web_port

    orchestrator = PrefectOrchestrator.configured(settings)
    seed_demo(settings)
    # The `dsar serve` child serves the web app: say now that its port is taken, not after the
    # child's deployment failed to appear.
    check_web_port(settings)
    helpdesk = serve_helpdesk(settings)
    engine = build_app(settings, migrate_schema=True)  # the demo sets up its own database
    console.print(f"Demo shop database: {settings.demo_shop_path}")
    console.print(f"Demo file store: {settings.demo_files_dir}")
    console.print(f"Demo helpdesk API: {helpdesk.url}")
    console.print("Starting Prefect (a local server on 127.0.0.1 unless PREFECT_API_URL is set)...")
    server = ensure_server(settings)
    console.print(f"Prefect UI at {mask_url(server.ui_url)}")
    serving = start_serving(settings)  # `dsar serve`: the deployments and the web app
    try:
        orchestrator.wait_for_deployment(timeout=settings.prefect_startup_timeout_s)
        secret = ensure_demo_approver(engine, settings)
        spent = approve_demo_templates(engine, secret)
        if spent is not None:
            console.print(f"Letter templates approved by {DEMO_APPROVER} (legal) with the authenticator's code")
        url = settings.effective_web_url
        console.print(f"Web app at {url} (public form), console at {url}/console", soft_wrap=True)
        # Interactive: a customer of its own, never a repeat of an earlier demo's request (which
        # would be linked to it once verified and leave nothing waiting).
        samples = [newcomer_request(add_newcomer(settings.demo_shop_path, settings.demo_files_dir))] if interactive else sample_requests()
        tracked: list[Tracked] = []
        for raw in samples:
            result = log_request(engine.ctx, raw)
            r = result.request
            console.print(f"  {r.reference}: {r.type.value} under {r.regime}, due {result.deadline.due} (logged)")
            # a finished request keeps its last run; an open one gets a run unless one is live
            subject = raw.get("subject") or {}
            email, name = (subject.get("emails") or [""])[0], str(subject.get("name") or "")
            tracked.append(Tracked(r.id, r.reference, ensure_processing(engine.ctx, orchestrator, r.id), email, name))
        if interactive:
            return _interactive(engine, settings, tracked[0], orchestrator, console)
        return _drive(engine, settings, tracked, timeout, console, orchestrator, secret, -1 if spent is None else spent)
    finally:
        stop_serving(serving)
        server.stop()
        helpdesk.stop()


def _drive(
    engine: App,
    settings: Settings,
    tracked: list[Tracked],
    timeout: int,
    console: Console,
    orchestrator: Orchestrator,
    secret: bytes,
    last_step: int = -1,
) -> int:
    deadline = time.monotonic() + timeout
    given: set[tuple[str, str, str]] = set()
    # an authenticator code is good once: one sign-off per 30-second step (``last_step``: the
    # step the templates' approval spent)
    while time.monotonic() < deadline:
        pending = 0
        for t in tracked:
            status, on_hold = _status(engine, t)
            if status.is_final and status is not Status.DENIED:
                continue
            x = escalation_wait(engine.ctx, t.request_id).escalation if on_hold and t.flow_run_id else None
            if x is not None and t.flow_run_id is not None:
                # held by an escalation (a verification risk flag: the sample correcting the phone
                # on file): legal decides it in the run's form, with the authenticator's code
                pending += 1
                now = datetime.now(UTC)
                tick = step_of(now)
                key = (t.reference, f"escalation-{x.number}", str(tick))
                if not orchestrator.run_state(t.flow_run_id).waiting_for_input or tick <= last_step or key in given:
                    continue
                console.print(
                    f"  {t.reference}: legal ({DEMO_APPROVER}) decides escalation {x.number} ({x.point.value}): proceed", soft_wrap=True
                )
                decision = {"decision": "proceed", "approver": DEMO_APPROVER, "code": code_at(secret, now), "note": ""}
                orchestrator.resume(t.flow_run_id, decision)
                given.add(key)
                last_step = tick
                continue
            if on_hold:
                continue
            if t.flow_run_id is None:
                continue
            if status is Status.AWAITING_VERIFICATION and not_on_file(engine, t):
                continue  # nothing was sent anywhere: nobody can prove anything (see _summary)
            state = orchestrator.run_state(t.flow_run_id)
            if status is Status.DENIED and state.final:
                continue
            pending += 1
            if not state.waiting_for_input:
                continue
            if status is Status.AWAITING_VERIFICATION:
                link = latest_link(settings.effective_outbox_dir, t.reference)
                if link and (t.reference, "link", link) not in given:
                    console.print(f"  {t.reference}: the subject follows the link in the mail in the outbox and proves it is them")
                    shown = prove(settings.effective_outbox_dir, t.reference, t.email, settings.demo_shop_path, t.name)
                    console.print(f"  {t.reference}: the verification page says: {shown}")
                    given.add((t.reference, "link", link))
            elif status is Status.AWAITING_SIGN_OFF:
                now = datetime.now(UTC)
                tick = step_of(now)
                if tick <= last_step or (t.reference, "sign-off", str(tick)) in given:
                    continue  # legal waits for the authenticator's next code
                console.print(f"  {t.reference}: legal ({DEMO_APPROVER}) approves the release with the authenticator's code")
                run_input = {"decision": "approve", "approver": DEMO_APPROVER, "code": code_at(secret, now), "reason": "-"}
                orchestrator.resume(t.flow_run_id, {**run_input, "reason_text": "", "note": ""})
                given.add((t.reference, "sign-off", str(tick)))
                last_step = tick
            elif status in (Status.RESPONDING, Status.DENIED) and letter_state(engine.ctx, t.request_id).waiting:
                # DSAR_LETTER_SIGN_OFF (default: deletions and refusals): legal approves the letter
                now = datetime.now(UTC)
                tick = step_of(now)
                if tick <= last_step or (t.reference, "letter", str(tick)) in given:
                    continue  # legal waits for the authenticator's next code
                console.print(f"  {t.reference}: legal ({DEMO_APPROVER}) approves the letter before it goes out")
                run_input = {"decision": "approve", "approver": DEMO_APPROVER, "code": code_at(secret, now), "reason": "", "note": ""}
                orchestrator.resume(t.flow_run_id, run_input)
                given.add((t.reference, "letter", str(tick)))
                last_step = tick
            elif status is Status.EXECUTING:
                # a manual system: the warehouse clerk looks in the ledger and confirms
                for step in pending_manual_steps(engine.ctx, t.request_id):
                    if (t.reference, "manual", step.system) in given:
                        continue
                    console.print(
                        f"  {t.reference}: {step.title}: a person confirms the {_NOUN.get(step.operation, step.operation)} by hand"
                    )
                    orchestrator.resume(t.flow_run_id, {"outcome": "nothing found", "records": 0, "person": DEMO_CLERK, "note": ""})
                    given.add((t.reference, "manual", step.system))
                    break
        if pending == 0:
            break
        time.sleep(1)
    return _summary(engine, settings, tracked, console)


def _summary(engine: App, settings: Settings, tracked: list[Tracked], console: Console) -> int:
    table = Table("reference", "status", "on hold", "letters in the outbox")
    all_closed, duplicates, strangers = True, False, False
    for t in tracked:
        ref = queries.lookup_id(engine.ctx, t.request_id)
        # A repeat of an earlier sample, verified with the same address, is withdrawn as its
        # duplicate: the earlier request's letters answer it.
        # A subject not on file was sent nothing: the request waits for a proof nobody can give
        # and closes as "could not verify" when the verification period ends (72 h): the demo
        # counts it as answered, since there is nothing more it could do for it.
        unknown = ref.status is Status.AWAITING_VERIFICATION and not_on_file(engine, t)
        answered = ref.status is Status.CLOSED or (ref.status is Status.WITHDRAWN and ref.duplicate) or unknown
        all_closed &= answered
        duplicates |= ref.duplicate
        strangers |= unknown
        letters = sorted(p.name for p in settings.effective_outbox_dir.glob(f"{t.reference}.*.eml"))
        shown = f"{ref.status.value} (duplicate)" if ref.duplicate else ref.status.value
        shown = f"{shown} (not on file: nothing sent)" if unknown else shown
        table.add_row(t.reference, shown, "yes" if ref.on_hold else "", ", ".join(letters))
    console.print(table)
    console.print(f"Outbox: {settings.effective_outbox_dir}")
    if strangers:
        console.print(
            "A subject not on file was sent nothing: that request waits for a proof nobody can give and closes as "
            '"could not verify" when the verification period ends.',
            soft_wrap=True,
        )
    if not all_closed:
        console.print("[red]not every sample request was answered[/]")
    elif duplicates:
        console.print("[green]every sample request answered[/] (repeats as duplicates of the first, answered by its letters)")
    else:
        console.print("[green]every sample request answered[/]")
    return 0 if all_closed else 1


def _interactive(engine: App, settings: Settings, t: Tracked, orchestrator: Orchestrator, console: Console) -> int:
    console.print()
    where = orchestrator.run_url(t.flow_run_id) if t.flow_run_id else "(no run: the request is already finished)"
    console.print(f"The run waits for you: [bold]{where}[/]")
    console.print("1. The subject's verification letter (a single-use link and a code) is mailed to the outbox folder:")
    console.print(f"   {settings.effective_outbox_dir}/{t.reference}.verify-*.eml")
    console.print(
        f"   Open its link in a browser and confirm (or enter the code at {settings.effective_web_url}/verify, or: "
        f"dsar request verify {t.reference} --code CODE); the run goes on by itself.",
        soft_wrap=True,
    )
    console.print(
        f"2. Then legal signs off: [bold]Resume[/] again, choose approve, pick [bold]{DEMO_APPROVER}[/] and type the code "
        f"of its authenticator: `dsar users totp-code {DEMO_APPROVER}` prints it (the demo keeps that account's secret "
        f"in {_authenticator_file(settings, DEMO_APPROVER).parent}, standing in for a phone app; real accounts scan "
        f"`dsar users totp NAME` into theirs). Or: dsar request sign-off {t.reference} --approver {DEMO_APPROVER} --code CODE"
    )
    console.print(
        "3. The warehouse ledger has no API: the run waits a third time for a person to say what they found "
        f"(or: dsar request confirm {t.reference} --system warehouse --outcome done --records N --person NAME)."
    )
    console.print(
        "4. Where DSAR_LETTER_SIGN_OFF asks for it (default: deletions and refusals), legal approves the letter before it "
        f"goes out: [bold]Resume[/] once more, approve, pick {DEMO_APPROVER} and type a fresh code (or: dsar request "
        f"approve-letter {t.reference} --approver {DEMO_APPROVER} --code CODE). An access request's letter goes at once."
    )
    console.print("Ctrl-C stops the demo (the request stays where it is; `dsar serve` carries on later).")
    last: tuple[Status, bool] | None = None
    try:
        while True:
            now = _status(engine, t)
            if now != last:
                console.print(f"  {t.reference}: {now[0].value}{' (on hold)' if now[1] else ''}")
                last = now
            if now[0].is_final:
                return _summary(engine, settings, [t], console)
            time.sleep(2)
    except KeyboardInterrupt:
        console.print("stopped")
        return 130
