"""The service's today: the date on the doctor's calendar in China (gpcore.clock), unless the FOLLOWUP_TODAY
setting pins it (tests and demos). One home for the follow-up routes, the referral routes and sync push."""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from gpcore.clock import china_today


def today() -> dt.date:
    """The service's today (see the module docstring); outside a request or app, China's date."""
    pinned = current_app.config.get("FOLLOWUP_TODAY") if has_app_context() else None
    if pinned:
        return pinned if isinstance(pinned, dt.date) else dt.date.fromisoformat(pinned)
    return china_today()
