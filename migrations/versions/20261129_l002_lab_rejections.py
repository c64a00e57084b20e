"""Lab rejections: messages a feed sent that were refused (AR/AE, FHIR 422), kept with their bytes.

Revision ID: l002
Revises: l001
Create Date: 2026-11-29

Before this, a refused message was only logged; now nothing a hospital sent is lost.
"""
from alembic import op
import sqlalchemy as sa


revision = 'l002'
down_revision = 'l001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lab_rejections',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('transport', sa.String(length=10), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('encoding', sa.String(length=40), nullable=True),
    sa.Column('sending_facility', sa.String(length=200), nullable=False),
    sa.Column('control_id', sa.String(length=200), nullable=True),
    sa.Column('ack_code', sa.String(length=2), nullable=False),
    sa.Column('error_code', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('storage_failed', sa.Boolean(), nullable=False),
    sa.Column('ack', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['lab_feeds.id'], name=op.f('fk_lab_rejections_feed_id_lab_feeds')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_lab_rejections_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_rejections'))
    )
    op.create_index('ix_lab_rejections_feed_received', 'lab_rejections', ['feed_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_lab_rejections_feed_received', table_name='lab_rejections')
    op.drop_table('lab_rejections')
