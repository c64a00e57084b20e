"""Notifications: the in-app inbox, the SMS outbox, a resident's consent to SMS

Revision ID: n001
Revises: r001
Create Date: 2026-12-06

Issue 13 item 5. inbox_items: one notice per user (read_at once read). sms_outbox: text messages queued in
the transaction of the change that caused them, sent by the worker (python -m server.manage notify-worker)
with their delivery status (pending/sent/failed, attempts, last error); the due-queue index is partial on
PostgreSQL (pending rows only). residents.sms_consent (+ when it was recorded): no SMS to a resident
without it. After r001: notices point at referrals. Downgrade drops the tables and the two columns.
"""
from alembic import op
import sqlalchemy as sa

revision = "n001"
down_revision = "r001"
branch_labels = ("notifications",)
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_inbox_items_user_id_users")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], name=op.f("fk_inbox_items_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_items")),
    )
    op.create_index("ix_inbox_items_user_read", "inbox_items", ["user_id", "read_at", "id"])
    op.create_table(
        "sms_outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.String(length=36), nullable=True),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("center_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway_ref", sa.String(length=100), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_sms_outbox_status")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sms_outbox_user_id_users")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], name=op.f("fk_sms_outbox_resident_id_residents")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], name=op.f("fk_sms_outbox_referral_id_referrals")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_sms_outbox_team_id_teams")),
        sa.ForeignKeyConstraint(["center_id"], ["centers.id"], name=op.f("fk_sms_outbox_center_id_centers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_outbox_dedupe_key")),
    )
    op.create_index("ix_sms_outbox_due", "sms_outbox", ["next_attempt_at", "id"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_sms_outbox_referral", "sms_outbox", ["referral_id"])
    op.create_index("ix_sms_outbox_team_center", "sms_outbox", ["team_id", "center_id"])
    # Plain ALTER TABLE on both (no batch copy of residents: SQLite's batch mode would lose its expression
    # index ix_residents_record_last8, which it cannot reflect).
    op.add_column("residents", sa.Column("sms_consent", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("residents", sa.Column("sms_consent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("residents", "sms_consent_at")  # SQLite 3.35+ drops a column in place
    op.drop_column("residents", "sms_consent")
    op.drop_index("ix_sms_outbox_team_center", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_referral", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_due", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_index("ix_inbox_items_user_read", table_name="inbox_items")
    op.drop_table("inbox_items")
