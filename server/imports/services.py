"""Import residents from the old system (CSV or XLSX, UTF-8 or GBK): dry run, then all-or-nothing."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, NamedTuple

from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gpcore import health_file as hf
from gpcore import idcard, names, record_number
from gpcore.clock import china_today

from .. import bulk
from ..assignment.models import AssignmentChange
from ..db import ordered_uuids, utcnow
from ..errors import Invalid
from ..followups import status_rows as followups
from ..followups.models import FollowUpStatus
from ..households.models import ChronicCondition, Household, Resident
from ..limits import CONTROL_CHARACTERS
from ..org.models import Center, Committee
from ..scope import Actor, require_center
from ..sync import changes as sync_changes

# Column headers the old systems use, first the Chinese ones, then our own field names.
COLUMNS = {
    "household_key": ("户编号", "家庭编号", "家庭档案编号", "household_key"),
    "committee": ("居委会", "村委会", "居(村)委会", "居（村）委会", "committee"),
    "address": ("家庭住址", "现住址", "address"),
    "name": ("姓名", "name"),
    "sex": ("性别", "sex"),
    "birth_date": ("出生日期", "birth_date"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "phone": ("联系电话", "本人电话", "phone"),
    "relation_to_head": ("与户主关系", "relation_to_head"),
    "residence_type": ("常住类型", "户籍类型", "residence_type"),
    "ethnicity": ("民族", "ethnicity"),
    "contact_name": ("联系人姓名", "contact_name"),
    "contact_phone": ("联系人电话", "contact_phone"),
    "employer": ("工作单位", "employer"),
    "hypertension": ("高血压", "hypertension"),
    "t2dm": ("糖尿病", "2型糖尿病", "t2dm"),
}
REQUIRED = ("household_key", "committee", "address", "name")
NAMES = ("name", "contact_name", "committee")
_SEX = {"男": "1", "女": "2", "1": "1", "2": "2", "0": "0", "9": "9", "未知": "0"}
_RELATION = {**{v: k for k, v in hf.RELATIONSHIP.items()}, **{k: k for k in hf.RELATIONSHIP},
             "本人": "02", "夫": "10", "妻": "10", "儿子": "20", "女儿": "30", "孙子": "40", "孙女": "40",
             "父亲": "50", "母亲": "50"}
_RESIDENCE = {"户籍": "1", "非户籍": "2", "1": "1", "2": "2"}
_YES = {"是", "有", "1", "y", "yes", "true", "√"}
_NO = {"", "否", "无", "0", "n", "no", "false"}
_DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


@dataclass
class Problem:
    row: int
    field: str
    message: str
    value: str = ""


@dataclass
class ImportReport:
    rows: int = 0
    households: int = 0
    residents: int = 0
    conditions: int = 0
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = True
    encoding: str = ""


def read_table(data: bytes, filename: str) -> tuple[list[dict], str]:
    """Rows of a CSV (UTF-8 or GBK/GB18030, detected) or XLSX file, keyed by header, with row numbers."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data), "xlsx"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # gb18030 decodes nearly anything, so this is a guard, not a path
        raise Invalid("The file is neither UTF-8 nor GBK text.", {"file": ["unknown encoding"]},
                      zh="文件既不是 UTF-8 也不是 GBK 编码的文本。", zh_errors={"file": ["无法识别的编码"]})
    reader = csv.DictReader(io.StringIO(text))
    return [{"_row": i, **r} for i, r in enumerate(reader, start=2)], encoding.replace("-sig", "")


def _read_xlsx(data: bytes) -> list[dict]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise Invalid("The XLSX file cannot be read.", {"file": [str(exc)[:200]]},
                      zh="无法读取这个 XLSX 文件（文件可能已损坏，或不是 Excel 文件）。") from exc
    rows = wb.active.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
    out = []
    for i, values in enumerate(rows, start=2):
        if values is None or all(v in (None, "") for v in values):
            continue
        out.append({"_row": i, **{h: _cell(v) for h, v in zip(header, values) if h}})
    return out


def _cell(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _columns(header: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    present = {h.strip(): h for h in header if h and h != "_row"}
    mapping, missing = {}, []
    for key, names in COLUMNS.items():
        found = next((present[n] for n in names if n in present), None)
        if found:
            mapping[key] = found
        elif key in REQUIRED:
            missing.append(f"{key} ({names[0]})")
    return mapping, missing


def _date(text: str) -> dt.date | None:
    m = _DATE.match(text.strip())
    if not m:
        raise ValueError("not a date (use YYYY-MM-DD)")
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


def committee_finder(session: Session, center: Center) -> Callable[[str], Committee | None]:
    """The center's committee a file's committee cell names: by code (001, or 1) or by its name."""
    committees = {c.code: c for c in session.scalars(select(Committee).where(Committee.center_id == center.id))}
    by_name = {c.name: c for c in committees.values()}
    return lambda text: committees.get(text.strip().zfill(3)) or by_name.get(text.strip())


def validate(session: Session, center: Center, rows: list[dict], today: dt.date) -> tuple[list[dict], list[Problem]]:
    """Parse and check every row; returns the clean rows and every row-level problem found."""
    problems: list[Problem] = []
    if not rows:
        return [], [Problem(0, "file", "the file has no data rows")]
    mapping, missing = _columns(rows[0].keys())
    if missing:
        return [], [Problem(1, "header", f"missing column(s): {', '.join(missing)}")]
    committee_of = committee_finder(session, center)
    seen_ids: dict[str, int] = {}
    clean = []
    for raw in rows:
        n = raw["_row"]
        row = {k: (raw.get(col) or "").strip() for k, col in mapping.items()}
        bad = []

        def problem(field_: str, message: str):
            bad.append(Problem(n, field_, message, row.get(field_, "")))

        for key, value in row.items():
            if value.startswith("="):  # kept, it would come out of every export as a live formula
                problem(key, "starts with =: a spreadsheet formula, not a value")
            elif key in NAMES and CONTROL_CHARACTERS.search(value):
                problem(key, "contains a control character")
        for key in REQUIRED:
            if not row.get(key):
                problem(key, "required")
        committee = committee_of(row.get("committee", ""))
        if row.get("committee") and committee is None:
            problem("committee", "unknown committee in this center")
        parsed = {"household_key": row.get("household_key"), "address": row.get("address"),
                  "committee": committee, "name": row.get("name"), "_row": n}
        facts = None
        if row.get("id_number"):
            try:
                facts = idcard.parse(row["id_number"], today=today)
                parsed["id_number"] = facts.number
            except idcard.InvalidIdNumber as exc:
                problem("id_number", str(exc))
        for key, table in (("sex", _SEX), ("relation_to_head", _RELATION), ("residence_type", _RESIDENCE)):
            if row.get(key):
                if row[key] in table:
                    parsed[key] = table[row[key]]
                else:
                    problem(key, f"unknown value {row[key]!r}")
        if row.get("ethnicity"):
            parsed["ethnicity"] = "01" if row["ethnicity"] in ("汉", "汉族", "01") else "99"
            if parsed["ethnicity"] == "99":
                parsed["ethnicity_name"] = row["ethnicity"][:20]
        if row.get("birth_date"):
            try:
                parsed["birth_date"] = _date(row["birth_date"])
            except ValueError as exc:
                problem("birth_date", str(exc))
        if facts:  # the ID card is the source of truth for what is missing; mismatches are problems
            parsed.setdefault("birth_date", facts.birth_date)
            parsed.setdefault("sex", str(facts.sex))
            for key, messages in hf.check_identity({**parsed, "id_number": facts.number}, today,
                                                   facts=facts).items():
                for message in messages:
                    problem(key, message)
            if facts.number in seen_ids:
                problem("id_number", f"duplicate ID number (also on row {seen_ids[facts.number]})")
            seen_ids.setdefault(facts.number, n)
        if "sex" not in parsed and not any(p.field == "sex" for p in bad):
            problem("sex", "required when there is no ID number")
        if "birth_date" not in parsed and not any(p.field == "birth_date" for p in bad):
            problem("birth_date", "required when there is no ID number")
        for cond in ("hypertension", "t2dm"):
            text = row.get(cond, "")
            if text.lower() in _NO:
                continue
            if text.lower() in _YES:
                parsed[cond] = True
            else:
                try:
                    parsed[cond] = _date(text)
                except ValueError:
                    problem(cond, "write 是/否 or the diagnosis date")
        for key in ("phone", "contact_name", "contact_phone", "employer"):
            if row.get(key):
                parsed[key] = row[key][:100]
        problems.extend(bad)
        if not bad:
            clean.append(parsed)
    if seen_ids:
        existing = set()
        ids = list(seen_ids)
        if session.get_bind().dialect.name == "postgresql":
            # One statement with the numbers as one array parameter: IN lists of 1,000 bound values cost
            # more to render and send than to look up (a quarter of a 15,000-row dry run).
            existing.update(session.scalars(select(Resident.id_number).where(
                Resident.id_number == any_(bindparam("ids", ids, type_=ARRAY(String))))))
        else:
            for i in range(0, len(ids), 1000):
                existing.update(session.scalars(select(Resident.id_number).where(
                    Resident.id_number.in_(ids[i:i + 1000]))))
        for number in existing:
            problems.append(Problem(seen_ids[number], "id_number", "already on file in the system", number))
    problems.sort(key=lambda p: (p.row, p.field))
    return clean, problems


def run(session: Session, actor: Actor, center_id: int, data: bytes, filename: str, *, dry_run: bool,
        today: dt.date | None = None, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Check the whole file; unless dry_run and only if it is clean, write it all in one transaction."""
    center = session.get(Center, center_id)
    if center is None:
        raise Invalid("No such center.", {"center_id": ["unknown"]}, zh="没有这个中心。",
                      zh_errors={"center_id": ["不存在"]})
    require_center(actor, center_id)
    rows, encoding = read_table(data, filename)
    clean, problems = validate(session, center, rows, today or china_today())
    report = ImportReport(rows=len(rows), problems=problems, dry_run=dry_run, encoding=encoding)
    groups = _households(clean)
    report.households = len(groups)
    report.residents = len(clean)
    report.conditions = sum(bool(r.get("hypertension")) + bool(r.get("t2dm")) for r in clean)
    if dry_run or problems:
        return report
    write(session, actor, center, groups, reason=f"import {filename}", progress=progress)
    return report


def _households(rows: list[dict]) -> list[list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["committee"].id, r["household_key"])].append(r)
    return list(groups.values())


# Column order of the tuples write() streams into COPY (server.bulk.insert_rows with columns=...).
_HOUSEHOLD_COLUMNS = ("id", "center_id", "committee_id", "team_id", "address", "head_id", "created_at",
                      "updated_at", "created_by", "version")
_RESIDENT_COLUMNS = (
    "id", "household_id", "team_id", "center_id", "record_number", "id_number", "name", "name_pinyin",
    "name_initials", "sex", "birth_date", "relation_to_head", "phone", "employer", "contact_name",
    "contact_phone", "residence_type", "ethnicity", "ethnicity_name", "payment_methods", "drug_allergies",
    "exposures", "past_diseases", "procedures", "family_history", "disabilities", "status", "created_at",
    "updated_at", "created_by", "version")
_CONDITION_COLUMNS = ("id", "resident_id", "condition", "diagnosed_on", "status", "created_at", "updated_at",
                      "version")
_CONDITIONS = ("hypertension", "t2dm")


class _PlannedHousehold(NamedTuple):
    """A household of the file with its ids, decided before any row is written."""

    id: str
    committee: Committee
    prefix: str  # the committee's record-number prefix
    first_serial: int  # the members' serials are consecutive from here
    members: list[dict]
    member_ids: list[str]
    head_id: str | None


def write(session: Session, actor: Actor, center: Center, groups: list[list[dict]], *, reason: str,
          progress: Callable[[int, int], None] | None = None, chunk: int = 5000) -> None:
    """Insert households, residents and registry entries in bulk; record numbers taken in blocks.

    One transaction (the session's), so all-or-nothing. On PostgreSQL each table is one COPY, and the
    resident rows are built while COPY takes them (a generator), so Python's work on one core overlaps
    PostgreSQL's checking and indexing on the other. Ids are ordered_uuids, so every key index takes the
    new rows at its end."""
    now = utcnow()
    per_committee: dict[int, int] = defaultdict(int)
    for members in groups:
        per_committee[members[0]["committee"].id] += len(members)
    next_serial = {}
    for committee_id, count in per_committee.items():
        last = session.execute(update(Committee).where(Committee.id == committee_id)
                               .values(last_serial=Committee.last_serial + count)
                               .returning(Committee.last_serial)).scalar_one()
        next_serial[committee_id] = last - count + 1
    n_residents = sum(per_committee.values())
    n_conditions = sum(1 for members in groups for m in members for cond in _CONDITIONS if m.get(cond))
    total = len(groups) + n_residents + n_conditions
    hh_ids, res_ids, cond_ids = (iter(ordered_uuids(n)) for n in (len(groups), n_residents, n_conditions))
    # Plan every household first (cheap): its id, its members' ids and serials, its head. The record-number
    # prefix is the same for every resident of a committee: compose (and check) it once per committee, then
    # append the serial (compose's own format, 5 digits).
    prefixes: dict[int, str] = {}
    plan: list[_PlannedHousehold] = []
    for members in groups:
        committee = members[0]["committee"]
        if committee.id not in prefixes:
            prefixes[committee.id] = record_number.compose(center.county_code, center.township_code,
                                                           committee.code, 1)[:-5]
        first = next_serial[committee.id]
        last = first + len(members) - 1
        if last > record_number.MAX_SERIAL:
            record_number.compose(center.county_code, center.township_code, committee.code, last)  # raises
        next_serial[committee.id] = last + 1
        ids = [next(res_ids) for _ in members]
        # The head is known before the household row is written: no UPDATE pass afterwards.
        head = next((rid for rid, m in zip(ids, members) if m.get("relation_to_head") == "02"), None)
        plan.append(_PlannedHousehold(next(hh_ids), committee, prefixes[committee.id], first, members, ids,
                                      head))

    conn = session.connection()
    user = actor.user_id
    # COPY on PostgreSQL, executemany elsewhere (server.bulk); one transaction either way.
    bulk.insert_rows(conn, Household.__table__, columns=_HOUSEHOLD_COLUMNS, rows=(
        (h.id, center.id, h.committee.id, h.committee.team_id, h.members[0]["address"], h.head_id, now, now,
         user, 1) for h in plan))
    done = len(plan)
    if progress:
        progress(done, total)
    # (id, resident_id, condition, diagnosed, team_id), filled while the residents are written
    conditions: list[tuple] = []

    def resident_rows():
        nonlocal done
        search_forms = names.search_forms
        for h in plan:
            hh_id, prefix, team_id = h.id, h.prefix, h.committee.team_id
            for serial, m, res_id in zip(itertools.count(h.first_serial), h.members, h.member_ids):
                forms = search_forms(m["name"])
                get = m.get
                yield (res_id, hh_id, team_id, center.id, f"{prefix}{serial:05d}", get("id_number"), forms["name"],
                       forms["name_pinyin"], forms["name_initials"], m["sex"], m["birth_date"], get("relation_to_head"),
                       get("phone"), get("employer"), get("contact_name"), get("contact_phone"),
                       get("residence_type"), get("ethnicity"), get("ethnicity_name"), [], [], [], [], {}, {},
                       [], "active", now, now, user, 1)
                for cond in _CONDITIONS:
                    if get(cond):
                        conditions.append((next(cond_ids), res_id, cond, m[cond], team_id))
                done += 1
                if progress and done % chunk == 0:
                    progress(done, total)

    bulk.insert_rows(conn, Resident.__table__, resident_rows(), columns=_RESIDENT_COLUMNS)
    bulk.insert_rows(conn, ChronicCondition.__table__, columns=_CONDITION_COLUMNS, rows=(
        (cid, rid, cond, diagnosed if isinstance(diagnosed, dt.date) else None, "managed", now, now, 1)
        for cid, rid, cond, diagnosed, _team in conditions))
    if progress:
        progress(total, total)
    bulk.insert_rows(conn, AssignmentChange.__table__, [
        {"household_id": h.id, "from_team_id": None, "to_team_id": h.committee.team_id, "changed_by": user,
         "changed_at": now, "reason": reason}
        for h in plan if h.committee.team_id is not None])
    # Core INSERTs bypass the ORM's flush events: log the new records for their team's tablets here.
    sync_changes.log_many(conn, [
        *(("households", h.id, h.committee.team_id, "upsert") for h in plan),
        *(("residents", rid, h.committee.team_id, "upsert") for h in plan for rid in h.member_ids),
        *(("chronic_conditions", cid, team, "upsert") for cid, _rid, _cond, _d, team in conditions)])
    # The follow-up worklist reads one status row per registry entry, visited or not (COPY here too:
    # an executemany of a team's 4,000 rows cost about a tenth of the writer's time).
    bulk.insert_rows(conn, FollowUpStatus.__table__, [
        followups.empty_status(rid, cond, team) for _cid, rid, cond, _d, team in conditions])
