"""The connector protocol: how the engine finds, exports, erases and corrects a subject's
data in one system.

A connector receives its configuration (a data-map entry) and resolved credentials; it never
imports settings or the engine's database. Every operation is idempotent. Failures raise
:class:`~dsar.domain.errors.RetryableConnectorError` (worth retrying) or
:class:`~dsar.domain.errors.PermanentConnectorError` (not). Messages name the system and the
entity, never a subject's values.

Operations a connector type does not support yet are not faked: ``capabilities`` says what it
can do, and the planner only asks for those.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dsar.domain.errors import NotFound, PermanentConnectorError
from dsar.domain.plan import CorrectionAction, ErasureAction, ErasureKind
from dsar.domain.request import Correction

__all__ = ["CorrectionAction", "ErasureAction", "ErasureKind"]  # the plan's actions, defined in the domain


class Capability(StrEnum):
    LOCATE = "locate"
    EXPORT = "export"
    ERASE = "erase"
    CORRECT = "correct"


@dataclass(frozen=True)
class SubjectKeys:
    """Verified identifiers a connector may search by. Personal data: never log it."""

    emails: tuple[str, ...] = ()
    account_id: str | None = None
    phone: str | None = None

    def __repr__(self) -> str:
        return "SubjectKeys(<redacted>)"

    def by_kind(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        if self.emails:
            out["email"] = self.emails
        if self.account_id:
            out["account_id"] = (self.account_id,)
        if self.phone:
            out["phone"] = (self.phone,)
        return out


@dataclass(frozen=True)
class Match:
    """One root record that matched: which entity, its key, and which identifier kinds matched."""

    entity: str
    key: str
    matched_on: tuple[str, ...]


@dataclass(frozen=True)
class LocateResult:
    system: str
    matches: tuple[Match, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.matches)


@dataclass(frozen=True)
class ExportRecord:
    """One exported record: entity, its key, field values and each field's data category.
    ``content``: a document's bytes as the system holds them (an S3 blob), apart from its
    fields (never text to put into JSON; the access package checks it as a document). An
    exemption of the field ``content_base64`` (its name in earlier builds) leaves it out."""

    entity: str
    key: str
    fields: Mapping[str, Any]
    categories: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Health:
    system: str
    ok: bool
    detail: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erasure did, in counts per entity and action: never values."""

    system: str
    counts: Mapping[str, Mapping[str, int]]

    @property
    def total(self) -> int:
        return sum(n for per in self.counts.values() for n in per.values())


@dataclass(frozen=True)
class FieldChange:
    """One field of one record a correction changed: the old and new values only as keyed
    hashes (``hmac-sha256:<hex>``), so the receipt proves what changed without storing it."""

    entity: str
    key: str
    field: str
    old_hash: str
    new_hash: str

    def as_json(self) -> dict[str, str]:
        return {"entity": self.entity, "key": self.key, "field": self.field, "old": self.old_hash, "new": self.new_hash}


@dataclass(frozen=True)
class CorrectionReceipt:
    """What a correction did: each changed field (hashed values) and how many already held the
    new value (a second run changes nothing and says so)."""

    system: str
    changes: tuple[FieldChange, ...] = ()
    unchanged: int = 0

    @property
    def total(self) -> int:
        return len(self.changes)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            per = out.setdefault(c.entity, {})
            per[c.field] = per.get(c.field, 0) + 1
        return out


def receipt_key(pseudonym_key: bytes, system: str) -> bytes:
    """The key a system's correction receipts hash values under (derived, per system)."""
    return hmac.new(pseudonym_key, f"correction/{system}".encode(), hashlib.sha256).digest()


def value_hash(key: bytes, value: Any) -> str:
    """Keyed hash of a field value for correction receipts. Keyed, because a plain hash of a
    phone number or a postcode is reversed by trying every candidate."""
    canonical = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return "hmac-sha256:" + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def corrections_by_attribute(corrections: Sequence[Correction]) -> dict[str, str]:
    """The requested new value per attribute (the last one wins if an attribute repeats)."""
    return {c.attribute: c.value for c in corrections}


class Connector(ABC):
    """One system of the data map."""

    system: str
    capabilities: frozenset[Capability] = frozenset({Capability.LOCATE, Capability.EXPORT})
    # True for systems a person works on by hand: the flow waits for their confirmation.
    manual: bool = False

    @abstractmethod
    def check(self) -> Health:
        """Can the system be reached and does it look as the data map says?"""

    @abstractmethod
    def locate(self, subject: SubjectKeys) -> LocateResult:
        """Find the subject's root records by exact match on identity fields."""

    @abstractmethod
    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        """Stream every record of the located subject, following the data map's references."""

    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        """What a deletion would do, entity by entity (nothing is changed)."""
        raise self._unsupported(Capability.ERASE)

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        """Carry out exactly the approved actions; running it again changes nothing more."""
        raise self._unsupported(Capability.ERASE)

    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        """Which correctable fields of the located records hold the requested attributes, with
        how many records each (nothing is changed). Attributes the system does not hold are
        simply absent from the plan."""
        raise self._unsupported(Capability.CORRECT)

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        """Set exactly the approved fields to the requested values; a field that already holds
        the value is counted as unchanged, so running it again changes nothing more."""
        raise self._unsupported(Capability.CORRECT)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def _unsupported(self, op: Capability) -> PermanentConnectorError:
        return PermanentConnectorError(self.system, f"connector type does not support {op.value}")


class ConnectorFactory(ABC):
    """Builds the connectors of the data map, one system at a time; the engine's only way to
    obtain them. Use :meth:`open`: it builds the one connector needed, when it is needed, and
    closes it after (an SQL engine disposed, a client's connections closed)::

        for system in factory.systems():
            if factory.is_manual(system):
                continue  # a person works on it: nothing to connect to
            with factory.open(system) as connector:
                located = connector.locate(keys)

    A subclass says which systems there are (:meth:`systems`, :meth:`is_manual`, without
    building anything) and how one is built (:meth:`build`)."""

    @abstractmethod
    def systems(self) -> list[str]:
        """The systems' names, in data-map order; nothing is built."""

    @abstractmethod
    def is_manual(self, system: str) -> bool:
        """Whether a person works on the system by hand (no connection); nothing is built.
        Raises :class:`~dsar.domain.errors.NotFound` for a system not in the map."""

    @abstractmethod
    def build(self, system: str) -> Connector:
        """A new connector for one system; whoever calls this closes it (prefer :meth:`open`).
        Raises :class:`~dsar.domain.errors.NotFound` for a system not in the map."""

    @contextmanager
    def open(self, system: str) -> Iterator[Connector]:
        """The system's connector, built now and closed when the block ends (also on errors)."""
        connector = self.build(system)
        try:
            yield connector
        finally:
            connector.close()


class PrebuiltConnectorFactory(ConnectorFactory):
    """A factory over connectors built beforehand (tests, fakes): :meth:`open` hands out the
    same connector every time and leaves closing it to whoever built it."""

    def __init__(self, connectors: Sequence[Connector]) -> None:
        self._connectors = {c.system: c for c in connectors}
        if len(self._connectors) != len(connectors):
            raise ValueError("two connectors for the same system")

    def systems(self) -> list[str]:
        return list(self._connectors)

    def is_manual(self, system: str) -> bool:
        return self.build(system).manual

    def build(self, system: str) -> Connector:
        try:
            return self._connectors[system]
        except KeyError:
            raise NotFound(f"system {system} is not in the data map") from None

    @contextmanager
    def open(self, system: str) -> Iterator[Connector]:
        yield self.build(system)
