"""an index on residents (name, birth_date) for matching lab results without an ID number

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

A lab message is matched to a resident by ID number or, without one, by name + birth date + sex across the
whole district (labs.matching.candidates: one SELECT with both terms OR-ed). No index served the name term:
the residents indexes on name lead with team_id or center_id, and the trigram index has no trigrams for a
two-character name and matches thousands of rows for a common surname. So every message read the whole
residents table: 3.6 ms a message at 20,000 residents (bench/bench_labs.py), growing with the district.
With this index PostgreSQL answers with a BitmapOr of the ID-number index and this one (0.1 ms).
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_residents_name_birth_date", "residents", ["name", "birth_date"])


def downgrade() -> None:
    op.drop_index("ix_residents_name_birth_date", table_name="residents")
