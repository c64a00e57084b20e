"""flask-jwt-extended wired to our users, our revocation table and our one error shape."""
from __future__ import annotations

import datetime as dt

from flask import g
from flask_jwt_extended import JWTManager

from .. import db
from ..api import error_response
from ..logs import remember_signed_in
from ..scope import Actor
from . import services
from .models import User

jwt = JWTManager()
GENERATION = "gen"  # claim: the user's token generation when issued (a password change bumps it)
FAMILY = "fam"  # claim: one id for every token of one sign-in (logout revokes them together)


def _unauthorized(message: str, reason: str):
    return error_response(401, message, {"authentication": reason}, {"WWW-Authenticate": "Bearer"})


@jwt.user_lookup_loader
def _load_user(_header, payload):
    user = g.pop("token_user", None)
    if user is None or str(user.id) != payload["sub"]:
        user = db.session().get(User, int(payload["sub"]))
    if user is None or not user.is_active:
        return None
    issued = dt.datetime.fromtimestamp(payload["iat"], dt.timezone.utc)
    if user.disabled_at is not None and issued <= user.disabled_at:
        return None  # issued before the account was last disabled
    if payload.get(GENERATION, 0) != user.token_generation:
        g.token_refused = "password_changed"  # issued before the password was last changed
        return None
    # Kept for what runs after the view (the access line, the audit of a refusal): by then a refused
    # request's rollback has expired the row, and reading it again cost a SELECT.
    remember_signed_in(Actor.of(user))
    return user


@jwt.user_lookup_error_loader
def _user_gone(_header, _payload):
    if g.pop("token_refused", None) == "password_changed":
        return _unauthorized("The password was changed since this token was issued; sign in again.",
                             "revoked_token")
    return _unauthorized("This account is disabled or no longer exists.", "user_disabled")


@jwt.token_in_blocklist_loader
def _revoked(_header, payload):
    # The token is signed by us, so "sub" is a user id; its row is read here with the revocation (one query
    # instead of two a request) and kept for _load_user, which flask-jwt-extended calls next.
    sub = payload.get("sub")
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) < 10):
        return services.is_revoked(db.session(), payload["jti"], payload.get(FAMILY))
    user, revoked = services.user_and_revoked(db.session(), int(sub), payload["jti"], payload.get(FAMILY))
    g.token_user = user
    return revoked


@jwt.revoked_token_loader
def _revoked_response(_header, _payload):
    return _unauthorized("This token was logged out.", "revoked_token")


@jwt.expired_token_loader
def _expired(_header, _payload):
    return _unauthorized("The token has expired; refresh it or sign in again.", "expired_token")


@jwt.invalid_token_loader
def _invalid(reason):
    return _unauthorized(f"The token is not valid ({reason}).", "invalid_token")


@jwt.unauthorized_loader
def _missing(reason):
    return _unauthorized(f"Sign in first ({reason}).", "missing_token")


@jwt.needs_fresh_token_loader
def _not_fresh(_header, _payload):
    return _unauthorized("This needs a fresh sign-in.", "fresh_token_required")


@jwt.token_verification_failed_loader
def _claims_failed(_header, _payload):
    return _unauthorized("The token's claims were refused.", "claims_failed")
