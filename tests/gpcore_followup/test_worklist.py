"""The worklist's buckets (gpcore/followup/worklist.py): one home for the server's list and the tablet's."""

from __future__ import annotations

from datetime import date, timedelta

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpcore.followup import codes
from gpcore.followup.worklist import BUCKETS, buckets, due_from, referral_due_date, urgency

P = pytest.param
TODAY = date(2026, 11, 22)  # the cases count days from it


def facts(visit=TODAY - timedelta(days=30), next_in=60, classification=codes.CONTROLLED, emergency=False,
          referred=False, referral=codes.NO_REFERRAL, face_to_face="visit"):
    """Latest visit facts: a controlled clinic visit 30 days ago booking the next in 60 days, unless told."""
    return {"visit_date": visit, "next_visit_date": None if next_in is None else visit + timedelta(days=next_in),
            "classification": classification, "emergency": emergency, "referred": referred,
            "referral": referral, "last_face_to_face": visit if face_to_face == "visit" else face_to_face}


NO_VISIT = {"visit_date": None, "next_visit_date": None, "classification": None, "emergency": False,
            "referred": False, "referral": None, "last_face_to_face": None}
RECENT = TODAY - timedelta(days=3)

CASES = [
    P(facts(), [], id="controlled, next visit in a month: no bucket"),
    P(NO_VISIT, ["not_seen_this_year"], id="registered, never visited: not seen this year"),
    P(facts(visit=RECENT, next_in=14, emergency=True, classification=codes.UNCONTROLLED),
      ["emergency", "recheck"], id="danger sign, booked in 2 weeks: emergency and recheck"),
    P(facts(visit=RECENT, next_in=90, referred=True), ["referral"],
      id="referred, next routine visit far away: referral only"),
    P(facts(visit=RECENT, next_in=14, referred=True, referral=codes.URGENT_REFERRAL),
      ["referral", "recheck"], id="referred, booked in 2 weeks: referral and recheck"),
    P(facts(visit=RECENT, next_in=14, classification=codes.UNCONTROLLED), ["recheck"],
      id="uncontrolled, booked within 14 days: recheck"),
    P(facts(visit=RECENT, next_in=14, classification=codes.ADVERSE_REACTION_CLASS), ["recheck"],
      id="adverse reaction, booked within 14 days: recheck"),
    P(facts(visit=RECENT, next_in=14, classification=codes.COMPLICATION), ["recheck"],
      id="complication, booked within 14 days: recheck"),
    P(facts(visit=RECENT, next_in=14, referral=codes.ROUTINE_REFERRAL), ["recheck"],
      id="referral level chosen, booked within 14 days: recheck"),
    P(facts(visit=RECENT, next_in=15, classification=codes.UNCONTROLLED), [],
      id="uncontrolled but booked in 15 days: not a short booking"),
    P(facts(visit=RECENT, next_in=14), [], id="controlled, booked within 14 days: no trouble, no recheck"),
    P(facts(visit=TODAY - timedelta(days=20), next_in=19), ["overdue"], id="booked yesterday: overdue"),
    P(facts(visit=TODAY - timedelta(days=20), next_in=20), ["due_this_week"], id="booked today: due this week"),
    P(facts(visit=TODAY - timedelta(days=20), next_in=26), ["due_this_week"],
      id="booked in 6 days: due this week"),
    P(facts(visit=TODAY - timedelta(days=20), next_in=27), [], id="booked in 7 days: not this week"),
    P(facts(visit=date(2026, 1, 1), next_in=None), [], id="seen on 1 January, nothing booked: no bucket"),
    P(facts(visit=date(2025, 12, 31), next_in=400), ["not_seen_this_year"],
      id="last seen 31 December last year: not seen this year"),
    P(facts(visit=RECENT, next_in=90, face_to_face=date(2025, 6, 1)), ["not_seen_this_year"],
      id="phone visit this year, last face to face last year: not seen this year"),
    P(facts(visit=date(2025, 10, 1), next_in=90, classification=codes.UNCONTROLLED, emergency=True,
            referred=True), ["emergency", "referral", "overdue", "not_seen_this_year"],
      id="an old emergency visit stays on every list it belongs to, in urgency order"),
]


@pytest.mark.parametrize(("latest", "expected"), CASES)
def test_buckets(latest, expected):
    assert buckets(latest, TODAY) == expected


@pytest.mark.parametrize(("latest", "expected"), CASES)
def test_due_from_is_the_first_day_with_a_bucket(latest, expected):
    """due_from(facts) <= today exactly when some bucket applies (the server's SQL relies on it)."""
    assert (due_from(latest) <= TODAY) == bool(expected)


@pytest.mark.parametrize(("names", "rank"), [
    P([], len(BUCKETS), id="no bucket: after every bucket"),
    P(["not_seen_this_year"], 5, id="not seen this year last"),
    P(["overdue", "not_seen_this_year"], 3, id="the most urgent bucket counts"),
    P(["emergency", "recheck"], 0, id="emergency first"),
])
def test_urgency(names, rank):
    assert urgency(names) == rank


def test_referral_is_due_two_weeks_after_the_visit():
    assert referral_due_date(date(2026, 11, 20)) == date(2026, 12, 4)


@given(visit=st.dates(date(2024, 1, 1), date(2026, 12, 31)), next_in=st.none() | st.integers(1, 400),
       classification=st.sampled_from(sorted(codes.VISIT_CLASSIFICATIONS)), emergency=st.booleans(),
       referred=st.booleans(), referral=st.sampled_from([None, codes.NO_REFERRAL, codes.URGENT_REFERRAL]),
       phone_only=st.booleans(), days=st.integers(0, 800))
def test_due_from_matches_buckets_on_every_day(visit, next_in, classification, emergency, referred, referral,
                                               phone_only, days):
    """Once a bucket applies it applies every later day, and due_from is the first such day."""
    latest = facts(visit=visit, next_in=next_in, classification=classification, emergency=emergency,
                   referred=referred, referral=referral, face_to_face=None if phone_only else "visit")
    day = visit + timedelta(days=days)
    assert bool(buckets(latest, day)) == (due_from(latest) <= day)


def test_due_from_reads_every_row_a_bucket_can_take():
    """due_from <= today exactly for the (facts, today) that buckets() gives a bucket: the server's SQL filter
    on due_from drops nothing and reads nothing in vain (checked over a grid of rows and days)."""
    days = [date(2025, 12, 20) + timedelta(days=n) for n in range(0, 220, 3)]
    visit_days = [date(2025, 6, 1), date(2025, 12, 30), date(2026, 2, 10)]
    count = 0
    for visit, gap, mode_f2f, cls, emergency, referral, referred in itertools.product(
            visit_days, (None, 3, 14, 15, 60, 90), (True, False), (None, 1, 2, 3, 4), (False, True),
            (None, "none", "routine", "urgent"), (False, True)):
        row = {"visit_date": visit, "next_visit_date": visit + timedelta(days=gap) if gap else None,
               "last_face_to_face": visit if mode_f2f else None, "classification": cls, "emergency": emergency,
               "referral": referral, "referred": referred}
        start = due_from(row)
        for today in days:
            names = buckets(row, today)
            assert bool(names) == (start <= today), (row, today, names, start)
            count += bool(names)
    assert count > 10_000
