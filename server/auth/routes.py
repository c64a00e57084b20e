"""Sign in, refresh, sign out; account administration."""
import uuid

from flask import current_app
from flask_jwt_extended import (create_access_token, create_refresh_token, current_user, decode_token,
                                get_jwt, jwt_required)

from .. import db
from ..api import Blueprint, PageArgs, client_address, page_schema, paginate
from ..db import utcnow
from ..errors import Unauthorized
from ..scope import Actor
from . import services, users
from .schemas import (LoginSchema, LogoutSchema, TokensSchema, UserCreateSchema, UserMoveSchema, UserSchema,
                      UserTeamSchema, UserUpdateSchema)
from .tokens import FAMILY, GENERATION

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-in and tokens")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Accounts")


def _tokens(user, family: str, with_refresh=True) -> dict:
    claims = {"role": user.role, GENERATION: user.token_generation, FAMILY: family}
    out = {"access_token": create_access_token(identity=str(user.id), additional_claims=claims),
           "token_type": "Bearer",
           "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())}
    if with_refresh:
        out["refresh_token"] = create_refresh_token(identity=str(user.id), additional_claims=claims)
    return out


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong credentials or disabled account")
@blp.alt_response(429, description="Too many failures for this account or address (see Retry-After)")
def login(creds):
    """Sign in with username and password; returns access and refresh tokens."""
    user = services.login(db.session(), creds["username"], creds["password"], client_address(),
                          current_app.config)
    return _tokens(user, uuid.uuid4().hex)


@blp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.doc(security=[{"bearerAuth": []}])
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Missing, invalid, expired or revoked refresh token")
def refresh():
    """A new access token for a valid refresh token (sent as the bearer token)."""
    return _tokens(current_user, get_jwt().get(FAMILY) or uuid.uuid4().hex, with_refresh=False)


@blp.route("/logout", methods=["POST"])
@blp.auth()
@blp.arguments(LogoutSchema, required=False)  # the refresh token may be left out
@blp.response(204)
def logout(body):
    """Revoke this sign-in: this access token, the refresh token issued with it and every access token
    refreshed from that (and the refresh token given in the body); survives restarts."""
    session = db.session()
    claims = get_jwt()
    services.revoke(session, claims["jti"], current_user.id, "access", _exp(claims))
    if claims.get(FAMILY):
        services.revoke_family(session, claims[FAMILY], current_user.id,
                               utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    if body.get("refresh_token"):
        try:
            refresh_claims = decode_token(body["refresh_token"], allow_expired=True)
        except Exception as exc:  # any decode failure is the caller's bad token
            raise Unauthorized("The refresh token is not valid.", {"refresh_token": ["invalid"]}) from exc
        if refresh_claims.get("sub") != str(current_user.id):
            raise Unauthorized("That refresh token is not yours.", {"refresh_token": ["not yours"]})
        services.revoke(session, refresh_claims["jti"], current_user.id, "refresh", _exp(refresh_claims))
    session.commit()


@blp.route("/me")
@blp.auth()
@blp.response(200, UserSchema)
def me():
    """The signed-in account."""
    return current_user


def _exp(claims):
    import datetime as dt
    return dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc)


UserPage = page_schema(UserSchema, "UserPage")


@users_blp.route("/")
@users_blp.auth("admin", "center_staff", "gp")
@users_blp.arguments(PageArgs, location="query")
@users_blp.response(200, UserPage)
def list_users(args):
    """Accounts: admin all, center staff their center's, a GP their own team."""
    stmt = users.list_users(db.session(), Actor.of(current_user))
    return paginate(db.session(), stmt, args["page"], args["page_size"])


@users_blp.route("/", methods=["POST"])
@users_blp.auth("admin")
@users_blp.arguments(UserCreateSchema)
@users_blp.response(201, UserSchema)
def create_user(data):
    """Create an account (admin)."""
    user = users.create_user(db.session(), data, current_app.config.get("PASSWORD_HASH_PROFILE", "default"))
    db.session().commit()
    return user


@users_blp.route("/<int:user_id>/team", methods=["PUT"])
@users_blp.auth("admin")
@users_blp.arguments(UserTeamSchema)
@users_blp.response(200, UserMoveSchema)
@users_blp.alt_response(409, description="already in that team, or the team has a leader")
def move_user(data, user_id):
    """Move a GP to another team (admin), logged with the reason; their scope is the new team's at once."""
    session = db.session()
    actor = Actor.of(current_user)
    result = users.move_to_team(session, actor, users.get_visible_user(session, actor, user_id), data)
    session.commit()
    return result


@users_blp.route("/<int:user_id>", methods=["PATCH"])
@users_blp.auth("admin")
@users_blp.arguments(UserUpdateSchema)
@users_blp.response(200, UserSchema)
def update_user(data, user_id):
    """Change an account; `is_active: false` stops its tokens at once (admin)."""
    session = db.session()
    user = users.get_visible_user(session, Actor.of(current_user), user_id)
    users.update_user(session, user, data, current_app.config.get("PASSWORD_HASH_PROFILE", "default"))
    session.commit()
    return user
