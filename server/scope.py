"""Who may see what: a team sees its own households only; center staff their center; admin all.

Plain rules over an Actor, turned into SQL filters here so every query uses the same definition.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, or_, true

from .errors import Forbidden, NotFound


@dataclass(frozen=True)
class Actor:
    """The signed-in caller, as the rules need it."""

    user_id: int
    username: str
    role: str
    team_id: int | None = None
    center_id: int | None = None
    hospital_id: int | None = None
    department: str | None = None  # a specialist's department: with hospital_id, their referral pool

    @classmethod
    def of(cls, user) -> Actor:
        """The Actor for a User row."""
        return cls(user.id, user.username, user.role, user.team_id, user.center_id, user.hospital_id,
                   user.department)


def rows_visible(actor: Actor, team_col, center_col):
    """A WHERE clause limiting rows with these team/center columns to what the actor may see."""
    if actor.role == "admin":
        return true()
    if actor.role == "gp":
        return team_col == actor.team_id if actor.team_id is not None else false()
    if actor.role == "center_staff":
        return center_col == actor.center_id if actor.center_id is not None else false()
    return false()  # specialists see residents only through referrals sent to them


def can_see(actor: Actor, team_id: int | None, center_id: int | None) -> bool:
    """The same rule as rows_visible, for one row already loaded."""
    if actor.role == "admin":
        return True
    if actor.role == "gp":
        return actor.team_id is not None and team_id == actor.team_id
    if actor.role == "center_staff":
        return actor.center_id is not None and center_id == actor.center_id
    return False


def require_visible(actor: Actor, row, what: str):
    """Return the row if the actor may see it; a row out of scope is reported as not found."""
    # 404 rather than 403: a team must not learn that another team's household exists.
    if row is None or not can_see(actor, row.team_id, row.center_id):
        raise NotFound(f"No such {what}.")
    return row


def require_center(actor: Actor, center_id: int) -> None:
    """Center staff act within their own center; admin anywhere."""
    if actor.role == "admin":
        return
    if actor.role == "center_staff" and actor.center_id == center_id:
        return
    raise Forbidden("Only staff of this center may do this.", {"authorization": "center"})


# --- referrals (issue 13) -------------------------------------------------------------------------
# A team sees its own team's referrals, center staff their center's (read only), admin all. A specialist
# sees a case addressed to them by name or claimed by them, and a case addressed to the pool (hospital +
# department) they belong to while nobody has claimed it; through a case, only that resident's summary.

def referrals_visible(actor: Actor, referral):
    """A WHERE clause limiting the Referral model (or an alias) to the cases the actor may see."""
    if actor.role == "specialist":
        named = or_(referral.specialist_id == actor.user_id, referral.owner_id == actor.user_id)
        if actor.hospital_id is None or not actor.department:
            return named
        pool = and_(referral.specialist_id.is_(None), referral.owner_id.is_(None),
                    referral.hospital_id == actor.hospital_id, referral.department == actor.department)
        return or_(named, pool)
    return rows_visible(actor, referral.team_id, referral.center_id)


def can_see_referral(actor: Actor, referral) -> bool:
    """The same rule as referrals_visible, for one case already loaded."""
    if actor.role == "specialist":
        if actor.user_id in (referral.specialist_id, referral.owner_id):
            return True
        return (referral.specialist_id is None and referral.owner_id is None and actor.hospital_id is not None
                and bool(actor.department) and referral.hospital_id == actor.hospital_id
                and referral.department == actor.department)
    return can_see(actor, referral.team_id, referral.center_id)


def require_referral(actor: Actor, referral):
    """Return the case if the actor may see it; out of scope is reported as not found."""
    if referral is None or not can_see_referral(actor, referral):
        raise NotFound("No such referral.")
    return referral


def require_referral_sender(actor: Actor, resident) -> None:
    """Only a GP of the resident's own team sends a referral for them (others: not found)."""
    if actor.role != "gp" or actor.team_id is None or resident is None or resident.team_id != actor.team_id:
        raise NotFound("No such resident.", {"resident_id": ["no such resident in your team"]})
