"""The loop closes: answered and returned cases in the team's worklist ("follow up within 2 weeks").

A source of the worklist response beside lab alerts (server/followups/worklist.py adds it as
`referral_answers`). Derived from the referrals themselves: a case leaves the list when the team closes
it with its follow-up visit.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..households.models import Resident
from ..org.models import Hospital
from ..scope import Actor, referrals_visible
from .models import Referral

TASK = "两周内随访（按专科方案）"


def answers_to_follow_up(session: Session, actor: Actor, team_id: int | None, today: dt.date) -> list[dict]:
    """Answered and returned cases of the team(s) in scope, waiting for the team's follow-up (2 weeks)."""
    stmt = (select(Referral, Resident.name, Hospital.name.label("hospital_name"), User.full_name)
            .join(Resident, Resident.id == Referral.resident_id)
            .join(Hospital, Hospital.id == Referral.hospital_id)
            .outerjoin(User, User.id == Referral.owner_id)
            .where(Referral.state.in_(("answered", "returned")),
                   referrals_visible(actor, Referral))
            .order_by(Referral.follow_up_due, Referral.id))
    if team_id is not None:
        stmt = stmt.where(Referral.team_id == team_id)
    items = []
    for row, name, hospital_name, specialist in session.execute(stmt).all():
        plan = (row.return_form or {}).get("plan") or (row.answer or {}).get("plan")
        items.append({"referral_id": row.id, "resident_id": row.resident_id, "name": name, "state": row.state,
                      "outcome": (row.answer or {}).get("outcome"), "plan": plan,
                      "clinic_date": (row.answer or {}).get("clinic_date"),
                      "hospital": hospital_name, "department": row.department, "specialist": specialist,
                      "answered_on": row.answered_on, "follow_up_due": row.follow_up_due,
                      "overdue_days": (today - row.follow_up_due).days if row.follow_up_due < today else None,
                      "task": TASK})
    return items
