"""The `dynamodb` connector: Amazon DynamoDB tables, found by Query only (never Scan).

The connection variable holds ``dynamodb://<region>`` (e.g. ``dynamodb://eu-central-1``);
credentials and an endpoint override come from the standard AWS environment. Each entry of
``tables`` maps one table and says, per identity kind, how a subject's items are queried:

* **Plain table, identity in the hash key** (``lookup: {account_id: {attribute: customer_id}}``):
  one Query on the table's hash key; every item of that partition (all range keys) matches.
* **Identity in another attribute** (``lookup: {email: {attribute: email, index: by_email}}``):
  a Query on a global secondary index whose hash key is that attribute. Emails are matched in
  lower case: store them lower-cased (DynamoDB has no case-insensitive key lookup).
* **Single-table design** (``hash_key: pk``, ``range_key: sk``, items such as
  ``pk = "USER#<account_id>"``): ``value_prefix: "USER#"`` is put before the identity value, and
  the whole partition (profile, orders, events ... under the user's ``pk``) matches.

A match's key is the canonical JSON of the item's primary key (``{"pk":"USER#42","sk":"ORDER#1"}``);
export reads each item with a consistent GetItem and returns the mapped ``fields`` only; a deletion
removes each matched item with DeleteItem (a missing item is fine: running it again removes
nothing more). A correction sets each approved ``correctable`` field of each located item
with UpdateItem: the old value is read first (consistent GetItem) and hashed for the receipt,
an item already holding the new value is counted as unchanged and not written, and the write
is conditional on the item still existing and the field still holding the value read (a
deleted item is never re-created; a concurrent change is re-read). New values are stored as
strings, literally. Key attributes are never correctable (the data map refuses it): changing
one would move the item. Values are always expression parameters, names always placeholders;
messages name the system and the table, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import boto3  # type: ignore[import-untyped]
from boto3.dynamodb.types import Binary, TypeDeserializer  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dsar.connectors.aws import Fault, connector_error, error_code
from dsar.connectors.base import (
    Capability,
    Connector,
    CorrectionAction,
    CorrectionReceipt,
    ErasureAction,
    ErasureKind,
    ErasureReceipt,
    ExportRecord,
    FieldChange,
    Health,
    LocateResult,
    Match,
    SubjectKeys,
    corrections_by_attribute,
    receipt_key,
    value_hash,
)
from dsar.connectors.schema import FieldMap, Retain, SystemBase, identity_kind
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_URL = re.compile(r"^dynamodb://([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})/?$")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_MAX_VALUE = 1000
_MAX_KEY_BYTES = 2048  # DynamoDB's limit for a partition key value
_CORRECT_ATTEMPTS = 3  # reads and conditional writes per item and field before giving up (concurrent writers)
# What a DynamoDB failure says beyond the shared wording of dsar.connectors.aws.
_MESSAGES = {
    Fault.MISSING: "{where}: the table or index does not exist ({code}); does the data map name it right?",
    Fault.REFUSED: "{where}: request refused ({code}); does the data map match the table?",
}


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r} is not a plausible DynamoDB name ([A-Za-z0-9_.-], 1 to 255 characters)")
    return value


class DynamoLookup(BaseModel):
    """How one identity kind is queried: on the table's hash key (no ``index``) or on the hash
    key of a global secondary index; the stored value is ``value_prefix`` + the identity value."""

    model_config = ConfigDict(extra="forbid")
    attribute: str
    index: str | None = None
    value_prefix: str = Field("", max_length=200)

    @field_validator("attribute")
    @classmethod
    def _attribute(cls, v: str) -> str:
        return _name(v, "attribute")

    @field_validator("index")
    @classmethod
    def _index(cls, v: str | None) -> str | None:
        return None if v is None else _name(v, "index")

    @field_validator("value_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("value_prefix must not contain NUL")
        return v


class DynamoTableMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str
    hash_key: str
    range_key: str | None = None
    lookup: dict[str, DynamoLookup] = Field(min_length=1)
    fields: dict[str, FieldMap]
    # On a deletion request: delete the matched items, or keep them with a stated reason.
    # No rule: the plan says so and a person decides.
    erase: Literal["delete"] | Retain | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        _name(v, "table")
        if len(v) < 3:
            raise ValueError(f"table {v!r}: DynamoDB table names have at least 3 characters")
        return v

    @field_validator("hash_key", "range_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        return None if v is None else _name(v, "key attribute")

    @field_validator("lookup")
    @classmethod
    def _lookup(cls, v: dict[str, DynamoLookup]) -> dict[str, DynamoLookup]:
        for kind in v:
            identity_kind(kind)
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, FieldMap]) -> dict[str, FieldMap]:
        for attribute in v:
            _name(attribute, "field")
        return v

    @model_validator(mode="after")
    def _keys(self) -> DynamoTableMap:
        if self.range_key is not None and self.range_key == self.hash_key:
            raise ValueError("range_key must differ from hash_key")
        for kind, lk in self.lookup.items():
            if lk.index is None and lk.attribute != self.hash_key:
                raise ValueError(
                    f"lookup {kind!r}: without an index the attribute must be the table's hash key {self.hash_key!r} (no Scan)"
                )
        for attribute, fm in self.fields.items():
            if fm.correctable is not None and attribute in self.key_attributes:
                raise ValueError(
                    f"field {attribute!r} is a key attribute of the table and cannot be correctable "
                    "(changing a key moves the item; erase and re-create it instead)"
                )
        return self

    @property
    def key_attributes(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)


class DynamoSystem(SystemBase):
    """Amazon DynamoDB tables in one region, each queried by key or by a global secondary index."""

    type: Literal["dynamodb"]
    tables: dict[str, DynamoTableMap] = Field(min_length=1)

    @field_validator("tables")
    @classmethod
    def _names(cls, v: dict[str, DynamoTableMap]) -> dict[str, DynamoTableMap]:
        for name in v:
            _name(name, "table map")
        return v


# --- values ---------------------------------------------------------------------------------


def _plain(v: Any) -> Any:
    """A deserialised DynamoDB value as plain JSON: Decimal -> str, bytes -> hex, sets -> sorted lists."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Binary):
        return bytes(v.value).hex()
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    if isinstance(v, set | frozenset):
        return [_plain(x) for x in sorted(v, key=lambda x: x.value if isinstance(x, Binary) else x)]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _key_json(key: Mapping[str, Mapping[str, Any]]) -> str:
    """Canonical JSON of a primary key: sorted names, strings as strings, numbers as exact JSON
    numbers, binary as hex strings."""
    parts = []
    for name in sorted(key):
        typed = key[name]
        if "S" in typed:
            value = json.dumps(typed["S"], ensure_ascii=False)
        elif "N" in typed:
            value = str(Decimal(str(typed["N"])))
        elif "B" in typed:
            value = json.dumps(bytes(typed["B"]).hex())
        else:
            raise ValueError("key attributes are strings, numbers or binary")
        parts.append(f"{json.dumps(name, ensure_ascii=False)}:{value}")
    return "{" + ",".join(parts) + "}"


def _typed(value: Any, kind: str) -> dict[str, Any]:
    if kind == "N":
        if isinstance(value, Decimal | int | float):
            return {"N": str(value)}
        raise ValueError("number expected")
    if not isinstance(value, str):
        raise ValueError("string expected")
    if kind == "B":
        return {"B": bytes.fromhex(value)}
    return {"S": value}


class DynamoDbConnector(Connector):
    capabilities = frozenset({Capability.LOCATE, Capability.EXPORT, Capability.ERASE, Capability.CORRECT})

    def __init__(self, system_map: DynamoSystem, url: str, pseudonym_key: bytes = b"", client: Any = None) -> None:
        self.system = system_map.system
        self.map = system_map
        self._pseudonym_key = pseudonym_key  # no anonymisation for DynamoDB (delete or retain only)
        self._receipt_key = receipt_key(pseudonym_key, self.system)
        m = _URL.match(url or "")
        if m is None:
            raise PermanentConnectorError(self.system, "connection URL is not dynamodb://<region> (e.g. dynamodb://eu-central-1)")
        self.region = m.group(1)
        self._owns_client = client is None  # a client handed in is closed by whoever made it
        if client is None:
            try:
                client = boto3.client(
                    "dynamodb",
                    region_name=self.region,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30),
                )
            except BotoCoreError as exc:
                raise PermanentConnectorError(self.system, f"cannot create a DynamoDB client ({type(exc).__name__})") from None
        self._client = client
        self._described: dict[str, dict[str, Any]] = {}
        self._deserializer = TypeDeserializer()

    # --- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections of the client this connector made."""
        if self._owns_client:
            self._client.close()

    def _fail(self, exc: Exception, table: str) -> Exception:
        return connector_error(self.system, exc, f"table {table}", "DynamoDB", _MESSAGES)

    def _describe(self, name: str) -> dict[str, Any]:
        """The table's description (key schema, attribute types, indexes), once per connector."""
        if name not in self._described:
            tm = self.map.tables[name]
            try:
                self._described[name] = dict(self._client.describe_table(TableName=tm.table)["Table"])
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, tm.table) from None
        return self._described[name]

    def _attribute_types(self, name: str) -> dict[str, str]:
        return {str(d["AttributeName"]): str(d["AttributeType"]) for d in self._describe(name).get("AttributeDefinitions", [])}

    def _key_of(self, name: str, key: str) -> dict[str, Any]:
        """A match's key back to DynamoDB's typed form (for GetItem / DeleteItem)."""
        tm = self.map.tables[name]
        types = self._attribute_types(name)
        try:
            plain = json.loads(key, parse_float=Decimal, parse_int=Decimal)
            if not isinstance(plain, dict) or set(plain) != set(tm.key_attributes):
                raise ValueError("key attributes differ from the data map")
            return {a: _typed(plain[a], types.get(a, "S")) for a in tm.key_attributes}
        except (ValueError, TypeError):
            raise PermanentConnectorError(self.system, f"table {tm.table}: a located key does not fit the table's key schema") from None

    # --- health -----------------------------------------------------------------------------
    def check(self) -> Health:
        notes: list[str] = []
        for name, tm in self.map.tables.items():
            try:
                desc = self._client.describe_table(TableName=tm.table)["Table"]
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return Health(self.system, False, f"table {tm.table} of table map {name} does not exist")
                raise self._fail(exc, tm.table) from None
            except BotoCoreError as exc:
                raise self._fail(exc, tm.table) from None
            self._described[name] = dict(desc)
            keys = {str(k["KeyType"]): str(k["AttributeName"]) for k in desc.get("KeySchema", [])}
            if keys.get("HASH") != tm.hash_key or keys.get("RANGE") != tm.range_key:
                return Health(self.system, False, f"table {tm.table}: key schema differs from the data map (hash_key/range_key)")
            if desc.get("TableStatus") not in (None, "ACTIVE", "UPDATING"):
                notes.append(f"table {tm.table} is {desc.get('TableStatus')}")
            indexes = {str(ix["IndexName"]): ix for ix in desc.get("GlobalSecondaryIndexes", []) or []}
            for kind, lk in tm.lookup.items():
                if lk.index is None:
                    continue  # validated: the attribute is the table's hash key
                ix = indexes.get(lk.index)
                if ix is None:
                    notes.append(f"table {tm.table}: index {lk.index} ({kind}) does not exist: locating by {kind} fails")
                    continue
                ix_hash = next((str(k["AttributeName"]) for k in ix.get("KeySchema", []) if k["KeyType"] == "HASH"), None)
                if ix_hash != lk.attribute:
                    notes.append(f"table {tm.table}: {lk.attribute} ({kind}) is not the hash key of index {lk.index}")
                elif ix.get("IndexStatus") not in (None, "ACTIVE"):
                    notes.append(f"table {tm.table}: index {lk.index} is {ix.get('IndexStatus')}")
        return Health(self.system, True, "reachable; tables and keys as mapped", tuple(notes))

    # --- locate -----------------------------------------------------------------------------
    def _values(self, kind: str, lk: DynamoLookup, attr_type: str, values: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for v in values:
            if not v or "\x00" in v or len(v) > _MAX_VALUE:  # matches nothing (and DynamoDB would refuse it)
                continue
            stored = lk.value_prefix + (v.lower() if kind == "email" else v)
            if attr_type == "N":
                if lk.value_prefix or not _NUMBER.match(stored):
                    continue
                try:
                    out.append({"N": str(Decimal(stored))})
                except InvalidOperation:
                    continue
            elif attr_type == "S":
                if len(stored.encode()) <= _MAX_KEY_BYTES:
                    out.append({"S": stored})
            # binary keys never hold a textual identity value: nothing to query
        return list({json.dumps(x, sort_keys=True): x for x in out}.values())

    def locate(self, subject: SubjectKeys) -> LocateResult:
        by_kind = subject.by_kind()
        found: dict[tuple[str, str], set[str]] = {}
        for name, tm in self.map.tables.items():
            for kind, lk in tm.lookup.items():
                if not by_kind.get(kind):
                    continue
                values = self._values(kind, lk, self._attribute_types(name).get(lk.attribute, "S"), by_kind[kind])
                for value in values:
                    for key in self._query(tm, lk, value):
                        found.setdefault((name, key), set()).add(kind)
        matches = tuple(Match(entity, key, tuple(sorted(kinds))) for (entity, key), kinds in sorted(found.items()))
        return LocateResult(self.system, matches)

    def _query(self, tm: DynamoTableMap, lk: DynamoLookup, value: dict[str, Any]) -> Iterator[str]:
        names = {"#v": lk.attribute, **{f"#k{i}": a for i, a in enumerate(tm.key_attributes)}}
        params: dict[str, Any] = {
            "TableName": tm.table,
            "KeyConditionExpression": "#v = :v",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":v": value},
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(tm.key_attributes))),
        }
        if lk.index is not None:
            params["IndexName"] = lk.index
        else:
            params["ConsistentRead"] = True
        try:
            while True:
                page = self._client.query(**params)
                for item in page.get("Items", []):
                    yield _key_json({a: item[a] for a in tm.key_attributes})
                last = page.get("LastEvaluatedKey")
                if not last:
                    return
                params["ExclusiveStartKey"] = last
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, tm.table) from None

    # --- export -----------------------------------------------------------------------------
    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        for name, tm in self.map.tables.items():
            keys = sorted({m.key for m in located.matches if m.entity == name})
            if not keys:
                continue
            fields = list(tm.fields)
            params: dict[str, Any] = {"TableName": tm.table, "ConsistentRead": True}
            if fields:
                params["ProjectionExpression"] = ", ".join(f"#f{i}" for i in range(len(fields)))
                params["ExpressionAttributeNames"] = {f"#f{i}": f for i, f in enumerate(fields)}
            categories = {f: fm.category for f, fm in tm.fields.items()}
            for key in keys:
                typed_key = self._key_of(name, key)
                try:
                    item = self._client.get_item(Key=typed_key, **params).get("Item")
                except (ClientError, BotoCoreError) as exc:
                    raise self._fail(exc, tm.table) from None
                if item is None:
                    continue  # gone since it was located
                values = {f: _plain(self._deserializer.deserialize(item[f])) if f in item else None for f in fields}
                yield ExportRecord(name, key, values, categories)

    # --- erasure ----------------------------------------------------------------------------
    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        actions = []
        for name, tm in self.map.tables.items():
            n = len({m.key for m in located.matches if m.entity == name})
            if not n:
                continue
            if tm.erase is None:
                actions.append(ErasureAction(name, ErasureKind.UNMAPPED, n, "the data map has no erasure rule for this table"))
            elif isinstance(tm.erase, Retain):
                actions.append(ErasureAction(name, ErasureKind.RETAIN, n, tm.erase.retain))
            else:
                actions.append(ErasureAction(name, ErasureKind.DELETE, n))
        return actions

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        """Delete the matched items of every approved ``delete``; items already gone count 0,
        so running it again reports nothing more."""
        if any(a.action is ErasureKind.UNMAPPED for a in approved):
            raise PermanentConnectorError(self.system, "the approved plan holds a table without an erasure rule")
        unsupported = sorted({a.action for a in approved} - {"delete", "retain"})
        if unsupported:
            raise PermanentConnectorError(self.system, f"DynamoDB tables are deleted or retained, not {', '.join(unsupported)}")
        by_entity = {a.entity: a for a in approved}
        counts: dict[str, dict[str, int]] = {}
        for name, tm in self.map.tables.items():
            action = by_entity.get(name)
            keys = sorted({m.key for m in located.matches if m.entity == name})
            if action is None or not keys:
                continue
            if action.action is ErasureKind.RETAIN:
                counts[name] = {"retain": len(keys)}
                continue
            done = 0
            for key in keys:
                typed_key = self._key_of(name, key)
                try:
                    old = self._client.delete_item(TableName=tm.table, Key=typed_key, ReturnValues="ALL_OLD")
                except (ClientError, BotoCoreError) as exc:
                    raise self._fail(exc, tm.table) from None
                if old.get("Attributes"):
                    done += 1
            counts[name] = {"delete": done}
        return ErasureReceipt(self.system, counts)

    # --- correction -------------------------------------------------------------------------
    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        wanted = corrections_by_attribute(corrections)
        actions = []
        for name, tm in self.map.tables.items():
            n = len({m.key for m in located.matches if m.entity == name})
            if not n:
                continue
            for field, fm in tm.fields.items():
                if fm.correctable is not None and fm.correctable in wanted:
                    actions.append(CorrectionAction(name, field, fm.correctable, n))
        return actions

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        """Set every approved field on every located item; items already holding the new value
        count as unchanged, items gone since they were located are skipped."""
        wanted = corrections_by_attribute(corrections)
        todo: dict[tuple[str, str], str] = {}
        for a in approved:
            tm = self.map.tables.get(a.entity)
            if tm is not None and a.field in tm.key_attributes:
                raise PermanentConnectorError(self.system, f"table {tm.table}: {a.field} is a key attribute and cannot be corrected")
            fm = tm.fields.get(a.field) if tm is not None else None
            if tm is None or fm is None or fm.correctable != a.attribute:
                raise PermanentConnectorError(self.system, f"table map {a.entity}: the approved correction does not match the data map")
            if a.attribute not in wanted:
                raise PermanentConnectorError(self.system, f"table {tm.table}: the request asks no new value for {a.attribute}")
            todo[(a.entity, a.field)] = wanted[a.attribute]
        changes: list[FieldChange] = []
        unchanged = 0
        for name, tm in self.map.tables.items():
            fields = [(f, v) for (entity, f), v in todo.items() if entity == name]
            if not fields:
                continue
            for key in sorted({m.key for m in located.matches if m.entity == name}):
                typed_key = self._key_of(name, key)
                for field, new in fields:
                    outcome = self._correct_one(tm, typed_key, field, new)
                    if outcome is None:
                        continue  # gone since it was located
                    if outcome == "unchanged":
                        unchanged += 1
                    else:
                        changes.append(FieldChange(name, key, field, outcome, value_hash(self._receipt_key, new)))
        return CorrectionReceipt(self.system, tuple(changes), unchanged)

    def _correct_one(self, tm: DynamoTableMap, typed_key: dict[str, Any], field: str, new: str) -> str | None:
        """Set one field of one item. Returns the old value's hash, ``"unchanged"`` or None (no
        such item). The write holds only if the item exists and the field is still as read."""
        names = {"#f": field, "#k": tm.hash_key}
        target = {"S": new}
        for _ in range(_CORRECT_ATTEMPTS):
            try:
                item = self._client.get_item(
                    TableName=tm.table,
                    Key=typed_key,
                    ConsistentRead=True,
                    ProjectionExpression="#k, #f",
                    ExpressionAttributeNames=names,
                ).get("Item")
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, tm.table) from None
            if not item:
                return None
            old = item.get(field)
            if old == target:
                return "unchanged"
            values: dict[str, Any] = {":new": target}
            if old is None:
                condition = "attribute_exists(#k) AND attribute_not_exists(#f)"
            else:
                condition = "attribute_exists(#k) AND #f = :old"
                values[":old"] = old
            try:
                self._client.update_item(
                    TableName=tm.table,
                    Key=typed_key,
                    UpdateExpression="SET #f = :new",
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue  # deleted or changed since read: read again
                raise self._fail(exc, tm.table) from None
            except BotoCoreError as exc:
                raise self._fail(exc, tm.table) from None
            return value_hash(self._receipt_key, None if old is None else _plain(self._deserializer.deserialize(old)))
        raise RetryableConnectorError(self.system, f"table {tm.table}: an item kept changing while it was corrected; try again")
