"""Writing domain events to the audit log, each exactly once (by its idempotency key)."""

from __future__ import annotations

from collections.abc import Iterable

from dsar.domain.events import AuditEvent
from dsar.persistence.repository import Repository


def record_events(repo: Repository, events: Iterable[AuditEvent]) -> None:
    for e in events:
        repo.append_audit(e.request_id, e.kind, e.at, dict(e.payload()), e.idempotency_key)
