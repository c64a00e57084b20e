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


def escalation_note(kind: str, response_due: dt.date, department: str, center: str,
                    named: str | None = None) -> str:
    """The thread entry of an escalation, in Chinese: why (the deadline passed unanswered), what was done
    (to the department pool, naming whom it was addressed to; flagged to the center). Who and when are the
    entry's author ("系统") and time."""
    why = f"超过答复期限（{response_due.isoformat()}）仍无人接诊，"
    if kind == TO_POOL:
        were = f"（原指定{named}）" if named else ""
        return f"{why}系统已将此转诊转给{department}全体专科医生{were}，任一位均可认领，并已上报{center}。"
    return f"{why}系统已上报{center}，请{department}尽快认领。"


def team_move_note(old_team: str | None, new_team: str | None) -> str:
    """The thread entry when the resident's household moved to another team, which now follows the case."""
    return (f"居民家庭已由{old_team or '未分配'}调整至{new_team or '未分配'}，"
            f"此转诊随之转由{new_team or '中心'}跟进。")
