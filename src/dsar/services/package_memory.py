"""Access packages in memory (:class:`dsar.services.ports.PackageRepository`), for the
in-memory unit of work of :mod:`dsar.services.memory`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from dsar.domain.errors import IntegrityError, NotFound
from dsar.domain.packages import AccessPackage


class InMemoryPackages:
    def __init__(self, uow: Any) -> None:
        self._uow = uow  # an InMemoryUnitOfWork: its working state's ``packages``

    @property
    def _p(self) -> dict[str, AccessPackage]:
        packages: dict[str, AccessPackage] = self._uow.state.packages
        return packages

    def add(self, package: AccessPackage) -> None:
        if package.id in self._p or any(p.link_digest == package.link_digest for p in self._p.values()):
            raise IntegrityError(f"access package {package.id} already exists")
        self._p[package.id] = package

    def for_request(self, request_id: str) -> AccessPackage | None:
        live = [p for p in self._p.values() if p.request_id == request_id and p.deleted_at is None]
        return max(live, key=lambda p: p.created_at) if live else None

    def last_for_request(self, request_id: str) -> AccessPackage | None:
        found = [p for p in self._p.values() if p.request_id == request_id]
        return max(found, key=lambda p: p.created_at) if found else None

    def by_link(self, link_digest: str) -> AccessPackage | None:
        return next((p for p in self._p.values() if p.link_digest == link_digest), None)

    def save(self, package: AccessPackage) -> None:
        current = self._p.get(package.id)
        if current is None:
            raise NotFound(f"access package {package.id}")
        self._p[package.id] = replace(package, revision=current.revision + 1)

    def swap(self, package: AccessPackage) -> bool:
        current = self._p.get(package.id)
        if current is None:
            raise NotFound(f"access package {package.id}")
        if current.revision != package.revision:
            return False
        self._p[package.id] = replace(package, revision=current.revision + 1)
        return True

    def to_purge(self, expired_before: datetime) -> list[AccessPackage]:
        due = [p for p in self._p.values() if p.deleted_at is None and (p.expires_at <= expired_before or p.downloaded_at is not None)]
        return sorted(due, key=lambda p: p.expires_at)
