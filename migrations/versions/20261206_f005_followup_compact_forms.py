"""follow-ups: each record keeps its form as tablets keep it (form_compact), filled for existing records

Revision ID: f005
Revises: f004
Create Date: 2026-12-06

A tablet asks for follow-up forms without their empty boxes (gpcore.followup.compact: about half a form's
bytes). The server made them on every download, decoding the 32,000 forms of a team's first sync, compacting
and re-encoding each in Python, even where PostgreSQL had built the page's rows itself (issue 16). From here
on the record is written with its compact text (server.followups.models: form_compact) and pages send that.

The backfill computes the text with gpcore's compact_text, the rule the server's writer and the tablet's store
(its upgrade 8) use: the column is defined as what that rule gives, and a copy of the rule here would be a
second home that could come to disagree with them. Batches of a few thousand records keep memory bounded
(a district holds ~1.3 M). On PostgreSQL the batches follow the table's physical order (page ranges of ctid)
and each batch's rows are written in that order, so the rewritten rows keep the layout the table had (a team's
visits stay together); id order (random UUIDs) would scatter every team's visits over the whole table. The
table's append-only trigger is off for this transaction only. A record left empty is harmless: the sync then
sends its whole form, which a tablet reads the same.

After upgrading a large database, `VACUUM ANALYZE followups` gives the old row versions' space back
(autovacuum does it too, later).
"""
from alembic import op
import sqlalchemy as sa

revision = "f005"
down_revision = "f004"
branch_labels = None
depends_on = None

BATCH_PAGES = 1000  # PostgreSQL: ~4,000 records of ~1.5 KB
BATCH_ROWS = 2000   # SQLite


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_compact", sa.Text(), nullable=True))
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _fill_postgresql(conn)
    else:
        _fill_by_id(conn)


def _compacted(rows) -> list[tuple[str, str]]:
    # Imported here, not at the top: Alembic loads every version file for every command (and /readyz reads
    # the heads), so a later move of compact_text must not break the whole chain, only this step's upgrade.
    from gpcore.followup.compact import compact_text

    return [(id_, compact_text(condition, form)) for id_, condition, form in rows if form is not None]


def _fill_postgresql(conn) -> None:
    conn.execute(sa.text("ALTER TABLE followups DISABLE TRIGGER followups_signed_immutable"))
    # The pages that hold rows now. A rewritten row lands after them, or in free space a later batch reads
    # again, where `form_compact IS NULL` leaves it out.
    pages = conn.execute(sa.text(
        "SELECT pg_relation_size('followups') / current_setting('block_size')::int")).scalar_one()
    read = sa.text("SELECT id, condition, form::text FROM followups WHERE ctid >= CAST(:lo AS tid) "
                   "AND ctid < CAST(:hi AS tid) AND form_compact IS NULL")
    write = sa.text("UPDATE followups AS f SET form_compact = v.compact "
                    "FROM unnest(CAST(:ids AS text[]), CAST(:compacts AS text[])) AS v(id, compact) "
                    "WHERE f.id = v.id AND f.ctid >= CAST(:lo AS tid) AND f.ctid < CAST(:hi AS tid)")
    for first in range(0, pages, BATCH_PAGES):
        # The same page range in the UPDATE: without it a table of a few hundred thousand records is read whole
        # for every batch (a hash join over a sequential scan); with it, a TID range scan of the batch's pages.
        span = {"lo": f"({first},0)", "hi": f"({first + BATCH_PAGES},0)"}
        done = _compacted(conn.execute(read, span))
        if done:
            conn.execute(write, {"ids": [i for i, _ in done], "compacts": [c for _, c in done], **span})
    conn.execute(sa.text("ALTER TABLE followups ENABLE TRIGGER followups_signed_immutable"))


def _fill_by_id(conn) -> None:
    read = sa.text("SELECT id, condition, form FROM followups WHERE id > :after AND form_compact IS NULL "
                   "ORDER BY id LIMIT :n")
    write = sa.text("UPDATE followups SET form_compact = :compact WHERE id = :id")
    after = ""
    while rows := conn.execute(read, {"after": after, "n": BATCH_ROWS}).all():
        done = _compacted(rows)
        if done:
            conn.execute(write, [{"id": i, "compact": c} for i, c in done])
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_column("form_compact")
