"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:56:55.758123
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("idempotency_key", AutoString(length=200), nullable=False),
        sa.Column("details_enc", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", AutoString(length=64), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_request_id"), ["request_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The chain starts from the all-zero genesis hash (dsar.audit.chain.GENESIS).
    op.bulk_insert(
        sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash", sa.String)),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("step", AutoString(length=64), nullable=False),
        sa.Column("decision", AutoString(length=16), nullable=False),
        sa.Column("approver", AutoString(length=200), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "step"),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_request_id"), ["request_id"], unique=False)

    op.create_table(
        "letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("template", AutoString(length=200), nullable=False),
        sa.Column("message_id", AutoString(length=200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "kind"),
    )
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letter_request_id"), ["request_id"], unique=False)

    op.create_table(
        "plan_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("system", AutoString(length=64), nullable=False),
        sa.Column("operation", AutoString(length=16), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("detail", AutoString(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "system", "operation"),
    )
    with op.batch_alter_table("plan_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_step_request_id"), ["request_id"], unique=False)

    op.create_table(
        "privacy_request",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("reference", AutoString(length=32), nullable=False),
        sa.Column("type", AutoString(length=16), nullable=False),
        sa.Column("access_scope", AutoString(length=32), nullable=True),
        sa.Column("regime", AutoString(length=16), nullable=False),
        sa.Column("country", AutoString(length=2), nullable=False),
        sa.Column("subdivision", AutoString(length=8), nullable=True),
        sa.Column("channel", AutoString(length=8), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("received_tz", AutoString(length=64), nullable=False),
        sa.Column("logged_at", UTCDateTime(), nullable=False),
        sa.Column("status", AutoString(length=32), nullable=False),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("acknowledge_by", sa.Date(), nullable=True),
        sa.Column("extension_notice_by", sa.Date(), nullable=True),
        sa.Column("extended_due", sa.Date(), nullable=True),
        sa.Column("linked_to", AutoString(length=32), nullable=True),
        sa.Column("flow_run_id", AutoString(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject_emails_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("subject_address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("subject_account_id_enc", sa.LargeBinary(), nullable=True),
        sa.Column("subject_extra_enc", sa.LargeBinary(), nullable=True),
        sa.Column("agent_enc", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_request_due"), ["due"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_request_reference"), ["reference"], unique=True)
        batch_op.create_index(batch_op.f("ix_privacy_request_status"), ["status"], unique=False)

    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("system", AutoString(length=64), nullable=False),
        sa.Column("operation", AutoString(length=16), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("object_key", AutoString(length=300), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "system", "operation"),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_request_id"), ["request_id"], unique=False)

    op.create_table(
        "reference_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "request_key",
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("key_id", AutoString(length=128), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_table(
        "subject_lookup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("token", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "kind", "token"),
    )
    with op.batch_alter_table("subject_lookup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_lookup_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_lookup_token"), ["token"], unique=False)

    op.create_table(
        "verification_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", AutoString(length=32), nullable=False),
        sa.Column("channel", AutoString(length=16), nullable=False),
        sa.Column("code_digest", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_challenge_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_challenge_request_id"))

    op.drop_table("verification_challenge")
    with op.batch_alter_table("subject_lookup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_lookup_token"))
        batch_op.drop_index(batch_op.f("ix_subject_lookup_request_id"))

    op.drop_table("subject_lookup")
    op.drop_table("request_key")
    op.drop_table("reference_counter")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_request_id"))

    op.drop_table("receipt")
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_request_status"))
        batch_op.drop_index(batch_op.f("ix_privacy_request_reference"))
        batch_op.drop_index(batch_op.f("ix_privacy_request_due"))

    op.drop_table("privacy_request")
    with op.batch_alter_table("plan_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_step_request_id"))

    op.drop_table("plan_step")
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letter_request_id"))

    op.drop_table("letter")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_request_id"))

    op.drop_table("decision")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_request_id"))

    op.drop_table("audit_event")
