"""Referral inbox indexes: the owner's cases, and a pool's unclaimed ones

Revision ID: r202
Revises: r201
Create Date: 2026-12-06

A specialist's inbox selects cases named to them OR owned by them OR unclaimed in their pool; PostgreSQL
combines the three arms with a BitmapOr only when each has an index. Measured on the benchmark district
(10,000 open, 100,000 closed; bench/bench_referrals.py): the inbox query read 8,000 open rows through
ix_referrals_team_state before, 130 heap blocks with these. The pool index is partial on PostgreSQL
(unclaimed cases only); SQLite gets a plain one under the same name.
"""
from alembic import op
import sqlalchemy as sa

revision = "r202"
down_revision = "r201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_referrals_owner_state", "referrals", ["owner_id", "state"])
    op.create_index("ix_referrals_pool_unclaimed", "referrals", ["hospital_id", "department", "state"],
                    postgresql_where=sa.text("specialist_id IS NULL AND owner_id IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_referrals_pool_unclaimed", table_name="referrals")
    op.drop_index("ix_referrals_owner_state", table_name="referrals")
