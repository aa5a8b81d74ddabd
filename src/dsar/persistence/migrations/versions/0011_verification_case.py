"""identity verification cases (issue 17)

One row per request: the level required (JSON), the proofs given, the single-use link, code and
page session as keyed digests, tries, sends, and the sealed record of what the system of record
holds (contact on file, data points, linked identifiers) and the sealed declaration.

Revision ID: 0008_verification_case
Revises: letters_0008
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = "0008_verification_case"
down_revision = "letters_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_case",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("system", sa.String(64), nullable=True),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("proofs", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("link_digest", sa.String(64), nullable=True),
        sa.Column("code_digest", sa.String(64), nullable=True),
        sa.Column("session_digest", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("wakes", sa.Integer(), nullable=False),
        sa.Column("record_enc", sa.LargeBinary(), nullable=True),
        sa.Column("declaration_enc", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_verification_case_request_id", "verification_case", ["request_id"], unique=True)
    op.create_index("ix_verification_case_link_digest", "verification_case", ["link_digest"])
    op.create_index("ix_verification_case_session_digest", "verification_case", ["session_digest"])


def downgrade() -> None:
    op.drop_table("verification_case")
