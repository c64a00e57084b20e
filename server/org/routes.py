"""Centers, teams with members and service areas, committees, hospitals."""
from flask_jwt_extended import current_user
from sqlalchemy import select

from .. import db
from ..api import Blueprint
from ..scope import Actor
from . import services
from .models import Hospital
from .schemas import CenterSchema, CommitteeSchema, HospitalSchema, TeamSchema

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Centers, teams, committees, hospitals")


def _actor():
    return Actor.of(current_user)


def _with_members(team):
    team.members = services.team_members(db.session(), team)
    return team


@blp.route("/centers")
@blp.auth("admin", "center_staff", "gp")
@blp.response(200, CenterSchema(many=True))
def list_centers():
    """Your center (admin: all)."""
    return db.session().scalars(services.centers(_actor())).all()


@blp.route("/centers", methods=["POST"])
@blp.auth("admin")
@blp.arguments(CenterSchema)
@blp.response(201, CenterSchema)
def create_center(data):
    """Create a community health center (admin)."""
    center = services.create_center(db.session(), data)
    db.session().commit()
    return center


@blp.route("/teams")
@blp.auth("admin", "center_staff", "gp")
@blp.response(200, TeamSchema(many=True))
def list_teams():
    """Teams with members and service areas: a GP sees their own team, staff their center's."""
    return [_with_members(t) for t in db.session().scalars(services.teams(_actor())).all()]


@blp.route("/teams", methods=["POST"])
@blp.auth("admin")
@blp.arguments(TeamSchema)
@blp.response(201, TeamSchema)
def create_team(data):
    """Create a GP team (admin)."""
    team = services.create_team(db.session(), data)
    db.session().commit()
    return _with_members(team)


@blp.route("/teams/<int:team_id>")
@blp.auth("admin", "center_staff", "gp")
@blp.response(200, TeamSchema)
def get_team(team_id):
    """One team with members and committees."""
    return _with_members(services.get_team(db.session(), _actor(), team_id))


@blp.route("/committees")
@blp.auth("admin", "center_staff", "gp")
@blp.response(200, CommitteeSchema(many=True))
def list_committees():
    """Residents' committees and villages of your center."""
    return db.session().scalars(services.committees(_actor())).all()


@blp.route("/committees", methods=["POST"])
@blp.auth("admin")
@blp.arguments(CommitteeSchema)
@blp.response(201, CommitteeSchema)
def create_committee(data):
    """Create a committee (admin)."""
    committee = services.create_committee(db.session(), data)
    db.session().commit()
    return committee


@blp.route("/hospitals")
@blp.auth()
@blp.response(200, HospitalSchema(many=True))
def list_hospitals():
    """Hospitals that take referrals and send lab results."""
    return db.session().scalars(select(Hospital).order_by(Hospital.id)).all()


@blp.route("/hospitals", methods=["POST"])
@blp.auth("admin")
@blp.arguments(HospitalSchema)
@blp.response(201, HospitalSchema)
def create_hospital(data):
    """Register a hospital (admin)."""
    hospital = services.create_hospital(db.session(), data)
    db.session().commit()
    return hospital
