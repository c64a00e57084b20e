"""login_throttles replaces login_failures; users.token_generation

Revision ID: a001
Revises: 0002
Create Date: 2026-12-06

Sign-in throttling counted failures after the password check, so parallel guesses all passed the check
(30 parallel guesses: 19 checked against a limit of 5), and it locked an account for everyone after five
failures from anywhere. login_throttles holds one row per key (an account at an address, or an address):
the attempt is counted there, by a compare-and-set on `version`, before the password is checked, and
`not_before` holds the progressive delay. The old failure rows only ever mattered for 15 minutes: dropped.

users.token_generation: every token carries the generation it was issued under; changing the password
bumps it, so every older access and refresh token of that user stops working.
"""
from alembic import op
import sqlalchemy as sa

revision = 'a001'
down_revision = '0002'
branch_labels = ('auth',)
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=140), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_username_at')
        batch_op.drop_index('ix_login_failures_address_at')
    op.drop_table('login_failures')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_generation')
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
    op.drop_table('login_throttles')
