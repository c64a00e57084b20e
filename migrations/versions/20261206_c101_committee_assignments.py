"""committee_assignments: a by-committee assignment keeps the committee's previous team in its batch

Revision ID: c101
Revises: 0005
Create Date: 2026-12-06

Undoing a by-committee batch moved the households back but left the committee with the new team (its team
was overwritten with nothing kept), so the next household opened there went to the wrong team. Each
by-committee assignment now records the committee's from/to team under the batch id; undo reads it back.
A branch of its own ('assignment'), off the trunk that created assignment_changes.
"""
from alembic import op
import sqlalchemy as sa

revision = "c101"
down_revision = "0005"
branch_labels = ("assignment",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "committee_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("from_team_id", sa.Integer(), nullable=True),
        sa.Column("to_team_id", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["changed_by"], ["users.id"], name=op.f("fk_committee_assignments_changed_by_users")),
        sa.ForeignKeyConstraint(["committee_id"], ["committees.id"],
                                name=op.f("fk_committee_assignments_committee_id_committees")),
        sa.ForeignKeyConstraint(["from_team_id"], ["teams.id"],
                                name=op.f("fk_committee_assignments_from_team_id_teams")),
        sa.ForeignKeyConstraint(["to_team_id"], ["teams.id"], name=op.f("fk_committee_assignments_to_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_assignments")),
    )
    with op.batch_alter_table("committee_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committee_assignments_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_committee_assignments_committee_id"), ["committee_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("committee_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_assignments_committee_id"))
        batch_op.drop_index(batch_op.f("ix_committee_assignments_batch_id"))
    op.drop_table("committee_assignments")
