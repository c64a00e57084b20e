"""Sync tables: the change log, upload batches and per-record receipts, the conflict log, server state."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class SyncChange(Base):
    """One row per change to a synced record, as a given team sees it: upsert (send the current state) or
    remove (it left the team's scope). Written in the same transaction as the change itself."""

    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_team_xid_seq", "team_id", "xid", "seq"),)
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # PostgreSQL: the writing transaction's id (pg_current_xact_id); 0 on SQLite, whose writers are serial.
    xid: Mapped[int] = mapped_column(BigInteger, default=0)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(36))
    team_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(6))  # upsert | remove
    # When it was logged, filled in by the database (every writer, COPY too): only to choose what
    # prune_changes() may drop; never an order (that is (xid, seq)). NULL for rows logged before s002.
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                           server_default=text("CURRENT_TIMESTAMP"))


class SyncBatch(Base):
    """An upload batch as received, with the answer given, so a repeat gets exactly the same answer."""

    __tablename__ = "sync_batches"
    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    records: Mapped[int] = mapped_column(Integer)
    answer: Mapped[dict] = mapped_column(JSONType)


class SyncReceipt(Base):
    """One uploaded record (by its client change id) and what the server did with it."""

    __tablename__ = "sync_receipts"
    change_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    op: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))  # applied | conflict | rejected
    answer: Mapped[dict] = mapped_column(JSONType)
    # Both clocks kept (sync.md 6): what the tablet said, and when the server got it. Order is by seq.
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncConflict(Base):
    """A value that lost a same-field edit race, kept for a person to review (nothing is thrown away)."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_team_id_id", "team_id", "id"),)
    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    field: Mapped[str] = mapped_column(String(60))
    kept_value: Mapped[dict | list | str | int | None] = mapped_column(JSONType, nullable=True)
    losing_value: Mapped[dict | list | str | int | None] = mapped_column(JSONType, nullable=True)
    base_value: Mapped[dict | list | str | int | None] = mapped_column(JSONType, nullable=True)
    change_id: Mapped[str] = mapped_column(String(36), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(Integer)
    center_id: Mapped[int | None] = mapped_column(Integer, index=True)
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServerState(Base):
    """Small server-wide facts; 'epoch' changes after a restore so tablets re-upload what was lost."""

    __tablename__ = "server_state"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
