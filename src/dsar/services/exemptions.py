"""Legal's exemptions against a request's plan: what may be exempted (systems, entities and the
data map's fields), whether what was given is in the plan, the revised plan at approval (with
what a deletion may erase field by field where legal keeps only fields), and what the letter
says was erased, kept and why. The rules are in :mod:`dsar.domain.exemptions`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsar.domain.exemptions import (
    Anonymisable,
    Exemption,
    FieldsOf,
    KeptWhole,
    apply_exemptions,
    field_exemptions,
    kept_field_text,
    kept_fields_text,
    not_in_plan,
    targets,
)
from dsar.domain.plan import EraseStep, ErasureAction, PlanStep
from dsar.domain.texts import LocalText
from dsar.services.context import ServiceContext


def _fields_of(system: Any, entity: str) -> list[str]:
    """The data map's field names of ``entity`` in ``system``, whatever the system's type: an
    entity map under a dict of entities (SQL ``entities``, DynamoDB ``tables``, ...), or the
    system's own ``fields`` (an HTTP system's one entity)."""
    for name in type(system).model_fields:
        value = getattr(system, name, None)
        if isinstance(value, dict) and entity in value:
            fields = getattr(value[entity], "fields", None)
            if isinstance(fields, dict):
                return [str(f) for f in fields]
    own = getattr(system, "fields", None)
    return [str(f) for f in own] if isinstance(own, dict) else []


def plan_fields(ctx: ServiceContext, plan: Sequence[PlanStep]) -> FieldsOf:
    """Per (system, entity) of the plan, the data map's field names (no values)."""
    maps = {m.system: m for m in ctx.data_map}
    out: dict[tuple[str, str], list[str]] = {}
    for st in plan:
        m = maps.get(st.system)
        if m is None:
            continue
        for entity in getattr(st, "entities", ()) or {a.entity for a in getattr(st, "actions", ())}:
            out[(st.system, entity)] = _fields_of(m, entity)
    return out


def exemption_targets(ctx: ServiceContext, plan: Sequence[PlanStep]) -> list[str]:
    """What legal may exempt in this plan (``system``, ``system/entity``, ``system/entity.field``)."""
    return targets(plan, plan_fields(ctx, plan))


def outside_plan(ctx: ServiceContext, plan: Sequence[PlanStep], exemptions: Sequence[Exemption]) -> list[str]:
    return not_in_plan(exemptions, plan, plan_fields(ctx, plan))


def anonymisable(ctx: ServiceContext, plan: Sequence[PlanStep]) -> Anonymisable:
    """Per (system, entity) of the plan's deletions, the fields an anonymisation erases where
    legal keeps only some fields: what the system's map says (an SQL system's
    :meth:`~dsar.connectors.schema.SqlSystem.anonymisable`), or None for a type that cannot
    erase a single field (``s3``, ``dynamodb``, ``http`` and ``manual`` delete or keep whole
    records)."""
    maps = {m.system: m for m in ctx.data_map}
    out: dict[tuple[str, str], list[str] | None] = {}
    for st in plan:
        if not isinstance(st, EraseStep):
            continue
        fields_of = getattr(maps.get(st.system), "anonymisable", None)
        for a in st.actions:
            out[(st.system, a.entity)] = _anonymisable(fields_of, a.entity)
    return out


def _anonymisable(fields_of: Any, entity: str) -> list[str] | None:
    if not callable(fields_of):
        return None
    try:
        return [str(f) for f in fields_of(entity)]
    except KeyError:  # not an entity of the map (it changed since the plan was made)
        return None


def revised(ctx: ServiceContext, plan: Sequence[PlanStep], exemptions: Sequence[Exemption]) -> list[PlanStep]:
    """The steps the exemptions change (to store over the planned ones)."""
    approved = apply_exemptions(plan, exemptions, anonymisable(ctx, plan))
    return [new for old, new in zip(plan, approved, strict=True) if new != old]


def kept_fields(step: EraseStep, action: ErasureAction) -> list[dict[str, str]]:
    """The fields a deletion keeps of an entity it anonymises, for the letter: each field's
    name (a letter prints it in its words) and legal's ground in plain words and its code."""
    grounds = {e.field: e for e in field_exemptions(step.exemptions, action.entity)}
    return [{"field": f, "reason": grounds[f].reason, "ground": grounds[f].ground.value} for f in action.keep if f in grounds]


def for_letter(ctx: ServiceContext, plan: Sequence[PlanStep]) -> list[dict[str, str]]:
    """What the letter says legal kept out, and why: the system's title, the entity and field
    (in English as the data map names them; in another language in the vocabulary's words),
    the ground in plain words and its code."""
    titles = {m.system: m.title for m in ctx.data_map}
    out = []
    for st in plan:
        for e in st.exemptions:
            part: str = e.entity or ""
            if e.entity and e.field:
                entity = LocalText(e.entity, words=("entities", e.entity))
                field = LocalText(e.field, words=("attributes", e.field))
                english = f"{e.entity}, the field {e.field}"
                part = LocalText(english, words=("phrases", "exempt_field"), args={"entity": entity, "field": field})
            elif e.entity:
                part = LocalText(e.entity, words=("entities", e.entity))
            out.append({"system": titles.get(e.system, e.system), "part": part, "reason": e.reason, "ground": e.ground.value})
    return out


def _erase_rule(system: Any, entity: str) -> Any:
    """The data map's erasure rule for ``entity`` of ``system``, whatever its type: an entity
    map's ``erase`` under a dict of entities (SQL ``entities``, S3 ``objects``, DynamoDB
    ``tables``), or the system's own (an HTTP system's one entity, a manual system)."""
    for name in type(system).model_fields:
        value = getattr(system, name, None)
        if isinstance(value, dict) and entity in value and hasattr(value[entity], "erase"):
            return value[entity].erase
    return getattr(system, "erase", None)


def kept_reason(ctx: ServiceContext, step: EraseStep, action: ErasureAction) -> str:
    """Why a deletion keeps ``action``'s records (or, under a field exemption, fields of them),
    as a letter prints it: the reason the plan recorded (English), which a letter in another
    language prints in its own when it is still the data map's rule for the entity (its
    translations) or legal's grounds at sign-off (the vocabulary's). Nothing new is recorded:
    a reason that matches neither prints as recorded."""
    recorded = action.reason or ""
    for e in step.exemptions:
        if e.entity not in (None, action.entity):
            continue
        for candidate in (e.reason, kept_field_text(e.field, e.ground) if e.field else None):
            if candidate is not None and candidate == recorded:
                return candidate
    exempt = field_exemptions(step.exemptions, action.entity)
    if exempt:
        for whole in (None, *KeptWhole):
            text = kept_fields_text(exempt, whole)
            if text == recorded:
                return text
    system = next((m for m in ctx.data_map if m.system == step.system), None)
    rule = getattr(_erase_rule(system, action.entity), "retain", None) if system is not None else None
    return rule if isinstance(rule, LocalText) and rule == recorded else recorded
