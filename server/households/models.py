"""Household health files: households, residents, chronic-condition registry, and their history."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, new_uuid, utcnow
from ..org.models import Committee, Team

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Household(Base):
    """A household (家庭档案): address, committee, head, living environment and responsible team."""

    __tablename__ = "households"
    __table_args__ = (Index("ix_households_team_committee_address", "team_id", "committee_id", "address"),
                      # Address fragments (search): trigram GIN on PostgreSQL; a plain index on SQLite.
                      Index("ix_households_address_trgm", "address", postgresql_using="gin",
                            postgresql_ops={"address": "gin_trgm_ops"}))
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
    # Search (server/search) matches prefixes of initials, pinyin and ID numbers (LIKE 'x%') and fragments of
    # phones and record numbers (LIKE '%x%'). The database's collation is not C, so a plain btree cannot
    # serve LIKE: on PostgreSQL the prefix indexes use varchar_pattern_ops and the fragment indexes are
    # trigram GIN (pg_trgm). SQLite ignores these options and gets plain indexes under the same names,
    # so one set of models matches both. Names of three characters or more are found by trigrams; shorter
    # fragments (no trigram) by reading a team's or a center's names from covering (scope, name) indexes,
    # with the household and the row id included so neither the count nor the match touches the table.
    # The record number's last 8 digits are indexed as an expression
    # below (a trigram index on record numbers, which share long prefixes, made imports twice as slow).
    __table_args__ = (Index("ix_residents_team_name", "team_id", "name",
                            postgresql_include=["household_id", "id"]),
                      Index("ix_residents_center_name", "center_id", "name",
                            postgresql_include=["household_id", "id"]),
                      Index("ix_residents_team_initials", "team_id", "name_initials",
                            postgresql_ops={"name_initials": "varchar_pattern_ops"}),
                      Index("ix_residents_team_pinyin", "team_id", "name_pinyin",
                            postgresql_ops={"name_pinyin": "varchar_pattern_ops"}),
                      # center_id second: a center's matches are picked out in the index (center staff)
                      Index("ix_residents_name_initials", "name_initials", "center_id",
                            postgresql_ops={"name_initials": "varchar_pattern_ops"}),
                      Index("ix_residents_name_pinyin", "name_pinyin", "center_id",
                            postgresql_ops={"name_pinyin": "varchar_pattern_ops"}),
                      # Unique, and with pattern ops also the index for ID-number prefixes (LIKE 'x%')
                      # and equality: one index where a unique constraint and a prefix index were two
                      # (migration 0004; each is a random-order btree the import has to keep).
                      Index("uq_residents_id_number", "id_number", unique=True,
                            postgresql_ops={"id_number": "varchar_pattern_ops"}),
                      Index("ix_residents_phone", "phone", postgresql_using="gin",
                            postgresql_ops={"phone": "gin_trgm_ops"}),
                      Index("ix_residents_name_trgm", "name", postgresql_using="gin",
                            postgresql_ops={"name": "gin_trgm_ops"}),
                      # Exact name + birth date, district-wide: how a lab result without a usable ID number
                      # finds its patient (labs.matching). The trigram index does not serve it: no trigrams
                      # for two-character names, and a scan of every shared surname's trigrams for the rest
                      # (migration 0005).
                      Index("ix_residents_name_birth_date", "name", "birth_date"),
                      # A tablet's first sync walks its team's residents in id order (migration s003).
                      Index("ix_residents_team_id_id", "team_id", "id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    # Denormalised from the household so a team's scope is one indexed column away (search, sync).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # Indexed by ix_residents_center_name (center_id leads it), which serves every center-scoped lookup.
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"))
    record_number: Mapped[str] = mapped_column(String(17), unique=True)
    id_number: Mapped[str | None] = mapped_column(String(18))  # unique: uq_residents_id_number above
    name: Mapped[str] = mapped_column(String(50))
    name_pinyin: Mapped[str] = mapped_column(String(200), default="")
    name_initials: Mapped[str] = mapped_column(String(50), default="")
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    relation_to_head: Mapped[str | None] = mapped_column(String(2))  # GB/T 4761
    phone: Mapped[str | None] = mapped_column(String(30))
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
    # Consent to reminders by SMS (clinic appointments, follow-ups due), and when it was last given or withdrawn
    # (server/notifications; migration n001). Without it no SMS goes to the resident.
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sms_consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    household: Mapped[Household] = relationship(back_populates="members", foreign_keys=[household_id])
    conditions: Mapped[list[ChronicCondition]] = relationship(
        back_populates="resident", order_by="ChronicCondition.condition")

    __mapper_args__ = {"version_id_col": version}


# The short record number (committee + serial) that paper forms show: the last 8 of the 17 digits.
Index("ix_residents_record_last8", func.substr(Resident.record_number, 10))


class ChronicCondition(Base):
    """A resident's place in the hypertension or type 2 diabetes registry."""

    __tablename__ = "chronic_conditions"
    __table_args__ = (UniqueConstraint("resident_id", "condition"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    # Looked up through the unique (resident_id, condition) index, which resident_id leads.
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
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
