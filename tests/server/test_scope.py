"""Walk every path of the OpenAPI document as every role: no record crosses a team or center boundary.

Each endpoint in the document must have an entry here, so a new endpoint cannot skip this test.
"""
import io

import pytest

from tests.conftest import world_layer

USERS = ("admin", "staff-a", "staff-b", "spec", "gp-a1", "nurse-a1", "gp-a2", "gp-b1")
TEAM_KEYS = ("A1", "A2", "A0", "B1")  # A0: center A, no team
VISIBLE = {  # which households' team keys each user may see
    "admin": {"A1", "A2", "A0", "B1"}, "staff-a": {"A1", "A2", "A0"}, "staff-b": {"B1"}, "spec": set(),
    "gp-a1": {"A1"}, "nurse-a1": {"A1"}, "gp-a2": {"A2"}, "gp-b1": {"B1"},
}
CENTER_OF = {"A1": "A", "A2": "A", "A0": "A", "B1": "B"}


# Each part adds one domain's targets to the scene (a registry entry, a batch, a visit, a referral...).
SCENE_PARTS = []


def scene_part(add):
    SCENE_PARTS.append(add)
    return add


@world_layer
def scene(ctx):
    """The world plus a registry entry in every team, so every id-bearing path has a target per team; then
    every scene_part's targets. Built once for the module's consecutive tests (tests/conftest.py's
    world_layer): it is some thirty requests, which cost four times the walk itself."""
    world, as_user = ctx.world, ctx.as_user
    world.conditions = {}
    for key in TEAM_KEYS:
        r = as_user("admin").post(f"/api/v1/residents/{world.residents[key + '-0-0']}/conditions",
                                  json={"condition": "hypertension"})
        assert r.status_code == 201
        world.conditions[key] = r.get_json()["id"]
    world.team_of_team_id = {v: k for k, v in world.teams.items()}
    world.center_key = {v: k for k, v in world.centers.items()}
    for add in SCENE_PARTS:
        add(world, ctx)
    return world


def own_household(w, user):
    keys = sorted(VISIBLE[user])
    return w.households[f"{keys[0]}-0"] if keys else w.households["A1-0"]


# --- requests aimed at one team's records -------------------------------------------------------
# Each returns (method, url, kwargs) for a target team key; the body is valid, so only scope can refuse.

def _res(w, key):
    return w.residents[f"{key}-1-1"]


TARGETED = {
    "GET /api/v1/households/{household_id}": lambda w, u, k: ("get", f"/api/v1/households/{w.households[k + '-1']}", {}),
    "PATCH /api/v1/households/{household_id}": lambda w, u, k: (
        "patch", f"/api/v1/households/{w.households[k + '-1']}", {"json": {"phone": "110"}, "headers": {"If-Match": "*"}}),
    "GET /api/v1/residents/{resident_id}": lambda w, u, k: ("get", f"/api/v1/residents/{_res(w, k)}", {}),
    "PATCH /api/v1/residents/{resident_id}": lambda w, u, k: (
        "patch", f"/api/v1/residents/{_res(w, k)}", {"json": {"phone": "110"}, "headers": {"If-Match": "*"}}),
    "POST /api/v1/residents/{resident_id}/move": lambda w, u, k: (
        "post", f"/api/v1/residents/{_res(w, k)}/move",
        {"json": {"household_id": own_household(w, u), "reason": "scope test"}, "headers": {"If-Match": "*"}}),
    "POST /api/v1/residents/{resident_id}/status": lambda w, u, k: (
        "post", f"/api/v1/residents/{_res(w, k)}/status",
        {"json": {"status": "moved_out", "date": "2026-01-01"}, "headers": {"If-Match": "*"}}),
    "POST /api/v1/residents/{resident_id}/conditions": lambda w, u, k: (
        "post", f"/api/v1/residents/{_res(w, k)}/conditions", {"json": {"condition": "t2dm"}}),
    "PATCH /api/v1/conditions/{condition_id}": lambda w, u, k: (
        "patch", f"/api/v1/conditions/{w.conditions[k]}",
        {"json": {"status": "lost", "status_date": "2026-01-01", "status_reason": "x"}, "headers": {"If-Match": "*"}}),
    "POST /api/v1/residents": lambda w, u, k: (
        "post", "/api/v1/residents",
        {"json": {"household_id": w.households[k + "-1"], "name": "测试", "sex": "1", "birth_date": "1970-01-01"}}),
    "POST /api/v1/households": lambda w, u, k: (
        "post", "/api/v1/households", {"json": {"committee_id": w.committees[k], "address": "某路1号"}}),
    "POST /api/v1/assignments/": lambda w, u, k: (
        "post", "/api/v1/assignments/",
        {"json": {"household_ids": [w.households[k + "-1"]], "team_id": None, "reason": "scope test"}}),
    "POST /api/v1/assignments/by-committee": lambda w, u, k: (
        "post", "/api/v1/assignments/by-committee",
        {"json": {"committee_id": w.committees[k], "team_id": None, "reason": "scope test"}}),
    "POST /api/v1/assignments/proposal/accept": lambda w, u, k: (
        "post", "/api/v1/assignments/proposal/accept",
        {"json": {"moves": [{"household_id": w.households[k + "-1"],
                             "from_team_id": w.teams.get(k), "to_team_id": w.teams["A1" if k == "B1" else "B1"]}],
                  "reason": "scope test"}}),
    "POST /api/v1/imports/residents": lambda w, u, k: (
        "post", f"/api/v1/imports/residents?center_id={w.centers[CENTER_OF[k]]}&dry_run=true",
        {"data": {"file": (io.BytesIO("户编号,居委会,家庭住址,姓名,性别,出生日期\n1,001,某路,张三,男,1970-01-01\n"
                                      .encode()), "x.csv")}, "content_type": "multipart/form-data"}),
    "GET /api/v1/teams/{team_id}": lambda w, u, k: ("get", f"/api/v1/teams/{w.teams.get(k, 0)}", {}),
    "GET /api/v1/assignments/load": lambda w, u, k: (
        "get", f"/api/v1/assignments/load?center_id={w.centers[CENTER_OF[k]]}", {}),
    "GET /api/v1/assignments/proposal": lambda w, u, k: (
        "get", f"/api/v1/assignments/proposal?center_id={w.centers[CENTER_OF[k]]}", {}),
}

# Endpoints for one role only: everybody else gets 403.
ROLE_ONLY = {
    "POST /api/v1/users/": ("admin", lambda w: {"json": {"username": "zz-new", "password": "long-enough-pw",
                                                        "full_name": "x", "role": "admin"}}),
    "PATCH /api/v1/users/{user_id}": ("admin", lambda w: {"json": {"phone": "1"}}),
    "PUT /api/v1/users/{user_id}/team": ("admin", lambda w: {"json": {"team_id": w.teams["A1"], "reason": "调整"}}),
    "POST /api/v1/centers": ("admin", lambda w: {"json": {"code": "Z", "name": "z", "county_code": "110101",
                                                          "township_code": "001", "township_name": "z"}}),
    "POST /api/v1/teams": ("admin", lambda w: {"json": {"center_id": w.centers["A"], "name": "新团队"}}),
    "POST /api/v1/committees": ("admin", lambda w: {"json": {"center_id": w.centers["A"], "code": "009",
                                                             "name": "新居委"}}),
    "POST /api/v1/hospitals": ("admin", lambda w: {"json": {"code": "HZ", "name": "新医院"}}),
    "GET /api/v1/audit/": ("admin", lambda w: {}),
}

LISTS = ("GET /api/v1/households", "GET /api/v1/residents", "GET /api/v1/users/", "GET /api/v1/teams",
         "GET /api/v1/committees", "GET /api/v1/centers", "GET /api/v1/hospitals",
         "GET /api/v1/assignments/history", "GET /api/v1/assignments/batches")
# Sign-in endpoints act on the caller only; tested in test_auth.
SELF = ("POST /api/v1/auth/login", "POST /api/v1/auth/refresh", "POST /api/v1/auth/logout", "GET /api/v1/auth/me")


def spec_endpoints(client):
    spec = client.get("/openapi.json").get_json()
    return {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "patch", "put", "delete")}


def test_every_endpoint_is_walked(client, world):
    covered = set(TARGETED) | set(ROLE_ONLY) | set(LISTS) | set(SELF)
    missing = spec_endpoints(client) - covered
    assert not missing, f"add these endpoints to the scope walk: {sorted(missing)}"


def pytest_generate_tests(metafunc):
    """Parametrize the walks once the whole module has run: the follow-up and lab entries are added to
    TARGETED and ROLE_ONLY below the tests, where a decorator's sorted(TARGETED) never saw them."""
    walks = {"test_records_outside_scope_are_refused": TARGETED, "test_role_only_endpoints": ROLE_ONLY}
    if metafunc.function.__name__ in walks:
        metafunc.parametrize("endpoint", sorted(walks[metafunc.function.__name__]))


def test_records_outside_scope_are_refused(endpoint, scene, as_user, session):
    from server.households.models import Household, Resident

    before = {h.id: h.version for h in session.query(Household)} | {r.id: r.version for r in session.query(Resident)}
    for user in USERS:
        for key in TEAM_KEYS:
            if key in VISIBLE[user] or user == "admin":
                continue  # in scope: the allowed side is tested in the feature tests
            if endpoint.startswith("GET /api/v1/teams/") and key == "A0":
                continue  # A0 is a committee without a team
            if user.startswith("staff") and CENTER_OF[key] == user[-1].upper() and (
                    endpoint.endswith(("load", "proposal", "accept")) or endpoint.startswith("GET /api/v1/teams/")):
                continue  # center-wide views of the user's own center
            method, url, kw = TARGETED[endpoint](scene, user, key)
            r = getattr(as_user(user), method)(url, **kw)
            assert r.status_code in (403, 404, 422), (endpoint, user, key, r.status_code, r.get_json())
            body = r.get_json()
            assert set(body) <= {"code", "status", "message", "errors"}, body
            if r.status_code == 422:  # only the naming of an out-of-scope reference may give a 422
                assert set(body["errors"]) & {"committee_id", "household_id"}, (endpoint, user, body)
    session.expire_all()
    after = {h.id: h.version for h in session.query(Household)} | {r.id: r.version for r in session.query(Resident)}
    assert after == before, "an out-of-scope request changed a record"


def test_role_only_endpoints(endpoint, scene, as_user):
    role_user, body = ROLE_ONLY[endpoint]
    method, path = endpoint.split(" ")
    path = path.replace("{user_id}", str(scene.users["gp-b1"]))
    for user in USERS:
        if user == role_user:
            continue
        r = getattr(as_user(user), method.lower())(path, **body(scene))
        assert r.status_code == 403, (endpoint, user, r.get_json())


@pytest.mark.parametrize("user", USERS)
def test_lists_hold_only_what_the_user_may_see(user, scene, as_user):
    c = as_user(user)
    visible_teams = {scene.teams[k] for k in VISIBLE[user] if k in scene.teams}
    visible_centers = {scene.centers[CENTER_OF[k]] for k in VISIBLE[user]}
    hh_ids = {scene.households[f"{k}-{n}"] for k in VISIBLE[user] for n in range(2)}
    res_ids = {v for k, v in scene.residents.items() if k.split("-")[0] in VISIBLE[user]}

    def items(url):
        r = c.get(url)
        if user == "spec":
            assert r.status_code in (200, 403), (url, r.get_json())
            return [] if r.status_code == 403 else r.get_json().get("items", r.get_json())
        assert r.status_code == 200, (url, r.get_json())
        body = r.get_json()
        return body["items"] if isinstance(body, dict) else body

    got = items("/api/v1/households?page_size=500")
    assert {h["id"] for h in got} == (hh_ids if user != "spec" else set())
    got = items("/api/v1/residents?page_size=200")
    assert {r["id"] for r in got} == (res_ids if user != "spec" else set())
    for q in ("张", "zs", "路", "1380000"):
        assert {r["id"] for r in items(f"/api/v1/residents?q={q}&page_size=200")} <= res_ids
    for u in items("/api/v1/users/?page_size=200"):
        if user != "admin":
            assert u["center_id"] in visible_centers and (user.startswith("staff") or u["team_id"] in visible_teams)
    for t in items("/api/v1/teams"):
        assert user == "admin" or t["center_id"] in visible_centers
        if user.startswith(("gp", "nurse")):
            assert t["id"] in visible_teams
    for cm in items("/api/v1/committees"):
        assert user == "admin" or cm["center_id"] in visible_centers
    for ce in items("/api/v1/centers"):
        assert user == "admin" or ce["id"] in visible_centers
    r = c.get("/api/v1/assignments/history?page_size=500")
    if user in ("admin", "staff-a", "staff-b"):
        assert {h["household_id"] for h in r.get_json()["items"]} <= hh_ids | (set() if user != "admin" else set(scene.households.values()))
    else:
        assert r.status_code == 403
    r = c.get("/api/v1/assignments/batches?page_size=200")
    if user in ("admin", "staff-a", "staff-b"):
        expected = {b for k in (TEAM_KEYS if user == "admin" else VISIBLE[user]) for b in scene.all_batches[k]}
        assert {b["batch_id"] for b in r.get_json()["items"]} == expected
    else:
        assert r.status_code == 403


@scene_part
def _assignment_batches(w, ctx):
    """Per team key a batch to undo: household "-1" moved away and back, so its teams stay as they were;
    undoing the return batch is the target (out of scope, it must be refused and move nothing)."""
    admin = ctx.as_user("admin")
    w.batches, w.all_batches = {}, {}
    for key in TEAM_KEYS:
        hid, home = w.households[key + "-1"], w.teams.get(key)
        away = None if home is not None else w.teams["A1"]
        for team_id in (away, home):
            r = admin.post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": team_id, "reason": "scope"})
            assert r.status_code == 200, r.get_json()
            w.all_batches.setdefault(key, []).append(r.get_json()["batch_id"])
        w.batches[key] = r.get_json()["batch_id"]


TARGETED["POST /api/v1/assignments/batches/{batch_id}/undo"] = lambda w, u, k: (
    "post", f"/api/v1/assignments/batches/{w.batches[k]}/undo", {"json": {"reason": "scope test"}})

# Sync (issue 4): pull and the conflict log are lists in the caller's scope (checked in tests/sync/test_scope_sync.py);
# push answers per record, refusing out-of-scope records one by one, so it acts for the caller's own tablet.
LISTS += ("GET /api/v1/sync/pull", "GET /api/v1/sync/conflicts")
SELF += ("POST /api/v1/sync/push",)


# --- follow-ups (issue 3) -------------------------------------------------------------------------
# Every team key gets a signed hypertension visit for its resident "-1-1", recorded by admin, so the
# record-bearing paths below have a real target in every team.

FOLLOWUP_FORM = {"visit_date": "2026-01-05", "visit_mode": 1, "symptoms": [1], "sbp": 130, "dbp": 80,
                 "medication_adherence": 1, "adverse_reaction": 1, "doctor": "scope"}


@scene_part
def _followup_targets(w, ctx):
    import uuid

    admin = ctx.as_user("admin")
    w.followups = {}
    for key in TEAM_KEYS:
        rid = _res(w, key)
        assert admin.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"}).status_code == 201
        r = admin.post("/api/v1/followups", json={"id": str(uuid.uuid4()), "resident_id": rid,
                                                  "condition": "hypertension", "form": FOLLOWUP_FORM})
        assert r.status_code == 201, r.get_json()
        w.followups[key] = r.get_json()["id"]


def _fu_body(w, k, **extra):
    import uuid
    return {"id": str(uuid.uuid4()), "resident_id": _res(w, k), "condition": "hypertension", **extra}


TARGETED.update({
    "POST /api/v1/followups": lambda w, u, k: (
        "post", "/api/v1/followups", {"json": _fu_body(w, k, form={**FOLLOWUP_FORM, "visit_date": "2026-01-06"})}),
    "GET /api/v1/followups/{followup_id}": lambda w, u, k: ("get", f"/api/v1/followups/{w.followups[k]}", {}),
    "GET /api/v1/followups/{followup_id}/slip": lambda w, u, k: (
        "get", f"/api/v1/followups/{w.followups[k]}/slip", {}),
    "POST /api/v1/followups/{followup_id}/amendments": lambda w, u, k: (
        "post", f"/api/v1/followups/{w.followups[k]}/amendments",
        {"json": {"id": _fu_body(w, k)["id"], "reason": "scope test", "form": FOLLOWUP_FORM}}),
    "POST /api/v1/followups/lost": lambda w, u, k: (
        "post", "/api/v1/followups/lost", {"json": _fu_body(w, k, date="2026-01-07", reason="scope test")}),
    "POST /api/v1/followups/deaths": lambda w, u, k: (
        "post", "/api/v1/followups/deaths", {"json": _fu_body(w, k, date="2026-01-07", cause="scope test")}),
    "GET /api/v1/residents/{resident_id}/followups": lambda w, u, k: (
        "get", f"/api/v1/residents/{_res(w, k)}/followups", {}),
    "GET /api/v1/worklist": lambda w, u, k: ("get", f"/api/v1/worklist?team_id={w.teams.get(k, 0)}", {}),
    "GET /api/v1/followups/indicators": lambda w, u, k: (
        "get", f"/api/v1/followups/indicators?year=2026&team_id={w.teams.get(k, 0)}", {}),
    "GET /api/v1/followups/indicators/export": lambda w, u, k: (
        "get", f"/api/v1/followups/indicators/export?year=2026&format=csv&team_id={w.teams.get(k, 0)}", {}),
})
LISTS += ("GET /api/v1/followups",)


@pytest.mark.parametrize("user", USERS)
def test_followup_lists_hold_only_what_the_user_may_see(user, scene, as_user):
    c = as_user(user)
    mine = {scene.followups[k] for k in VISIBLE[user]}
    r = c.get("/api/v1/followups?page_size=500")
    if user == "spec":
        assert r.status_code == 403
        return
    assert {i["id"] for i in r.get_json()["items"]} == mine
    worklist = c.get("/api/v1/worklist?page_size=2000").get_json()["items"]
    visible_residents = {v for k, v in scene.residents.items() if k.split("-")[0] in VISIBLE[user]}
    assert {i["resident_id"] for i in worklist} <= visible_residents
    rows = c.get("/api/v1/followups/indicators?year=2026").get_json()["rows"]
    visible_teams = {scene.teams[k] for k in VISIBLE[user] if k in scene.teams}
    assert {r["team_id"] for r in rows if r["level"] == "team"} == visible_teams
    assert sum(r["visits"] for r in rows if r["level"] == "team") == len(mine - {scene.followups.get("A0")})


# --- lab results (issue 5) ------------------------------------------------------------------------
# Hospital feeds post with X-Lab-Feed-Key (no person's account may post): every signed-in user gets 403.
# The scene holds no lab reports or queued messages, so the report/message entries below only prove that an
# unknown id is refused; the per-team walk over real reports and messages is tests/server_labs/test_reports.py
# and test_matching.py. The resident entry is real.
_LAB_HL7 = (b"MSH|^~\\&|LIS|H1|GPO|C|20250302110000||ORU^R01|S-1|P|2.5\rPID|1||X^^^^MR||\xe5\xbc\xa0\xe4\xb8\x89"
            b"||19700101|M\rOBR|1||F-1|GLU^G^L\rOBX|1|NM|GLU^G^L||5.1|mmol/L|3.9-6.1|N|||F\r")
TARGETED.update({
    "GET /api/v1/residents/{resident_id}/lab-reports": lambda w, u, k: (
        "get", f"/api/v1/residents/{_res(w, k)}/lab-reports", {}),
    "GET /api/v1/lab-reports/{report_id}": lambda w, u, k: ("get", f"/api/v1/lab-reports/no-report-{k}", {}),
    # The walk over every role on real reports is tests/server_labs/test_reports.py (receipt).
    "GET /api/v1/lab-reports/{report_id}/receipt": lambda w, u, k: (
        "get", f"/api/v1/lab-reports/no-report-{k}/receipt", {}),
    "POST /api/v1/lab-reports/{report_id}/seen": lambda w, u, k: (
        "post", f"/api/v1/lab-reports/no-report-{k}/seen", {}),
    # The walk over every role on a real critical report is tests/server_labs/test_critical_calls.py.
    "PUT /api/v1/lab-reports/{report_id}/critical-call": lambda w, u, k: (
        "put", f"/api/v1/lab-reports/no-report-{k}/critical-call",
        {"json": {"note": "已电话通知", "report_changed_at": "2026-01-01T00:00:00+00:00"}}),
    "GET /api/v1/labs/unmatched/{message_id}": lambda w, u, k: ("get", f"/api/v1/labs/unmatched/no-msg-{k}", {}),
    "POST /api/v1/labs/unmatched/{message_id}/match": lambda w, u, k: (
        "post", f"/api/v1/labs/unmatched/no-msg-{k}/match", {"json": {"resident_id": _res(w, k)}}),
    "POST /api/v1/labs/unmatched/{message_id}/dismiss": lambda w, u, k: (
        "post", f"/api/v1/labs/unmatched/no-msg-{k}/dismiss", {"json": {"reason": "scope test"}}),
    # Refused messages: the per-center walk over real ones is tests/server_labs/test_rejections.py.
    "GET /api/v1/labs/rejections/{rejection_id}": lambda w, u, k: ("get", f"/api/v1/labs/rejections/no-rej-{k}", {}),
})
ROLE_ONLY.update({
    "POST /api/v1/labs/hl7": ("hospital_feed", lambda w: {"data": _LAB_HL7,
                                                          "content_type": "x-application/hl7-v2+er7"}),
    "POST /api/v1/labs/fhir": ("hospital_feed", lambda w: {"data": b'{"resourceType": "Bundle"}',
                                                           "content_type": "application/fhir+json"}),
    "GET /api/v1/labs/feeds": ("admin", lambda w: {}),
    "POST /api/v1/labs/feeds": ("admin", lambda w: {"json": {"hospital_id": w.hospital_id, "name": "scope feed",
                                                             "center_ids": [w.centers["A"]]}}),
    "POST /api/v1/labs/feeds/{feed_id}/revoke": ("admin", lambda w: {}),
})
LISTS += ("GET /api/v1/labs/unmatched", "GET /api/v1/lab-reports", "GET /api/v1/labs/rejections")


# --- referrals and the specialists' directory (issue 13) ------------------------------------------
# Every team gets a case for its resident "-1-1", sent by its GP to `spec-x` (H1 内分泌科) by name, so `spec`
# (H1 心内科) is "another specialist" and sees none of them; team A0 has no GP, so its entries aim at no case.
# The by-role walk below adds the addressed specialist (`spec-x`) and the allowed side of every path.

REFERRAL_GP = {"A1": "gp-a1", "A2": "gp-a2", "B1": "gp-b1"}
REFERRAL_BODIES = {"accept": {}, "decline": {"reason": "scope"}, "pass-to-pool": {"reason": "scope"},
                   "ask-info": {"question": "scope"}, "give-info": {"info": "scope"},
                   "answer": {"outcome": "advice", "advice": "scope", "plan": "scope"},
                   "return": {"form": {"diagnosis": "x"}}, "close": {"followup_id": "none"},
                   "cancel": {"reason": "scope"}}


def _referral_form():
    return {"referral_date": "2026-01-05", "initial_impression": "scope", "present_illness": "scope",
            "past_history": "scope", "referring_doctor": "scope", "doctor_phone": "1", "institution": "scope"}


@scene_part
def _referral_targets(w, ctx):
    from server.auth.users import create_user
    from server.directory.models import Department

    session, as_user = ctx.session, ctx.as_user
    ctx.app.config["FOLLOWUP_TODAY"] = "2026-01-05"
    session.add(Department(hospital_id=w.hospital_id, name="内分泌科", specialty="糖尿病"))
    u = create_user(session, {"username": "spec-x", "password": "correct-horse-1", "full_name": "spec-x",
                              "role": "specialist", "hospital_id": w.hospital_id, "department": "内分泌科"}, "fast")
    session.commit()
    w.users["spec-x"] = u.id
    w.referrals = {"A0": "no-referral-A0"}
    for key, gp in REFERRAL_GP.items():
        r = as_user(gp).post("/api/v1/referrals", json={"resident_id": _res(w, key), "urgency": "routine",
                                                         "kind": "econsult", "specialist_id": u.id,
                                                         "form": _referral_form()})
        assert r.status_code == 201, r.get_json()
        w.referrals[key] = r.get_json()["id"]


def _ref_action(slug):
    return lambda w, u, k: ("post", f"/api/v1/referrals/{w.referrals[k]}/{slug}",
                            {"json": REFERRAL_BODIES[slug], "headers": {"If-Match": "*"}})


TARGETED.update({
    "GET /api/v1/referrals/prefill": lambda w, u, k: ("get", f"/api/v1/referrals/prefill?resident_id={_res(w, k)}", {}),
    "POST /api/v1/referrals": lambda w, u, k: (
        "post", "/api/v1/referrals", {"json": {"resident_id": _res(w, k), "urgency": "routine", "kind": "econsult",
                                               "specialist_id": w.users["spec"], "form": _referral_form()}}),
    "GET /api/v1/referrals/{referral_id}": lambda w, u, k: ("get", f"/api/v1/referrals/{w.referrals[k]}", {}),
    "GET /api/v1/referrals/{referral_id}/resident-summary": lambda w, u, k: (
        "get", f"/api/v1/referrals/{w.referrals[k]}/resident-summary", {}),
    "POST /api/v1/referrals/{referral_id}/messages": lambda w, u, k: (
        "post", f"/api/v1/referrals/{w.referrals[k]}/messages", {"json": {"text": "scope"}}),
    "GET /api/v1/referrals/{referral_id}/slip": lambda w, u, k: ("get", f"/api/v1/referrals/{w.referrals[k]}/slip", {}),
    **{f"POST /api/v1/referrals/{{referral_id}}/{slug}": _ref_action(slug) for slug in REFERRAL_BODIES},
})
ROLE_ONLY.update({
    "POST /api/v1/directory/departments": ("admin", lambda w: {"json": {"hospital_id": w.hospital_id,
                                                                       "name": "骨科", "specialty": "骨科"}}),
    "PUT /api/v1/directory/specialists/{user_id}": ("admin", lambda w: {"json": {"specialty": "x",
                                                                                 "title": "chief"}}),
})
LISTS += ("GET /api/v1/referrals", "GET /api/v1/directory/departments", "GET /api/v1/directory/specialists")

REFERRAL_USERS = USERS + ("spec-x",)
# Who may read team A1's case (sent to spec-x by name): the team, its center's staff, admin, the addressee.
REFERRAL_READERS = {"admin", "staff-a", "gp-a1", "nurse-a1", "spec-x"}


@pytest.mark.parametrize("user", REFERRAL_USERS)
def test_referral_paths_by_role(user, scene, as_user, session):
    c, case = as_user(user), scene.referrals["A1"]
    reads = (c.get(f"/api/v1/referrals/{case}"), c.get(f"/api/v1/referrals/{case}/resident-summary"),
             c.get(f"/api/v1/referrals/{case}/slip?width=80"))
    for r in reads:
        assert r.status_code == (200 if user in REFERRAL_READERS else 404), (user, r.get_json())
    r = c.post(f"/api/v1/referrals/{case}/messages", json={"text": "scope"})
    writers = {"gp-a1", "nurse-a1", "spec-x"}
    assert r.status_code == (201 if user in writers else 403 if user in ("admin", "staff-a", "staff-b") else 404), (
        user, r.get_json())
    # Every action on the requested case: the ones the user may take are listed (and tested in
    # tests/server_referrals); a wrong state answers 409 naming it, no part in the case 403, out of scope 404.
    allowed = {"gp-a1": ["cancel"], "nurse-a1": ["cancel"], "spec-x": ["accept", "decline", "pass_to_pool", "ask_info"]}
    if user in REFERRAL_READERS:
        assert reads[0].get_json()["allowed_actions"] == allowed.get(user, []), user
    for slug, body in REFERRAL_BODIES.items():
        if slug.replace("-", "_").replace("return", "return_case") in allowed.get(user, []):
            continue
        r = c.post(f"/api/v1/referrals/{case}/{slug}", json=body, headers={"If-Match": "*"})
        if user in ("admin", "staff-a", "staff-b"):
            expected = 403  # they read; they do not act (role)
        elif user not in REFERRAL_READERS:
            expected = 404
        elif slug in ("give-info", "answer", "return", "close"):
            expected = 409
        else:
            expected = 403
        assert r.status_code == expected, (user, slug, r.get_json())
        if expected == 409:
            assert r.get_json()["errors"]["state"] == ["requested"]
    assert as_user("admin").get(f"/api/v1/referrals/{case}").get_json()["state"] == "requested"
    prefill = c.get(f"/api/v1/referrals/prefill?resident_id={_res(scene, 'A1')}")
    assert prefill.status_code == (200 if user in ("gp-a1", "nurse-a1") else 403 if user in (
        "admin", "staff-a", "staff-b", "spec", "spec-x") else 404), (user, prefill.get_json())


@pytest.mark.parametrize("user", REFERRAL_USERS)
def test_referral_lists_hold_only_what_the_user_may_see(user, scene, as_user):
    c = as_user(user)
    got = {r["id"] for r in c.get("/api/v1/referrals?page_size=500").get_json()["items"]}
    if user == "spec-x":
        mine = {v for k, v in scene.referrals.items() if k != "A0"}
    else:
        mine = {scene.referrals[k] for k in VISIBLE[user] if k != "A0"}
    assert got == mine, user
    if user.startswith(("gp", "nurse", "staff", "admin")):
        answers = c.get("/api/v1/worklist").get_json()["referral_answers"]
        visible_residents = {v for k, v in scene.residents.items() if k.split("-")[0] in VISIBLE[user]}
        assert {a["resident_id"] for a in answers} <= visible_residents
    for path in ("/api/v1/directory/departments", "/api/v1/directory/specialists"):
        assert c.get(path).status_code == 200


# --- tablets (issue 18) ---------------------------------------------------------------------------
# Every team with a GP enrols a tablet; A0 has no team, so its entries aim at no device. Enrolment acts for
# the caller's own team (a GP of another team is refused: tests/server_devices). The by-role walk below
# covers the allowed side of every device path too.

@scene_part
def _device_targets(w, ctx):
    import uuid

    as_user = ctx.as_user
    w.devices = {"A0": "no-device-A0"}
    for key, gp in REFERRAL_GP.items():
        r = as_user(gp).post("/api/v1/devices/enrol", json={"device_id": str(uuid.uuid4()), "model": "m",
                                                            "app_version": "1", "store_version": 1})
        assert r.status_code == 201, r.get_json()
        w.devices[key] = r.get_json()["device_id"]


TARGETED.update({
    "GET /api/v1/devices/{device_id}": lambda w, u, k: ("get", f"/api/v1/devices/{w.devices[k]}", {}),
    "POST /api/v1/devices/{device_id}/retire": lambda w, u, k: (
        "post", f"/api/v1/devices/{w.devices[k]}/retire", {"json": {}}),
    "POST /api/v1/devices/{device_id}/lost": lambda w, u, k: (
        "post", f"/api/v1/devices/{w.devices[k]}/lost", {"json": {}}),
    "POST /api/v1/devices/{device_id}/wiped": lambda w, u, k: ("post", f"/api/v1/devices/{w.devices[k]}/wiped", {}),
})
LISTS += ("GET /api/v1/devices",)
SELF += ("POST /api/v1/devices/enrol",)
# Who may read team A1's tablet, and who may order it retired or lost.
DEVICE_READERS = {"admin", "staff-a", "gp-a1", "nurse-a1"}
DEVICE_MANAGERS = {"admin", "staff-a"}


@pytest.mark.parametrize("user", USERS)
def test_device_paths_by_role(user, scene, as_user):
    c, dev = as_user(user), scene.devices["A1"]
    r = c.get(f"/api/v1/devices/{dev}")
    assert r.status_code == (200 if user in DEVICE_READERS else 403 if user == "spec" else 404), user
    listed = c.get("/api/v1/devices?page_size=500")
    if user == "spec":
        assert listed.status_code == 403
    else:
        assert {i["id"] for i in listed.get_json()["items"]} == {
            scene.devices[k] for k in VISIBLE[user] if k != "A0"}, user
    # A team member confirms no wipe an active tablet was not told to do (409), others of no part: 403/404.
    r = c.post(f"/api/v1/devices/{dev}/wiped")
    assert r.status_code == (409 if user in ("gp-a1", "nurse-a1") else 404 if user.startswith("gp") else 403), user
    for order in ("retire", "lost"):
        r = c.post(f"/api/v1/devices/{dev}/{order}", json={})
        if user in DEVICE_MANAGERS:
            assert r.status_code == 200 and r.get_json()["state"] == order, (user, r.get_json())
            break  # retire then lost: both allowed in this order
        assert r.status_code == (404 if user == "staff-b" else 403), (user, order, r.get_json())
    state = as_user("admin").get(f"/api/v1/devices/{dev}").get_json()["state"]
    assert state == ("retire" if user in DEVICE_MANAGERS else "active"), user
# --- referral metrics, export and a case's trends (issue 13, deadlines and metrics) ---------------------
# The scene's three cases are addressed by name to spec-x (H1 内分泌科): the metrics of spec-x hold all three,
# of `spec` (H1 心内科, another pool) none; a team its own, center staff their center's, admin every one.

TARGETED["GET /api/v1/referrals/{referral_id}/trends"] = lambda w, u, k: (
    "get", f"/api/v1/referrals/{w.referrals[k]}/trends", {})
LISTS += ("GET /api/v1/referrals/metrics", "GET /api/v1/referrals/metrics/export")
METRICS_SEES = {"admin": {"A1", "A2", "B1"}, "staff-a": {"A1", "A2"}, "staff-b": {"B1"}, "spec": set(),
                "spec-x": {"A1", "A2", "B1"}, "gp-a1": {"A1"}, "nurse-a1": {"A1"}, "gp-a2": {"A2"}, "gp-b1": {"B1"}}


@pytest.mark.parametrize("user", REFERRAL_USERS)
def test_referral_metrics_and_trends_by_role(user, scene, as_user):
    from openpyxl import load_workbook

    c = as_user(user)
    query = "by=team&date_from=2026-01-01&date_to=2026-01-31"
    report = c.get(f"/api/v1/referrals/metrics?{query}")
    assert report.status_code == 200, (user, report.get_json())
    team_names = {f"团队{k}" for k in METRICS_SEES[user]}
    assert {r["name"] for r in report.get_json()["rows"]} == team_names, user
    assert report.get_json()["total"]["cases"] == len(METRICS_SEES[user]), user
    export = c.get(f"/api/v1/referrals/metrics/export?{query}")
    assert export.status_code == 200, user
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert {row[0] for row in sheet.iter_rows(min_row=3, values_only=True)} == team_names | {"合计"}, user
    trends = c.get(f"/api/v1/referrals/{scene.referrals['A1']}/trends")
    assert trends.status_code == (200 if user in REFERRAL_READERS else 404), (user, trends.get_json())
# --- notifications (issue 13 item 5) ----------------------------------------------------------------
# The inbox is the caller's own: each role sees its own notices only and cannot mark another's read. SMS
# delivery status is a list scoped like the cases: a team's and a center's own, and one's own messages.
SELF += ("GET /api/v1/inbox", "GET /api/v1/inbox/unread-count", "POST /api/v1/inbox/{item_id}/read",
         "POST /api/v1/inbox/read-all")
LISTS += ("GET /api/v1/notifications/sms",)


@pytest.mark.parametrize("user", REFERRAL_USERS)
def test_inbox_and_sms_status_by_role(user, scene, as_user, session):
    from server.auth.models import User
    from server.notifications import services as notify
    from server.notifications.models import InboxItem

    session.get(User, scene.users["spec-x"]).phone = "13900000009"
    for key in REFERRAL_GP:  # the scene's cases were sent before the phone: a text per team as if urgent
        notify.queue_sms(session, topic="urgent_referral", phone="13900000009", text="scope",
                         user_id=scene.users["spec-x"], referral_id=scene.referrals[key], team_id=scene.teams[key],
                         center_id=scene.centers[CENTER_OF[key]])
    session.commit()
    c = as_user(user)
    items = c.get("/api/v1/inbox?page_size=500").get_json()["items"]
    owners = {session.get(InboxItem, i["id"]).user_id for i in items}
    assert owners <= {scene.users[user]}, user
    # spec-x got two notices per team's case (sent; an image attached by the team); each sending team's
    # other member (the nurse) was told nothing (the team's own doings tell the specialist side only).
    expected = ["referral_attachment", "referral_new"] * 3 if user == "spec-x" else []
    assert sorted(i["topic"] for i in items) == sorted(expected), (user, items)
    others = session.scalars(select_inbox_not_of(scene.users[user])).all()
    for other in others:
        r = c.post(f"/api/v1/inbox/{other}/read")
        assert r.status_code == 404, (user, r.get_json())
    assert c.post("/api/v1/inbox/read-all").status_code == 200
    session.expire_all()
    assert all(session.get(InboxItem, i).read_at is None for i in others)
    got = {m["referral_id"] for m in c.get("/api/v1/notifications/sms?page_size=500").get_json()["items"]}
    if user in ("admin", "spec-x"):
        expected = {scene.referrals[k] for k in REFERRAL_GP}
    else:
        expected = {scene.referrals[k] for k in REFERRAL_GP if k in VISIBLE[user]}
    assert got == expected, user


def select_inbox_not_of(user_id):
    from sqlalchemy import select

    from server.notifications.models import InboxItem
    return select(InboxItem.id).where(InboxItem.user_id != user_id)


# --- referral attachments (issue 13 item 2) ---------------------------------------------------------
# Every team's case gets a PNG from its GP; the walk aims every attachment path at another team's case.

def _png():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    return buf.getvalue()


@scene_part
def _attachment_targets(w, ctx):  # after _referral_targets: the cases it attaches to
    import io

    as_user = ctx.as_user
    w.attachments = {"A0": "no-attachment-A0"}
    for key, gp in REFERRAL_GP.items():
        r = as_user(gp).post(f"/api/v1/referrals/{w.referrals[key]}/attachments",
                             data={"file": (io.BytesIO(_png()), "x.png")}, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
        w.attachments[key] = r.get_json()["id"]


TARGETED.update({
    "GET /api/v1/referrals/{referral_id}/attachments": lambda w, u, k: (
        "get", f"/api/v1/referrals/{w.referrals[k]}/attachments", {}),
    "POST /api/v1/referrals/{referral_id}/attachments": lambda w, u, k: (
        "post", f"/api/v1/referrals/{w.referrals[k]}/attachments",
        {"data": {"file": (__import__("io").BytesIO(_png()), "x.png")}, "content_type": "multipart/form-data"}),
    "GET /api/v1/referrals/{referral_id}/attachments/{attachment_id}": lambda w, u, k: (
        "get", f"/api/v1/referrals/{w.referrals[k]}/attachments/{w.attachments[k]}", {}),
    "POST /api/v1/referrals/{referral_id}/lab-reports": lambda w, u, k: (
        "post", f"/api/v1/referrals/{w.referrals[k]}/lab-reports", {"json": {"lab_report_ids": ["none"]}}),
})


@pytest.mark.parametrize("user", REFERRAL_USERS)
def test_referral_attachments_by_role(user, scene, as_user):
    """Team A1's case (to spec-x): who reads its images, who adds to it; another case's image id is 404."""
    import io

    c, case, image = as_user(user), scene.referrals["A1"], scene.attachments["A1"]
    for path in (f"/api/v1/referrals/{case}/attachments", f"/api/v1/referrals/{case}/attachments/{image}"):
        assert c.get(path).status_code == (200 if user in REFERRAL_READERS else 404), (user, path)
    assert c.get(f"/api/v1/referrals/{case}/attachments/{scene.attachments['A2']}").status_code == 404
    r = c.post(f"/api/v1/referrals/{case}/attachments", data={"file": (io.BytesIO(_png()), "x.png")},
               content_type="multipart/form-data")
    writers = {"gp-a1", "nurse-a1", "spec-x"}
    assert r.status_code == (201 if user in writers else 403 if user in ("admin", "staff-a", "staff-b") else 404), (
        user, r.get_json())
    r = c.post(f"/api/v1/referrals/{case}/lab-reports", json={"lab_report_ids": ["none"]})
    # The team reaches the check of the ids (422); spec-x has a part but attaches no reports (403).
    expected = 422 if user in ("gp-a1", "nurse-a1") else 404 if user in ("gp-a2", "gp-b1") else 403
    assert r.status_code == expected, (user, r.get_json())


# --- FHIR for hospital systems (issue 13 item 8) ----------------------------------------------------
# Hospital systems authenticate with their feed key; every person's token is refused (403). Which cases a
# feed sees (its own hospital's; another hospital's feed gets 404) is walked in
# tests/server_referrals/test_fhir.py::test_the_task_search_is_the_hospitals_own.
ROLE_ONLY.update({
    "GET /api/v1/fhir/ServiceRequest/{referral_id}": ("hospital_feed", lambda w: {}),
    "GET /api/v1/fhir/Task/{referral_id}": ("hospital_feed", lambda w: {}),
    "GET /api/v1/fhir/Task": ("hospital_feed", lambda w: {}),
    "PUT /api/v1/fhir/Task/{referral_id}": ("hospital_feed", lambda w: {"json": {"resourceType": "Task"}}),
})
