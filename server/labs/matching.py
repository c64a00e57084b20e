"""Which resident a lab message is about: certain matches only; anything else goes to the unmatched queue.

Rules, in order (a wrong match shows one person's results to another person's doctor, so doubt queues):
1. A citizen ID number (GB 11643, checked with gpcore.idcard) on file for exactly one resident: a match when
   the message's name agrees with the file (the ideographic name, or the pinyin of an alphabetic one) and the
   birth date, when sent, agrees too. A name that disagrees queues the message (`id_name_mismatch`).
2. Otherwise the ideographic name + birth date + sex finds a candidate, never a match: exactly one resident
   with all three whose file holds no different ID number queues the message with that resident suggested
   (`name_birth_sex_candidate`; Match.suggested, kept as LabMessage.suggested_resident_id) for staff to confirm
   in one call. Same-day namesakes exist, and the one on file may not be the patient (who may live elsewhere
   or be on file under another spelling): only a person can tell. No one: `no_candidate`; several:
   `ambiguous`; the one namesake holds a different ID number: `id_conflict`.
3. A message without enough to try rule 2 (no name, birth date or sex): `incomplete_identity`.
Residents of every center and status are candidates: a namesake elsewhere makes a name match uncertain.
Only rule 1 files a message by itself (intake may also file by a known order number). The comparisons are
gpcore.patients.same_patient's: rule 1 at BY_ID_NUMBER, rule 2 at CANDIDATE (names as gpcore.names folds them).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, literal, or_, select
from sqlalchemy.orm import Session

from gpcore.names import has_characters
from gpcore.patients import Identity, Strictness, same_patient

from ..households.models import Resident
from .model import LabPatient

SEX_CODES = {"M": "1", "F": "2"}  # HL7/FHIR administrative sex -> GB/T 2261.1 as stored on residents

REASONS = {
    "name_birth_sex_candidate": "one resident has this name, birth date and sex, but no ID number confirms "
                                "it: confirm the suggested resident or choose another",
    "no_candidate": "no resident has this ID number, or this name, birth date and sex",
    "ambiguous": "several residents have this name, birth date and sex",
    "id_name_mismatch": "the ID number is on file for a resident with another name or birth date",
    "id_conflict": "the only resident with this name, birth date and sex has a different ID number on file",
    "incomplete_identity": "no ID number on file, and name, birth date or sex missing",
    "order_conflict": "the order number is already filed for a different or unresolved patient",
}


@dataclass(frozen=True)
class Match:
    """The outcome: a resident and how they were found, or the reason the message needs a person."""

    resident_id: str | None
    method: str | None = None  # id_number (rule 1; intake adds order)
    reason: str | None = None  # a key of REASONS when unmatched
    note: str = ""
    suggested: str | None = None  # a resident for staff to confirm (unmatched only)


def citizen_id(patient: LabPatient) -> str | None:
    """The patient's citizen ID number, normalised (18 characters), when one of the identifiers is valid."""
    return patient.citizen_id


def patient_identity(patient: LabPatient) -> Identity:
    """What a message says of its patient, for gpcore.patients.same_patient."""
    return Identity(name=patient.name, name_alphabetic=patient.name_alphabetic, birth_date=patient.birth_date,
                    sex=SEX_CODES.get(patient.sex), id_number=patient.citizen_id)


def resident_identity(res) -> Identity:
    """What a resident's file (a row or object with name, birth_date, sex, id_number) says."""
    return Identity(name=res.name, birth_date=res.birth_date, sex=res.sex, id_number=res.id_number)


def message_identity(msg) -> Identity:
    """What a stored lab message says of its patient, with the hospital's own patient numbers (not the
    citizen ID): compared only between messages of the same hospital, where an empty authority means it."""
    own = frozenset(
        (msg.hospital_id, (i.get("authority") or "").strip().upper(), (i.get("value") or "").strip())
        for i in (msg.patient_identifiers or [])
        if (i.get("value") or "").strip() and i.get("value", "").strip().upper() != (msg.patient_id_number or ""))
    return Identity(name=msg.patient_name, name_alphabetic=msg.patient_name_alphabetic,
                    birth_date=msg.patient_birth_date, sex=SEX_CODES.get(msg.patient_sex),
                    id_number=msg.patient_id_number, hospital_numbers=own)


# What matching reads of a resident (a plain row, not an ORM object: this runs for every message).
_COLUMNS = (Resident.id, Resident.name, Resident.birth_date, Resident.sex, Resident.id_number, Resident.team_id)


def candidates(patient: LabPatient, known_orders=None) -> tuple | None:
    """One select for both rules: the resident holding the ID number (first) and up to 3 namesakes with
    the same birth date and sex, as plain rows; (statement, parameters), or None when there is nothing to
    read. `known_orders` (a scalar subquery; the caller adds its parameters) is read in the same round trip:
    the select then always returns at least one row, with that value and NULL resident columns when nobody
    matched."""
    number = patient.citizen_id
    sex = SEX_CODES.get(patient.sex)
    by_name = has_characters(patient.name) and patient.birth_date is not None and sex is not None
    if number is None and not by_name and known_orders is None:
        return None
    params = {}
    if number is not None:
        params["number"] = number
    if by_name:
        params.update(name=patient.name.strip(), birth_date=patient.birth_date, sex=sex)
    return _candidates_statement(number is not None, by_name, known_orders), params


@functools.cache
def _candidates_statement(by_number: bool, by_name: bool, known_orders):
    # Built once per shape, with bind parameters (runs for every message: building it each time cost more
    # CPU than the round trip).
    terms = []
    if by_number:
        terms.append(Resident.id_number == bindparam("number"))
    if by_name:
        terms.append(and_(Resident.name == bindparam("name"), Resident.birth_date == bindparam("birth_date"),
                          Resident.sex == bindparam("sex")))
    if not terms:
        return select(known_orders.label("known_orders"))
    # The ID holder first; 4 rows (holder + 3 namesakes) tell one namesake from several.
    order = [case((Resident.id_number == bindparam("number"), 0), else_=1)] if by_number else []
    if known_orders is None:
        stmt = select(*_COLUMNS).where(or_(*terms))
    else:
        one = select(literal(1).label("one")).subquery("one")
        stmt = (select(known_orders.label("known_orders"), *_COLUMNS).select_from(one)
                .outerjoin(Resident, or_(*terms)))
    return stmt.order_by(*order, Resident.id).limit(4)


def decide(patient: LabPatient, rows) -> Match:
    """The rules of the module docstring over the rows `candidates` found (id, name, birth_date, sex,
    id_number, ...): a pure function, so the queue's reasons do not depend on how the rows were read."""
    rows = [r for r in rows if getattr(r, "id", None) is not None]  # the outer join's empty row when nobody matched
    sent = patient_identity(patient)
    number = sent.id_number
    if number is not None:
        holder = next((r for r in rows if r.id_number == number), None)
        if holder is not None:
            # A name that disagrees with the file (pinyin counts only when the message has no characters:
            # namesakes share it) or another birth date means a mistyped ID number.
            if same_patient(sent, resident_identity(holder), Strictness.BY_ID_NUMBER):
                return Match(holder.id, "id_number")
            return Match(None, reason="id_name_mismatch",
                         note=f"ID number on file for a resident named {holder.name}")
    if not has_characters(patient.name) or patient.birth_date is None or sent.sex is None:
        return Match(None, reason="no_candidate" if number else "incomplete_identity")
    verdicts = ((r, same_patient(sent, resident_identity(r), Strictness.CANDIDATE)) for r in rows)
    namesakes = [(r, verdict) for r, verdict in verdicts if verdict.ties]
    if not namesakes:
        return Match(None, reason="no_candidate")
    if len(namesakes) > 1:
        return Match(None, reason="ambiguous",
                     note="2 residents" if len(namesakes) == 2 else "3 or more residents")
    res, verdict = namesakes[0]
    if not verdict:  # the one namesake's file holds a different ID number
        return Match(None, reason="id_conflict")
    # Never guessed: a lone namesake is only a suggestion; staff confirm it (one call) or choose another.
    return Match(None, reason="name_birth_sex_candidate", suggested=res.id)


def match_patient(session: Session, patient: LabPatient) -> Match:
    """Find the one resident a message's patient is, or say why a person must decide."""
    query = candidates(patient)
    return decide(patient, session.execute(*query).all() if query is not None else [])
