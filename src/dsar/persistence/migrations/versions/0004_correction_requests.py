"""correction requests: what the subject asks to correct, encrypted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privacy_request") as batch:
        batch.add_column(sa.Column("corrections_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("privacy_request") as batch:
        batch.drop_column("corrections_enc")
