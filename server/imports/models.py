"""What a district import has written, one row per team (its resumable unit)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class ImportBatch(Base):
    """One team's households of a district import, written in the same transaction as they were: a rerun of
    the import under the same batch name finds the teams already done here and leaves them out. `unit` is
    the center and team ("3/12"; "3/-" for a center's committees that have no team)."""

    __tablename__ = "import_batches"
    __table_args__ = (UniqueConstraint("batch", "unit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(24))
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    source: Mapped[str] = mapped_column(String(200))  # the file's name
    households: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)
    conditions: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
