"""Shapes for assignment requests, team loads and proposals."""
import marshmallow as ma

from ..api import MAX_PAGE, Schema

V = ma.validate


class AssignSchema(Schema):
    household_ids = ma.fields.List(ma.fields.String(), required=True, validate=V.Length(min=1, max=10_000))
    team_id = ma.fields.Integer(required=True, allow_none=True,
                                metadata={"description": "null takes the households off every team"})
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))


class AssignCommitteeSchema(Schema):
    committee_id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(required=True, allow_none=True)
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))
    only_unassigned = ma.fields.Boolean(load_default=False)


class TeamMoveSchema(Schema):
    from_team_id = ma.fields.Integer(allow_none=True)
    to_team_id = ma.fields.Integer(allow_none=True)
    households = ma.fields.Integer()
    residents = ma.fields.Integer(metadata={"description": "active residents of those households"})


class AssignResultSchema(Schema):
    changed = ma.fields.Integer(metadata={"description": "households that moved (or would move, dry_run)"})
    residents = ma.fields.Integer(metadata={"description": "their active residents"})
    moves = ma.fields.List(ma.fields.Nested(TeamMoveSchema), metadata={"description": "per from-to team pair"})
    batch_id = ma.fields.String(allow_none=True, metadata={"description": "what undo takes; null on dry_run"})


class DryRunArgs(Schema):
    dry_run = ma.fields.Boolean(load_default=False, metadata={
        "description": "count what would move (households, residents, from which team) and change nothing"})


class UndoSchema(Schema):
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))


class BatchMoveSchema(Schema):
    from_team_id = ma.fields.Integer(allow_none=True)
    to_team_id = ma.fields.Integer(allow_none=True)
    households = ma.fields.Integer()


class BatchCommitteeSchema(Schema):
    committee_id = ma.fields.Integer()
    from_team_id = ma.fields.Integer(allow_none=True)
    to_team_id = ma.fields.Integer(allow_none=True)


class BatchSchema(Schema):
    batch_id = ma.fields.String()
    changed_at = ma.fields.DateTime()
    changed_by = ma.fields.Integer()
    reason = ma.fields.String()
    households = ma.fields.Integer()
    moves = ma.fields.List(ma.fields.Nested(BatchMoveSchema))
    committees = ma.fields.List(ma.fields.Nested(BatchCommitteeSchema), metadata={
        "description": "committees a by-committee assignment gave to a team in this batch (undo gives them back)"})


class BatchArgs(Schema):
    center_id = ma.fields.Integer()
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=20, validate=V.Range(min=1, max=200))


class CenterArgs(Schema):
    center_id = ma.fields.Integer(metadata={"description": "defaults to your own center"})


class TeamLoadSchema(Schema):
    team_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    households = ma.fields.Integer()
    residents = ma.fields.Integer()
    chronic_patients = ma.fields.Integer()
    hypertension = ma.fields.Integer()
    diabetes = ma.fields.Integer()
    capacity_min = ma.fields.Integer()
    capacity_max = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "under, within, over or unassigned"})


class HouseholdMoveSchema(Schema):
    household_id = ma.fields.String(required=True)
    from_team_id = ma.fields.Integer(required=True, allow_none=True)
    to_team_id = ma.fields.Integer(required=True)
    residents = ma.fields.Integer(load_default=0)


class ProposalSchema(Schema):
    center_id = ma.fields.Integer()
    moves = ma.fields.List(ma.fields.Nested(HouseholdMoveSchema))
    before = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    after = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    capacity = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class AcceptSchema(Schema):
    moves = ma.fields.List(ma.fields.Nested(HouseholdMoveSchema), required=True, validate=V.Length(min=1))
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))


class ChangeSchema(Schema):
    id = ma.fields.Integer()
    household_id = ma.fields.String()
    from_team_id = ma.fields.Integer(allow_none=True)
    to_team_id = ma.fields.Integer(allow_none=True)
    changed_by = ma.fields.Integer()
    changed_at = ma.fields.DateTime()
    reason = ma.fields.String()
    batch_id = ma.fields.String(allow_none=True)


class HistoryArgs(Schema):
    household_id = ma.fields.String()
    center_id = ma.fields.Integer()
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))
