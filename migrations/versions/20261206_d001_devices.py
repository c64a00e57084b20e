"""devices: the tablet registry (issue 18)

Revision ID: d001
Revises: 0002
Create Date: 2026-12-06

One row per tablet, in one team (center_id copied from the team for center staff's scope): what it last
reported (contact, sync, waiting changes, versions), center staff's order (retire, lost) with the waiting
changes at that moment, the wipe confirmation, and its device secret and escrow key sealed with AES-GCM
under a key derived from the server's secret (server/devices/keys.py).
"""
from alembic import op
import sqlalchemy as sa

revision = "d001"
down_revision = "0002"
branch_labels = ("devices",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("app_version", sa.String(length=40), nullable=False),
        sa.Column("store_version", sa.Integer(), nullable=False),
        sa.Column("sealed_keys", sa.String(length=200), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_by", sa.Integer(), nullable=False),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_changes", sa.Integer(), nullable=True),
        sa.Column("pending_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_changed_by", sa.Integer(), nullable=True),
        sa.Column("pending_at_order", sa.Integer(), nullable=True),
        sa.Column("wiped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["center_id"], ["centers.id"], name=op.f("fk_devices_center_id_centers")),
        sa.ForeignKeyConstraint(["enrolled_by"], ["users.id"], name=op.f("fk_devices_enrolled_by_users")),
        sa.ForeignKeyConstraint(["last_user_id"], ["users.id"], name=op.f("fk_devices_last_user_id_users")),
        sa.ForeignKeyConstraint(["state_changed_by"], ["users.id"],
                                name=op.f("fk_devices_state_changed_by_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_devices_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    op.create_index("ix_devices_center_team", "devices", ["center_id", "team_id"], unique=False)
    op.create_index(op.f("ix_devices_team_id"), "devices", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_devices_team_id"), table_name="devices")
    op.drop_index("ix_devices_center_team", table_name="devices")
    op.drop_table("devices")
