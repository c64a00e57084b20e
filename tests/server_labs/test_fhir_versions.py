"""Issue 17, finding 1: a FHIR bundle resent under its identifier is a repeat only when its content is the
same (models.fhir_fingerprint); an amended or final bundle under the same identifier is stored as a new
version that supersedes the old values, history kept, as on the HL7 v2 path.

Built from the FHIR R4 specification's lipid panel example (Bundle "lipids", DiagnosticReport 5234342,
cholesterol 6.3 mmol/L; tests/labs/messages/bundle-lipids-r4.json, with a Patient entry added: the spec's
bundle refers to Patient/pat2 outside it, and intake needs the patient to file results).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import func, select

from server.labs.models import LabMessage, LabResultRow, content_fingerprint


def _lipids(fixture_message) -> dict:
    return json.loads(fixture_message("bundle-lipids-r4.json"))


def _amended(bundle: dict, value: float = 6.8, status: str = "amended") -> dict:
    amended = copy.deepcopy(bundle)
    amended["meta"]["lastUpdated"] = "2013-01-28T09:00:00+11:00"
    for entry in amended["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "DiagnosticReport":
            res["status"] = status
        if res.get("id") == "cholesterol":
            res["status"], res["valueQuantity"]["value"] = status, value
    return amended


def _resent(bundle: dict) -> bytes:
    """The same bundle as another engine writes it: keys in another order, other spacing, number forms and
    escapes, entries reordered, Bundle and resource meta regenerated."""
    again = copy.deepcopy(bundle)
    again["meta"] = {"lastUpdated": "2026-12-06T04:00:00+08:00", "versionId": "7"}
    again["timestamp"] = "2026-12-06T04:00:00+08:00"
    for entry in again["entry"]:
        entry["resource"]["meta"] = {"lastUpdated": "2026-12-06T04:00:00+08:00"}
    again["entry"].reverse()
    text = json.dumps(again, sort_keys=True, indent=4, ensure_ascii=True)  # 张伟 as \\u5f20\\u4f1f
    return text.replace('"value": 6.3', '"value": 6.30')


def test_an_amended_lipid_bundle_under_the_same_id_supersedes_with_history(post_fhir, fixture_message,
                                                                           add_resident, as_user, session):
    add_resident("A1", "张伟", "1", dt.date(1980, 1, 1), "34052419800101001X")
    bundle = _lipids(fixture_message)
    first = post_fhir(json.dumps(bundle).encode())
    assert first.status_code == 201, first.get_json()
    report_id = first.get_json()["report_ids"][0]

    amended = post_fhir(json.dumps(_amended(bundle)).encode())
    # Before issue 17: 200 {"duplicate": true, "message_id": <the first bundle's>, ...}, and 6.3 stayed.
    assert amended.status_code == 201, amended.get_json()
    body = amended.get_json()
    assert body["duplicate"] is False and body["message_id"] != first.get_json()["message_id"]
    assert body["report_ids"] == [report_id] and body["match_status"] == "matched"

    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}").get_json()
    chol = next(r for r in rep["results"] if r["code"] == "35200-5")
    assert (chol["value_text"], chol["status"]) == ("6.8", "C")
    assert [(h["value_text"], h["status"]) for h in chol["history"]] == [("6.3", "F")]
    assert rep["status"] == "C" and len(rep["results"]) == 4
    msg = session.get(LabMessage, body["message_id"])
    assert any("lipids" in w and "received before with different content" in w for w in msg.warnings)

    # The amended bundle sent again is a repeat of it: 200, nothing stored.
    again = post_fhir(json.dumps(_amended(bundle)).encode())
    assert again.status_code == 200 and again.get_json() == {**body, "duplicate": True}
    assert session.scalar(select(func.count()).select_from(LabMessage)) == 2


def test_a_resend_written_differently_is_a_repeat(post_fhir, fixture_message, add_resident, session):
    add_resident("A1", "张伟", "1", dt.date(1980, 1, 1), "34052419800101001X")
    bundle = _lipids(fixture_message)
    first = post_fhir(json.dumps(bundle).encode())
    again = post_fhir(_resent(bundle).encode())
    assert again.status_code == 200 and again.get_json() == {**first.get_json(), "duplicate": True}
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == 4


def test_preliminary_then_final_under_the_same_id(post_fhir, fixture_message, add_resident, as_user):
    add_resident("A1", "张伟", "1", dt.date(1980, 1, 1), "34052419800101001X")
    bundle = _lipids(fixture_message)
    preliminary = _amended(bundle, 6.3, "preliminary")
    first = post_fhir(json.dumps(preliminary).encode())
    final = post_fhir(json.dumps(_amended(bundle, 6.4, "final")).encode())
    assert (first.status_code, final.status_code) == (201, 201)
    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{first.get_json()['report_ids'][0]}").get_json()
    chol = next(r for r in rep["results"] if r["code"] == "35200-5")
    assert (chol["value_text"], chol["status"]) == ("6.4", "F")
    assert [(h["value_text"], h["status"]) for h in chol["history"]] == [("6.3", "P")]
    # A late preliminary (the same one again) is a repeat; another late one never hides the final.
    assert post_fhir(json.dumps(preliminary).encode()).status_code == 200
    late = post_fhir(json.dumps(_amended(bundle, 6.1, "preliminary")).encode())
    assert late.status_code == 201
    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{first.get_json()['report_ids'][0]}").get_json()
    assert next(r for r in rep["results"] if r["code"] == "35200-5")["value_text"] == "6.4"


def test_a_correction_after_a_noted_call_asks_for_a_new_call(post_fhir, fixture_message, add_resident, as_user,
                                                            session):
    # The chemistry bundle carries a critical potassium (HH); the lab corrects it after the team's call.
    add_resident("A1", "张伟", "1", dt.date(1980, 1, 1), "34052419800101001X")
    bundle = json.loads(fixture_message("bundle-chem-r4.json"))
    report_id = post_fhir(json.dumps(bundle).encode()).get_json()["report_ids"][0]
    gp = as_user("gp-a1")
    rep = gp.get(f"/api/v1/lab-reports/{report_id}").get_json()
    assert rep["critical_call_due"] is True
    noted = gp.put(f"/api/v1/lab-reports/{report_id}/critical-call",
                   json={"report_changed_at": rep["changed_at"], "note": "已电话通知患者本人，建议急诊复查"})
    assert noted.status_code == 200 and noted.get_json()["critical_call_due"] is False

    corrected = copy.deepcopy(bundle)
    potassium = next(e["resource"] for e in corrected["entry"] if e["resource"].get("id") == "o3")
    potassium["valueQuantity"]["value"] = 7.2
    r = post_fhir(json.dumps(corrected).encode())
    assert r.status_code == 201 and r.get_json()["report_ids"] == [report_id]
    after = gp.get(f"/api/v1/lab-reports/{report_id}").get_json()
    k = next(row for row in after["results"] if row["value_text"] == "7.2")
    assert [h["value_text"] for h in k["history"]] == ["6.9"]
    assert after["critical_call"]["note"] == "已电话通知患者本人，建议急诊复查" and after["critical_call_due"] is True


def test_fhir_fingerprint_is_canonical():
    a = b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation", "valueQuantity": {"value": 6.30}}}]}'
    b = (b'{"entry":[{"fullUrl":"urn:uuid:1","resource":{"valueQuantity":{"value":6.3},'
         b'"meta":{"lastUpdated":"2026-01-01"},"resourceType":"Observation"}}],"resourceType":"Bundle",'
         b'"meta":{"lastUpdated":"2026-01-01"},"timestamp":"2026-01-01T00:00:00Z"}')
    c = a.replace(b"6.30", b"6.8")
    assert content_fingerprint(a, "fhir") == content_fingerprint(b, "fhir") != content_fingerprint(c, "fhir")
    assert content_fingerprint(b'{"entry": [{"resource": {"resourceType": "X", "v": 100}}]}', "fhir") == \
        content_fingerprint(b'{"entry": [{"resource": {"resourceType": "X", "v": 1e2}}]}', "fhir")
    assert Decimal("6.30").normalize() == Decimal("6.3")  # the form the fingerprint writes
