"""follow-up worklist status: the latest effective visit per patient and condition

Revision ID: f002
Revises: f001
Create Date: 2026-11-22

A cache the server keeps on every signed visit so a team's worklist reads one row per patient instead of
ranking every visit. Existing records (none before this branch) would be summarised by
server.followups.services.rebuild_status.
"""
from alembic import op
import sqlalchemy as sa


revision = "f002"
down_revision = "f001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('followup_status',
    sa.Column('resident_id', sa.String(length=36), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('followup_id', sa.String(length=36), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('visit_mode', sa.Integer(), nullable=True),
    sa.Column('classification', sa.Integer(), nullable=True),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('referral', sa.String(length=10), nullable=True),
    sa.Column('referred', sa.Boolean(), nullable=False),
    sa.Column('next_visit_date', sa.Date(), nullable=True),
    sa.Column('signed_by', sa.Integer(), nullable=False),
    sa.Column('last_face_to_face', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['followup_id'], ['followups.id'], name=op.f('fk_followup_status_followup_id_followups')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_followup_status_resident_id_residents')),
    sa.ForeignKeyConstraint(['signed_by'], ['users.id'], name=op.f('fk_followup_status_signed_by_users')),
    sa.PrimaryKeyConstraint('resident_id', 'condition', name=op.f('pk_followup_status'))
    )


def downgrade() -> None:
    op.drop_table('followup_status')
