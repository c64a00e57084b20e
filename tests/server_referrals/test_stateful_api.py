"""The state machine through the API: random actions by every role, stale and fresh ETags, messages;
the server must agree with the gpcore rules at every step, lose no message and keep terminal cases still."""
from __future__ import annotations

import uuid

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from gpcore.referral import TERMINAL, Case, Party, TransitionRefused, apply

USERS = ("gp-a1", "nurse-a1", "gp-a2", "gp-b1", "staff-a", "staff-b", "admin", "spec", "spec-pool", "spec-endo")
ACTIONS = ("accept", "decline", "pass_to_pool", "ask_info", "give_info", "answer", "return_case", "close", "cancel")


def test_random_sequences_keep_the_server_and_the_rules_in_step(ref, as_user, session):
    from server.auth.models import User
    from server.scope import Actor

    actors = {u: Actor.of(session.get(User, ref.w.users[u])) for u in USERS}
    parties = {u: Party(a.user_id, a.role, a.team_id, a.hospital_id, a.department) for u, a in actors.items()}
    r = as_user("gp-a1").post("/api/v1/followups", json={
        "id": str(uuid.uuid4()), "resident_id": ref.w.residents["A1-0-0"], "condition": "hypertension",
        "form": {"visit_date": "2026-06-15", "visit_mode": 1, "symptoms": [1], "sbp": 138, "dbp": 86,
                 "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}})
    assert r.status_code == 201
    bodies = {**ref.bodies, "close": {"followup_id": r.get_json()["id"]}}

    def visible(user: str, case: Case) -> bool:
        a = actors[user]
        if a.role == "admin":
            return True
        if a.role in ("gp", "center_staff"):
            return a.team_id == case.team_id or (a.role == "center_staff" and a.center_id == ref.w.centers["A"])
        if a.user_id in (case.specialist_id, case.owner_id):
            return True
        return (case.specialist_id is None and case.owner_id is None and a.hospital_id == case.hospital_id
                and a.department == case.department)

    class ApiMachine(RuleBasedStateMachine):
        @initialize(to=st.sampled_from(["spec", "pool"]))
        def send(self, to):
            body, self.etag = ref.send(to=to)
            self.id = body["id"]
            self.case = Case("requested", ref.w.teams["A1"], ref.w.hospital_id, "心内科",
                             ref.w.users["spec"] if to == "spec" else None)
            self.messages: list[str] = []
            self.ended = False

        @rule(user=st.sampled_from(USERS), action=st.sampled_from(ACTIONS), stale=st.booleans())
        def act(self, user, action, stale):
            r = ref.act(user, self.id, action, '"stale-etag"' if stale else self.etag, bodies.get(action))
            if actors[user].role in ("admin", "center_staff"):  # they read but never act: refused by role
                assert r.status_code == 403, (user, action, r.get_json())
                return
            if not visible(user, self.case):
                assert r.status_code == 404, (user, action, r.get_json())
                return
            try:
                after = apply(self.case, parties[user], action)
            except TransitionRefused as refused:
                expected = 409 if refused.code == "illegal_state" else 403
                assert r.status_code == expected, (user, action, self.case, r.get_json())
                assert r.get_json()["errors"]["state"] == [self.case.state]
                return
            if stale:
                assert r.status_code == 412, (user, action, r.get_json())
                assert r.get_json()["errors"]["state"] == [self.case.state]
                return
            assert r.status_code == 200, (user, action, self.case, r.get_json())
            assert self.case.state not in TERMINAL
            self.case = after
            self.etag = r.headers["ETag"]

        @rule(user=st.sampled_from(USERS), text=st.text(alphabet="血压心电图ab12", min_size=1, max_size=8))
        def write(self, user, text):
            r = as_user(user).post(f"/api/v1/referrals/{self.id}/messages", json={"text": text})
            if r.status_code == 201:
                self.messages.append(text)
                assert self.case.state not in TERMINAL and visible(user, self.case)
            else:
                assert r.status_code in (403, 404, 409), r.get_json()

        @invariant()
        def server_agrees(self):
            body = as_user("admin").get(f"/api/v1/referrals/{self.id}").get_json()
            assert (body["state"], body["owner_id"], body["specialist_id"]) == (
                self.case.state, self.case.owner_id, self.case.specialist_id)
            # No lost message: every accepted message is in the thread, in order, once.
            assert [m["text"] for m in body["messages"] if m["kind"] == "message"] == self.messages
            if self.case.state in ("answered", "returned", "closed"):
                assert body["answer"] is not None and body["owner_id"] is not None
                kinds = [m["kind"] for m in body["messages"]]
                assert "accept" in kinds and kinds.index("accept") < kinds.index("answer")
            if self.case.state in TERMINAL:
                assert body["allowed_actions"] == []

    run_state_machine_as_test(ApiMachine, settings=settings(
        max_examples=15, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
