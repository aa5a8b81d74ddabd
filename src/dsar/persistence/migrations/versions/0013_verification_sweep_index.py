"""an index for the verification sweep: open cases by expiry (issue 17)

The deadline watch's sweep (reminders, expiry) reads the open verification cases that expire
before a moment; without an index it read the whole table on every watch.

Revision ID: 0013_verification_sweep_index
Revises: pkg12_downloads
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0013_verification_sweep_index"
down_revision = "pkg12_downloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_verification_case_state_expires_at", "verification_case", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_verification_case_state_expires_at", table_name="verification_case")
