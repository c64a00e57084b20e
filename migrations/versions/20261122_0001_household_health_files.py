"""household health files

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:10:48.286456
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('centers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('township_code', sa.String(length=3), nullable=False),
    sa.Column('township_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centers')),
    sa.UniqueConstraint('code', name=op.f('uq_centers_code'))
    )
    op.create_table('hospitals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hospitals')),
    sa.UniqueConstraint('code', name=op.f('uq_hospitals_code'))
    )
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_login_failures_username_at', ['username', 'at'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_teams_center_id_centers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('center_id', 'name', name=op.f('uq_teams_center_id_name'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_center_id'), ['center_id'], unique=False)

    op.create_table('committees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=3), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_committees_center_id_centers')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_committees_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committees')),
    sa.UniqueConstraint('center_id', 'code', name=op.f('uq_committees_center_id_code'))
    )
    with op.batch_alter_table('committees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committees_center_id'), ['center_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committees_team_id'), ['team_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('full_name', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('team_role', sa.String(length=30), nullable=True),
    sa.Column('is_team_leader', sa.Boolean(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=True),
    sa.Column('hospital_id', sa.Integer(), nullable=True),
    sa.Column('department', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_users_center_id_centers')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_users_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_users_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_center_id'), ['center_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_team_id'), ['team_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('entity', sa.String(length=30), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('resident_id', sa.String(length=36), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=100), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_resident_at', ['resident_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_user_at', ['user_id', 'at'], unique=False)

    op.create_table('households',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('head_id', sa.String(length=36), nullable=True),
    sa.Column('kitchen_exhaust', sa.String(length=20), nullable=True),
    sa.Column('fuel', sa.String(length=20), nullable=True),
    sa.Column('water', sa.String(length=20), nullable=True),
    sa.Column('toilet', sa.String(length=20), nullable=True),
    sa.Column('livestock_pen', sa.String(length=20), nullable=True),
    sa.Column('health_problems', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_households_center_id_centers')),
    sa.ForeignKeyConstraint(['committee_id'], ['committees.id'], name=op.f('fk_households_committee_id_committees')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_households_created_by_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_households_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_center_id'), ['center_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_committee_id'), ['committee_id'], unique=False)
        batch_op.create_index('ix_households_team_committee_address', ['team_id', 'committee_id', 'address'], unique=False)

    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_type', sa.String(length=10), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_revoked_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    op.create_table('assignment_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('from_team_id', sa.Integer(), nullable=True),
    sa.Column('to_team_id', sa.Integer(), nullable=True),
    sa.Column('changed_by', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_assignment_changes_changed_by_users')),
    sa.ForeignKeyConstraint(['from_team_id'], ['teams.id'], name=op.f('fk_assignment_changes_from_team_id_teams')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_assignment_changes_household_id_households')),
    sa.ForeignKeyConstraint(['to_team_id'], ['teams.id'], name=op.f('fk_assignment_changes_to_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_changes'))
    )
    with op.batch_alter_table('assignment_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_changes_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_changes_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_changes_household_id'), ['household_id'], unique=False)

    op.create_table('residents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('record_number', sa.String(length=17), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('name_pinyin', sa.String(length=200), nullable=False),
    sa.Column('name_initials', sa.String(length=50), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('relation_to_head', sa.String(length=2), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('employer', sa.String(length=100), nullable=True),
    sa.Column('contact_name', sa.String(length=50), nullable=True),
    sa.Column('contact_phone', sa.String(length=30), nullable=True),
    sa.Column('residence_type', sa.String(length=1), nullable=True),
    sa.Column('ethnicity', sa.String(length=2), nullable=True),
    sa.Column('ethnicity_name', sa.String(length=20), nullable=True),
    sa.Column('blood_abo', sa.String(length=1), nullable=True),
    sa.Column('blood_rh', sa.String(length=10), nullable=True),
    sa.Column('education', sa.String(length=2), nullable=True),
    sa.Column('occupation', sa.String(length=2), nullable=True),
    sa.Column('marital_status', sa.String(length=1), nullable=True),
    sa.Column('payment_methods', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('drug_allergies', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('drug_allergy_other', sa.String(length=100), nullable=True),
    sa.Column('exposures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('past_diseases', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('procedures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('family_history', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hereditary_disease', sa.String(length=100), nullable=True),
    sa.Column('disabilities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('death_cause', sa.String(length=200), nullable=True),
    sa.Column('responsible_doctor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_residents_center_id_centers')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_residents_created_by_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_residents_household_id_households')),
    sa.ForeignKeyConstraint(['responsible_doctor_id'], ['users.id'], name=op.f('fk_residents_responsible_doctor_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_residents_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_residents')),
    sa.UniqueConstraint('id_number', name=op.f('uq_residents_id_number')),
    sa.UniqueConstraint('record_number', name=op.f('uq_residents_record_number'))
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_residents_center_id'), ['center_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_residents_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_residents_name_initials'), ['name_initials'], unique=False)
        batch_op.create_index(batch_op.f('ix_residents_phone'), ['phone'], unique=False)
        batch_op.create_index('ix_residents_team_initials', ['team_id', 'name_initials'], unique=False)
        batch_op.create_index('ix_residents_team_name', ['team_id', 'name'], unique=False)

    op.create_table('chronic_conditions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('resident_id', sa.String(length=36), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('diagnosed_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('status_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_chronic_conditions_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chronic_conditions')),
    sa.UniqueConstraint('resident_id', 'condition', name=op.f('uq_chronic_conditions_resident_id_condition'))
    )
    with op.batch_alter_table('chronic_conditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chronic_conditions_resident_id'), ['resident_id'], unique=False)

    op.create_table('resident_moves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.String(length=36), nullable=False),
    sa.Column('from_household_id', sa.String(length=36), nullable=False),
    sa.Column('to_household_id', sa.String(length=36), nullable=False),
    sa.Column('moved_by', sa.Integer(), nullable=False),
    sa.Column('moved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['from_household_id'], ['households.id'], name=op.f('fk_resident_moves_from_household_id_households')),
    sa.ForeignKeyConstraint(['moved_by'], ['users.id'], name=op.f('fk_resident_moves_moved_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_resident_moves_resident_id_residents')),
    sa.ForeignKeyConstraint(['to_household_id'], ['households.id'], name=op.f('fk_resident_moves_to_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident_moves'))
    )
    with op.batch_alter_table('resident_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_moves_resident_id'), ['resident_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resident_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_moves_resident_id'))

    op.drop_table('resident_moves')
    with op.batch_alter_table('chronic_conditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chronic_conditions_resident_id'))

    op.drop_table('chronic_conditions')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('ix_residents_team_name')
        batch_op.drop_index('ix_residents_team_initials')
        batch_op.drop_index(batch_op.f('ix_residents_phone'))
        batch_op.drop_index(batch_op.f('ix_residents_name_initials'))
        batch_op.drop_index(batch_op.f('ix_residents_household_id'))
        batch_op.drop_index(batch_op.f('ix_residents_center_id'))

    op.drop_table('residents')
    with op.batch_alter_table('assignment_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_changes_household_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_changes_changed_at'))
        batch_op.drop_index(batch_op.f('ix_assignment_changes_batch_id'))

    op.drop_table('assignment_changes')
    op.drop_table('revoked_tokens')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_team_committee_address')
        batch_op.drop_index(batch_op.f('ix_households_committee_id'))
        batch_op.drop_index(batch_op.f('ix_households_center_id'))

    op.drop_table('households')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_user_at')
        batch_op.drop_index('ix_audit_events_resident_at')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_team_id'))
        batch_op.drop_index(batch_op.f('ix_users_center_id'))

    op.drop_table('users')
    with op.batch_alter_table('committees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committees_team_id'))
        batch_op.drop_index(batch_op.f('ix_committees_center_id'))

    op.drop_table('committees')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_center_id'))

    op.drop_table('teams')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_username_at')
        batch_op.drop_index('ix_login_failures_address_at')

    op.drop_table('login_failures')
    op.drop_table('hospitals')
    op.drop_table('centers')
