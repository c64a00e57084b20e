"""Hospital departments and the directory entries of specialist users.

A specialist is a User (role "specialist", hospital_id, department): that is what scope and referral pools
use. The entry adds what a team needs to choose one: specialty, title, clinic sessions, whether they take
e-consultations, a phone for teams. A pool is a hospital and a department name (User.department); a
Department row says the pool exists and what it covers.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base
from ..org.models import Hospital

TITLES = {"chief": "主任医师", "associate_chief": "副主任医师", "attending": "主治医师", "resident": "住院医师"}
WEEKDAYS = range(1, 8)  # ISO: 1 Monday .. 7 Sunday
HALF_DAYS = ("am", "pm")


class Department(Base):
    """A hospital department that takes referrals (a specialty pool), e.g. 仁济医院东院 心内科."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("hospital_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    name: Mapped[str] = mapped_column(String(60))  # as in User.department
    specialty: Mapped[str] = mapped_column(String(100))  # searchable, e.g. "心血管内科 高血压 心衰"
    phone: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)

    hospital: Mapped[Hospital] = relationship()
    __mapper_args__ = {"version_id_col": version}


class SpecialistEntry(Base):
    """A specialist's directory entry; one per specialist user."""

    __tablename__ = "specialist_entries"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    specialty: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(20))  # a key of TITLES
    # [{"weekday": 1-7, "half_day": "am"|"pm"}, ...]: when they see patients in clinic
    clinic_sessions: Mapped[list] = mapped_column(JSON, default=list)
    takes_econsult: Mapped[bool] = mapped_column(Boolean, default=True)
    phone_for_teams: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)

    user: Mapped[User] = relationship()
    __mapper_args__ = {"version_id_col": version}
