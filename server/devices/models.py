"""The device registry: one row per tablet, in one team."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..org.models import Team


class Device(Base):
    """A tablet enrolled to a GP team: what it reported last, and what center staff ordered for it."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_center_team", "center_id", "team_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the UUID the tablet made for itself
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))  # the team's, for center staff's scope
    state: Mapped[str] = mapped_column(String(10), default="active")  # gpcore.devices.STATES
    model: Mapped[str] = mapped_column(String(100))
    app_version: Mapped[str] = mapped_column(String(40))
    store_version: Mapped[int] = mapped_column(Integer)
    # The device secret and the escrow key (32 bytes each), sealed with AES-GCM under a key derived from the
    # server's secret (server/devices/keys.py): a copy of the database alone does not give them away.
    sealed_keys: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Changes waiting in the tablet's outbox as it last reported them (X-Pending-Changes), and when.
    pending_changes: Mapped[int | None] = mapped_column(Integer)
    pending_reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    state_changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The waiting changes last reported when center staff gave the order (what a lost tablet took with it).
    pending_at_order: Mapped[int | None] = mapped_column(Integer)
    wiped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship()
