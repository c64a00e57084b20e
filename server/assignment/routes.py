"""Center staff assign households to teams and keep the teams' loads even."""
from flask import current_app
from flask_jwt_extended import current_user

from .. import db
from ..api import Blueprint, page_schema, paginate
from ..errors import field_error
from ..scope import Actor
from . import services
from .schemas import (AcceptSchema, AssignCommitteeSchema, AssignResultSchema, AssignSchema, CenterArgs,
                      ChangeSchema, HistoryArgs, ProposalSchema, TeamLoadSchema)

blp = Blueprint("assignment", __name__, url_prefix="/api/v1/assignments",
                description="Which team looks after which household")
STAFF = ("center_staff", "admin")
ChangePage = page_schema(ChangeSchema, "AssignmentChangePage")


def _actor():
    return Actor.of(current_user)


def _center(args) -> int:
    center_id = args.get("center_id") or current_user.center_id
    if center_id is None:
        raise field_error("center_id", "name the center")
    return center_id


def _capacity():
    return current_app.config["TEAM_CAPACITY_MIN"], current_app.config["TEAM_CAPACITY_MAX"]


@blp.route("/", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(AssignSchema)
@blp.response(200, AssignResultSchema)
def assign(data):
    """Give households (one or many) to a team, with a reason."""
    n = services.assign(db.session(), _actor(), data["household_ids"], data["team_id"], data["reason"])
    db.session().commit()
    return {"changed": n}


@blp.route("/by-committee", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(AssignCommitteeSchema)
@blp.response(200, AssignResultSchema)
def assign_committee(data):
    """Give a whole committee (and its households) to a team."""
    n = services.assign_committee(db.session(), _actor(), data["committee_id"], data["team_id"],
                                  data["reason"], data["only_unassigned"])
    db.session().commit()
    return {"changed": n}


@blp.route("/load")
@blp.auth(*STAFF)
@blp.arguments(CenterArgs, location="query")
@blp.response(200, TeamLoadSchema(many=True))
def load(args):
    """Each team's residents and chronic patients against the 10,000-15,000 a team can carry."""
    return services.loads(db.session(), _actor(), _center(args), *_capacity())


@blp.route("/proposal")
@blp.auth(*STAFF)
@blp.arguments(CenterArgs, location="query")
@blp.response(200, ProposalSchema)
def proposal(args):
    """A rebalancing proposal: which households to move where (nothing changes until accepted)."""
    return services.propose_rebalance(db.session(), _actor(), _center(args), *_capacity())


@blp.route("/proposal/accept", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(AcceptSchema)
@blp.response(200, AssignResultSchema)
@blp.alt_response(409, description="A household changed team since the proposal")
def accept(data):
    """Apply a proposal's moves as one change; refused if any household moved meanwhile."""
    n = services.accept_proposal(db.session(), _actor(), data["moves"], data["reason"])
    db.session().commit()
    return {"changed": n}


@blp.route("/history")
@blp.auth(*STAFF)
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, ChangePage)
def history(args):
    """Who moved which household, when and why."""
    stmt = services.history(_actor(), args.get("household_id"), args.get("center_id"))
    return paginate(db.session(), stmt, args["page"], args["page_size"])
