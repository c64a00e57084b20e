"""Today's worklist computed on the tablet from the store (plain Python; no Kivy, no SQL here).

The buckets are the server's (server/followups/worklist.py): emergency, referral follow-up, 2-week recheck,
overdue, due this week, not seen this year, one item per patient and condition. The bucket rule below is
an adapter: when gpcore grows its own worklist module (being moved there now) `bucket_item` should call
it, so the server and the tablet cannot disagree about who is due.

Critical lab results come first: a critical report whose call is not yet noted, or that arrived after the
patient's latest visit. The rest is in urgency, then route order (committee, address: building and unit
are in the address, so sorting by it walks a building unit by unit).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gpcore.followup import age_on

SHORT_DAYS = 14
WEEK_DAYS = 7
BUCKETS = ("emergency", "referral", "recheck", "overdue", "due_this_week", "not_seen_this_year")
URGENCY = {name: rank for rank, name in enumerate(BUCKETS)}
TROUBLE = (2, 3, 4)  # gpcore.followup.codes: UNCONTROLLED, ADVERSE_REACTION_CLASS, COMPLICATION
NO_REFERRAL = "none"


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def bucket_item(row: dict, today: dt.date) -> dict:
    """The worklist item of one status row (the store's followup_status()): buckets, urgency, age."""
    item = dict(row)
    buckets = []
    visit_date, next_date = _date(row["visit_date"]), _date(row["next_visit_date"])
    last_f2f = _date(row.get("last_face_to_face"))
    item["overdue_days"] = None
    item["referral_due_date"] = None
    if visit_date is not None:
        short = next_date is not None and (next_date - visit_date).days <= SHORT_DAYS
        referral = row.get("referral") not in (None, NO_REFERRAL)
        trouble = _int(row.get("classification")) in TROUBLE or bool(row.get("emergency")) or referral \
            or bool(row.get("referred"))
        if row.get("emergency"):
            buckets.append("emergency")
        if row.get("referred"):
            buckets.append("referral")
            item["referral_due_date"] = (visit_date + dt.timedelta(days=SHORT_DAYS)).isoformat()
        if short and trouble:
            buckets.append("recheck")
        if next_date is not None and next_date < today:
            buckets.append("overdue")
            item["overdue_days"] = (today - next_date).days
        elif next_date is not None and next_date < today + dt.timedelta(days=WEEK_DAYS):
            buckets.append("due_this_week")
    if last_f2f is None or last_f2f < dt.date(today.year, 1, 1):
        buckets.append("not_seen_this_year")
    item["buckets"] = buckets
    item["urgency"] = min((URGENCY[b] for b in buckets), default=len(BUCKETS))
    birth = _date(row.get("birth_date"))
    item["age"] = None if birth is None else age_on(birth, today)
    return item


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Worklist:
    """What the worklist screen shows: alerts on top, then items; counts per bucket."""

    today: dt.date
    alerts: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    others: list[dict] = field(default_factory=list)  # search hits not on today's list


def route_key(item: dict):
    """Urgency, then committee, then address (building, unit), then name."""
    return (item["urgency"], item.get("committee_id") or 0, item.get("address") or "", item.get("name") or "",
            item.get("condition") or "")


class WorklistBuilder:
    """Builds the worklist once from the store, then filters it as the doctor types (no re-read)."""

    def __init__(self, store, today: dt.date):
        self.store = store
        self.today = today
        items = [bucket_item(r, today) for r in store.followup_status()]
        self.items = sorted((i for i in items if i["buckets"]), key=route_key)
        self.alerts = [a for a in store.critical_reports() if self._alert(a)]
        for a in self.alerts:
            a["call_due"] = not a.get("critical_call_noted_at")

    @staticmethod
    def _alert(report: dict) -> bool:
        if not report.get("critical_call_noted_at"):
            return True
        reported = (report.get("reported_at") or report.get("changed_at") or "")[:10]
        return not report.get("last_visit") or reported > report["last_visit"]

    def build(self, q: str = "", condition: str | None = None, member_id=None, bucket: str | None = None,
              search_limit: int = 200) -> Worklist:
        """The list filtered by a search (name, pinyin initials, address, ID), condition, member, bucket."""
        items = self.items
        if condition:
            items = [i for i in items if i["condition"] == condition]
        if member_id is not None:
            items = [i for i in items if (i.get("responsible_doctor_id") or i.get("signed_by")) == member_id]
        alerts = self.alerts
        others: list[dict] = []
        if q.strip():
            hits = self.store.search_residents(q, limit=search_limit)
            ids = {h["id"] for h in hits}
            items = [i for i in items if i["resident_id"] in ids]
            alerts = [a for a in alerts if a["resident_id"] in ids]
            listed = {i["resident_id"] for i in items}
            others = [h for h in hits if h["id"] not in listed][:50]
        counts = {b: sum(b in i["buckets"] for i in items) for b in BUCKETS}
        if bucket:
            items = [i for i in items if bucket in i["buckets"]]
        return Worklist(self.today, alerts, items, counts, others)
