"""Every sequence of actions by every kind of party keeps the referral's invariants (gpcore rules).

"No lost message" needs storage: it is checked against the API in tests/server_referrals/test_stateful_api.py."""
from __future__ import annotations

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gpcore.referral import (ACTIONS, TERMINAL, TRANSITIONS, Case, Party, TransitionRefused, allowed_actions,
                             apply, may_write_message, relations)

H1, H2 = 1, 2
PARTIES = {
    "team": Party(1, "gp", team_id=10),
    "team-nurse": Party(2, "gp", team_id=10),
    "other-team": Party(3, "gp", team_id=11),
    "addressee": Party(20, "specialist", hospital_id=H1, department="心内科"),
    "pool-mate": Party(21, "specialist", hospital_id=H1, department="心内科"),
    "other-dept": Party(22, "specialist", hospital_id=H1, department="内分泌科"),
    "other-hospital": Party(23, "specialist", hospital_id=H2, department="心内科"),
    "staff": Party(30, "center_staff"),
    "admin": Party(40, "admin"),
}
SPECIALISTS = {p.user_id for p in PARTIES.values() if p.role == "specialist"}
IN_POOL = {20, 21}


class ReferralMachine(RuleBasedStateMachine):
    """A model of one referral: the gpcore rules against what a closed loop must never do."""

    @initialize(to_named=st.booleans())
    def start(self, to_named):
        self.case = Case("requested", team_id=10, hospital_id=H1, department="心内科",
                         specialist_id=20 if to_named else None)
        self.history: list[tuple[str, str, Case]] = []  # (party, action, case after)
        self.thread: list[tuple[str, str]] = []
        self.owner_at_answer = None

    @rule(who=st.sampled_from(sorted(PARTIES)), action=st.sampled_from(ACTIONS))
    def act(self, who, action):
        party, before = PARTIES[who], self.case
        expected = action in allowed_actions(before, party)
        try:
            after = apply(before, party, action)
        except TransitionRefused as refused:
            assert not expected, (who, action, before)
            assert refused.state == before.state  # the refusal names the current state
            assert refused.code in ("illegal_state", "not_allowed")
            assert before.state in refused.zh or refused.zh  # a Chinese sentence for the user
            return
        assert expected, (who, action, before)
        assert before.state not in TERMINAL, "a terminal state moved"
        assert relations(before, party), "someone unrelated to the case moved it"
        assert party.role in ("gp", "specialist")
        if party.role == "gp":
            assert party.team_id == before.team_id
            assert action in ("give_info", "close", "cancel")
        else:
            assert party.user_id in IN_POOL, "a specialist outside the pool acted"
            assert action not in ("give_info", "close", "cancel")
        if action == "answer":
            assert before.owner_id == party.user_id, "an answer by someone who did not accept"
            self.owner_at_answer = party.user_id
        if action == "cancel":
            assert not any(a in ("answer", "return_case") for _, a, _ in self.history), "cancelled after an answer"
        if action == "close":
            assert any(a == "answer" for _, a, _ in self.history), "closed without an answer"
        self.case = after
        self.history.append((who, action, after))

    @rule(who=st.sampled_from(sorted(PARTIES)), text=st.text(min_size=1, max_size=5))
    def write(self, who, text):
        if may_write_message(self.case, PARTIES[who]):
            assert self.case.state not in TERMINAL
            assert relations(self.case, PARTIES[who])
            self.thread.append((who, text))

    @invariant()
    def one_owner(self):
        case = self.case
        if case.owner_id is not None:
            assert case.owner_id in IN_POOL
            assert case.specialist_id == case.owner_id  # one name on the case, the owner's
        if case.state in ("accepted", "answered", "returned") or (
                case.state == "info_requested" and case.info_from == "accepted"):
            assert case.owner_id is not None
        if case.state == "requested":
            assert case.owner_id is None
        if self.owner_at_answer is not None:
            assert case.owner_id == self.owner_at_answer, "the owner changed after the answer"

    @invariant()
    def no_answer_without_accept(self):
        if self.case.state in ("answered", "returned", "closed") and self.owner_at_answer is not None:
            accepts = [i for i, (_, a, _) in enumerate(self.history) if a == "accept"]
            answer = next(i for i, (_, a, _) in enumerate(self.history) if a == "answer")
            assert accepts and accepts[0] < answer
            last_accept = max(i for i in accepts if i < answer)
            assert self.history[last_accept][2].owner_id == self.owner_at_answer

    @invariant()
    def terminal_stays_terminal(self):
        seen_terminal = False
        for _, _, case in self.history:
            if seen_terminal:
                raise AssertionError("an action was taken after a terminal state")
            seen_terminal = case.state in TERMINAL
        if self.case.state in TERMINAL:
            assert all(not allowed_actions(self.case, p) for p in PARTIES.values())
            assert not any(may_write_message(self.case, p) for p in PARTIES.values())

    @invariant()
    def the_team_can_always_reach_its_case(self):
        if self.case.state not in TERMINAL:
            assert may_write_message(self.case, PARTIES["team"])


ReferralMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestReferralMachine = ReferralMachine.TestCase


def test_every_transition_names_a_known_state_and_action():
    from gpcore.referral import STATES
    for state, action in TRANSITIONS:
        assert state in STATES and state not in TERMINAL and action in ACTIONS


def test_the_happy_loop():
    case = Case("requested", team_id=10, hospital_id=H1, department="心内科")
    for who, action, state in (("pool-mate", "accept", "accepted"), ("pool-mate", "ask_info", "info_requested"),
                               ("team", "give_info", "accepted"), ("pool-mate", "answer", "answered"),
                               ("pool-mate", "return_case", "returned"), ("team-nurse", "close", "closed")):
        case = apply(case, PARTIES[who], action)
        assert case.state == state, (who, action)
    assert case.owner_id == 21


def test_pass_to_pool_lets_the_pool_claim_and_the_named_one_stops_seeing_it():
    case = Case("requested", team_id=10, hospital_id=H1, department="心内科", specialist_id=20)
    assert allowed_actions(case, PARTIES["pool-mate"]) == []  # addressed by name: not the pool's yet
    case = apply(case, PARTIES["addressee"], "pass_to_pool")
    assert case.specialist_id is None and case.state == "requested"
    assert "accept" in allowed_actions(case, PARTIES["pool-mate"])
    case = apply(case, PARTIES["pool-mate"], "accept")
    assert relations(case, PARTIES["addressee"]) == frozenset()


def test_refusals_say_the_state_in_chinese():
    case = Case("answered", team_id=10, hospital_id=H1, department="心内科", specialist_id=20, owner_id=20)
    try:
        apply(case, PARTIES["team"], "cancel")
    except TransitionRefused as err:
        assert err.code == "illegal_state" and err.state == "answered" and "已答复" in err.zh
    else:
        raise AssertionError("cancel after an answer was allowed")
    try:
        apply(case, PARTIES["other-team"], "close")
    except TransitionRefused as err:
        assert err.code == "not_allowed" and "已答复" in err.zh
    else:
        raise AssertionError("another team closed the case")
