"""Corrections supersede the earlier value for the same order and code; the old value stays as history."""
from __future__ import annotations

from sqlalchemy import select

from server.labs.models import LabReport, LabResultRow

OBR = "OBR|1||ORD-1|CHEM^生化^L|||20250302070000|||||||||||||||20250302105500|||{status}"
PID = "PID|1||11010519491231002X^^^^ID||张三||19491231|M"


def test_corrected_potassium_supersedes_with_history(post_hl7, fixture_message, session, as_user, zhang_san):
    assert post_hl7(fixture_message("utf8-escapes-criticals-cr.hl7")).status_code == 200
    report_id = session.scalar(select(LabReport.id))
    before = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}").get_json()
    assert {r["code"]: r["value_text"] for r in before["results"]}["K"] == "6.8"

    assert post_hl7(fixture_message("corrected-potassium-lf.hl7")).status_code == 200
    session.expire_all()
    assert session.scalars(select(LabReport)).all() == [session.get(LabReport, report_id)]  # same report
    rows = session.scalars(select(LabResultRow).where(LabResultRow.code == "K").order_by(LabResultRow.id)).all()
    assert [(r.value_text, r.status, r.flags) for r in rows] == [("6.8", "F", ["HH"]), ("4.2", "C", ["N"])]
    assert rows[0].superseded_by_id == rows[1].id and rows[1].superseded_by_id is None

    after = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}").get_json()
    k = {r["code"]: r for r in after["results"]}["K"]
    assert (k["value_text"], k["status"], k["critical"]) == ("4.2", "C", False)
    assert [(h["value_text"], h["status"], h["flags"]) for h in k["history"]] == [("6.8", "F", ["HH"])]
    assert k["history"][0]["superseded_at"] is not None
    assert [r["code"] for r in after["results"]] == [r["code"] for r in before["results"]]  # order kept
    assert after["status"] == "C"
    assert after["critical"] is True  # glucose 2.1 LL is still in force


def test_final_replaces_preliminary_but_a_late_preliminary_does_not(post_hl7, make_oru, session, zhang_san):
    def send(control_id, value, status):
        obx = [f"OBX|1|NM|GLU^血糖^L||{value}|mmol/L|3.9-6.1|N|||{status}"]
        assert post_hl7(make_oru(control_id, pid=PID, obr=OBR.format(status=status), obx=obx)).status_code == 200

    send("P-1", "5.0", "P")
    send("P-2", "5.2", "F")
    send("P-3", "4.9", "P")  # arrives late: kept as history, never shown as the value
    session.expire_all()
    rows = session.scalars(select(LabResultRow).order_by(LabResultRow.id)).all()
    current = [r for r in rows if r.superseded_by_id is None]
    assert [(r.value_text, r.status) for r in current] == [("5.2", "F")]
    assert [r.value_text for r in rows] == ["5.0", "5.2", "4.9"]  # nothing overwritten


def test_a_correction_makes_a_seen_report_new_again(post_hl7, fixture_message, session, as_user, zhang_san):
    post_hl7(fixture_message("utf8-escapes-criticals-cr.hl7"))
    report_id = session.scalar(select(LabReport.id))
    gp = as_user("gp-a1")
    assert [r["id"] for r in gp.get("/api/v1/lab-reports?new=true").get_json()["items"]] == [report_id]
    assert gp.post(f"/api/v1/lab-reports/{report_id}/seen").status_code == 200
    assert gp.get("/api/v1/lab-reports?new=true").get_json()["total"] == 0
    post_hl7(fixture_message("corrected-potassium-lf.hl7"))
    assert [r["id"] for r in gp.get("/api/v1/lab-reports?new=true").get_json()["items"]] == [report_id]
