"""follow-up indicators: a covering index on visit date

Revision ID: f003
Revises: f002
Create Date: 2026-11-22

Indicators read a year of visits; on PostgreSQL this index lets them read narrow index tuples (index-only
scan) instead of the wide rows that carry each form and assessment as JSON. Elsewhere it is a plain index.
"""
from alembic import op

revision = "f003"
down_revision = "f002"
branch_labels = None
depends_on = None

INCLUDE = ["id", "resident_id", "condition", "kind", "visit_mode", "emergency", "missing_count", "bp_controlled",
           "fpg_controlled"]


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_visit_date_indicators", ["visit_date"], unique=False,
                              postgresql_include=INCLUDE)


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_visit_date_indicators", postgresql_include=INCLUDE)
