"""Referrals as FHIR R4 ServiceRequest + Task for hospital systems (issue 13 item 8)."""
from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

FHIR = "application/fhir+json"
RETURN_FORM = {"diagnosis": "原发性高血压3级", "inpatient_record_number": "ZY2026-0042", "main_results": "心超正常",
               "treatment": "调整降压药", "plan": "氨氯地平5mg qd", "doctor": "心内科李医生",
               "doctor_phone": "021-1234", "institution": "市一医院", "return_date": "2026-06-15"}


@pytest.fixture
def hospital(ref, as_user, client):
    """The world's hospital's feed key, and a helper to call the FHIR API with it."""
    def feed_for(hospital_id, name):
        r = as_user("admin").post("/api/v1/labs/feeds", json={"hospital_id": hospital_id, "name": name,
                                                              "center_ids": [ref.w.centers["A"]]})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["key"]

    other = as_user("admin").post("/api/v1/hospitals", json={"code": "H2", "name": "区中心医院"}).get_json()["id"]

    class H:
        key = feed_for(ref.w.hospital_id, "市一医院 HIS")
        other_key = feed_for(other, "区中心医院 HIS")

        @staticmethod
        def get(path, key=None):
            return client.get(f"/api/v1/fhir/{path}", headers={"X-Lab-Feed-Key": key or H.key})

        @staticmethod
        def put(referral_id, task, if_match='W/"1"', key=None):
            headers = {"X-Lab-Feed-Key": key or H.key}
            if if_match is not None:
                headers["If-Match"] = if_match
            return client.put(f"/api/v1/fhir/Task/{referral_id}", data=json.dumps(task), content_type=FHIR,
                              headers=headers)

    return H


def _outcome(r, status):
    """The error answer: the status asked, an R4 OperationOutcome (validated by fhir.resources), never our
    error shape."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == FHIR and "errors" not in r.get_json()
    return OperationOutcome.model_validate(r.get_json())


def _named(r, status) -> set:
    """What the issues of an error answer name: their FHIRPath expressions and http. locations."""
    return {where for issue in _outcome(r, status).issue for where in (issue.expression or []) + (issue.location or [])}


def _state(r, status) -> str:
    """The case's current state an error answer names (issue.details.coding)."""
    issue = _outcome(r, status).issue[0]
    return issue.details.coding[0].code


def _task(hospital, referral_id):
    r = hospital.get(f"Task/{referral_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json(), r.headers["ETag"]


def test_a_referral_reads_as_a_valid_service_request_and_task(ref, hospital, session):
    from server.audit.models import AuditEvent

    case, _ = ref.send(to="spec", urgency="emergency")
    r = hospital.get(f"ServiceRequest/{case['id']}")
    assert r.status_code == 200 and r.mimetype == FHIR
    sr = ServiceRequest.model_validate(r.get_json())
    assert (sr.status, sr.intent, sr.priority) == ("active", "order", "stat")
    assert sr.subject.reference == "#patient" and sr.contained[0].name[0].text == "张三"
    assert sr.performer[0].reference == f"Practitioner/{ref.w.users['spec']}"
    assert "连续两次随访血压" in sr.note[0].text and sr.reasonCode[0].text == "高血压控制不满意"
    task, etag = _task(hospital, case["id"])
    t = Task.model_validate(task)
    assert (t.status, t.businessStatus.coding[0].code, t.intent) == ("requested", "requested", "order")
    assert t.basedOn[0].reference == f"ServiceRequest/{case['id']}" and etag == 'W/"1"'
    assert str(t.restriction.period.end) == "2026-06-15"  # emergency: the same day
    events = session.query(AuditEvent).filter(AuditEvent.entity.in_(("fhir_servicerequest", "fhir_task"))).all()
    assert {(e.username, e.resident_id) for e in events} == {("lab-feed:市一医院 HIS", case["resident_id"])}


def test_the_task_search_is_the_hospitals_own(ref, hospital):
    case, _ = ref.send(to="spec")
    r = hospital.get("Task?status=requested")
    bundle = Bundle.model_validate(r.get_json())
    assert [e.resource.id for e in bundle.entry] == [case["id"]]
    assert hospital.get("Task?status=completed").get_json()["total"] == 0
    assert hospital.get("Task", key=hospital.other_key).get_json()["total"] == 0
    for path in (f"Task/{case['id']}", f"ServiceRequest/{case['id']}"):
        r = hospital.get(path, key=hospital.other_key)
        assert _outcome(r, 404).issue[0].code == "not-found"
    assert _named(hospital.get("Task?status=bogus"), 422) == {"http.status"}
    assert _named(hospital.get("Task?_count=0"), 422) == {"http._count"}


def test_who_may_call_it(ref, hospital, client, as_user):
    case, _ = ref.send(to="spec")
    assert _outcome(client.get(f"/api/v1/fhir/Task/{case['id']}"), 401).issue[0].code == "login"
    assert _outcome(client.get(f"/api/v1/fhir/Task/{case['id']}", headers={"X-Lab-Feed-Key": "guess"}), 401)
    for user in ("spec", "gp-a1", "admin"):  # people use the referrals API
        assert _outcome(as_user(user).get(f"/api/v1/fhir/Task/{case['id']}"), 403).issue[0].code == "forbidden"
        assert _outcome(as_user(user).put(f"/api/v1/fhir/Task/{case['id']}", json={}), 403)


def test_a_hospital_accepts_then_completes_with_the_return_form(ref, hospital, as_user):
    case, _ = ref.send(to="pool")
    task, etag = _task(hospital, case["id"])
    r = hospital.put(case["id"], {**task, "status": "accepted"}, etag)
    assert _named(r, 422) == {"Task.owner"}  # a pool case: say who takes it
    accepted = {**task, "status": "accepted", "owner": {"reference": f"Practitioner/{ref.w.users['spec-pool']}"}}
    r = hospital.put(case["id"], accepted, etag)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "accepted" and r.get_json()["owner"]["reference"].endswith(
        str(ref.w.users["spec-pool"]))
    seen = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/{case['id']}"))
    assert seen["state"] == "accepted" and seen["owner_id"] == ref.w.users["spec-pool"]
    assert seen["messages"][-1]["kind"] == "accept" and "市一医院 HIS" in seen["messages"][-1]["text"]
    # The same PUT again: nothing to do, and with the stale version it is 412.
    assert hospital.put(case["id"], accepted, r.headers["ETag"]).status_code == 200
    assert _state(hospital.put(case["id"], accepted, etag), 412) == "accepted"
    task, etag = r.get_json(), r.headers["ETag"]
    output = [{"type": {"coding": [{"system": "https://gp-outreach.cn/fhir/CodeSystem/return-form", "code": k}]},
               **({"valueDate": v} if k == "return_date" else {"valueString": v})} for k, v in RETURN_FORM.items()]
    r = hospital.put(case["id"], {**task, "status": "completed", "output": output}, etag)
    assert r.status_code == 200, r.get_json()
    done = Task.model_validate(r.get_json())
    assert done.status == "completed" and done.businessStatus.coding[0].code == "returned"
    assert {o.type.coding[0].code: (o.valueString or str(o.valueDate)) for o in done.output} == RETURN_FORM
    seen = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/{case['id']}"))
    assert seen["state"] == "returned" and seen["answer"]["outcome"] == "admit"
    assert seen["return_form"]["diagnosis"] == "原发性高血压3级"
    assert [m["kind"] for m in seen["messages"]][-3:] == ["accept", "answer", "return_case"]
    # The loop closes as for an answer through the API: the team's worklist holds it.
    answers = ref.ok(as_user("gp-a1").get("/api/v1/worklist"))["referral_answers"]
    assert [a["referral_id"] for a in answers] == [case["id"]] and answers[0]["plan"] == "氨氯地平5mg qd"


def test_a_hospital_rejects_with_a_reason(ref, hospital, as_user):
    case, _ = ref.send(to="spec")
    task, etag = _task(hospital, case["id"])
    r = hospital.put(case["id"], {**task, "status": "rejected"}, etag)
    assert _named(r, 422) == {"Task.statusReason"}
    r = hospital.put(case["id"], {**task, "status": "rejected", "statusReason": {"text": "本院无此专科"}}, etag)
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    seen = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/{case['id']}"))
    assert seen["state"] == "declined" and seen["messages"][-1]["text"] == "本院无此专科"


def test_bad_tasks_and_illegal_moves(ref, hospital):
    """Each refusal is an OperationOutcome with the status of the API's own answer, naming the element."""
    case, _ = ref.send(to="spec")
    task, etag = _task(hospital, case["id"])
    r = hospital.put(case["id"], {**task, "status": "accepted"}, None)
    assert _named(r, 428) == {"http.If-Match"} and _outcome(r, 428).issue[0].code == "required"
    r = hospital.put(case["id"], {**task, "status": "completed", "output": []}, etag)
    assert _state(r, 409) == "requested" and _outcome(r, 409).issue[0].code == "conflict"  # no answer before accept
    assert _named(r, 409) == {"Task.status"}
    r = hospital.put(case["id"], {**task, "status": "in-progress"}, etag)
    assert _named(r, 422) == {"Task.status"}
    r = hospital.put(case["id"], {**task, "status": "finished"}, etag)
    assert _named(r, 422) == {"Task.status"}
    r = hospital.put(case["id"], {"resourceType": "Task", "intent": "order"}, etag)  # no status
    assert _named(r, 422) == {"Task.status"}
    r = hospital.put(case["id"], {**task, "id": "someone-else"}, etag)
    assert _named(r, 422) == {"Task.id"}
    r = hospital.put(case["id"], {"resourceType": "Patient"}, etag)
    assert _named(r, 422) == {"resourceType"}
    r = hospital.put(case["id"], {**task, "status": "accepted", "restriction": {"period": {"end": "June"}}}, etag)
    assert _named(r, 422) == {"Task.restriction.period.end"}  # fhir.resources' own path
    r = hospital.put(case["id"], {**task, "status": "accepted", "owner": {"reference": "Practitioner/abc"}}, etag)
    assert _named(r, 422) == {"Task.owner"}
    gp = ref.w.users["gp-a1"]
    r = hospital.put(case["id"], {**task, "status": "accepted", "owner": {"reference": f"Practitioner/{gp}"}}, etag)
    assert _named(r, 422) == {"Task.owner"}  # not a specialist of this hospital
    r = hospital.put(case["id"], {**task, "status": "accepted"}, 'W/"7"')
    assert _state(r, 412) == "requested" and _named(r, 412) == {"http.If-Match", "Task.status"}
    r = hospital.put(case["id"], {**task, "status": "accepted"}, etag, key=hospital.other_key)
    assert _outcome(r, 404).issue[0].code == "not-found"
    r = hospital.put(case["id"], {**task, "status": "completed",
                                  "output": [{"type": {"text": "diagnosis"}, "valueString": "x"}]}, etag)
    assert _state(r, 409) == "requested"  # still requested
    ok = hospital.put(case["id"], {**task, "status": "accepted"}, etag)
    assert ok.status_code == 200
    r = hospital.put(case["id"], {**ok.get_json(), "status": "completed",
                                  "output": [{"type": {"text": "diagnosis"}, "valueString": "x"}]}, ok.headers["ETag"])
    assert {f"Task.output.where(type.coding.code = '{k}')" for k in ("main_results", "plan", "return_date")} <= \
        _named(r, 422)
    assert _task(hospital, case["id"])[0]["status"] == "accepted"  # nothing of the refused change stayed


def test_every_error_of_the_fhir_paths_is_an_operation_outcome_and_only_there(ref, hospital, client):
    """Not JSON, an unknown resource type, a method the path has not: OperationOutcome with the status the
    API gives; in Chinese for a Chinese reader; the rest of the API keeps its own error shape."""
    case, _ = ref.send(to="spec")
    r = client.put(f"/api/v1/fhir/Task/{case['id']}", data="{not json", content_type=FHIR,
                   headers={"X-Lab-Feed-Key": hospital.key, "If-Match": 'W/"1"', "Accept-Language": "zh"})
    issue = _outcome(r, 400).issue[0]  # not parsed at all: FHIR's 400, as the rest of the API answers it
    assert issue.diagnostics == "请求体不是有效的 JSON。" and issue.code == "invalid" and not issue.expression
    for raw in (b'{"resourceType": "Task"', b'{"resourceType": "Task", "note": "\xe6\x9f"}'):
        r = client.put(f"/api/v1/fhir/Task/{case['id']}", data=raw, content_type=FHIR,
                       headers={"X-Lab-Feed-Key": hospital.key, "If-Match": 'W/"1"'})
        assert _outcome(r, 400).issue[0].diagnostics == "The body is not JSON."
    r = client.put(f"/api/v1/fhir/Task/{case['id']}", data=b'{"note": "\xe6\x9f"}', content_type=FHIR,
                   headers={"X-Lab-Feed-Key": hospital.key, "If-Match": 'W/"1"', "Accept-Language": "zh"})
    assert _outcome(r, 400).issue[0].diagnostics == "请求体不是 UTF-8 文字。"
    # JSON, but not JSON the API takes (a lone surrogate in a text): read, then refused, so 422.
    r = client.put(f"/api/v1/fhir/Task/{case['id']}", data=b'{"resourceType": "Task", "note": "\\ud800"}',
                   content_type=FHIR, headers={"X-Lab-Feed-Key": hospital.key, "If-Match": 'W/"1"'})
    assert _outcome(r, 422).issue[0].diagnostics == "The body is not JSON the API takes."
    assert _task(hospital, case["id"])[0]["status"] == "requested"  # none of them changed the case
    assert _outcome(hospital.get("Patient/1"), 404).issue[0].code == "not-found"
    r = client.delete(f"/api/v1/fhir/Task/{case['id']}", headers={"X-Lab-Feed-Key": hospital.key})
    assert _outcome(r, 405).issue[0].code == "not-supported"
    r = client.get("/api/v1/referrals/nope")
    assert r.status_code == 401 and set(r.get_json()) <= {"code", "status", "message", "errors"}
    r = client.post("/api/v1/labs/fhir", json={})
    assert r.status_code == 401 and set(r.get_json()) <= {"code", "status", "message", "errors"}
