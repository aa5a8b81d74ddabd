"""Writing domain events to the audit log, each exactly once."""

from __future__ import annotations

from collections.abc import Iterable

from dsar.domain.request import DomainEvent, StatusChanged
from dsar.persistence.repository import Repository


def event_key(event: DomainEvent) -> str:
    """Idempotency key of an event: a status move happens once from a given status."""
    if isinstance(event, StatusChanged):
        return f"{event.request_id}:{event.move}:{event.from_status}"
    return f"{event.request_id}:{event.kind}:{event.at.isoformat()}"


def record_events(repo: Repository, events: Iterable[DomainEvent]) -> None:
    for e in events:
        repo.append_audit(e.request_id, e.kind, e.at, dict(e.details()), event_key(e))
