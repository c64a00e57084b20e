"""Lab results: hospital feeds, inbound messages (raw bytes, ACK), reports, result rows with history, seen.

Revision ID: l001
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = 'l001'
down_revision = '0002'
branch_labels = ('labs',)
depends_on = None


def upgrade() -> None:
    op.create_table('lab_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_hint', sa.String(length=8), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_lab_feeds_created_by_users')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_lab_feeds_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_feeds')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_lab_feeds_key_hash'))
    )
    with op.batch_alter_table('lab_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_feeds_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('lab_feed_centers',
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name=op.f('fk_lab_feed_centers_center_id_centers')),
    sa.ForeignKeyConstraint(['feed_id'], ['lab_feeds.id'], name=op.f('fk_lab_feed_centers_feed_id_lab_feeds')),
    sa.PrimaryKeyConstraint('feed_id', 'center_id', name=op.f('pk_lab_feed_centers'))
    )
    op.create_table('lab_messages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('transport', sa.String(length=10), nullable=False),
    sa.Column('sending_app', sa.String(length=200), nullable=False),
    sa.Column('sending_facility', sa.String(length=200), nullable=False),
    sa.Column('control_id', sa.String(length=200), nullable=False),
    sa.Column('message_type', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=60), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('encoding', sa.String(length=40), nullable=False),
    sa.Column('encoding_reason', sa.Text(), nullable=False),
    sa.Column('charset_declared', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ack_code', sa.String(length=2), nullable=True),
    sa.Column('ack', sa.LargeBinary(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('patient_name', sa.String(length=100), nullable=False),
    sa.Column('patient_name_alphabetic', sa.String(length=100), nullable=False),
    sa.Column('patient_sex', sa.String(length=1), nullable=False),
    sa.Column('patient_birth_date', sa.Date(), nullable=True),
    sa.Column('patient_id_number', sa.String(length=18), nullable=True),
    sa.Column('patient_identifiers', sa.JSON(), nullable=False),
    sa.Column('match_status', sa.String(length=12), nullable=False),
    sa.Column('match_method', sa.String(length=20), nullable=True),
    sa.Column('match_reason', sa.String(length=40), nullable=True),
    sa.Column('match_note', sa.Text(), nullable=True),
    sa.Column('resident_id', sa.String(length=36), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dismiss_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['lab_feeds.id'], name=op.f('fk_lab_messages_feed_id_lab_feeds')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_lab_messages_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_lab_messages_resident_id_residents')),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_lab_messages_resolved_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_messages')),
    sa.UniqueConstraint('feed_id', 'sending_facility', 'control_id', name=op.f('uq_lab_messages_feed_id_sending_facility_control_id'))
    )
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.create_index('ix_lab_messages_match_status_received_at', ['match_status', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_messages_patient_id_number'), ['patient_id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_messages_resident_id'), ['resident_id'], unique=False)

    op.create_table('lab_reports',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.String(length=36), nullable=True),
    sa.Column('filler_no', sa.String(length=100), nullable=True),
    sa.Column('placer_no', sa.String(length=100), nullable=False),
    sa.Column('panel_code', sa.String(length=60), nullable=False),
    sa.Column('panel_name', sa.String(length=200), nullable=False),
    sa.Column('panel_coding_system', sa.String(length=60), nullable=False),
    sa.Column('specimen_type', sa.String(length=100), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('specimen_received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=2), nullable=False),
    sa.Column('tester', sa.String(length=100), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('abnormal', sa.Boolean(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_lab_reports_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_lab_reports_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_reports')),
    sa.UniqueConstraint('hospital_id', 'filler_no', name=op.f('uq_lab_reports_hospital_id_filler_no'))
    )
    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_reports_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index('ix_lab_reports_resident_reported', ['resident_id', 'reported_at'], unique=False)

    op.create_table('lab_message_reports',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['lab_messages.id'], name=op.f('fk_lab_message_reports_message_id_lab_messages')),
    sa.ForeignKeyConstraint(['report_id'], ['lab_reports.id'], name=op.f('fk_lab_message_reports_report_id_lab_reports')),
    sa.PrimaryKeyConstraint('message_id', 'report_id', name=op.f('pk_lab_message_reports'))
    )
    with op.batch_alter_table('lab_message_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_message_reports_report_id'), ['report_id'], unique=False)

    op.create_table('lab_report_seen',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('seen_by', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['lab_reports.id'], name=op.f('fk_lab_report_seen_report_id_lab_reports')),
    sa.ForeignKeyConstraint(['seen_by'], ['users.id'], name=op.f('fk_lab_report_seen_seen_by_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_lab_report_seen_team_id_teams')),
    sa.PrimaryKeyConstraint('report_id', 'team_id', name=op.f('pk_lab_report_seen'))
    )
    op.create_table('lab_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('coding_system', sa.String(length=60), nullable=False),
    sa.Column('value_type', sa.String(length=5), nullable=False),
    sa.Column('value_text', sa.Text(), nullable=False),
    sa.Column('value_num', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('value_code', sa.String(length=60), nullable=False),
    sa.Column('comparator', sa.String(length=2), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('range_text', sa.String(length=200), nullable=False),
    sa.Column('range_low', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('range_high', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('range_by_sex', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('abnormal', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=2), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('observer', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['lab_messages.id'], name=op.f('fk_lab_results_message_id_lab_messages')),
    sa.ForeignKeyConstraint(['report_id'], ['lab_reports.id'], name=op.f('fk_lab_results_report_id_lab_reports')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['lab_results.id'], name=op.f('fk_lab_results_superseded_by_id_lab_results')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_results'))
    )
    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_results_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_lab_results_report_code', ['report_id', 'code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.drop_index('ix_lab_results_report_code')
        batch_op.drop_index(batch_op.f('ix_lab_results_message_id'))

    op.drop_table('lab_results')
    op.drop_table('lab_report_seen')
    with op.batch_alter_table('lab_message_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_message_reports_report_id'))

    op.drop_table('lab_message_reports')
    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_lab_reports_resident_reported')
        batch_op.drop_index(batch_op.f('ix_lab_reports_changed_at'))

    op.drop_table('lab_reports')
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_messages_resident_id'))
        batch_op.drop_index(batch_op.f('ix_lab_messages_patient_id_number'))
        batch_op.drop_index('ix_lab_messages_match_status_received_at')

    op.drop_table('lab_messages')
    op.drop_table('lab_feed_centers')
    with op.batch_alter_table('lab_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_feeds_hospital_id'))

    op.drop_table('lab_feeds')
