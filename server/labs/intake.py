"""Receiving lab messages from hospital feeds: authenticate the feed, parse, match, store, then acknowledge.

No Flask here: the HTTP views and the MLLP listener both call `receive_hl7`, which commits before it returns
the ACK, so an AA always means the result is durably stored. Choices:
- A feed is a hospital's interface engine with its own random key (header X-Lab-Feed-Key over HTTP); the
  MLLP listener is bound to one feed when it starts, since MLLP has no authentication of its own.
- Idempotency: feed + MSH-4 + MSH-10 (FHIR: feed + Bundle.identifier). A repeat answers the stored ACK,
  byte for byte, and stores nothing new. A rejected message (AR/AE from parsing) is not stored, so the sender
  may fix it and resend under the same control id; the rejection is logged.
- Times without an offset are China Standard Time (UTC+8, no daylight saving), as hospital LIS send them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from ..audit import services as audit
from ..db import new_uuid, utcnow
from ..errors import Forbidden, Invalid, NotFound, Unauthorized, field_error
from ..org.models import Center, Hospital
from ..scope import Actor
from . import model as parsed
from .fhir import FHIRBundleError, parse_fhir_bundle
from .hl7v2 import HL7MessageError, build_ack, generate_control_id, parse_oru, read_header
from .matching import REASONS, Match, match_patient
from .models import LabFeed, LabMessage, LabReport, LabResultRow

log = logging.getLogger(__name__)

CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8), "CST")
KEY_HEADER = "X-Lab-Feed-Key"
# OBX-11 codes ranked: a row replaces the current one for its code unless it is of lower standing, so a late
# preliminary never hides a final value, and a re-sent final never hides a correction.
_STANDING = {"C": 2, "D": 2, "F": 1, "U": 1, "X": 1}


# --- feeds ---------------------------------------------------------------------------------------

def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_feed(session: Session, actor: Actor, data: dict) -> tuple[LabFeed, str]:
    """A new feed for a hospital and the centers it serves; returns the feed and its key (shown only once)."""
    if actor.role != "admin":
        raise Forbidden("Only an admin adds lab feeds.", {"authorization": "role"})
    if session.get(Hospital, data["hospital_id"]) is None:
        raise field_error("hospital_id", "no such hospital")
    centers = session.scalars(select(Center).where(Center.id.in_(data["center_ids"]))).all()
    missing = set(data["center_ids"]) - {c.id for c in centers}
    if missing:
        raise field_error("center_ids", f"no such center: {sorted(missing)}")
    key = secrets.token_urlsafe(32)
    feed = LabFeed(hospital_id=data["hospital_id"], name=data["name"], key_hash=_hash(key), key_hint=key[:6],
                   created_by=actor.user_id, centers=list(centers))
    session.add(feed)
    session.flush()
    audit.record(session, actor, "create", "lab_feed", str(feed.id))
    return feed, key


def revoke_feed(session: Session, actor: Actor, feed_id: str) -> LabFeed:
    """Stop a feed's key from working (its messages stay)."""
    if actor.role != "admin":
        raise Forbidden("Only an admin revokes lab feeds.", {"authorization": "role"})
    feed = session.get(LabFeed, int(feed_id)) if str(feed_id).isdigit() else None
    if feed is None:
        raise NotFound("No such lab feed.")
    feed.revoked_at = feed.revoked_at or utcnow()
    audit.record(session, actor, "update", "lab_feed", str(feed.id), detail={"revoked": True})
    return feed


def feed_for_key(session: Session, key: str) -> LabFeed:
    """The active feed holding this key; Unauthorized otherwise."""
    feed = session.scalar(select(LabFeed).where(LabFeed.key_hash == _hash(key)))
    if feed is None or feed.revoked_at is not None:
        raise Unauthorized("This lab feed key is unknown or revoked.", {"authentication": "invalid_feed_key"})
    return feed


def facility_encodings(config: Mapping) -> dict[str, str]:
    """Per-sending-facility (MSH-4) charsets: config LAB_FACILITY_ENCODINGS, else that env variable as JSON."""
    value = config.get("LAB_FACILITY_ENCODINGS")
    if value is None:
        value = json.loads(os.environ.get("LAB_FACILITY_ENCODINGS") or "{}")
    return dict(value)


# --- receiving -----------------------------------------------------------------------------------

@dataclass
class Receipt:
    """What the sender is told: the ACK (HL7) or a summary (FHIR), and whether it was stored."""

    ack: bytes = b""
    ack_code: str = "AA"  # AA stored (or stored before); AE/AR not stored
    encoding: str = "utf-8"
    message_id: str | None = None
    duplicate: bool = False
    storage_failed: bool = False
    match_status: str | None = None
    report_ids: list[str] = field(default_factory=list)


def receive_hl7(session: Session, feed: LabFeed, raw: bytes, *, transport: str,
                encodings: Mapping[str, str] | None = None, now: Callable[[], dt.datetime] = utcnow) -> Receipt:
    """Parse, match and store one HL7 v2 ORU^R01, commit, and return the ACK to send (never before commit)."""
    try:
        msg = parse_oru(raw, encodings)
    except HL7MessageError as err:
        log.warning("lab feed %s: %s rejected: %s", feed.name, err.header.control_id if err.header else "?",
                    err.reason)
        return Receipt(build_ack(err, err.ack_code, control_id=generate_control_id()), err.ack_code,
                       err.header.encoding if err.header else "utf-8")
    facility = msg.sending_facility[:200]
    # No look-up first: the unique constraint finds a repeat at the commit, one round trip fewer per message.
    try:
        row = store(session, feed, msg, raw, fmt="hl7v2", transport=transport, now=now())
        row.ack_code = "AA"
        row.ack = build_ack(msg, "AA", control_id=generate_control_id())
        session.commit()
    except IntegrityError:
        # Received before (or just now on another connection): answer what it was answered.
        session.rollback()
        stored = _find(session, feed, facility, msg.control_id)
        if stored is not None:
            return _repeat(stored)
        return _storage_failed(session, feed, msg)
    except SQLAlchemyError:
        return _storage_failed(session, feed, msg)
    return Receipt(row.ack, "AA", msg.encoding, row.id, match_status=row.match_status,
                   report_ids=[r.id for r in row.reports])


def receive_fhir(session: Session, feed: LabFeed, raw: bytes, *, now: Callable[[], dt.datetime] = utcnow) -> Receipt:
    """Validate, match and store one FHIR R4 Bundle, committed; a bad bundle is Invalid with the FHIR path."""
    try:
        msg = parse_fhir_bundle(raw)
    except FHIRBundleError as err:
        errors: dict[str, list[str]] = {}
        for path, reason in err.errors:
            errors.setdefault(path or "$", []).append(reason)
        raise Invalid(f"The bundle is not acceptable: {err}", errors) from err
    if not msg.control_id:
        raise field_error("identifier", "a Bundle needs identifier.value (or id) so a resend is recognised")
    try:
        row = store(session, feed, msg, raw, fmt="fhir", transport="http", now=now())
        session.commit()
    except IntegrityError:
        session.rollback()
        stored = _find(session, feed, "", msg.control_id)
        if stored is not None:
            return _repeat(stored)
        raise
    return Receipt(b"", "AA", "utf-8", row.id, match_status=row.match_status,
                   report_ids=[r.id for r in row.reports])


def _find(session: Session, feed: LabFeed, facility: str, control_id: str) -> LabMessage | None:
    return session.scalar(select(LabMessage).where(
        LabMessage.feed_id == feed.id, LabMessage.sending_facility == facility,
        LabMessage.control_id == control_id[:200]).options(selectinload(LabMessage.reports)))


def _repeat(stored: LabMessage) -> Receipt:
    return Receipt(stored.ack or b"", stored.ack_code or "AA", stored.encoding, stored.id, duplicate=True,
                   match_status=stored.match_status, report_ids=[r.id for r in stored.reports])


def _storage_failed(session: Session, feed: LabFeed, msg: parsed.LabMessage) -> Receipt:
    session.rollback()
    log.exception("lab feed %s: could not store message %s", feed.name, msg.control_id)
    err = HL7MessageError("could not store the message; send it again later", error_code="207")
    return Receipt(build_ack(msg, "AE", control_id=generate_control_id(), error=err), "AE", msg.encoding,
                   storage_failed=True)


# --- storing -------------------------------------------------------------------------------------

def local_time(value: dt.datetime | None) -> dt.datetime | None:
    """An HL7/FHIR time as an aware datetime; one without an offset is China Standard Time."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_STANDARD_TIME)


def _feed_actor(feed: LabFeed) -> Actor:
    return Actor(None, f"lab-feed:{feed.name}"[:60], "lab_feed")  # type: ignore[arg-type]


def store(session: Session, feed: LabFeed, msg: parsed.LabMessage, raw: bytes, *, fmt: str, transport: str,
          now: dt.datetime) -> LabMessage:
    """Add the message, its reports and result rows to the session (no commit); match it or queue it."""
    match = match_patient(session, msg.patient)
    fillers = [r.filler_no[:100] for r in msg.reports if r.filler_no]
    existing: dict[str, LabReport] = {}
    if fillers:
        existing = {rep.filler_no: rep for rep in session.scalars(
            select(LabReport).where(LabReport.hospital_id == feed.hospital_id, LabReport.filler_no.in_(fillers))
            .options(selectinload(LabReport.results)))}
    match = _reconcile_with_orders(match, list(existing.values()))

    patient = msg.patient
    row = LabMessage(
        id=new_uuid(), feed_id=feed.id, hospital_id=feed.hospital_id, format=fmt, transport=transport,
        sending_app=msg.sending_app[:200], sending_facility=msg.sending_facility[:200],
        control_id=msg.control_id[:200], message_type=msg.message_type[:40], version=msg.version[:60],
        raw=bytes(raw), encoding=msg.encoding, encoding_reason=msg.encoding_reason,
        charset_declared=msg.charset_declared[:40], sent_at=local_time(msg.sent_at), received_at=now,
        warnings=list(msg.warnings), patient_name=patient.name[:100],
        patient_name_alphabetic=patient.name_alphabetic[:100], patient_sex=patient.sex[:1] or "U",
        patient_birth_date=patient.birth_date, patient_id_number=_id_number(patient),
        patient_identifiers=[i._asdict() for i in patient.identifiers],
        match_status="matched" if match.resident_id else "unmatched", match_method=match.method,
        match_reason=match.reason, match_note=match.note or None, resident_id=match.resident_id)
    session.add(row)

    for position, report in enumerate(msg.reports):
        filler = report.filler_no[:100] or None
        rep = existing.get(filler) if filler else None
        if rep is None:
            rep = LabReport(hospital_id=feed.hospital_id, filler_no=filler, resident_id=match.resident_id,
                            created_at=now, results=[])
            session.add(rep)
            if filler:
                existing[filler] = rep  # a second OBR with the same order number in this message joins it
        _update_header(rep, report)
        _add_results(rep, report, row, now)
        rep.changed_at = now
        if rep not in row.reports:
            row.reports.append(rep)

    if match.resident_id:
        audit.record(session, _feed_actor(feed), "match", "lab_message", row.id, match.resident_id,
                     {"method": match.method})
    return row


def _id_number(patient: parsed.LabPatient) -> str | None:
    from .matching import citizen_id
    return citizen_id(patient)


def _reconcile_with_orders(match: Match, reports: list[LabReport]) -> Match:
    """An order already filed for a patient ties a message to them; a disagreement goes to a person."""
    if not reports:
        return match
    owners = {rep.resident_id for rep in reports}
    if match.resident_id is not None:
        if owners == {match.resident_id}:
            return match
        # A different (or unresolved) patient already holds this order: take the order away from whoever
        # holds it until a person decides, rather than show results to the wrong team.
        for rep in reports:
            rep.resident_id = None
        return Match(None, reason="order_conflict", note=f"message identifies resident {match.resident_id}")
    if len(owners) == 1 and None not in owners:
        return Match(owners.pop(), "order", note=f"no certain match of its own ({match.reason})")
    return match


def _update_header(rep: LabReport, report: parsed.LabReport) -> None:
    # The latest message speaks for the report; an empty field does not erase what an earlier one said.
    values = {
        "placer_no": report.placer_no[:100], "panel_code": report.panel_code[:60],
        "panel_name": report.panel_name[:200], "panel_coding_system": report.panel_coding_system[:60],
        "specimen_type": report.specimen_type[:100], "collected_at": local_time(report.collected_at),
        "specimen_received_at": local_time(report.specimen_received_at),
        "reported_at": local_time(report.reported_at), "status": report.status[:2],
        "tester": report.tester[:100], "reviewer": report.reviewer[:100],
    }
    for key, value in values.items():
        if value or getattr(rep, key) is None:
            setattr(rep, key, value)
    if report.excluded:
        rep.excluded = list(rep.excluded or []) + [
            {"set_id": e.set_id, "value_type": e.value_type, "code": e.code, "name": e.name,
             "value_text": e.value_text[:500], "reason": e.reason} for e in report.excluded]


def _add_results(rep: LabReport, report: parsed.LabReport, message: LabMessage, now: dt.datetime) -> None:
    current = {r.code: r for r in rep.results if r.superseded_by_id is None and r.superseded_at is None}
    next_position = max((r.position for r in rep.results), default=-1) + 1
    added: set[str] = set()
    for result in report.results:
        code = (result.code or result.name)[:60]
        row = LabResultRow(
            message=message, position=next_position, set_id=result.set_id[:20], code=code,
            name=result.name[:200], coding_system=result.coding_system[:60], value_type=result.value_type[:5],
            value_text=result.value_text, value_num=result.value_num, value_code=result.value_code[:60],
            comparator=result.comparator[:2], unit=result.unit[:60], range_text=result.range_text[:200],
            range_low=result.range_low, range_high=result.range_high, range_by_sex=dict(result.range_by_sex),
            flags=list(result.flags), critical=result.critical, abnormal=result.abnormal,
            status=result.status[:2], observed_at=local_time(result.observed_at), observer=result.observer[:100],
            received_at=now)
        earlier = current.get(code)
        if earlier is not None and code not in added:
            row.position = earlier.position
            if _STANDING.get(row.status, 0) >= _STANDING.get(earlier.status, 0):
                earlier.superseded_by, earlier.superseded_at = row, now
                current[code] = row
            else:
                row.superseded_by, row.superseded_at = earlier, now
        else:
            next_position += 1
            current[code] = row
        added.add(code)
        rep.results.append(row)
    rep.critical = any(r.critical for r in current.values())
    rep.abnormal = any(r.abnormal for r in current.values())


def reason_text(reason: str | None) -> str:
    """A sentence for a queue reason code."""
    return REASONS.get(reason or "", reason or "")


def feed_handler(sessionmaker, feed_id: int, encodings: Mapping[str, str] | None = None) -> Callable[[bytes], bytes]:
    """An MLLP handler: one session per message, stored through receive_hl7, the ACK returned after commit."""

    def handle(raw: bytes) -> bytes:
        with sessionmaker() as session:
            feed = session.get(LabFeed, feed_id)
            if feed is None or feed.revoked_at is not None:
                header = read_header(raw, encodings)
                err = HL7MessageError("this feed is revoked", ack_code="AR", error_code="207", header=header)
                return build_ack(err, "AR", control_id=generate_control_id())
            return receive_hl7(session, feed, raw, transport="mllp", encodings=encodings).ack

    return handle
