"""When to see the patient next: within 2 weeks after trouble, otherwise quarterly, 4 face-to-face a year.

The quarterly rule (settings in brackets, defaults 90/28/4):

    needed = face-to-face visits still missing this calendar year after this one   [per year 4]
    if needed == 0 or the visit count is unknown:      next = visit + 90           [routine interval]
    else: room = days from the visit to 31 December, gap = room // needed
          if gap >= 28:                                 next = visit + min(90, gap) [min routine interval]
          else:                                         next = visit + 90

Why it keeps every year at >= 4 visits when the patient comes when booked:
- The largest equal spacing that still fits `needed` visits by 31 December is `gap`, so booking no later
  than visit + gap keeps the year reachable: after a step s <= gap the room left is
  room - s >= room * (needed - 1) / needed, hence the next gap is again >= this gap (>= 28).
  A 2-week visit (after an uncontrolled visit) is a step of 14 <= gap, so it keeps the year reachable too.
- A year's first visit falls on or before 31 March (the previous one was <= 90 days earlier, in December
  at the latest), leaving >= 275 days for 3 more visits: gap >= 91, always reachable.
- So only the year the patient joins can fall short, and only when 3 more visits cannot be spaced 28 days
  apart before 31 December (fewer than 84 days left after the first visit).
`min_routine_interval_days` stops a controlled patient being called back every few days in December just
to make up a count that the year can no longer reach at a sensible spacing; then the plain 90 days apply.

Working days (setting `working_days_only`, default on): a booked date on a weekend or an official holiday
moves to the nearest *earlier* working day, by the State Council's calendar as the `chinese_calendar`
package knows it, make-up working days (调休, a Saturday worked) counting as working days.  Earlier, never
later: "within 2 weeks" stays within 2 weeks (the worklist's recheck bucket reads next - visit <= 14), and
every "no later than visit + gap" above still holds.  Only when no working day lies between the visit and
the booked date does it move later.  The package raises for a year whose calendar it does not carry (one
not yet announced, or an old package): then only weekends are avoided, and the reason says so.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from .codes import Reason
from .settings import RuleSettings


def visits_needed_this_year(
    face_to_face_visits_this_year: int, settings: RuleSettings = RuleSettings()
) -> int:
    """Face-to-face visits still missing this calendar year to reach the yearly minimum (never negative)."""
    return max(0, settings.face_to_face_visits_per_year - face_to_face_visits_this_year)


def next_routine_visit_date(
    visit_date: date,
    face_to_face_visits_this_year: int | None = None,
    settings: RuleSettings = RuleSettings(),
) -> date:
    """The next quarterly date after a controlled visit, on a working day; see the module docstring."""
    booked, reason = routine_booking(visit_date, face_to_face_visits_this_year, settings)
    return on_working_day(visit_date, booked, reason, settings)[0]


def routine_booking(
    visit_date: date, face_to_face_visits_this_year: int | None, settings: RuleSettings
) -> tuple[date, Reason]:
    """The next quarterly date and the reason for it (plain quarterly, or brought forward for the year)."""
    interval = settings.routine_interval_days
    gap = _gap_for_the_year(visit_date, face_to_face_visits_this_year, settings)
    if gap is None:
        return visit_date + timedelta(days=interval), Reason(
            "routine_quarterly",
            f"控制满意，按季度随访（{interval}天后）",
            f"controlled: routine quarterly visit ({interval} days)",
        )
    needed = visits_needed_this_year(face_to_face_visits_this_year, settings)
    yearly = settings.face_to_face_visits_per_year
    return visit_date + timedelta(days=gap), Reason(
        "routine_yearly_minimum",
        f"本年度已面对面随访{face_to_face_visits_this_year}次，还需{needed}次才达到每年{yearly}次，"
        f"提前至{gap}天后随访",
        f"{face_to_face_visits_this_year} face-to-face visits this year, {needed} more needed "
        f"for {yearly}: next in {gap} days",
    )


def _gap_for_the_year(visit_date: date, visits_this_year: int | None, settings: RuleSettings) -> int | None:
    """Days to the next visit when the year's count needs it sooner than a quarter, else None."""
    if visits_this_year is None:
        return None
    needed = visits_needed_this_year(visits_this_year, settings)
    if needed == 0:
        return None
    gap = (date(visit_date.year, 12, 31) - visit_date).days // needed
    if gap < settings.min_routine_interval_days or gap >= settings.routine_interval_days:
        return None
    return gap


def short_booking(visit_date: date, reason: Reason, settings: RuleSettings) -> tuple[date, Reason]:
    """The follow-up "within 2 weeks": booked on the last day of the 2 weeks."""
    return visit_date + timedelta(days=settings.short_interval_days), reason


def is_working_day(day: date) -> tuple[bool, bool]:
    """(a working day, the official calendar of its year is known): holidays and 调休 Saturdays count when
    known; for a year the package does not carry, Monday to Friday."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:  # "no available data for year ...": not announced, or an old package
        return day.weekday() < 5, False


def working_day_for(visit_date: date, booked: date) -> tuple[date, set[int]]:
    """The nearest working day on or before `booked` and after the visit (else the first after `booked`),
    and the years whose official calendar was not known on the way."""
    day, unknown_years, step = booked, set(), -1
    while True:
        working, known = is_working_day(day)
        if not known:
            unknown_years.add(day.year)
        if working:
            return day, unknown_years
        day += timedelta(days=step)
        if day <= visit_date:  # no working day in between: the first one after the booked date
            day, step = booked + timedelta(days=1), 1


def on_working_day(visit_date: date, booked: date, reason: Reason, settings: RuleSettings) -> tuple[date, Reason]:
    """The booking moved off a weekend or holiday (see the module docstring), its reason saying how."""
    if not settings.working_days_only:
        return booked, reason
    day, unknown_years = working_day_for(visit_date, booked)
    zh, en = reason.zh, reason.en
    if day != booked:
        zh += f"；{booked.isoformat()}为周末或节假日，{'提前' if day < booked else '推迟'}至{day.isoformat()}"
        en += f"; {booked.isoformat()} is a weekend or holiday: moved to {day.isoformat()}"
    if unknown_years:
        years = "、".join(str(y) for y in sorted(unknown_years))
        zh += f"（{years}年法定节假日安排未收录，仅避开周末）"
        en += f" (official holidays of {years} not known: weekends avoided only)"
    return day, Reason(reason.code, zh, en)
