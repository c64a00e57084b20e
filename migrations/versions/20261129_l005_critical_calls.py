"""lab_reports.critical_call_*: the team's note of phoning a critical value through to the patient

Revision ID: l005
Revises: l004
Create Date: 2026-11-29

Standards section 6: critical values (HH/LL) are phoned through and the call noted. The printed report had a
line for the note and nothing to fill it from (it always read 未记录). The team notes the call
(PUT /api/v1/lab-reports/<id>/critical-call): when the call was made, who, what was said, and when it was
noted, and the version of the report it covered (its changed_at: a correction arriving later asks for a
new call). Existing reports have no note.
"""
from alembic import op
import sqlalchemy as sa

revision = 'l005'
down_revision = 'l004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('critical_call_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('critical_call_noted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('critical_call_covers', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('critical_call_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('critical_call_note', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lab_reports_critical_call_by_users'), 'users',
                                    ['critical_call_by'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.drop_constraint('fk_lab_reports_critical_call_by_users', type_='foreignkey')
        batch_op.drop_column('critical_call_note')
        batch_op.drop_column('critical_call_by')
        batch_op.drop_column('critical_call_covers')
        batch_op.drop_column('critical_call_noted_at')
        batch_op.drop_column('critical_call_at')
