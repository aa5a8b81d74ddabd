"""What the in-memory unit of work does beyond the repository contract (tests/contract):
master-key rotation, refusing rows a SQL unique constraint refuses, and misuse made loud."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dsar.domain.alerts import NewAlert
from dsar.domain.deadlines import Deadline
from dsar.domain.errors import IntegrityError
from dsar.domain.letters import SentLetter
from dsar.domain.plan import ExportStep, Receipt
from dsar.domain.regimes import RequestType
from dsar.domain.request import Channel, PrivacyRequest, SubjectIdentity
from dsar.services.memory import ConcurrentCommit, InMemoryDatabase, InMemoryUnitOfWork, memory_uow_factory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = date(2026, 4, 2)


def a_request(rid: str = "r1", reference: str = "DSR-2026-000001") -> PrivacyRequest:
    jane = SubjectIdentity("Jane", ("j@example.com",))
    return PrivacyRequest(rid, reference, RequestType.ACCESS, "gdpr", "DE", None, Channel.WEB, T0, jane, DUE)


def test_rotating_the_master_key_leaves_data_keys_to_rewrap_in_batches() -> None:
    db = InMemoryDatabase()
    with db.uow() as uow:
        for i in range(3):
            uow.requests.add(a_request(f"r{i}", f"DSR-2026-00000{i}"), Deadline(DUE), T0)
        uow.commit()
    db.rotate_master_key("memory-2")
    with db.uow() as uow:
        assert uow.keys.key_ids() == {"memory-1"}
        assert uow.keys.rewrap(limit=2) == 2
        assert uow.keys.key_ids() == {"memory-1", "memory-2"}
        assert uow.keys.rewrap() == 1
        assert uow.keys.key_ids() == {"memory-2"}
        assert uow.keys.rewrap() == 0


def test_rows_a_unique_constraint_would_refuse_are_refused() -> None:
    with memory_uow_factory()() as uow:
        uow.requests.add(a_request(), Deadline(DUE), T0)
        with pytest.raises(IntegrityError):
            uow.requests.add(a_request(), Deadline(DUE), T0)
        uow.decisions.record("r1", "release", "approve", "legal", None, T0)
        with pytest.raises(IntegrityError):
            uow.decisions.record("r1", "release", "deny", "legal", None, T0)
        uow.letters.add("r1", SentLetter("denial", "t", "m", T0))
        with pytest.raises(IntegrityError):
            uow.letters.add("r1", SentLetter("denial", "t", "m", T0))
        uow.plans.save("r1", [ExportStep("crm", 1)])
        with pytest.raises(IntegrityError):
            uow.plans.save("r1", [ExportStep("crm", 2)])
        uow.plans.add_receipt("r1", Receipt("crm", "export", 1, None, T0))
        with pytest.raises(IntegrityError):
            uow.plans.add_receipt("r1", Receipt("crm", "export", 1, None, T0))
        alert = NewAlert("r1", "DSR-2026-000001", "due-in-7d", DUE, 7, True)
        uow.alerts.add([alert], T0)
        with pytest.raises(IntegrityError):
            uow.alerts.add([alert], T0)


def test_a_unit_of_work_is_used_inside_a_with_block() -> None:
    uow = InMemoryUnitOfWork(InMemoryDatabase())
    with pytest.raises(RuntimeError):
        uow.requests.count()
    with uow:
        assert uow.requests.count() == 0
    with pytest.raises(RuntimeError):
        uow.commit()


def test_an_outer_unit_of_work_cannot_overwrite_what_an_inner_one_committed() -> None:
    factory = memory_uow_factory()
    with factory() as outer:
        outer.requests.add(a_request(), Deadline(DUE), T0)
        with factory() as inner:
            inner.requests.add(a_request("r2", "DSR-2026-000002"), Deadline(DUE), T0)
            inner.commit()
        with pytest.raises(ConcurrentCommit):
            outer.commit()
    with factory() as uow:
        assert uow.requests.references({"r1", "r2"}) == {"r2": "DSR-2026-000002"}
