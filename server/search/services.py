"""Finding a resident from whatever the doctor has: name, pinyin initials, ID, record number, phone, address."""
from __future__ import annotations

import re

from sqlalchemy import Boolean, String, bindparam, func, or_, select, union
from sqlalchemy import text as sql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

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
    # No join to households: the page's 20 households are loaded by one more query (selectinload), and
    # the count reads residents alone. Address matches are a sub-select of the scope's households.
    stmt = (select(Resident).options(selectinload(Resident.household))
            .where(rows_visible(actor, Resident.team_id, Resident.center_id)))
    q = (args.get("q") or "").strip()
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
        return or_(func.substr(Resident.record_number, 10) == text, _contains(Resident.phone, text))
    if kind == "phone":
        return or_(_contains(Resident.phone, text), _starts(Resident.id_number, text))
    if kind == "pinyin":
        low = text.lower()
        return or_(_starts(Resident.name_initials, low), _starts(Resident.name_pinyin, low))
    # Households in scope at an address containing q (the trigram index finds them; the scope narrows them).
    at = select(Household.id).where(rows_visible(actor, Household.team_id, Household.center_id),
                                    _contains(Household.address, q))
    if kind == "name":  # a name, or a fragment of an address
        # Found by id, name and address apart (a UNION, so each half can use its own index): a name of 3+
        # characters by trigrams, a shorter one from the covering (scope, name) index without touching
        # the table (index-only scan); then only the matching rows are read and sorted.
        scope = rows_visible(actor, Resident.team_id, Resident.center_id)
        hit = union(select(Resident.id).where(scope, _contains(Resident.name, q)),
                    select(Resident.id).where(scope, Resident.household_id.in_(at)))
        return _IdIn(Resident.id, hit)
    return Resident.household_id.in_(at)


def planned_for_each_query(session) -> None:
    """Make PostgreSQL plan this transaction's searches for the pattern actually sent.

    The pattern is a bound parameter (never written into the SQL text: a NUL byte once cut that text short,
    and quoting is the driver's job). But psycopg prepares a statement it has run five times, and
    PostgreSQL may then switch to a generic plan, which cannot use the pattern or trigram indexes for an
    unknown pattern (measured over HTTP: 780 ms instead of 30). `force_custom_plan`, for this transaction
    only (SET LOCAL), keeps the per-pattern plan; a search plans in well under a millisecond."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql("SET LOCAL plan_cache_mode = force_custom_plan"))


def _pattern(value: str):
    return bindparam(None, value, type_=String())


def _escape(value: str) -> str:
    return value.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _contains(column, value: str):
    """column contains value, LIKE wildcards in value taken literally."""
    return column.like(_pattern(f"%{_escape(value)}%"), escape="/")


def _starts(column, value: str):
    """column starts with value, LIKE wildcards in value taken literally."""
    return column.like(_pattern(f"{_escape(value)}%"), escape="/")


class _IdIn(ColumnElement):
    """column IN (select): on PostgreSQL written column = ANY(ARRAY(select)), so the few matching ids are
    collected once and read by primary key. Given IN, the planner (which cannot estimate LIKE '%x%')
    hash-joined the hits against a second full read of the scope's residents."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("select", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, select_):
        self.column, self.select = column, select_


@compiles(_IdIn)
def _id_in(element, compiler, **kw):
    return compiler.process(element.column.in_(element.select), **kw)


@compiles(_IdIn, "postgresql")
def _id_in_pg(element, compiler, **kw):
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY(ARRAY({compiler.process(element.select.scalar_subquery(), **kw)}))")
