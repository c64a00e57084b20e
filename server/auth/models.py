"""Accounts, revoked tokens and sign-in throttles."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..org.models import Center, Hospital, Team

ROLES = ("gp", "center_staff", "specialist", "admin")
TEAM_ROLES = ("family_doctor", "nurse", "public_health_doctor")
TEAM_ROLE_LABELS = {"family_doctor": "家庭医生", "nurse": "社区护士", "public_health_doctor": "公卫医生"}


class User(Base):
    """A person who signs in: a GP team member, center staff, a hospital specialist or an admin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    # gp: the team and the role in it
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    team_role: Mapped[str | None] = mapped_column(String(30))
    is_team_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    # center_staff (and gp, through the team): the center
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"), index=True)
    # specialist
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))
    department: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Tokens carry the generation they were issued under; a password change bumps it, revoking them all.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    team: Mapped[Team | None] = relationship()
    center: Mapped[Center | None] = relationship()
    hospital: Mapped[Hospital | None] = relationship()


class RevokedToken(Base):
    """A token that was logged out, or (token_type 'family', jti 'family:<id>') every token of one sign-in;
    kept in the database so revocation survives a restart."""

    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_type: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginThrottle(Base):
    """Sign-in attempts for one key ('account:<name>@<address>' or 'address:<address>'), counted before the
    password is checked; `version` makes each count a compare-and-set, `not_before` the progressive delay."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(140), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
