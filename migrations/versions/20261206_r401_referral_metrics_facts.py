"""Referrals: the facts the loop's metrics count, stamped on the case; one head for the referrals branch

Revision ID: r401
Revises: r101, r202, r301
Create Date: 2026-12-06

Issue 13 item 10: the district's metrics (<= 1 s for 110,000 cases over 3 years) read, per case, the first
response from the thread (a correlated min() over 520,000 entries), the outcome out of the answer's JSON,
whether the return form has a diagnosis, and the closing visit's date from followups: ~2 s of CPU a call on
SQLite. services.act now stamps these on the case when they happen (first_response_at, outcome,
returned_at, followed_up_on); this fills them in for the cases already there, from the same sources the
metrics read before, so every figure stays what it was. An index on sent_on carries the columns the metrics
read (INCLUDE, PostgreSQL) so a 3-year period is an index-only scan instead of reading the wide rows.

It also joins the branch's three heads (r101 escalation, r202 inbox indexes, r301 tablets) into one.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = "r401"
down_revision = ("r101", "r202", "r301")
branch_labels = None
depends_on = None

# gpcore.referral.metrics.RESPONSES as of this revision (a migration does not import code that may change).
RESPONSES = ("accept", "decline", "ask_info", "answer")
METRICS_COLUMNS = ("hospital_id", "department", "center_id", "team_id", "specialist_id", "owner_id", "state",
                   "created_at", "response_due", "first_response_at", "outcome", "returned_at", "follow_up_due",
                   "followed_up_on", "escalated_at")

referrals = sa.table("referrals", sa.column("id", sa.String), sa.column("updated_at", sa.DateTime(timezone=True)),
                     sa.column("answer", sa.JSON().with_variant(JSONB(), "postgresql")),
                     sa.column("return_form", sa.JSON().with_variant(JSONB(), "postgresql")),
                     sa.column("closing_followup_id", sa.String), sa.column("first_response_at"),
                     sa.column("outcome"), sa.column("returned_at"), sa.column("followed_up_on"))
messages = sa.table("referral_messages", sa.column("referral_id", sa.String), sa.column("kind", sa.String),
                    sa.column("at", sa.DateTime(timezone=True)))
followups = sa.table("followups", sa.column("id", sa.String), sa.column("visit_date", sa.Date))


def _first_at(kinds) -> sa.ScalarSelect:
    return (sa.select(sa.func.min(messages.c.at))
            .where(messages.c.referral_id == referrals.c.id, messages.c.kind.in_(kinds)).scalar_subquery())


def backfill() -> list:
    """The UPDATE that stamps the cases already there with what the metrics computed per case before
    (server/referrals/metrics.py at r301; tests/server_referrals/test_metrics_paths.py runs it against
    what services.act stamps): the earliest response in the thread; the answer's outcome; a return form with
    a diagnosis (its time: the return entry's, or the case's last change for one without); the closing
    visit's date. One statement, so each row is written once (the table has ten indexes)."""
    returned = referrals.c.return_form["diagnosis"].as_string().is_not(None)
    return [referrals.update().values(
        first_response_at=_first_at(RESPONSES),
        outcome=referrals.c.answer["outcome"].as_string(),
        returned_at=sa.case((returned, sa.func.coalesce(_first_at(["return_case"]), referrals.c.updated_at))),
        followed_up_on=sa.select(followups.c.visit_date)
        .where(followups.c.id == referrals.c.closing_followup_id).scalar_subquery())]


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("followed_up_on", sa.Date(), nullable=True))
    # The index before the backfill: built after it, over the rows the UPDATE left behind, PostgreSQL marks
    # it usable only by transactions newer than itself (pg_index.indcheckxmin), and one long transaction
    # anywhere on the server then kept the metrics on a sequential scan (bench_referrals, 6 December).
    op.create_index("ix_referrals_sent_on_metrics", "referrals", ["sent_on"],
                    postgresql_include=list(METRICS_COLUMNS))
    for statement in backfill():
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_referrals_sent_on_metrics", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("followed_up_on")
        batch.drop_column("returned_at")
        batch.drop_column("outcome")
        batch.drop_column("first_response_at")
