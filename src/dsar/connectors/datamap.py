"""The organisation's data map: one YAML file per system under ``connectors/``.

Each file says how to reach a system (the NAME of the environment variable holding its
connection, never the secret), how to find a subject in it, which fields it holds and in which
data category, and the facts an access letter needs (GDPR Art. 15(1)(a)-(g)): purposes, legal
basis, recipients, retention, source. Errors name the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from dsar.domain.errors import InvalidInput

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
IDENTITY_KINDS = frozenset({"email", "account_id", "phone"})


def _identifier(value: str, what: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(f"{what} {value!r} is not a plain SQL identifier")
    return value


class FixedText(BaseModel):
    """Replace the value with this text (e.g. "Deleted customer")."""

    model_config = ConfigDict(extra="forbid")
    fixed: str = Field(max_length=200)


FieldErasure = Literal["null", "pseudonymise", "keep"] | FixedText


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=64)
    description: str | None = None
    # When the entity is anonymised rather than deleted: what becomes of this field.
    # null: emptied; pseudonymise: a keyed pseudonym (the same value gives the same pseudonym,
    # so joins and counts still work); keep: left as it is; {fixed: TEXT}: replaced by TEXT.
    erase: FieldErasure = "null"


class Retain(BaseModel):
    """Keep the entity's rows on a deletion request, for this stated reason (a retention duty
    or a legal hold, e.g. "invoices: 10 years, German Commercial Code s.257")."""

    model_config = ConfigDict(extra="forbid")
    retain: str = Field(min_length=3, max_length=300)


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
            if kind not in IDENTITY_KINDS:
                raise ValueError(f"identity kind {kind!r} is not one of {', '.join(sorted(IDENTITY_KINDS))}")
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
    title: str
    connection: str | None = Field(
        None, pattern=r"^[A-Z][A-Z0-9_]*$", description="Name of the environment variable holding the URL (never the URL)"
    )
    purposes: list[str] = Field(min_length=1)
    legal_basis: str
    recipients: list[str] = Field(default_factory=list)
    retention: str
    source: str
    third_country_transfers: list[str] = Field(default_factory=list)

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


class ManualSystem(SystemBase):
    """A system without an API: a person finds, exports or erases the subject's data by hand and
    confirms it in the Prefect UI, as legal signs off."""

    type: Literal["manual"]
    instructions: str = Field(min_length=10, max_length=4000, description="What the person does, step by step (no personal data)")
    categories: list[str] = Field(min_length=1, description="Data categories the system holds")
    erase: EntityErasure | None = None


AnySystem = SqlSystem | ManualSystem
SystemMap = Annotated[AnySystem, Field(discriminator="type")]
SYSTEM_TYPES = ("sql", "manual")
_ADAPTER: TypeAdapter[AnySystem] = TypeAdapter(SystemMap)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line (1-based) of the YAML node at a pydantic error location, or its nearest parent."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if match is None:
                return line
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_system_map(path: Path) -> AnySystem:
    try:
        text = path.read_text()
    except OSError:
        raise InvalidInput(f"{path}: cannot be read") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', 'syntax error')})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}:1: a system map must be a mapping")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_input=False):
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            if loc and loc[0] in SYSTEM_TYPES:  # the union's tag, not a key of the file
                loc = loc[1:]
            line = _line_of(node, loc)
            problems.append(f"{path}:{line}: {'.'.join(str(p) for p in loc) or '(file)'}: {e['msg']}")
        raise InvalidInput(f"{path}: invalid data map", problems) from None


def load_data_map(directory: Path) -> list[AnySystem]:
    maps: list[AnySystem] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        m = load_system_map(path)
        if m.system in seen:
            raise InvalidInput(f"system {m.system!r} is defined twice: {seen[m.system]} and {path}")
        seen[m.system] = path
        maps.append(m)
    return maps
