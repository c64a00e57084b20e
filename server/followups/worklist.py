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

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gpcore.followup import codes

from ..households.models import ChronicCondition, Household, Resident
from ..org.models import Committee
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
    # The latest effective visit per patient, kept up to date on every write (FollowUpStatus).
    latest = FollowUpStatus
    member = func.coalesce(Resident.responsible_doctor_id, latest.signed_by)
    stmt = (select(Resident.id.label("resident_id"), Resident.name, Resident.sex, Resident.birth_date,
                   Resident.phone, Resident.team_id, Resident.responsible_doctor_id, Household.address,
                   Committee.code.label("committee_code"), Committee.name.label("committee_name"),
                   ChronicCondition.condition, latest.visit_date, latest.visit_mode,
                   latest.classification, latest.emergency, latest.referral, latest.referred,
                   latest.next_visit_date, latest.signed_by, latest.last_face_to_face)
            .join(Resident, Resident.id == ChronicCondition.resident_id)
            .join(Household, Household.id == Resident.household_id)
            .join(Committee, Committee.id == Household.committee_id)
            .outerjoin(latest, (latest.resident_id == ChronicCondition.resident_id)
                       & (latest.condition == ChronicCondition.condition))
            .where(ChronicCondition.status == "managed", Resident.status == "active",
                   rows_visible(actor, Resident.team_id, Resident.center_id)))
    if team_id is not None:
        stmt = stmt.where(Resident.team_id == team_id)
    if condition:
        stmt = stmt.where(ChronicCondition.condition == condition)
    if args.get("member_id") is not None:
        stmt = stmt.where(member == args["member_id"])
    # Leave out in SQL the patients no bucket can take (seen this year, next visit beyond the week, no
    # trouble); _item decides the buckets of the rest.
    year_start = dt.date(today.year, 1, 1)
    stmt = stmt.where(or_(latest.visit_date.is_(None), latest.last_face_to_face.is_(None),
                          latest.last_face_to_face < year_start,
                          latest.next_visit_date < today + dt.timedelta(days=WEEK_DAYS),
                          latest.emergency, latest.referred, latest.classification.in_(TROUBLE),
                          latest.referral != codes.NO_REFERRAL))
    # Core rows, not ORM ones: a center's list is thousands of rows and only plain values are needed.
    items = [item for row in session.connection().execute(stmt).mappings()
             if (item := _item(row, today, year_start))["buckets"]]
    if args.get("bucket"):
        items = [item for item in items if args["bucket"] in item["buckets"]]
    items.sort(key=lambda i: (i["urgency"], i["committee_code"], i["address"], i["name"], i["condition"]))
    counts = {name: sum(name in item["buckets"] for item in items) for name in BUCKETS}
    return {"today": today, "team_id": team_id, "counts": counts, "items": items}


def _item(row, today: dt.date, year_start: dt.date) -> dict:
    item = dict(row)
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
