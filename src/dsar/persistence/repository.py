"""TRANSITIONAL: the names today's services import from here, removed when the services use
the ports (issue 9).

The SQL repositories are split by area (:mod:`.requests`, :mod:`.deadlines`, :mod:`.audit_log`,
:mod:`.casework`, :mod:`.alerts`, :mod:`.data_keys`) behind :class:`.uow.SqlUnitOfWork`; the old
one-class repository survives as the facade :class:`.legacy.LegacyRepository` (``uow.repo``).
The value types are the domain's own.
"""

from __future__ import annotations

from collections.abc import Callable

from dsar.domain.alerts import Alert, NewAlert, WatchCandidate, WatchColumn
from dsar.domain.deadlines import Deadline, PauseRecord
from dsar.domain.events import AuditEntry, CheckpointRecord
from dsar.persistence.legacy import AuditAppend, PlanStep
from dsar.persistence.legacy import LegacyRepository as Repository
from dsar.persistence.requests import SHREDDED, lookup_tokens, new_request_id
from dsar.persistence.uow import SqlUnitOfWork as UnitOfWork
from dsar.services.ports import RequestQuery

UnitOfWorkFactory = Callable[[], UnitOfWork]

__all__ = [
    "SHREDDED",
    "Alert",
    "AuditAppend",
    "AuditEntry",
    "CheckpointRecord",
    "Deadline",
    "NewAlert",
    "PauseRecord",
    "PlanStep",
    "Repository",
    "RequestQuery",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WatchCandidate",
    "WatchColumn",
    "lookup_tokens",
    "new_request_id",
]
