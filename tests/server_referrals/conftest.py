"""Referral fixtures on top of `world` (tests/conftest.py): the directory, more specialists, a visit to
prefill from, and helpers to send and move cases over the API (shared through `ref`: modules cannot import)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.conftest import world_layer

TODAY = dt.date(2026, 6, 15)
VISIT_FORM = {"visit_date": "2026-06-01", "visit_mode": 1, "symptoms": [1], "sbp": 168, "dbp": 98,
              "weight_kg": 68.0, "height_cm": 168.0, "heart_rate": 72, "medication_adherence": 1,
              "adverse_reaction": 1, "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}],
              "doctor": "王医生"}
BODIES = {"accept": {}, "decline": {"reason": "不属本科"}, "pass_to_pool": {"reason": "本周出差"},
          "ask_info": {"question": "请补充近期心电图"}, "give_info": {"info": "心电图：窦性心律"},
          "answer": {"outcome": "clinic", "advice": "加用缬沙坦", "plan": "两周后复测血压",
                     "clinic_date": "2026-06-18", "clinic_session": "am"},
          "return_case": {"form": {"diagnosis": "原发性高血压3级", "main_results": "心超正常", "treatment": "调整降压药",
                                   "plan": "氨氯地平5mg qd 缬沙坦80mg qd", "doctor": "心内科医生",
                                   "doctor_phone": "021-1234", "institution": "市一医院",
                                   "return_date": "2026-06-15"}},
          "cancel": {"reason": "患者已自行就诊"}}
PATHS = {"accept": "accept", "decline": "decline", "pass_to_pool": "pass-to-pool", "ask_info": "ask-info",
         "give_info": "give-info", "answer": "answer", "return_case": "return", "close": "close", "cancel": "cancel"}


@world_layer
def referral_world(ctx):
    """The world with: departments 心内科 and 内分泌科 at H1 in the directory; specialists `spec` (H1 心内科,
    the addressed one), `spec-pool` (H1 心内科), `spec-endo` (H1 内分泌科); a hypertension visit of A1-0-0
    and of B1-0-0 (world.visits); today pinned. Built once for the consecutive tests that stand on it (a
    world_layer: each is rolled back to it); building it for each of some fifty tests cost a second of CPU
    per worker."""
    from server.auth.users import create_user
    from server.directory.models import Department, SpecialistEntry

    world, session, as_user = ctx.world, ctx.session, ctx.as_user
    ctx.app.config["FOLLOWUP_TODAY"] = TODAY
    session.add_all([Department(hospital_id=world.hospital_id, name="心内科", specialty="心血管内科 高血压"),
                     Department(hospital_id=world.hospital_id, name="内分泌科", specialty="糖尿病 内分泌")])
    for name, dept in (("spec-pool", "心内科"), ("spec-endo", "内分泌科")):
        u = create_user(session, {"username": name, "password": "correct-horse-1", "full_name": name,
                                  "role": "specialist", "hospital_id": world.hospital_id, "department": dept}, "fast")
        session.flush()
        world.users[name] = u.id
    session.add(SpecialistEntry(user_id=world.users["spec"], specialty="高血压 心衰", title="chief",
                                clinic_sessions=[{"weekday": 2, "half_day": "am"}], takes_econsult=True,
                                phone_for_teams="021-1111"))
    session.commit()
    admin = as_user("admin")
    world.visits = {}
    for key, gp in (("A1-0-0", "gp-a1"), ("B1-0-0", "gp-b1")):
        rid = world.residents[key]
        assert admin.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"}).status_code == 201
        r = as_user(gp).post("/api/v1/followups", json={"id": str(uuid.uuid4()), "resident_id": rid,
                                                         "condition": "hypertension", "form": VISIT_FORM})
        assert r.status_code == 201, r.get_json()
        world.visits[key] = r.get_json()["id"]
    return world


@pytest.fixture
def ref(referral_world, as_user):
    """`referral_world` (the test's `world`) and helpers to send and move cases over the API."""
    world = referral_world

    class Helpers:
        w = world
        today = TODAY
        bodies = BODIES

        @staticmethod
        def form(resident_key="A1-0-0", user="gp-a1"):
            r = as_user(user).get(f"/api/v1/referrals/prefill?resident_id={world.residents[resident_key]}")
            assert r.status_code == 200, r.get_json()
            return {"doctor_phone": "021-5555", **r.get_json()["form"], "initial_impression": "高血压控制不满意",
                    "present_illness": "连续两次随访血压>160/95"}

        @staticmethod
        def send(resident_key="A1-0-0", user="gp-a1", to="spec", **extra):
            body = {"resident_id": world.residents[resident_key], "urgency": "urgent", "kind": "econsult",
                    "form": Helpers.form(resident_key, user), **extra}
            if to == "pool":
                body.update(hospital_id=world.hospital_id, department="心内科")
            elif to is not None:
                body["specialist_id"] = world.users[to]
            r = as_user(user).post("/api/v1/referrals", json=body)
            assert r.status_code == 201, r.get_json()
            return r.get_json(), r.headers["ETag"]

        @staticmethod
        def act(user, referral_id, action, etag="*", body=None):
            headers = {"If-Match": etag} if etag is not None else {}
            return as_user(user).post(f"/api/v1/referrals/{referral_id}/{PATHS[action]}",
                                      json=BODIES.get(action, {}) if body is None else body, headers=headers)

        @staticmethod
        def ok(response, status=200):
            assert response.status_code == status, response.get_json()
            return response.get_json()

    return Helpers
