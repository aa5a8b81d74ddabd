"""access packages (issue 12): the sealed package of an access request and its download link

``link_digest`` and ``code_digest`` are keyed digests of the link's token and of the one-time
code mailed before a download; neither value is stored.

Revision ID: pkg12_access_packages
Revises: s11_code_lockout
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "pkg12_access_packages"
down_revision = "s11_code_lockout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_package",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("object_key", AutoString(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sealed_size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("link_digest", AutoString(length=64), nullable=False),
        sa.Column("code_digest", AutoString(length=64), nullable=True),
        sa.Column("code_expires_at", UTCDateTime(), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("link_used_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_digest"),
    )
    op.create_index("ix_access_package_request_id", "access_package", ["request_id"])
    op.create_index("ix_access_package_expires_at", "access_package", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_access_package_expires_at", table_name="access_package")
    op.drop_index("ix_access_package_request_id", table_name="access_package")
    op.drop_table("access_package")
