"""Center staff assign households to teams and keep the teams' loads even."""
from flask import current_app
from flask_jwt_extended import current_user

from .. import db
from ..api import Blueprint, page_schema, paginate
from ..errors import field_error
from ..scope import Actor
from . import services
from .schemas import (AcceptSchema, AssignCommitteeSchema, AssignResultSchema, AssignSchema, BatchArgs,
                      BatchSchema, CenterArgs, ChangeSchema, DryRunArgs, HistoryArgs, ProposalSchema,
                      TeamLoadSchema, UndoSchema)

blp = Blueprint("assignment", __name__, url_prefix="/api/v1/assignments",
                description="Which team looks after which household")
STAFF = ("center_staff", "admin")
ChangePage = page_schema(ChangeSchema, "AssignmentChangePage")
BatchPage = page_schema(BatchSchema, "AssignmentBatchPage")


def _actor():
    return Actor.of(current_user)


def _center(args) -> int:
    center_id = args.get("center_id") or current_user.center_id
    if center_id is None:
        raise field_error("center_id", "name the center", "请指定中心")
    return center_id


def _capacity():
    return current_app.config["TEAM_CAPACITY_MIN"], current_app.config["TEAM_CAPACITY_MAX"]


@blp.route("/", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(DryRunArgs, location="query")
@blp.arguments(AssignSchema)
@blp.response(200, AssignResultSchema)
def assign(args, data):
    """Give households (one or many) to a team, with a reason; dry_run=true counts what would move."""
    if args["dry_run"]:
        return services.preview(db.session(), _actor(), data["household_ids"], data["team_id"])
    result = services.assign(db.session(), _actor(), data["household_ids"], data["team_id"], data["reason"])
    db.session().commit()
    return result


@blp.route("/by-committee", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(DryRunArgs, location="query")
@blp.arguments(AssignCommitteeSchema)
@blp.response(200, AssignResultSchema)
def assign_committee(args, data):
    """Give a whole committee (and its households) to a team; dry_run=true counts what would move."""
    result = services.assign_committee(db.session(), _actor(), data["committee_id"], data["team_id"],
                                       data["reason"], data["only_unassigned"], dry_run=args["dry_run"])
    if not args["dry_run"]:
        db.session().commit()
    return result


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


@blp.route("/batches")
@blp.auth(*STAFF)
@blp.arguments(BatchArgs, location="query")
@blp.response(200, BatchPage)
def list_batches(args):
    """Assignment batches (each request one), newest first, with the households each from-to pair moved."""
    page = paginate(db.session(), services.batches(_actor(), args.get("center_id")), args["page"],
                    args["page_size"], rows=True, then=services.batch_rows)
    return {**page, "items": services.with_committees(db.session(), services.group_batches(page["items"]))}


@blp.route("/batches/<batch_id>/undo", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(UndoSchema)
@blp.response(200, AssignResultSchema)
@blp.alt_response(409, description="A household of the batch has moved again since")
def undo(data, batch_id):
    """Move a batch's households (and a by-committee batch's committee) back where they came from, as a new
    batch; 409 if any of them moved since."""
    result = services.undo_batch(db.session(), _actor(), batch_id, data["reason"])
    db.session().commit()
    return result
