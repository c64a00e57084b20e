"""lab_messages.suggested_resident_id: the resident matching suggests for a queued message

Revision ID: l004
Revises: l003
Create Date: 2026-11-29

Name + birth date + sex no longer files a message (never guessed): a lone namesake is queued as
name_birth_sex_candidate with that resident suggested for staff to confirm. The suggestion is a reference to
the resident, kept in its own column rather than written into match_note and parsed back. No backfill: until
that change (a1699f0, the same day, never released) such messages were filed, not queued.
"""
from alembic import op
import sqlalchemy as sa

revision = 'l004'
down_revision = 'l003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_resident_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lab_messages_suggested_resident_id_residents'), 'residents',
                                    ['suggested_resident_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.drop_constraint('fk_lab_messages_suggested_resident_id_residents', type_='foreignkey')
        batch_op.drop_column('suggested_resident_id')
