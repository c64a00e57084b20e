"""When a specialist's first answer is due, by urgency.

The issue asks for Chinese working days (holidays and make-up workdays) through the `chinesecalendar`
package, which another change is adding for gpcore/followup/schedule.py. Until it lands, `add_days`
counts calendar days: a deadline here is never later than the working-day one, so over a weekend or a
holiday a case may be flagged overdue too early, never too late. Swap add_days for the working-day count
then (RESPONSE_DAYS are meant as working days).
"""

from __future__ import annotations

from datetime import date, timedelta

# Days to the first answer (accept, decline or a question), by urgency; emergency means the same day.
RESPONSE_DAYS = {"routine": 3, "urgent": 1, "emergency": 0}
# The team follows every answered or returned referral up within 2 weeks (standards.md section 5).
FOLLOW_UP_DAYS = 14


def add_days(start: date, days: int) -> date:
    """start + days; calendar days for now (see the module docstring)."""
    return start + timedelta(days=days)


def response_due(sent_on: date, urgency: str, days: dict[str, int] | None = None) -> date:
    """The last day for the specialist's first response to a referral sent on sent_on."""
    return add_days(sent_on, (days or RESPONSE_DAYS)[urgency])


def follow_up_due(answered_on: date) -> date:
    """The last day for the team's follow-up after an answer or a return."""
    return answered_on + timedelta(days=FOLLOW_UP_DAYS)
