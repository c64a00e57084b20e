"""Referral rules shared by the server and the tablet: the state machine, the two-way forms, deadlines.

Plain Python, standard library only.  Typical use:

    case = Case(state="requested", team_id=3, hospital_id=1, department="心内科")
    allowed_actions(case, Party(user_id=9, role="specialist", hospital_id=1, department="心内科"))
    case = apply(case, party, "accept")              # or TransitionRefused(code, state, en, zh)
    errors_by_field(check_upward_form(form, today=today), "zh")
"""

from ..followup.validation import errors_by_field
from .deadlines import FOLLOW_UP_DAYS, RESPONSE_DAYS, follow_up_due, response_due
from .forms import (ANSWER, INFO, KINDS, MESSAGE, OUTCOMES, QUESTION, REASON, RETURN_FORM, SESSIONS, UPWARD_FORM,
                    URGENCIES, check_answer, check_choice, check_details, check_return_form, check_upward_form)
from .machine import (ACTION_LABELS, ACTIONS, ENTRY_LABELS, STATE_LABELS, STATES, TERMINAL, TRANSITIONS, Case, Party,
                      TransitionRefused, allowed_actions, apply, in_pool, may_write_message, relations)

__all__ = [
    "ACTION_LABELS", "ACTIONS", "ANSWER", "ENTRY_LABELS", "Case", "FOLLOW_UP_DAYS", "INFO", "KINDS", "MESSAGE", "OUTCOMES",
    "Party", "QUESTION", "REASON", "RESPONSE_DAYS", "RETURN_FORM", "SESSIONS", "STATES", "STATE_LABELS",
    "TERMINAL", "TRANSITIONS", "TransitionRefused", "UPWARD_FORM", "URGENCIES", "allowed_actions", "apply",
    "check_answer", "check_choice", "check_details", "check_return_form", "check_upward_form",
    "errors_by_field", "follow_up_due", "in_pool", "may_write_message", "relations", "response_due",
]
