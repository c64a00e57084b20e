"""A team's follow-up worklist: who to see, how urgently, in walking-route order.

Derived from each managed patient's latest effective visit per condition (lost, terminated and deceased
registry entries drop out). One item per patient and condition, in every bucket that applies:

- referral:     the latest visit filled the referral boxes; follow it up within 14 days of the visit
- recheck:      the latest visit booked the next one within 14 days because of an uncontrolled result, an
                adverse reaction, a complication, a referral or an emergency (gpcore's short booking)
- overdue:      the booked next visit date has passed (overdue_days says by how much)
- due_this_week: the booked next visit falls in the 7 days from today
- not_seen_this_year: no clinic or home visit since 1 January (phone visits do not count)

Sorted by urgency (emergency, referral, recheck, overdue, due this week, not seen this year), then
committee, then address, so a doctor can plan a route. "Member" is the resident's responsible doctor
(Resident.responsible_doctor_id, the health file's cover field); a resident without one belongs to the
doctor who signed the latest visit.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpcore.followup import codes

from ..households.models import ChronicCondition, Household, Resident
from ..labs.alerts import lab_alerts
from ..org.models import Committee
from ..referrals.worklist import answers_to_follow_up
from ..scope import Actor, rows_visible
from .models import FollowUpStatus
from .services import require_team

SHORT_DAYS = 14
WEEK_DAYS = 7
BUCKETS = ("emergency", "referral", "recheck", "overdue", "due_this_week", "not_seen_this_year")
URGENCY = {name: rank for rank, name in enumerate(BUCKETS)}
TROUBLE = (codes.UNCONTROLLED, codes.ADVERSE_REACTION_CLASS, codes.COMPLICATION)


def worklist(session: Session, actor: Actor, args: dict, today: dt.date) -> dict:
    """Every patient in scope who needs seeing, with buckets and urgency; see the module docstring."""
    team_id = args.get("team_id")
    if team_id is None and actor.role == "gp":
        team_id = actor.team_id
    if team_id is not None:
        require_team(session, actor, team_id)
    condition = args.get("condition")
    latest = FollowUpStatus
    resident = (Resident.id.label("resident_id"), Resident.name, Resident.sex, Resident.birth_date,
                Resident.phone, Resident.team_id, Resident.responsible_doctor_id, Household.address,
                Committee.code.label("committee_code"), Committee.name.label("committee_name"),
                latest.condition)
    visit = (latest.visit_date, latest.visit_mode, latest.classification, latest.emergency, latest.referral,
             latest.referred, latest.next_visit_date, latest.signed_by, latest.last_face_to_face,
             latest.reassessed)
    # From the team's status rows that some bucket can take today (the index on team_id, due_from), not
    # from every registry entry of the district; every registry entry has a row, visited or not. The
    # resident's own team is checked as well, so a status row whose team were stale could drop a patient
    # but never show one to another team.
    # The registry entry's status as a correlated subquery: one probe of its unique index per row read
    # (PostgreSQL otherwise hashes every registry entry of the district to join a team's ~1,500 rows).
    registry = (select(ChronicCondition.status)
                .where(ChronicCondition.resident_id == latest.resident_id,
                       ChronicCondition.condition == latest.condition)
                .correlate(latest).scalar_subquery())
    stmt = (select(*resident, *visit)
            .select_from(latest)
            .join(Resident, Resident.id == latest.resident_id)
            .join(Household, Household.id == Resident.household_id)
            .join(Committee, Committee.id == Household.committee_id)
            .where(latest.due_from <= today, registry == "managed", Resident.status == "active",
                   rows_visible(actor, Resident.team_id, Resident.center_id)))
    if team_id is not None:
        stmt = stmt.where(latest.team_id == team_id, Resident.team_id == team_id)
    if condition:
        stmt = stmt.where(latest.condition == condition)
    if args.get("member_id") is not None:
        stmt = stmt.where(func.coalesce(Resident.responsible_doctor_id, latest.signed_by) == args["member_id"])
    year_start = dt.date(today.year, 1, 1)
    # Core rows, not ORM ones: a center's list is thousands of rows and only plain values are needed.
    items = [item for row in session.connection().execute(stmt)
             if (item := _item(row._asdict(), today, year_start))["buckets"]]
    if args.get("bucket"):
        items = [item for item in items if args["bucket"] in item["buckets"]]
    items.sort(key=lambda i: (i["urgency"], i["committee_code"], i["address"], i["name"], i["condition"]))
    counts = {name: sum(name in item["buckets"] for item in items) for name in BUCKETS}
    # Residents with lab reports new since their last visit, for the top of the list (server/labs/alerts.py).
    return {"today": today, "team_id": team_id, "counts": counts, "items": items,
            "lab_alerts": lab_alerts(session, actor, team_id, today),
            # Specialists' answers and return forms to follow up within 2 weeks (server/referrals/worklist.py).
            "referral_answers": answers_to_follow_up(session, actor, team_id, today)}


def due_from(row) -> dt.date:
    """The first day _item gives this status row (a dict of FollowUpStatus values) a bucket; date.min when
    it has one whatever the day. Every bucket, once it applies, applies on every later day until the next
    visit replaces the row, so `due_from <= today` keeps exactly the rows that have a bucket today."""
    visit_date, next_date = row["visit_date"], row["next_visit_date"]
    if row["last_face_to_face"] is None or row["emergency"] or row["referred"]:
        return dt.date.min  # not seen face to face yet, emergency, referral
    short = next_date is not None and (next_date - visit_date).days <= SHORT_DAYS
    if short and (row["classification"] in TROUBLE or row["referral"] not in (None, codes.NO_REFERRAL)):
        return dt.date.min  # recheck
    # not_seen_this_year from the 1 January after the last face-to-face visit.
    days = [dt.date(row["last_face_to_face"].year + 1, 1, 1)]
    if next_date is not None:
        # due_this_week (next < today + 7) and then overdue (next < today).
        days.append(next_date - dt.timedelta(days=WEEK_DAYS - 1))
    return min(days)


def _item(row: dict, today: dt.date, year_start: dt.date) -> dict:
    """The worklist item of a row (the dict itself, completed): buckets, urgency, age."""
    item = row
    buckets = []
    visit_date, next_date = row["visit_date"], row["next_visit_date"]
    item["referral_due_date"] = None
    item["overdue_days"] = None
    if visit_date is not None:
        short = next_date is not None and (next_date - visit_date).days <= SHORT_DAYS
        trouble = (row["classification"] in TROUBLE or row["emergency"]
                   or row["referral"] not in (None, codes.NO_REFERRAL) or row["referred"])
        if row["emergency"]:
            buckets.append("emergency")
        if row["referred"]:
            buckets.append("referral")
            item["referral_due_date"] = visit_date + dt.timedelta(days=SHORT_DAYS)
        if short and trouble:
            buckets.append("recheck")
        if next_date is not None and next_date < today:
            buckets.append("overdue")
            item["overdue_days"] = (today - next_date).days
        elif next_date is not None and next_date < today + dt.timedelta(days=WEEK_DAYS):
            buckets.append("due_this_week")
    if row["last_face_to_face"] is None or row["last_face_to_face"] < year_start:
        buckets.append("not_seen_this_year")
        item["last_face_to_face"] = None  # the item reports this year's only
    item["buckets"] = buckets
    item["urgency"] = min((URGENCY[b] for b in buckets), default=len(BUCKETS))
    item["age"] = _age(row["birth_date"], today)
    return item


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
