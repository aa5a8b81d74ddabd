"""The plan of a request: per system, what the request needs done there, as typed steps.

Planning locates the subject in every system of the data map and produces one step per system:

* :class:`ExportStep` — copy the matched records into the response (access requests);
* :class:`EraseStep` — per entity, delete, anonymise, keep with a stated reason, or
  ``unmapped`` (the data map has no rule: a person must decide) — :class:`ErasureAction`;
* :class:`CorrectStep` — per entity, which correctable field takes which requested
  attribute — :class:`CorrectionAction`;
* :class:`ManualStep` — a system without an API: a person acts and confirms.

Legal signs off the plan; execution carries out exactly the approved steps. Steps hold counts,
entity and field names, never a subject's values. :func:`step_to_json` and
:func:`step_from_json` are the stored form.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsar.domain.exemptions import Exemption


class Operation(StrEnum):
    """What a request needs from a system (the values match the connector capabilities)."""

    EXPORT = "export"
    ERASE = "erase"
    CORRECT = "correct"


class ErasureKind(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    RETAIN = "retain"  # kept, for the reason the data map gives (GDPR 17(3), CCPA 1798.105(d))
    UNMAPPED = "unmapped"  # no rule in the data map: a person must decide before anything runs


CHANGES_DATA = frozenset({ErasureKind.DELETE, ErasureKind.ANONYMISE})


@dataclass(frozen=True)
class ErasureAction:
    """What a deletion does to one entity's matched rows.

    ``fields`` and ``keep`` are set only when legal exempted fields of the entity at sign-off
    (:func:`dsar.domain.exemptions.apply_exemptions`): the rows are anonymised, but only
    ``fields`` are erased (each by its data-map rule), and ``keep``, the exempt fields, are
    left as they are; ``reason`` then says why they are kept. Field names only, never values."""

    entity: str
    action: ErasureKind
    rows: int
    reason: str = ""
    fields: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Values read back from storage or a data map arrive as text: refuse anything unknown.
        object.__setattr__(self, "action", ErasureKind(self.action))
        object.__setattr__(self, "fields", tuple(str(f) for f in self.fields))
        object.__setattr__(self, "keep", tuple(str(f) for f in self.keep))
        if set(self.fields) & set(self.keep):
            raise ValueError(f"{self.entity}: a field is both erased and kept")
        if self.fields and self.action is not ErasureKind.ANONYMISE:
            raise ValueError(f"{self.entity}: only an anonymisation erases single fields")

    def as_json(self) -> dict[str, Any]:
        """The stored form; ``fields`` and ``keep`` only when set (a plan without field
        exemptions keeps its earlier stored form)."""
        d: dict[str, Any] = {"entity": self.entity, "action": self.action.value, "rows": self.rows, "reason": self.reason}
        if self.fields:
            d["fields"] = list(self.fields)
        if self.keep:
            d["keep"] = list(self.keep)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ErasureAction:
        return cls(
            str(d["entity"]),
            ErasureKind(str(d["action"])),
            int(d["rows"]),
            str(d.get("reason", "")),
            tuple(str(f) for f in d.get("fields", ())),
            tuple(str(f) for f in d.get("keep", ())),
        )

    def describe(self, grounds: Mapping[str, str] | None = None) -> str:
        """For people (the sign-off form, the console, the CLI): ``customer: delete 2``, with
        the reason. Under a field exemption ``customer: anonymise 1, fields email, name``, then
        per kept field ``customer: keep field phone because GROUND`` (``grounds``: each kept
        field's ground in plain words; else the recorded reason), joined by ``;``."""
        if self.action is ErasureKind.ANONYMISE and self.keep:
            said = [f"{self.entity}: anonymise {self.rows}, fields {', '.join(self.fields)}"]
            if grounds is not None and all(f in grounds for f in self.keep):
                said += [f"{self.entity}: keep field {f} because {grounds[f]}" for f in self.keep]
            else:
                said.append(f"{self.entity}: keep {', '.join(self.keep)} ({self.reason})")
            return "; ".join(said)
        return f"{self.entity}: {self.action.value} {self.rows}" + (f" ({self.reason})" if self.reason else "")


def counted_after_the_fact(
    approved: Sequence[ErasureAction],
    reported: Mapping[str, Mapping[str, int]],
    remaining: Mapping[str, int],
    roots: Collection[str],
) -> tuple[dict[str, dict[str, int]], bool]:
    """The erasure's counts per entity and action, checked against what is left afterwards.

    ``reported`` is what the connector counted in this run; ``remaining`` the subject's records
    found per root entity (``roots``: the entities a system locates the subject by) once it was
    done. A run killed after the system erased but before its receipt was kept loses that
    count, and the re-run finds those records gone and counts nothing for them. So for each
    deleting or anonymising action on a root the count is what the plan approved less what is
    still there, when that is more than was reported. Entities reached through a root (an SQL
    system's child rows) cannot be located on their own; they were erased in the same
    transaction as their roots, so when every root's count had to be raised theirs is the
    approved number too. Returns the counts and whether any was raised."""
    counts = {e: dict(c) for e, c in reported.items()}
    changing = [a for a in approved if a.action in CHANGES_DATA]

    def raise_to(a: ErasureAction, n: int) -> bool:
        if n > counts.get(a.entity, {}).get(a.action.value, 0):
            counts.setdefault(a.entity, {})[a.action.value] = n
            return True
        return False

    root_actions = [a for a in changing if a.entity in roots]
    raised = [raise_to(a, max(0, a.rows - remaining.get(a.entity, 0))) for a in root_actions]
    children_too = bool(root_actions) and all(raised)
    if children_too:
        for a in changing:
            if a.entity not in roots:
                raise_to(a, a.rows)
    return counts, any(raised)


@dataclass(frozen=True)
class CorrectionAction:
    """What a correction does in one entity: set ``field`` (which the data map marks as
    correctable as ``attribute``) on the subject's ``rows`` records. No values: the new value
    travels in the request's correction, encrypted at rest."""

    entity: str
    field: str
    attribute: str
    rows: int

    def as_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "field": self.field, "attribute": self.attribute, "rows": self.rows}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CorrectionAction:
        return cls(str(d["entity"]), str(d["field"]), str(d["attribute"]), int(d["rows"]))


@dataclass(frozen=True)
class ExportStep:
    system: str
    matches: int
    entities: tuple[str, ...] = ()
    operation: Operation = Operation.EXPORT
    exemptions: tuple[Exemption, ...] = ()  # legal's, at sign-off (dsar.domain.exemptions)

    def describe(self) -> str:
        said = "matched " + ",".join(self.entities) if self.matches else "no match"
        return said + "".join(f"; not exported: {e.target} ({e.ground.value})" for e in self.exemptions)


@dataclass(frozen=True)
class EraseStep:
    system: str
    matches: int
    actions: tuple[ErasureAction, ...] = ()
    operation: Operation = Operation.ERASE
    exemptions: tuple[Exemption, ...] = ()  # legal's, at sign-off (dsar.domain.exemptions)

    @property
    def changes_data(self) -> bool:
        return any(a.action in CHANGES_DATA for a in self.actions)

    @property
    def unmapped(self) -> bool:
        return any(a.action is ErasureKind.UNMAPPED for a in self.actions)

    def describe(self) -> str:
        if not self.actions:
            return "matched nothing to erase" if self.matches else "no match"
        return "; ".join(a.describe(self._grounds(a.entity)) for a in self.actions)

    def _grounds(self, entity: str) -> dict[str, str]:
        """Legal's ground in plain words for each exempt field of ``entity``."""
        return {e.field: str(e.reason) for e in self.exemptions if e.entity == entity and e.field is not None}


@dataclass(frozen=True)
class CorrectStep:
    system: str
    matches: int
    actions: tuple[CorrectionAction, ...] = ()
    operation: Operation = Operation.CORRECT
    exemptions: tuple[Exemption, ...] = ()  # legal's, at sign-off (dsar.domain.exemptions)

    @property
    def changes_data(self) -> bool:
        return bool(self.actions)

    def describe(self) -> str:
        if not self.matches:
            return "no match"
        kept = "".join(f"; not corrected: {e.target} ({e.ground.value})" for e in self.exemptions)
        if not self.actions:
            return ("holds none of the attributes to correct" if not self.exemptions else "nothing to correct") + kept
        return "; ".join(f"{a.entity}.{a.field}: set {a.attribute} in {a.rows}" for a in self.actions) + kept


@dataclass(frozen=True)
class ManualStep:
    """A system without an API: a person does ``operation`` and confirms. ``kept`` is the data
    map's reason when a deletion keeps this system's records (nothing to do by hand then)."""

    system: str
    operation: Operation
    kept: str | None = None
    matches: int = 0  # unknown until the person confirms
    exemptions: tuple[Exemption, ...] = ()  # legal's, at sign-off (dsar.domain.exemptions)

    @property
    def needs_person(self) -> bool:
        return self.kept is None

    def describe(self) -> str:
        if self.kept is not None:
            return f"manual: kept: {self.kept}"
        verb = {
            Operation.EXPORT: "a person looks the subject up and exports",
            Operation.ERASE: "a person erases",
            Operation.CORRECT: "a person corrects",
        }[self.operation]
        return f"manual: {verb}, then confirms"


PlanStep = ExportStep | EraseStep | CorrectStep | ManualStep


def step_to_json(step: PlanStep) -> dict[str, Any]:
    """The stored form of a step's detail (system, operation and matches are columns); legal's
    exemptions only when there are any (a plan without keeps its earlier stored form)."""
    d: dict[str, Any]
    if isinstance(step, ExportStep):
        d = {"step": "export", "entities": list(step.entities)}
    elif isinstance(step, EraseStep):
        d = {"step": "erase", "actions": [a.as_json() for a in step.actions]}
    elif isinstance(step, CorrectStep):
        d = {"step": "correct", "corrections": [a.as_json() for a in step.actions]}
    else:
        d = {"step": "manual", "kept": step.kept}
    if step.exemptions:
        d["exemptions"] = [e.as_json() for e in step.exemptions]
    return d


def _exemptions(detail: Mapping[str, Any]) -> tuple[Exemption, ...]:
    from dsar.domain.exemptions import Exemption

    return tuple(Exemption.from_json(e) for e in detail.get("exemptions", ()))


def step_from_json(system: str, operation: str, matches: int, detail: Mapping[str, Any]) -> PlanStep:
    op = Operation(operation)
    kind = detail.get("step")
    ex = _exemptions(detail)
    if kind == "manual":
        kept = detail.get("kept")
        return ManualStep(system, op, str(kept) if kept is not None else None, exemptions=ex)
    if kind == "erase" or (kind is None and "actions" in detail):
        return EraseStep(system, matches, tuple(ErasureAction.from_json(a) for a in detail.get("actions", ())), exemptions=ex)
    if kind == "correct" or (kind is None and "corrections" in detail):
        return CorrectStep(system, matches, tuple(CorrectionAction.from_json(a) for a in detail.get("corrections", ())), exemptions=ex)
    if kind == "export":
        return ExportStep(system, matches, tuple(str(e) for e in detail.get("entities", ())), exemptions=ex)
    raise ValueError(f"unknown plan step for system {system}")


def legacy_step(system: str, operation: str, matches: int, detail: str) -> PlanStep:
    """A step stored before plans were typed: ``manual: …`` text, ``matched a,b`` / ``no match``,
    or the JSON of erasure or correction actions."""
    op = Operation(operation)
    if detail.startswith("manual: kept: "):
        return ManualStep(system, op, detail.removeprefix("manual: kept: "))
    if detail.startswith("manual: "):
        return ManualStep(system, op)
    if detail.startswith("matched "):
        entities = tuple(e for e in detail.removeprefix("matched ").split(",") if e)
        return _empty_step(system, op, matches, entities)
    if detail.startswith("{"):
        return step_from_json(system, operation, matches, json.loads(detail))
    return _empty_step(system, op, matches, ())


def _empty_step(system: str, op: Operation, matches: int, entities: tuple[str, ...]) -> PlanStep:
    if op is Operation.ERASE:
        return EraseStep(system, matches)
    if op is Operation.CORRECT:
        return CorrectStep(system, matches)
    return ExportStep(system, matches, entities)


@dataclass(frozen=True)
class Receipt:
    """What was done in one system: the operation, how many records, where an export went."""

    system: str
    operation: str
    records: int
    object_key: str | None
    at: datetime
