"""The organisation: who may see which center, team and committee."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..errors import Conflict, NotFound, field_error
from ..scope import Actor, own_center_rows, teams_visible
from .models import Center, Committee, Hospital, Team


def centers(actor: Actor):
    """Centers the actor belongs to (admin: all)."""
    stmt = select(Center).order_by(Center.id)
    return stmt.where(own_center_rows(actor, Center.id))


def teams(actor: Actor):
    """Teams visible to the actor: a GP their own, staff their center's, admin all."""
    stmt = select(Team).order_by(Team.id)
    return stmt.where(teams_visible(actor, Team.id, Team.center_id))


def team_members(session: Session, team: Team) -> list[User]:
    """A team's members, leader first."""
    return list(session.scalars(select(User).where(User.team_id == team.id, User.role == "gp")
                                .order_by(User.is_team_leader.desc(), User.id)))


def get_team(session: Session, actor: Actor, team_id: int) -> Team:
    """A team the actor may see."""
    team = session.scalar(teams(actor).where(Team.id == team_id))
    if team is None:
        raise NotFound("No such team.")
    return team


def committees(actor: Actor):
    """Committees of the actor's center (admin: all)."""
    stmt = select(Committee).order_by(Committee.center_id, Committee.code)
    return stmt.where(own_center_rows(actor, Committee.center_id))


def create_center(session: Session, data: dict) -> Center:
    """A new community health center."""
    if session.scalar(select(Center.id).where(Center.code == data["code"])):
        raise Conflict("A center with this code exists.", {"code": ["taken"]})
    center = Center(**data)
    session.add(center)
    return center


def create_team(session: Session, data: dict) -> Team:
    """A new team in a center."""
    if session.get(Center, data["center_id"]) is None:
        raise field_error("center_id", "no such center")
    team = Team(**data)
    session.add(team)
    return team


def create_committee(session: Session, data: dict) -> Committee:
    """A new residents' committee or village in a center."""
    if session.get(Center, data["center_id"]) is None:
        raise field_error("center_id", "no such center")
    if session.scalar(select(Committee.id).where(Committee.center_id == data["center_id"],
                                                 Committee.code == data["code"])):
        raise Conflict("This center already has a committee with that code.", {"code": ["taken"]})
    committee = Committee(**data)
    session.add(committee)
    return committee


def create_hospital(session: Session, data: dict) -> Hospital:
    """A new hospital."""
    if session.scalar(select(Hospital.id).where(Hospital.code == data["code"])):
        raise Conflict("A hospital with this code exists.", {"code": ["taken"]})
    hospital = Hospital(**data)
    session.add(hospital)
    return hospital
