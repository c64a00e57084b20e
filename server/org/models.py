"""Community health centers, hospitals, GP teams and the committees (service areas) they cover."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base


class Center(Base):
    """A community health center (社区卫生服务中心) serving one township/street."""

    __tablename__ = "centers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    county_code: Mapped[str] = mapped_column(String(6))  # GB/T 2260, the first 6 digits of record numbers
    township_code: Mapped[str] = mapped_column(String(3))
    township_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))

    teams: Mapped[list[Team]] = relationship(back_populates="center", order_by="Team.id")
    committees: Mapped[list[Committee]] = relationship(back_populates="center", order_by="Committee.code")


class Hospital(Base):
    """A hospital whose specialists answer referrals and send lab results."""

    __tablename__ = "hospitals"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Team(Base):
    """A GP team (全科团队) of 7-9 people that looks after the households of its service area."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("center_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))

    center: Mapped[Center] = relationship(back_populates="teams")
    committees: Mapped[list[Committee]] = relationship(back_populates="team", order_by="Committee.code")


class Committee(Base):
    """A residents' committee or village (居委会/村委会); a team's service area is a set of these."""

    __tablename__ = "committees"
    __table_args__ = (UniqueConstraint("center_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    code: Mapped[str] = mapped_column(String(3))  # 001-099 residents', 101-199 village, 901-999 other
    name: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    # Last serial handed out in this committee's record numbers (17-digit rule: ... + 5-digit serial).
    last_serial: Mapped[int] = mapped_column(Integer, default=0)

    center: Mapped[Center] = relationship(back_populates="committees")
    team: Mapped[Team | None] = relationship(back_populates="committees")
