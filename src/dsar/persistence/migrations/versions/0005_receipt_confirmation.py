"""receipt confirmation: when it was given, and the watch on its statutory date

Requests logged before this revision that received a one-time code had their receipt
confirmed by that letter (it names the request, the verification step and the due date):
they are marked at the time of their first code. Open requests with an ``acknowledge_by``
and no code yet are put under the watch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privacy_request") as batch:
        batch.add_column(sa.Column("acknowledged_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("ack_watch", sa.Date(), nullable=True))
        batch.create_index("ix_privacy_request_ack_watch", ["ack_watch"], unique=False)
    op.execute(
        "UPDATE privacy_request SET acknowledged_at = "
        "(SELECT MIN(c.created_at) FROM verification_challenge c WHERE c.request_id = privacy_request.id)"
    )
    op.execute(
        "UPDATE privacy_request SET ack_watch = acknowledge_by "
        "WHERE acknowledge_by IS NOT NULL AND acknowledged_at IS NULL AND status NOT IN ('closed', 'denied', 'withdrawn')"
    )


def downgrade() -> None:
    with op.batch_alter_table("privacy_request") as batch:
        batch.drop_index("ix_privacy_request_ack_watch")
        batch.drop_column("ack_watch")
        batch.drop_column("acknowledged_at")
