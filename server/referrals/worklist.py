"""The referrals in the team's worklist: the loop closes (answered and returned cases, "follow up within 2
weeks") and the loop opens (a referral the follow-up rules asked for, offered pre-filled).

A source of the worklist response beside lab alerts (server/followups/worklist.py adds `referral_answers`;
the route adds each item's `referral_offer`). Derived from the referrals and visits themselves: a case
leaves the list when the team closes it with its follow-up visit; an offer, when the team sends a case.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore.referral import prefill as prefill_rules

from ..auth.models import User
from ..households.models import Resident
from ..org.models import Hospital
from ..scope import Actor, referrals_visible
from .models import Referral
from .services import rule_visits

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


def referral_offers(session: Session, actor: Actor, items: list[dict]) -> None:
    """Give each worklist item whose latest visit asked for a referral (an emergency, a second uncontrolled
    visit: gpcore asked_by_the_rules, as on the tablet) its `referral_offer`: urgency, the visit, the reason,
    and the prefill that fills the upward form from the health file, unless the team sent a case since
    (gpcore still_asked). Only the items given (a page) are read: two queries whatever their number."""
    asking = [i for i in items if prefill_rules.asks_for_referral(i)]
    for item in items:
        item["referral_offer"] = None
    if not asking:
        return
    ids = sorted({i["resident_id"] for i in asking})
    cases: dict[str, list] = {}
    for case in session.execute(select(Referral.resident_id, Referral.state, Referral.sent_on)
                                .where(Referral.resident_id.in_(ids), referrals_visible(actor, Referral))):
        cases.setdefault(case.resident_id, []).append(case._asdict())
    visits = rule_visits(session, ids)
    for item in asking:
        own = [v for v in visits.get(item["resident_id"], []) if v["condition"] == item["condition"]]
        offer = prefill_rules.asked_by_the_rules(own, item["birth_date"])
        if prefill_rules.still_asked(offer, cases.get(item["resident_id"], [])):
            item["referral_offer"] = {**offer, "prefill": f"/api/v1/referrals/prefill?"
                                                          f"resident_id={item['resident_id']}&condition={item['condition']}"}
