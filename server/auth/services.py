"""Sign-in rules: password check, throttling, token revocation. No HTTP here."""
from __future__ import annotations

import datetime as dt
import math

import argon2
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import TooManyRequests, Unauthorized
from .models import LoginFailure, RevokedToken, User

_hashers: dict[str, argon2.PasswordHasher] = {}


def hasher(profile: str = "default") -> argon2.PasswordHasher:
    """argon2id hasher; the 'fast' profile exists for the test suite only."""
    if profile not in _hashers:
        _hashers[profile] = (argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
                             if profile == "fast" else argon2.PasswordHasher())
    return _hashers[profile]


def hash_password(password: str, profile: str = "default") -> str:
    """An argon2id hash of the password."""
    return hasher(profile).hash(password)


def _verify(hash_: str, password: str, profile: str) -> bool:
    try:
        return hasher(profile).verify(hash_, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def _retry_after(session: Session, column, value: str, limit: int, window: dt.timedelta) -> int | None:
    since = utcnow() - window
    rows = session.scalars(select(LoginFailure.at).where(column == value, LoginFailure.at > since)
                           .order_by(LoginFailure.at.desc()).limit(limit)).all()
    if len(rows) < limit:
        return None
    # Locked until the oldest of the last `limit` failures leaves the window.
    oldest = min(rows)
    return max(1, math.ceil((oldest + window - utcnow()).total_seconds()))


def login(session: Session, username: str, password: str, address: str, cfg: dict) -> User:
    """The user for these credentials, or Unauthorized / TooManyRequests; records failures."""
    window = cfg["LOGIN_FAILURE_WINDOW"]
    for column, value, limit, what in (
        (LoginFailure.username, username, cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"], "account"),
        (LoginFailure.address, address, cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], "address"),
    ):
        wait = _retry_after(session, column, value, limit, window)
        if wait is not None:
            raise TooManyRequests(f"Too many failed sign-ins for this {what}; try again in {wait} s.",
                                  wait, {"authentication": f"throttled_{what}"},
                                  zh="登录失败次数过多，请稍后再试。")
    profile = cfg.get("PASSWORD_HASH_PROFILE", "default")
    user = session.scalar(select(User).where(User.username == username))
    # Verify against a dummy hash for unknown users so timing does not reveal which names exist.
    ok = _verify(user.password_hash if user else _dummy_hash(profile), password, profile)
    if not ok or user is None:
        session.add(LoginFailure(username=username, address=address))
        session.commit()
        raise Unauthorized("Wrong username or password.", {"authentication": "invalid_credentials"},
                           zh="用户名或密码错误。")
    if not user.is_active:
        raise Unauthorized("This account is disabled.", {"authentication": "user_disabled"},
                           zh="此账号已停用，请联系管理员。")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    session.commit()
    return user


_dummy: dict[str, str] = {}


def _dummy_hash(profile: str) -> str:
    if profile not in _dummy:
        _dummy[profile] = hash_password("not-a-real-password", profile)
    return _dummy[profile]


def revoke(session: Session, jti: str, user_id: int, token_type: str, expires_at: dt.datetime) -> None:
    """Record a token as revoked (idempotent)."""
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, user_id=user_id, token_type=token_type, expires_at=expires_at))


def is_revoked(session: Session, jti: str) -> bool:
    """True when the token id was logged out."""
    return session.get(RevokedToken, jti) is not None


def purge_expired(session: Session) -> int:
    """Forget revocations and failures that no longer matter."""
    now = utcnow()
    n = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount
    n += session.execute(delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(days=1))).rowcount
    return n


def disable(session: Session, user: User) -> None:
    """Disable an account: its tokens stop working on their next request."""
    user.is_active = False
    user.disabled_at = utcnow()


def enable(session: Session, user: User) -> None:
    """Enable an account again; tokens issued before it was disabled stay dead."""
    user.is_active = True


def count_users(session: Session) -> int:
    """How many accounts exist."""
    return session.scalar(select(func.count()).select_from(User))
