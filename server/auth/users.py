"""Account administration rules."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, field_error
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


def get_visible_user(session: Session, actor: Actor, user_id: int) -> User:
    """A user the actor may manage (admin: all)."""
    user = session.get(User, user_id)
    if user is None or not may_manage_users(actor):
        raise NotFound("No such user.")
    return user


def list_users(session: Session, actor: Actor):
    """Accounts the actor may list: admin all, center staff their center's, a GP their team."""
    return select(User).where(users_visible(actor, User.team_id, User.center_id)).order_by(User.id)
