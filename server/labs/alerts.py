"""Lab reports new since a resident's last follow-up visit, and the worklist's list of residents who have them.

"New since the last visit": results arrived (LabReport.changed_at, so a correction counts) on or after the
day of the resident's latest effective follow-up visit (followup_status.visit_date, any condition), or the
resident has no visit at all. The visit has a date and no time, so a report that arrived on the visit's day
counts as new: it may have come after the visit, and a glance too many costs less than a critical value
missed. Days are China Standard Time, as visit dates are.

A team's "seen" (lab_report_seen) is separate and shown beside it: seeing a report does not make it old
news for the next visit, where it is to be discussed; the next signed visit does.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, and_, case, cast, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from gpcore import clock

from ..followups.models import FollowUpStatus
from ..households.models import Resident
from ..scope import Actor, rows_visible
from .models import LabReport, LabReportSeen

# Reports older than this are not alerts however long ago the last visit was (chronic patients are seen
# at least quarterly); it also bounds what the worklist reads: an index range on lab_reports.changed_at.
ALERT_DAYS = 365
ALERT_LIMIT = 200  # the top of a worklist, not a second list of every report


class china_date(FunctionElement):  # noqa: N801 - reads as a SQL function
    """The calendar day in China (gpcore.clock: UTC+8, no daylight saving) of a UTC timestamp column."""

    type = Date()
    inherit_cache = True


@compiles(china_date)
def _china_date_sqlite(element, compiler, **kw):
    # SQLite keeps UTC times as text; date() with a modifier shifts them.
    return f"date({compiler.process(element.clauses, **kw)}, '+{clock.UTC_OFFSET_HOURS} hours')"


@compiles(china_date, "postgresql")
def _china_date_pg(element, compiler, **kw):
    # An interval is an offset east of UTC (ISO sign), the same fixed shift as SQLite's.
    offset = f"INTERVAL '+{clock.UTC_OFFSET_HOURS:02d}:00'"
    return f"CAST(timezone({offset}, {compiler.process(element.clauses, **kw)}) AS DATE)"


def last_visit_date():
    """A scalar subquery: the latest effective follow-up visit of LabReport's resident (NULL if none), read
    through followup_status's primary key (resident_id, condition)."""
    return (select(func.max(FollowUpStatus.visit_date))
            .where(FollowUpStatus.resident_id == LabReport.resident_id)
            .correlate(LabReport).scalar_subquery())


def new_since_visit(last_visit):
    """A SQL condition on LabReport: results arrived on or after the last visit's day, or no visit yet."""
    return or_(last_visit.is_(None), china_date(LabReport.changed_at) >= last_visit)


def lab_alerts(session: Session, actor: Actor, team_id: int | None, today: dt.date) -> dict:
    """Residents in the actor's scope (one team when team_id is given) with lab reports new since their
    last visit: critical values nobody has noted phoning through first, then other critical values, then
    reports the team has not seen, then the latest arrival.
    {"total": residents, "items": the first ALERT_LIMIT}."""
    seen = LabReportSeen.__table__.alias("seen")
    last_visit = last_visit_date()
    unseen = or_(seen.c.seen_at.is_(None), seen.c.seen_at < LabReport.changed_at)
    # services.call_due in SQL
    call_due = and_(LabReport.critical, or_(LabReport.critical_call_covers.is_(None),
                                            LabReport.critical_call_covers != LabReport.changed_at))
    since = dt.datetime.combine(today - dt.timedelta(days=ALERT_DAYS), dt.time(), tzinfo=dt.timezone.utc)
    per_report = (
        select(LabReport.resident_id, LabReport.critical, LabReport.changed_at, last_visit.label("last_visit_date"),
               case((unseen, 1), else_=0).label("unseen"), case((call_due, 1), else_=0).label("call_due"))
        .join(Resident, Resident.id == LabReport.resident_id)
        .outerjoin(seen, and_(seen.c.report_id == LabReport.id, seen.c.team_id == Resident.team_id))
        .where(LabReport.changed_at >= since, Resident.status == "active",
               rows_visible(actor, Resident.team_id, Resident.center_id)))
    if team_id is not None:
        per_report = per_report.where(Resident.team_id == team_id)
    per_report = per_report.where(new_since_visit(last_visit)).subquery("r")
    critical = func.sum(case((per_report.c.critical, 1), else_=0))
    unseen_count = func.sum(per_report.c.unseen)
    calls_due = func.sum(per_report.c.call_due)
    latest = func.max(per_report.c.changed_at)
    grouped = (select(per_report.c.resident_id, func.count().label("reports"), critical.label("critical"),
                      unseen_count.label("unseen"), calls_due.label("calls_due"),
                      latest.label("latest_changed_at"),
                      func.max(per_report.c.last_visit_date).label("last_visit_date"))
               .group_by(per_report.c.resident_id).subquery("g"))
    # The total rides on the page's rows (a window count), one round trip for the worklist.
    rows = session.execute(
        select(grouped, Resident.name, Resident.sex, Resident.birth_date, Resident.team_id,
               func.count().over().label("total"))
        .join(Resident, Resident.id == grouped.c.resident_id)
        .order_by((grouped.c.calls_due > 0).desc(), (grouped.c.critical > 0).desc(), (grouped.c.unseen > 0).desc(),
                  grouped.c.latest_changed_at.desc(), grouped.c.resident_id)
        .limit(ALERT_LIMIT)).mappings().all()
    items = [{k: v for k, v in row.items() if k != "total"} for row in rows]
    return {"total": rows[0]["total"] if rows else 0, "items": items}


__all__ = ["ALERT_DAYS", "china_date", "last_visit_date", "new_since_visit", "lab_alerts"]
