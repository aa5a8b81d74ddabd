"""The data map's building blocks: what every system says, field categories, erasure and
correction rules, and the `sql` and `manual` system types. The other types (`s3`,
`dynamodb`, `http`) live with their connectors; :mod:`dsar.connectors.datamap` joins them into
one schema and loads the files."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator

from dsar.domain.texts import DEFAULT_LANGUAGE, TEXT_LANGUAGES, LocalText

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
IDENTITY_KINDS = frozenset({"email", "account_id", "phone"})


def identity_kind(kind: str, what: str = "identity kind") -> str:
    """A data map's name for a kind of identifier, checked (the message names ``what``)."""
    if kind not in IDENTITY_KINDS:
        raise ValueError(f"{what} {kind!r} is not one of {', '.join(sorted(IDENTITY_KINDS))}")
    return kind


# Attributes a correction request may name; a data-map field says which one it holds with
# ``correctable: ATTRIBUTE``. Pattern only: organisations add their own (``loyalty_tier``).
CORRECTION_ATTRIBUTE = r"^[a-z][a-z0-9_]{0,40}$"


def _identifier(value: str, what: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(f"{what} {value!r} is not a plain SQL identifier")
    return value


def _text_of(min_length: int = 1, max_length: int = 2000) -> PlainValidator:
    """A human text of the data map, which letters print: a string (the default language,
    English), or a table of languages to strings, ``{en: ..., de: ..., fr: ..., es: ...}``,
    where ``en`` is required (the default: English letters, the staff's screens, what is
    recorded). Letters in another language print its text in that language, else the default."""

    def check(value: object) -> LocalText:
        def one(text: object, where: str) -> str:
            if not isinstance(text, str):
                raise ValueError(f"{where} is not a string")
            if not text.strip():
                raise ValueError(f"{where} is empty")
            if not min_length <= len(text) <= max_length:
                raise ValueError(f"{where} must be {min_length} to {max_length} characters long")
            return text

        if isinstance(value, LocalText):
            return value
        if isinstance(value, str):
            return LocalText(one(value, "the text"))
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in TEXT_LANGUAGES)
            if unknown:
                raise ValueError(f"unknown language {', '.join(map(repr, unknown))}: the languages are {', '.join(TEXT_LANGUAGES)}")
            if DEFAULT_LANGUAGE not in value:
                raise ValueError(f"a text in several languages needs its {DEFAULT_LANGUAGE!r} text (the default)")
            texts = {str(k): one(v, f"the {k!r} text") for k, v in value.items()}
            return LocalText(texts.pop(DEFAULT_LANGUAGE), texts)
        raise ValueError(f"a text is a string, or a table of languages ({', '.join(TEXT_LANGUAGES)}) to strings")

    return PlainValidator(check)


# A human text letters print (title, purposes, retention ...): one language or several.
Text = Annotated[LocalText, _text_of()]


class RecipientContact(BaseModel):
    """Where a recipient is told of an erasure or correction, and in which language: written
    as the address alone (the notice goes in English) or ``{address: ..., language: fr}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    address: str
    language: str = DEFAULT_LANGUAGE

    @model_validator(mode="before")
    @classmethod
    def _address_alone(cls, value: object) -> object:
        return {"address": value} if isinstance(value, str) else value

    @field_validator("address")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if value.count("@") != 1 or any(c in value for c in " ,;<>\r\n"):
            raise ValueError("not one email address")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in TEXT_LANGUAGES:
            raise ValueError(f"unknown language {value!r}: the languages are {', '.join(TEXT_LANGUAGES)}")
        return value


class FixedText(BaseModel):
    """Replace the value with this text (e.g. "Deleted customer")."""

    model_config = ConfigDict(extra="forbid")
    fixed: str = Field(max_length=200)


FieldErasure = Literal["null", "pseudonymise", "keep"] | FixedText
WithholdReason = Literal["government_id", "financial_account", "credential", "security_answer", "third_party"]


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=64)
    # What the access package's index says the field is (a text, in one language or several).
    description: Text | None = None
    # When the entity is anonymised rather than deleted: what becomes of this field.
    # null: emptied; pseudonymise: a keyed pseudonym (the same value gives the same pseudonym,
    # so joins and counts still work); keep: left as it is; {fixed: TEXT}: replaced by TEXT.
    erase: FieldErasure = "null"
    # On a correction request: the attribute a subject names to correct this field (e.g.
    # "phone", "postal_address", "name"); absent: the field is never corrected by the engine.
    correctable: str | None = Field(None, pattern=CORRECTION_ATTRIBUTE)
    # Never in an access package (dsar.services.redaction): a government id, a financial
    # account number, a credential, a security answer (11 CCR 7024(d)), or data about others.
    withhold: WithholdReason | None = None


class Retain(BaseModel):
    """Keep the entity's rows on a deletion request, for this stated reason (a retention duty
    or a legal hold, e.g. "invoices: 10 years, German Commercial Code s.257")."""

    model_config = ConfigDict(extra="forbid")
    retain: Annotated[LocalText, _text_of(3, 300)]


EntityErasure = Literal["delete", "anonymise"] | Retain


class ParentRef(BaseModel):
    """This entity's rows belong to the subject when ``this.column = parent.parent_column``."""

    model_config = ConfigDict(extra="forbid")
    entity: str
    column: str
    parent_column: str

    @field_validator("column", "parent_column")
    @classmethod
    def _ident(cls, v: str) -> str:
        return _identifier(v, "column")


class EntityMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str
    key: str
    identity: dict[str, str] = Field(default_factory=dict)
    parent: ParentRef | None = None
    fields: dict[str, FieldMap]
    # On a deletion request: delete the rows, anonymise them field by field, or keep them with
    # a stated reason. No rule: the plan says so and a person decides (nothing is assumed).
    erase: EntityErasure | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        parts = v.split(".")
        if len(parts) > 2:
            raise ValueError(f"table {v!r}: at most schema.table")
        for p in parts:
            _identifier(p, "table")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return _identifier(v, "column")

    @field_validator("identity")
    @classmethod
    def _identity(cls, v: dict[str, str]) -> dict[str, str]:
        for kind, column in v.items():
            identity_kind(kind)
            _identifier(column, "column")
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, FieldMap]) -> dict[str, FieldMap]:
        for column in v:
            _identifier(column, "column")
        return v

    @property
    def schema_name(self) -> str | None:
        return self.table.split(".")[0] if "." in self.table else None

    @property
    def table_name(self) -> str:
        return self.table.split(".")[-1]


class SystemBase(BaseModel):
    """What every system says: who it is, how to reach it, and the facts an access letter needs."""

    model_config = ConfigDict(extra="forbid")
    system: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    # The texts below are printed in letters: each a string, or {en: ..., de: ..., fr: ..., es: ...}.
    title: Text
    connection: str | None = Field(
        None, pattern=r"^[A-Z][A-Z0-9_]*$", description="Name of the environment variable holding the URL (never the URL)"
    )
    purposes: list[Text] = Field(min_length=1)
    legal_basis: Text
    recipients: list[Text] = Field(default_factory=list)
    # Where each recipient is told of an erasure or correction (GDPR Art. 19; CCPA service
    # providers and contractors): a recipient as `recipients` names it -> its email address,
    # or {address: ..., language: de} for a notice in that language (else English).
    # A recipient without one is listed for the team in the sign-off form, not mailed.
    recipient_contacts: dict[str, RecipientContact] = Field(default_factory=dict)
    retention: Text
    source: Text
    third_country_transfers: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _contacts_name_recipients(self) -> SystemBase:
        unknown = sorted(set(self.recipient_contacts) - set(self.recipients))
        if unknown:
            raise ValueError(f"recipient_contacts: {', '.join(unknown)} not among the recipients")
        return self

    @model_validator(mode="after")
    def _needs_connection(self) -> SystemBase:
        if self.connection is None and getattr(self, "type", None) != "manual":
            raise ValueError("connection: the name of the environment variable holding the system's URL is required")
        return self


class SqlSystem(SystemBase):
    """A relational database reached through any SQLAlchemy URL."""

    type: Literal["sql"]
    entities: dict[str, EntityMap] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph(self) -> SqlSystem:
        for name, e in self.entities.items():
            if e.parent is None and not e.identity:
                raise ValueError(f"entity {name!r} has neither identity fields nor a parent")
            if e.parent is not None and e.identity:
                raise ValueError(f"entity {name!r}: only root entities (no parent) have identity fields")
            if e.parent is not None and e.parent.entity not in self.entities:
                raise ValueError(f"entity {name!r}: parent {e.parent.entity!r} is not an entity of this system")
        for name in self.entities:
            seen, cur = {name}, self.entities[name]
            while cur.parent is not None:
                if cur.parent.entity in seen:
                    raise ValueError(f"entity {name!r}: parent references form a cycle")
                seen.add(cur.parent.entity)
                cur = self.entities[cur.parent.entity]
        return self

    def roots(self) -> list[str]:
        return [n for n, e in self.entities.items() if e.parent is None]

    def children(self, parent: str) -> list[str]:
        return [n for n, e in self.entities.items() if e.parent is not None and e.parent.entity == parent]

    def linking_columns(self, entity: str) -> set[str]:
        """The columns that hold ``entity``'s rows together: its key, its link to its parent,
        and the column its children link to."""
        e = self.entities[entity]
        cols = {e.key}
        if e.parent is not None:
            cols.add(e.parent.column)
        for child in self.children(entity):
            parent = self.entities[child].parent
            assert parent is not None
            cols.add(parent.parent_column)
        return cols

    def anonymisable(self, entity: str) -> list[str]:
        """The fields an anonymisation of ``entity`` erases when legal keeps only some of its
        fields (:mod:`dsar.domain.exemptions`), in the map's order: every field whose ``erase``
        is not ``keep`` (each then erased by its rule: null, keyed pseudonym, fixed text), but
        never a column of :meth:`linking_columns`: the rows stay, so their key and references
        must not break. Identity columns (``email``) are erased by their rule like any field."""
        e = self.entities[entity]
        linking = self.linking_columns(entity)
        return [f for f, fm in e.fields.items() if fm.erase != "keep" and f not in linking]


class ManualSystem(SystemBase):
    """A system without an API: a person finds, exports or erases the subject's data by hand and
    confirms it in the Prefect UI, as legal signs off."""

    type: Literal["manual"]
    instructions: str = Field(min_length=10, max_length=4000, description="What the person does, step by step (no personal data)")
    categories: list[str] = Field(min_length=1, description="Data categories the system holds")
    erase: EntityErasure | None = None


def correctable_attributes(systems: object) -> frozenset[str]:
    """Every attribute some field of these systems names as ``correctable`` (any system type:
    the models are walked for their :class:`FieldMap` values, so a new type needs no change)."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, FieldMap):
            if value.correctable is not None:
                found.add(value.correctable)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(systems)
    return frozenset(found)
