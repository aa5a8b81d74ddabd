"""Legal's exemptions: a system, an entity or a single field of the plan kept out of a
request's answer on a legal ground, decided at sign-off.

A target names a part of the plan: ``shop`` (the whole system), ``shop/orders`` (one entity),
``shop/customers.phone`` (one field of an entity). A ground is one of :class:`LegalGround`. At
approval the stored plan is revised (:func:`apply_exemptions`) so that execution and the letter
follow it:

* export: the system, entity or field is left out of the copy;
* erasure: the system's or entity's rows are kept, with the ground as the reason. A field
  exemption keeps the entity's rows but erases every other field of them: the rows are
  anonymised field by field (each field by its data-map rule, :data:`Anonymisable` says which
  fields) and the exempt fields are left as they are, with the ground as the reason. Where the
  system's type cannot erase single fields (it deletes or keeps whole records) or no other
  field is there to erase, the rows are kept whole and the reason says so;
* correction: the system's, entity's or field's corrections are not made;
* a manual system: kept, nothing is done by hand.

Targets and grounds are names and codes, never a subject's values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from dsar.domain.errors import InvalidInput
from dsar.domain.plan import CorrectStep, EraseStep, ErasureAction, ErasureKind, ExportStep, ManualStep, PlanStep
from dsar.domain.texts import LocalText

MAX_EXEMPTIONS = 200


class LegalGround(StrEnum):
    """The grounds legal may keep data on (value: the code typed in forms and the CLI)."""

    GDPR_17_3_A = "gdpr-17-3-a"
    GDPR_17_3_B = "gdpr-17-3-b"
    GDPR_17_3_C = "gdpr-17-3-c"
    GDPR_17_3_D = "gdpr-17-3-d"
    GDPR_17_3_E = "gdpr-17-3-e"
    CCPA_105_D_1 = "ccpa-105-d-1"
    CCPA_105_D_2 = "ccpa-105-d-2"
    CCPA_105_D_3 = "ccpa-105-d-3"
    CCPA_105_D_4 = "ccpa-105-d-4"
    CCPA_105_D_5 = "ccpa-105-d-5"
    CCPA_105_D_6 = "ccpa-105-d-6"
    CCPA_105_D_7 = "ccpa-105-d-7"
    CCPA_105_D_8 = "ccpa-105-d-8"
    CCPA_105_D_9 = "ccpa-105-d-9"
    LEGAL_HOLD = "legal-hold"
    PIPEDA_8_8 = "pipeda-8-8"


# What the letter says after "kept because": the ground in plain words, with its citation.
# In English; letters in another language print the approved vocabulary's [grounds].
GROUND_TEXT: dict[LegalGround, str] = {
    LegalGround.GDPR_17_3_A: "it is needed to exercise the right of freedom of expression and information (GDPR Art. 17(3)(a))",
    LegalGround.GDPR_17_3_B: (
        "we must keep it to comply with a legal obligation, or for a task in the public interest "
        "or in the exercise of official authority (GDPR Art. 17(3)(b))"
    ),
    LegalGround.GDPR_17_3_C: "it is needed for reasons of public interest in the area of public health (GDPR Art. 17(3)(c))",
    LegalGround.GDPR_17_3_D: (
        "it is needed for archiving in the public interest, scientific or historical research or statistical purposes (GDPR Art. 17(3)(d))"
    ),
    LegalGround.GDPR_17_3_E: "it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))",
    LegalGround.CCPA_105_D_1: (
        "it is needed to complete the transaction it was collected for, fulfil a warranty or product recall, "
        "provide a good or service you asked for, or otherwise perform a contract with you (Cal. Civ. Code 1798.105(d)(1))"
    ),
    LegalGround.CCPA_105_D_2: "it is needed to help ensure security and integrity (Cal. Civ. Code 1798.105(d)(2))",
    LegalGround.CCPA_105_D_3: "it is needed to debug and repair errors that impair intended functionality (Cal. Civ. Code 1798.105(d)(3))",
    LegalGround.CCPA_105_D_4: (
        "it is needed to exercise free speech, ensure another consumer's right of free speech, "
        "or exercise another right provided for by law (Cal. Civ. Code 1798.105(d)(4))"
    ),
    LegalGround.CCPA_105_D_5: (
        "it is needed to comply with the California Electronic Communications Privacy Act (Cal. Civ. Code 1798.105(d)(5))"
    ),
    LegalGround.CCPA_105_D_6: (
        "it is needed for public or peer-reviewed scientific, historical or statistical research you consented to "
        "(Cal. Civ. Code 1798.105(d)(6))"
    ),
    LegalGround.CCPA_105_D_7: (
        "it is needed for solely internal uses reasonably aligned with your expectations based on your relationship "
        "with us (Cal. Civ. Code 1798.105(d)(7))"
    ),
    LegalGround.CCPA_105_D_8: "we must keep it to comply with a legal obligation (Cal. Civ. Code 1798.105(d)(8))",
    LegalGround.CCPA_105_D_9: (
        "it is used internally in a lawful manner compatible with the context in which you gave it "
        "(Cal. Civ. Code 1798.105(d)(9), as enacted in 2018)"
    ),
    LegalGround.LEGAL_HOLD: "it is under a legal hold: we must preserve it for pending or expected legal proceedings",
    LegalGround.PIPEDA_8_8: ("we must keep it for as long as you may still exercise a recourse about your request (PIPEDA s. 8(8))"),
}

# The ground in a few words, for dropdowns and the sign-off form's legend.
GROUND_LABEL: dict[LegalGround, str] = {
    LegalGround.GDPR_17_3_A: "GDPR 17(3)(a): freedom of expression",
    LegalGround.GDPR_17_3_B: "GDPR 17(3)(b): legal obligation, public task",
    LegalGround.GDPR_17_3_C: "GDPR 17(3)(c): public health",
    LegalGround.GDPR_17_3_D: "GDPR 17(3)(d): archiving, research, statistics",
    LegalGround.GDPR_17_3_E: "GDPR 17(3)(e): legal claims",
    LegalGround.CCPA_105_D_1: "CCPA 1798.105(d)(1): transaction, warranty, contract",
    LegalGround.CCPA_105_D_2: "CCPA 1798.105(d)(2): security and integrity",
    LegalGround.CCPA_105_D_3: "CCPA 1798.105(d)(3): debugging",
    LegalGround.CCPA_105_D_4: "CCPA 1798.105(d)(4): free speech, another legal right",
    LegalGround.CCPA_105_D_5: "CCPA 1798.105(d)(5): CalECPA",
    LegalGround.CCPA_105_D_6: "CCPA 1798.105(d)(6): research the consumer consented to",
    LegalGround.CCPA_105_D_7: "CCPA 1798.105(d)(7): internal uses the consumer expects",
    LegalGround.CCPA_105_D_8: "CCPA 1798.105(d)(8): legal obligation",
    LegalGround.CCPA_105_D_9: "CCPA 1798.105(d)(9): compatible internal uses (2018 text)",
    LegalGround.LEGAL_HOLD: "legal hold: pending or expected proceedings",
    LegalGround.PIPEDA_8_8: "PIPEDA 8(8): until recourse is exhausted",
}

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}"
_TARGET = re.compile(rf"^(?P<system>{_NAME})(?:/(?P<entity>{_NAME})(?:\.(?P<field>{_NAME}))?)?$")


@dataclass(frozen=True, order=True)
class Exemption:
    """One part of the plan legal keeps out, and why."""

    target: str
    ground: LegalGround

    def __post_init__(self) -> None:
        object.__setattr__(self, "ground", LegalGround(self.ground))
        if not _TARGET.match(self.target):
            raise InvalidInput(f"exemption {self.target!r} is not system, system/entity or system/entity.field", ["exempt: malformed"])

    @property
    def system(self) -> str:
        return self.target.split("/", 1)[0]

    @property
    def entity(self) -> str | None:
        rest = self.target.split("/", 1)
        return rest[1].split(".", 1)[0] if len(rest) == 2 else None

    @property
    def field(self) -> str | None:
        rest = self.target.split("/", 1)
        return rest[1].split(".", 1)[1] if len(rest) == 2 and "." in rest[1] else None

    @property
    def reason(self) -> str:
        """The ground in plain words (the letter's "kept because ..."): as a str the English,
        in a letter the vocabulary's words for it in the letter's language."""
        return ground_text(self.ground)

    def as_json(self) -> dict[str, str]:
        return {"target": self.target, "ground": self.ground.value}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Exemption:
        return cls(str(d["target"]), LegalGround(str(d["ground"])))


def ground_text(ground: LegalGround) -> LocalText:
    """A ground in plain words: English as a str, the vocabulary's ``[grounds]`` in a letter."""
    return LocalText(GROUND_TEXT[ground], words=("grounds", ground.value))


def kept_field_text(field: str, ground: LegalGround) -> LocalText:
    """Why legal's exempt field of an entity is kept by a deletion: English as the plan records
    it; in a letter the vocabulary's phrase with the field in the letter's words."""
    reason = ground_text(ground)
    field_words = LocalText(field, words=("attributes", field))
    english = f"the field {field} must be kept: {reason}"
    return LocalText(english, words=("phrases", "kept_field"), args={"field": field_words, "ground": reason})


class KeptWhole(StrEnum):
    """Why a deletion keeps an entity's rows whole although legal exempted only fields of it."""

    TYPE = "kept_whole_type"  # the system's type cannot erase a single field (deletes whole records)
    NO_FIELDS = "kept_whole_no_fields"  # the data map lists no other field of it to erase


_KEPT_WHOLE_TEXT = {
    KeptWhole.TYPE: "this system cannot erase the other fields of a record one by one, so the records are kept whole",
    KeptWhole.NO_FIELDS: "the other fields of these records hold no data to erase, so the records are kept whole",
}


def kept_fields_text(exempt: Sequence[Exemption], whole: KeptWhole | None = None) -> LocalText:
    """Why a deletion keeps legal's exempt fields of one entity (``exempt``: field exemptions,
    in order): each field with its ground (:func:`kept_field_text`), joined by ``;``; with
    ``whole``, why the rows are kept whole. English as the plan records it; in a letter the
    vocabulary's phrases (``[phrases]``: ``kept_field``, ``and_then``, ``kept_whole_*``)."""
    text: LocalText | None = None
    for e in exempt:
        assert e.field is not None
        one = kept_field_text(e.field, e.ground)
        text = one if text is None else LocalText(f"{text}; {one}", words=("phrases", "and_then"), args={"first": text, "second": one})
    if text is None:
        raise ValueError("no field exemption")
    if whole is not None:
        return LocalText(f"{text} ({_KEPT_WHOLE_TEXT[whole]})", words=("phrases", whole.value), args={"kept": text})
    return text


def parse_ground(value: str | None) -> LegalGround | None:
    """A ground as typed (``GDPR-17-3-e``, ``gdpr_17_3_e``); None when empty or ``-``.
    Raises InvalidInput naming the field for an unknown one."""
    raw = (value or "").strip().lower().replace("_", "-").replace(" ", "-")
    if raw in ("", "-"):
        return None
    try:
        return LegalGround(raw)
    except ValueError:
        raise InvalidInput(f"unknown legal ground {raw[:40]!r}", [f"ground: one of {', '.join(g.value for g in LegalGround)}"]) from None


def exemptions_from(pairs: Iterable[tuple[str, str | None]]) -> tuple[Exemption, ...]:
    """Exemptions from (target, ground) as typed; refuses, naming the field, a target without a
    ground, an unknown ground, a malformed target and a target given twice."""
    out: dict[str, Exemption] = {}
    problems: list[str] = []
    for target, ground in pairs:
        t = (target or "").strip()
        if not t:
            continue
        if not _TARGET.match(t):
            problems.append(f"exempt {t[:80]!r}: system, system/entity or system/entity.field")
            continue
        try:
            g = parse_ground(ground)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        if g is None:
            problems.append(f"exempt {t}: needs a legal ground")
        elif t in out:
            problems.append(f"exempt {t}: given twice")
        else:
            out[t] = Exemption(t, g)
    if len(out) > MAX_EXEMPTIONS:
        problems.append(f"exempt: at most {MAX_EXEMPTIONS}")
    if problems:
        raise InvalidInput("the exemptions are incomplete: " + "; ".join(problems), problems)
    return tuple(sorted(out.values()))


FieldsOf = Mapping[tuple[str, str], Sequence[str]]

# Per (system, entity) of a deletion: the fields an anonymisation of it erases, in the data
# map's order (each by its own rule; the connector type says which fields may be: an SQL
# entity's key and link columns never are), or None when the system's type cannot erase a
# single field (it deletes or keeps whole records). A missing entity counts as None.
Anonymisable = Mapping[tuple[str, str], Sequence[str] | None]


def _entities(step: PlanStep) -> list[str]:
    if isinstance(step, ExportStep):
        return list(step.entities)
    if isinstance(step, EraseStep):
        return [a.entity for a in step.actions]
    if isinstance(step, CorrectStep):
        return sorted({a.entity for a in step.actions})
    return []


def targets(plan: Sequence[PlanStep], fields: FieldsOf) -> list[str]:
    """Every part of ``plan`` legal may exempt, in plan order: each system that has something
    to do (records found, or a person to act), its entities, and their fields (``fields``:
    the data map's fields per (system, entity); a correction's own fields)."""
    out: list[str] = []
    for st in plan:
        if isinstance(st, ManualStep):
            if st.needs_person:
                out.append(st.system)
            continue
        if not st.matches:
            continue
        out.append(st.system)
        for entity in _entities(st):
            out.append(f"{st.system}/{entity}")
            names = (
                [a.field for a in st.actions if a.entity == entity] if isinstance(st, CorrectStep) else fields.get((st.system, entity), ())
            )
            out.extend(f"{st.system}/{entity}.{f}" for f in dict.fromkeys(names))
    return list(dict.fromkeys(out))


def not_in_plan(exemptions: Iterable[Exemption], plan: Sequence[PlanStep], fields: FieldsOf) -> list[str]:
    """The targets of ``exemptions`` the plan does not offer."""
    offered = set(targets(plan, fields))
    return [e.target for e in exemptions if e.target not in offered]


def _covers(e: Exemption, system: str, entity: str | None = None, field: str | None = None) -> bool:
    if e.system != system:
        return False
    if e.entity is None:
        return True
    return e.entity == entity and (e.field is None or field is None or e.field == field)


def field_exemptions(exemptions: Iterable[Exemption], entity: str) -> list[Exemption]:
    """The exemptions of single fields of ``entity`` (of one system's step), in order."""
    return [e for e in exemptions if e.entity == entity and e.field is not None]


def _erasure(system: str, a: ErasureAction, mine: Sequence[Exemption], anonymisable: Anonymisable) -> ErasureAction:
    """One entity's erasure as legal approved it (see the module)."""
    if a.action is ErasureKind.RETAIN:
        return a  # kept anyway, for the data map's reason
    whole = next((e for e in mine if e.entity is None or (e.entity == a.entity and e.field is None)), None)
    if whole is not None:
        return ErasureAction(a.entity, ErasureKind.RETAIN, a.rows, str(whole.reason))
    exempt = field_exemptions(mine, a.entity)
    if not exempt:
        return a
    keep = tuple(dict.fromkeys(str(e.field) for e in exempt))
    erasable = anonymisable.get((system, a.entity))
    if erasable is None:
        return ErasureAction(a.entity, ErasureKind.RETAIN, a.rows, str(kept_fields_text(exempt, KeptWhole.TYPE)))
    rest = tuple(f for f in dict.fromkeys(erasable) if f not in keep)
    if not rest:
        return ErasureAction(a.entity, ErasureKind.RETAIN, a.rows, str(kept_fields_text(exempt, KeptWhole.NO_FIELDS)))
    return ErasureAction(a.entity, ErasureKind.ANONYMISE, a.rows, str(kept_fields_text(exempt)), fields=rest, keep=keep)


def apply_exemptions(plan: Sequence[PlanStep], exemptions: Sequence[Exemption], anonymisable: Anonymisable | None = None) -> list[PlanStep]:
    """The plan as legal approved it: each step carries the exemptions that concern it, and
    erasures, corrections and manual steps no longer touch what is exempt (exports are filtered
    when they run: :func:`withheld`). ``anonymisable``: what a deletion may erase field by
    field (an entity not in it, or all without it, can only be kept whole)."""
    fields_of = anonymisable or {}
    out: list[PlanStep] = []
    for st in plan:
        mine = tuple(e for e in exemptions if e.system == st.system)
        if not mine:
            out.append(st)
            continue
        if isinstance(st, EraseStep):
            actions = tuple(_erasure(st.system, a, mine, fields_of) for a in st.actions)
            out.append(replace(st, actions=actions, exemptions=mine))
        elif isinstance(st, CorrectStep):
            kept = tuple(a for a in st.actions if not any(_covers(e, st.system, a.entity, a.field) for e in mine))
            out.append(replace(st, actions=kept, exemptions=mine))
        elif isinstance(st, ManualStep):
            whole = next((e for e in mine if e.entity is None), None)
            out.append(replace(st, kept=whole.reason if whole is not None else st.kept, exemptions=mine))
        else:
            out.append(replace(st, exemptions=mine))
    return out


def exempt_whole(step: PlanStep) -> bool:
    """Whether legal exempted the whole system of this step."""
    return any(e.entity is None for e in step.exemptions)


def withheld(step: PlanStep, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """An exported record as legal approved it: None when its entity is exempt, else the record
    without its exempt fields (``record``: entity, key, fields, categories)."""
    entity = str(record.get("entity", ""))
    mine = [e for e in step.exemptions if e.entity in (None, entity)]
    if any(e.field is None for e in mine):
        return None
    drop = {e.field for e in mine}
    if not drop:
        return dict(record)
    return {
        **record,
        "fields": {k: v for k, v in dict(record.get("fields", {})).items() if k not in drop},
        "categories": {k: v for k, v in dict(record.get("categories", {})).items() if k not in drop},
    }
