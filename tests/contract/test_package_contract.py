"""The access-package repository: the same behaviour in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dsar.domain.errors import IntegrityError, NotFound
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
        assert uow.packages.by_link(f"{1:064x}") == replace(changed, revision=1)  # every save moves the revision on
        uow.packages.save(replace(changed, deleted_at=T0 + timedelta(days=1)))
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.for_request("r1") is None  # deleted packages are not the request's
        last = uow.packages.last_for_request("r1")  # but staff see the newest, deleted or not
        assert last is not None and last.id == pkg(1).id and last.deleted_at == T0 + timedelta(days=1)
        assert uow.packages.last_for_request("r2") is None
    with uow_factory() as uow:
        uow.packages.add(pkg(2))
        uow.commit()
    with uow_factory() as uow:
        newest = uow.packages.last_for_request("r1")
        assert newest is not None and newest.id == pkg(2).id
        found = uow.packages.by_link(f"{1:064x}")
        assert found is not None and found.deleted_at == T0 + timedelta(days=1)


def test_a_link_digest_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1))
        uow.commit()
    with uow_factory() as uow, pytest.raises(IntegrityError):
        uow.packages.add(pkg(2, link_digest=f"{1:064x}"))


def test_to_purge_finds_downloaded_packages_and_links_expired_before_the_cutoff(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.packages.add(pkg(1, "r1"))
        uow.packages.add(pkg(2, "r2", expires_at=T0 + timedelta(days=1)))
        uow.packages.add(pkg(3, "r3"))
        uow.packages.add(pkg(4, "r4", expires_at=T0))
        uow.packages.add(pkg(5, "r5"))
        uow.commit()
    with uow_factory() as uow:
        uow.packages.save(pkg(3, "r3", link_used_at=T0, downloaded_at=T0))  # downloaded: due at once
        uow.packages.save(pkg(4, "r4", expires_at=T0, deleted_at=T0))
        uow.packages.save(pkg(5, "r5", link_used_at=T0))  # spent by wrong codes: kept until it expires
        uow.commit()
    with uow_factory() as uow:
        assert [p.id for p in uow.packages.to_purge(T0 + timedelta(days=2))] == [pkg(2).id, pkg(3).id]
        assert [p.id for p in uow.packages.to_purge(T0 + timedelta(days=8))] == [pkg(2).id, pkg(1).id, pkg(3).id, pkg(5).id]


def test_swap_stores_only_over_the_revision_it_read(uow_factory: UnitOfWorkFactory) -> None:
    """The compare-and-set concurrent downloads and new links are judged by: of two changes
    made from the same read, the second stores nothing."""
    with uow_factory() as uow:
        uow.packages.add(pkg(1))
        uow.commit()
    with uow_factory() as uow:
        read = uow.packages.by_link(f"{1:064x}")
    assert read is not None and read.revision == 0
    first = replace(read, download_starts=1, link_used_at=T0, downloaded_at=T0)
    second = replace(read, download_starts=1, link_digest="e" * 64, links_issued=1, expires_at=T0 + timedelta(days=9))
    with uow_factory() as uow:
        assert uow.packages.swap(first) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.swap(second) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.by_link("e" * 64) is None
        assert uow.packages.by_link(f"{1:064x}") == replace(first, revision=1)
        # a new link moves the digest and the expiry
        now = uow.packages.by_link(f"{1:064x}")
        assert now is not None
        assert uow.packages.swap(replace(now, link_digest="e" * 64, links_issued=1, expires_at=T0 + timedelta(days=9))) is True
        uow.commit()
    with uow_factory() as uow:
        assert uow.packages.by_link(f"{1:064x}") is None
        moved = uow.packages.by_link("e" * 64)
        assert moved is not None and moved.links_issued == 1 and moved.expires_at == T0 + timedelta(days=9) and moved.revision == 2
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.packages.swap(pkg(9))
