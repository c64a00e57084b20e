"""The loop's metrics per specialty, hospital, center or team, over the cases sent in a period, and their
XLSX export. The rules are gpcore/referral/metrics.py. The database counts them (rules.Tally) from the facts
services.act stamps on each case (migration r401), and only the cases in the middle of each group's times
to first response come back, for the median: a district's 3 years (110,000 cases) in one index-only scan
on PostgreSQL, without reading threads, JSON forms or visits (bench/bench_referrals.py).
metrics_from_thread() is the way before r401, case by case; tests and the bench hold the two equal."""
from __future__ import annotations

import datetime as dt

from openpyxl import Workbook
from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from gpcore.referral import metrics as rules

from ..errors import field_error
from ..followups.export import finished, xlsx_row
from ..followups.models import FollowUp
from ..labs.alerts import china_date
from ..org.models import Center, Hospital, Team
from ..scope import Actor, referral_metrics_visible
from .deadlines import response_days
from .models import Referral, ReferralMessage

GROUPS = {"specialty": ("专科", Referral.department), "hospital": ("医院", Hospital.name),
          "center": ("中心", Center.name), "team": ("团队", Team.name)}
DEFAULT_DAYS = 90  # the period when none is asked: the last 90 days of sending
MAX_DAYS = 3 * 366


def period(args: dict, today: dt.date) -> tuple[dt.date, dt.date]:
    """(date_from, date_to) of the cases sent in the period asked, by default the last 90 days."""
    date_to = args.get("date_to") or today
    date_from = args.get("date_from") or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise field_error("date_from", "must not be after date_to", "开始日期不能晚于结束日期。")
    if (date_to - date_from).days >= MAX_DAYS:
        raise field_error("date_from", "the period may span at most 3 years", "统计期最长 3 年。")
    return date_from, date_to


def _in_period(actor: Actor, date_from: dt.date, date_to: dt.date):
    return and_(referral_metrics_visible(actor, Referral), Referral.sent_on.between(date_from, date_to))


def _grouped(stmt, by: str):
    """stmt with the group's name (joined only for the group asked)."""
    name = GROUPS[by][1]
    table = {"hospital": (Hospital, Hospital.id == Referral.hospital_id),
             "center": (Center, Center.id == Referral.center_id), "team": (Team, Team.id == Referral.team_id)}
    stmt = stmt.add_columns(name.label("name"))
    return stmt.join(*table[by]) if by in table else stmt


def _tally_query(actor: Actor, by: str, date_from: dt.date, date_to: dt.date, today: dt.date):
    """Per group, the counts gpcore's rules make of each case (judge()), in SQL over the stamped columns."""
    r = Referral

    def count_if(*conditions):
        return func.sum(case((and_(*conditions), 1), else_=0))

    responded = r.first_response_at.is_not(None)
    answered, due = and_(r.outcome.is_not(None), r.follow_up_due.is_not(None)), r.follow_up_due
    # One column per field of rules.Tally, each the SQL of the rule named (gpcore/referral/metrics.py).
    stmt = select(func.count(),                                                       # cases
                  count_if(r.state.not_in(rules.ENDED)),                              # open
                  count_if(r.state == "requested", r.response_due < today),           # is_overdue
                  func.count(r.escalated_at),                                         # escalated
                  count_if(responded, china_date(r.first_response_at) <= r.response_due),  # answered_in_time
                  count_if(or_(responded, and_(r.state != "cancelled", r.response_due < today))),  # ... judged
                  count_if(r.outcome == rules.ADVICE_ONLY),                           # settled_without_visit
                  func.count(r.outcome),                                              # ... judged
                  count_if(answered, r.followed_up_on <= due),                        # loop_closed
                  count_if(answered, or_(r.followed_up_on.is_not(None), due < today)),  # ... judged
                  func.count(r.returned_at))                                          # down-referrals
    stmt = _grouped(stmt.where(_in_period(actor, date_from, date_to)), by)
    return stmt.group_by(GROUPS[by][1])


class _elapsed(FunctionElement):
    """later - earlier of two UTC timestamp columns, exactly (to the microsecond), for ORDER BY."""

    inherit_cache = True


@compiles(_elapsed)
def _elapsed_sqlite(element, compiler, **kw):
    # SQLite keeps them as text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); julianday() would round to milliseconds.
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return (f"((strftime('%s', {later}) - strftime('%s', {earlier})) * 1000000"
            f" + (CAST(substr({later}, 21, 6) AS INTEGER) - CAST(substr({earlier}, 21, 6) AS INTEGER)))")


@compiles(_elapsed, "postgresql")
def _elapsed_pg(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"  # an interval: compared exactly


def _middle_query(actor: Actor, by: str, date_from: dt.date, date_to: dt.date, postgres: bool = False):
    """The cases in the middle of each group's (and of all the) responded cases, in order of the time to
    their first response: median() needs only those (gpcore.referral.metrics.middle)."""
    r = Referral
    # Ties need no order of their own: the same time to first response is the same hours. (The case's id
    # here took PostgreSQL off its index-only scan: id is not among the index's columns.)
    order = _elapsed(r.first_response_at, r.created_at)
    ranked = _grouped(select(r.created_at, r.first_response_at), by).where(
        _in_period(actor, date_from, date_to), r.first_response_at.is_not(None))
    # PostgreSQL sorts the names bytewise ("C"): the same groups (its collations here are deterministic), and
    # the sort of a district's 3 years by team name took 1.2 s of the query's 3.5 s with the locale's rules.
    group = GROUPS[by][1].collate("C") if postgres else GROUPS[by][1]
    ranked = ranked.add_columns(func.row_number().over(partition_by=group, order_by=order).label("rank"),
                                func.count().over(partition_by=group).label("n"),
                                func.row_number().over(order_by=order).label("rank_all"),
                                func.count().over().label("n_all")).subquery()
    c = ranked.c

    def in_middle(rank, n):
        return or_(rank == (n + 1) // 2, rank == n // 2 + 1)

    return (select(c.name, c.created_at, c.first_response_at, in_middle(c.rank, c.n), in_middle(c.rank_all, c.n_all))
            .where(or_(in_middle(c.rank, c.n), in_middle(c.rank_all, c.n_all))).order_by(c.rank_all))


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    # A correlated min() or a window's column comes back without the column type's conversion on SQLite:
    # naive (or text), stored as UTC.
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def _hours(sent_at, first) -> float:
    return rules.hours_to_first_response(rules.CaseFacts("answered", _as_utc(sent_at), dt.date.min, _as_utc(first)))


def metrics(session: Session, actor: Actor, args: dict, today: dt.date) -> dict:
    """Metrics per group (args: by, date_from, date_to) over the cases in the actor's metrics scope: counted by
    the database from the facts stamped on each case, the medians from the middle cases only."""
    by = args.get("by") or "specialty"
    date_from, date_to = period(args, today)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # The medians' window sorts take up to 110,000 rows: in memory, not on disk (the default 4 MB); and
        # no JIT, which costs more to compile than it saves on these plans (as followups/indicators.py).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
    tallies = {row[-1]: rules.Tally(*row[:-1]) for row in session.execute(
        _tally_query(actor, by, date_from, date_to, today))}
    middles: dict[str, list[float]] = {name: [] for name in tallies}
    middle_all = []
    for name, sent_at, first, group_middle, all_middle in session.execute(
            _middle_query(actor, by, date_from, date_to, postgres)):
        hours = _hours(sent_at, first)
        if group_middle:
            middles[name].append(hours)
        if all_middle:
            middle_all.append(hours)
    total = rules.Tally(*(sum(column) for column in zip(*tallies.values()))) if tallies else rules.Tally(*[0] * 11)
    return _report(by, date_from, date_to, today, rules.totals(total, middle_all),
                   [{"name": name, **rules.totals(tallies[name], sorted(middles[name]))} for name in sorted(tallies)])


def _report(by, date_from, date_to, today, total: dict, rows: list[dict]) -> dict:
    return {"by": by, "date_from": date_from, "date_to": date_to, "today": today,
            "response_days": response_days(), "total": total, "rows": rows}


def metrics_from_thread(session: Session, actor: Actor, args: dict, today: dt.date) -> dict:
    """The same metrics the way they were computed before migration r401: each case's facts read from its
    thread, its answer, its return form and its closing visit, and judged one by one by gpcore's rules.
    Slow (seconds for a district's 3 years); kept as the reference the stamped columns must agree with
    (tests/server_referrals/test_metrics_paths.py, bench/bench_referrals.py)."""
    by = args.get("by") or "specialty"
    date_from, date_to = period(args, today)
    first_response = (select(func.min(ReferralMessage.at))
                      .where(ReferralMessage.referral_id == Referral.id,
                             ReferralMessage.kind.in_(rules.RESPONSES))
                      .correlate(Referral).scalar_subquery())
    query = _grouped(select(Referral.state, Referral.created_at, Referral.response_due, first_response,
                            Referral.answer["outcome"].as_string(),
                            Referral.return_form["diagnosis"].as_string().is_not(None), Referral.follow_up_due,
                            FollowUp.visit_date, Referral.escalated_at.is_not(None))
                     .outerjoin(FollowUp, FollowUp.id == Referral.closing_followup_id)
                     .where(_in_period(actor, date_from, date_to)), by)
    rows = [(name, rules.CaseFacts(state, _as_utc(sent_at), due, _as_utc(first), outcome, bool(returned),
                                   follow_up_due, visited, bool(escalated)))
            for (state, sent_at, due, first, outcome, returned, follow_up_due, visited, escalated, name)
            in session.execute(query)]
    total, groups = rules.report(rows, today)
    return _report(by, date_from, date_to, today, total, groups)


# --- XLSX -----------------------------------------------------------------------------------------

COLUMNS = (("name", None), ("cases", "转诊数"), ("open", "未结案"), ("overdue", "超时未响应"),
           ("escalated", "已上报"), ("median_hours_to_first_response", "首次响应时间中位数（小时）"),
           ("answered_in_time", "按时响应率"), ("settled_without_visit", "无需到院率"),
           ("closed_loop", "两周内随访闭环率"), ("down_referrals", "下转（回转）数"))
SHARES = {"answered_in_time", "settled_without_visit", "closed_loop"}


def _cells(row: dict) -> list:
    values = []
    for key, _ in COLUMNS:
        value = row[key]
        if key in SHARES:
            value = value["rate"]
        elif key == "median_hours_to_first_response" and value is not None:
            value = round(value, 1)
        values.append(value)
    return values


def to_xlsx(report: dict) -> bytes:
    """The metrics as one sheet: a title line, a header, one row per group and the total; rates as %."""
    book = Workbook()
    sheet = book.active
    sheet.title = "转诊闭环指标"
    group_label = GROUPS[report["by"]][0]
    sheet.append([f"双向转诊闭环指标（按{group_label}，转出日期 {report['date_from']} 至 {report['date_to']}）"])
    sheet.append([header or group_label for _, header in COLUMNS])
    for row in report["rows"]:
        xlsx_row(sheet, _cells(row))
    xlsx_row(sheet, _cells({**report["total"], "name": "合计"}))
    return finished(book, [(key, header or group_label) for key, header in COLUMNS], SHARES, 12)
