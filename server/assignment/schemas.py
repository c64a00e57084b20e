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


class AssignResultSchema(Schema):
    changed = ma.fields.Integer()


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
