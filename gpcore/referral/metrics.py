"""How well the referral loop works, from the facts of each case: plain rules, no database.

Definitions (one home for each; the server feeds stored cases in, the tests feed tables):

- first response: the specialist's first accept (claim), decline, question or answer -- the event the
  response deadline (deadlines.py) is about. Handing a case to the pool is not a response.
- answered in time: the first response fell on or before the case's response_due (China's calendar day).
  A case still waiting counts as late once its deadline has passed and is left out before; a case the team
  cancelled before any response is left out.
- settled without a visit: of the answered cases, those answered "advice only" (no clinic, no admission).
- closed loop: of the answered cases whose 2 weeks are over (or that the team already closed), those the
  team followed up on or before follow_up_due (answer or return + 2 weeks) -- with a visit linked on close.
- down-referrals: cases the hospital sent back with a return form (回转单).
- overdue: waiting for the first response (requested) past its deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import median

from ..clock import china_date

RESPONSES = frozenset({"accept", "decline", "ask_info", "answer"})
ADVICE_ONLY = "advice"


@dataclass(frozen=True)
class CaseFacts:
    """What the metrics need of one referral."""

    state: str
    sent_at: dt.datetime                     # when the team sent it (aware)
    response_due: dt.date
    first_response_at: dt.datetime | None = None
    outcome: str | None = None              # the answer's outcome: advice | clinic | admit
    returned: bool = False                  # a return form was written
    follow_up_due: dt.date | None = None
    followed_up_on: dt.date | None = None   # the date of the visit the team closed the case with
    escalated: bool = False


def hours_to_first_response(case: CaseFacts) -> float | None:
    """Hours from sending to the first response; None while there is none."""
    if case.first_response_at is None:
        return None
    return max(0.0, (case.first_response_at - case.sent_at).total_seconds() / 3600)


def answered_in_time(case: CaseFacts, today: dt.date) -> bool | None:
    """Whether the first response met the deadline; None when it cannot be judged yet (or was cancelled)."""
    if case.first_response_at is not None:
        return china_date(case.first_response_at) <= case.response_due
    if case.state == "cancelled" or case.response_due >= today:
        return None
    return False


def is_overdue(case: CaseFacts, today: dt.date) -> bool:
    """Waiting for the specialist's first response past its deadline."""
    return case.state == "requested" and case.response_due < today


def settled_without_visit(case: CaseFacts) -> bool | None:
    """Advice only (no clinic, no admission); None for a case not answered."""
    return None if case.outcome is None else case.outcome == ADVICE_ONLY


def loop_closed(case: CaseFacts, today: dt.date) -> bool | None:
    """Followed up by the team within 2 weeks of the answer (or return); None while still inside them."""
    if case.outcome is None or case.follow_up_due is None:
        return None
    if case.followed_up_on is not None:
        return case.followed_up_on <= case.follow_up_due
    return False if case.follow_up_due < today else None


def _share(values: Iterable[bool | None]) -> dict:
    judged = [v for v in values if v is not None]
    yes = sum(judged)
    return {"n": yes, "of": len(judged), "rate": yes / len(judged) if judged else None}


def summarize(cases: Iterable[CaseFacts], today: dt.date) -> dict:
    """The metrics of a group of cases (see the module docstring for each definition)."""
    cases = list(cases)
    hours = [h for h in map(hours_to_first_response, cases) if h is not None]
    return {
        "cases": len(cases),
        "open": sum(c.state not in ("declined", "closed", "cancelled") for c in cases),
        "overdue": sum(is_overdue(c, today) for c in cases),
        "escalated": sum(c.escalated for c in cases),
        "median_hours_to_first_response": median(hours) if hours else None,
        "answered_in_time": _share(answered_in_time(c, today) for c in cases),
        "settled_without_visit": _share(map(settled_without_visit, cases)),
        "closed_loop": _share(loop_closed(c, today) for c in cases),
        "down_referrals": sum(c.returned for c in cases),
    }


def by_group(rows: Iterable[tuple[str, CaseFacts]], today: dt.date,
             order: Callable[[str], object] | None = None) -> list[dict]:
    """summarize() per group name, groups in name order (or `order`)."""
    groups: dict[str, list[CaseFacts]] = {}
    for name, case in rows:
        groups.setdefault(name, []).append(case)
    return [{"name": name, **summarize(groups[name], today)} for name in sorted(groups, key=order)]
