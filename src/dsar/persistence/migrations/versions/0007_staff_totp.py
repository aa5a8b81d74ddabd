"""staff authenticators (TOTP) for legal's sign-off

``totp_secret_enc``: the account's TOTP secret sealed under the staff stream's data key;
``totp_last_step``: the last RFC 6238 time step a code of it was used (a code is good once).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret_enc")
