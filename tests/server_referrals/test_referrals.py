"""Referrals over the API: prefill, send, the loop to closing, the thread, the summary, bad inputs."""


def test_prefill_comes_from_the_health_file(ref, as_user):
    r = as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={ref.w.residents['A1-0-0']}")
    body = ref.ok(r)
    form = body["form"]
    assert form["patient_name"] == "张三" and form["record_number"] and form["address"] == "A1路1号"
    assert form["referral_date"] == "2026-06-15" and form["institution"] == "甲中心"
    assert form["referring_doctor"] == "gp-a1"
    assert any("高血压" in c for c in form["conditions"])
    assert form["medications"] == ["氨氯地平 每日1次 每次5mg"]
    assert form["recent_followups"] == ["2026-06-01 高血压 血压168/98mmHg"]
    assert body["lab_reports"] == []


def test_prefill_only_for_the_residents_team(ref, as_user):
    for user in ("gp-a2", "gp-b1", "staff-a", "spec", "admin"):
        r = as_user(user).get(f"/api/v1/referrals/prefill?resident_id={ref.w.residents['A1-0-0']}")
        assert r.status_code in (403, 404), (user, r.get_json())


def test_the_whole_loop_to_closing(ref, as_user):
    case, etag = ref.send(to="pool", urgency="emergency")
    assert case["state"] == "requested" and case["specialist_id"] is None
    assert case["response_due"] == "2026-06-15"  # emergency: the same day
    assert case["form"]["to_institution"] == "市一医院" and case["form"]["to_department"] == "心内科"
    assert case["allowed_actions"] == ["cancel"]
    pool_view = ref.ok(as_user("spec-pool").get(f"/api/v1/referrals/{case['id']}"))
    assert pool_view["allowed_actions"] == ["accept", "decline", "ask_info"]
    etag = as_user("spec-pool").get(f"/api/v1/referrals/{case['id']}").headers["ETag"]
    accepted = ref.ok(ref.act("spec-pool", case["id"], "accept", etag))
    assert accepted["owner_id"] == ref.w.users["spec-pool"] and accepted["state"] == "accepted"
    # The other pool member no longer sees it once claimed.
    assert as_user("spec").get(f"/api/v1/referrals/{case['id']}").status_code == 404
    ref.ok(ref.act("spec-pool", case["id"], "ask_info"))
    ref.ok(ref.act("gp-a1", case["id"], "give_info"))
    answered = ref.ok(ref.act("spec-pool", case["id"], "answer"))
    assert answered["state"] == "answered" and answered["answered_on"] == "2026-06-15"
    assert answered["follow_up_due"] == "2026-06-29"
    # The answer is in the team's worklist.
    work = ref.ok(as_user("gp-a1").get("/api/v1/worklist"))
    assert [(i["referral_id"], i["plan"], i["follow_up_due"], i["overdue_days"]) for i in work["referral_answers"]] == [
        (case["id"], "两周后复测血压", "2026-06-29", None)]
    assert ref.ok(as_user("gp-a2").get("/api/v1/worklist"))["referral_answers"] == []
    returned = ref.ok(ref.act("spec-pool", case["id"], "return_case"))
    assert returned["return_form"]["diagnosis"] == "原发性高血压3级"
    work = ref.ok(as_user("nurse-a1").get("/api/v1/worklist"))
    assert work["referral_answers"][0]["plan"] == "氨氯地平5mg qd 缬沙坦80mg qd"
    # Closing needs a follow-up visit after the answer: the one before it is refused.
    r = ref.act("gp-a1", case["id"], "close", body={"followup_id": ref.w.visits["A1-0-0"]})
    assert r.status_code == 422 and "followup_id" in r.get_json()["errors"]
    visit = _visit(ref, as_user, "2026-06-15")
    closed = ref.ok(ref.act("gp-a1", case["id"], "close", body={"followup_id": visit}))
    assert closed["state"] == "closed" and closed["closing_followup_id"] == visit
    assert ref.ok(as_user("gp-a1").get("/api/v1/worklist"))["referral_answers"] == []
    kinds = [m["kind"] for m in closed["messages"]]
    assert kinds == ["create", "accept", "ask_info", "give_info", "answer", "return_case", "close"]
    assert closed["messages"][2]["text"] == "请补充近期心电图" and closed["messages"][3]["text"] == "心电图：窦性心律"
    # Terminal: nothing more, not even a message.
    r = ref.act("gp-a1", case["id"], "cancel")
    assert r.status_code == 409 and r.get_json()["errors"]["state"] == ["closed"]
    r = as_user("gp-a1").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": "还在吗"})
    assert r.status_code == 409


def _visit(ref, as_user, day):
    import uuid
    form = {"visit_date": day, "visit_mode": 1, "symptoms": [1],
            "sbp": 138, "dbp": 86, "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}
    r = as_user("gp-a1").post("/api/v1/followups", json={"id": str(uuid.uuid4()), "resident_id": ref.w.residents["A1-0-0"],
                                                         "condition": "hypertension", "form": form})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_named_specialist_passes_to_the_pool(ref, as_user):
    case, etag = ref.send(to="spec")
    assert as_user("spec-pool").get(f"/api/v1/referrals/{case['id']}").status_code == 404  # named: not the pool's
    assert ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}"))["allowed_actions"] == [
        "accept", "decline", "pass_to_pool", "ask_info"]
    passed = ref.ok(ref.act("spec", case["id"], "pass_to_pool", etag))
    assert passed["specialist_id"] is None and passed["state"] == "requested"
    ref.ok(ref.act("spec-pool", case["id"], "accept"))
    assert passed["messages"][-1]["text"] == "本周出差"


def test_decline_goes_back_to_the_team(ref, as_user):
    case, etag = ref.send(to="spec")
    r = ref.act("spec", case["id"], "decline", etag, body={"reason": "  "})
    assert r.status_code == 422 and r.get_json()["errors"] == {"reason": ["须填写原因。"]}
    declined = ref.ok(ref.act("spec", case["id"], "decline", etag))
    assert declined["state"] == "declined" and declined["allowed_actions"] == []
    rows = ref.ok(as_user("gp-a1").get("/api/v1/referrals?state=declined"))["items"]
    assert [r["id"] for r in rows] == [case["id"]]


def test_bad_inputs(ref, as_user):
    """What each bad input returns (recorded in the report)."""
    case, etag = ref.send(to="spec")
    # An action the state does not allow: 409 naming the current state.
    r = ref.act("spec", case["id"], "answer", etag)
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["errors"]["state"] == ["requested"] and "待接诊" in r.get_json()["message"]
    # The team trying the specialist's action: 403, the state named.
    r = ref.act("gp-a1", case["id"], "accept", etag)
    assert r.status_code == 403 and r.get_json()["errors"]["state"] == ["requested"]
    # Center staff and admin read but do not act.
    for user in ("staff-a", "admin"):
        assert ref.act(user, case["id"], "cancel").status_code == 403
    # No If-Match: 428; a stale one: 412 naming the state.
    assert ref.act("spec", case["id"], "accept", None).status_code == 428
    ref.ok(ref.act("spec", case["id"], "ask_info", etag))
    r = ref.act("gp-a1", case["id"], "give_info", etag)
    assert r.status_code == 412 and r.get_json()["errors"]["state"] == ["info_requested"]
    # A stale transition: two clicks on accept, the second sees the case already accepted: 409.
    fresh = as_user("gp-a1").get(f"/api/v1/referrals/{case['id']}").headers["ETag"]
    ref.ok(ref.act("gp-a1", case["id"], "give_info", fresh))
    ref.ok(ref.act("spec", case["id"], "accept"))
    r = ref.act("spec", case["id"], "accept", fresh)
    assert r.status_code == 409 and r.get_json()["errors"]["state"] == ["accepted"]
    # A foreign team's resident: 404 as if it did not exist.
    body = {"resident_id": ref.w.residents["B1-0-0"], "urgency": "urgent", "kind": "econsult",
            "specialist_id": ref.w.users["spec"], "form": ref.form()}
    r = as_user("gp-a1").post("/api/v1/referrals", json=body)
    assert r.status_code == 404 and r.get_json()["errors"] == {"resident_id": ["no such resident in your team"]}
    # A bad form: every field named, in Chinese.
    body = {"resident_id": ref.w.residents["A1-0-0"], "urgency": "soon", "kind": "econsult",
            "specialist_id": ref.w.users["spec"], "form": {}}
    r = as_user("gp-a1").post("/api/v1/referrals", json=body)
    assert r.status_code == 422 and r.get_json()["errors"] == {"urgency": ["紧急程度只能选：routine（普通）、urgent（紧急）、emergency（急诊）。"]}
    body["urgency"] = "routine"
    r = as_user("gp-a1").post("/api/v1/referrals", json=body)
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"referral_date", "initial_impression", "present_illness",
                                           "past_history", "referring_doctor", "doctor_phone", "institution"}
    # A pool that is not in the directory, a specialist who does not exist, another resident's lab report.
    for extra, field in (({"hospital_id": ref.w.hospital_id, "department": "骨科"}, "department"),
                         ({"specialist_id": 99999}, "specialist_id"),
                         ({"specialist_id": ref.w.users["gp-a2"]}, "specialist_id")):
        body = {"resident_id": ref.w.residents["A1-0-0"], "urgency": "routine", "kind": "transfer",
                "form": ref.form(), **extra}
        r = as_user("gp-a1").post("/api/v1/referrals", json=body)
        assert r.status_code == 422 and field in r.get_json()["errors"], (extra, r.get_json())
    r = as_user("gp-a1").post("/api/v1/referrals", json={**body, "specialist_id": ref.w.users["spec"],
                                                         "lab_report_ids": ["no-such-report"]})
    assert r.status_code == 422 and "lab_report_ids" in r.get_json()["errors"]


def test_answer_checks_and_cancel_only_before_the_answer(ref, as_user):
    case, _ = ref.send(to="spec")
    ref.ok(ref.act("spec", case["id"], "accept"))
    r = ref.act("spec", case["id"], "answer", body={"outcome": "clinic", "advice": "来门诊", "plan": "复查"})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"clinic_date", "clinic_session"}
    ref.ok(ref.act("spec", case["id"], "answer", body={"outcome": "advice", "advice": "加药", "plan": "两周复查"}))
    r = ref.act("gp-a1", case["id"], "cancel")
    assert r.status_code == 409 and r.get_json()["errors"]["state"] == ["answered"]


def test_thread_and_summary_are_read_audited(ref, as_user, session):
    from sqlalchemy import select
    from server.audit.models import AuditEvent

    case, _ = ref.send(to="spec")
    ref.ok(as_user("spec").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": "请问血脂如何？"}), 201)
    ref.ok(as_user("gp-a1").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": "LDL 3.9"}), 201)
    r = as_user("spec-endo").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": "x"})
    assert r.status_code == 404
    r = as_user("spec").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": ""})
    assert r.status_code == 422
    summary = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/resident-summary"))
    assert summary["patient_name"] == "张三" and summary["visits"][0]["sbp"] == 168
    assert summary["visits"][0]["visit_date"] == "2026-06-01"
    assert "household_id" not in summary
    thread = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}"))["messages"]
    assert [(m["kind"], m["text"]) for m in thread] == [("create", None), ("message", "请问血脂如何？"),
                                                        ("message", "LDL 3.9")]
    events = session.execute(select(AuditEvent.username, AuditEvent.action, AuditEvent.entity)
                             .where(AuditEvent.resident_id == ref.w.residents["A1-0-0"])).all()
    assert ("spec", "read", "resident_summary") in events and ("spec", "read", "referral") in events
    # A specialist still sees no household file directly.
    assert as_user("spec").get(f"/api/v1/residents/{ref.w.residents['A1-0-0']}").status_code == 403


def test_lists_by_role(ref, as_user):
    named, _ = ref.send(to="spec")
    pool, _ = ref.send(to="pool", urgency="routine")
    other_team, _ = ref.send("B1-0-0", user="gp-b1", to="spec-endo")

    def ids(user, query=""):
        return {r["id"] for r in ref.ok(as_user(user).get(f"/api/v1/referrals?page_size=100{query}"))["items"]}

    assert ids("admin") == {named["id"], pool["id"], other_team["id"]}
    assert ids("gp-a1") == ids("nurse-a1") == ids("staff-a") == {named["id"], pool["id"]}
    assert ids("gp-a2") == set() and ids("gp-b1") == ids("staff-b") == {other_team["id"]}
    assert ids("spec") == {named["id"], pool["id"]}
    assert ids("spec-pool") == {pool["id"]}
    assert ids("spec-endo") == {other_team["id"]}
    assert ids("staff-a", "&overdue=true") == set()


def test_directory(ref, as_user):
    r = as_user("gp-b1").get("/api/v1/directory/specialists?specialty=高血压")
    rows = ref.ok(r)
    assert [(s["full_name"], s["title_label"], s["department_specialty"]) for s in rows] == [
        ("spec", "主任医师", "心血管内科 高血压")]
    assert [d["name"] for d in ref.ok(as_user("spec").get("/api/v1/directory/departments?specialty=糖尿病"))] == ["内分泌科"]
    body = {"specialty": "糖尿病", "title": "attending", "clinic_sessions": [{"weekday": 3, "half_day": "pm"}],
            "takes_econsult": False}
    assert as_user("gp-a1").put(f"/api/v1/directory/specialists/{ref.w.users['spec-endo']}", json=body).status_code == 403
    row = ref.ok(as_user("admin").put(f"/api/v1/directory/specialists/{ref.w.users['spec-endo']}", json=body))
    assert row["clinic_sessions"] == [{"weekday": 3, "half_day": "pm"}] and row["takes_econsult"] is False
    # Not taking e-consultations: an e-consultation addressed to them is refused, a transfer is not.
    r = as_user("gp-a1").post("/api/v1/referrals", json={
        "resident_id": ref.w.residents["A1-0-0"], "urgency": "routine", "kind": "econsult",
        "specialist_id": ref.w.users["spec-endo"], "form": ref.form()})
    assert r.status_code == 422 and "kind" in r.get_json()["errors"]
    r = as_user("admin").put(f"/api/v1/directory/specialists/{ref.w.users['gp-a1']}", json=body)
    assert r.status_code == 404
    r = as_user("admin").post("/api/v1/directory/departments", json={"hospital_id": ref.w.hospital_id,
                                                                     "name": "心内科", "specialty": "x"})
    assert r.status_code == 409


def test_a_referral_the_rules_asked_for_is_offered_prefilled(ref, as_user):
    import uuid

    body = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={ref.w.residents['A1-0-0']}"))
    assert body["suggested"] is None  # one uncontrolled visit: a 2-week recheck, no referral yet
    form = {"visit_date": "2026-06-14", "visit_mode": 1, "symptoms": [1], "sbp": 172, "dbp": 102,
            "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}
    r = as_user("gp-a1").post("/api/v1/followups", json={"id": str(uuid.uuid4()), "resident_id": ref.w.residents["A1-0-0"],
                                                         "condition": "hypertension", "form": form})
    assert r.status_code == 201 and r.get_json()["referral"] != "none", r.get_json()["assessment"]
    body = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={ref.w.residents['A1-0-0']}"))
    assert body["suggested"]["urgency"] == r.get_json()["referral"] and body["suggested"]["reason"]
    assert body["form"]["present_illness"] == body["suggested"]["reason"]


def test_overdue_cases_for_center_staff(ref, as_user, clean_app):
    case, _ = ref.send(to="pool", urgency="routine")
    assert case["response_due"] == "2026-06-18"  # 3 working days
    urgent, _ = ref.send(to="spec", urgency="urgent")

    def overdue(user):
        return [r["id"] for r in ref.ok(as_user(user).get("/api/v1/referrals?overdue=true"))["items"]]

    assert overdue("staff-a") == []
    clean_app.config["FOLLOWUP_TODAY"] = "2026-06-19"
    assert overdue("staff-a") == [urgent["id"], case["id"]]  # the more urgent first
    assert overdue("staff-b") == [] and overdue("spec-pool") == [case["id"]]
    ref.ok(ref.act("spec-pool", case["id"], "accept"))
    assert overdue("staff-a") == [urgent["id"]]


def test_lab_reports_attached_by_reference(ref, as_user, session):
    import datetime as dt
    from server.labs.models import LabReport

    mine = LabReport(hospital_id=ref.w.hospital_id, resident_id=ref.w.residents["A1-0-0"], panel_name="血脂四项",
                     abnormal=True, reported_at=dt.datetime(2026, 6, 10, 9, tzinfo=dt.timezone.utc))
    theirs = LabReport(hospital_id=ref.w.hospital_id, resident_id=ref.w.residents["A1-0-1"], panel_name="血常规")
    session.add_all([mine, theirs])
    session.commit()
    body = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={ref.w.residents['A1-0-0']}"))
    assert [(r["id"], r["panel_name"], r["abnormal"]) for r in body["lab_reports"]] == [(mine.id, "血脂四项", True)]
    r = as_user("gp-a1").post("/api/v1/referrals", json={
        "resident_id": ref.w.residents["A1-0-0"], "urgency": "routine", "kind": "econsult",
        "specialist_id": ref.w.users["spec"], "form": ref.form(), "lab_report_ids": [mine.id, theirs.id]})
    assert r.status_code == 422 and theirs.id in r.get_json()["errors"]["lab_report_ids"][0]
    case, _ = ref.send(lab_report_ids=[mine.id])
    summary = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/resident-summary"))
    assert [r["panel_name"] for r in summary["lab_reports"]] == ["血脂四项"]
    # The specialist reads the report through the case only: the report's own path stays closed.
    assert as_user("spec").get(f"/api/v1/lab-reports/{mine.id}").status_code in (403, 404)
