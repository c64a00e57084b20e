"""When a specialist's first answer is due, by urgency, in Chinese working days.

Working days are gpcore.followup.schedule.is_working_day (the chinesecalendar package: holidays and
调休 Saturdays; Monday to Friday for a year whose official calendar is not yet known).
"""

from __future__ import annotations

from datetime import date, timedelta

from ..followup.schedule import is_working_day

# Working days to the first answer (accept, decline or a question), by urgency; emergency: the same day.
RESPONSE_DAYS = {"routine": 3, "urgent": 1, "emergency": 0}
# The team follows every answered or returned referral up within 2 weeks (standards.md section 5).
FOLLOW_UP_DAYS = 14


def add_working_days(start: date, days: int) -> date:
    """The day `days` working days after start (0: start itself, as an emergency is due the same day)."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day)[0]:
            days -= 1
    return day


def response_due(sent_on: date, urgency: str, days: dict[str, int] | None = None) -> date:
    """The last day for the specialist's first response to a referral sent on sent_on."""
    return add_working_days(sent_on, (days or RESPONSE_DAYS)[urgency])


def follow_up_due(answered_on: date) -> date:
    """The last day for the team's follow-up after an answer or a return."""
    return answered_on + timedelta(days=FOLLOW_UP_DAYS)


def parse_response_days(text: str | None) -> dict[str, int]:
    """The response-deadline setting, e.g. "routine=3,urgent=1,emergency=0" (working days; 0: the same day);
    urgencies left out keep RESPONSE_DAYS. Raises ValueError naming what is wrong."""
    days = dict(RESPONSE_DAYS)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        urgency, _, value = part.partition("=")
        urgency = urgency.strip()
        if urgency not in RESPONSE_DAYS:
            raise ValueError(f"unknown urgency {urgency!r} (one of {', '.join(RESPONSE_DAYS)})")
        if not value.strip().isdigit() or int(value) > 30:
            raise ValueError(f"{urgency} needs a whole number of working days from 0 to 30, not {value!r}")
        days[urgency] = int(value)
    return days
