"""What happens to a case nobody answered in time: plain rule, no database.

A case still waiting for its first response (requested) the day after its response deadline is escalated
once: addressed to a named specialist who has not claimed it, it goes to that specialist's department pool
(every specialist there may claim it, the named one included) and is flagged to the team's center; already
in the pool, it is flagged to the center. The center sees every escalated case on its referrals page.
"""

from __future__ import annotations

import datetime as dt

from .machine import REQUESTED, Case

TO_POOL = "pool"      # taken from the named specialist to the department pool, and flagged to the center
TO_CENTER = "center"  # already in the pool: flagged to the center


def escalation(case: Case, response_due: dt.date, today: dt.date, escalated: bool) -> str | None:
    """TO_POOL, TO_CENTER, or None (not overdue, no longer waiting, or escalated before)."""
    if escalated or case.state != REQUESTED or response_due >= today:
        return None
    return TO_POOL if case.specialist_id is not None and case.owner_id is None else TO_CENTER


def escalated_case(case: Case, kind: str) -> Case:
    """The case after escalation: to the pool nobody owns it or is named on it; to the center unchanged."""
    if kind == TO_POOL:
        return Case(case.state, case.team_id, case.hospital_id, case.department, None, None, case.info_from)
    return case
