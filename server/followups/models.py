"""Chronic-disease follow-up records (随访服务记录表): visits, lost-to-follow-up and death entries.

A record is signed when the server stores it and never changes afterwards: a correction is a new record
(an amendment) that points to the one it corrects. The columns the worklist and indicators query are
structured; the whole national form is kept as JSON exactly as gpcore validated it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, event, false)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gpcore.followup.compact import compact_text

from ..db import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")

VISIT, LOST, DEATH = "visit", "lost", "death"
KINDS = (VISIT, LOST, DEATH)


class FollowUp(Base):
    """One signed follow-up record of one resident for one registered condition."""

    __tablename__ = "followups"
    __table_args__ = (
        # Latest effective visit per patient and condition (worklist, indicators, the rules' "previous").
        Index("ix_followups_resident_condition_date", "resident_id", "condition", "visit_date"),
        # Who amended what: the effective record is the one nobody amends. Partial on PostgreSQL so the
        # anti-join that finds effective records reads only the (few) amendments.
        Index("ix_followups_amends_id", "amends_id", postgresql_where="amends_id IS NOT NULL"),
        # One amendment per version of a record: a second amendment of the same record is a conflict.
        UniqueConstraint("original_id", "revision"),
        # Indicators scan a year of visits: on PostgreSQL an index-only scan of these narrow columns
        # instead of the wide rows (each carries the whole form and assessment as JSON).
        Index("ix_followups_visit_date_indicators", "visit_date",
              postgresql_include=["id", "resident_id", "condition", "kind", "visit_mode", "emergency",
                                  "missing_count", "bp_controlled", "fpg_controlled"]),
        CheckConstraint("kind IN ('visit', 'lost', 'death')", name="kind"),
    )
    # Client-generated UUID: a tablet creates records offline and may send the same one twice.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    condition: Mapped[str] = mapped_column(String(20))  # registry code: hypertension | t2dm
    kind: Mapped[str] = mapped_column(String(8), default=VISIT)
    # Amendment chain: original_id is the first record's id (its own for an original), revision counts up.
    original_id: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    amends_id: Mapped[str | None] = mapped_column(ForeignKey("followups.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)

    # Structured columns (what is queried). For a lost/death entry visit_date is the entry's date.
    visit_date: Mapped[dt.date] = mapped_column(Date)
    visit_mode: Mapped[int | None] = mapped_column(Integer)
    sbp: Mapped[int | None] = mapped_column(Integer)
    dbp: Mapped[int | None] = mapped_column(Integer)
    fpg_mmol: Mapped[float | None] = mapped_column(Float)
    # What the server's run of the shared rules decided.
    classification: Mapped[int | None] = mapped_column(Integer)
    bp_controlled: Mapped[bool | None] = mapped_column(Boolean)
    fpg_controlled: Mapped[bool | None] = mapped_column(Boolean)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    referral: Mapped[str | None] = mapped_column(String(10))  # rules' recommendation: none/routine/urgent
    referred: Mapped[bool] = mapped_column(Boolean, default=False)  # the form's referral boxes were filled
    rules_next_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    # The date the patient was booked for: the form's box when the doctor filled it, else the rules' date.
    next_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    rules_version: Mapped[str | None] = mapped_column(String(120))
    # Boxes the national form has but the doctor left empty (indicator: data completeness).
    missing_fields: Mapped[list] = mapped_column(JSONType, default=list)
    missing_count: Mapped[int] = mapped_column(Integer, default=0)  # len(missing_fields), for SQL sums

    form: Mapped[dict] = mapped_column(JSONType)  # the whole form (gpcore to_dict) or the entry's data
    # The form as tablets keep it: gpcore's compact_text (no empty boxes, about half the bytes), written with the
    # record (_fill_form_compact) so that a first sync sends it as PostgreSQL reads it, instead of decoding,
    # compacting and re-encoding a team's 32,000 forms in Python on every download. Null only where a bulk
    # writer left it out: the sync then sends the whole form, which a tablet reads the same (full_form).
    form_compact: Mapped[str | None] = mapped_column(Text, deferred=True)  # loaded only when read
    assessment: Mapped[dict | None] = mapped_column(JSONType)  # gpcore Assessment.to_dict()
    # What the tablet computed, if it sent it, and which decisions differ from the server's.
    device_assessment: Mapped[dict | None] = mapped_column(JSONType)
    disagreement: Mapped[list] = mapped_column(JSONType, default=list)

    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # device clock
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # server clock
    signed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device: Mapped[str | None] = mapped_column(String(100))
    # Hash of what was submitted: a repeat with the same id must carry the same content.
    content_hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(FollowUp, "before_insert")
def _fill_form_compact(_mapper, _connection, row: FollowUp) -> None:
    """Every record the ORM writes gets its compact form with it. On insert only: a signed record never
    changes (on PostgreSQL a trigger refuses UPDATE)."""
    row.form_compact = None if row.form is None else compact_text(row.condition, row.form)


class FollowUpStatus(Base):
    """Per registry entry (patient and condition): the latest effective visit, kept so the worklist reads
    one row a patient. An entry nobody has visited yet has a row too, with the visit columns empty, so a
    team's worklist never has to look through the registry for patients without visits.

    A cache derived from `followups` and the registry (services.refresh_status after every signed visit or
    amendment, services.add_status_rows when an entry is registered or imported; services.rebuild_status
    for a bulk load or a repair); unlike the records it is overwritten.
    """

    __tablename__ = "followup_status"
    # A team's worklist starts here instead of scanning every registry entry of the district: only the
    # team's rows, and of those only the ones some bucket can take on the day (due_from <= today).
    __table_args__ = (Index("ix_followup_status_team_due", "team_id", "due_from"),)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    condition: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The latest effective visit; all null while the entry has none.
    followup_id: Mapped[str | None] = mapped_column(ForeignKey("followups.id"))
    visit_date: Mapped[dt.date | None] = mapped_column(Date)
    visit_mode: Mapped[int | None] = mapped_column(Integer)
    classification: Mapped[int | None] = mapped_column(Integer)
    emergency: Mapped[bool | None] = mapped_column(Boolean)
    referral: Mapped[str | None] = mapped_column(String(10))
    referred: Mapped[bool | None] = mapped_column(Boolean)
    next_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_face_to_face: Mapped[dt.date | None] = mapped_column(Date)  # any year
    # The resident's team (Resident.team_id), copied so the worklist can start from the team; kept when
    # households are assigned (assignment.services.assign) and residents move (households.move_resident).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # The first day this patient belongs in a worklist bucket (worklist.due_from), so the worklist's SQL
    # reads only rows with due_from <= today; date.min when some bucket applies whatever the day.
    due_from: Mapped[dt.date] = mapped_column(Date)
    # True when an earlier-dated visit was signed after the latest one: classification, referral and the
    # next-visit date above were re-run against the visits before it by date, not copied from its record.
    reassessed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class FollowUpYear(Base):
    """Per patient, condition and calendar year: what the yearly indicators need of that year's visits.

    A district's yearly report reads ~170,000 of these rows instead of aggregating ~700,000 visits. Derived
    from the effective visit records (services.refresh_year after every signed visit or amendment,
    services.rebuild_years after a bulk load) and overwritten like FollowUpStatus.
    """

    __tablename__ = "followup_years"
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    condition: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_to_face: Mapped[int] = mapped_column(Integer)  # clinic and home visits
    visits: Mapped[int] = mapped_column(Integer)  # every visit, phone included
    complete: Mapped[int] = mapped_column(Integer)  # visits with no box left empty (missing_count 0)
    emergencies: Mapped[int] = mapped_column(Integer)
    # The latest visit of the year that measured BP (FPG): its date and whether it was controlled (two
    # measured visits on that day: controlled if either was). Null when none measured it.
    bp_date: Mapped[dt.date | None] = mapped_column(Date)
    bp_controlled: Mapped[bool | None] = mapped_column(Boolean)
    fpg_date: Mapped[dt.date | None] = mapped_column(Date)
    fpg_controlled: Mapped[bool | None] = mapped_column(Boolean)
