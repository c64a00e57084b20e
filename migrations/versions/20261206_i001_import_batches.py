"""import_batches: the teams a district import has written (a rerun leaves them out)

Revision ID: i001
Revises: 0005
Create Date: 2026-12-06

A district import writes each team in its own transaction over several connections (issue 15, item 11);
each team's row here is written in that transaction, so a rerun after a team failed finds exactly the teams
that were committed.
"""
from alembic import op
import sqlalchemy as sa

revision = 'i001'
down_revision = '0005'
branch_labels = ('imports',)
depends_on = None


def upgrade() -> None:
    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=60), nullable=False),
    sa.Column('unit', sa.String(length=24), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('residents', sa.Integer(), nullable=False),
    sa.Column('conditions', sa.Integer(), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_import_batches_center_id_centers')),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_import_batches_imported_by_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_import_batches_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches')),
    sa.UniqueConstraint('batch', 'unit', name=op.f('uq_import_batches_batch_unit'))
    )


def downgrade() -> None:
    op.drop_table('import_batches')
