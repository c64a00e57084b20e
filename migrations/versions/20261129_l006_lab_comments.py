"""lab_results.comments and lab_reports.comments: the lab's notes (HL7 NTE, FHIR notes)

Revision ID: l006
Revises: l005
Create Date: 2026-11-29

HL7 v2 NTE segments were dropped; hospital labs put clinically important remarks there ("标本溶血，结果仅供参考"
after a potassium, the critical-value call after a critical one, remarks on the whole report after OBR).
Each is now a JSON list of texts, [] when the lab said nothing. NOT NULL like the tables' other JSON
columns, so existing rows get [] from the server default (no backfill: the notes of messages stored
before were never read; their raw bytes are kept in lab_messages if ever wanted).
"""
from alembic import op
import sqlalchemy as sa

revision = 'l006'
down_revision = 'l005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('lab_reports', 'lab_results'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('comments', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    for table in ('lab_results', 'lab_reports'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('comments')
