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
    is_working_day,
    next_routine_visit_date,
    visits_needed_this_year,
)
from gpcore.followup.codes import Reason
from gpcore.followup.schedule import on_working_day

P = pytest.param
DEFAULTS = RuleSettings()
# The quarterly arithmetic itself, before a booked date moves off a weekend or holiday.
CALENDAR_DAYS = RuleSettings(working_days_only=False)

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
    assert next_routine_visit_date(visit_date, visits_this_year, CALENDAR_DAYS) == expected


# Working days (issue 14): the booked date moves to the nearest earlier working day by the official calendar
# (chinese_calendar: 2026 holidays and 调休 as the State Council announced them); 2027 is not in the package
# yet, so only weekends count there.
WORKING_DAY_CASES = [
    P(date(2023, 12, 31), 4, date(2024, 3, 29), id="31 Dec 2023 + 90 is Saturday 30 Mar 2024: Friday 29"),
    P(date(2026, 7, 3), 4, date(2026, 9, 30), id="3 Jul + 90 is 1 Oct, National Day: 30 Sep"),
    P(date(2026, 6, 22), 4, date(2026, 9, 20), id="22 Jun + 90 is Sunday 20 Sep, a 调休 working day: kept"),
    P(date(2026, 11, 25), 4, date(2027, 2, 23), id="25 Nov + 90 is Tuesday 23 Feb 2027: kept"),
    P(date(2026, 12, 6), 4, date(2027, 3, 5), id="6 Dec + 90 is Saturday 6 Mar 2027: weekends still avoided"),
]


@pytest.mark.parametrize("visit_date, visits_this_year, expected", WORKING_DAY_CASES)
def test_routine_booking_on_working_days(visit_date, visits_this_year, expected):
    assert next_routine_visit_date(visit_date, visits_this_year) == expected


def test_is_working_day_knows_holidays_and_make_up_days():
    assert is_working_day(date(2026, 12, 4)) == (True, True)  # Friday
    assert is_working_day(date(2026, 12, 5)) == (False, True)  # Saturday
    assert is_working_day(date(2026, 10, 1)) == (False, True)  # National Day, a Thursday
    assert is_working_day(date(2026, 2, 14)) == (True, True)  # Saturday worked for the Spring Festival
    assert is_working_day(date(2027, 1, 1)) == (True, False)  # a Friday; 2027's holidays not in the package
    assert is_working_day(date(2027, 1, 2)) == (False, False)  # a Saturday


def test_a_two_week_recheck_stays_within_two_weeks(hypertension_visit):
    # 29 Nov 2026 (a Sunday visit) + 14 days is Sunday 13 Dec: the recheck is Friday 11 Dec, never later.
    visit = hypertension_visit(visit_date=date(2026, 11, 29), sbp=150, dbp=95)
    result = assess_hypertension_visit(visit, patient_age=60)
    assert result.next_visit_date == date(2026, 12, 11) and result.next_visit_reason.code == "uncontrolled"
    assert "2026-12-13为周末或节假日，提前至2026-12-11" in result.next_visit_reason.zh
    # The Spring Festival 2026 (15-23 Feb): 6 Feb + 14 is 20 Feb; the nearest earlier working day is the
    # make-up Saturday 14 Feb.
    spring = assess_hypertension_visit(hypertension_visit(visit_date=date(2026, 2, 6), sbp=150, dbp=95),
                                       patient_age=60)
    assert spring.next_visit_date == date(2026, 2, 14)
    off = assess_hypertension_visit(visit, patient_age=60, settings=CALENDAR_DAYS)
    assert off.next_visit_date == date(2026, 12, 13) and "周末" not in off.next_visit_reason.zh


def test_a_year_without_official_data_avoids_weekends_and_says_so():
    reason = Reason("routine_quarterly", "控制满意，按季度随访（90天后）", "controlled: routine quarterly visit")
    day, said = on_working_day(date(2026, 10, 3), date(2027, 1, 1), reason, DEFAULTS)
    assert day == date(2027, 1, 1)  # New Year's Day, but 2027 is not announced in the package yet
    assert said.zh.endswith("（2027年法定节假日安排未收录，仅避开周末）") and said.code == reason.code
    day, said = on_working_day(date(2026, 3, 1), date(2026, 5, 30), reason, DEFAULTS)  # Saturday, 2026 known
    assert day == date(2026, 5, 29) and "未收录" not in said.zh


def test_only_when_no_working_day_lies_before_it_does_a_booking_move_later():
    one_day = RuleSettings(short_interval_days=1, min_routine_interval_days=28)
    reason = Reason("uncontrolled", "控制不满意", "uncontrolled")
    # Friday 4 Dec + 1 is Saturday; the only earlier day is the visit itself: Monday 7 Dec.
    day, said = on_working_day(date(2026, 12, 4), date(2026, 12, 5), reason, one_day)
    assert day == date(2026, 12, 7) and "推迟至2026-12-07" in said.zh


@given(day=st.dates(date(2015, 1, 1), date(2035, 12, 31)), seen=st.none() | st.integers(0, 8))
def test_a_booked_date_is_a_working_day_and_never_later(day, seen):
    calendar = next_routine_visit_date(day, seen, CALENDAR_DAYS)
    booked = next_routine_visit_date(day, seen)
    assert is_working_day(booked)[0]
    assert day < booked <= calendar and (calendar - booked).days <= 10  # the longest official break is 9 days


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
    step = (next_routine_visit_date(day, seen, CALENDAR_DAYS) - day).days
    assert DEFAULTS.min_routine_interval_days <= step <= DEFAULTS.routine_interval_days
    # Bringing a visit forward never pushes it into next year while this year still needs visits.
    if seen is not None and visits_needed_this_year(seen) and step < DEFAULTS.routine_interval_days:
        assert (day + timedelta(days=step)).year == day.year
