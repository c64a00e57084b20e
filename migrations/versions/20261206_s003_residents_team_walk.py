"""an index on residents (team_id, id): a tablet's first sync walks its team's residents in id order

Revision ID: s003
Revises: s002
Create Date: 2026-12-06

Snapshot pages (server/sync/services._snapshot_page) are keyset pages along the parents' ids: residents, then
each resident's visits, conditions, lab reports and their rows. With this index the walk starts where the last
page ended and reads in order; without it every page sorted all of the team's 15,000 residents again (a
parallel scan and sort, ~70 ms a page on a loaded 2-core machine, against ~1 ms). On 8 full teams a follow-up
page took 700 ms before keyset paths (all 32,000 visits of the team joined and sorted), 55 ms after.
"""
from alembic import op

revision = "s003"
down_revision = "s002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_residents_team_id_id", "residents", ["team_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_residents_team_id_id", table_name="residents")
