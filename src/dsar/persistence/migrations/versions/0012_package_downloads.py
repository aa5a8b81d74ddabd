"""access package downloads that can be restarted, and new links (issue 12 follow-up)

``download_starts``: downloads started through the current link (each after a fresh code);
``downloaded_at``: when one finished (the link is spent then, no longer when it starts);
``links_issued``: links issued after the first (a new link replaces the digest in
``link_digest`` and moves ``expires_at``); ``revision``: bumped by every save, the
compare-and-set concurrent downloads and new links are judged by.

Rows written before: a link spent by a download (``link_used_at`` set with fewer than five
wrong codes) counts as downloaded then, as it did.

Revision ID: pkg12_downloads
Revises: 0008_verification_case
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision = "pkg12_downloads"
down_revision = "0008_verification_case"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_package") as batch:
        batch.add_column(sa.Column("download_starts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("downloaded_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("links_issued", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE access_package SET downloaded_at = link_used_at, download_starts = 1 WHERE link_used_at IS NOT NULL AND code_attempts < 5"
    )


def downgrade() -> None:
    with op.batch_alter_table("access_package") as batch:
        batch.drop_column("revision")
        batch.drop_column("links_issued")
        batch.drop_column("downloaded_at")
        batch.drop_column("download_starts")
