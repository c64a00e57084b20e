"""A referral (双向转诊) and its thread.

The state and who owns the case are the gpcore rules' Case (gpcore/referral/machine.py), stored; the forms
are kept as JSON exactly as gpcore validated them. The thread is append-only: every message and every
transition (with its reason, question, answer or return form) is a row, never updated or deleted.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, text as sql_text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gpcore.referral import STATES

from ..db import Base, UTCDateTime, new_uuid, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")
# What the loop's metrics (metrics.py) read of a case besides sent_on: the groups, the scope, and the facts.
METRICS_COLUMNS = ("hospital_id", "department", "center_id", "team_id", "specialist_id", "owner_id", "state",
                   "created_at", "response_due", "first_response_at", "outcome", "returned_at", "follow_up_due",
                   "followed_up_on", "escalated_at")


class Referral(Base):
    """One case sent up by a GP team, addressed to a named specialist or to a department's pool."""

    __tablename__ = "referrals"
    __table_args__ = (
        # A team's open cases; a specialist's inbox (named, or the pool of their department); the owner's.
        Index("ix_referrals_team_state", "team_id", "state"),
        Index("ix_referrals_pool_state", "hospital_id", "department", "state"),
        Index("ix_referrals_specialist_state", "specialist_id", "state"),
        # A specialist's inbox is named OR owned OR their pool's unclaimed cases: each arm needs its own index
        # for a BitmapOr (migration r202). Without these, PostgreSQL read every open case of the district
        # (bench/bench_referrals.py: 8,000 of 10,000 rows read for 131 shown).
        Index("ix_referrals_owner_state", "owner_id", "state"),
        Index("ix_referrals_pool_unclaimed", "hospital_id", "department", "state",
              postgresql_where=sql_text("specialist_id IS NULL AND owner_id IS NULL")),
        Index("ix_referrals_resident", "resident_id"),
        Index("ix_referrals_team_id_id", "team_id", "id"),  # a tablet's first download walks the team's cases
        # The loop's metrics read a period of sending (up to 3 years, 110,000 cases in a district): on
        # PostgreSQL an index-only scan of the columns they count instead of the wide rows (forms as JSON).
        Index("ix_referrals_sent_on_metrics", "sent_on", postgresql_include=list(METRICS_COLUMNS)),
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")", name="state"),
        CheckConstraint("urgency IN ('routine', 'urgent', 'emergency')", name="urgency"),
        CheckConstraint("kind IN ('econsult', 'transfer')", name="kind"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    # The resident's team and center when the case was sent: the team that follows it up.
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    department: Mapped[str] = mapped_column(String(60))
    specialist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the pool's
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who accepted (claimed) it
    state: Mapped[str] = mapped_column(String(16), default="requested")
    info_from: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    form: Mapped[dict] = mapped_column(JSONType)  # 转出单
    lab_report_ids: Mapped[list] = mapped_column(JSONType, default=list)  # the resident's reports, by id
    answer: Mapped[dict | None] = mapped_column(JSONType)
    return_form: Mapped[dict | None] = mapped_column(JSONType)  # 回转单
    sent_on: Mapped[dt.date] = mapped_column(Date)
    response_due: Mapped[dt.date] = mapped_column(Date)
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    follow_up_due: Mapped[dt.date | None] = mapped_column(Date)
    # The team's follow-up visit that closed the loop (a visit of this resident on or after the answer).
    closing_followup_id: Mapped[str | None] = mapped_column(ForeignKey("followups.id"))
    # Escalated once when nobody answered by response_due (gpcore/referral/escalation.py): to the pool
    # (escalated_from_id: the specialist it was addressed to by name) and to the center.
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_from_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Facts of the case's history, stamped by services.act when they happen (migration r401 filled them in
    # from the thread for older cases), so the loop's metrics count columns instead of reading every
    # case's thread, answer and closing visit: the first response (accept, decline, question or answer:
    # gpcore.referral.metrics.RESPONSES), the answer's outcome (advice | clinic | admit), when the return
    # form was written, and the date of the visit the team closed the case with.
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    followed_up_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ReferralMessage(Base):
    """One entry of a case's thread: a message, or a transition with what came with it (append-only)."""

    __tablename__ = "referral_messages"
    __table_args__ = (Index("ix_referral_messages_referral_id", "referral_id", "id"),
                      # A message written on a tablet keeps the tablet's id, so a resent upload is recognised.
                      Index("ix_referral_messages_client_id", "client_id", unique=True))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None for an entry nobody signed in wrote (author_role "system"): an escalation, a household's move.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(60))
    author_role: Mapped[str] = mapped_column(String(20))
    # message, create, the action (accept, answer, ...), or a system entry (escalate, team_move)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    state_after: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str | None] = mapped_column(String(36))  # the tablet's id of a message written offline


class ReferralAttachment(Base):
    """An image attached to a case (a photo of an ECG, a wound, a discharge letter): JPEG or PNG, checked by
    its content, at most MAX_ATTACHMENT_BYTES.

    Kept in the database, not under the instance folder: it commits or rolls back with the thread entry that
    announces it, is backed up and restored with the case it belongs to, is served by whichever worker or
    host answers (no shared disk), and is read through the same scoped query as the case. The size limit
    keeps that affordable (PostgreSQL stores it out of line, TOAST). Never updated or deleted.
    """

    __tablename__ = "referral_attachments"
    __table_args__ = (Index("ix_referral_attachments_referral_id", "referral_id"),
                      CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name="content_type"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"))
    content_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    caption: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded only when served
