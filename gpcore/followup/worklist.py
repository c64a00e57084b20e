"""The follow-up worklist's buckets: which lists a patient's latest visit puts them on, on a given day.

One home for the thresholds and bucket definitions, used by the server (the worklist endpoint and the
status rows' `due_from`) and by the tablet (the same buckets offline). Plain Python, standard library only.

The facts are the patient's latest effective visit for one condition, a mapping with these keys (None
when the patient has no visit yet; then only the last key matters):

    visit_date, next_visit_date       dates
    classification                    codes.VISIT_CLASSIFICATIONS value (None without a visit)
    emergency, referred               bools: the visit found a danger sign / filled the referral boxes
    referral                          codes.REFERRAL_LEVELS value, codes.NO_REFERRAL or None
    last_face_to_face                 the date of the latest clinic or home visit (phone visits do not count)

The buckets, in urgency order (the most urgent first):

- emergency:          the latest visit found a danger sign
- referral:           the latest visit filled the referral boxes; follow it up within 14 days of the visit
- recheck:            the latest visit booked the next one within 14 days because of an uncontrolled result, an
                      adverse reaction, a complication, a referral or an emergency (the short booking)
- overdue:            the booked next visit date has passed
- due_this_week:      the booked next visit falls in the 7 days from today
- not_seen_this_year: no face-to-face visit since 1 January

Typical use:

    names = buckets(facts, today)            # [] when the patient needs no visit today
    rank = urgency(names)                    # for sorting: 0 is the most urgent
    first = due_from(facts)                  # the first day `buckets` is not empty
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from ..route import route_key
from . import codes

SHORT_DAYS = 14  # "within 2 weeks": the recheck booking and the referral follow-up
WEEK_DAYS = 7  # due_this_week: a booked visit in the 7 days from today
BUCKETS = ("emergency", "referral", "recheck", "overdue", "due_this_week", "not_seen_this_year")
URGENCY = {name: rank for rank, name in enumerate(BUCKETS)}
TROUBLE = (codes.UNCONTROLLED, codes.ADVERSE_REACTION_CLASS, codes.COMPLICATION)


def buckets(latest: Mapping, today: dt.date) -> list[str]:
    """The buckets (BUCKETS names, in urgency order) the latest visit facts put the patient in on `today`."""
    names = []
    visit_date, next_date = latest["visit_date"], latest["next_visit_date"]
    if visit_date is not None:
        if latest["emergency"]:
            names.append("emergency")
        if latest["referred"]:
            names.append("referral")
        trouble = _trouble(latest) or latest["emergency"] or latest["referred"]
        if trouble and _short_booking(visit_date, next_date):
            names.append("recheck")
        if next_date is not None and next_date < today:
            names.append("overdue")
        elif next_date is not None and next_date < today + dt.timedelta(days=WEEK_DAYS):
            names.append("due_this_week")
    last_seen = latest["last_face_to_face"]
    if last_seen is None or last_seen < dt.date(today.year, 1, 1):
        names.append("not_seen_this_year")
    return names


def due_from(latest: Mapping) -> dt.date:
    """The first day `buckets` gives these facts a bucket; date.min when they have one whatever the day.

    Every bucket, once it applies, applies on every later day until the next visit replaces the facts, so
    `due_from(facts) <= today` holds exactly when `buckets(facts, today)` is not empty (the server keeps
    it on each status row so its SQL reads only those rows)."""
    visit_date, next_date = latest["visit_date"], latest["next_visit_date"]
    if latest["last_face_to_face"] is None or latest["emergency"] or latest["referred"]:
        return dt.date.min  # not seen face to face yet, emergency, referral
    if _short_booking(visit_date, next_date) and _trouble(latest):
        return dt.date.min  # recheck
    # not_seen_this_year from the 1 January after the last face-to-face visit.
    days = [dt.date(latest["last_face_to_face"].year + 1, 1, 1)]
    if next_date is not None:
        # due_this_week (next < today + 7) and then overdue (next < today).
        days.append(next_date - dt.timedelta(days=WEEK_DAYS - 1))
    return min(days)


def urgency(names: Sequence[str]) -> int:
    """The rank of the most urgent bucket (0 = emergency); len(BUCKETS) when there is none."""
    return min((URGENCY[name] for name in names), default=len(BUCKETS))


def referral_due_date(visit_date: dt.date) -> dt.date:
    """The day by which a referral made at a visit on `visit_date` should have been followed up."""
    return visit_date + dt.timedelta(days=SHORT_DAYS)


def _short_booking(visit_date: dt.date | None, next_date: dt.date | None) -> bool:
    """The visit booked the next one within SHORT_DAYS (gpcore's "within 2 weeks" after trouble)."""
    return visit_date is not None and next_date is not None and (next_date - visit_date).days <= SHORT_DAYS


def _trouble(latest: Mapping) -> bool:
    """An uncontrolled result, adverse reaction or complication, or a referral level was chosen."""
    return latest["classification"] in TROUBLE or latest["referral"] not in (None, codes.NO_REFERRAL)


def order_key(urgency_rank: int, committee, address, name, condition) -> tuple:
    """The worklist's order: the most urgent first, then walking-route order (gpcore.route: committee,
    then building, unit and door as numbers), then name and condition."""
    return (urgency_rank, *route_key(committee, address), name or "", condition or "")
