"""Receiving lab messages from hospital feeds: parse, match, store, then acknowledge.

No Flask here: the HTTP views and the MLLP listener both call `receive_hl7`, which commits before it returns
the ACK, so an AA always means the result is durably stored. Which feed a key is: feeds.py; which stored
report a message's order adds to: orders.py. Choices:
- Idempotency: feed + MSH-4 + MSH-10 (FHIR: Bundle.identifier) + the content's fingerprint
  (models.content_fingerprint: the bytes after MSH; FHIR: the resources in canonical JSON). A repeat answers
  the stored ACK (FHIR: 200, duplicate) and stores nothing new. The same control id with other content is a
  new message, stored with a warning: analysers may number every message 1, and a lab sends an amended
  FHIR report under the bundle's identifier; dropping either would lose a patient's results. A rejected message (AR/AE) is
  not stored as results, so the sender may fix it and resend under the same control id; its bytes, the
  reason and the ACK are kept in lab_rejections (center staff and admin list them), so nothing a hospital
  sent is lost.
- Throughput (bench/bench_labs.py): a message for a new order -- nearly all of them -- is written with Core
  INSERTs (message, reports, link, results in one executemany, audit, sync change log), read in one SELECT
  (resident candidates and whether any of its orders is known), the feed's key looked up once per process.
  Those statements are built once per process with bind parameters: building them per message (cache-key
  walk of every literal) cost more CPU than the database work itself.
  A message adding to a known order (a final after a preliminary, a correction) takes the ORM path below,
  which reconciles, supersedes and lets the sync hook log what changed.
- Times without an offset are China Standard Time (UTC+8, no daylight saving), as hospital LIS send them.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import JSON, String, bindparam, case, cast, exists, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from gpcore.clock import china_date, to_china

from .. import metrics
from ..audit import services as audit
from ..audit.models import AuditEvent
from ..db import new_uuid, utcnow
from ..errors import DomainError, Invalid, field_error
from ..households.models import Resident
from ..scope import Actor
from ..sync import changes as sync_changes
from ..sync.models import SyncChange
from .feeds import FeedRef, FeedRevoked
from .matching import Match, candidates, decide
from .messages import parsed, ranges
from .messages.fhir import FHIRBundleError, parse_fhir_bundle
from .messages.hl7v2 import HL7MessageError, build_ack, generate_control_id, parse_oru, read_header
from .messages.mllp import oversized_reason
from .models import (LabFeed, LabMessage, LabRejection, LabReport, LabResultRow, content_fingerprint,
                     lab_message_reports)
from .orders import known_orders, last_reuses, open_reports, place_orders

log = logging.getLogger(__name__)

# OBX-11 codes ranked: a row replaces the current one for its code unless it is of lower standing, so a late
# preliminary never hides a final value, and a re-sent final never hides a correction.
_STANDING = {"C": 2, "D": 2, "F": 1, "U": 1, "X": 1}
# The new-order path's plain INSERTs, built once (their cache keys are then computed once, not per message).
_INSERT_REPORT = insert(LabReport.__table__)
_INSERT_MESSAGE_REPORT = insert(lab_message_reports)
_INSERT_RESULT = insert(LabResultRow.__table__)
_INSERT_AUDIT = insert(AuditEvent.__table__)


class StorageUnavailable(DomainError):
    """The database could not store an acceptable message now (FHIR's 503; HL7 answers AE 207 instead)."""

    status = 503
    retry_after = 30  # as the HL7 view's Retry-After: a sender's retry, not a person's

    def __init__(self):
        super().__init__("The bundle could not be stored now; send it again later.", {"storage": "unavailable"})


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


def receive_hl7(session: Session, feed: LabFeed | FeedRef, raw: bytes, *, transport: str,
                encodings: Mapping[str, str] | None = None, now: Callable[[], dt.datetime] = utcnow) -> Receipt:
    """Parse, match and store one HL7 v2 ORU^R01, commit, and return the ACK to send (never before commit).
    Raises FeedRevoked (nothing stored) when the feed was revoked."""
    receipt = _receive_hl7(session, feed, raw, transport=transport, encodings=encodings, now=now)
    metrics.hl7_message(transport, receipt.ack_code)
    return receipt


def _receive_hl7(session: Session, feed: LabFeed | FeedRef, raw: bytes, *, transport: str,
                 encodings: Mapping[str, str] | None, now: Callable[[], dt.datetime]) -> Receipt:
    try:
        msg = parse_oru(raw, encodings)
    except HL7MessageError as err:
        log.warning("lab feed %s: %s rejected: %s", feed.name, err.header.control_id if err.header else "?",
                    err.reason)
        ack = build_ack(err, err.ack_code, control_id=generate_control_id())
        header = err.header
        keep_rejection(session, feed, raw, fmt="hl7v2", transport=transport, ack_code=err.ack_code,
                       error_code=err.error_code, reason=err.reason, ack=ack,
                       facility=header.sending_facility if header else "",
                       control_id=header.control_id if header else None,
                       encoding=header.encoding if header else None, now=now())
        return Receipt(ack, err.ack_code, header.encoding if header else "utf-8")
    facility = msg.sending_facility[:200]
    try:
        stored, ack, repeat = _store_committed(
            session, feed, msg, raw, fmt="hl7v2", transport=transport, facility=facility, now=now,
            make_ack=lambda: build_ack(msg, "AA", control_id=generate_control_id()))
    except SQLAlchemyError:  # the database refused it twice, or is down: AE, the sender keeps it
        return _storage_failed(session, feed, msg, raw, transport, now())
    if repeat is not None:
        return repeat
    return Receipt(ack, "AA", msg.encoding, stored.id, match_status=stored.match_status,
                   report_ids=stored.report_ids)


def receive_fhir(session: Session, feed: LabFeed | FeedRef, raw: bytes, *,
                 now: Callable[[], dt.datetime] = utcnow) -> Receipt:
    """Validate, match and store one FHIR R4 Bundle, committed; a bad bundle is Invalid with the FHIR path
    (and kept in lab_rejections). Raises FeedRevoked (nothing stored) when the feed was revoked."""
    try:
        msg = parse_fhir_bundle(raw)
        if not msg.control_id:
            raise field_error("identifier", "a Bundle needs identifier.value (or id) so a resend is recognised")
    except (FHIRBundleError, Invalid) as err:
        if isinstance(err, FHIRBundleError):
            errors: dict[str, list[str]] = {}
            for path, reason in err.errors:
                errors.setdefault(path or "$", []).append(reason)
            refusal = Invalid(f"The bundle is not acceptable: {err}", errors)
        else:
            refusal = err
        keep_rejection(session, feed, raw, fmt="fhir", transport="http", ack_code="AR", error_code="",
                       reason=f"{refusal.message}: {json.dumps(refusal.errors, ensure_ascii=False)}"[:4000],
                       ack=None, facility="", control_id=None, encoding=None, now=now())
        raise refusal from err
    try:
        stored, _, repeat = _store_committed(session, feed, msg, raw, fmt="fhir", transport="http",
                                             facility="", now=now)
    except SQLAlchemyError as err:  # the database refused it twice, or is down: the sender keeps it
        session.rollback()
        log.exception("lab feed %s: could not store bundle %s", feed.name, msg.control_id)
        refusal = StorageUnavailable()
        keep_rejection(session, feed, raw, fmt="fhir", transport="http", ack_code="AE", error_code="",
                       reason=refusal.message, ack=None, facility="", control_id=msg.control_id, encoding=None,
                       now=now(), storage_failed=True)
        raise refusal from err
    if repeat is not None:
        return repeat
    return Receipt(b"", "AA", "utf-8", stored.id, match_status=stored.match_status, report_ids=stored.report_ids)


def _store_committed(session: Session, feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, *, fmt: str,
                     transport: str, facility: str, now: Callable[[], dt.datetime],
                     make_ack: Callable[[], bytes] | None = None) -> tuple[Stored | None, bytes | None, Receipt | None]:
    """Store and commit one message: (stored, ack, None), or (None, None, the earlier answer) for a repeat.

    No look-up first: the unique constraint finds a repeat at the commit (one round trip fewer per message).
    Raises FeedRevoked (rolled back), or the IntegrityError of a second attempt."""
    for attempt in (1, 2):
        ack = make_ack() if make_ack else None
        try:
            stored = store(session, feed, msg, raw, fmt=fmt, transport=transport, now=now(), ack=ack)
            session.commit()
            return stored, ack, None
        except FeedRevoked:
            session.rollback()
            raise
        except IntegrityError:
            # Received before (or just now on another connection): answer what it was answered.
            session.rollback()
            stored_before = _find(session, feed, facility, msg.control_id, content_fingerprint(raw, fmt))
            if stored_before is not None:
                return None, None, _repeat(stored_before)
            if attempt == 2:
                raise
            # Another connection filed one of its orders first (a preliminary and a final at the same
            # moment): the second attempt finds the order and adds to it.
    raise AssertionError("unreachable")


def keep_rejection(session: Session, feed: LabFeed | FeedRef, raw: bytes, *, fmt: str, transport: str,
                   ack_code: str, error_code: str, reason: str, ack: bytes | None, facility: str,
                   control_id: str | None, encoding: str | None, now: dt.datetime,
                   storage_failed: bool = False, size: int | None = None) -> None:
    """Keep a refused message in lab_rejections and commit. Best effort: when even this cannot be written
    (the database is down) the refusal is logged and the sender, told AE/AR, still holds the message.
    `size`: the message's length when `raw` is only its first bytes (an MLLP frame over the limit).
    Raises FeedRevoked (nothing kept) when the feed was revoked."""
    try:
        _insert_while_feed_live(session, LabRejection.__table__, dict(
            id=new_uuid(), feed_id=feed.id, hospital_id=feed.hospital_id, format=fmt, transport=transport,
            received_at=now, raw=bytes(raw), size=len(raw) if size is None else size, encoding=encoding,
            sending_facility=(facility or "")[:200],
            control_id=control_id[:200] if control_id else None, ack_code=ack_code, error_code=error_code or "",
            reason=reason or "", storage_failed=storage_failed, ack=ack))
        session.commit()
    except FeedRevoked:
        session.rollback()
        raise
    except SQLAlchemyError:
        session.rollback()
        log.exception("lab feed %s: could not keep a refused message (%d bytes)", feed.name, len(raw))


def _find(session: Session, feed: LabFeed | FeedRef, facility: str, control_id: str,
          fingerprint: str) -> LabMessage | None:
    return session.scalar(select(LabMessage).where(
        LabMessage.feed_id == feed.id, LabMessage.sending_facility == facility,
        LabMessage.control_id == control_id[:200], LabMessage.fingerprint == fingerprint)
        .options(selectinload(LabMessage.reports)))


def _repeat(stored: LabMessage) -> Receipt:
    return Receipt(stored.ack or b"", stored.ack_code or "AA", stored.encoding, stored.id, duplicate=True,
                   match_status=stored.match_status, report_ids=[r.id for r in stored.reports])


def _storage_failed(session: Session, feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, transport: str,
                    now: dt.datetime) -> Receipt:
    session.rollback()
    log.exception("lab feed %s: could not store message %s", feed.name, msg.control_id)
    err = HL7MessageError("could not store the message; send it again later", error_code="207")
    ack = build_ack(msg, "AE", control_id=generate_control_id(), error=err)
    keep_rejection(session, feed, raw, fmt="hl7v2", transport=transport, ack_code="AE", error_code="207",
                   reason=err.reason, ack=ack, facility=msg.sending_facility, control_id=msg.control_id,
                   encoding=msg.encoding, now=now, storage_failed=True)
    return Receipt(ack, "AE", msg.encoding, storage_failed=True)


# --- storing -------------------------------------------------------------------------------------

def local_time(value: dt.datetime | None) -> dt.datetime | None:
    """An HL7/FHIR time as an aware datetime; one without an offset is China Standard Time."""
    return to_china(value) if value is not None and value.tzinfo is None else value


def _feed_actor(feed: LabFeed | FeedRef) -> Actor:
    return Actor(None, f"lab-feed:{feed.name}"[:60], "lab_feed")  # type: ignore[arg-type]


@dataclass
class Stored:
    """What store() wrote: the message id, whether it was matched, its reports."""

    id: str
    match_status: str
    report_ids: list[str]


def store(session: Session, feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, *, fmt: str,
          transport: str, now: dt.datetime, ack: bytes | None = None) -> Stored:
    """Write the message, its reports and result rows in the session's transaction (no commit); match it
    or queue it. Raises FeedRevoked when the feed was revoked (the caller rolls back)."""
    fillers = [r.filler_no[:100] for r in msg.reports if r.filler_no]
    # One round trip: the resident candidates of both matching rules and whether an order is known.
    query = candidates(msg.patient, known_orders() if fillers else None)
    if fillers:
        query[1].update(hospital_id=feed.hospital_id, fillers=sorted(set(fillers)))
    rows = session.connection().execute(*query).all() if query is not None else []
    match = decide(msg.patient, rows)
    if (fillers and rows[0].known_orders) or len(set(fillers)) < len(fillers):
        # Adds to a known order (or one order twice in this message): reconcile and supersede with the ORM.
        return _store_with_orm(session, feed, msg, raw, fmt=fmt, transport=transport, now=now, ack=ack,
                               match=match, rows=rows)
    team_id = next((r.team_id for r in rows if match.resident_id and getattr(r, "id", None) == match.resident_id),
                   None)
    return _store_new_orders(session, feed, msg, raw, fmt=fmt, transport=transport, now=now, ack=ack,
                             match=match, team_id=team_id, patient=_resident_facts(session, rows, match))


def _resident_facts(session: Session, rows, match: Match) -> tuple[str | None, dt.date | None]:
    """The sex (as stored, '1'/'2') and birth date of the resident the message is filed under, which choose
    a reference range's band; (None, None) for a message filed under nobody yet."""
    if match.resident_id is None:
        return None, None
    row = next((r for r in rows if getattr(r, "id", None) == match.resident_id), None)
    if row is None:  # matching's candidates include whoever it matched: a guard, not a path
        row = session.get(Resident, match.resident_id)
    return row.sex, row.birth_date


def _bounds(result: parsed.LabResult, report: parsed.LabReport, patient: tuple[str | None, dt.date | None],
            now: dt.datetime) -> dict:
    """range_low/range_high for the resident (ranges.resident_bounds), on the specimen's date in China."""
    when = local_time(result.observed_at or report.collected_at) or now
    low, high = ranges.resident_bounds(result.range_text, (result.range_low, result.range_high), *patient,
                                       china_date(when))
    # A band's bounds the result columns cannot hold are left out, as the parsers do (its text is kept).
    low, high = parsed.storable_range(low, high, "", [])
    return {"range_low": low, "range_high": high}


def _message_values(feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, *, fmt: str, transport: str,
                    now: dt.datetime, ack: bytes | None, match: Match) -> dict:
    patient = msg.patient
    return dict(
        id=new_uuid(), feed_id=feed.id, hospital_id=feed.hospital_id, format=fmt, transport=transport,
        sending_app=msg.sending_app[:200], sending_facility=msg.sending_facility[:200],
        control_id=msg.control_id[:200], fingerprint=content_fingerprint(raw, fmt),
        message_type=msg.message_type[:40], version=msg.version[:60],
        raw=bytes(raw), encoding=msg.encoding, encoding_reason=msg.encoding_reason,
        charset_declared=msg.charset_declared[:40], sent_at=local_time(msg.sent_at), received_at=now,
        ack_code="AA" if ack is not None else None, ack=ack,
        warnings=[*msg.warnings, *_long_range_notes(msg)], patient_name=patient.name[:100],
        patient_name_alphabetic=patient.name_alphabetic[:100], patient_sex=patient.sex[:1] or "U",
        patient_birth_date=patient.birth_date, patient_id_number=patient.citizen_id,
        patient_identifiers=[i._asdict() for i in patient.identifiers],
        match_status="matched" if match.resident_id else "unmatched", match_method=match.method,
        match_reason=match.reason, match_note=match.note or None, resident_id=match.resident_id,
        suggested_resident_id=match.suggested, resolved_by=None, resolved_at=None, dismiss_reason=None)


# Real reference ranges, even with bands for every age and both sexes, run to a few hundred characters; a
# text past this is stored whole all the same, with a warning for the interface log (a sender's mistake,
# such as a whole report pasted into OBX-7, is then seen, not silently kept).
RANGE_TEXT_WARN = 2000


def _long_range_notes(msg: parsed.LabMessage) -> list[str]:
    return [f"result {r.code or r.name} (set id {r.set_id}): its reference range text is {len(r.range_text)} "
            f"characters, more than {RANGE_TEXT_WARN}: stored whole" for r in msg.results
            if len(r.range_text) > RANGE_TEXT_WARN]


def _insert_while_feed_live(session: Session, table, values: dict) -> None:
    """INSERT one row only while its feed (values["feed_id"]) is not revoked: the revocation check rides
    on the INSERT (feed keys are cached per process), so a revoked key stores nothing, at no extra round
    trip. Raises FeedRevoked when nothing was inserted."""
    stmt = _insert_live_statement(table, tuple(name for name in values if name in table.c))
    # RETURNING, not rowcount: psycopg reports -1 for INSERT ... SELECT through SQLAlchemy here.
    if session.connection().execute(stmt, values).first() is None:
        raise FeedRevoked(values["feed_id"])


@functools.cache
def _insert_live_statement(table, columns: tuple[str, ...]):
    # Built once per table and column list, with bind parameters rather than literal values: a statement
    # built per message cost more CPU (coercion and cache-key walk of ~40 literals) than sending it.
    feeds = LabFeed.__table__
    live = exists().where(feeds.c.id == bindparam("feed_id"), feeds.c.revoked_at.is_(None))
    source = select(*[_reused_control_id_warnings() if table is LabMessage.__table__ and name == "warnings"
                      else bindparam(name, type_=table.c[name].type) for name in columns]).where(live)
    return insert(table).from_select(list(columns), source).returning(table.c.id)


@functools.cache
def _control_id_reused():
    """EXISTS: the message's control id came before from its feed and facility with other content (bind
    parameters feed_id, sending_facility, control_id, fingerprint: a message's values)."""
    earlier = LabMessage.__table__.alias("earlier")
    return exists().where(earlier.c.feed_id == bindparam("feed_id"),
                          earlier.c.sending_facility == bindparam("sending_facility"),
                          earlier.c.control_id == bindparam("control_id"),
                          earlier.c.fingerprint != bindparam("fingerprint"))


def _reused_control_id_warnings():
    # A message's warnings, or (parameter warnings_reused) the same with a note that its control id came
    # before with other content: decided inside the INSERT, so the new-order path gains no round trip.
    return case((_control_id_reused(), bindparam("warnings_reused", type_=JSON)),
                else_=bindparam("warnings", type_=JSON))


def _reused_control_id_note(control_id: str) -> str:
    return (f"control id {control_id} (MSH-10, FHIR Bundle.identifier) was received before with different "
            "content: stored as another message (a correction, a later status, or a sender that reuses ids)")


def _report_values(feed: LabFeed | FeedRef, report: parsed.LabReport, resident_id: str | None,
                   now: dt.datetime) -> dict:
    # A new report takes every header field as sent (_update_header's rule for a report with no values yet).
    return dict(
        id=new_uuid(), hospital_id=feed.hospital_id, resident_id=resident_id,
        filler_no=report.filler_no[:100] or None, filler_reuse=0, placer_no=report.placer_no[:100],
        panel_code=report.panel_code[:60], panel_name=report.panel_name[:200],
        panel_coding_system=report.panel_coding_system[:60], specimen_type=report.specimen_type[:100],
        collected_at=local_time(report.collected_at), specimen_received_at=local_time(report.specimen_received_at),
        reported_at=local_time(report.reported_at), status=report.status[:2], tester=report.tester[:100],
        reviewer=report.reviewer[:100], critical=False, abnormal=False, excluded=_excluded(report),
        comments=_new_comments([], report.comments), created_at=now, changed_at=now)


def _excluded(report: parsed.LabReport) -> list[dict]:
    return [{"set_id": e.set_id, "value_type": e.value_type, "code": e.code, "name": e.name,
             "value_text": e.value_text[:500], "reason": e.reason} for e in report.excluded]


def _result_values(result: parsed.LabResult, report_id: str, message_id: str, position: int,
                   now: dt.datetime, bounds: dict) -> dict:
    return dict(
        report_id=report_id, message_id=message_id, position=position, set_id=result.set_id[:20],
        code=(result.code or result.name)[:60], name=result.name[:200], coding_system=result.coding_system[:60],
        value_type=result.value_type[:5], value_text=result.value_text, value_num=result.value_num,
        value_code=result.value_code[:60], comparator=result.comparator[:2], unit=result.unit[:60],
        range_text=result.range_text, **bounds,
        range_by_sex=dict(result.range_by_sex), flags=list(result.flags), critical=result.critical,
        abnormal=result.abnormal, status=result.status[:2], observed_at=local_time(result.observed_at),
        observer=result.observer[:100], comments=list(result.comments), received_at=now, superseded_by_id=None,
        superseded_at=None)


def _store_new_orders(session: Session, feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, *,
                      fmt: str, transport: str, now: dt.datetime, ack: bytes | None, match: Match,
                      team_id: int | None, patient: tuple[str | None, dt.date | None]) -> Stored:
    """Every order of the message is new: plain INSERTs, no unit of work. The rows are what the ORM path
    would write for a new report (same positions, flags and report summary); the sync change log is written
    here because the ORM hook does not see Core writes."""
    message = _message_values(feed, msg, raw, fmt=fmt, transport=transport, now=now, ack=ack, match=match)
    _insert_while_feed_live(session, LabMessage.__table__, {
        **message, "warnings_reused": [*message["warnings"], _reused_control_id_note(message["control_id"])]})
    reports, results = [], []
    for report in msg.reports:
        rep = _report_values(feed, report, match.resident_id, now)
        last: dict[str, dict] = {}
        for position, result in enumerate(report.results):
            row = _result_values(result, rep["id"], message["id"], position, now,
                                 _bounds(result, report, patient, now))
            last[row["code"]] = row  # a code twice in one report: the later row is the current one
            results.append(row)
        rep["critical"] = any(r["critical"] for r in last.values())
        rep["abnormal"] = any(r["abnormal"] for r in last.values())
        reports.append(rep)
    conn = session.connection()
    if reports:
        conn.execute(_INSERT_REPORT, reports)
        conn.execute(_INSERT_MESSAGE_REPORT,
                     [{"message_id": message["id"], "report_id": r["id"]} for r in reports])
    if results:
        # A plain executemany (no RETURNING): psycopg pipelines it, and its short statement stays in
        # psycopg's query cache; a multi-row VALUES ... RETURNING is longer than that cache takes and was
        # re-parsed for every message (profiled: the largest single cost of the write).
        conn.execute(_INSERT_RESULT, results)
    if match.resident_id:
        conn.execute(_INSERT_AUDIT, dict(
            at=now, **audit.values(_feed_actor(feed), "match", "lab_message", message["id"], match.resident_id,
                                   {"method": match.method})))
    if team_id is not None and reports:
        _log_sync_changes(session, team_id, message["id"], [r["id"] for r in reports])
    return Stored(message["id"], message["match_status"], [r["id"] for r in reports])


def _log_sync_changes(session: Session, team_id: int, message_id: str, report_ids: list[str]) -> None:
    """The sync change log rows the ORM hook would write for new reports and their result rows (upserts
    for the resident's team), in one INSERT ... SELECT: the result rows' ids never leave the database."""
    conn = session.connection()
    conn.execute(_sync_log_statement(conn.dialect.name == "postgresql"),
                 {"team_id": team_id, "message_id": message_id, "report_ids": report_ids})


@functools.cache
def _sync_log_statement(postgres: bool):
    # The writing transaction's id, as sync.changes.log writes it (0 on SQLite, whose writers are serial).
    xid = sync_changes._PG_XID if postgres else literal(0)
    team, upsert = bindparam("team_id", type_=SyncChange.__table__.c.team_id.type), literal("upsert")
    rows = union_all(
        select(xid, literal("lab_reports"), LabReport.id, team, upsert)
        .where(LabReport.id.in_(bindparam("report_ids", expanding=True))),
        select(xid, literal("lab_results"), cast(LabResultRow.id, String), team, upsert)
        .where(LabResultRow.message_id == bindparam("message_id")))
    return insert(SyncChange.__table__).from_select(["xid", "entity", "entity_id", "team_id", "op"], rows)


def _store_with_orm(session: Session, feed: LabFeed | FeedRef, msg: parsed.LabMessage, raw: bytes, *, fmt: str,
                    transport: str, now: dt.datetime, ack: bytes | None, match: Match, rows) -> Stored:
    """A message adding to known orders: load them with their rows, decide which of them are this patient's
    (place_orders), add rows that supersede (or are superseded by) the current ones; an order number another
    patient holds becomes a report of its own."""
    if session.scalar(select(LabFeed.revoked_at).where(LabFeed.id == feed.id)) is not None:
        raise FeedRevoked(feed.id)
    fillers = [r.filler_no[:100] for r in msg.reports if r.filler_no]
    known = open_reports(session, feed.hospital_id, fillers, now)
    match, targets = place_orders(msg.patient, match, known)
    patient = _resident_facts(session, rows, match)  # after place_orders: an order may confirm a suggestion
    values = _message_values(feed, msg, raw, fmt=fmt, transport=transport, now=now, ack=ack, match=match)
    if session.scalar(select(_control_id_reused()), values):
        values["warnings"].append(_reused_control_id_note(values["control_id"]))
    row = LabMessage(**values)
    session.add(row)

    reuses = last_reuses(session, feed.hospital_id, fillers)
    for report in msg.reports:
        filler = report.filler_no[:100] or None
        rep = targets.get(filler) if filler else None
        if rep is None:
            # A new order, or a number another patient holds: the next free filler_reuse (a collision with
            # a connection filing the same number now fails the commit, and the retry sees its report).
            reuse = reuses[filler] + 1 if filler in reuses else 0
            rep = LabReport(hospital_id=feed.hospital_id, filler_no=filler, filler_reuse=reuse,
                            resident_id=match.resident_id, created_at=now, results=[])
            session.add(rep)
            if filler:
                targets[filler], reuses[filler] = rep, reuse  # a second OBR with this number joins it
        _update_header(rep, report)
        _add_results(rep, report, row, now, patient)
        rep.changed_at = now
        if rep not in row.reports:
            row.reports.append(rep)

    if match.resident_id:
        audit.record(session, _feed_actor(feed), "match", "lab_message", row.id, match.resident_id,
                     {"method": match.method})
    session.flush()
    return Stored(row.id, row.match_status, [r.id for r in row.reports])


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
    comments = _new_comments(rep.comments or [], report.comments)
    if comments:
        # Added, never put in place of what an earlier message said: a final's remark does not make the
        # preliminary's "已复查" untrue. A new list, as JSON columns do not track changes made in place.
        rep.comments = list(rep.comments or []) + comments
    if report.excluded:
        rep.excluded = list(rep.excluded or []) + [
            {"set_id": e.set_id, "value_type": e.value_type, "code": e.code, "name": e.name,
             "value_text": e.value_text[:500], "reason": e.reason} for e in report.excluded]


def _new_comments(have: list[str], comments: list[str]) -> list[str]:
    """The comments not yet among `have`, once each, in order: a resend of a report repeats its remarks."""
    return [c for c in dict.fromkeys(comments) if c not in have]


def _add_results(rep: LabReport, report: parsed.LabReport, message: LabMessage, now: dt.datetime,
                 patient: tuple[str | None, dt.date | None]) -> None:
    current = {r.code: r for r in rep.results if r.superseded_by_id is None and r.superseded_at is None}
    next_position = max((r.position for r in rep.results), default=-1) + 1
    added: set[str] = set()
    for result in report.results:
        code = (result.code or result.name)[:60]
        row = LabResultRow(
            message=message, position=next_position, set_id=result.set_id[:20], code=code,
            name=result.name[:200], coding_system=result.coding_system[:60], value_type=result.value_type[:5],
            value_text=result.value_text, value_num=result.value_num, value_code=result.value_code[:60],
            comparator=result.comparator[:2], unit=result.unit[:60], range_text=result.range_text,
            **_bounds(result, report, patient, now), range_by_sex=dict(result.range_by_sex),
            flags=list(result.flags), critical=result.critical, abnormal=result.abnormal,
            status=result.status[:2], observed_at=local_time(result.observed_at), observer=result.observer[:100],
            comments=list(result.comments), received_at=now)
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


def feed_handler(sessionmaker, feed_id: int, encodings: Mapping[str, str] | None = None) -> Callable[[bytes], bytes]:
    """An MLLP handler: one session per message, stored through receive_hl7, the ACK returned after commit;
    its `oversized` answers a frame over the listener's limit (mllp.MLLPListener)."""

    def handle(raw: bytes) -> bytes:
        with sessionmaker() as session:
            feed = session.get(LabFeed, feed_id)
            if feed is None or feed.revoked_at is not None:
                return _revoked_ack(raw, encodings)
            try:
                return receive_hl7(session, feed, raw, transport="mllp", encodings=encodings).ack
            except FeedRevoked:  # revoked while this listener ran
                return _revoked_ack(raw, encodings)

    def oversized(head: bytes, size: int, limit: int) -> bytes:
        """AR from whatever header the first bytes hold; those bytes kept as a rejection with the size."""
        with sessionmaker() as session:
            feed = session.get(LabFeed, feed_id)
            if feed is None or feed.revoked_at is not None:
                return _revoked_ack(head, encodings)
            header = read_header(head, encodings)
            err = HL7MessageError(oversized_reason(size, limit), ack_code="AR", error_code="207", header=header)
            ack = build_ack(err, "AR", control_id=generate_control_id())
            try:
                keep_rejection(session, feed, head, fmt="hl7v2", transport="mllp", ack_code="AR", error_code="207",
                               reason=f"{err.reason} (its first {len(head)} bytes kept)", ack=ack,
                               facility=header.sending_facility if header else "",
                               control_id=header.control_id if header else None,
                               encoding=header.encoding if header else None, now=utcnow(), size=size)
            except FeedRevoked:
                return _revoked_ack(head, encodings)
            metrics.hl7_message("mllp", "AR")  # receive_hl7 counts the others; this one never reaches it
            return ack

    handle.oversized = oversized
    return handle


def _revoked_ack(raw: bytes, encodings: Mapping[str, str] | None) -> bytes:
    metrics.hl7_message("mllp", "AR")  # answered, so counted, though never parsed
    err = HL7MessageError("this feed is revoked", ack_code="AR", error_code="207", header=read_header(raw, encodings))
    return build_ack(err, "AR", control_id=generate_control_id())
