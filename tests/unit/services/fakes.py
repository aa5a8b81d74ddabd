"""Fakes of the ports the services use besides the unit of work (which is the real in-memory
one, dsar.services.memory): mail, object store, letters, connectors, notifier and the clock.
They hold what they were given so tests can assert on it; none touches a disk or a network."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dsar.connectors.base import (
    Capability,
    Connector,
    ConnectorFactory,
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
)
from dsar.domain.errors import RetryableConnectorError
from dsar.domain.request import Correction
from dsar.services.memory import InMemoryDatabase, InMemoryUnitOfWork
from dsar.services.ports import (
    Mailer,
    Notice,
    NotificationFailed,
    Notifier,
    ObjectStore,
    OutgoingMail,
    RenderedLetter,
    RequestRepository,
    UnitOfWork,
)


class FakeClock:
    """The time the services read; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class RecordingMailer(Mailer):
    """Keeps every message by id; a second send of an id is dropped, as the outbox does."""

    def __init__(self) -> None:
        self.sent: dict[str, OutgoingMail] = {}
        self.attempts = 0

    def send(self, mail: OutgoingMail) -> bool:
        self.attempts += 1
        if mail.message_id in self.sent:
            return False
        self.sent[mail.message_id] = mail
        return True


class MemoryObjectStore(ObjectStore):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def exists(self, key: str) -> bool:
        return key in self.objects


def fake_version(path: str) -> str:
    return hashlib.sha256(f"fake:{path}".encode()).hexdigest()


class FakeRenderer:
    """Renders every letter as its kind and context, and remembers each context it was given.
    Its template for a kind is ``KIND/default.LANG.j2`` at :func:`fake_version`."""

    def __init__(self) -> None:
        self.rendered: list[tuple[str, str, dict[str, Any]]] = []
        self.pdfs = 0

    def render(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        self.rendered.append((kind, regime, dict(context)))
        body = "\n".join(f"{k}: {context[k]}" for k in sorted(context) if k != "request")
        path = f"{kind}/default.{language}.j2"
        return RenderedLetter(path, f"{kind} {context['request']['reference']}", body, f"<p>{kind}</p>", fake_version(path), language)

    def render_text(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        """A text message: its kind and context as lines, with the request's reference first."""
        self.rendered.append((kind, regime, dict(context)))
        body = "\n".join([str(context["request"]["reference"])] + [f"{k}: {context[k]}" for k in sorted(context) if k != "request"])
        path = f"{kind}/default.{language}.j2"
        return RenderedLetter(path, "", body, "", fake_version(path), language)

    def pdf(self, letter: RenderedLetter) -> bytes:
        self.pdfs += 1
        return b"%PDF-fake " + letter.template.encode()

    def contexts(self, kind: str) -> list[dict[str, Any]]:
        return [c for k, _, c in self.rendered if k == kind]

    def last_code(self) -> str:
        return str(self.contexts("verification_code")[-1]["code"])


class FailingNotifier(Notifier):
    def __init__(self, failures: int = 1_000) -> None:
        self.failures = failures
        self.delivered: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise NotificationFailed("the chat webhook is down")
        self.delivered.append(notice)


# --- connectors ---------------------------------------------------------------------------


@dataclass
class FakeSystem:
    """One system's data, kept across connectors (as a real database is): entity -> rows, each
    row a dict with ``key`` and the identity field ``email``."""

    name: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    capabilities: frozenset[Capability] = frozenset(Capability)
    erasure: dict[str, ErasureKind] = field(default_factory=dict)  # entity -> rule (absent: unmapped)
    correctable: dict[str, str] = field(default_factory=dict)  # field -> attribute
    retain_reasons: dict[str, str] = field(default_factory=dict)  # entity -> why it is kept (ErasureKind.RETAIN)
    calls: Counter[str] = field(default_factory=Counter)
    failing: set[str] = field(default_factory=set)  # operations that raise, worth a retry


def _hash(value: Any) -> str:
    return "hmac-sha256:" + hashlib.sha256(str(value).encode()).hexdigest()


class FakeConnector(Connector):
    def __init__(self, data: FakeSystem, factory: FakeConnectorFactory) -> None:
        self.system = data.name
        self.data = data
        self.capabilities = data.capabilities
        self._factory = factory

    def check(self) -> Health:
        return Health(self.system, True)

    def _matching(self, located: LocateResult) -> list[tuple[str, dict[str, Any]]]:
        keys = {(m.entity, m.key) for m in located.matches}
        return [(e, row) for e, rows in self.data.rows.items() for row in rows if (e, row["key"]) in keys]

    def locate(self, subject: SubjectKeys) -> LocateResult:
        self._call("locate")
        wanted = subject.by_kind()
        matches = tuple(
            Match(entity, row["key"], kinds)
            for entity, rows in self.data.rows.items()
            for row in rows
            if (kinds := tuple(k for k in ("account_id", "email", "phone") if row.get(k) is not None and row.get(k) in wanted.get(k, ())))
        )
        return LocateResult(self.system, matches)

    def _call(self, operation: str) -> None:
        if operation in self.data.failing:
            raise RetryableConnectorError(self.system, f"{operation} timed out")
        self.data.calls[operation] += 1

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        self._call("export")
        for entity, row in self._matching(located):
            fields = {k: v for k, v in row.items() if k != "key"}
            yield ExportRecord(entity, row["key"], fields, {k: "contact" for k in fields})

    def plan_erasure(self, located: LocateResult) -> list[ErasureAction]:
        per: Counter[str] = Counter(m.entity for m in located.matches)
        kinds = {e: self.data.erasure.get(e, ErasureKind.UNMAPPED) for e in per}
        return [ErasureAction(e, k, n, self.data.retain_reasons.get(e, "")) for e, n in sorted(per.items()) for k in [kinds[e]]]

    def erase(self, located: LocateResult, approved: list[ErasureAction]) -> ErasureReceipt:
        self._call("erase")
        counts: dict[str, dict[str, int]] = {}
        for a in approved:
            hits = [row for e, row in self._matching(located) if e == a.entity]
            if a.action is ErasureKind.DELETE:
                self.data.rows[a.entity] = [r for r in self.data.rows[a.entity] if r not in hits]
            elif a.action is ErasureKind.ANONYMISE:
                for row in hits:
                    for f in a.fields or ("email",):  # under legal's field exemptions: just the approved fields
                        row[f] = None
            else:
                continue
            if hits:
                counts[a.entity] = {a.action.value: len(hits)}
        return ErasureReceipt(self.system, counts)

    def plan_correction(self, located: LocateResult, corrections: Sequence[Correction]) -> list[CorrectionAction]:
        asked = {c.attribute for c in corrections}
        out = []
        for f, attr in self.data.correctable.items():
            per: Counter[str] = Counter(e for e, row in self._matching(located) if f in row)
            out += [CorrectionAction(e, f, attr, n) for e, n in sorted(per.items()) if attr in asked]
        return out

    def correct(self, located: LocateResult, approved: Sequence[CorrectionAction], corrections: Sequence[Correction]) -> CorrectionReceipt:
        self._call("correct")
        values = {c.attribute: c.value for c in corrections}
        changes: list[FieldChange] = []
        unchanged = 0
        for a in approved:
            for entity, row in self._matching(located):
                if entity != a.entity:
                    continue
                new = values[a.attribute]
                if row.get(a.field) == new:
                    unchanged += 1
                    continue
                changes.append(FieldChange(entity, row["key"], a.field, _hash(row.get(a.field)), _hash(new)))
                row[a.field] = new
        return CorrectionReceipt(self.system, tuple(changes), unchanged)

    def close(self) -> None:
        self._factory.closed[self.system] += 1


class FakeConnectorFactory(ConnectorFactory):
    """Builds a fresh connector per ``open`` and counts how many were opened and closed."""

    def __init__(self, systems: Sequence[FakeSystem], manual: Sequence[str] = ()) -> None:
        self.data = {s.name: s for s in systems}
        self.manual = list(manual)
        self.opened: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()

    def systems(self) -> list[str]:
        return sorted([*self.data, *self.manual])

    def is_manual(self, system: str) -> bool:
        return system in self.manual

    def build(self, system: str) -> Connector:
        if system in self.manual:
            raise AssertionError(f"{system} is worked on by hand: nothing to open")
        self.opened[system] += 1
        return FakeConnector(self.data[system], self)


# --- the unit of work, counted ---------------------------------------------------------------


class CountedRequests:
    """The in-memory request repository, counting reads: ``get`` opens personal data."""

    def __init__(self, inner: RequestRepository, counts: Counter[str]) -> None:
        self._inner = inner
        self._counts = counts

    def get(self, request_id: str) -> Any:
        self._counts["get"] += 1
        return self._inner.get(request_id)

    def facts(self, request_id: str) -> Any:
        self._counts["facts"] += 1
        return self._inner.facts(request_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, db: InMemoryDatabase, counts: Counter[str]) -> None:
        super().__init__(db)
        self._counted = CountedRequests(super().requests, counts)

    @property
    def requests(self) -> Any:
        return self._counted


def counting_factory(db: InMemoryDatabase, counts: Counter[str]) -> Any:
    def make() -> UnitOfWork:
        counts["units of work"] += 1
        return CountingUnitOfWork(db, counts)

    return make
