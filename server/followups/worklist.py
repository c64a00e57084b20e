"""A team's follow-up worklist: who to see, how urgently, in walking-route order.

Derived from each managed patient's latest effective visit per condition (lost, terminated and deceased
registry entries drop out). One item per patient and condition, in every bucket that applies (emergency,
referral, recheck, overdue, due_this_week, not_seen_this_year).
The buckets, their thresholds and urgency order are gpcore's (gpcore/followup/worklist.py, shared with the
tablet); this module finds the rows in SQL (status rows with due_from <= today) and completes each item.

Sorted by urgency (emergency, referral, recheck, overdue, due this week, not seen this year), then
committee, then address, so a doctor can plan a route. "Member" is the resident's responsible doctor
(Resident.responsible_doctor_id, the health file's cover field); a resident without one belongs to the
doctor who signed the latest visit.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpcore.followup.worklist import BUCKETS, buckets, order_key, referral_due_date, urgency
from gpcore.health_file import age_on

from ..households.models import ChronicCondition, Household, Resident
from ..labs.alerts import lab_alerts
from ..org.models import Committee
from ..referrals.worklist import answers_to_follow_up
from ..scope import Actor, default_team, rows_visible
from .models import FollowUpStatus
from .services import require_team


def worklist(session: Session, actor: Actor, args: dict, today: dt.date) -> dict:
    """Every patient in scope who needs seeing, with buckets and urgency; see the module docstring."""
    team_id = args.get("team_id")
    if team_id is None:
        team_id = default_team(actor)
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
    # Core rows, not ORM ones: a center's list is thousands of rows and only plain values are needed.
    items = [item for row in session.connection().execute(stmt)
             if (item := _item(row._asdict(), today))["buckets"]]
    if args.get("bucket"):
        items = [item for item in items if args["bucket"] in item["buckets"]]
    items.sort(key=lambda i: order_key(i["urgency"], i["committee_code"], i["address"], i["name"], i["condition"]))
    counts = {name: sum(name in item["buckets"] for item in items) for name in BUCKETS}
    # Residents with lab reports new since their last visit, for the top of the list (server/labs/alerts.py).
    return {"today": today, "team_id": team_id, "counts": counts, "items": items,
            "lab_alerts": lab_alerts(session, actor, team_id, today),
            # Specialists' answers and return forms to follow up within 2 weeks (server/referrals/worklist.py).
            "referral_answers": answers_to_follow_up(session, actor, team_id, today)}


def _item(row: dict, today: dt.date) -> dict:
    """The worklist item of a row (the dict itself, completed): buckets, urgency, age."""
    item = row
    item["buckets"] = names = buckets(row, today)
    item["urgency"] = urgency(names)
    item["referral_due_date"] = referral_due_date(row["visit_date"]) if "referral" in names else None
    item["overdue_days"] = (today - row["next_visit_date"]).days if "overdue" in names else None
    if "not_seen_this_year" in names:
        item["last_face_to_face"] = None  # the item reports this year's only
    item["age"] = age_on(row["birth_date"], today)
    return item
