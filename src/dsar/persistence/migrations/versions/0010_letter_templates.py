"""letters as approved scripts, in the subject's language, and the mail ledger

``template_approval``: legal's approval of one version (SHA-256) of one template file, with
the text approved (to show what changed since) and the authenticator step that proved it.
``privacy_request.language``: the language the subject's letters are written in.
``letter.version`` / ``letter.language``: what each sent letter was made from.
``mail_ledger``: every message a transport accepted, by message id: a re-run never sends twice
(SMTP and SES keep no outbox file to look at).

Revision ID: letters_0008
Revises: pkg12_access_packages
Create Date: 2026-12-06 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "letters_0008"
down_revision = "pkg12_access_packages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", AutoString(length=200), nullable=False, index=True),
        sa.Column("version", AutoString(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("approver", AutoString(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=False),
        sa.Column("totp_step", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("path", "version"),
    )
    op.create_table(
        "mail_ledger",
        sa.Column("message_id", AutoString(length=200), primary_key=True),
        sa.Column("transport", AutoString(length=16), nullable=False),
        sa.Column("provider_id", AutoString(length=200), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("privacy_request") as batch:
        batch.add_column(sa.Column("language", AutoString(length=8), nullable=False, server_default="en"))
    with op.batch_alter_table("letter") as batch:
        batch.add_column(sa.Column("version", AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("language", AutoString(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("letter") as batch:
        batch.drop_column("language")
        batch.drop_column("version")
    with op.batch_alter_table("privacy_request") as batch:
        batch.drop_column("language")
    op.drop_table("mail_ledger")
    op.drop_table("template_approval")
