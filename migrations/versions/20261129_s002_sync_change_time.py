"""sync change log: when each change was logged (for pruning)

Revision ID: s002
Revises: s001
Create Date: 2026-11-29

sync_changes.changed_at, filled by the database, so old changes (removals included) can be pruned after a
documented horizon (server.sync.services.prune_changes); a tablet whose cursor is older downloads afresh.
Nullable, default CURRENT_TIMESTAMP (PostgreSQL adds it without rewriting the table: rows already there
get the time of the upgrade).
"""
from alembic import op
import sqlalchemy as sa

revision = 's002'
down_revision = 's001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True,
                                      server_default=sa.text('CURRENT_TIMESTAMP')))


def downgrade() -> None:
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.drop_column('changed_at')
