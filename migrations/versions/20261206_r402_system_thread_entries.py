"""system thread entries: an entry with no author account

Revision ID: r402
Revises: r401
Create Date: 2026-12-06

Issue 13: the escalation of an overdue case (`gpo escalate-referrals`, run by cron) and a household's move to
another team write an entry in the case's thread, so the specialist, the pool and the team read who moved the
case, when and why. Nobody signed in does it: such an entry has no author account (author_id NULL,
author_role 'system').
"""
from alembic import op
import sqlalchemy as sa

revision = "r402"
down_revision = "r401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral_messages") as batch:
        batch.alter_column("author_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # A system entry has no author to give back: it goes with the downgrade (the thread loses only those).
    op.execute("DELETE FROM referral_messages WHERE author_id IS NULL")
    with op.batch_alter_table("referral_messages") as batch:
        batch.alter_column("author_id", existing_type=sa.Integer(), nullable=False)
