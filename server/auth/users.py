"""Account administration rules."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import services as audit
from ..errors import Conflict, NotFound, field_error
from ..households.models import Resident
from ..org.models import Center, Hospital, Team
from ..scope import Actor, may_manage_users, users_visible
from . import services
from .models import User


def create_user(session: Session, data: dict, profile: str = "default") -> User:
    """A new account; a GP belongs to one team (one leader per team), staff to a center."""
    if session.scalar(select(User.id).where(User.username == data["username"])):
        raise Conflict("That username is taken.", {"username": ["already taken"]})
    role = data["role"]
    user = User(username=data["username"], full_name=data["full_name"], role=role,
                phone=data.get("phone"), password_hash=services.hash_password(data["password"], profile))
    if role == "gp":
        team = session.get(Team, data.get("team_id") or 0)
        if team is None:
            raise field_error("team_id", "a GP needs an existing team")
        if not data.get("team_role"):
            raise field_error("team_role", "a GP needs a team role")
        if data.get("is_team_leader") and session.scalar(
                select(User.id).where(User.team_id == team.id, User.is_team_leader.is_(True))):
            raise Conflict("This team already has a leader.", {"is_team_leader": ["team has a leader"]})
        user.team_id, user.center_id = team.id, team.center_id
        user.team_role, user.is_team_leader = data["team_role"], bool(data.get("is_team_leader"))
    elif role == "center_staff":
        if session.get(Center, data.get("center_id") or 0) is None:
            raise field_error("center_id", "center staff need an existing center")
        user.center_id = data["center_id"]
    elif role == "specialist":
        if session.get(Hospital, data.get("hospital_id") or 0) is None:
            raise field_error("hospital_id", "a specialist needs an existing hospital")
        user.hospital_id, user.department = data["hospital_id"], data.get("department")
    session.add(user)
    return user


def update_user(session: Session, user: User, data: dict, profile: str = "default") -> User:
    """Change name, phone, password (revoking every token the user holds) or active state."""
    for key in ("full_name", "phone"):
        if key in data:
            setattr(user, key, data[key])
    if "password" in data:
        user.password_hash = services.hash_password(data["password"], profile)
        services.revoke_all_tokens(user)
    if "is_active" in data:
        (services.enable if data["is_active"] else services.disable)(session, user)
    return user


def move_to_team(session: Session, actor: Actor, user: User, data: dict) -> dict:
    """Move a GP to another team (admin): the team, its center and the role in it change together and the
    move is logged with its reason. Scope follows at the GP's next request (every request reads the team
    from this row). Residents of the old team who name the GP as responsible doctor keep that entry (their
    health file's cover field, for the old team to change); their number is returned and logged."""
    if user.role != "gp":
        raise field_error("team_id", "only a GP belongs to a team", "只有家庭医生团队成员属于团队")
    team = session.get(Team, data["team_id"])
    if team is None:
        raise field_error("team_id", "no such team", "没有这个团队")
    if team.id == user.team_id:
        raise Conflict("The user is already in that team.", {"team_id": ["already in that team"]},
                       zh="该用户已在这个团队。", zh_errors={"team_id": ["已在这个团队"]})
    leader = bool(data.get("is_team_leader"))
    if leader and session.scalar(select(User.id).where(User.team_id == team.id, User.is_team_leader.is_(True))):
        raise Conflict("This team already has a leader.", {"is_team_leader": ["team has a leader"]},
                       zh="这个团队已有团队长。", zh_errors={"is_team_leader": ["团队已有团队长"]})
    old_team_id = user.team_id
    still_named = session.scalar(select(func.count()).select_from(Resident).where(
        Resident.responsible_doctor_id == user.id, Resident.team_id == old_team_id)) if old_team_id else 0
    user.team_id, user.center_id = team.id, team.center_id
    user.team_role = data.get("team_role") or user.team_role
    user.is_team_leader = leader
    detail = {"from_team_id": old_team_id, "to_team_id": team.id, "team_role": user.team_role,
              "is_team_leader": leader, "reason": data["reason"], "residents_still_named": still_named}
    audit.record(session, actor, "move", "user", str(user.id), detail=detail)
    return {"user": user, "from_team_id": old_team_id, "to_team_id": team.id,
            "residents_still_named": still_named}


def get_visible_user(session: Session, actor: Actor, user_id: int) -> User:
    """A user the actor may manage (admin: all)."""
    user = session.get(User, user_id)
    if user is None or not may_manage_users(actor):
        raise NotFound("No such user.")
    return user


def list_users(session: Session, actor: Actor):
    """Accounts the actor may list: admin all, center staff their center's, a GP their team."""
    return select(User).where(users_visible(actor, User.team_id, User.center_id)).order_by(User.id)
