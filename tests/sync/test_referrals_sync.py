"""Referrals on the team's tablets (issue 13 item 6): cases, thread, answers and return forms through sync; a
case and a message written offline are pushed and get the server's state back; a refusal keeps the server's
reason; the directory arrives with the reference lists; the store upgrade downloads what it never had."""
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import func, select

from fieldapp.store import InvalidRecord, Store
from fieldapp.store.schema import UPGRADES
from fieldapp.sync.transport import TransportError
from gpcore.clock import china_today
from gpcore.referral import prefill

TODAY = china_today()


@pytest.fixture
def directory(world, session):
    """心内科 at H1 in the directory, and `spec` (H1 心内科) with an entry."""
    from server.directory.models import Department, SpecialistEntry
    session.add(Department(hospital_id=world.hospital_id, name="心内科", specialty="心血管内科 高血压"))
    session.add(SpecialistEntry(user_id=world.users["spec"], specialty="高血压", title="chief",
                                clinic_sessions=[{"weekday": 2, "half_day": "am"}], takes_econsult=True,
                                phone_for_teams="021-1111"))
    session.commit()
    return world


def _form(store, resident_id):
    """The upward form as the tablet pre-fills it (gpcore's rule), plus what the doctor writes."""
    res = store.resident(resident_id)
    lines = prefill.health_lines([(c["condition"], c["status"]) for c in res["conditions"]], res, [])
    form = prefill.upward_form(prefill.identity(res, res["address"], None, TODAY), lines, None, today=TODAY,
                               doctor="王医生", doctor_phone="021-5555", institution="一中心")
    return {**form, "initial_impression": "高血压控制不满意", "present_illness": "血压180/110"}


def _api_case(as_user, world, key="A1-0-1"):
    r = as_user("gp-a1").post("/api/v1/referrals", json={
        "resident_id": world.residents[key], "urgency": "routine", "kind": "econsult",
        "specialist_id": world.users["spec"],
        "form": {"referral_date": TODAY.isoformat(), "initial_impression": "x", "present_illness": "y",
                 "past_history": "z", "referring_doctor": "王医生", "doctor_phone": "1", "institution": "一中心"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_case_and_a_message_written_offline_get_the_servers_state(directory, tablet, as_user, session,
                                                                     server_scope, tablet_scope):
    world = directory
    existing = _api_case(as_user, world)
    store, engine = tablet("gp-a1")
    engine.sync()
    # The team's existing case, its thread and the directory came with the first download.
    assert [r["id"] for r in store.referrals()] == [existing]
    assert [m["kind"] for m in store.referral(existing)["messages"]] == ["create"]
    book = store.directory()
    assert [s["full_name"] for s in book["specialists"]] == ["spec"]
    assert book["specialists"][0]["clinic_sessions"] == [{"weekday": 2, "half_day": "am"}]
    assert [d["name"] for d in book["departments"]] == ["心内科"]
    rid = world.residents["A1-0-0"]
    # What the tablet can check offline is checked first (gpcore's form rules, Chinese messages).
    with pytest.raises(InvalidRecord) as bad:
        store.create_referral(rid, urgency="soon", kind="econsult", form={**_form(store, rid), "initial_impression": ""},
                              specialist_id=world.users["spec"])
    assert {"urgency", "initial_impression"} <= set(bad.value.errors) and store.outbox_count() == 0
    case = store.create_referral(rid, urgency="urgent", kind="econsult", form=_form(store, rid),
                                 specialist_id=world.users["spec"])
    local = store.referral(case)
    assert local["pending"] and local["state"] is None and local["department"] == "心内科"
    msg = store.post_referral_message(case, "患者今晨血压185/115", author_name="王医生")
    assert [m["id"] for m in store.referral(case)["messages"]] == [msg]
    result = engine.sync()
    assert result.synced and result.pushed == {"applied": 2}
    from server.referrals.models import Referral, ReferralMessage
    row = session.get(Referral, case)
    # The server's state machine started the case; the tablet holds the server's state back.
    assert (row.state, row.team_id, row.created_by) == ("requested", world.teams["A1"], world.users["gp-a1"])
    synced = store.referral(case)
    assert (synced["state"], synced["pending"], synced["response_due"]) == ("requested", False,
                                                                           row.response_due.isoformat())
    assert synced["form"]["to_institution"] == "市一医院"  # filled in by the server
    # The message is numbered by the server; the tablet's own row gave way to the server's.
    server_msg = session.scalar(select(ReferralMessage).where(ReferralMessage.client_id == msg))
    assert [m["id"] for m in synced["messages"]] == [m.id and str(m.id) for m in session.scalars(
        select(ReferralMessage).where(ReferralMessage.referral_id == case).order_by(ReferralMessage.id))]
    assert str(server_msg.id) in [m["id"] for m in synced["messages"]] and msg not in [m["id"] for m in synced["messages"]]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
    # The specialist answers and returns the case through the API; the next sync brings all of it.
    spec = as_user("spec")
    etag = spec.get(f"/api/v1/referrals/{case}").headers["ETag"]
    for path, body in (("accept", {}), ("answer", {"outcome": "advice", "advice": "加用缬沙坦", "plan": "两周复测"}),
                       ("return", {"form": {"diagnosis": "高血压3级", "main_results": "心超正常", "treatment": "调药",
                                            "plan": "氨氯地平5mg qd", "doctor": "李主任", "doctor_phone": "021-1",
                                            "institution": "市一医院", "return_date": TODAY.isoformat()}})):
        r = spec.post(f"/api/v1/referrals/{case}/{path}", json=body, headers={"If-Match": etag})
        assert r.status_code == 200, r.get_json()
        etag = r.headers["ETag"]
    engine.sync()
    back = store.referral(case)
    assert back["state"] == "returned" and back["answer"]["advice"] == "加用缬沙坦"
    assert back["return_form"]["diagnosis"] == "高血压3级"
    assert [m["kind"] for m in back["messages"]] == ["create", "message", "accept", "answer", "return_case"]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
    # Another team's tablet holds none of it.
    other, other_engine = tablet("gp-b1")
    other_engine.sync()
    assert other.referrals() == [] and other.count("referral_messages") == 0


def test_a_refused_case_keeps_the_servers_reason_until_fixed(directory, tablet, session):
    from server.directory.models import Department

    world = directory
    pool = Department(hospital_id=world.hospital_id, name="骨科", specialty="骨科")
    session.add(pool)
    session.commit()
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-0"]
    with pytest.raises(InvalidRecord) as err:  # a pool the directory on the tablet does not have
        store.create_referral(rid, urgency="routine", kind="transfer", form=_form(store, rid),
                              hospital_id=world.hospital_id, department="眼科")
    assert err.value.errors["department"] == ["专科目录中没有这个科室。"]
    case = store.create_referral(rid, urgency="routine", kind="transfer", form=_form(store, rid),
                                 hospital_id=world.hospital_id, department="骨科")
    session.delete(pool)  # the hospital closes the pool before the tablet's next sync
    session.commit()
    result = engine.sync()
    assert not result.needs_attention == 0 and result.pushed == {"rejected": 1}
    [item] = store.needs_attention()
    assert item["entity"] == "referrals" and item["entity_id"] == case
    assert item["reason"]["code"] == 422 and "department" in item["reason"]["errors"]
    assert "没有这个科室" in item["reason"]["message"] or "没有这个科室" in str(item["reason"]["errors"])
    store.fix_rejected(item["change_id"], {"department": "心内科"})
    assert engine.sync().synced and store.needs_attention() == []
    from server.referrals.models import Referral
    assert session.get(Referral, case).department == "心内科"
    assert store.referral(case)["state"] == "requested"


def test_a_fix_is_checked_as_a_new_case_and_a_refused_one_stays_until_it_passes(directory, tablet, session):
    """store.fix_rejected of a case runs create_referral's checks: a fix they refuse changes nothing (the case
    stays refused, with its reason); re-addressed from a specialist to a pool, the form loses
    the specialist's name."""
    from server.referrals.models import Referral

    world = directory
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-0"]
    case = store.create_referral(rid, urgency="routine", kind="econsult", form=_form(store, rid),
                                 specialist_id=world.users["spec"])
    assert store.referral(case)["form"]["receiving_doctor"]
    # As a sync marks what the server refused (the specialist stopped taking e-consults meanwhile).
    store.reject_batch(store.take_batch(10), {"code": 422, "message": "记录中有填写不对的项目。",
                                              "errors": {"kind": ["这位专科医生不接受线上会诊"]}})
    [item] = store.needs_attention()
    with pytest.raises(InvalidRecord) as err:
        store.fix_rejected(item["change_id"], {"form": {**item["fields"]["form"], "initial_impression": ""}})
    assert "initial_impression" in err.value.errors
    assert [i["change_id"] for i in store.needs_attention()] == [item["change_id"]]
    assert store.record("referrals", case) is None  # refused, it is on the sync screen's list only
    store.fix_rejected(item["change_id"], {"hospital_id": world.hospital_id, "department": "心内科"})
    assert engine.sync().synced and store.needs_attention() == []
    row = session.get(Referral, case)
    assert (row.department, row.specialist_id) == ("心内科", None) and "receiving_doctor" not in row.form


def test_a_message_to_a_closed_case_is_refused_with_the_state(directory, tablet, as_user, session):
    world = directory
    case = _api_case(as_user, world)
    store, engine = tablet("gp-a1")
    engine.sync()
    store.post_referral_message(case, "补充：已停药", author_name="王医生")
    # Meanwhile the team cancels it on the server.
    r = as_user("nurse-a1").post(f"/api/v1/referrals/{case}/cancel", json={"reason": "患者已就诊"},
                                 headers={"If-Match": "*"})
    assert r.status_code == 200, r.get_json()
    engine.sync()
    [item] = store.needs_attention()
    assert item["entity"] == "referral_messages" and item["reason"]["code"] == 409
    assert item["reason"]["errors"]["state"] == ["cancelled"]
    assert store.referral(case)["state"] == "cancelled"
    with pytest.raises(InvalidRecord) as closed:  # offline, the tablet now knows
        store.post_referral_message(case, "再补充", author_name="王医生")
    assert "state" in closed.value.errors


def test_a_lost_answer_sends_the_message_once(directory, tablet, as_user, session, server_scope, tablet_scope):
    world = directory
    case = _api_case(as_user, world)
    store, engine = tablet("gp-a1")
    engine.sync()
    msg = store.post_referral_message(case, "血压仍高", author_name="王医生")
    real = engine.transport.call

    def lose_answer(method, path, **kw):
        answer = real(method, path, **kw)
        if path.endswith("/push"):
            raise TransportError("answer lost")
        return answer
    engine.transport.call = lose_answer
    engine.retries = 0
    with pytest.raises(Exception):
        engine.sync()
    engine.transport.call = real
    assert [m["id"] for m in store.referral(case)["messages"] if m["kind"] == "message"] == [msg]
    result = engine.sync()
    assert result.synced and result.pushed == {"applied": 1}  # the duplicate's first answer
    from server.referrals.models import ReferralMessage
    assert session.scalar(select(func.count()).select_from(ReferralMessage).where(
        ReferralMessage.referral_id == case, ReferralMessage.kind == "message")) == 1
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])


def test_upgrade_6_downloads_the_cases_a_synced_tablet_never_had(directory, tablet, as_user, tmp_path):
    world = directory
    case = _api_case(as_user, world)
    _v5_store(str(tmp_path / "gp-a1.sqlite"))
    store, engine = tablet("gp-a1")
    assert store.schema_version == len(UPGRADES)
    assert (store.state("cursor"), store.state("snapshot_done"), store.state("gen"), store.state("ref")) == (
        None, False, 4, None)
    assert engine.sync().synced
    assert [r["id"] for r in store.referrals()] == [case] and store.directory()["specialists"]


def _v5_store(path):
    """A store file as the app before upgrade 6 left it after a finished download."""
    db = sqlite3.connect(path, isolation_level=None)
    for n, steps in enumerate(UPGRADES[:5]):
        for stmt in steps:
            db.execute(stmt)
        db.execute(f"PRAGMA user_version = {n + 1}")
    for key, value in (("cursor", '"c.0.99"'), ("snapshot_done", "true"), ("gen", "3"), ("ref", '"old"')):
        db.execute("INSERT INTO sync_state (key, value) VALUES (?, ?)", (key, value))
    db.close()


def test_the_tablet_prefills_the_upward_form_as_the_server_does(directory, tablet, as_user, visit_form):
    """One rule (gpcore.referral.prefill): the tablet's form from its store equals GET /referrals/prefill."""
    import uuid

    from fieldapp import referral as tablet_referral
    world = directory
    rid = world.residents["A1-0-0"]
    r = as_user("admin").post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"})
    assert r.status_code == 201, r.get_json()
    r = as_user("admin").patch(f"/api/v1/residents/{rid}", json={"drug_allergies": ["penicillin"]},
                               headers={"If-Match": "*"})
    assert r.status_code == 200, r.get_json()
    for n, (sbp, day) in enumerate(((150, 30), (172, 3))):  # the second uncontrolled visit asks for a referral
        r = as_user("gp-a1").post("/api/v1/followups", json={
            "id": str(uuid.uuid4()), "resident_id": rid, "condition": "hypertension",
            "form": visit_form((TODAY - dt.timedelta(days=day)).isoformat(), sbp=sbp, dbp=100,
                               referral_reason="两次随访血压控制不满意" if n else None,
                               referral_institution="市一医院" if n else None)})
        assert r.status_code == 201, r.get_json()
    server = as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={rid}").get_json()
    store, engine = tablet("gp-a1")
    engine.sync()
    form, suggested = tablet_referral.prefill(store, rid, TODAY, me={"full_name": "gp-a1"},
                                              center={"name": "甲中心"})
    assert form == server["form"]
    assert "青霉素" in form["allergies"] and len(form["recent_followups"]) == 2
    assert suggested["urgency"] == server["suggested"]["urgency"]
    assert form["present_illness"] == server["form"].get("present_illness")


def test_the_teams_actions_offline_are_decided_by_the_server_on_the_version_seen(directory, tablet, as_user,
                                                                                  session, visit_form):
    import uuid
    world = directory
    store, engine = tablet("gp-a1")
    asked = _api_case(as_user, world, "A1-0-0")
    stale = _api_case(as_user, world, "A1-0-1")
    spec = as_user("spec")
    for path, body in (("accept", {}), ("ask-info", {"question": "请补充心电图"})):
        assert spec.post(f"/api/v1/referrals/{asked}/{path}", json=body, headers={"If-Match": "*"}).status_code == 200
    engine.sync()
    assert store.team_actions(asked) == ["give_info", "cancel"] and store.team_actions(stale) == ["cancel"]
    with pytest.raises(InvalidRecord) as closing:  # the state machine, offline
        store.act_on_referral(stale, "close", {"followup_id": "x"})
    assert "不能结案" in closing.value.errors["action"][0]
    with pytest.raises(InvalidRecord) as empty:
        store.act_on_referral(asked, "give_info", {"info": ""})
    assert "info" in empty.value.errors
    store.act_on_referral(asked, "give_info", {"info": "心电图：窦性心律"})
    store.act_on_referral(stale, "cancel", {"reason": "患者已自行就诊"})
    assert store.team_actions(asked) == []  # waiting to go up
    # Meanwhile the specialist accepts the other case: the tablet decided on the version before.
    assert spec.post(f"/api/v1/referrals/{stale}/accept", json={}, headers={"If-Match": "*"}).status_code == 200
    result = engine.sync()
    assert result.pushed == {"applied": 1, "rejected": 1}
    assert store.referral(asked)["state"] == "accepted"  # back where ask_info left it, from the server
    [item] = store.needs_attention()
    assert item["entity_id"] == stale and item["reason"]["code"] == 412
    assert "已接诊" in item["reason"]["message"] and item["reason"]["errors"]["state"] == ["accepted"]
    assert store.referral(stale)["state"] == "accepted"
    # Decided again on what the case is now, the cancel goes through.
    store.fix_rejected(item["change_id"], {})
    assert engine.sync().synced and store.referral(stale)["state"] == "cancelled"
    # Answered, then the team's follow-up visit closes the loop, offline.
    r = spec.post(f"/api/v1/referrals/{asked}/answer", headers={"If-Match": "*"},
                  json={"outcome": "advice", "advice": "加药", "plan": "两周复测"})
    assert r.status_code == 200, r.get_json()
    rid = world.residents["A1-0-0"]
    assert as_user("admin").post(f"/api/v1/residents/{rid}/conditions",
                                 json={"condition": "hypertension"}).status_code == 201
    engine.sync()
    assert store.closing_visit(asked) is None
    visit = store.save_visit(rid, "hypertension", visit_form(TODAY.isoformat()))
    assert store.closing_visit(asked) == visit
    store.act_on_referral(asked, "close", {"followup_id": visit})
    assert engine.sync().synced
    from server.referrals.models import Referral
    row = session.get(Referral, asked)
    session.refresh(row)
    assert (row.state, row.closing_followup_id) == ("closed", visit)
    assert store.referral(asked)["state"] == "closed"
    assert uuid.UUID(visit)


def test_a_household_moved_to_another_team_takes_its_cases_to_that_teams_tablets(directory, tablet, as_user,
                                                                                 session, server_scope, tablet_scope):
    """The old team's tablet drops the case and its thread; the new team's gets them whole, with the system
    entry saying so, in the server's order; both hold exactly their scope."""
    world = directory
    moving = _api_case(as_user, world, "A1-0-1")    # household A1-0
    staying = _api_case(as_user, world, "A1-1-0")   # household A1-1
    a1, a1_sync = tablet("gp-a1")
    a2, a2_sync = tablet("gp-a2")
    a1_sync.sync()
    a2_sync.sync()
    assert {r["id"] for r in a1.referrals()} == {moving, staying} and a2.referrals() == []
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [world.households["A1-0"]],
                                                              "team_id": world.teams["A2"], "reason": "片区调整"})
    assert r.status_code == 200, r.get_json()
    assert a1_sync.sync().synced and a2_sync.sync().synced
    assert [r["id"] for r in a1.referrals()] == [staying]
    assert a1.db.execute("SELECT COUNT(*) FROM referral_messages WHERE referral_id = ?", (moving,)).fetchone()[0] == 0
    [case] = a2.referrals()
    assert (case["id"], case["team_id"]) == (moving, world.teams["A2"])
    thread = a2.referral(moving)["messages"]
    assert [(m["kind"], m["author_name"]) for m in thread] == [("create", "gp-a1"), ("team_move", "系统")]
    for team, store in (("A1", a1), ("A2", a2)):
        want, have = server_scope(session, world.teams[team]), tablet_scope(store)
        for entity in ("referrals", "referral_messages", "residents"):
            assert set(have[entity]) == set(want[entity]), (team, entity)
