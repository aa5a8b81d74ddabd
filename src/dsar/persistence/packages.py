"""Access packages in SQL (:class:`dsar.services.ports.PackageRepository`) over ``access_package``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, update
from sqlmodel import Field, Session, SQLModel, col, or_, select

from dsar.domain.errors import NotFound
from dsar.domain.packages import AccessPackage
from dsar.persistence.tables import as_utc, as_utc_or_none, refused_if_exists

_MUTABLE = (
    "link_digest",
    "expires_at",
    "code_digest",
    "code_expires_at",
    "code_attempts",
    "codes_sent",
    "link_used_at",
    "deleted_at",
    "download_starts",
    "downloaded_at",
    "links_issued",
)


class AccessPackageRow(SQLModel, table=True):
    """A request's access package: where its sealed stream is, when its link expires, and the
    link and one-time code as keyed digests (never the values)."""

    __tablename__ = "access_package"

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(index=True, max_length=32)
    object_key: str = Field(max_length=300)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sealed_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    files: int = 0
    created_at: datetime
    expires_at: datetime = Field(index=True)
    link_digest: str = Field(unique=True, max_length=64)
    code_digest: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = None
    code_attempts: int = 0
    codes_sent: int = 0
    link_used_at: datetime | None = None
    deleted_at: datetime | None = None
    download_starts: int = 0
    downloaded_at: datetime | None = None
    links_issued: int = 0
    revision: int = 0


def _package(r: AccessPackageRow) -> AccessPackage:
    return AccessPackage(
        id=r.id,
        request_id=r.request_id,
        object_key=r.object_key,
        size=r.size,
        sealed_size=r.sealed_size,
        files=r.files,
        created_at=as_utc(r.created_at),
        expires_at=as_utc(r.expires_at),
        link_digest=r.link_digest,
        code_digest=r.code_digest,
        code_expires_at=as_utc_or_none(r.code_expires_at),
        code_attempts=r.code_attempts,
        codes_sent=r.codes_sent,
        link_used_at=as_utc_or_none(r.link_used_at),
        deleted_at=as_utc_or_none(r.deleted_at),
        download_starts=r.download_starts,
        downloaded_at=as_utc_or_none(r.downloaded_at),
        links_issued=r.links_issued,
        revision=r.revision,
    )


class SqlPackages:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, package: AccessPackage) -> None:
        p = package
        self._s.add(
            AccessPackageRow(
                id=p.id,
                request_id=p.request_id,
                object_key=p.object_key,
                size=p.size,
                sealed_size=p.sealed_size,
                files=p.files,
                created_at=p.created_at,
                expires_at=p.expires_at,
                link_digest=p.link_digest,
            )
        )
        with refused_if_exists(f"access package {p.id}"):
            self._s.flush()

    def for_request(self, request_id: str) -> AccessPackage | None:
        row = self._s.exec(
            select(AccessPackageRow)
            .where(AccessPackageRow.request_id == request_id, col(AccessPackageRow.deleted_at).is_(None))
            .order_by(col(AccessPackageRow.created_at).desc())
        ).first()
        return None if row is None else _package(row)

    def last_for_request(self, request_id: str) -> AccessPackage | None:
        row = self._s.exec(
            select(AccessPackageRow).where(AccessPackageRow.request_id == request_id).order_by(col(AccessPackageRow.created_at).desc())
        ).first()
        return None if row is None else _package(row)

    def by_link(self, link_digest: str) -> AccessPackage | None:
        row = self._s.exec(select(AccessPackageRow).where(AccessPackageRow.link_digest == link_digest)).first()
        return None if row is None else _package(row)

    def _update(self, package: AccessPackage, *, expected_revision: int | None) -> int:
        t = AccessPackageRow.__table__.c  # type: ignore[attr-defined]
        stmt = update(AccessPackageRow.__table__).where(t.id == package.id)  # type: ignore[attr-defined]
        if expected_revision is not None:
            stmt = stmt.where(t.revision == expected_revision)
        values = {name: getattr(package, name) for name in _MUTABLE} | {"revision": t.revision + 1}
        done = self._s.connection().execute(stmt.values(values)).rowcount
        # What this session holds of the row is stale now: read it again when asked.
        row = self._s.get(AccessPackageRow, package.id)
        if row is not None:
            self._s.expire(row)
        return int(done or 0)

    def save(self, package: AccessPackage) -> None:
        if self._update(package, expected_revision=None) == 0:
            raise NotFound(f"access package {package.id}")

    def swap(self, package: AccessPackage) -> bool:
        if self._update(package, expected_revision=package.revision) == 1:
            return True
        if self._s.get(AccessPackageRow, package.id) is None:
            raise NotFound(f"access package {package.id}")
        return False

    def to_purge(self, expired_before: datetime) -> list[AccessPackage]:
        rows = self._s.exec(
            select(AccessPackageRow)
            .where(
                col(AccessPackageRow.deleted_at).is_(None),
                or_(col(AccessPackageRow.expires_at) <= expired_before, col(AccessPackageRow.downloaded_at).is_not(None)),
            )
            .order_by(col(AccessPackageRow.expires_at))
        )
        return [_package(r) for r in rows]
