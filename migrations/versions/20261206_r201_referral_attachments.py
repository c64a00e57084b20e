"""Referral attachments: images (JPEG/PNG) of a case, stored in the database

Revision ID: r201
Revises: r001
Create Date: 2026-12-06

Issue 13 item 2. One row per image with its bytes (size-limited by the API; why the database and not the
instance folder: see server/referrals/models.ReferralAttachment). Lab reports are attached by reference in
referrals.lab_report_ids, as before. New table only; downgrade drops it.
"""
from alembic import op
import sqlalchemy as sa

revision = "r201"
down_revision = "r001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("caption", sa.String(length=200), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png')",
                           name=op.f("ck_referral_attachments_content_type")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"],
                                name=op.f("fk_referral_attachments_referral_id_referrals")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_referral_attachments_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_attachments")),
    )
    op.create_index("ix_referral_attachments_referral_id", "referral_attachments", ["referral_id"])


def downgrade() -> None:
    op.drop_index("ix_referral_attachments_referral_id", table_name="referral_attachments")
    op.drop_table("referral_attachments")
