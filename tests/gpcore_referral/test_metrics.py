"""The referral metrics and the escalation rule, table by table (gpcore/referral/metrics.py, escalation.py)."""
import datetime as dt

import pytest

from gpcore.referral import Case
from gpcore.referral.escalation import TO_CENTER, TO_POOL, escalated_case, escalation
from gpcore.referral.metrics import (CaseFacts, answered_in_time, by_group, hours_to_first_response, is_overdue,
                                     loop_closed, settled_without_visit, summarize)

UTC = dt.timezone.utc
SENT = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in China
TODAY = dt.date(2026, 3, 10)
D = dt.date


def facts(**kw):
    base = {"state": "requested", "sent_at": SENT, "response_due": D(2026, 3, 5)}
    return CaseFacts(**{**base, **kw})


@pytest.mark.parametrize("first, expected", [
    (None, None),
    (SENT, 0.0),
    (SENT + dt.timedelta(hours=26, minutes=30), 26.5),
    (SENT - dt.timedelta(minutes=5), 0.0),  # clocks a little apart never give a negative time
])
def test_hours_to_first_response(first, expected):
    assert hours_to_first_response(facts(first_response_at=first)) == expected


@pytest.mark.parametrize("state, due, first, today, expected", [
    ("accepted", D(2026, 3, 5), dt.datetime(2026, 3, 5, 15, 59, tzinfo=UTC), TODAY, True),   # 23:59 in China
    ("accepted", D(2026, 3, 5), dt.datetime(2026, 3, 5, 16, 0, tzinfo=UTC), TODAY, False),   # 00:00 next day
    ("declined", D(2026, 3, 5), dt.datetime(2026, 3, 3, 2, 0, tzinfo=UTC), TODAY, True),
    ("requested", D(2026, 3, 5), None, D(2026, 3, 5), None),   # due today: not late yet
    ("requested", D(2026, 3, 5), None, D(2026, 3, 6), False),  # past due, still waiting
    ("cancelled", D(2026, 3, 5), None, TODAY, None),           # withdrawn before a response
    ("info_requested", D(2026, 3, 5), dt.datetime(2026, 3, 4, tzinfo=UTC), TODAY, True),
])
def test_answered_in_time(state, due, first, today, expected):
    assert answered_in_time(facts(state=state, response_due=due, first_response_at=first), today) is expected


@pytest.mark.parametrize("state, due, today, expected", [
    ("requested", D(2026, 3, 5), D(2026, 3, 6), True),
    ("requested", D(2026, 3, 5), D(2026, 3, 5), False),
    ("accepted", D(2026, 3, 5), D(2026, 3, 9), False),
    ("info_requested", D(2026, 3, 5), D(2026, 3, 9), False),  # waiting for the team, not the specialist
])
def test_overdue(state, due, today, expected):
    assert is_overdue(facts(state=state, response_due=due), today) is expected


@pytest.mark.parametrize("outcome, expected", [(None, None), ("advice", True), ("clinic", False), ("admit", False)])
def test_settled_without_visit(outcome, expected):
    assert settled_without_visit(facts(outcome=outcome)) is expected


@pytest.mark.parametrize("outcome, due, visit, today, expected", [
    (None, None, None, TODAY, None),                        # not answered
    ("advice", D(2026, 3, 20), None, TODAY, None),          # inside its 2 weeks
    ("advice", D(2026, 3, 20), D(2026, 3, 12), TODAY, True),
    ("clinic", D(2026, 3, 20), D(2026, 3, 20), D(2026, 4, 1), True),  # on the last day
    ("clinic", D(2026, 3, 20), D(2026, 3, 21), D(2026, 4, 1), False),  # a day late
    ("admit", D(2026, 3, 9), None, TODAY, False),           # 2 weeks over, no follow-up
])
def test_loop_closed(outcome, due, visit, today, expected):
    assert loop_closed(facts(outcome=outcome, follow_up_due=due, followed_up_on=visit), today) is expected


def test_summarize_counts_each_metric_over_its_own_denominator():
    cases = [
        facts(state="closed", first_response_at=SENT + dt.timedelta(hours=2), outcome="advice",
              follow_up_due=D(2026, 3, 8), followed_up_on=D(2026, 3, 7)),
        facts(state="returned", first_response_at=SENT + dt.timedelta(hours=30), outcome="admit", returned=True,
              follow_up_due=D(2026, 3, 9)),
        facts(state="requested", response_due=D(2026, 3, 4), escalated=True),  # overdue, late
        facts(state="requested", response_due=D(2026, 3, 12)),                 # not yet due
        facts(state="cancelled"),
    ]
    got = summarize(cases, TODAY)
    assert got == {
        "cases": 5, "open": 3, "overdue": 1, "escalated": 1, "median_hours_to_first_response": 16.0,
        "answered_in_time": {"n": 2, "of": 3, "rate": 2 / 3},
        "settled_without_visit": {"n": 1, "of": 2, "rate": 0.5},
        "closed_loop": {"n": 1, "of": 2, "rate": 0.5},
        "down_referrals": 1,
    }


def test_summarize_of_nothing_has_no_rates():
    got = summarize([], TODAY)
    assert got["cases"] == 0 and got["median_hours_to_first_response"] is None
    assert got["answered_in_time"] == {"n": 0, "of": 0, "rate": None}


def test_by_group_keeps_groups_apart():
    rows = [("心内科", facts(outcome="advice")), ("内分泌科", facts(outcome="clinic")), ("心内科", facts())]
    got = by_group(rows, TODAY)
    assert [(g["name"], g["cases"], g["settled_without_visit"]["n"]) for g in got] == [
        ("内分泌科", 1, 0), ("心内科", 2, 1)]


NAMED = Case("requested", 1, 7, "心内科", specialist_id=42)
POOL = Case("requested", 1, 7, "心内科")


@pytest.mark.parametrize("case, due, today, escalated, expected", [
    (NAMED, D(2026, 3, 5), D(2026, 3, 6), False, TO_POOL),
    (POOL, D(2026, 3, 5), D(2026, 3, 6), False, TO_CENTER),
    (NAMED, D(2026, 3, 5), D(2026, 3, 5), False, None),             # due today
    (NAMED, D(2026, 3, 5), D(2026, 3, 6), True, None),              # once only
    (Case("accepted", 1, 7, "心内科", 42, 42), D(2026, 3, 5), D(2026, 3, 9), False, None),  # responded
    (Case("info_requested", 1, 7, "心内科", 42), D(2026, 3, 5), D(2026, 3, 9), False, None),
])
def test_escalation(case, due, today, escalated, expected):
    assert escalation(case, due, today, escalated) == expected


def test_escalated_case_goes_to_the_pool_or_stays():
    assert escalated_case(NAMED, TO_POOL) == POOL
    assert escalated_case(POOL, TO_CENTER) == POOL
