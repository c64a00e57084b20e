"""Who may see and do what: a team sees its own households only; center staff their center; admin all.

The one home of every role decision: plain rules over an Actor, turned into SQL filters here so every query
uses the same definition. Services call these functions and never compare a role name themselves
(tests/server/test_scope_rule.py fails if one does). A new role rule goes here too: a specialist who sees
the cases addressed to them or their pool would be a WHERE-clause function beside rows_visible (over the
referral's addressee columns, as rows_visible is over team and center) with its one-row twin beside
can_see, and what the role may do is a require_* function below.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import and_, false, or_, true

from .errors import Forbidden, Invalid, NotFound, field_error

GP, CENTER_STAFF, SPECIALIST, ADMIN = "gp", "center_staff", "specialist", "admin"
ROLES = (GP, CENTER_STAFF, SPECIALIST, ADMIN)
# Who records (signs, amends) follow-up visits: the GP team, and admin for corrections.
FOLLOWUP_RECORDERS = (GP, ADMIN)
# Who works on residents' health files and lab reports; specialists see residents only through referrals.
CARE_ROLES = (GP, CENTER_STAFF, ADMIN)


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
    if actor.role == ADMIN:
        return true()
    if actor.role == GP:
        return team_col == actor.team_id if actor.team_id is not None else false()
    if actor.role == CENTER_STAFF:
        return center_col == actor.center_id if actor.center_id is not None else false()
    return false()  # specialists see residents only through referrals sent to them


def can_see(actor: Actor, team_id: int | None, center_id: int | None) -> bool:
    """The same rule as rows_visible, for one row already loaded."""
    if actor.role == ADMIN:
        return True
    if actor.role == GP:
        return actor.team_id is not None and team_id == actor.team_id
    if actor.role == CENTER_STAFF:
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
    if actor.role == ADMIN:
        return
    if actor.role == CENTER_STAFF and actor.center_id == center_id:
        return
    raise Forbidden("Only staff of this center may do this.", {"authorization": "center"})


# --- what a role may do -------------------------------------------------------------------------------

def require_role(actor, roles: Collection[str], message: str) -> None:
    """Refuse (403, authorization: role) an actor whose role is not one of `roles`; no roles: anyone."""
    if roles and actor.role not in roles:
        raise Forbidden(message, {"authorization": "role"})


def require_admin(actor: Actor, message: str) -> None:
    """Refuse anyone but an admin (403 with this message)."""
    require_role(actor, (ADMIN,), message)


def require_followup_recorder(actor: Actor) -> None:
    """Only a GP team member or an admin records follow-up visits."""
    require_role(actor, FOLLOWUP_RECORDERS, "Only a GP team member or an admin records follow-ups.")


def require_care_role(actor: Actor, message: str) -> None:
    """Only GP teams, center staff and admin work on health files and lab reports (403 with this message)."""
    require_role(actor, CARE_ROLES, message)


def require_team_member(actor: Actor, message: str) -> int:
    """The actor's team, for what only a GP team does for itself (sync a tablet, mark reports seen); else 403."""
    if actor.role != GP or actor.team_id is None:
        raise Forbidden(message, {"authorization": "role"})
    return actor.team_id


def may_manage_users(actor: Actor) -> bool:
    """Only admin manages (reads, changes) single accounts."""
    return actor.role == ADMIN


def sees_whole_district(actor: Actor) -> bool:
    """Admin sees district-wide totals (beside every center's)."""
    return actor.role == ADMIN


# --- teams, centers, users ----------------------------------------------------------------------------

def default_team(actor: Actor) -> int | None:
    """The team whose lists an actor gets when naming none: a GP their own; others every team in scope."""
    return actor.team_id if actor.role == GP else None


def teams_visible(actor: Actor, team_id_col, center_col):
    """A WHERE clause on a teams table: a GP their own team, center staff their center's, admin all."""
    return rows_visible(actor, team_id_col, center_col)


def require_team_access(actor: Actor, team):
    """Return the team (a loaded row or None) if the actor may see it; else not found (404, field team_id)."""
    if team is None or not can_see(actor, team.id, team.center_id):
        raise NotFound("No such team.", {"team_id": ["no such team in your scope"]})
    return team


def own_center_rows(actor: Actor, center_col):
    """A WHERE clause keeping rows of the actor's own center (admin: all): centers, committees, history."""
    return true() if actor.role == ADMIN else center_col == (actor.center_id or 0)


def users_visible(actor: Actor, team_col, center_col):
    """A WHERE clause on accounts the actor may list: admin all, center staff their center's, a GP their team."""
    if actor.role == ADMIN:
        return true()
    if actor.role == CENTER_STAFF:
        return center_col == actor.center_id
    if actor.role == GP:
        return team_col == actor.team_id
    raise Invalid("Specialists have no user list.", {"authorization": ["role"]})


def report_scope(actor: Actor, center_id: int | None, center_exists: Callable[[int], bool]) -> tuple:
    """(team_id, center_id) filters of a report (indicators) over everything in the actor's scope, with
    center_id as asked (or None); -1 matches nothing. A center out of scope is not found."""
    if actor.role == GP:
        return actor.team_id if actor.team_id is not None else -1, actor.center_id
    if actor.role == CENTER_STAFF:
        if center_id is not None and center_id != actor.center_id:
            raise NotFound("No such center.", {"center_id": ["no such center in your scope"]})
        return None, actor.center_id if actor.center_id is not None else -1
    if actor.role == ADMIN:
        if center_id is not None and not center_exists(center_id):
            raise NotFound("No such center.", {"center_id": ["no such center"]})
        return None, center_id
    return -1, -1  # specialists see no patient data; the route already refuses them


def new_household_team(actor: Actor, committee) -> int | None:
    """The team a new household in this committee (a loaded row or None) goes to, if the actor may open one
    there: a committee of the actor's center (admin: any); a GP only in their team's service area, and the
    household goes to the GP's team; others give it the committee's team. Else a field error on committee_id."""
    if committee is None or (actor.role != ADMIN and committee.center_id != actor.center_id):
        raise field_error("committee_id", "no such committee in your center")
    if actor.role == GP and committee.team_id != actor.team_id:
        raise field_error("committee_id", "this committee is not in your team's service area")
    return actor.team_id if actor.role == GP else committee.team_id


# --- center work queues -------------------------------------------------------------------------------

def queue_visible(actor: Actor, of_center: Callable[[int], object], what: str):
    """A WHERE clause on a center's work queue (the unmatched lab messages, refused messages): admin all,
    center staff their center's (`of_center(center_id)` builds that clause); anyone else is refused (403)."""
    if actor.role == ADMIN:
        return true()
    if actor.role == CENTER_STAFF and actor.center_id is not None:
        return of_center(actor.center_id)
    raise Forbidden(f"{what} is for center staff.", {"authorization": "role"})


# --- referrals (issue 13) -------------------------------------------------------------------------
# A team sees its own team's referrals, center staff their center's (read only), admin all. A specialist
# sees a case addressed to them by name or claimed by them, and a case addressed to the pool (hospital +
# department) they belong to while nobody has claimed it; through a case, only that resident's summary.

def referrals_visible(actor: Actor, referral):
    """A WHERE clause limiting the Referral model (or an alias) to the cases the actor may see."""
    if actor.role == SPECIALIST:
        named = or_(referral.specialist_id == actor.user_id, referral.owner_id == actor.user_id)
        if actor.hospital_id is None or not actor.department:
            return named
        pool = and_(referral.specialist_id.is_(None), referral.owner_id.is_(None),
                    referral.hospital_id == actor.hospital_id, referral.department == actor.department)
        return or_(named, pool)
    return rows_visible(actor, referral.team_id, referral.center_id)


def can_see_referral(actor: Actor, referral) -> bool:
    """The same rule as referrals_visible, for one case already loaded."""
    if actor.role == SPECIALIST:
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
    if actor.role != GP or actor.team_id is None or resident is None or resident.team_id != actor.team_id:
        raise NotFound("No such resident.", {"resident_id": ["no such resident in your team"]})


def addressable_specialist(user) -> bool:
    """A user a case may be addressed to, or a directory entry written for: an active specialist account
    at a hospital."""
    return user is not None and user.role == SPECIALIST and bool(user.is_active) and user.hospital_id is not None


def specialist_accounts(role_col):
    """A WHERE clause on users: specialist accounts (the directory lists only them)."""
    return role_col == SPECIALIST


def center_staff_accounts(role_col, center_col, center_id: int):
    """A WHERE clause on users: the staff of a center, to whom an overdue case is flagged (they see their
    center's cases: referrals_visible)."""
    return and_(role_col == CENTER_STAFF, center_col == center_id)


# --- tablets (issue 18) ---------------------------------------------------------------------------
# The registry: a GP team sees its own tablets (read only), center staff their center's, admin all; center
# staff and admin give the orders (retire, lost). A tablet belongs to one team: only that team's members
# enrol on it, sync with it and confirm its wipe.
DEVICE_MANAGERS = (CENTER_STAFF, ADMIN)


def devices_visible(actor: Actor, team_col, center_col):
    """A WHERE clause on the device registry; specialists have none (403)."""
    require_care_role(actor, "The device registry is for GP teams, center staff and admin.")
    return rows_visible(actor, team_col, center_col)


def require_device(actor: Actor, device):
    """Return the device (a loaded row or None) if the actor may see it; else not found."""
    require_care_role(actor, "The device registry is for GP teams, center staff and admin.")
    return require_visible(actor, device, "device")


def require_device_manager(actor: Actor, device):
    """Return the device if the actor may retire it or report it lost: center staff of its center, admin."""
    require_role(actor, DEVICE_MANAGERS, "Only center staff or admin retire a device or report it lost.")
    return require_visible(actor, device, "device")


def uses_tablets(actor: Actor) -> bool:
    """Whether the actor's requests come from a team tablet (their device headers count): GP team members."""
    return actor.role == GP and actor.team_id is not None
def referral_metrics_visible(actor: Actor, referral):
    """A WHERE clause on the Referral model for the loop's metrics (counts, no health data): a specialist
    the whole of their department's pool (whoever claimed a case) and the cases addressed to or claimed by
    them; everyone else the cases they may see (a GP their team, center staff their center, admin all)."""
    if actor.role == SPECIALIST and actor.hospital_id is not None and actor.department:
        own_pool = and_(referral.hospital_id == actor.hospital_id, referral.department == actor.department)
        return or_(own_pool, referral.specialist_id == actor.user_id, referral.owner_id == actor.user_id)
    return referrals_visible(actor, referral)
# --- notifications (issue 13) ---------------------------------------------------------------------
# The inbox is the caller's own (user_id == the caller). SMS delivery status: the messages sent to the
# caller's own phone, and those about the cases and residents of the team or center the caller sees.

def sms_visible(actor: Actor, user_col, team_col, center_col):
    """A WHERE clause on the SMS outbox: admin all; a team's and a center's own; anyone's own messages."""
    return or_(user_col == actor.user_id, rows_visible(actor, team_col, center_col))


# --- hospital systems (issue 13 item 8) -----------------------------------------------------------
# A hospital's interface engine, authenticated by its feed key (server/labs/feeds.py), reads and moves the
# cases addressed to its hospital, acting for one of that hospital's specialists.

def hospital_referrals(hospital_id: int, referral):
    """A WHERE clause: the cases addressed to this hospital (what its feed sees)."""
    return referral.hospital_id == hospital_id


def require_hospital_referral(hospital_id: int, referral):
    """The case if it is addressed to this hospital; else not found."""
    if referral is None or referral.hospital_id != hospital_id:
        raise NotFound("No such Task.", {"id": ["no such referral for this hospital"]})
    return referral
