"""Referrals: when an overdue case was escalated, and the named specialist it was taken from

Revision ID: r101
Revises: r001
Create Date: 2026-12-06

Issue 13, deadlines: a case nobody answered by its response deadline is escalated once (gpcore/referral/
escalation.py, run by `python -m server.manage escalate-referrals`): to the department pool and the center.
escalated_at marks it (the inbox and the center page show it); escalated_from_id keeps the specialist it was
addressed to by name, as the pool move clears specialist_id. Two nullable columns; downgrade drops them.
"""
from alembic import op
import sqlalchemy as sa

revision = "r101"
down_revision = "r001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalated_from_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_referrals_escalated_from_id_users"), "users", ["escalated_from_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_constraint(op.f("fk_referrals_escalated_from_id_users"), type_="foreignkey")
        batch.drop_column("escalated_from_id")
        batch.drop_column("escalated_at")
