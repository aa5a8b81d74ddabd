"""A request's stored dates, its stop-the-clock pauses and its confirmation of receipt, in SQL.

The dates live on the ``privacy_request`` row (the deadline watch reads them with the status);
pauses in ``clock_pause``, their reasons sealed under the request's key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from dsar.domain.deadlines import Deadline, PauseRecord
from dsar.domain.errors import NotFound
from dsar.persistence.damage import intact
from dsar.persistence.requests import request_row, rewatch
from dsar.persistence.sealing import Sealer
from dsar.persistence.tables import ClockPauseRow, RequestRow, as_utc_or_none


class SqlDeadlines:
    """:class:`dsar.services.ports.DeadlineRepository` over ``privacy_request`` and ``clock_pause``."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    def get(self, request_id: str) -> Deadline:
        row = request_row(self._s, request_id)
        with intact(f"the deadline of request {row.reference}"):
            return self._deadline(row)

    @staticmethod
    def _deadline(row: RequestRow) -> Deadline:
        return Deadline(
            due=row.due,
            acknowledge_by=row.acknowledge_by,
            extension_notice_by=row.extension_notice_by,
            extended_due=row.extended_due,
            statutory_due=row.statutory_due or row.due,
            extended=row.extended,
            paused_days=row.paused_days,
            clock_stopped=row.clock_stopped,
            acknowledged_at=as_utc_or_none(row.acknowledged_at),
        )

    def save(self, request_id: str, deadline: Deadline) -> None:
        """Store recomputed dates (after an extension or a pause); the statutory date stays."""
        d, row = deadline, request_row(self._s, request_id)
        row.due, row.acknowledge_by = d.due, d.acknowledge_by
        row.extension_notice_by, row.extended_due = d.extension_notice_by, d.extended_due
        row.extended, row.paused_days, row.clock_stopped = d.extended, d.paused_days, d.clock_stopped
        row.version += 1
        rewatch(row)
        self._s.add(row)
        self._s.flush()

    def mark_acknowledged(self, request_id: str, at: datetime) -> bool:
        """Record that receipt was confirmed to the subject; False if it already was (the
        first confirmation is the one that counts against ``acknowledge_by``)."""
        row = request_row(self._s, request_id)
        if row.acknowledged_at is not None:
            return False
        row.acknowledged_at, row.version = at, row.version + 1
        rewatch(row)
        self._s.add(row)
        self._s.flush()
        return True

    def add_pause(self, request_id: str, asked_on: date, reason: str | None, at: datetime) -> int:
        row = ClockPauseRow(request_id=request_id, asked_on=asked_on, at=at)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        if reason:
            row.reason_enc = self._sealer.seal(request_id, reason.encode(), f"pause/{request_id}/{row.id}")
            self._s.add(row)
            self._s.flush()
        return row.id

    def answer_pause(self, pause_id: int, answered_on: date) -> None:
        row = self._s.get(ClockPauseRow, pause_id)
        if row is None:
            raise NotFound(f"no pause {pause_id}")
        row.answered_on = answered_on
        self._s.add(row)
        self._s.flush()

    def pauses(self, request_id: str) -> list[PauseRecord]:
        rows = self._s.exec(select(ClockPauseRow).where(ClockPauseRow.request_id == request_id).order_by(col(ClockPauseRow.id)))
        return [
            PauseRecord(
                r.id or 0,
                r.asked_on,
                r.answered_on,
                self._sealer.open(request_id, r.reason_enc, f"pause/{request_id}/{r.id}").decode() if r.reason_enc else None,
            )
            for r in rows
        ]
