"""The deadline watch's alerts in SQL: one row per request, date and kind (the unique key is
what makes a re-run of the watch raise nothing new). References and dates, no personal data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import UniqueConstraint, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

from dsar.domain.alerts import Alert, NewAlert, WatchCandidate, WatchColumn
from dsar.persistence.sealing import IN_CHUNK
from dsar.persistence.tables import RequestRow, as_utc, as_utc_or_none, refused_if_exists


class DeadlineAlertRow(SQLModel, table=True):
    """One deadline alert per request, kind and due date: the unique key is what makes a
    re-run of the watch send nothing new. Holds the reference and dates, never personal data."""

    __tablename__ = "deadline_alert"
    __table_args__ = (UniqueConstraint("request_id", "due", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=32)
    reference: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    due: date
    days_left: int
    raised_at: datetime
    # False when a more urgent alert raised in the same sweep covers this one.
    notify: bool = True
    delivered_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class SqlAlerts:
    """:class:`dsar.services.ports.AlertRepository` over ``deadline_alert`` and the watched
    columns of ``privacy_request``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def watch_candidates(self, horizon: date, column: WatchColumn = "watch_due") -> list[WatchCandidate]:
        """Open requests whose watched date (``watch_due``: the response; ``ack_watch``: the
        receipt confirmation) is on or before ``horizon``: an index range scan, the column
        being NULL for everything not watched."""
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        watched = r[column]
        stmt = (
            sa_select(r.id, r.reference, r.regime, r.status, watched, r.extended)
            .where(watched.is_not(None), watched <= horizon)
            .order_by(watched, r.reference)
        )
        return [WatchCandidate(i, ref, reg, st, d, ext) for i, ref, reg, st, d, ext in self._s.connection().execute(stmt)]

    def alerted(self, horizon: date, column: WatchColumn = "watch_due") -> set[tuple[str, date, str]]:
        r, a = RequestRow.__table__.c, DeadlineAlertRow.__table__.c  # type: ignore[attr-defined]
        watched = r[column]
        stmt = (
            sa_select(a.request_id, a.due, a.kind)
            .join_from(RequestRow.__table__, DeadlineAlertRow.__table__, (a.request_id == r.id) & (a.due == watched))  # type: ignore[attr-defined]
            .where(watched.is_not(None), watched <= horizon)
        )
        return {(rid, d, k) for rid, d, k in self._s.connection().execute(stmt)}

    def add(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        if not alerts:
            return
        with refused_if_exists("an alert for one of these requests, dates and kinds"):
            self._insert(alerts, at)

    def _insert(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        self._s.connection().execute(
            DeadlineAlertRow.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "request_id": a.request_id,
                    "reference": a.reference,
                    "kind": a.kind,
                    "due": a.due,
                    "days_left": a.days_left,
                    "raised_at": at,
                    "notify": a.notify,
                    # An alert a more urgent one covers is never sent: it counts as delivered.
                    "delivered_at": None if a.notify else at,
                    "attempts": 0,
                    "last_error": None,
                }
                for a in alerts
            ],
        )

    def undelivered(self, max_attempts: int) -> list[Alert]:
        stmt = (
            select(DeadlineAlertRow)
            .where(col(DeadlineAlertRow.delivered_at).is_(None), col(DeadlineAlertRow.attempts) < max_attempts)
            .order_by(col(DeadlineAlertRow.id))
        )
        return [_alert(r) for r in self._s.exec(stmt)]

    def record_delivery(self, alert_ids: Sequence[int], at: datetime, error: str | None) -> None:
        """One more delivery attempt of these alerts: delivered at ``at``, or failed with ``error``."""
        a = DeadlineAlertRow.__table__.c  # type: ignore[attr-defined]
        values: dict[str, Any] = {"attempts": a.attempts + 1}
        values.update({"delivered_at": at, "last_error": None} if error is None else {"last_error": error[:500]})
        conn = self._s.connection()
        ids = list(alert_ids)
        for chunk in range(0, len(ids), IN_CHUNK):
            conn.execute(update(DeadlineAlertRow.__table__).where(a.id.in_(ids[chunk : chunk + IN_CHUNK])).values(**values))  # type: ignore[attr-defined]

    def supersede(self, alert_ids: Sequence[int], at: datetime) -> None:
        a = DeadlineAlertRow.__table__.c  # type: ignore[attr-defined]
        conn = self._s.connection()
        ids = list(alert_ids)
        for chunk in range(0, len(ids), IN_CHUNK):
            conn.execute(
                update(DeadlineAlertRow.__table__)  # type: ignore[attr-defined]
                .where(a.id.in_(ids[chunk : chunk + IN_CHUNK]), a.delivered_at.is_(None))
                .values(notify=False, delivered_at=at, last_error=None)
            )

    def recent(self, request_id: str | None = None, limit: int = 500) -> list[Alert]:
        stmt = select(DeadlineAlertRow)
        if request_id is not None:
            stmt = stmt.where(DeadlineAlertRow.request_id == request_id)
        stmt = stmt.order_by(col(DeadlineAlertRow.id).desc()).limit(limit)
        return [_alert(r) for r in self._s.exec(stmt)]


def _alert(r: DeadlineAlertRow) -> Alert:
    return Alert(
        r.id or 0,
        r.request_id,
        r.reference,
        r.kind,
        r.due,
        r.days_left,
        as_utc(r.raised_at),
        r.notify,
        as_utc_or_none(r.delivered_at),
        r.attempts,
        r.last_error,
    )
