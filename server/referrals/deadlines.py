"""Response deadlines as this service sets them: the REFERRAL_RESPONSE_DAYS setting (default routine 3,
urgent 1, emergency the same day, in Chinese working days: gpcore/referral/deadlines.py). Overdue cases are
highlighted on read (the list's `overdue`, from response_due and today); escalation.py escalates them.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from gpcore import referral as rules


def response_days() -> dict[str, int]:
    """Working days to the first response by urgency: the setting, or gpcore's defaults outside an app."""
    configured = current_app.config.get("REFERRAL_RESPONSE_DAYS") if has_app_context() else None
    return configured or dict(rules.RESPONSE_DAYS)


def response_due(sent_on: dt.date, urgency: str) -> dt.date:
    """The last day for the first response to a case sent on sent_on, by this service's setting."""
    return rules.response_due(sent_on, urgency, response_days())
