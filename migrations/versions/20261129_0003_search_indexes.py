"""search indexes: prefix (pattern ops) and fragment (trigram) indexes for resident search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Resident search matches prefixes (initials, pinyin, ID numbers: LIKE 'x%'), fragments (phones, addresses:
LIKE '%x%') and the last 8 digits of record numbers; names by trigrams, and by fragments of one or two
characters (too short for trigrams) read from covering (scope, name) indexes. The databases use a non-C
collation (C.UTF-8 on PostgreSQL 15 is not C), so the plain btree indexes could serve neither: every
such query read all of a team's or the district's rows. On PostgreSQL the prefix indexes get
varchar_pattern_ops and the fragment indexes are trigram GIN (pg_trgm, a trusted extension in
PostgreSQL 13+). The plain btree on phone served nothing (search only ever looked for fragments) and
becomes the trigram index of the same name.

SQLite ignores the PostgreSQL options: it gets plain indexes under the same names, so the models (which
declare both) match either database; its existing phone and initials indexes are already right there.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

def _pattern(column: str) -> dict:
    return {"postgresql_ops": {column: "varchar_pattern_ops"}}


def _trgm(column: str) -> dict:
    return {"postgresql_using": "gin", "postgresql_ops": {column: "gin_trgm_ops"}}


def _include(*columns: str) -> dict:
    return {"postgresql_include": list(columns)}


# name, table, columns, PostgreSQL options; created on every database
NEW = (
    # Name fragments: the scope's names read from the index alone (PostgreSQL: INCLUDE, index-only scan).
    ("ix_residents_center_name", "residents", ["center_id", "name"], _include("household_id", "id")),
    ("ix_residents_team_pinyin", "residents", ["team_id", "name_pinyin"], _pattern("name_pinyin")),
    # center_id second: a center's matches are picked out in the index (center staff's searches).
    ("ix_residents_name_pinyin", "residents", ["name_pinyin", "center_id"], _pattern("name_pinyin")),
    ("ix_residents_id_prefix", "residents", ["id_number"], _pattern("id_number")),
    # The last 8 of the 17 digits, the short form on paper records (substr is the same on both).
    ("ix_residents_record_last8", "residents", [sa.text("substr(record_number, 10)")], {}),
    ("ix_households_address_trgm", "households", ["address"], _trgm("address")),
    ("ix_residents_name_trgm", "residents", ["name"], _trgm("name")),
)
# name, table, columns before, columns after, new PostgreSQL options; rebuilt on PostgreSQL only except
# where the columns change (SQLite keeps its plain indexes otherwise)
REBUILT = (
    ("ix_residents_team_name", "residents", ["team_id", "name"], None, _include("household_id", "id")),
    ("ix_residents_team_initials", "residents", ["team_id", "name_initials"], None,
     _pattern("name_initials")),
    ("ix_residents_name_initials", "residents", ["name_initials"], ["name_initials", "center_id"],
     _pattern("name_initials")),
    ("ix_residents_phone", "residents", ["phone"], None, _trgm("phone")),
)


# Made redundant by ix_residents_center_name, which center_id leads; one index fewer to keep on import.
DROPPED = (("ix_residents_center_id", "residents", ["center_id"]),)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, before, after, options in REBUILT:
        if pg or after:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, after or before, unique=False, **(options if pg else {}))
    for name, table, columns, options in NEW:
        op.create_index(name, table, columns, unique=False, **(options if pg else {}))
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)
    for name, table, _columns, _options in NEW:
        op.drop_index(name, table_name=table)
    for name, table, before, after, _options in REBUILT:
        if pg or after:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, before, unique=False)
    # pg_trgm stays: it may have been there before this revision, and other objects may use it.
