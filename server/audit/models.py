"""The access log of residents' health files (append-only)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who read or changed which record, when, and from which address or device."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_resident_at", "resident_id", "at"),
                      Index("ix_audit_events_user_at", "user_id", "at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))  # read, create, update, move, status, search, import
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    resident_id: Mapped[str | None] = mapped_column(String(36))
    address: Mapped[str] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)


class DeniedAttempt(Base):
    """Refused requests (401/403) counted per minute, address, caller, endpoint and status.

    The first refusal of each such minute gets its full audit row (audit_events: the path, the request id,
    the name tried at sign-in); the repeats only add to `count` here. So a stream of refused requests cannot
    fill the access log, and how many there were is still known. The endpoint is the route's name, not the
    path: a path can carry any id, an endpoint is one of the API's few hundred."""

    __tablename__ = "denied_attempts"
    __table_args__ = (PrimaryKeyConstraint("minute", "address", "username", "endpoint", "status"),
                      Index("ix_denied_attempts_address_minute", "address", "minute"))
    minute: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(60))  # "-" before sign-in
    endpoint: Mapped[str] = mapped_column(String(120))
    status: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
