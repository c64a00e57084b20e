"""Stored lab results: hospital feeds, inbound messages (raw bytes kept), reports, result rows with history.

A message is the unit of patient identity (one PID / one Patient per message), so matching to a resident
and the unmatched queue work per message. A report is one ordered panel of one patient, found by the
hospital and its filler order number, so a later message for the same order and patient (final after
preliminary, a correction) adds rows to the same report; an older row is never changed except to mark it
superseded. Order numbers are reused (analysers recycle sample numbers), so a message for another patient
under a known number gets a report of its own (filler_reuse 1, 2, ...), never another patient's report.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, Column, Date, ForeignKey, Index, Integer, LargeBinary, Numeric, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User  # imported, not only named: relationship("User") needs it mapped
from ..db import Base, UTCDateTime, new_uuid, utcnow
from ..org.models import Center, Hospital

# Enough digits for any lab value; Decimal keeps what was written ("0.250" stays in value_text).
LabNumber = Numeric(20, 6, asdecimal=True)


def content_fingerprint(raw: bytes, fmt: str) -> str:
    """What tells two messages under one control id apart (SHA-256, hex): a resend of the same content has
    the same fingerprint, a correction or a later status another one, stored as a new version.

    HL7: the bytes after the MSH segment, line endings normalised. An interface engine resending a message may
    regenerate MSH (MSH-7's time, even the ACK fields) and change CR to CRLF, so those do not count; what the
    lab said about the patient and the results does. An analyser that numbers every message 1 thus has each
    of its messages stored.
    FHIR: the bundle's resources in canonical JSON (fhir_fingerprint). Bundle.identifier alone is not enough:
    a lab sends an amended report under the same identifier, and taking it for a repeat lost the correction.
    Plain Python (no database, no app): migrations l003 and l007 backfill with copies of it, and must agree.
    """
    if fmt == "hl7v2":
        _msh, _end, rest = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").partition(b"\r")
        return hashlib.sha256(rest.strip(b"\r")).hexdigest()
    if fmt == "fhir":
        return fhir_fingerprint(raw)
    return ""


def fhir_fingerprint(raw: bytes) -> str:
    """SHA-256 of a FHIR bundle's resources in canonical JSON, stable under re-serialisation.

    Canonical: keys sorted, no whitespace, strings as parsed (so \\u603b and 总 agree), numbers in one form
    (6.30, 6.3 and 6.3e0 agree; 100 and 100.0 too), the entries' resources sorted (their order in a bundle
    carries no meaning here). What does not count, because an interface engine or a FHIR server regenerates
    it on every send while the lab's content is unchanged: the Bundle's own fields (id, identifier, meta,
    timestamp, type, link, signature: the identifier is the control id the fingerprint sits beside),
    entry.fullUrl / request / response / search, and each resource's meta (versionId, lastUpdated, source,
    profile, tags). Everything else counts, the narrative (text) included: a change there stores one more
    version of unchanged values (history, no loss), whereas leaving out something that mattered would drop
    a correction.
    """
    try:
        bundle = json.loads(raw.decode("utf-8-sig"), parse_float=Decimal, parse_int=Decimal)
    except ValueError:  # intake stores only bundles that parsed; any other bytes: the bytes themselves
        return hashlib.sha256(raw).hexdigest()
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    resources = sorted(_canonical_json(e.get("resource")) for e in entries or [] if isinstance(e, dict))
    return hashlib.sha256("\n".join(resources).encode()).hexdigest()


def _canonical_json(value) -> str:
    if isinstance(value, dict):
        resource = "resourceType" in value  # a resource (contained ones too): its meta does not count
        return "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{_canonical_json(value[key])}"
                              for key in sorted(value) if not (resource and key == "meta")) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return "0" if value.is_zero() else format(value.normalize(), "f")
    return json.dumps(value, ensure_ascii=False)  # strings, true/false, null


lab_feed_centers = Table(
    "lab_feed_centers", Base.metadata,
    Column("feed_id", ForeignKey("lab_feeds.id"), primary_key=True),
    Column("center_id", ForeignKey("centers.id"), primary_key=True),
)

lab_message_reports = Table(
    "lab_message_reports", Base.metadata,
    Column("message_id", ForeignKey("lab_messages.id"), primary_key=True),
    Column("report_id", ForeignKey("lab_reports.id"), primary_key=True, index=True),
)


class LabFeed(Base):
    """A hospital's interface engine allowed to post results, with the centers whose residents it serves."""

    __tablename__ = "lab_feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the key: keys are 256-bit random, so a slow password hash would add nothing but latency.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    hospital: Mapped[Hospital] = relationship()
    centers: Mapped[list[Center]] = relationship(secondary=lab_feed_centers, order_by="Center.id")


class LabMessage(Base):
    """One inbound message as received (raw bytes), what was read from it, the ACK sent and the match."""

    __tablename__ = "lab_messages"
    # Idempotency: the same control id from the same feed and facility with the same content (fingerprint)
    # is a repeat; the same control id with other content is another message (analysers reuse MSH-10).
    __table_args__ = (UniqueConstraint("feed_id", "sending_facility", "control_id", "fingerprint"),
                      Index("ix_lab_messages_match_status_received_at", "match_status", "received_at"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    feed_id: Mapped[int] = mapped_column(ForeignKey("lab_feeds.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    format: Mapped[str] = mapped_column(String(10))  # hl7v2 | fhir
    transport: Mapped[str] = mapped_column(String(10))  # http | mllp
    sending_app: Mapped[str] = mapped_column(String(200), default="")
    sending_facility: Mapped[str] = mapped_column(String(200), default="")
    control_id: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64), default="")  # content_fingerprint(raw, format)
    message_type: Mapped[str] = mapped_column(String(40), default="")
    version: Mapped[str] = mapped_column(String(60), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str] = mapped_column(String(40))
    encoding_reason: Mapped[str] = mapped_column(Text, default="")
    charset_declared: Mapped[str] = mapped_column(String(40), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ack_code: Mapped[str | None] = mapped_column(String(2))
    ack: Mapped[bytes | None] = mapped_column(LargeBinary)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    # The patient as the hospital knows them, kept for the queue and for reports not (yet) matched.
    patient_name: Mapped[str] = mapped_column(String(100), default="")
    patient_name_alphabetic: Mapped[str] = mapped_column(String(100), default="")
    patient_sex: Mapped[str] = mapped_column(String(1), default="U")
    patient_birth_date: Mapped[dt.date | None] = mapped_column(Date)
    patient_id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    patient_identifiers: Mapped[list] = mapped_column(JSON, default=list)
    match_status: Mapped[str] = mapped_column(String(12))  # matched | unmatched | dismissed
    # id_number | order | manual (name_birth_sex: filed by name + birth date + sex before 29 Nov 2026)
    match_method: Mapped[str | None] = mapped_column(String(20))
    match_reason: Mapped[str | None] = mapped_column(String(40))  # why it is in the queue
    match_note: Mapped[str | None] = mapped_column(Text)
    # The resident matching suggests for a queued message (one namesake with the same birth date and sex): a
    # suggestion for staff to confirm, never a match; shown only while the file still agrees (services).
    suggested_resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"), index=True)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dismiss_reason: Mapped[str | None] = mapped_column(String(200))

    feed: Mapped[LabFeed] = relationship()
    hospital: Mapped[Hospital] = relationship()
    reports: Mapped[list[LabReport]] = relationship(secondary=lab_message_reports, order_by="LabReport.created_at",
                                                    back_populates="messages")


class LabReport(Base):
    """One ordered panel (检验报告单) of one patient: specimen, times, people, and its result rows."""

    __tablename__ = "lab_reports"
    # NULL filler numbers do not collide (SQL NULLs are distinct), so a panel without one is its own report.
    # Unique with filler_reuse rather than dropped: two connections filing one new order at once still
    # collide here, and the second adds to the first's report on its retry (intake._store_committed).
    __table_args__ = (UniqueConstraint("hospital_id", "filler_no", "filler_reuse"),
                      Index("ix_lab_reports_resident_reported", "resident_id", "reported_at"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    resident_id: Mapped[str | None] = mapped_column(ForeignKey("residents.id"))
    filler_no: Mapped[str | None] = mapped_column(String(100))
    # 0 for the first report under this order number at this hospital; 1, 2, ... for other patients' orders
    # that reuse the number (the printed number stays the hospital's).
    filler_reuse: Mapped[int] = mapped_column(Integer, default=0)
    placer_no: Mapped[str] = mapped_column(String(100), default="")
    panel_code: Mapped[str] = mapped_column(String(60), default="")
    panel_name: Mapped[str] = mapped_column(String(200), default="")
    panel_coding_system: Mapped[str] = mapped_column(String(60), default="")
    specimen_type: Mapped[str] = mapped_column(String(100), default="")
    collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    specimen_received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(2), default="")
    tester: Mapped[str] = mapped_column(String(100), default="")
    reviewer: Mapped[str] = mapped_column(String(100), default="")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)  # a current row is critical
    abnormal: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded: Mapped[list] = mapped_column(JSON, default=list)  # non-result OBX rows, for the interface log
    # The lab's remarks on the whole report (NTE after OBR/ORC, FHIR conclusion), texts in arrival order; a
    # later message's remarks are added, not put in place of earlier ones (intake._update_header).
    comments: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When results last arrived: a report seen before a correction is new again.
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The critical value phoned through to the patient (standards section 6: "phoned through and the call
    # noted"), noted by the team: when the call was made, by whom, what was said, when it was noted, and
    # which version of the report (its changed_at) it covered: a correction arriving later, even one stored
    # while the note was being written, changes changed_at and asks for a call of its own (call_due below).
    # The call itself may precede the report's arrival: the lab phones the doctor before its system sends the
    # result, and the doctor phones the patient at once.
    critical_call_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    critical_call_noted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    critical_call_covers: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    critical_call_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    critical_call_note: Mapped[str | None] = mapped_column(String(200))

    hospital: Mapped[Hospital] = relationship()
    critical_caller: Mapped[User | None] = relationship("User", foreign_keys=[critical_call_by])
    results: Mapped[list[LabResultRow]] = relationship(back_populates="report",
                                                       order_by="[LabResultRow.position, LabResultRow.id]")
    messages: Mapped[list[LabMessage]] = relationship(secondary=lab_message_reports, back_populates="reports",
                                                      order_by="LabMessage.received_at")


class LabResultRow(Base):
    """One result as received; superseded_by points at the row that replaced it (history is never overwritten)."""

    __tablename__ = "lab_results"
    __table_args__ = (Index("ix_lab_results_report_code", "report_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("lab_reports.id"))
    message_id: Mapped[str] = mapped_column(ForeignKey("lab_messages.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    set_id: Mapped[str] = mapped_column(String(20), default="")
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200), default="")
    coding_system: Mapped[str] = mapped_column(String(60), default="")
    value_type: Mapped[str] = mapped_column(String(5), default="")
    value_text: Mapped[str] = mapped_column(Text, default="")
    value_num: Mapped[Decimal | None] = mapped_column(LabNumber)
    value_code: Mapped[str] = mapped_column(String(60), default="")
    comparator: Mapped[str] = mapped_column(String(2), default="")
    unit: Mapped[str] = mapped_column(String(60), default="")
    # The reference range exactly as sent, whole: bands by age and sex run to hundreds of characters, and a
    # cut text loses the bands after it (issue 17). intake warns past RANGE_TEXT_WARN, never cuts.
    range_text: Mapped[str] = mapped_column(Text, default="")
    range_low: Mapped[Decimal | None] = mapped_column(LabNumber)
    range_high: Mapped[Decimal | None] = mapped_column(LabNumber)
    range_by_sex: Mapped[dict] = mapped_column(JSON, default=dict)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    abnormal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(2), default="")
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    observer: Mapped[str] = mapped_column(String(100), default="")
    # The lab's remarks on this value (NTE after its OBX, FHIR Observation.note): "标本溶血" changes how it reads.
    comments: Mapped[list] = mapped_column(JSON, default=list)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("lab_results.id"))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    report: Mapped[LabReport] = relationship(back_populates="results")
    message: Mapped[LabMessage] = relationship()
    superseded_by: Mapped[LabResultRow | None] = relationship(remote_side=[id])

    @property
    def current(self) -> bool:
        """True while no later row has replaced this one."""
        return self.superseded_by_id is None


# Reading a report's rows, for services (the printed report) and schemas (the report's JSON) alike.

def call_due(rep: LabReport) -> bool:
    """A critical value nobody has yet noted phoning through since the report last changed."""
    return rep.critical and rep.critical_call_covers != rep.changed_at


def current_results(rep: LabReport) -> list[LabResultRow]:
    """The rows in force (not superseded), in report order."""
    return [r for r in rep.results if r.superseded_by_id is None]


def history_of(rep: LabReport, row: LabResultRow) -> list[LabResultRow]:
    """Earlier rows of the same code that this row (directly or through others) replaced, newest first."""
    by_replacer = {r.superseded_by_id: r for r in rep.results if r.superseded_by_id is not None}
    out, cursor = [], by_replacer.get(row.id)
    while cursor is not None and cursor not in out:
        out.append(cursor)
        cursor = by_replacer.get(cursor.id)
    return out


class LabReportSeen(Base):
    """A team has looked at a report (so 'new' means: results arrived since the team last saw it)."""

    __tablename__ = "lab_report_seen"
    report_id: Mapped[str] = mapped_column(ForeignKey("lab_reports.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    seen_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabRejection(Base):
    """A message a feed sent that was not stored as results (AR/AE, or a FHIR bundle refused with 422): the
    bytes as received, why, and what the sender was answered, so nothing a hospital sent is ever lost.

    Not unique by control id: a sender may fix a message and resend it under the same id, and each refused
    attempt is kept. A message later stored under the same id is in lab_messages; this row stays.
    """

    __tablename__ = "lab_rejections"
    __table_args__ = (Index("ix_lab_rejections_feed_received", "feed_id", "received_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    feed_id: Mapped[int] = mapped_column(ForeignKey("lab_feeds.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    format: Mapped[str] = mapped_column(String(10))  # hl7v2 | fhir
    transport: Mapped[str] = mapped_column(String(10))  # http | mllp
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)  # len(raw), so a list need not read the bytes
    encoding: Mapped[str | None] = mapped_column(String(40))  # the charset the header was read with, if any
    sending_facility: Mapped[str] = mapped_column(String(200), default="")  # "" when the header was unreadable
    control_id: Mapped[str | None] = mapped_column(String(200))
    ack_code: Mapped[str] = mapped_column(String(2))  # AR | AE (FHIR: AR)
    error_code: Mapped[str] = mapped_column(String(10), default="")  # HL7 table 0357, e.g. 207; FHIR: ""
    reason: Mapped[str] = mapped_column(Text)
    # True when the message itself was acceptable but the database could not store it (AE 207; the sender
    # was asked to send it again), so staff can tell an outage from a bad message.
    storage_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    ack: Mapped[bytes | None] = mapped_column(LargeBinary)  # the HL7 ACK sent (FHIR: the error body)

    feed: Mapped[LabFeed] = relationship()
    hospital: Mapped[Hospital] = relationship()
