"""referrals on tablets: the tablet's id of a thread message written offline, and the team walk index

Revision ID: r301
Revises: r001
Create Date: 2026-12-06

Issue 13 item 6: referrals and their threads sync to the team's tablets. A message written offline is
pushed with the tablet's UUID (referral_messages.id is the server's number), kept in client_id, unique, so
a resent upload finds it. A tablet's first download walks the team's referrals in id order
(server/sync/registry.walk_page): an index on (team_id, id), as s003 gave residents.
"""
from alembic import op
import sqlalchemy as sa

revision = "r301"
down_revision = "r001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("referral_messages", sa.Column("client_id", sa.String(length=36), nullable=True))
    op.create_index("ix_referral_messages_client_id", "referral_messages", ["client_id"], unique=True)
    op.create_index("ix_referrals_team_id_id", "referrals", ["team_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_team_id_id", table_name="referrals")
    op.drop_index("ix_referral_messages_client_id", table_name="referral_messages")
    op.drop_column("referral_messages", "client_id")
