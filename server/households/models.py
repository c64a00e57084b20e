"""Household health files: households, residents, chronic-condition registry, and their history."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, new_uuid, utcnow
from ..org.models import Committee, Team

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Household(Base):
    """A household (家庭档案): address, committee, head, living environment and responsible team."""

    __tablename__ = "households"
    __table_args__ = (Index("ix_households_team_committee_address", "team_id", "committee_id", "address"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    # No foreign key: households and residents would reference each other in a cycle. The service
    # keeps it right (the head must be an active member) and list queries join it outright.
    head_id: Mapped[str | None] = mapped_column(String(36))
    kitchen_exhaust: Mapped[str | None] = mapped_column(String(20))
    fuel: Mapped[str | None] = mapped_column(String(20))
    water: Mapped[str | None] = mapped_column(String(20))
    toilet: Mapped[str | None] = mapped_column(String(20))
    livestock_pen: Mapped[str | None] = mapped_column(String(20))
    health_problems: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    committee: Mapped[Committee] = relationship()
    team: Mapped[Team | None] = relationship()
    members: Mapped[list[Resident]] = relationship(
        back_populates="household", foreign_keys="Resident.household_id", order_by="Resident.created_at")
    head: Mapped[Resident | None] = relationship(
        primaryjoin="foreign(Household.head_id) == Resident.id", viewonly=True)

    __mapper_args__ = {"version_id_col": version}


class Resident(Base):
    """A resident's personal basic information (个人基本信息表)."""

    __tablename__ = "residents"
    __table_args__ = (Index("ix_residents_team_name", "team_id", "name"),
                      Index("ix_residents_team_initials", "team_id", "name_initials"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    # Denormalised from the household so a team's scope is one indexed column away (search, sync).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    record_number: Mapped[str] = mapped_column(String(17), unique=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    name_pinyin: Mapped[str] = mapped_column(String(200), default="")
    name_initials: Mapped[str] = mapped_column(String(50), default="", index=True)
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    relation_to_head: Mapped[str | None] = mapped_column(String(2))  # GB/T 4761
    phone: Mapped[str | None] = mapped_column(String(30), index=True)
    employer: Mapped[str | None] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    residence_type: Mapped[str | None] = mapped_column(String(1))
    ethnicity: Mapped[str | None] = mapped_column(String(2))
    ethnicity_name: Mapped[str | None] = mapped_column(String(20))
    blood_abo: Mapped[str | None] = mapped_column(String(1))
    blood_rh: Mapped[str | None] = mapped_column(String(10))
    education: Mapped[str | None] = mapped_column(String(2))
    occupation: Mapped[str | None] = mapped_column(String(2))
    marital_status: Mapped[str | None] = mapped_column(String(1))
    payment_methods: Mapped[list] = mapped_column(JSONType, default=list)
    drug_allergies: Mapped[list] = mapped_column(JSONType, default=list)
    drug_allergy_other: Mapped[str | None] = mapped_column(String(100))
    exposures: Mapped[list] = mapped_column(JSONType, default=list)
    # [{"code": "hypertension", "diagnosed": "2015-03", "note": ...}, ...]
    past_diseases: Mapped[list] = mapped_column(JSONType, default=list)
    # {"surgery": [{"name", "date"}], "trauma": [...], "transfusion": [...]} at most 2 each
    procedures: Mapped[dict] = mapped_column(JSONType, default=dict)
    # {"father": [codes], "mother": [...], "siblings": [...], "children": [...]}
    family_history: Mapped[dict] = mapped_column(JSONType, default=dict)
    hereditary_disease: Mapped[str | None] = mapped_column(String(100))
    disabilities: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(12), default="active")
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    death_cause: Mapped[str | None] = mapped_column(String(200))
    responsible_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    household: Mapped[Household] = relationship(back_populates="members", foreign_keys=[household_id])
    conditions: Mapped[list[ChronicCondition]] = relationship(
        back_populates="resident", order_by="ChronicCondition.condition")

    __mapper_args__ = {"version_id_col": version}


class ChronicCondition(Base):
    """A resident's place in the hypertension or type 2 diabetes registry."""

    __tablename__ = "chronic_conditions"
    __table_args__ = (UniqueConstraint("resident_id", "condition"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    condition: Mapped[str] = mapped_column(String(20))  # hypertension | t2dm
    diagnosed_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="managed")
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    resident: Mapped[Resident] = relationship(back_populates="conditions")
    __mapper_args__ = {"version_id_col": version}


class ResidentMove(Base):
    """A resident moved from one household to another: who, when, why."""

    __tablename__ = "resident_moves"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    from_household_id: Mapped[str] = mapped_column(ForeignKey("households.id"))
    to_household_id: Mapped[str] = mapped_column(ForeignKey("households.id"))
    moved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    moved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(200))
