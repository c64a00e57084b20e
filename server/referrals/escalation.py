"""The escalation of overdue cases: handed to the department pool and flagged to the center, recorded on
the case (escalated_at, escalated_from_id). Written by a command, `python -m server.manage
escalate-referrals`, meant to run from cron (e.g. hourly: a case becomes overdue when China's day turns);
reading never writes. Code that must learn of an escalation (the notification outbox) registers with
`on_escalation`: it is called inside the same transaction as the change. Each escalation writes a system
entry in the case's thread (who, when, why) with notices to both sides and the center.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore.referral.machine import ESCALATE, REQUESTED
from gpcore.referral.escalation import TO_POOL, escalated_case, escalation, escalation_note

from ..auth.models import User
from ..db import utcnow
from ..org.models import Center
from .models import Referral
from .services import case_of, post_system


@dataclass(frozen=True)
class Escalation:
    """One case escalated: where it went and whom to tell (the pool of hospital + department, the center)."""

    referral_id: str
    kind: str  # gpcore.referral.escalation.TO_POOL or TO_CENTER
    team_id: int
    center_id: int
    hospital_id: int
    department: str
    urgency: str
    response_due: dt.date
    from_specialist_id: int | None  # the specialist it was addressed to by name (TO_POOL)


Listener = Callable[[Session, Referral, Escalation], None]
_listeners: list[Listener] = []


def on_escalation(listener: Listener) -> Listener:
    """Register a function called for each escalated case, inside the escalation's transaction (usable as
    a decorator). The notification outbox writes its SMS/inbox rows here, so an escalation and its
    notices commit together or not at all."""
    _listeners.append(listener)
    return listener


def escalate_overdue(session: Session, today: dt.date, now: dt.datetime | None = None) -> list[Escalation]:
    """Escalate every case still waiting for its first response after its deadline, once; the caller
    commits. Returns what was escalated."""
    now = now or utcnow()
    stmt = (select(Referral).where(Referral.state == REQUESTED, Referral.response_due < today,
                                   Referral.escalated_at.is_(None))
            .order_by(Referral.response_due, Referral.id).with_for_update(skip_locked=True))
    done = []
    for row in session.scalars(stmt).all():  # the thread entries below write while the rows are read
        case = case_of(row)
        kind = escalation(case, row.response_due, today, escalated=False)
        if kind is None:
            continue
        if kind == TO_POOL:
            row.escalated_from_id = row.specialist_id
            row.specialist_id = escalated_case(case, kind).specialist_id
        row.escalated_at = now
        # The thread says who (the system), when (the entry's time) and why, to the pool, the named
        # specialist, the team and the center alike (a tablet gets it with the thread).
        named = session.get(User, row.escalated_from_id).full_name if kind == TO_POOL else None
        post_system(session, row, ESCALATE, escalation_note(kind, row.response_due, row.department,
                                                            session.get(Center, row.center_id).name, named),
                    center_staff=True)
        item = Escalation(row.id, kind, row.team_id, row.center_id, row.hospital_id, row.department, row.urgency,
                          row.response_due, row.escalated_from_id)
        for listener in _listeners:
            listener(session, row, item)
        done.append(item)
    session.flush()
    return done
