"""Legal's exemptions against a request's plan: what may be exempted (systems, entities and the
data map's fields), whether what was given is in the plan, the revised plan at approval, and
what the letter says was kept and why. The rules are in :mod:`dsar.domain.exemptions`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsar.domain.exemptions import Exemption, FieldsOf, apply_exemptions, not_in_plan, targets
from dsar.domain.plan import PlanStep
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


def revised(plan: Sequence[PlanStep], exemptions: Sequence[Exemption]) -> list[PlanStep]:
    """The steps the exemptions change (to store over the planned ones)."""
    return [new for old, new in zip(plan, apply_exemptions(plan, exemptions), strict=True) if new != old]


def for_letter(ctx: ServiceContext, plan: Sequence[PlanStep]) -> list[dict[str, str]]:
    """What the letter says legal kept out, and why: the system's title, the entity and field
    as the data map names them, the ground in plain words and its code."""
    titles = {m.system: m.title for m in ctx.data_map}
    out = []
    for st in plan:
        for e in st.exemptions:
            part = e.entity or ""
            if e.field:
                part = f"{part}, the field {e.field}"
            out.append({"system": titles.get(e.system, e.system), "part": part, "reason": e.reason, "ground": e.ground.value})
    return out
