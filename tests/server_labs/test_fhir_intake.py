"""POST /labs/fhir: an R4 Bundle is stored like an HL7 message; a bad one is a 422 naming the FHIR path."""
from __future__ import annotations

import copy
import datetime as dt
import json

from sqlalchemy import func, select

from server.labs.models import LabMessage, LabResultRow


def _bundle(fixture_message) -> dict:
    return json.loads(fixture_message("bundle-chem-r4.json"))


def test_bundle_stored_matched_and_readable(post_fhir, fixture_message, add_resident, as_user, session):
    resident = add_resident("A1", "张伟", "1", dt.date(1980, 1, 1), "34052419800101001X")
    raw = fixture_message("bundle-chem-r4.json")
    r = post_fhir(raw)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["match_status"] == "matched" and body["duplicate"] is False and len(body["report_ids"]) == 1
    msg = session.get(LabMessage, body["message_id"])
    assert (msg.format, msg.control_id, msg.raw, msg.resident_id) == ("fhir", "FHIR-MSG-0001", raw, resident)

    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{body['report_ids'][0]}").get_json()
    assert (rep["filler_no"], rep["placer_no"], rep["panel_name"], rep["specimen_type"]) == (
        "FILLER-555", "PLACER-777", "生化全套", "血清")
    assert (rep["tester"], rep["reviewer"]) == ("王强", "李明")
    assert rep["reported_at"].startswith("2025-03-05T02:20:00")  # 10:20+08:00
    rows = {row["code"]: row for row in rep["results"]}
    chol = rows["2093-3"]
    assert (chol["name"], chol["value_text"], chol["unit"], chol["range_text"], chol["range_high"], chol["flags"]) == (
        "总胆固醇", "6.20", "mmol/L", "<5.2", "5.200000", ["H"])
    assert rep["critical"] is True

    again = post_fhir(raw)
    assert again.status_code == 200 and again.get_json() == {**body, "duplicate": True}
    assert session.scalar(select(func.count()).select_from(LabMessage)) == 1


def test_bad_bundle_names_the_fhir_path(post_fhir, fixture_message, session):
    bundle = _bundle(fixture_message)
    bad = copy.deepcopy(bundle)
    bad["entry"][4]["resource"]["status"] = "done"
    r = post_fhir(json.dumps(bad).encode())
    assert r.status_code == 422
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert "entry[4].resource.status" in body["errors"]
    r = post_fhir(b"{not json")
    assert r.status_code == 422 and "$" in r.get_json()["errors"]
    no_id = copy.deepcopy(bundle)
    del no_id["identifier"], no_id["id"]
    r = post_fhir(json.dumps(no_id).encode())
    assert r.status_code == 422 and "identifier" in r.get_json()["errors"]
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == 0
