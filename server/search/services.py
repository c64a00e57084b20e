"""Finding a resident from whatever the doctor has: name, pinyin initials, ID, record number, phone, address."""
from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from gpcore import idcard

from ..households.models import ChronicCondition, Household, Resident
from ..scope import Actor, rows_visible

_DIGITS = re.compile(r"^\d+$")
_ID_LIKE = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")
_LETTERS = re.compile(r"^[A-Za-z]+$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def classify_query(q: str) -> str:
    """Which kind of text this is: id_number, record_number, record_short, phone, pinyin, name, address."""
    text = idcard.normalise(q)
    if _ID_LIKE.match(text):
        return "id_number"
    if _DIGITS.match(text):
        if len(text) == 17:
            return "record_number"
        if len(text) == 8:
            return "record_short"
        return "phone"
    if _LETTERS.match(text):
        return "pinyin"
    if _CJK.search(text) and len(text) <= 4 and not re.search(r"\d", text):
        return "name"  # short all-Chinese text: a name, but an address fragment also matches
    return "address"


def search_residents(actor: Actor, args: dict):
    """A select of residents in scope matching the query and filters, best-known first."""
    stmt = select(Resident).join(Resident.household).options(contains_eager(Resident.household))
    q = (args.get("q") or "").strip()
    if q and classify_query(q) == "address":
        # Matched on the address only: scope on the household's columns (the resident's are copies of
        # them), so PostgreSQL can combine the address index with the team's households, then join members.
        stmt = stmt.where(rows_visible(actor, Household.team_id, Household.center_id))
    else:
        # Matched on the resident's own columns: the team-first indexes serve scope and match together.
        stmt = stmt.where(rows_visible(actor, Resident.team_id, Resident.center_id))
    if q:
        stmt = stmt.where(_match(actor, q))
    if args.get("condition"):
        stmt = stmt.where(Resident.id.in_(select(ChronicCondition.resident_id).where(
            ChronicCondition.condition == args["condition"], ChronicCondition.status == "managed")))
    if args.get("household_id"):
        stmt = stmt.where(Resident.household_id == args["household_id"])
    if args.get("status"):
        stmt = stmt.where(Resident.status == args["status"])
    return stmt.order_by(Resident.name, Resident.record_number)


def _match(actor: Actor, q: str):
    kind = classify_query(q)
    text = idcard.normalise(q)
    if kind == "id_number":
        try:
            return Resident.id_number == idcard.parse(text).number
        except idcard.InvalidIdNumber:
            return Resident.id_number == text
    if kind == "record_number":
        return Resident.record_number == text
    if kind == "record_short":
        # Record numbers are always 17 digits (gpcore.record_number.compose), so "ends with these 8" is
        # "digits 10-17 equal these": an indexed expression (ix_residents_record_last8) on both databases.
        return or_(func.substr(Resident.record_number, 10) == text, Resident.phone.contains(text))
    if kind == "phone":
        return or_(Resident.phone.contains(text), Resident.id_number.startswith(text))
    if kind == "pinyin":
        low = text.lower()
        return or_(Resident.name_initials.startswith(low), Resident.name_pinyin.startswith(low))
    if kind == "name":
        # A name, or a fragment of an address. The address half is a sub-select of the scope's households
        # (a hashed set), so the scan of the scope's residents never has to join every household first.
        at = select(Household.id).where(rows_visible(actor, Household.team_id, Household.center_id),
                                        Household.address.contains(q, autoescape=True))
        return or_(Resident.name.contains(q, autoescape=True), Resident.household_id.in_(at))
    return Household.address.contains(q, autoescape=True)
