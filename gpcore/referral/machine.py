"""The referral's life as a transition table: which party may take which action from which state.

    requested ──accept──────────> accepted ──answer──> answered ──return_case──> returned
       │  │ └─pass_to_pool (a named specialist hands it to the pool; stays requested)  │
       │  └──decline (back to the team, terminal)          │           └─close─┐   close
       └─ask_info─> info_requested ─give_info─> back to requested / accepted     └──> closed
    cancel (the team, before an answer): requested, info_requested, accepted ──> cancelled

Parties are seen through their relation to one case (`relations`): the resident's team, the specialist
the case is addressed to by name, a member of the pool (hospital + department) it is addressed to, and
the specialist who claimed it (the owner). The owner is set by accept and never changes after an answer;
a case in `requested` has none. Plain Python, so the tablet can tell offline which buttons to show.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

REQUESTED = "requested"
INFO_REQUESTED = "info_requested"
ACCEPTED = "accepted"
DECLINED = "declined"
ANSWERED = "answered"
RETURNED = "returned"
CLOSED = "closed"
CANCELLED = "cancelled"
STATES = (REQUESTED, INFO_REQUESTED, ACCEPTED, DECLINED, ANSWERED, RETURNED, CLOSED, CANCELLED)
TERMINAL = frozenset({DECLINED, CLOSED, CANCELLED})
STATE_LABELS = {REQUESTED: "待接诊", INFO_REQUESTED: "待补充资料", ACCEPTED: "已接诊", DECLINED: "已拒绝",
                ANSWERED: "已答复", RETURNED: "已回转", CLOSED: "已结案", CANCELLED: "已撤销"}

# Relations of a party to a case.
TEAM = "team"                # a GP-team member of the resident's team
ADDRESSEE = "addressee"      # the specialist the case is addressed to by name (while it is)
POOL_MEMBER = "pool_member"  # a specialist of the hospital and department of a case addressed to the pool
OWNER = "owner"              # the specialist who accepted (claimed) the case

ACCEPT, DECLINE, PASS_TO_POOL, ASK_INFO, GIVE_INFO = "accept", "decline", "pass_to_pool", "ask_info", "give_info"
ANSWER, RETURN_CASE, CLOSE, CANCEL = "answer", "return_case", "close", "cancel"
ACTIONS = (ACCEPT, DECLINE, PASS_TO_POOL, ASK_INFO, GIVE_INFO, ANSWER, RETURN_CASE, CLOSE, CANCEL)
ACTION_LABELS = {ACCEPT: "接诊", DECLINE: "拒绝", PASS_TO_POOL: "转给科室", ASK_INFO: "请求补充资料",
                 GIVE_INFO: "补充资料", ANSWER: "答复", RETURN_CASE: "回转", CLOSE: "结案", CANCEL: "撤销"}
# The thread's entries besides the actions: the case sent, a message, and the entries the server writes
# itself with no author account (author_role SYSTEM): an overdue case escalated, a household moved to
# another team taking its cases along.
CREATE, MESSAGE_ENTRY, ESCALATE, TEAM_MOVE = "create", "message", "escalate", "team_move"
SYSTEM = "system"
ENTRY_LABELS = {CREATE: "转出", MESSAGE_ENTRY: "留言", **ACTION_LABELS, ESCALATE: "超时升级", TEAM_MOVE: "转交团队"}

# Who may act before the case is claimed: the named addressee, or any member of the addressed pool.
_TRIAGE = frozenset({ADDRESSEE, POOL_MEMBER})
_OWNER = frozenset({OWNER})
_TEAM = frozenset({TEAM})

# (state, action) -> the relations allowed to take it. The target state is decided in apply().
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (REQUESTED, ACCEPT): _TRIAGE,
    (REQUESTED, DECLINE): _TRIAGE,
    (REQUESTED, PASS_TO_POOL): frozenset({ADDRESSEE}),
    (REQUESTED, ASK_INFO): _TRIAGE,
    (REQUESTED, CANCEL): _TEAM,
    (INFO_REQUESTED, GIVE_INFO): _TEAM,
    (INFO_REQUESTED, CANCEL): _TEAM,
    (ACCEPTED, ASK_INFO): _OWNER,
    (ACCEPTED, ANSWER): _OWNER,
    (ACCEPTED, DECLINE): _OWNER,
    (ACCEPTED, PASS_TO_POOL): _OWNER,
    (ACCEPTED, CANCEL): _TEAM,
    (ANSWERED, RETURN_CASE): _OWNER,
    (ANSWERED, CLOSE): _TEAM,
    (RETURNED, CLOSE): _TEAM,
}
# Who may write in a case's thread (any state but a terminal one).
MESSAGE_WRITERS = frozenset({TEAM, ADDRESSEE, POOL_MEMBER, OWNER})


@dataclass(frozen=True)
class Party:
    """Someone acting on a case: their role and where they belong (the server's Actor, reduced)."""

    user_id: int
    role: str  # gp | specialist | center_staff | admin
    team_id: int | None = None
    hospital_id: int | None = None
    department: str | None = None


@dataclass(frozen=True)
class Case:
    """What the rules need of a referral: its state, the team, whom it is addressed to, who owns it.

    Addressed to a named specialist (specialist_id) or to a pool (hospital_id + department, specialist_id
    None). info_from remembers the state ask_info left, so give_info returns there.
    """

    state: str
    team_id: int
    hospital_id: int
    department: str
    specialist_id: int | None = None
    owner_id: int | None = None
    info_from: str | None = None


class TransitionRefused(Exception):
    """An action the case's state or the party's relation to it does not allow; `code` says which."""

    def __init__(self, code: str, case: Case, action: str, en: str, zh: str):
        super().__init__(en)
        self.code, self.state, self.action, self.en, self.zh = code, case.state, action, en, zh


def relations(case: Case, party: Party) -> frozenset[str]:
    """The party's relations to the case (empty: the case is none of their business)."""
    found = set()
    if party.role == "gp" and party.team_id is not None and party.team_id == case.team_id:
        found.add(TEAM)
    if party.role == "specialist":
        if case.owner_id is not None:
            if party.user_id == case.owner_id:
                found.add(OWNER)
        elif case.specialist_id is not None:
            if party.user_id == case.specialist_id:
                found.add(ADDRESSEE)
        elif in_pool(case, party):
            found.add(POOL_MEMBER)
    return frozenset(found)


def in_pool(case: Case, party: Party) -> bool:
    """A specialist of the case's hospital and department."""
    return (party.role == "specialist" and party.hospital_id == case.hospital_id
            and party.department is not None and party.department == case.department)


def allowed_actions(case: Case, party: Party) -> list[str]:
    """The actions this party may take on the case now, in the order of ACTIONS."""
    mine = relations(case, party)
    return [action for action in ACTIONS if TRANSITIONS.get((case.state, action), frozenset()) & mine]


def may_write_message(case: Case, party: Party) -> bool:
    """Whether the party may add a message to the case's thread now."""
    return case.state not in TERMINAL and bool(relations(case, party) & MESSAGE_WRITERS)


def apply(case: Case, party: Party, action: str) -> Case:
    """The case after the party's action; raises TransitionRefused naming the current state."""
    if action not in ACTIONS:
        raise TransitionRefused("unknown_action", case, action, f"Unknown action {action!r}.", f"未知操作{action!r}。")
    allowed = TRANSITIONS.get((case.state, action))
    label, state_label = ACTION_LABELS[action], STATE_LABELS[case.state]
    if allowed is None:
        raise TransitionRefused(
            "illegal_state", case, action,
            f"Cannot {action} a referral that is {case.state}.",
            f"转诊当前状态为“{state_label}”，不能{label}。")
    if not allowed & relations(case, party):
        raise TransitionRefused(
            "not_allowed", case, action,
            f"You may not {action} this referral while it is {case.state}.",
            f"您不能对此转诊执行“{label}”（当前状态：{state_label}）。")
    return _target(case, party, action)


def _target(case: Case, party: Party, action: str) -> Case:
    if action == ACCEPT:
        return replace(case, state=ACCEPTED, owner_id=party.user_id, specialist_id=party.user_id)
    if action == DECLINE:
        return replace(case, state=DECLINED)
    if action == PASS_TO_POOL:  # to the department's pool: nobody owns it until someone claims it
        return replace(case, state=REQUESTED, specialist_id=None, owner_id=None)
    if action == ASK_INFO:
        return replace(case, state=INFO_REQUESTED, info_from=case.state)
    if action == GIVE_INFO:
        return replace(case, state=case.info_from or REQUESTED, info_from=None)
    if action == ANSWER:
        return replace(case, state=ANSWERED)
    if action == RETURN_CASE:
        return replace(case, state=RETURNED)
    if action == CLOSE:
        return replace(case, state=CLOSED)
    return replace(case, state=CANCELLED, info_from=None)  # CANCEL
