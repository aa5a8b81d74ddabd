"""an index on the audit trail's event kinds (issue 11: legal's queue)

Legal's queue and the sweep for missed escalation targets read the events of every open
request; with this index they find the escalated requests first (``EscalationRaised``) and
read only theirs. The kind column is plain text (the payload stays sealed).

Revision ID: 0014_audit_event_kind_index
Revises: 0013_verification_sweep_index
Create Date: 2026-12-06 17:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0014_audit_event_kind_index"
down_revision = "0013_verification_sweep_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_kind_request_id", "audit_event", ["kind", "request_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_kind_request_id", table_name="audit_event")
