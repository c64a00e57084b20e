"""follow-ups: status rows carry the team and the day they become due; yearly figures per patient

Revision ID: f004
Revises: f003
Create Date: 2026-11-22

A team's worklist scanned every registry entry of the district before joining the team's residents; with
the resident's team and the first day a worklist bucket takes the patient (due_from) on the status row, and
a row for every registry entry (visit columns empty until the first visit), it reads the team's due rows
from one index. `reassessed` marks rows whose latest visit was re-decided because
an older visit was signed after it.

followup_years holds per patient, condition and year what the yearly indicators need, so a district's
report reads ~170,000 rows instead of aggregating ~700,000 visits.

Existing status rows get their resident's team and due_from = 0001-01-01 (always read; the worklist still
decides the buckets exactly); server.followups.services.rebuild_status computes the real dates. The yearly
rows are computed here from the effective visits, as services.rebuild_years does.
"""
from alembic import op
import sqlalchemy as sa

revision = "f004"
down_revision = "f003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("followup_years",
    sa.Column("resident_id", sa.String(length=36), nullable=False),
    sa.Column("condition", sa.String(length=20), nullable=False),
    sa.Column("year", sa.Integer(), nullable=False),
    sa.Column("face_to_face", sa.Integer(), nullable=False),
    sa.Column("visits", sa.Integer(), nullable=False),
    sa.Column("complete", sa.Integer(), nullable=False),
    sa.Column("emergencies", sa.Integer(), nullable=False),
    sa.Column("bp_date", sa.Date(), nullable=True),
    sa.Column("bp_controlled", sa.Boolean(), nullable=True),
    sa.Column("fpg_date", sa.Date(), nullable=True),
    sa.Column("fpg_controlled", sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], name=op.f("fk_followup_years_resident_id_residents")),
    sa.PrimaryKeyConstraint("resident_id", "condition", "year", name=op.f("pk_followup_years"))
    )
    op.execute(_years_from_visits())
    with op.batch_alter_table("followup_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reassessed", sa.Boolean(), server_default=sa.false(), nullable=False))
    postgres = op.get_bind().dialect.name == "postgresql"
    day, false = ("DATE '0001-01-01'", "false") if postgres else ("'0001-01-01'", "0")
    # A correlated subquery rather than UPDATE ... FROM: the same statement on SQLite and PostgreSQL.
    op.execute("UPDATE followup_status SET due_from = " + day + ", team_id = "
               "(SELECT residents.team_id FROM residents WHERE residents.id = followup_status.resident_id)")
    with op.batch_alter_table("followup_status", schema=None) as batch_op:
        for name, kind in (("followup_id", sa.String(length=36)), ("visit_date", sa.Date()),
                           ("emergency", sa.Boolean()), ("referred", sa.Boolean()), ("signed_by", sa.Integer())):
            batch_op.alter_column(name, existing_type=kind, nullable=True)
    # A row for every registry entry, visited or not: the visit columns are empty until the first visit.
    op.execute("INSERT INTO followup_status (resident_id, condition, team_id, due_from, reassessed) "
               "SELECT c.resident_id, c.condition, r.team_id, " + day + ", " + false + " "
               "FROM chronic_conditions c JOIN residents r ON r.id = c.resident_id "
               "WHERE NOT EXISTS (SELECT 1 FROM followup_status s "
               "WHERE s.resident_id = c.resident_id AND s.condition = c.condition)")
    with op.batch_alter_table("followup_status", schema=None) as batch_op:
        batch_op.alter_column("due_from", existing_type=sa.Date(), nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_followup_status_team_id_teams"), "teams", ["team_id"], ["id"])
        batch_op.create_index("ix_followup_status_team_due", ["team_id", "due_from"], unique=False)


def _years_from_visits():
    """INSERT ... SELECT of the yearly rows from the effective visits (services._year_rows at f004, written
    against the tables so later model changes do not change this migration)."""
    fu = sa.table("followups", *[sa.column(n) for n in ("id", "resident_id", "condition", "kind", "amends_id",
                                                        "visit_mode", "missing_count", "emergency")],
                  sa.column("visit_date", sa.Date()), sa.column("bp_controlled", sa.Boolean()),
                  sa.column("fpg_controlled", sa.Boolean()))
    later = fu.alias("later")
    year = sa.extract("year", fu.c.visit_date)

    def count(flag):
        return sa.func.sum(sa.case((flag, 1), else_=0))

    def latest(flag, name):
        return (sa.func.max(sa.case((flag.is_not(None), fu.c.visit_date))).label(name),
                sa.func.max(sa.case((flag, fu.c.visit_date))).label(name + "_ok"))

    per_year = (sa.select(fu.c.resident_id, fu.c.condition, year.label("year"),
                          count(fu.c.visit_mode.in_([1, 2])).label("face_to_face"), sa.func.count().label("visits"),
                          count(fu.c.missing_count == 0).label("complete"), count(fu.c.emergency).label("emergencies"),
                          *latest(fu.c.bp_controlled, "bp"), *latest(fu.c.fpg_controlled, "fpg"))
                .where(fu.c.kind == "visit", ~sa.exists().where(later.c.amends_id == fu.c.id))
                .group_by(fu.c.resident_id, fu.c.condition, year)).subquery()
    c = per_year.c

    def controlled(day, ok):
        return sa.case((day.is_(None), None), (ok == day, True), else_=False)

    rows = sa.select(c.resident_id, c.condition, c.year, c.face_to_face, c.visits, c.complete, c.emergencies,
                     c.bp, controlled(c.bp, c.bp_ok), c.fpg, controlled(c.fpg, c.fpg_ok))
    years = sa.table("followup_years", *[sa.column(n) for n in (
        "resident_id", "condition", "year", "face_to_face", "visits", "complete", "emergencies", "bp_date",
        "bp_controlled", "fpg_date", "fpg_controlled")])
    return sa.insert(years).from_select(list(years.c.keys()), rows)


def downgrade() -> None:
    op.execute("DELETE FROM followup_status WHERE followup_id IS NULL")  # entries without a visit
    with op.batch_alter_table("followup_status", schema=None) as batch_op:
        for name, kind in (("followup_id", sa.String(length=36)), ("visit_date", sa.Date()),
                           ("emergency", sa.Boolean()), ("referred", sa.Boolean()), ("signed_by", sa.Integer())):
            batch_op.alter_column(name, existing_type=kind, nullable=False)
        batch_op.drop_index("ix_followup_status_team_due")
        batch_op.drop_constraint(batch_op.f("fk_followup_status_team_id_teams"), type_="foreignkey")
        batch_op.drop_column("reassessed")
        batch_op.drop_column("due_from")
        batch_op.drop_column("team_id")
    op.drop_table("followup_years")
