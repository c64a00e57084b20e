"""Notifications: the in-app inbox of each user, and the SMS outbox the worker sends from.

Both are written in the transaction of the change that causes them (a referral sent, moved or answered), so
a change and its notices commit or vanish together. The inbox is read where it is written; an SMS leaves the
building only through the worker (server/notifications/worker.py), which keeps each message's delivery
status here: a gateway that is down delays messages and loses none, and no request waits for it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

PENDING, SENT, FAILED = "pending", "sent", "failed"
DELIVERY_STATES = (PENDING, SENT, FAILED)

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class InboxItem(Base):
    """One notice in a user's in-app inbox (read once read_at is set)."""

    __tablename__ = "inbox_items"
    # A user's inbox newest first, and the unread count, from one index.
    __table_args__ = (Index("ix_inbox_items_user_read", "user_id", "read_at", "id"),)
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(30))  # referral_new, referral_accept, referral_message, ...
    text: Mapped[str] = mapped_column(Text)
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"))
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SmsMessage(Base):
    """One text message waiting for, or past, its delivery through the SMS gateway."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        # The worker's queue: due pending messages in order. Partial on PostgreSQL so sent ones cost nothing.
        Index("ix_sms_outbox_due", "next_attempt_at", "id", postgresql_where=sql_text("status = 'pending'")),
        Index("ix_sms_outbox_referral", "referral_id"),
        Index("ix_sms_outbox_team_center", "team_id", "center_id"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
    )
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(30))  # urgent_referral, clinic_appointment, followup_due
    phone: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    # Whom it is for (a specialist's account, or a resident) and whose it is (the team and center whose case
    # or resident it concerns: who may see its delivery status).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"))
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"))
    # Once per reason: a daily reminder run twice on one day queues its messages once (unique when set).
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    gateway_ref: Mapped[str | None] = mapped_column(String(100))  # the gateway's message id, if it gives one
