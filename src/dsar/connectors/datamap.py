"""The organisation's data map: one YAML file per system under ``connectors/``.

Each file says how to reach a system (the NAME of the environment variable holding its
connection, never the secret), how to find a subject in it, which fields it holds and in which
data category, and the facts an access letter needs (GDPR Art. 15(1)(a)-(g)): purposes, legal
basis, recipients, retention, source. Errors name the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from dsar.connectors.dynamodb import DynamoSystem
from dsar.connectors.http import HttpSystem
from dsar.connectors.s3 import S3System
from dsar.connectors.schema import (
    IDENTITY_KINDS,
    EntityMap,
    FieldMap,
    FixedText,
    ManualSystem,
    ParentRef,
    Retain,
    SqlSystem,
    SystemBase,
)
from dsar.domain.errors import InvalidInput

__all__ = [
    "IDENTITY_KINDS",
    "SYSTEM_TYPES",
    "AnySystem",
    "DynamoSystem",
    "EntityMap",
    "FieldMap",
    "FixedText",
    "HttpSystem",
    "ManualSystem",
    "ParentRef",
    "Retain",
    "S3System",
    "SqlSystem",
    "SystemBase",
    "load_data_map",
    "load_system_map",
]

AnySystem = SqlSystem | S3System | DynamoSystem | HttpSystem | ManualSystem
SystemMap = Annotated[AnySystem, Field(discriminator="type")]
SYSTEM_TYPES = ("sql", "s3", "dynamodb", "http", "manual")
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


_MESSAGE_PATH = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.-]*):")


def _refine(node: yaml.Node | None, loc: tuple[int | str, ...], msg: str) -> tuple[int | str, ...]:
    """A whole-model check has no location of its own; our checks start their message with the
    key they are about ("correct: must be PATCH ..."): point there when the file has that key."""
    m = _MESSAGE_PATH.match(msg)
    if m is None:
        return loc
    candidate = (*loc, *m.group(1).split("."))
    return candidate if _has(node, candidate) else loc


def _has(node: yaml.Node | None, loc: tuple[int | str, ...]) -> bool:
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            return False
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
        if node is None:
            return False
    return True


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
            loc = _refine(node, loc, e["msg"])
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
