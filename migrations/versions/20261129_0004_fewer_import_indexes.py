"""fewer import indexes: one unique pattern-ops index on residents.id_number, no separate index on
chronic_conditions.resident_id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Every index on residents is kept up by the import, row by row (issue 2: >= 20,000 residents/s). Two of them
duplicated another:

- residents.id_number had a unique constraint (default btree) and, since 0003, ix_residents_id_prefix
  (varchar_pattern_ops) for prefix searches. A pattern-ops btree also serves equality, and uniqueness under
  its equality is the same as under the default one, so one unique pattern-ops index does the work of both
  (on the loaded benchmark database the planner had used only the prefix index: 32,013 scans against 0).
  ID numbers go in in random order, so each of the two touched a random page of a 32 MB index per resident.
- chronic_conditions.resident_id had its own index besides the unique (resident_id, condition) one, which
  resident_id leads and which serves every lookup by resident (and the foreign key) as well.

On PostgreSQL the unique constraint is dropped and the unique index made in one transaction (DDL is
transactional there), so no other transaction ever sees the column without uniqueness. SQLite cannot drop
a table's constraint in place: the table is rebuilt (batch mode), and its expression index, which
SQLAlchemy does not reflect and so the rebuild would lose, is made again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PATTERN = {"postgresql_ops": {"id_number": "varchar_pattern_ops"}}
_LAST8 = "ix_residents_record_last8"


def _rebuild_sqlite(change) -> None:
    with op.batch_alter_table("residents", recreate="always") as batch:
        change(batch)
    op.execute(f"DROP INDEX IF EXISTS {_LAST8}")
    op.create_index(_LAST8, "residents", [sa.text("substr(record_number, 10)")], unique=False)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_chronic_conditions_resident_id", table_name="chronic_conditions")
    op.drop_index("ix_residents_id_prefix", table_name="residents")
    if pg:
        op.drop_constraint("uq_residents_id_number", "residents", type_="unique")
    else:
        _rebuild_sqlite(lambda batch: batch.drop_constraint("uq_residents_id_number", type_="unique"))
    op.create_index("uq_residents_id_number", "residents", ["id_number"], unique=True,
                    **(_PATTERN if pg else {}))


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.drop_index("uq_residents_id_number", table_name="residents")
    if pg:
        op.create_unique_constraint("uq_residents_id_number", "residents", ["id_number"])
    else:
        _rebuild_sqlite(lambda batch: batch.create_unique_constraint("uq_residents_id_number", ["id_number"]))
    op.create_index("ix_residents_id_prefix", "residents", ["id_number"], unique=False,
                    **(_PATTERN if pg else {}))
    op.create_index("ix_chronic_conditions_resident_id", "chronic_conditions", ["resident_id"], unique=False)
