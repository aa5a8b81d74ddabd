"""The per-request data keys as a port (:class:`dsar.services.ports.DataKeys`): sealing what
the services keep outside the database (exports in the object store) and re-wrapping the keys
under a new master key."""

from __future__ import annotations

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session

from dsar.persistence.sealing import Sealer, wrapping_context
from dsar.persistence.tables import RequestKeyRow


class SqlDataKeys:
    def __init__(self, session: Session, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    def seal(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return self._sealer.seal(request_id, plaintext, aad)

    def open(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return self._sealer.open(request_id, sealed, aad)

    def rewrap(self, limit: int = 1000) -> int:
        """Re-wrap up to ``limit`` data keys not yet under the provider's current key."""
        provider = self._sealer.provider
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        conn = self._s.connection()
        rows = conn.execute(sa_select(k.request_id, k.wrapped_key).where(k.key_id != provider.key_id).limit(limit)).all()
        for rid, wrapped in rows:
            data_key = self._sealer.unwrap(rid, wrapped)
            rewrapped = provider.wrap(data_key, wrapping_context(rid))
            conn.execute(update(RequestKeyRow.__table__).where(k.request_id == rid).values(wrapped_key=rewrapped, key_id=provider.key_id))  # type: ignore[attr-defined]
            self._sealer.rewrapped(rid, rewrapped, data_key)
        return len(rows)

    def key_ids(self) -> set[str]:
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        return {kid for (kid,) in self._s.connection().execute(sa_select(k.key_id).distinct())}
