"""The mail ledger (``mail_ledger``): every message SMTP or SES accepted, by message id.

Written in a transaction of its own right after the transport accepted the message: the letter's
own unit of work may still roll back (a crash before its commit), and the next run must then
find the message already sent rather than send it again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlmodel import Field, Session, SQLModel, select


class MailLedgerRow(SQLModel, table=True):
    """A message a mail transport accepted: a re-run never sends it again."""

    __tablename__ = "mail_ledger"

    message_id: str = Field(primary_key=True, max_length=200)
    transport: str = Field(max_length=16)
    provider_id: str | None = Field(default=None, max_length=200)
    sent_at: datetime


class SqlMailLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sent(self, message_id: str) -> bool:
        with Session(self._engine) as s:
            return s.exec(select(MailLedgerRow.message_id).where(MailLedgerRow.message_id == message_id)).first() is not None

    def message_for(self, provider_id: str) -> str | None:
        """dsar's message id of the message the transport knows as ``provider_id`` (SES's
        MessageId): a bounce notice names only the latter when it carries no headers."""
        with Session(self._engine) as s:
            return s.exec(select(MailLedgerRow.message_id).where(MailLedgerRow.provider_id == provider_id)).first()

    def record(self, message_id: str, transport: str, provider_id: str | None, at: datetime) -> None:
        with Session(self._engine) as s:
            s.add(MailLedgerRow(message_id=message_id, transport=transport, provider_id=provider_id, sent_at=at))
            try:
                s.commit()
            except SqlIntegrityError:  # recorded already (two runs raced): the message went once
                s.rollback()
