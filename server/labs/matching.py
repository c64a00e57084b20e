"""Which resident a lab message is about: certain matches only; anything else goes to the unmatched queue.

Rules, in order (a wrong match shows one person's results to another person's doctor, so doubt queues):
1. A citizen ID number (GB 11643, checked with gpcore.idcard) on file for exactly one resident: a match when
   the message's name agrees with the file (the ideographic name, or the pinyin of an alphabetic one) and the
   birth date, when sent, agrees too. A name that disagrees queues the message (`id_name_mismatch`).
2. Otherwise the ideographic name + birth date + sex: a match when exactly one resident has all three and
   that resident's file holds no different ID number. No one: `no_candidate`; several: `ambiguous`.
3. A message without enough to try rule 2 (no name, birth date or sex): `incomplete_identity`.
Residents of every center and status are candidates: a namesake elsewhere makes a name match uncertain.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore import pinyin

from ..households.models import Resident
from .model import LabPatient

SEX_CODES = {"M": "1", "F": "2"}  # HL7/FHIR administrative sex -> GB/T 2261.1 as stored on residents
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

REASONS = {
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
    method: str | None = None  # id_number | name_birth_sex
    reason: str | None = None  # a key of REASONS when unmatched
    note: str = ""


def citizen_id(patient: LabPatient) -> str | None:
    """The patient's citizen ID number, normalised (18 characters), when one of the identifiers is valid."""
    return patient.citizen_id


def _same_name(sent: str, on_file: str) -> bool:
    a = re.sub(r"\s+", "", unicodedata.normalize("NFKC", sent or ""))
    b = re.sub(r"\s+", "", unicodedata.normalize("NFKC", on_file or ""))
    return bool(a) and a == b


def _name_agrees(patient: LabPatient, res: Resident) -> bool:
    if _CJK.search(patient.name or ""):
        return _same_name(patient.name, res.name)
    alphabetic = patient.name_alphabetic or patient.name
    if alphabetic:
        # "ZHANG^SAN" or "Zhang San": only with an ID hit is pinyin evidence enough (namesakes share it).
        letters = re.sub(r"[^a-z]", "", alphabetic.lower())
        return letters == pinyin.full(res.name)
    return True  # no name sent: the ID number alone identifies the person


def match_patient(session: Session, patient: LabPatient) -> Match:
    """Find the one resident a message's patient is, or say why a person must decide."""
    number = citizen_id(patient)
    if number is not None:
        res = session.scalar(select(Resident).where(Resident.id_number == number))
        if res is not None:
            birth_ok = patient.birth_date is None or patient.birth_date == res.birth_date
            if _name_agrees(patient, res) and birth_ok:
                return Match(res.id, "id_number")
            return Match(None, reason="id_name_mismatch",
                         note=f"ID number on file for a resident named {res.name}")
    sex = SEX_CODES.get(patient.sex)
    if not _CJK.search(patient.name or "") or patient.birth_date is None or sex is None:
        return Match(None, reason="no_candidate" if number else "incomplete_identity")
    candidates = session.scalars(select(Resident).where(
        Resident.name == patient.name.strip(), Resident.birth_date == patient.birth_date,
        Resident.sex == sex).limit(3)).all()
    if not candidates:
        return Match(None, reason="no_candidate")
    if len(candidates) > 1:
        return Match(None, reason="ambiguous",
                     note="2 residents" if len(candidates) == 2 else "3 or more residents")
    res = candidates[0]
    if number is not None and res.id_number and res.id_number != number:
        return Match(None, reason="id_conflict")
    return Match(res.id, "name_birth_sex")
