"""A household moved to another team (or a resident to another team's household) takes the referral cases
along.

The team of a case (Referral.team_id) is the team that follows it up and the only team that sees it
(scope.referrals_visible) and whose tablets hold it (the sync registry's referrals scope): the resident's
team. A household moved to another team is that team's whole file, so its cases go with it, open and closed
alike: the new team sees the resident's referral history, follows up and closes the open ones, gets the
worklist items of their answers (derived from the case's team); the old team keeps none of it, on the
console, the API or its tablets (the flush event logs a removal for the old team's tablets and the case whole
with its thread for the new team's). An open case gets a system entry in its thread saying so (the
specialist learns whom they now deal with); the old team's notices about it are marked; its SMS' delivery
status goes to the new team. The team-level metrics then count the case under the new team (as the follow-up
indicators count a resident under their current team).

A household given to no team keeps its cases with the team that had it (a case always has a team) until it
is given to one.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gpcore.referral import TERMINAL
from gpcore.referral.escalation import team_move_note
from gpcore.referral.machine import TEAM_MOVE

from ..audit import services as audit
from ..db import utcnow
from ..households.models import Resident
from ..notifications import triggers as notify
from ..notifications.models import SmsMessage
from ..org.models import Team
from ..scope import Actor
from .models import Referral
from .services import post_system


def follow_households(session: Session, actor: Actor, household_ids: list[str], team_id: int | None) -> int:
    """Give the cases of these households' residents to `team_id` (their households' new team), in the
    caller's transaction; how many cases moved."""
    if team_id is None or not household_ids:
        return 0
    return _follow(session, actor, Resident.household_id.in_(household_ids), team_id, None)


def follow_resident(session: Session, actor: Actor, resident_id: str, team_id: int | None, center_id: int) -> int:
    """A resident moved to a household of another team (perhaps of another center): their cases follow."""
    if team_id is None:
        return 0
    return _follow(session, actor, Resident.id == resident_id, team_id, center_id)


def _follow(session: Session, actor: Actor, residents, team_id: int, center_id: int | None) -> int:
    rows = session.scalars(select(Referral).join(Resident, Resident.id == Referral.resident_id)
                           .where(residents, Referral.team_id != team_id).order_by(Referral.id)).all()
    if not rows:
        return 0
    new_name = session.get(Team, team_id).name
    old_names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_({r.team_id for r in rows}))).all())
    for row in rows:
        old = row.team_id
        row.team_id, row.updated_at = team_id, utcnow()  # a new version: an action decided before is stale
        row.center_id = center_id or row.center_id
        if row.state not in TERMINAL:
            post_system(session, row, TEAM_MOVE, team_move_note(old_names.get(old), new_name))
        notify.team_moved(session, row, old, new_name)
        audit.record(session, actor, "team_move", "referral", row.id, row.resident_id,
                     detail={"from_team_id": old, "to_team_id": team_id})
    session.execute(update(SmsMessage).where(SmsMessage.referral_id.in_([r.id for r in rows]))
                    .values(team_id=team_id, center_id=center_id or SmsMessage.center_id),
                    execution_options={"synchronize_session": False})
    session.flush()
    return len(rows)
