"""What causes a notice: a referral sent, moved or written to; a follow-up due next week (a daily run).

Called inside the transaction of the change (server/referrals/services.py calls referral_event from the one
place that writes the thread), so a notice exists exactly when its change does.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore import health_file as hf

from ..auth.models import User
from ..followups.models import FollowUpStatus
from ..households.models import Household, Resident
from ..org.models import Center, Hospital, Team
from ..scope import center_staff_accounts, specialist_accounts
from . import services, texts

URGENT = ("urgent", "emergency")


def _specialists_of(session: Session, row) -> list[tuple[int, str | None]]:
    """(id, phone) of the specialist side of a case: its owner, else its named addressee, else the pool's
    active specialists."""
    named = row.owner_id or row.specialist_id
    stmt = select(User.id, User.phone).where(User.is_active.is_(True))
    if named is not None:
        return session.execute(stmt.where(User.id == named)).all()
    return session.execute(stmt.where(specialist_accounts(User.role), User.hospital_id == row.hospital_id,
                                      User.department == row.department).order_by(User.id)).all()


def _team_members(session: Session, row) -> list[int]:
    return list(session.scalars(select(User.id).where(User.team_id == row.team_id, User.is_active.is_(True))))


def referral_event(session: Session, actor_id: int, actor_name: str, row, kind: str, text: str | None,
                   team_side: bool) -> None:
    """Notices for one entry of a case's thread (create, an action, a message), for the other side.

    team_side: the author acts for the resident's team (so the specialist side is told), else for the
    hospital (so the team is told)."""
    res = session.get(Resident, row.resident_id)
    if team_side:
        recipients = _specialists_of(session, row)
        user_ids = [uid for uid, _ in recipients]
    else:
        recipients, user_ids = [], _team_members(session, row)
    notice = texts.referral_inbox(kind, res.name, row.urgency, row.department, row.state, actor_name, text,
                                  row.response_due)
    services.to_inbox(session, [u for u in user_ids if u != actor_id], texts.inbox_topic(kind), notice, row.id)
    about = {"referral_id": row.id, "team_id": row.team_id, "center_id": row.center_id}
    if kind == "create" and row.urgency in URGENT:
        center = session.get(Center, row.center_id)
        sms = texts.urgent_case_sms(row.urgency, center.name, row.department, row.response_due)
        for user_id, phone in recipients:
            services.queue_sms(session, topic="urgent_referral", phone=phone, text=sms, user_id=user_id, **about)
    if kind == "answer" and (row.answer or {}).get("outcome") == "clinic" and res.sms_consent:
        answer = row.answer
        hospital = session.get(Hospital, row.hospital_id)
        sms = texts.clinic_sms(res.name, res.sex, hospital.name, row.department,
                               dt.date.fromisoformat(str(answer["clinic_date"])), answer.get("clinic_session"),
                               _team_phone(session, row.team_id, row.center_id))
        services.queue_sms(session, topic="clinic_appointment", phone=_resident_phone(res), text=sms,
                           resident_id=res.id, **about)


def system_event(session: Session, row, kind: str, text: str, center_staff: bool = False) -> None:
    """Notices for an entry the server wrote itself (an escalation, a household's move): the specialist side
    as the case now stands (its owner, named addressee or pool), the team (center_staff: and the staff of
    the case's center, to whom an escalation is flagged)."""
    res = session.get(Resident, row.resident_id)
    users = [uid for uid, _ in _specialists_of(session, row)] + _team_members(session, row)
    if center_staff:
        users += list(session.scalars(select(User.id).where(
            center_staff_accounts(User.role, User.center_id, row.center_id), User.is_active.is_(True))))
    notice = texts.referral_inbox(kind, res.name, row.urgency, row.department, row.state, "系统", text,
                                  row.response_due)
    services.to_inbox(session, users, texts.inbox_topic(kind), notice, row.id)


def claimed(session: Session, row, owner_name: str) -> int:
    """A case claimed (accepted) by one specialist: the notices of the pool's others (the named addressee
    among them, after a pass to the pool or an escalation) are marked, as they can no longer open it."""
    pool = session.scalars(select(User.id).where(specialist_accounts(User.role), User.hospital_id == row.hospital_id,
                                                 User.department == row.department))
    return services.retire_notices(session, row, pool, f"【已由{owner_name}认领】")


def team_moved(session: Session, row, old_team_id: int, new_team_name: str) -> int:
    """A case gone with its household to another team: the old team's notices about it are marked (the new
    team is told by the thread's system entry, when the case is still open)."""
    old = session.scalars(select(User.id).where(User.team_id == old_team_id))
    return services.retire_notices(session, row, old, f"【已随家庭转交{new_team_name}】")


def _resident_phone(res: Resident) -> str | None:
    return res.phone or res.household.phone


def _team_phone(session: Session, team_id: int | None, center_id: int) -> str | None:
    team = session.get(Team, team_id) if team_id is not None else None
    return (team.phone if team else None) or session.get(Center, center_id).phone


def followups_due(session: Session, today: dt.date, days: int = 7) -> int:
    """Queue an SMS to each consenting resident whose follow-up falls due from tomorrow to `days` ahead;
    once per resident, condition and due date however often it runs. How many were queued."""
    first, last = services.due_dates(today, days)
    rows = session.execute(
        select(FollowUpStatus.resident_id, FollowUpStatus.condition, FollowUpStatus.next_visit_date, Resident.name,
               Resident.sex, Resident.phone, Household.phone.label("household_phone"), Resident.team_id,
               Resident.center_id)
        .join(Resident, Resident.id == FollowUpStatus.resident_id)
        .join(Household, Household.id == Resident.household_id)
        .where(FollowUpStatus.next_visit_date.between(first, last), Resident.sms_consent.is_(True),
               Resident.status == "active")
        .order_by(FollowUpStatus.next_visit_date, FollowUpStatus.resident_id)).all()
    queued = 0
    for r in rows:
        text = texts.followup_due_sms(r.name, r.sex, hf.CHRONIC_CONDITION.get(r.condition, r.condition),
                                      r.next_visit_date, _team_phone(session, r.team_id, r.center_id))
        queued += services.queue_sms(
            session, topic="followup_due", phone=r.phone or r.household_phone, text=text, resident_id=r.resident_id,
            team_id=r.team_id, center_id=r.center_id,
            dedupe_key=f"followup_due:{r.resident_id}:{r.condition}:{r.next_visit_date.isoformat()}") is not None
    return queued
