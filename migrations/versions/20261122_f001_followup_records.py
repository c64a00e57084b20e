"""chronic-disease follow-up records

Revision ID: f001
Revises: 0002
Create Date: 2026-11-22

One table for signed follow-up records (visits, lost-to-follow-up and death entries). Records never change
after signing (corrections are new rows that point to the one they correct); on PostgreSQL the database
refuses UPDATE and DELETE too, as it does for the access log.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "f001"
down_revision = "0002"
branch_labels = ("followups",)
depends_on = None


def upgrade() -> None:
    op.create_table('followups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('resident_id', sa.String(length=36), nullable=False),
    sa.Column('condition', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('original_id', sa.String(length=36), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('amends_id', sa.String(length=36), nullable=True),
    sa.Column('amendment_reason', sa.Text(), nullable=True),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('visit_mode', sa.Integer(), nullable=True),
    sa.Column('sbp', sa.Integer(), nullable=True),
    sa.Column('dbp', sa.Integer(), nullable=True),
    sa.Column('fpg_mmol', sa.Float(), nullable=True),
    sa.Column('classification', sa.Integer(), nullable=True),
    sa.Column('bp_controlled', sa.Boolean(), nullable=True),
    sa.Column('fpg_controlled', sa.Boolean(), nullable=True),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('referral', sa.String(length=10), nullable=True),
    sa.Column('referred', sa.Boolean(), nullable=False),
    sa.Column('rules_next_visit_date', sa.Date(), nullable=True),
    sa.Column('next_visit_date', sa.Date(), nullable=True),
    sa.Column('rules_version', sa.String(length=120), nullable=True),
    sa.Column('missing_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('missing_count', sa.Integer(), nullable=False),
    sa.Column('form', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('assessment', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('device_assessment', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('disagreement', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_by', sa.Integer(), nullable=False),
    sa.Column('device', sa.String(length=100), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("kind IN ('visit', 'lost', 'death')", name=op.f('ck_followups_kind')),
    sa.ForeignKeyConstraint(['amends_id'], ['followups.id'], name=op.f('fk_followups_amends_id_followups')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_followups_resident_id_residents')),
    sa.ForeignKeyConstraint(['signed_by'], ['users.id'], name=op.f('fk_followups_signed_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followups')),
    sa.UniqueConstraint('original_id', 'revision', name=op.f('uq_followups_original_id_revision'))
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index('ix_followups_amends_id', ['amends_id'], unique=False, postgresql_where='amends_id IS NOT NULL')
        batch_op.create_index('ix_followups_resident_condition_date', ['resident_id', 'condition', 'visit_date'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION followups_signed_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'followups are signed records (% refused); amend instead', TG_OP;
            END $$
        """)
        op.execute("""
            CREATE TRIGGER followups_signed_immutable BEFORE UPDATE OR DELETE ON followups
            FOR EACH ROW EXECUTE FUNCTION followups_signed_immutable()
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER followups_signed_immutable ON followups")
        op.execute("DROP FUNCTION followups_signed_immutable()")
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index('ix_followups_resident_condition_date')
        batch_op.drop_index('ix_followups_amends_id', postgresql_where='amends_id IS NOT NULL')

    op.drop_table('followups')
