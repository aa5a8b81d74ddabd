"""The access-package repository: the same behaviour in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dsar.domain.errors import IntegrityError
from dsar.domain.packages import AccessPackage
from dsar.services.ports import UnitOfWorkFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pkg(n: int, request_id: str = "r1", **kw: object) -> AccessPackage:
    base = AccessPackage(
        id=f"{n:032x}",
        request_id=request_id,
        object_key=f"packages/{request_id}/package.zip.sealed",
        size=5 * 2**32,  # past 32 bits: a big package
        sealed_size=5 * 2**32 + 4096,
        files=3,
        created_at=T0 + timedelta(minutes=n),
        expires_at=T0 + timedelta(days=7),
        link_digest=f"{n:064x}",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_a_package_reads_back_by_request_and_by_link(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.for_request("r1") == pkg(1)
        assert uow.packages.by_link(f"{1:064x}") == pkg(1)
        assert uow.packages.by_link("0" * 63 + "2") is None
        assert uow.packages.for_request("r2") is None


def test_saving_changes_the_code_the_link_use_and_the_deletion(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1))
        uow.commit()
    changed = pkg(1, code_digest="c" * 64, code_expires_at=T0 + timedelta(minutes=15), code_attempts=2, codes_sent=1, link_used_at=T0)
    with uow_factory() as uow:
        uow.packages.save(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.by_link(f"{1:064x}") == changed
        uow.packages.save(replace(changed, deleted_at=T0 + timedelta(days=1)))
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.for_request("r1") is None  # deleted packages are not the request's
        found = uow.packages.by_link(f"{1:064x}")
        assert found is not None and found.deleted_at == T0 + timedelta(days=1)


def test_a_link_digest_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1))
        uow.commit()
    with uow_factory() as uow, pytest.raises(IntegrityError):
        uow.packages.add(pkg(2, link_digest=f"{1:064x}"))


def test_to_purge_finds_expired_and_used_packages_not_deleted(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1, "r1"))
        uow.packages.add(pkg(2, "r2", expires_at=T0 + timedelta(days=1)))
        uow.packages.add(pkg(3, "r3"))
        uow.packages.add(pkg(4, "r4", expires_at=T0))
        uow.commit()
    with uow_factory() as uow:
        uow.packages.save(pkg(3, "r3", link_used_at=T0))
        uow.packages.save(pkg(4, "r4", expires_at=T0, deleted_at=T0))
        uow.commit()
    with uow_factory() as uow:
        assert [p.id for p in uow.packages.to_purge(T0 + timedelta(days=2))] == [pkg(2).id, pkg(3).id]
        assert [p.id for p in uow.packages.to_purge(T0 + timedelta(days=8))] == [pkg(2).id, pkg(1).id, pkg(3).id]
