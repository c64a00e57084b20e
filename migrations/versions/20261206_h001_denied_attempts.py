"""denied_attempts: refused requests counted per minute instead of one audit row each

Revision ID: h001
Revises: 0002
Create Date: 2026-12-06

Every 401/403 wrote an audit row, so anyone could fill audit_events with refused requests. Now the first
refusal per minute, address, caller, endpoint and status keeps its full audit row and the repeats are
counted here (server/audit/requests.py).
"""
from alembic import op
import sqlalchemy as sa

revision = 'h001'
down_revision = '0002'
branch_labels = ('audit',)
depends_on = None


def upgrade() -> None:
    op.create_table('denied_attempts',
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('endpoint', sa.String(length=120), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('minute', 'address', 'username', 'endpoint', 'status', name=op.f('pk_denied_attempts'))
    )
    op.create_index('ix_denied_attempts_address_minute', 'denied_attempts', ['address', 'minute'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_denied_attempts_address_minute', table_name='denied_attempts')
    op.drop_table('denied_attempts')
