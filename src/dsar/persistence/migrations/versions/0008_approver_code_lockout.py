"""lock-out of an approver's authenticator codes

``totp_failures``: wrong codes counted since ``totp_failed_since``; ``totp_locked_until``: the
end of the lock-out after 5 wrong codes within 15 minutes (dsar.domain.lockout).

Revision ID: s11_code_lockout
Revises: 0007
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = "s11_code_lockout"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("totp_failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("totp_failed_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("totp_locked_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("totp_locked_until")
        batch.drop_column("totp_failed_since")
        batch.drop_column("totp_failures")
