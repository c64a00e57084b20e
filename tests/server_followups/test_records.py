"""Signed follow-up records over the API: rules re-run, idempotent resend, 409, 422s, amendments, entries."""
import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from gpcore import followup as rules



def _age(birth: str, on: str) -> int:
    return rules.age_on(dt.date.fromisoformat(birth), dt.date.fromisoformat(on))


def test_visit_is_signed_with_the_rules_decisions(fu, as_user, session):
    fu.register("A1-0-0")  # born 1950: age 76, target < 150/90
    form = fu.htn_form("2026-06-01", sbp=146, dbp=84, classification=None)
    rec = fu.ok(fu.visit("A1-0-0", form, recorded_at="2026-06-01T09:30:00+08:00",
                         device_assessment={"classification": 1, "emergency": False,
                                            "next_visit_date": "2026-08-30"}))
    resident = as_user("gp-a1").get(f"/api/v1/residents/{fu.w.residents['A1-0-0']}").get_json()
    visit, problems = rules.parse_hypertension_visit(form, today=fu.TODAY)
    assert problems == []
    expected = rules.assess_hypertension_visit(
        visit, patient_age=_age(resident["birth_date"], "2026-06-01"), previous=None, earlier_visits_this_year=0)
    assert expected.classification == 1  # 146/84 is on target at 76, not at 55
    assert rec["classification"] == expected.classification
    assert rec["emergency"] is expected.emergency is False
    assert rec["rules_next_visit_date"] == expected.next_visit_date.isoformat()
    assert rec["next_visit_date"] == expected.next_visit_date.isoformat()  # the form left it empty
    assert rec["rules_version"] == rules.RULES_VERSION
    assert rec["assessment"] == expected.to_dict()
    assert rec["bp_controlled"] is True
    assert rec["form"]["sbp"] == 146 and rec["form"]["medications"][0]["name"] == "氨氯地平"
    recorded = dt.datetime.fromisoformat(rec["recorded_at"])  # device time kept as the same instant
    assert recorded == dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.timezone.utc)
    assert rec["received_at"] and rec["signed_by"] == fu.w.users["gp-a1"]
    assert rec["effective"] is True and rec["revision"] == 0 and rec["original_id"] == rec["id"]
    # The tablet said "next in 90 days": the server's yearly-minimum booking differs and is flagged.
    assert expected.next_visit_date != dt.date(2026, 8, 30)
    assert rec["disagreement"] == ["device.next_visit_date"]
    assert "next_visit_date" in rec["missing_fields"] and "classification" in rec["missing_fields"]


def test_second_uncontrolled_visit_refers_and_books_two_weeks(fu):
    fu.register("A1-0-1")  # born 1970: target < 140/90
    first = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-01", sbp=150, dbp=95, classification=2)))
    assert first["classification"] == 2 and first["referral"] == "none"
    assert first["next_visit_date"] == "2026-05-15"
    second = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-15", sbp=152, dbp=96, classification=2,
                                                referral_reason="连续两次控制不满意",
                                                referral_institution="仁济医院东院",
                                                referral_department="心内科")))
    assert second["referral"] == "routine" and second["referred"] is True
    assert second["assessment"]["consecutive_uncontrolled"] is True
    assert second["next_visit_date"] == "2026-05-29"
    assert second["disagreement"] == []


def test_emergency_and_diabetes_control(fu):
    fu.register("A1-1-0", "t2dm")
    rec = fu.ok(fu.visit("A1-1-0", fu.dm_form("2026-06-10", fpg_mmol=17.2, classification=2), condition="t2dm"))
    assert rec["emergency"] is True and rec["referral"] == "urgent" and rec["fpg_controlled"] is False
    assert rec["fpg_mmol"] == 17.2 and rec["bp_controlled"] is True
    assert rec["next_visit_date"] == "2026-06-24"


def test_resend_is_idempotent_and_changed_content_conflicts(fu, session):
    from server.followups.models import FollowUp

    fu.register("A1-0-0")
    rid = fu.new_id()
    first = fu.ok(fu.visit("A1-0-0", fu.htn_form(), record_id=rid))
    again = fu.ok(fu.visit("A1-0-0", fu.htn_form(), record_id=rid), 200)
    assert again == first
    changed = fu.visit("A1-0-0", fu.htn_form(sbp=132), record_id=rid)
    assert changed.status_code == 409
    body = changed.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and "id" in body["errors"]
    assert session.scalar(select(FollowUp.sbp).where(FollowUp.id == rid)) == 128  # nothing saved is lost
    # The same id sent for another resident is a different record too.
    fu.register("A1-0-1")
    assert fu.visit("A1-0-1", fu.htn_form(), record_id=rid).status_code == 409


@pytest.mark.parametrize("changes, field", [
    ({"sbp": 400}, "sbp"),
    ({"sbp": 120, "dbp": 130}, "dbp"),
    ({"visit_mode": 3}, "sbp"),  # a phone visit cannot carry a BP
    ({"visit_date": "2026-06-20"}, "visit_date"),  # after the pinned today
    ({"visit_mode": 7}, "visit_mode"),
    ({"medications": [{"name": "氨氯地平", "times_per_day": 0, "mg_per_time": 5}]}, "medications.0.times_per_day"),
    ({"salt": 1}, "salt"),  # unknown box
])
def test_form_errors_name_the_field(fu, changes, field, session):
    from server.followups.models import FollowUp

    fu.register("A1-0-0")
    r = fu.visit("A1-0-0", fu.htn_form(**changes))
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert field in errors["form"], errors
    assert session.scalar(select(FollowUp.id)) is None


def test_diabetes_form_requires_glucose_and_errors_speak_chinese(fu, as_user):
    fu.register("A1-1-0", "t2dm")
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-1-0"], "condition": "t2dm",
            "form": fu.dm_form(fpg_mmol=None)}
    r = as_user("gp-a1").post("/api/v1/followups", json=body, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422
    assert "空腹血糖" in r.get_json()["errors"]["form"]["fpg_mmol"][0]


@pytest.mark.parametrize("body_change, field", [
    ({"id": "not-a-uuid"}, "id"),
    ({"condition": "asthma"}, "condition"),
    ({"extra": 1}, "extra"),
    ({"device_assessment": {"classification": 9}}, "device_assessment"),
])
def test_envelope_errors_name_the_field(fu, as_user, body_change, field):
    fu.register("A1-0-0")
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "form": fu.htn_form(), **body_change}
    r = as_user("gp-a1").post("/api/v1/followups", json=body)
    assert r.status_code == 422
    assert field in r.get_json()["errors"]["json"]


def test_registry_role_and_scope(fu, as_user):
    r = fu.visit("A1-0-0")  # not in the hypertension registry yet
    assert r.status_code == 422 and "condition" in r.get_json()["errors"]
    fu.register("A1-0-0")
    assert fu.visit("A1-0-0", condition="t2dm").status_code == 422  # registered for hypertension only
    assert fu.visit("A1-0-0", user="staff-a").status_code == 403  # center staff read, do not record
    assert fu.visit("A1-0-0", user="spec").status_code == 403
    assert fu.visit("A1-0-0", user="gp-a2").status_code == 404  # another team's resident does not exist
    rec = fu.ok(fu.visit("A1-0-0", user="nurse-a1"))
    assert as_user("staff-a").get(f"/api/v1/followups/{rec['id']}").status_code == 200
    assert as_user("staff-b").get(f"/api/v1/followups/{rec['id']}").status_code == 404
    assert as_user("gp-a2").get(f"/api/v1/followups/{rec['id']}").status_code == 404
    assert as_user("spec").get(f"/api/v1/followups/{rec['id']}").status_code == 403


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_signed_records_are_immutable(fu, as_user, method):
    fu.register("A1-0-0")
    rec = fu.ok(fu.visit("A1-0-0"))
    r = getattr(as_user("gp-a1"), method)(f"/api/v1/followups/{rec['id']}", json={"form": fu.htn_form(sbp=150)})
    assert r.status_code == 405
    assert set(r.get_json()) <= {"code", "status", "message", "errors"}
    assert as_user("gp-a1").get(f"/api/v1/followups/{rec['id']}").get_json()["sbp"] == 128


def test_postgres_refuses_to_rewrite_a_signed_record(fu, clean_app):
    engine = clean_app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("the immutability trigger exists on PostgreSQL only")
    fu.register("A1-0-0")
    rec = fu.ok(fu.visit("A1-0-0"))
    for statement in ("UPDATE followups SET sbp = 99 WHERE id = :id", "DELETE FROM followups WHERE id = :id"):
        with pytest.raises(Exception, match="signed records"):
            with engine.begin() as conn:
                conn.execute(text(statement), {"id": rec["id"]})


def test_amendments_chain_to_the_latest(fu, as_user):
    fu.register("A1-0-1")
    original = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-01", sbp=128)))
    gp = as_user("gp-a1")
    url = f"/api/v1/followups/{original['id']}/amendments"
    no_reason = gp.post(url, json={"id": fu.new_id(), "form": fu.htn_form(sbp=150)})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]["json"]
    first_id = fu.new_id()
    body = {"id": first_id, "reason": "收缩压抄写错误", "form": fu.htn_form("2026-06-01", sbp=150, dbp=92,
                                                                      classification=2)}
    first = fu.ok(gp.post(url, json=body))
    assert first["amends_id"] == original["id"] and first["original_id"] == original["id"]
    assert first["revision"] == 1 and first["amendment_reason"] == "收缩压抄写错误"
    assert first["classification"] == 2 and first["next_visit_date"] == "2026-06-15"
    fu.ok(gp.post(url, json=body), 200)  # resending the amendment is safe
    # The original was amended: correcting it again would fork the chain.
    late = gp.post(url, json={"id": fu.new_id(), "reason": "再次更正", "form": fu.htn_form(sbp=140)})
    assert late.status_code == 409 and "followup_id" in late.get_json()["errors"]
    second = fu.ok(gp.post(f"/api/v1/followups/{first_id}/amendments",
                           json={"id": fu.new_id(), "reason": "舒张压更正", "form": fu.htn_form("2026-06-01", sbp=150,
                                                                                       dbp=88)}))
    assert second["amends_id"] == first_id and second["revision"] == 2 and second["original_id"] == original["id"]
    got = gp.get(f"/api/v1/followups/{original['id']}").get_json()
    assert got["effective"] is False and got["superseded_by"] == first_id and got["sbp"] == 128
    listed = gp.get(f"/api/v1/residents/{fu.w.residents['A1-0-1']}/followups").get_json()
    assert [i["id"] for i in listed["items"]] == [second["id"]]
    everything = gp.get(f"/api/v1/residents/{fu.w.residents['A1-0-1']}/followups?include_superseded=true")
    assert {i["id"] for i in everything.get_json()["items"]} == {original["id"], first_id, second["id"]}
    # An amendment of another team's record is not found; staff cannot amend.
    assert as_user("gp-a2").post(f"/api/v1/followups/{second['id']}/amendments",
                                 json={"id": fu.new_id(), "reason": "xx", "form": fu.htn_form()}).status_code == 404
    assert as_user("staff-a").post(f"/api/v1/followups/{second['id']}/amendments",
                                   json={"id": fu.new_id(), "reason": "xx", "form": fu.htn_form()}).status_code == 403


def test_amendment_keeps_the_previous_visit_for_the_rules(fu, as_user):
    """An amended second visit is judged against the first, not against its own earlier version."""
    fu.register("A1-0-1")
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-01", sbp=150, dbp=95, classification=2)))
    second = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-15", sbp=130, dbp=80)))
    assert second["referral"] == "none"
    fixed = fu.ok(as_user("gp-a1").post(f"/api/v1/followups/{second['id']}/amendments", json={
        "id": fu.new_id(), "reason": "血压记录错误", "form": fu.htn_form("2026-05-15", sbp=150, dbp=94, classification=2)}))
    assert fixed["assessment"]["consecutive_uncontrolled"] is True and fixed["referral"] == "routine"


def test_resident_list_is_newest_first_and_scoped(fu, as_user):
    fu.register("A1-0-0")
    fu.register("A1-0-0", "t2dm")
    ids = [fu.ok(fu.visit("A1-0-0", fu.htn_form(d)))["id"] for d in ("2026-01-10", "2026-04-10", "2026-03-01")]
    dm = fu.ok(fu.visit("A1-0-0", fu.dm_form("2026-02-01"), condition="t2dm"))["id"]
    url = f"/api/v1/residents/{fu.w.residents['A1-0-0']}/followups"
    got = as_user("staff-a").get(url).get_json()
    assert [i["id"] for i in got["items"]] == [ids[1], ids[2], dm, ids[0]] and got["total"] == 4
    htn = as_user("gp-a1").get(url + "?condition=hypertension&page_size=2").get_json()
    assert [i["id"] for i in htn["items"]] == [ids[1], ids[2]] and htn["total"] == 3
    assert as_user("gp-a2").get(url).status_code == 404
    assert as_user("spec").get(url).status_code == 403


def test_team_list_filters(fu, as_user):
    fu.register("A1-0-0")
    fu.register("A1-1-0", "t2dm")
    fu.register("A2-0-0")
    a = fu.ok(fu.visit("A1-0-0", fu.htn_form("2026-03-01")))
    b = fu.ok(fu.visit("A1-1-0", fu.dm_form("2026-05-01"), condition="t2dm", user="nurse-a1"))
    c = fu.ok(fu.visit("A2-0-0", fu.htn_form("2026-04-01"), user="gp-a2"))
    gp = as_user("gp-a1")
    assert [i["id"] for i in gp.get("/api/v1/followups").get_json()["items"]] == [b["id"], a["id"]]
    assert [i["id"] for i in gp.get("/api/v1/followups?condition=t2dm").get_json()["items"]] == [b["id"]]
    assert [i["id"] for i in gp.get("/api/v1/followups?date_from=2026-02-01&date_to=2026-04-30")
            .get_json()["items"]] == [a["id"]]
    member = fu.w.users["nurse-a1"]
    assert [i["id"] for i in gp.get(f"/api/v1/followups?member_id={member}").get_json()["items"]] == [b["id"]]
    bad = gp.get("/api/v1/followups?date_from=2026-05-01&date_to=2026-04-01")
    assert bad.status_code == 422 and "date_to" in bad.get_json()["errors"]["query"]
    assert gp.get(f"/api/v1/followups?team_id={fu.w.teams['A2']}").status_code == 404
    staff = as_user("staff-a").get(f"/api/v1/followups?team_id={fu.w.teams['A2']}").get_json()
    assert [i["id"] for i in staff["items"]] == [c["id"]]
    assert len(as_user("staff-a").get("/api/v1/followups").get_json()["items"]) == 3
    assert as_user("staff-b").get("/api/v1/followups").get_json()["items"] == []


def test_lost_marks_the_registry_entry(fu, as_user, session):
    from server.households.models import ChronicCondition

    cond_id = fu.register("A1-0-0")
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "date": "2026-06-01", "reason": "外出务工，联系不上"}
    rec = fu.ok(as_user("gp-a1").post("/api/v1/followups/lost", json=body))
    assert rec["kind"] == "lost" and rec["form"] == {"date": "2026-06-01", "reason": "外出务工，联系不上"}
    fu.ok(as_user("gp-a1").post("/api/v1/followups/lost", json=body), 200)
    cond = session.get(ChronicCondition, cond_id)
    assert (cond.status, cond.status_date, cond.status_reason) == ("lost", dt.date(2026, 6, 1), "外出务工，联系不上")
    future = as_user("gp-a1").post("/api/v1/followups/lost", json={**body, "id": fu.new_id(), "date": "2026-07-01"})
    assert future.status_code == 422 and "date" in future.get_json()["errors"]


def test_death_marks_the_resident_deceased(fu, as_user, session):
    from server.households.models import Resident

    fu.register("A1-0-0")
    fu.register("A1-0-0", "t2dm")
    fu.ok(fu.visit("A1-0-0", fu.htn_form("2026-05-01")))
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "date": "2026-06-02", "cause": "脑出血"}
    rec = fu.ok(as_user("gp-a1").post("/api/v1/followups/deaths", json=body))
    assert rec["kind"] == "death" and rec["form"]["cause"] == "脑出血"
    res = session.get(Resident, fu.w.residents["A1-0-0"])
    assert (res.status, res.status_date, res.death_cause) == ("deceased", dt.date(2026, 6, 2), "脑出血")
    assert {c.status for c in res.conditions} == {"deceased"}
    # The diabetes form records the same death; another date conflicts; a visit after death is refused.
    fu.ok(as_user("gp-a1").post("/api/v1/followups/deaths", json={**body, "id": fu.new_id(), "condition": "t2dm"}))
    other = as_user("gp-a1").post("/api/v1/followups/deaths", json={**body, "id": fu.new_id(), "date": "2026-06-03"})
    assert other.status_code == 409
    late = fu.visit("A1-0-0", fu.htn_form("2026-06-10"))
    assert late.status_code == 422 and "form.visit_date" in late.get_json()["errors"]


def test_every_read_and_write_is_logged(fu, as_user, session):
    from server.audit.models import AuditEvent

    fu.register("A1-0-0")
    rec = fu.ok(fu.visit("A1-0-0"))
    fu.visit("A1-0-0", record_id=rec["id"])
    as_user("staff-a").get(f"/api/v1/followups/{rec['id']}")
    as_user("gp-a1").get(f"/api/v1/residents/{fu.w.residents['A1-0-0']}/followups")
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "followup").order_by(AuditEvent.id)).all()
    assert [(e.username, e.action) for e in events] == [
        ("gp-a1", "create"), ("gp-a1", "resend"), ("staff-a", "read"), ("gp-a1", "read")]
    assert all(e.resident_id == fu.w.residents["A1-0-0"] for e in events)


# --- issue 14: safer rules over the API ---------------------------------------------------------------------

@pytest.mark.parametrize("box, label", [("pregnant", "妊娠期"), ("lactating", "哺乳期")])
def test_pregnancy_and_lactation_are_refused_for_a_male_resident(fu, as_user, session, box, label):
    from server.followups.models import FollowUp

    fu.register("A1-0-0")  # 张三, male
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "form": fu.htn_form(**{box: True})}
    r = as_user("gp-a1").post("/api/v1/followups", json=body, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422
    payload = r.get_json()
    assert set(payload) == {"code", "status", "message", "errors"}
    assert payload["errors"]["form"] == {box: [f"该居民为男性，不能勾选{label}。"]}
    assert session.scalar(select(FollowUp.id)) is None
    fu.register("A1-0-1")  # 李四, female: the same form is accepted
    assert fu.ok(fu.visit("A1-0-1", fu.htn_form(**{box: True})))["emergency"] is False  # BP 128/82 is normal


def test_amending_a_male_residents_visit_to_pregnant_is_refused(fu, as_user):
    fu.register("A1-0-0")
    rec = fu.ok(fu.visit("A1-0-0"))
    r = as_user("gp-a1").post(f"/api/v1/followups/{rec['id']}/amendments",
                              json={"id": fu.new_id(), "reason": "补录", "form": fu.htn_form(pregnant=True)})
    assert r.status_code == 422 and "pregnant" in r.get_json()["errors"]["form"]


def test_symptom_box_6_raises_the_emergency_unless_the_doctor_answers_not_urgent(fu):
    fu.register("A1-0-1")
    ticked = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-01", symptoms=[6])))
    assert ticked["emergency"] is True and ticked["referral"] == "urgent"
    assert [r["code"] for r in ticked["assessment"]["emergency_reasons"]] == ["urgent_symptom_6"]
    assert "symptoms_not_urgent" not in ticked["form"]
    answered = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-10", symptoms=[6], symptoms_not_urgent=[6])))
    assert answered["emergency"] is False and answered["referral"] == "none"
    assert answered["form"]["symptoms_not_urgent"] == [6]  # the record keeps the doctor's answer
    bad = fu.visit("A1-0-1", fu.htn_form("2026-06-12", symptoms=[2], symptoms_not_urgent=[2]))
    assert bad.status_code == 422 and "symptoms_not_urgent" in bad.get_json()["errors"]["form"]


def test_every_record_is_stored_with_its_compact_form(fu, as_user, session):
    """A visit, an amendment, a lost and a death entry each keep the form as tablets keep it (gpcore's compact_text),
    which is what a tablet asking for compact forms receives."""
    from gpcore.followup.compact import compact_form, full_form
    from server.followups.models import FollowUp

    fu.register("A1-0-0")
    fu.register("A1-0-1", "t2dm")
    visit = fu.ok(fu.visit("A1-0-0", fu.htn_form("2026-06-01", heart_rate=None)))
    dm = fu.ok(fu.visit("A1-0-1", fu.dm_form("2026-06-02"), condition="t2dm"))
    amended = fu.ok(as_user("gp-a1").post(f"/api/v1/followups/{visit['id']}/amendments", json={
        "id": fu.new_id(), "reason": "收缩压抄写错误", "form": fu.htn_form("2026-06-01", sbp=150, dbp=92)}))
    lost = fu.ok(as_user("gp-a1").post("/api/v1/followups/lost", json={
        "id": fu.new_id(), "resident_id": fu.w.residents["A1-0-1"], "condition": "t2dm", "date": "2026-06-03",
        "reason": "外出务工，联系不上"}))
    death = fu.ok(as_user("gp-a1").post("/api/v1/followups/deaths", json={
        "id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
        "date": "2026-06-04", "cause": "脑出血"}))
    session.expire_all()
    for rec in (visit, dm, amended, lost, death):
        row = session.get(FollowUp, rec["id"])
        # As values: PostgreSQL gives the stored form back with its keys in jsonb's order.
        assert json.loads(row.form_compact) == compact_form(row.condition, row.form), rec["kind"]
        assert full_form(row.condition, json.loads(row.form_compact)) == row.form
    assert '"heart_rate"' in json.dumps(session.get(FollowUp, visit["id"]).form)  # the whole form has the box
    assert '"heart_rate"' not in session.get(FollowUp, visit["id"]).form_compact  # the compact one does not
