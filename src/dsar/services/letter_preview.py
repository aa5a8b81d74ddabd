"""The letter preview legal opens from the sign-off form: the closing letter the request would
get if it were sent now, rendered from the stored plan (with legal's exemptions), marked
PREVIEW and without the subject's name. Before execution nothing has been copied yet, so an
access letter's counts and categories come from the plan and the data map."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dsar.domain.letter_sign_off import sources_version
from dsar.domain.letters import COULD_NOT_VERIFY_LETTER, DENIAL_LETTER, RESPONSE_LETTER
from dsar.domain.plan import ExportStep
from dsar.domain.request import PrivacyRequest, Status
from dsar.services.context import ServiceContext
from dsar.services.correspondence import letter_language
from dsar.services.pending_letter import letter_kind
from dsar.services.ports import UnitOfWork
from dsar.services.processing import could_not_verify_context, response_context

NAME_PLACEHOLDER = "[the subject's name]"


@dataclass(frozen=True)
class LetterPreview:
    kind: str
    subject: str
    body: str
    template: str
    attachments: tuple[str, ...]
    version: str = ""  # SHA-256 of the template file it was rendered from (what legal approves)
    sources_version: str = ""  # one SHA-256 over every file it was made of (partials, layout, vocabulary)


def _categories(system: Any, entities: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for name in type(system).model_fields:
        value = getattr(system, name, None)
        if isinstance(value, dict):
            for entity in entities:
                fields = getattr(value.get(entity), "fields", None)
                if isinstance(fields, dict):
                    out |= {str(getattr(f, "category", "")) for f in fields.values()} - {""}
    own = getattr(system, "fields", None)
    if isinstance(own, dict) and not out:
        out |= {str(getattr(f, "category", "")) for f in own.values()} - {""}
    cats = getattr(system, "categories", None)
    if isinstance(cats, list):
        out |= {str(c) for c in cats}
    return out


def letter_preview(ctx: ServiceContext, request_id: str) -> LetterPreview | None:
    """The preview, or None when the request gets no closing letter of its own (an appeal, a
    request answered already by another's letters, a type without one)."""
    with ctx.uow() as uow:
        return preview_in(ctx, uow, uow.requests.get(request_id))


def preview_in(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> LetterPreview | None:
    """:func:`letter_preview` within the caller's unit of work, for ``r`` as read there."""
    kind = (letter_kind(uow, r) or DENIAL_LETTER) if r.status is Status.DENIED else RESPONSE_LETTER.get(r.type)
    if kind is None:
        return None
    shown = replace(r, subject=replace(r.subject, name=NAME_PLACEHOLDER))
    if kind == COULD_NOT_VERIFY_LETTER:
        letter = ctx.letters.render(kind, r.regime, could_not_verify_context(ctx, uow, shown), letter_language(r))
        return LetterPreview(kind, letter.subject, letter.body, letter.template, (), letter.version, sources_version(letter.sources))
    context, attachments = response_context(ctx, uow, shown, kind, placeholder_link=True)
    plan = uow.plans.get(r.id)
    if not context.get("record_count") and kind == RESPONSE_LETTER.get(r.type) and not context.get("systems"):
        maps = {m.system: m for m in ctx.data_map}
        exports = [s for s in plan if isinstance(s, ExportStep) and s.matches and not any(e.entity is None for e in s.exemptions)]
        context["record_count"] = sum(s.matches for s in exports)
        context["found"] = bool(exports)
        context["systems"] = [maps[s.system].model_dump() for s in exports if s.system in maps]
        context["categories"] = sorted({c for s in exports if s.system in maps for c in _categories(maps[s.system], s.entities)})
    letter = ctx.letters.render(kind, r.regime, context, letter_language(r))  # in the letter's own language
    names = tuple(a.filename for a in attachments)
    return LetterPreview(kind, letter.subject, letter.body, letter.template, names, letter.version, sources_version(letter.sources))
