"""Next-visit dates: "within 2 weeks" after trouble, otherwise quarterly, >= 4 face-to-face visits a year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gpcore.followup import (
    RuleSettings,
    assess_hypertension_visit,
    next_routine_visit_date,
    visits_needed_this_year,
)

P = pytest.param
DEFAULTS = RuleSettings()

BOOKING_CASES = [
    P(
        date(2026, 11, 25),
        3,
        date(2026, 12, 31),
        id="at least 4 face-to-face visits a year: 3rd visit on 25 Nov books the 4th by 31 Dec",
    ),
    P(
        date(2026, 11, 25),
        4,
        date(2027, 2, 23),
        id="quarterly once the year has its 4 visits (25 Nov + 90 days)",
    ),
    P(
        date(2026, 11, 25),
        2,
        date(2027, 2, 23),
        id="2 more visits cannot be 28 days apart before 31 Dec: plain quarterly, no December rush",
    ),
    P(date(2026, 11, 25), None, date(2027, 2, 23), id="visit count unknown: plain quarterly"),
    P(date(2026, 6, 1), 1, date(2026, 8, 11), id="joined 1 June: 3 more visits spread 71 days apart"),
    P(date(2026, 1, 10), 1, date(2026, 4, 10), id="room for 3 more at 90 days: quarterly"),
    P(date(2026, 10, 1), 3, date(2026, 12, 30), id="4th visit fits 90 days later, still this year"),
    P(date(2026, 10, 5), 3, date(2026, 12, 31), id="4th visit brought forward from 3 Jan to 31 Dec"),
    P(date(2026, 12, 31), 4, date(2027, 3, 31), id="31 Dec + 90 days in a common year"),
    P(date(2023, 12, 31), 4, date(2024, 3, 30), id="31 Dec + 90 days into a leap year"),
]


@pytest.mark.parametrize("visit_date, visits_this_year, expected", BOOKING_CASES)
def test_routine_booking(visit_date, visits_this_year, expected):
    assert next_routine_visit_date(visit_date, visits_this_year) == expected


def test_visits_needed_this_year():
    assert [visits_needed_this_year(n) for n in range(7)] == [4, 3, 2, 1, 0, 0, 0]


def test_assessment_counts_this_face_to_face_visit(hypertension_visit):
    visit = hypertension_visit(visit_date=date(2026, 11, 25))
    assessment = assess_hypertension_visit(visit, patient_age=60, earlier_visits_this_year=2)
    assert assessment.next_visit_date == date(2026, 12, 31)
    assert assessment.next_visit_reason.code == "routine_yearly_minimum"
    phone = hypertension_visit(
        visit_date=date(2026, 11, 25), visit_mode=3, sbp=None, dbp=None, weight_kg=None, heart_rate=None
    )
    assert (
        "本年度已完成2次面对面随访，还需2次。"
        in assess_hypertension_visit(phone, patient_age=60, earlier_visits_this_year=2).guidance_zh
    )


def _follow(start: date, uncontrolled: list[bool], hypertension_visit, until_year: int) -> list[date]:
    """Visit the patient on every booked date (through the assessment) and return the visit dates."""
    dates, day, index = [], start, 0
    while day.year <= until_year:
        dates.append(day)
        earlier = sum(1 for seen in dates[:-1] if seen.year == day.year)
        miss = uncontrolled[index % len(uncontrolled)] if uncontrolled else False
        bp = (150, 95) if miss else (130, 80)
        visit = hypertension_visit(visit_date=day, sbp=bp[0], dbp=bp[1])
        day = assess_hypertension_visit(
            visit, patient_age=60, earlier_visits_this_year=earlier
        ).next_visit_date
        index += 1
    return dates


def _per_year(dates: list[date]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for day in dates:
        counts[day.year] = counts.get(day.year, 0) + 1
    return counts


def _assert_yearly_minimum(start: date, dates: list[date]) -> None:
    counts = _per_year(dates)
    for year in range(start.year + 1, max(counts) + 1):
        assert counts.get(year, 0) >= 4, (year, [d for d in dates if d.year == year])
    # The joining year reaches 4 whenever 3 more visits fit 28 days apart before 31 December.
    if (date(start.year, 12, 31) - start).days >= 3 * DEFAULTS.min_routine_interval_days:
        assert counts[start.year] >= 4, [d for d in dates if d.year == start.year]


@pytest.mark.parametrize("year", [2024, 2026], ids=["every day of a leap year", "every day of a common year"])
def test_every_start_day_of_a_year_keeps_four_visits_a_year(hypertension_visit, year):
    day = date(year, 1, 1)
    while day.year == year:
        _assert_yearly_minimum(day, _follow(day, [], hypertension_visit, year + 2))
        day += timedelta(days=1)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    start=st.dates(date(2015, 1, 1), date(2035, 12, 31)), uncontrolled=st.lists(st.booleans(), max_size=12)
)
def test_quarterly_visits_from_any_date_keep_four_a_year(hypertension_visit, start, uncontrolled):
    # "at least 4 face-to-face visits a year", with 2-week visits after uncontrolled ones mixed in.
    _assert_yearly_minimum(start, _follow(start, uncontrolled, hypertension_visit, start.year + 3))


@given(day=st.dates(date(2015, 1, 1), date(2035, 12, 31)), seen=st.none() | st.integers(0, 8))
def test_routine_step_is_between_four_weeks_and_a_quarter(day, seen):
    step = (next_routine_visit_date(day, seen) - day).days
    assert DEFAULTS.min_routine_interval_days <= step <= DEFAULTS.routine_interval_days
    # Bringing a visit forward never pushes it into next year while this year still needs visits.
    if seen is not None and visits_needed_this_year(seen) and step < DEFAULTS.routine_interval_days:
        assert (day + timedelta(days=step)).year == day.year
