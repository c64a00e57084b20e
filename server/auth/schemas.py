"""Request and response shapes for sign-in and accounts."""
import marshmallow as ma

from ..api import Schema
from .models import ROLES, TEAM_ROLES


class LoginSchema(Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=200))


class TokensSchema(Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer(metadata={"description": "access token lifetime in seconds"})


class LogoutSchema(Schema):
    refresh_token = ma.fields.String(metadata={"description": "also revoke this refresh token"})


class UserSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String()
    full_name = ma.fields.String()
    role = ma.fields.String()
    is_active = ma.fields.Boolean()
    phone = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    team_role = ma.fields.String(allow_none=True)
    is_team_leader = ma.fields.Boolean()
    center_id = ma.fields.Integer(allow_none=True)
    hospital_id = ma.fields.Integer(allow_none=True)
    department = ma.fields.String(allow_none=True)


class UserCreateSchema(Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9_.-]{3,60}$"))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=200))
    full_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    phone = ma.fields.String(validate=ma.validate.Length(max=30))
    team_id = ma.fields.Integer()
    team_role = ma.fields.String(validate=ma.validate.OneOf(TEAM_ROLES))
    is_team_leader = ma.fields.Boolean(load_default=False)
    center_id = ma.fields.Integer()
    hospital_id = ma.fields.Integer()
    department = ma.fields.String(validate=ma.validate.Length(max=60))


class UserTeamSchema(Schema):
    """Move a GP to another team."""

    team_id = ma.fields.Integer(required=True, metadata={"description": "the team the GP joins"})
    team_role = ma.fields.String(validate=ma.validate.OneOf(TEAM_ROLES),
                                 metadata={"description": "the role in the new team; default: as before"})
    is_team_leader = ma.fields.Boolean(load_default=False, metadata={
        "description": "lead the new team (refused if it has a leader); a leader who moves stops leading"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200),
                              metadata={"description": "why, for the access log"})


class UserMoveSchema(Schema):
    user = ma.fields.Nested(UserSchema)
    from_team_id = ma.fields.Integer(allow_none=True)
    to_team_id = ma.fields.Integer()
    residents_still_named = ma.fields.Integer(metadata={
        "description": "residents of the old team whose file names this GP as responsible doctor (unchanged)"})


class UserUpdateSchema(Schema):
    is_active = ma.fields.Boolean()
    full_name = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    phone = ma.fields.String(validate=ma.validate.Length(max=30))
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=10, max=200))
