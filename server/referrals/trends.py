"""A case's resident's blood pressure and fasting glucose over the last year, for the specialist's charts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import services as audit
from ..followups.models import FollowUp
from ..followups.services import effective
from ..scope import Actor
from . import services

TREND_DAYS = 365


def trends(session: Session, actor: Actor, referral_id: str) -> dict:
    """The effective visits of the case's resident in the year before the case was sent and since, oldest
    first (only BP and glucose; read-audited like the summary)."""
    row = services.get(session, actor, referral_id, log_read=False)
    visits = session.scalars(
        select(FollowUp).where(FollowUp.resident_id == row.resident_id, FollowUp.kind == "visit", effective(),
                               FollowUp.visit_date >= row.sent_on - dt.timedelta(days=TREND_DAYS))
        .order_by(FollowUp.visit_date, FollowUp.received_at)).all()
    audit.record(session, actor, "read", "resident_trends", row.id, row.resident_id,
                 detail={"referral_id": row.id, "visits": len(visits)})
    return {"referral_id": row.id, "since": row.sent_on - dt.timedelta(days=TREND_DAYS),
            "points": [{"id": v.id, "visit_date": v.visit_date, "condition": v.condition, "sbp": v.sbp, "dbp": v.dbp,
                        "fpg_mmol": v.fpg_mmol} for v in visits]}
