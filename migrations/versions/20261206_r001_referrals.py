"""Referrals to hospital specialists: departments, specialists' directory entries, referrals, their thread

Revision ID: r001
Revises: f004
Create Date: 2026-12-06

Issue 13, the closed loop. departments: a hospital's specialty pools (hospital + department name, the name
as in users.department); specialist_entries: the directory entry of a specialist user (specialty, title,
clinic sessions, e-consultations, a phone for teams). referrals: one case with its state (gpcore/referral),
the upward form and later the answer and the return form as JSON, and the follow-up visit that closed it
(hence after f004: it refers to followups). referral_messages: the case's append-only thread.
New tables only; downgrade drops them.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "r001"
down_revision = "f004"
branch_labels = ("referrals",)
depends_on = None


def upgrade() -> None:
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('specialty', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_departments_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('hospital_id', 'name', name=op.f('uq_departments_hospital_id_name'))
    )
    op.create_table('specialist_entries',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('specialty', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=20), nullable=False),
    sa.Column('clinic_sessions', sa.JSON(), nullable=False),
    sa.Column('takes_econsult', sa.Boolean(), nullable=False),
    sa.Column('phone_for_teams', sa.String(length=30), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_specialist_entries_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_specialist_entries'))
    )
    op.create_table('referrals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('resident_id', sa.String(length=36), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=60), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('info_from', sa.String(length=16), nullable=True),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('form', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('lab_report_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('return_form', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('response_due', sa.Date(), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('follow_up_due', sa.Date(), nullable=True),
    sa.Column('closing_followup_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('econsult', 'transfer')", name=op.f('ck_referrals_kind')),
    sa.CheckConstraint("state IN ('requested', 'info_requested', 'accepted', 'declined', 'answered', 'returned', 'closed', 'cancelled')", name=op.f('ck_referrals_state')),
    sa.CheckConstraint("urgency IN ('routine', 'urgent', 'emergency')", name=op.f('ck_referrals_urgency')),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_referrals_center_id_centers')),
    sa.ForeignKeyConstraint(['closing_followup_id'], ['followups.id'], name=op.f('fk_referrals_closing_followup_id_followups')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_referrals_created_by_users')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_referrals_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_referrals_owner_id_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_referrals_resident_id_residents')),
    sa.ForeignKeyConstraint(['specialist_id'], ['users.id'], name=op.f('fk_referrals_specialist_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_referrals_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    op.create_index('ix_referrals_pool_state', 'referrals', ['hospital_id', 'department', 'state'], unique=False)
    op.create_index('ix_referrals_resident', 'referrals', ['resident_id'], unique=False)
    op.create_index('ix_referrals_specialist_state', 'referrals', ['specialist_id', 'state'], unique=False)
    op.create_index('ix_referrals_team_state', 'referrals', ['team_id', 'state'], unique=False)
    op.create_table('referral_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('author_name', sa.String(length=60), nullable=False),
    sa.Column('author_role', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('state_after', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_referral_messages_author_id_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_messages_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_messages'))
    )
    op.create_index('ix_referral_messages_referral_id', 'referral_messages', ['referral_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_referral_messages_referral_id', table_name='referral_messages')
    op.drop_table('referral_messages')
    op.drop_index('ix_referrals_team_state', table_name='referrals')
    op.drop_index('ix_referrals_specialist_state', table_name='referrals')
    op.drop_index('ix_referrals_resident', table_name='referrals')
    op.drop_index('ix_referrals_pool_state', table_name='referrals')
    op.drop_table('referrals')
    op.drop_table('specialist_entries')
    op.drop_table('departments')
