"""The `sql` connector: any SQLAlchemy URL, parameterised queries only.

Identifiers come only from the validated data map and are quoted by SQLAlchemy; values are
always bound parameters. Emails match case-insensitively as ``lower(column) = :value`` (the
value is already normalised to lower case); an expression index on ``lower(column)`` keeps
that an index probe, and ``check()`` warns when an identity column has no index at all.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, create_engine, delete, func, inspect, select, text, update
from sqlalchemy.exc import ArgumentError, OperationalError, SAWarning, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

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
from dsar.connectors.schema import FixedText, Retain, SqlSystem
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

_CHUNK = 500
_MAX_VALUE = 1000


class ReflectionCache:
    """What a connector reflects from its database (the Python type of each root entity's key
    column), kept per process and keyed by (database URL, mapped tables), so a connector built
    again for the same system does not ask the database again. Bounded (least recently used
    entries go first) and safe to share between threads. The URL is kept only as a digest:
    it may hold a password. ``check()`` always reads the live schema, never this cache."""

    def __init__(self, maxsize: int = 128) -> None:
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[bytes, tuple[str, ...]], dict[str, type]] = OrderedDict()

    @staticmethod
    def key(url: str, tables: Sequence[str]) -> tuple[bytes, tuple[str, ...]]:
        return hashlib.sha256(url.encode()).digest(), tuple(tables)

    def get(self, key: tuple[bytes, tuple[str, ...]], entity: str) -> type | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.get(entity)

    def put(self, key: tuple[bytes, tuple[str, ...]], entity: str, kind: type) -> None:
        with self._lock:
            self._entries.setdefault(key, {})[entity] = kind
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after a schema change in a long-running process)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


REFLECTED = ReflectionCache()


class SharedEngines:
    """One SQLAlchemy engine (and so one connection pool) per database URL in this process,
    shared by every connector built for it: a long-lived process (`dsar serve`'s worker) builds
    a connector per step, and a new engine each time meant a new pool and a new connection
    (TCP and authentication) per step. Safe to share between threads (SQLAlchemy's engines
    are). SQLite files get an engine per connector as before: a connection costs nothing there,
    and a shared pool would keep reading a file that was replaced (the demo reseeds its shop).
    The URL is kept only as a digest: it may hold a password."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[bytes, Engine] = {}

    def get(self, url: str) -> tuple[Engine, bool]:
        """The engine for ``url`` and whether it is shared (a connector must not dispose it)."""
        if url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True), False
        key = hashlib.sha256(url.encode()).digest()
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = self._engines[key] = create_engine(url, pool_pre_ping=True)
            return engine, True

    def dispose_all(self) -> None:
        """Close every pooled connection (tests; after a database moved)."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.dispose()


ENGINES = SharedEngines()


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json_value(v: Any) -> Any:
    if type(v) in _PLAIN:
        return v
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v


class SqlConnector(Connector):
    capabilities = frozenset({Capability.LOCATE, Capability.EXPORT, Capability.ERASE, Capability.CORRECT})

    def __init__(self, system_map: SqlSystem, url: str, pseudonym_key: bytes = b"", reflected: ReflectionCache = REFLECTED) -> None:
        self.system = system_map.system
        self.map = system_map
        self._pseudonym_key = hmac.new(pseudonym_key, f"pseudonym/{self.system}".encode(), hashlib.sha256).digest()
        try:
            self._engine, self._shared = ENGINES.get(url)
        except (ArgumentError, ValueError) as exc:
            raise PermanentConnectorError(self.system, "connection URL is not a valid SQLAlchemy URL") from exc
        except ImportError as exc:
            raise PermanentConnectorError(self.system, "database driver is not installed") from exc
        self._receipt_key = receipt_key(pseudonym_key, self.system)
        self._tables: dict[str, Table] = {}
        self._reflected = reflected
        mapped = (f"{name}={e.schema_name or ''}.{e.table_name}.{e.key}" for name, e in system_map.entities.items())
        self._reflection_key = ReflectionCache.key(url, sorted(mapped))

    # Table objects list only the mapped columns: nothing unmapped is ever selected.
    def _table(self, entity: str) -> Table:
        if entity not in self._tables:
            e = self.map.entities[entity]
            cols = {e.key, *e.identity.values(), *e.fields}
            if e.parent is not None:
                cols.add(e.parent.column)
            for child in self.map.children(entity):
                parent = self.map.entities[child].parent
                assert parent is not None
                cols.add(parent.parent_column)
            self._tables[entity] = Table(e.table_name, MetaData(), *(Column(c) for c in sorted(cols)), schema=e.schema_name)
        return self._tables[entity]

    def _root_keys(self, entity: str, keys: Sequence[str]) -> list[Any]:
        """Keys come back from locate as strings: give them back the key column's type, so an
        integer or numeric key compares as a number and a digit-only TEXT key stays text
        (PostgreSQL refuses ``text = integer`` and ``numeric = varchar``)."""
        kind = self._reflected.get(self._reflection_key, entity)
        if kind is None:
            e = self.map.entities[entity]
            try:
                cols = inspect(self._engine).get_columns(e.table_name, schema=e.schema_name)
            except SQLAlchemyError as exc:
                raise self._fail(exc, entity) from None
            col = next((c for c in cols if c["name"] == e.key), None)
            try:
                kind = col["type"].python_type if col is not None else str
            except NotImplementedError:
                kind = str
            kind = kind if kind in (int, Decimal) else str
            self._reflected.put(self._reflection_key, entity, kind)
        if kind is str:
            return list(keys)
        out: list[Any] = []
        for k in keys:
            try:
                out.append(kind(k))
            except (ValueError, ArithmeticError):
                continue  # not a key of this column: matches nothing
        return out

    def _fail(self, exc: SQLAlchemyError, entity: str) -> Exception:
        if isinstance(exc, OperationalError) and "no such" not in str(exc.orig).lower():
            return RetryableConnectorError(self.system, f"{entity}: database unavailable ({type(exc.orig).__name__})")
        return PermanentConnectorError(self.system, f"{entity}: query failed ({type(exc).__name__}); does the data map match the schema?")

    def check(self) -> Health:
        notes: list[str] = []
        try:
            insp = inspect(self._engine)
            for name, e in self.map.entities.items():
                if not insp.has_table(e.table_name, schema=e.schema_name):
                    return Health(self.system, False, f"table {e.table} of entity {name} does not exist")
                present = {c["name"] for c in insp.get_columns(e.table_name, schema=e.schema_name)}
                missing = sorted(set(self._table(name).columns.keys()) - present)
                if missing:
                    return Health(self.system, False, f"{e.table}: missing columns {', '.join(missing)}")
                indexed, expressions = self._indexed(insp, e.table_name, e.schema_name)
                pk = set(insp.get_pk_constraint(e.table_name, schema=e.schema_name).get("constrained_columns") or [])
                for kind, column in e.identity.items():
                    if column not in indexed | pk and not re.search(rf"\b{re.escape(column)}\b", expressions):
                        notes.append(f"{e.table}.{column} ({kind}) has no index: locating a subject scans the table")
        except SQLAlchemyError as exc:
            raise self._fail(exc, "check") from None
        return Health(self.system, True, "reachable; tables and columns as mapped", tuple(notes))

    def _indexed(self, insp: Any, table: str, schema: str | None) -> tuple[set[str], str]:
        """Plainly indexed columns, and the text of every expression index (``lower(email)``)."""
        with warnings.catch_warnings():
            # SQLite's dialect cannot reflect expression indexes and says so; we read them below.
            warnings.simplefilter("ignore", SAWarning)
            indexes = insp.get_indexes(table, schema=schema)
        columns = {str(c) for ix in indexes for c in ix.get("column_names") or [] if c}
        expressions = " ".join(str(x) for ix in indexes for x in (ix.get("expressions") or []) if x)
        if self._engine.dialect.name == "sqlite":
            with self._engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"), {"t": table}
                )
                # only the indexed part, "(lower(email))", not the index or table name
                expressions += " " + " ".join(sql[sql.find("(", sql.upper().find(" ON ")) :] for (sql,) in rows)
        return columns, expressions

    def _identity_clause(self, t: Table, kind: str, column: str, values: Sequence[str]) -> ColumnElement[bool] | None:
        usable = [v for v in values if "\x00" not in v and len(v) <= _MAX_VALUE]  # NUL: PostgreSQL refuses it; it matches nothing
        if not usable:
            return None
        col = t.c[column]
        if kind == "email":
            return func.lower(col).in_([v.lower() for v in usable])
        return col.in_(usable)

    def locate(self, subject: SubjectKeys) -> LocateResult:
        by_kind = subject.by_kind()
        found: dict[tuple[str, str], set[str]] = {}
        for name in self.map.roots():
            e = self.map.entities[name]
            t = self._table(name)
            for kind, column in e.identity.items():
                clause = self._identity_clause(t, kind, column, by_kind.get(kind, ()))
                if clause is None:
                    continue
                try:
                    with self._engine.connect() as conn:
                        keys = [str(k) for (k,) in conn.execute(select(t.c[e.key]).where(clause))]
                except SQLAlchemyError as exc:
                    raise self._fail(exc, name) from None
                for k in keys:
                    found.setdefault((name, k), set()).add(kind)
        matches = tuple(Match(entity, key, tuple(sorted(kinds))) for (entity, key), kinds in sorted(found.items()))
        return LocateResult(self.system, matches)

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        """Root rows first, then children breadth-first along the parent references."""
        frontier: list[tuple[str, list[Any]]] = []
        for root in self.map.roots():
            keys = [m.key for m in located.matches if m.entity == root]
            if keys:
                frontier.append((root, keys))
        while frontier:
            entity, key_values = frontier.pop(0)
            e = self.map.entities[entity]
            t = self._table(entity)
            link_col = e.key if e.parent is None else e.parent.column
            wanted: dict[str, list[Any]] = {child: [] for child in self.map.children(entity)}
            categories = {f: fm.category for f, fm in e.fields.items()}  # one for the entity's records (read-only)
            for chunk_start in range(0, len(key_values), _CHUNK):
                chunk = key_values[chunk_start : chunk_start + _CHUNK]
                if e.parent is None:
                    chunk = self._root_keys(entity, chunk)
                stmt = select(t).where(t.c[link_col].in_(chunk)).order_by(t.c[e.key])
                try:
                    with self._engine.connect() as conn:
                        for row in conn.execution_options(yield_per=1000).execute(stmt).mappings():
                            for child in wanted:
                                parent = self.map.entities[child].parent
                                assert parent is not None
                                if row[parent.parent_column] is not None:
                                    wanted[child].append(row[parent.parent_column])
                            yield ExportRecord(
                                entity,
                                str(row[e.key]),
                                {f: _json_value(row[f]) for f in e.fields},
                                categories,
                            )
                except SQLAlchemyError as exc:
                    raise self._fail(exc, entity) from None
            frontier.extend((child, sorted(set(values), key=str)) for child, values in wanted.items() if values)

    # --- erasure ----------------------------------------------------------------------------
    def _keys_by_entity(self, located: LocateResult) -> dict[str, list[Any]]:
        """Every row key of the subject, entity by entity, along the data map's references."""
        keys: dict[str, list[Any]] = {}
        frontier: list[tuple[str, list[Any]]] = []
        for root in self.map.roots():
            found = self._root_keys(root, [m.key for m in located.matches if m.entity == root])
            if found:
                frontier.append((root, found))
        while frontier:
            entity, values = frontier.pop(0)
            e = self.map.entities[entity]
            t = self._table(entity)
            link = e.key if e.parent is None else e.parent.column
            children = self.map.children(entity)
            wanted: dict[str, set[Any]] = {c: set() for c in children}
            got: list[Any] = []
            cols = [t.c[e.key], *(t.c[self.map.entities[c].parent.parent_column] for c in children)]  # type: ignore[union-attr]
            try:
                with self._engine.connect() as conn:
                    for start in range(0, len(values), _CHUNK):
                        for row in conn.execute(select(*cols).where(t.c[link].in_(values[start : start + _CHUNK]))):
                            got.append(row[0])
                            for i, c in enumerate(children, start=1):
                                if row[i] is not None:
                                    wanted[c].add(row[i])
            except SQLAlchemyError as exc:
                raise self._fail(exc, entity) from None
            keys[entity] = list(dict.fromkeys(got))  # a tree: each entity is reached once
            frontier.extend((c, sorted(v, key=str)) for c, v in wanted.items() if v)
        return keys

    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        keys = self._keys_by_entity(located)
        actions = []
        for entity in self._erasure_order():
            n = len(keys.get(entity, []))
            if not n:
                continue
            rule = self.map.entities[entity].erase
            if rule is None:
                actions.append(ErasureAction(entity, ErasureKind.UNMAPPED, n, "the data map has no erasure rule for this entity"))
            elif isinstance(rule, Retain):
                actions.append(ErasureAction(entity, ErasureKind.RETAIN, n, rule.retain))
            else:
                actions.append(ErasureAction(entity, ErasureKind(rule), n))
        return actions

    def _erasure_order(self) -> list[str]:
        """Entities in an order that never breaks a foreign key: a row that references another
        goes first (orders before their customer; a customer before the address it points to)."""
        after: dict[str, set[str]] = {n: set() for n in self.map.entities}  # entity -> entities that must go before it
        for name, e in self.map.entities.items():
            if e.parent is None:
                continue
            parent = self.map.entities[e.parent.entity]
            if e.parent.parent_column == parent.key:
                after[e.parent.entity].add(name)  # the child references its parent
            else:
                after[name].add(e.parent.entity)  # the parent references the child
        order: list[str] = []
        while len(order) < len(after):
            ready = sorted(n for n, deps in after.items() if n not in order and deps <= set(order))
            if not ready:
                raise PermanentConnectorError(self.system, "the data map's references form a cycle")
            order.extend(ready)
        return order

    def _pseudonym(self, entity: str, column: str, value: Any) -> str | None:
        if value is None:
            return None
        mac = hmac.new(self._pseudonym_key, f"{entity}.{column}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return "pseu_" + mac[:24]

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        """All approved actions in one transaction: a crash halfway changes nothing, and the
        next run does the whole erasure."""
        by_entity = {a.entity: a for a in approved}
        if any(a.action is ErasureKind.UNMAPPED for a in approved):
            raise PermanentConnectorError(self.system, "the approved plan holds an entity without an erasure rule")
        keys = self._keys_by_entity(located)
        counts: dict[str, dict[str, int]] = {}
        try:
            with self._engine.begin() as conn:
                for entity in self._erasure_order():
                    action = by_entity.get(entity)
                    values = keys.get(entity, [])
                    if action is None or not values:
                        continue
                    e = self.map.entities[entity]
                    t = self._table(entity)
                    done = 0
                    if action.action is ErasureKind.DELETE:
                        for start in range(0, len(values), _CHUNK):
                            done += conn.execute(delete(t).where(t.c[e.key].in_(values[start : start + _CHUNK]))).rowcount or 0
                    elif action.action is ErasureKind.ANONYMISE:
                        done = self._anonymise(conn, entity, t, values, self._erased_fields(action))
                    counts[entity] = {action.action.value: done if action.action is not ErasureKind.RETAIN else len(values)}
        except SQLAlchemyError as exc:
            raise self._fail(exc, "erase") from None
        return ErasureReceipt(self.system, counts)

    def _erased_fields(self, action: ErasureAction) -> list[str] | None:
        """The fields an approved anonymisation erases: every mapped field (None), or, where
        legal kept fields of the entity, exactly the approved ``fields``, which must still be
        fields the map lets be erased (:meth:`SqlSystem.anonymisable`); the kept ones are never
        touched."""
        if not action.fields and not action.keep:
            return None
        erasable = set(self.map.anonymisable(action.entity))
        if not action.fields or not set(action.fields) <= erasable or set(action.fields) & set(action.keep):
            raise PermanentConnectorError(self.system, f"{action.entity}: the approved anonymisation does not match the data map")
        return list(action.fields)

    def _anonymise(self, conn: Any, entity: str, t: Table, values: list[Any], only: list[str] | None = None) -> int:
        """Erase each field of the rows by its rule (``only``: just these fields)."""
        e = self.map.entities[entity]
        rules = {f: fm.erase for f, fm in e.fields.items() if only is None or f in only}
        fixed = {f: rule.fixed for f, rule in rules.items() if isinstance(rule, FixedText)}
        nulls = [f for f, rule in rules.items() if rule == "null"]
        pseudo = [f for f, rule in rules.items() if rule == "pseudonymise"]
        done = 0
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            static = {**fixed, **{f: None for f in nulls}}
            if static:
                conn.execute(update(t).where(t.c[e.key].in_(chunk)).values(**static))
            if pseudo:
                rows = conn.execute(select(t.c[e.key], *(t.c[f] for f in pseudo)).where(t.c[e.key].in_(chunk))).all()
                for row in rows:
                    conn.execute(
                        update(t)
                        .where(t.c[e.key] == row[0])
                        .values(**{f: self._pseudonym(entity, f, row[i]) for i, f in enumerate(pseudo, 1)})
                    )
            done += len(chunk)
        return done

    # --- correction -------------------------------------------------------------------------
    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        wanted = corrections_by_attribute(corrections)
        keys = self._keys_by_entity(located)
        actions = []
        for entity, e in self.map.entities.items():
            n = len(keys.get(entity, []))
            for name, fm in e.fields.items():
                if n and fm.correctable is not None and fm.correctable in wanted:
                    actions.append(CorrectionAction(entity, name, fm.correctable, n))
        return actions

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        """Every approved field of every located row, in one transaction; rows already holding
        the new value are left alone and counted as unchanged."""
        wanted = corrections_by_attribute(corrections)
        for a in approved:
            e = self.map.entities.get(a.entity)
            fm = e.fields.get(a.field) if e is not None else None
            if fm is None or fm.correctable != a.attribute:
                raise PermanentConnectorError(self.system, f"{a.entity}: the approved correction does not match the data map")
            if a.attribute not in wanted:
                raise PermanentConnectorError(self.system, f"{a.entity}.{a.field}: the request asks no new value for {a.attribute}")
        keys = self._keys_by_entity(located)
        changes: list[FieldChange] = []
        unchanged = 0
        try:
            with self._engine.begin() as conn:
                for a in approved:
                    e = self.map.entities[a.entity]
                    t = self._table(a.entity)
                    new = wanted[a.attribute]
                    values = keys.get(a.entity, [])
                    for start in range(0, len(values), _CHUNK):
                        rows = conn.execute(select(t.c[e.key], t.c[a.field]).where(t.c[e.key].in_(values[start : start + _CHUNK]))).all()
                        for key, old in rows:
                            if old == new:
                                unchanged += 1
                                continue
                            conn.execute(update(t).where(t.c[e.key] == key).values({a.field: new}))
                            changes.append(
                                FieldChange(
                                    a.entity, str(key), a.field, value_hash(self._receipt_key, old), value_hash(self._receipt_key, new)
                                )
                            )
        except SQLAlchemyError as exc:
            raise self._fail(exc, "correct") from None
        return CorrectionReceipt(self.system, tuple(changes), unchanged)

    def close(self) -> None:
        if not self._shared:
            self._engine.dispose()
