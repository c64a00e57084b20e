"""Chronic-disease management indicators per team, center and district, per year or quarter.

Definitions (standards.md s.1-2; denominators are patients under management, as the specification's
formulas are):

- under management: registry entries (hypertension / t2dm) diagnosed by the period's end (or with no
  diagnosis date) that were managed at some time in the period: still "managed", or closed (lost,
  terminated, deceased) on or after the period's first day; residents who moved out before the period
  are left out. A team's figures use the resident's current team.
- managed to the specification (规范管理): at least 4 clinic/home visits from 1 January to the period's end
  (gpcore RuleSettings.face_to_face_visits_per_year); for quarter q the year-to-date bar is q visits, so a
  patient on track for 4 a year counts. Phone visits never count.
- BP control (血压控制): the latest visit in the period that measured BP met the target for the patient's
  age on that day (gpcore bp_control, stored when the visit was signed).
- glucose control (血糖控制, t2dm only): the latest measured FPG in the period was below 7.0 mmol/L.
- emergencies: visits in the period the rules found an emergency, and the patients who had one.
- completeness: visits in the period with every box of the national form filled that a visit of that
  mode can fill (services.COMPLETE_*), over all visits in the period.

Only effective records count (an amended visit is replaced by its amendment).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import String, case, cast, func, or_, select, text
from sqlalchemy.orm import Session

from gpcore.followup import RuleSettings, codes

from ..errors import NotFound
from ..households.models import ChronicCondition, Resident
from ..org.models import Center, Team
from ..scope import Actor, report_scope, sees_whole_district
from .models import VISIT, FollowUp, FollowUpYear
from .services import require_team

SETTINGS = RuleSettings()
CONDITIONS = ("hypertension", "t2dm")
COUNTS = ("under_management", "managed_to_spec", "bp_measured", "bp_controlled", "fpg_measured",
          "fpg_controlled", "emergency_visits", "emergency_patients", "visits", "complete_visits")
RATES = {  # rate name -> (numerator, denominator)
    "spec_rate": ("managed_to_spec", "under_management"),
    "bp_control_rate": ("bp_controlled", "under_management"),
    "glucose_control_rate": ("fpg_controlled", "under_management"),
    "completeness_rate": ("complete_visits", "visits"),
}


def period(year: int, quarter: int | None) -> tuple[dt.date, dt.date]:
    """First and last day of the year or of its quarter."""
    if quarter is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def visits_for_spec(quarter: int | None) -> int:
    """Face-to-face visits from 1 January that make a patient managed to the specification."""
    yearly = SETTINGS.face_to_face_visits_per_year
    return yearly if quarter is None else -(-yearly * quarter // 4)


def _scope(session: Session, actor: Actor, args: dict):
    """(team_id, center_id) filters for the request; a team or center out of scope is not found."""
    team_id, center_id = args.get("team_id"), args.get("center_id")
    if team_id is not None:
        team = require_team(session, actor, team_id)
        if center_id is not None and center_id != team.center_id:
            raise NotFound("No such team in this center.", {"team_id": ["not in this center"]})
        return team_id, team.center_id
    return report_scope(actor, center_id, lambda c_id: session.get(Center, c_id) is not None)


def indicators(session: Session, actor: Actor, args: dict) -> dict:
    """Indicator rows for every team in scope, its center(s) and, for admin, the district."""
    year, quarter = args["year"], args.get("quarter")
    start, end = period(year, quarter)
    team_id, center_id = _scope(session, actor, args)
    per_team = _per_team(session, start, end, visits_for_spec(quarter), team_id, center_id,
                         args.get("condition"))
    rows = _roll_up(session, actor, per_team, team_id, center_id, args.get("condition"))
    return {"year": year, "quarter": quarter, "period_start": start, "period_end": end,
            "visits_for_spec": visits_for_spec(quarter), "rows": rows}


def _per_team(session: Session, start: dt.date, end: dt.date, needed: int, team_id, center_id, condition,
              use_years: bool = True):
    """{(center_id, team_id, condition): counts} in one statement: the patients under management, outer-joined
    to their figures (a calendar year's from FollowUpYear unless use_years is False, else from the visits)."""
    year_start = dt.date(start.year, 1, 1)
    patients = (select(ChronicCondition.resident_id, ChronicCondition.condition, Resident.team_id,
                       Resident.center_id)
                .join(Resident, Resident.id == ChronicCondition.resident_id)
                .where(or_(ChronicCondition.diagnosed_on.is_(None), ChronicCondition.diagnosed_on <= end),
                       or_(ChronicCondition.status == "managed", ChronicCondition.status_date >= start),
                       or_(Resident.status != "moved_out", Resident.status_date >= start)))
    if team_id is not None:
        patients = patients.where(Resident.team_id == team_id)
    if center_id is not None:
        patients = patients.where(Resident.center_id == center_id)
    if condition:
        patients = patients.where(ChronicCondition.condition == condition)
    patients = patients.subquery("patients")
    # Visits are narrowed by the same team/center filter; whose visits count is settled by the outer join.
    scope = [Resident.team_id == team_id] if team_id is not None else []
    scope += [Resident.center_id == center_id] if center_id is not None else []
    if use_years and (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        per_patient = _year_figures(start.year, scope, condition)
    else:
        per_patient = _period_figures(start, end, year_start, scope, condition)
    if team_id is not None or center_id is not None:
        per_patient = per_patient.join(Resident, Resident.id == per_patient.selected_columns.resident_id)
    per_patient = per_patient.subquery("per_patient")

    def as_int(flag):
        return case((flag, 1), else_=0)

    stmt = (select(patients.c.center_id, patients.c.team_id, patients.c.condition,
                   func.count().label("under_management"),
                   func.sum(as_int(per_patient.c.face_to_face >= needed)).label("managed_to_spec"),
                   func.count(per_patient.c.bp).label("bp_measured"),
                   func.sum(as_int(per_patient.c.bp)).label("bp_controlled"),
                   func.count(per_patient.c.fpg).label("fpg_measured"),
                   func.sum(as_int(per_patient.c.fpg)).label("fpg_controlled"),
                   func.coalesce(func.sum(per_patient.c.emergencies), 0).label("emergency_visits"),
                   func.sum(as_int(per_patient.c.emergencies > 0)).label("emergency_patients"),
                   func.coalesce(func.sum(per_patient.c.visits), 0).label("visits"),
                   func.coalesce(func.sum(per_patient.c.complete), 0).label("complete_visits"))
            .select_from(patients)
            .outerjoin(per_patient, (per_patient.c.resident_id == patients.c.resident_id)
                       & (per_patient.c.condition == patients.c.condition))
            .group_by(patients.c.center_id, patients.c.team_id, patients.c.condition))
    if session.get_bind().dialect.name == "postgresql":
        # A report groups ~170,000 patients a district: let the aggregate hash in memory rather than
        # sort on disk (the default 4 MB); for this transaction only.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        # JIT compiling this plan costs ~0.3 s (measured), more than it saves on ~170,000 rows.
        session.execute(text("SET LOCAL jit = off"))
    return {(r.center_id, r.team_id, r.condition): {k: int(getattr(r, k) or 0) for k in COUNTS}
            for r in session.execute(stmt)}


def _year_figures(year: int, scope: list, condition):
    """Per patient: a calendar year's figures, read from the rows kept on every signed visit (FollowUpYear).
    Equal to _period_figures for 1 January - 31 December (tests compare both with a plain recomputation)."""
    stmt = (select(FollowUpYear.resident_id, FollowUpYear.condition, FollowUpYear.face_to_face,
                   FollowUpYear.visits, FollowUpYear.complete, FollowUpYear.emergencies,
                   FollowUpYear.bp_controlled.label("bp"), FollowUpYear.fpg_controlled.label("fpg"))
            .where(FollowUpYear.year == year, *scope))
    if condition:
        stmt = stmt.where(FollowUpYear.condition == condition)
    return stmt


def _period_figures(start: dt.date, end: dt.date, year_start: dt.date, scope: list, condition):
    """Per patient: face-to-face visits from 1 January to the period's end, the period's visits, complete
    visits, emergencies, and whether the latest BP / FPG measured in the period was controlled (null: none
    measured), in one pass over the visits from 1 January to the period's end."""
    if condition:
        scope = [*scope, FollowUp.condition == condition]
    # Not amended: NOT IN over the (few) amendments becomes one hashed lookup per visit in PostgreSQL,
    # where NOT EXISTS is planned as an index probe per visit.
    amended = select(FollowUp.amends_id).where(FollowUp.amends_id.is_not(None)).scalar_subquery()
    visit = (FollowUp.kind == VISIT) & FollowUp.id.not_in(amended)
    in_period = FollowUp.visit_date.between(start, end)
    face_to_face = FollowUp.visit_mode.in_(sorted(codes.FACE_TO_FACE_MODES))

    def latest_flag(flag):
        # The latest measured value in the period in one pass, without a window: max() over
        # "YYYY-MM-DD" + "1"/"0" picks the latest date, and its last character says controlled or not
        # (two measured visits on one day count as controlled if either was).
        key = func.max(case((in_period & flag.is_not(None),
                             cast(FollowUp.visit_date, String) + case((flag, "1"), else_="0"))))
        return case((key.is_(None), None), (func.substr(key, 11, 1) == "1", True), else_=False)

    return (select(FollowUp.resident_id, FollowUp.condition,
                   func.sum(case((face_to_face, 1), else_=0)).label("face_to_face"),
                   func.sum(case((in_period, 1), else_=0)).label("visits"),
                   func.sum(case((in_period & (FollowUp.missing_count == 0), 1), else_=0)).label("complete"),
                   func.sum(case((in_period & FollowUp.emergency, 1), else_=0)).label("emergencies"),
                   latest_flag(FollowUp.bp_controlled).label("bp"),
                   latest_flag(FollowUp.fpg_controlled).label("fpg"))
            .where(visit, FollowUp.visit_date.between(year_start, end), *scope)
            .group_by(FollowUp.resident_id, FollowUp.condition))


def _roll_up(session: Session, actor: Actor, per_team: dict, team_id, center_id, condition) -> list[dict]:
    """Team rows, then center sums, then the district sum (admin only); every team in scope gets a row."""
    teams = select(Team.id, Team.name, Team.center_id).order_by(Team.center_id, Team.id)
    if team_id is not None:
        teams = teams.where(Team.id == team_id)
    elif center_id is not None:
        teams = teams.where(Team.center_id == center_id)
    team_rows = session.execute(teams).all()
    centers = {c.id: c.name for c in session.execute(select(Center.id, Center.name))}
    conditions = [condition] if condition else list(CONDITIONS)
    rows, by_center, district = [], defaultdict(lambda: defaultdict(_zero)), defaultdict(_zero)
    for (c_id, _t_id, cond), counts in per_team.items():
        _add(by_center[c_id][cond], counts)
        _add(district[cond], counts)
    for team in team_rows:
        for cond in conditions:
            counts = per_team.get((team.center_id, team.id, cond), _zero())
            rows.append(_row("team", team.center_id, team.id, team.name, cond, counts))
    if team_id is None:
        center_ids = sorted({t.center_id for t in team_rows} | set(by_center))
        for c_id in center_ids:
            for cond in conditions:
                rows.append(_row("center", c_id, None, centers.get(c_id, ""), cond, by_center[c_id][cond]))
        if sees_whole_district(actor) and center_id is None:
            for cond in conditions:
                rows.append(_row("district", None, None, "全区", cond, district[cond]))
    return rows


def _zero() -> dict:
    return dict.fromkeys(COUNTS, 0)


def _add(total: dict, counts: dict) -> None:
    for key in COUNTS:
        total[key] += counts[key]


def _row(level: str, center_id, team_id, name: str, condition: str, counts: dict) -> dict:
    row = {"level": level, "center_id": center_id, "team_id": team_id, "name": name, "condition": condition,
           **counts}
    for rate, (num, den) in RATES.items():
        row[rate] = round(counts[num] / counts[den], 4) if counts[den] else None
    if condition != "t2dm":
        row["glucose_control_rate"] = None
    return row

