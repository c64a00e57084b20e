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
from statistics import median
from typing import NamedTuple

from ..clock import china_date

RESPONSES = frozenset({"accept", "decline", "ask_info", "answer"})
ADVICE_ONLY = "advice"
ENDED = frozenset({"declined", "closed", "cancelled"})


class CaseFacts(NamedTuple):
    """What the metrics need of one referral (a tuple: a district's 100,000 cases are built in a blink)."""

    state: str
    sent_at: dt.datetime                     # when the team sent it (aware)
    response_due: dt.date
    first_response_at: dt.datetime | None = None
    outcome: str | None = None              # the answer's outcome: advice | clinic | admit
    returned: bool = False                  # a return form was written
    follow_up_due: dt.date | None = None
    followed_up_on: dt.date | None = None   # the date of the visit the team closed the case with
    escalated: bool = False


class Judged(NamedTuple):
    """One case judged by every rule once (None: not judged by that rule yet)."""

    open: bool
    overdue: bool
    escalated: bool
    hours: float | None
    in_time: bool | None
    settled: bool | None
    closed_loop: bool | None
    returned: bool


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


def judge(case: CaseFacts, today: dt.date) -> Judged:
    """Every rule above, applied to one case."""
    return Judged(case.state not in ENDED, is_overdue(case, today), case.escalated, hours_to_first_response(case),
                  answered_in_time(case, today), settled_without_visit(case), loop_closed(case, today),
                  case.returned)


class Tally(NamedTuple):
    """A group's counts under the rules above: what a database can count for judge() without Python seeing
    each case (the server's metrics do; tests check both ways agree). *_of: the cases the rule judged."""

    cases: int
    open: int
    overdue: int
    escalated: int
    in_time: int
    in_time_of: int
    settled: int
    settled_of: int
    closed_loop: int
    closed_loop_of: int
    returned: int


def _share(yes: int, judged: int) -> dict:
    return {"n": yes, "of": judged, "rate": yes / judged if judged else None}


def middle(ordered: list[float]) -> list[float]:
    """The values median() needs of a sorted list: the middle one, or the two middle ones."""
    n = len(ordered)
    return ordered[(n - 1) // 2:n // 2 + 1]


def totals(tally: Tally, middle_hours: list[float]) -> dict:
    """The metrics of a group from its counts and the middle of its sorted hours to first response."""
    return {
        "cases": tally.cases,
        "open": tally.open,
        "overdue": tally.overdue,
        "escalated": tally.escalated,
        "median_hours_to_first_response": median(middle_hours) if middle_hours else None,
        "answered_in_time": _share(tally.in_time, tally.in_time_of),
        "settled_without_visit": _share(tally.settled, tally.settled_of),
        "closed_loop": _share(tally.closed_loop, tally.closed_loop_of),
        "down_referrals": tally.returned,
    }


def _count(values: Iterable[bool | None]) -> tuple[int, int]:
    judged = [v for v in values if v is not None]
    return sum(judged), len(judged)


def _totals(judged: list[Judged]) -> dict:
    hours = sorted(j.hours for j in judged if j.hours is not None)
    tally = Tally(len(judged), sum(j.open for j in judged), sum(j.overdue for j in judged),
                  sum(j.escalated for j in judged), *_count(j.in_time for j in judged),
                  *_count(j.settled for j in judged), *_count(j.closed_loop for j in judged),
                  sum(j.returned for j in judged))
    return totals(tally, middle(hours))


def summarize(cases: Iterable[CaseFacts], today: dt.date) -> dict:
    """The metrics of a group of cases (see the module docstring for each definition)."""
    return _totals([judge(c, today) for c in cases])


def report(rows: Iterable[tuple[str, CaseFacts]], today: dt.date,
           order: Callable[[str], object] | None = None) -> tuple[dict, list[dict]]:
    """(the metrics of all the cases, the metrics per group name in name order or `order`); each case is
    judged once."""
    groups: dict[str, list[Judged]] = {}
    everything = []
    for name, case in rows:
        judged = judge(case, today)
        everything.append(judged)
        groups.setdefault(name, []).append(judged)
    return _totals(everything), [{"name": name, **_totals(groups[name])} for name in sorted(groups, key=order)]


def by_group(rows: Iterable[tuple[str, CaseFacts]], today: dt.date,
             order: Callable[[str], object] | None = None) -> list[dict]:
    """summarize() per group name, groups in name order (or `order`)."""
    return report(rows, today, order)[1]
