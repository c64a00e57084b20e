"""Shapes of centers, teams, committees and hospitals."""
import marshmallow as ma

from ..api import Schema
from ..limits import no_control_characters

V = ma.validate


class CommitteeSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    center_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, validate=V.Regexp(r"^(0\d[1-9]|0[1-9]0|1\d[1-9]|1[1-9]0|9\d\d)$"),
                            metadata={"description": "001-099 residents' committee, 101-199 village, 901-999 other"})
    name = ma.fields.String(required=True, validate=[V.Length(min=1, max=100), no_control_characters])
    team_id = ma.fields.Integer(dump_only=True, allow_none=True)


class TeamMemberSchema(Schema):
    id = ma.fields.Integer()
    full_name = ma.fields.String()
    team_role = ma.fields.String()
    is_team_leader = ma.fields.Boolean()
    phone = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean()


class TeamSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    center_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, validate=[V.Length(min=1, max=100), no_control_characters])
    phone = ma.fields.String(validate=V.Length(max=30), allow_none=True)
    committees = ma.fields.List(ma.fields.Nested(CommitteeSchema), dump_only=True)
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema), dump_only=True)


class CenterSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=V.Length(min=1, max=20))
    name = ma.fields.String(required=True, validate=[V.Length(min=1, max=100), no_control_characters])
    county_code = ma.fields.String(required=True, validate=V.Regexp(r"^\d{6}$"))
    township_code = ma.fields.String(required=True, validate=V.Regexp(r"^\d{3}$"))
    township_name = ma.fields.String(required=True,
                                     validate=[V.Length(min=1, max=100), no_control_characters])
    phone = ma.fields.String(validate=V.Length(max=30), allow_none=True)


class HospitalSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=V.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=[V.Length(min=1, max=100), no_control_characters])
