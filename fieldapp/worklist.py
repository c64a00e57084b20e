"""Today's worklist computed on the tablet from the store (plain Python; no Kivy, no SQL here).

The buckets (emergency, referral follow-up, 2-week recheck, overdue, due this week, not seen this year)
are gpcore.followup.worklist's, the same rules the server's worklist runs, one item per patient and
condition. Critical lab results come first: a critical report whose call is not yet noted, or that
arrived after the patient's latest visit. The rest is in urgency, then route order (committee, address:
building and unit are in the address, so sorting by it walks a building unit by unit).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gpcore.clock import china_wall_time
from gpcore.followup import age_on
from gpcore.followup import worklist as rules
from gpcore.referral import prefill as referral_rules

BUCKETS = rules.BUCKETS


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def bucket_item(row: dict, today: dt.date) -> dict:
    """The worklist item of one status row (the store's followup_status()): buckets, urgency, age."""
    item = dict(row)
    visit_date = _date(row["visit_date"])
    classification = row.get("classification")
    facts = {"visit_date": visit_date, "next_visit_date": _date(row["next_visit_date"]),
             "classification": int(classification) if classification is not None else None,
             "emergency": bool(row.get("emergency")), "referred": bool(row.get("referred")),
             "referral": row.get("referral"), "last_face_to_face": _date(row.get("last_face_to_face"))}
    names = rules.buckets(facts, today)
    item["buckets"] = names
    item["urgency"] = rules.urgency(names)
    item["overdue_days"] = (today - facts["next_visit_date"]).days if "overdue" in names else None
    item["referral_due_date"] = rules.referral_due_date(visit_date).isoformat() if "referral" in names else None
    birth = _date(row.get("birth_date"))
    item["age"] = None if birth is None else age_on(birth, today)
    return item


@dataclass
class Worklist:
    """What the worklist screen shows: alerts on top, then items; counts per bucket."""

    today: dt.date
    alerts: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    others: list[dict] = field(default_factory=list)  # search hits not on today's list


def route_key(item: dict):
    """Urgency, then walking-route order (committee, building, unit, door as numbers), then name: gpcore's
    order_key, the server's worklist order too."""
    return rules.order_key(item["urgency"], item.get("committee_id"), item.get("address"), item.get("name"),
                           item.get("condition"))


class WorklistBuilder:
    """Builds the worklist once from the store, then filters it as the doctor types (no re-read)."""

    def __init__(self, store, today: dt.date):
        self.store = store
        self.today = today
        items = [bucket_item(r, today) for r in store.followup_status()]
        self.items = sorted((i for i in items if i["buckets"]), key=route_key)
        self._offer_referrals(self.items)
        self.alerts = [a for a in store.critical_reports() if self._alert(a)]
        for a in self.alerts:
            a["call_due"] = not a.get("critical_call_noted_at")

    def _offer_referrals(self, items: list[dict]) -> None:
        """A referral the rules asked for at an item's latest visit and not sent since: the item's
        `referral_offer` (urgency, visit, reason), by gpcore's rules as the server's worklist offers it."""
        asking = [i for i in items if referral_rules.asks_for_referral(i)]
        cases: dict[str, list] = {}
        # A case the server refused answers the offer too: it waits on the sync screen to be fixed.
        for case in (self.store.referrals() + self.store.refused_referrals()) if asking else ():
            cases.setdefault(case["resident_id"], []).append(case)
        for item in items:
            item["referral_offer"] = None
        for item in asking:
            visits = [v for v in self.store.visits(item["resident_id"], item["condition"])
                      if (v.get("kind") or "visit") == "visit"][:2]
            offer = referral_rules.asked_by_the_rules(visits, item.get("birth_date"))
            if referral_rules.still_asked(offer, cases.get(item["resident_id"], [])):
                item["referral_offer"] = offer

    @staticmethod
    def _alert(report: dict) -> bool:
        """A critical report heads the worklist while its call is not noted, or when it reached the team on
        or after the day of the resident's last visit (a result of that day's blood, a correction since), as
        the server's lab alerts (server/labs/alerts.py new_since_visit): its arrival's day in China."""
        if not report.get("critical_call_noted_at"):
            return True
        arrived = china_wall_time(report.get("changed_at") or report.get("reported_at"))
        return not report.get("last_visit") or (arrived is not None
                                                and arrived.date().isoformat() >= report["last_visit"])

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
