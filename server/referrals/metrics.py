"""The loop's metrics per specialty, hospital, center or team, over the cases sent in a period, and their
XLSX export. The rules are gpcore/referral/metrics.py; here the stored cases become its CaseFacts."""
from __future__ import annotations

import datetime as dt

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpcore.referral import metrics as rules

from ..errors import field_error
from ..followups.export import finished, xlsx_row
from ..followups.models import FollowUp
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


def _facts_query(actor: Actor, by: str, date_from: dt.date, date_to: dt.date):
    first_response = (select(func.min(ReferralMessage.at))
                      .where(ReferralMessage.referral_id == Referral.id,
                             ReferralMessage.kind.in_(rules.RESPONSES))
                      .correlate(Referral).scalar_subquery())
    return (select(GROUPS[by][1], Referral.state, Referral.created_at, Referral.response_due, first_response,
                   Referral.answer["outcome"].as_string(), Referral.return_form["diagnosis"].as_string().is_not(None),
                   Referral.follow_up_due, FollowUp.visit_date, Referral.escalated_at.is_not(None))
            .join(Hospital, Hospital.id == Referral.hospital_id)
            .join(Center, Center.id == Referral.center_id)
            .join(Team, Team.id == Referral.team_id)
            .outerjoin(FollowUp, FollowUp.id == Referral.closing_followup_id)
            .where(referral_metrics_visible(actor, Referral), Referral.sent_on.between(date_from, date_to)))


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    # A correlated min() comes back without the column type's conversion: naive on SQLite, stored as UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def metrics(session: Session, actor: Actor, args: dict, today: dt.date) -> dict:
    """Metrics per group (args: by, date_from, date_to) over the cases in the actor's metrics scope."""
    by = args.get("by") or "specialty"
    date_from, date_to = period(args, today)
    rows = [(name, rules.CaseFacts(state, _as_utc(sent_at), due, _as_utc(first), outcome, bool(returned),
                                   follow_up_due, visited, bool(escalated)))
            for (name, state, sent_at, due, first, outcome, returned, follow_up_due, visited, escalated)
            in session.execute(_facts_query(actor, by, date_from, date_to))]
    total, groups = rules.report(rows, today)
    return {"by": by, "date_from": date_from, "date_to": date_to, "today": today,
            "response_days": response_days(), "total": total, "rows": groups}


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
