"""Letters as approved scripts: which template versions legal approved, and the gate that
sends nothing else.

A template's version is the SHA-256 of its file. Legal approves a version with their
authenticator code, as a sign-off is proven (:func:`dsar.services.accounts.prove_approver`);
the approval keeps who, when, which account, the code's time step and the text approved. A
letter is sent only when every file it was made of (the letter, its partials, the layout, the
vocabulary) is approved at the version it was rendered from; otherwise the request waits with
the reason (:class:`LetterNotApproved`), and approving releases the requests held for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from dsar.domain.decisions import REFUSAL_TEXT, SignOffRefusal
from dsar.domain.errors import DeliveryFailed, InvalidInput, NotFound
from dsar.domain.letters import TemplateApproval
from dsar.services.accounts import prove_approver
from dsar.services.context import ServiceContext
from dsar.services.ports import RenderedLetter, UnitOfWork

# Beginning of the hold reason of a request waiting for an approval: how the approval finds
# the requests to release.
HOLD_PREFIX = "letter template not approved"

State = Literal["approved", "unapproved", "changed"]


class LetterNotApproved(DeliveryFailed):
    """A letter's template (or a file it uses) is not approved at the version rendered."""


@dataclass(frozen=True)
class TemplateState:
    path: str
    kind: str | None  # None for a partial, the layout or the vocabulary
    regime: str | None
    language: str | None
    version: str
    state: State
    approval: TemplateApproval | None  # the latest, possibly of an earlier version


def _folder(ctx: ServiceContext) -> Path:
    folder = getattr(ctx.letters, "folder", None)
    if not isinstance(folder, Path):
        raise NotFound("the letter renderer in use has no templates folder")
    return folder


def _manifest(ctx: ServiceContext) -> object:
    return getattr(ctx.letters, "manifest")  # noqa: B009 - the renderer's, read when asked


def _files(ctx: ServiceContext) -> list[str]:
    files: list[str] = _manifest(ctx).files()  # type: ignore[attr-defined]
    return files


def version_of_file(ctx: ServiceContext, path: str) -> tuple[str, bytes]:
    import hashlib

    if path not in _files(ctx):
        raise NotFound(f"{path} is not a template of templates/manifest.toml (dsar templates list)")
    content = (_folder(ctx) / path).read_bytes()
    return hashlib.sha256(content).hexdigest(), content


def list_templates(ctx: ServiceContext) -> list[TemplateState]:
    manifest = _manifest(ctx)
    with ctx.uow() as uow:
        latest = uow.templates.all_latest()
        out: list[TemplateState] = []
        for path in _files(ctx):
            version, _ = version_of_file(ctx, path)
            entry = manifest.entry_of(path)  # type: ignore[attr-defined]
            approval = latest.get(path)
            approved_now = uow.templates.approved(path, version)
            state: State = "approved" if approved_now is not None else "changed" if approval is not None else "unapproved"
            out.append(
                TemplateState(
                    path,
                    entry.kind if entry else None,
                    entry.regime if entry else None,
                    entry.language if entry else None,
                    version,
                    state,
                    approved_now or approval,
                )
            )
    return out


def diff_template(ctx: ServiceContext, path: str) -> str:
    """What changed in the file since its latest approval (unified diff; the whole file as
    added when it was never approved; empty when unchanged)."""
    version, content = version_of_file(ctx, path)
    with ctx.uow() as uow:
        approval = uow.templates.latest(path)
    before = approval.content.splitlines(keepends=True) if approval else []
    label = f"{path} (approved {approval.version[:12]} by {approval.approver})" if approval else f"{path} (never approved)"
    if approval is not None and approval.version == version:
        return ""
    return "".join(difflib.unified_diff(before, content.decode("utf-8").splitlines(keepends=True), label, f"{path} (now {version[:12]})"))


@dataclass(frozen=True)
class ApprovalResult:
    approved: list[str]  # paths approved now
    already: list[str]  # paths whose current version was approved before
    released: list[str]  # references of requests released from a template hold
    refused: SignOffRefusal | None = None


def approve_templates(ctx: ServiceContext, paths: Sequence[str], approver: str, code: str) -> ApprovalResult:
    """Legal approves the current version of each path (every file when ``paths`` is empty),
    proven by ``approver``'s authenticator code. Requests waiting for an approval are released
    when every letter file is approved (their next run sends the letter)."""
    chosen = list(paths) or _files(ctx)
    files = {p: version_of_file(ctx, p) for p in chosen}  # NotFound before a code is spent
    now = ctx.clock()
    with ctx.uow() as uow:
        proven = prove_approver(uow, approver, code, now)
        if isinstance(proven, SignOffRefusal):
            uow.commit()  # the refusal spends nothing; commit keeps the lock-out counters others add
            return ApprovalResult([], [], [], proven)
        step = uow.accounts.totp(proven.id)
        approved, already = [], []
        for path, (version, content) in files.items():
            if uow.templates.approved(path, version) is not None:
                already.append(path)
                continue
            uow.templates.add(
                TemplateApproval(path, version, content.decode("utf-8"), proven.name, proven.id, now, (step.last_step or 0) if step else 0)
            )
            approved.append(path)
        released = _release_held(ctx, uow, now, proven.name) if not _unapproved(ctx, uow) else []
        uow.commit()
    _send_pending_refusals(ctx, released)
    return ApprovalResult(approved, already, released)


def _send_pending_refusals(ctx: ServiceContext, references: list[str]) -> None:
    """A denied request has no flow run left to send its refusal letter: send it now. The open
    ones carry on in their runs (`dsar request run REF`, or the deadline watch's reconciler)."""
    from dsar.domain.request import Status
    from dsar.services.processing import send_response

    for reference in references:
        with ctx.uow() as uow:
            r = uow.requests.facts(uow.requests.id_for_reference(reference))
        if r.status is Status.DENIED:
            send_response(ctx, r.id)


def refusal_text(refused: SignOffRefusal) -> str:
    return REFUSAL_TEXT[refused]


def _unapproved(ctx: ServiceContext, uow: UnitOfWork) -> list[str]:
    import hashlib

    folder = _folder(ctx)
    return [p for p in _files(ctx) if uow.templates.approved(p, hashlib.sha256((folder / p).read_bytes()).hexdigest()) is None]


def _release_held(ctx: ServiceContext, uow: UnitOfWork, now: datetime, by: str) -> list[str]:
    from dsar.services.ports import RequestQuery
    from dsar.services.recording import hold

    released = []
    for r in uow.requests.query(RequestQuery(limit=1_000_000)):
        if not r.on_hold:
            continue
        reason = _hold_reason(uow, r.id)
        if reason is not None and reason.startswith(HOLD_PREFIX):
            hold(uow, r, False, now, f"templates approved by {by}")
            released.append(r.reference)
    return released


def _hold_reason(uow: UnitOfWork, request_id: str) -> str | None:
    from dsar.services.queries import current_hold_reason

    return current_hold_reason(uow, request_id)


def check_approved(uow: UnitOfWork, kind: str, letter: RenderedLetter) -> None:
    """Raise :class:`LetterNotApproved` unless every file of ``letter`` is approved at the
    version it was rendered from. The reason names the files and the command, never a value."""
    sources = letter.sources or ((letter.template, letter.version),)
    missing = [path for path, version in sources if uow.templates.approved(path, version) is None]
    if missing:
        changed = [p for p in missing if uow.templates.latest(p) is not None]
        what = ", ".join(f"{p} ({'changed since approved' if p in changed else 'never approved'})" for p in missing)
        raise LetterNotApproved(
            f"{HOLD_PREFIX}: the {kind.replace('_', ' ')} letter uses {what}; legal approves with "
            f"`dsar templates approve --approver NAME --code CODE` (see `dsar templates diff PATH`)"
        )


def require_paths(paths: Sequence[str]) -> None:
    for p in paths:
        if ".." in Path(p).parts or p.startswith("/"):
            raise InvalidInput("a template path is relative to the templates folder", [f"path: {p}"])
