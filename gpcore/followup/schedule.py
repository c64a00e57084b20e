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
"""

from __future__ import annotations

from datetime import date, timedelta

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
    """The next quarterly date after a controlled visit; see the module docstring for the rule."""
    return routine_booking(visit_date, face_to_face_visits_this_year, settings)[0]


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
