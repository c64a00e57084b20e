"""Lab reports new since the resident's last follow-up visit (critical first), and the worklist's lab_alerts:
residents of the team with such reports, at the top; a later visit makes them old news, 'seen' does not."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from gpcore.clock import CHINA
from server.households.models import Resident
from server.labs import intake
from server.labs.models import LabFeed

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
TODAY = NOW.astimezone(CHINA).date()


def _at(days_ago: int, hour: int = 9) -> dt.datetime:
    """hour o'clock China time, days_ago days before today."""
    day = TODAY - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA).astimezone(dt.timezone.utc)


def _visit_form(visit_date: dt.date) -> dict:
    return {
        "visit_date": visit_date.isoformat(), "visit_mode": 1, "symptoms": [1], "sbp": 128, "dbp": 82,
        "weight_kg": 68.0, "height_cm": 168.0, "heart_rate": 72, "cigarettes_per_day": 0,
        "cigarettes_per_day_target": 0, "liquor_liang_per_day": 0, "liquor_liang_per_day_target": 0,
        "exercise_times_per_week": 5, "exercise_minutes_per_time": 30, "salt_intake": 1, "salt_intake_target": 1,
        "psychological_adjustment": 1, "compliance": 1, "medication_adherence": 1, "adverse_reaction": 1,
        "classification": 1, "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}],
        "doctor": "王医生"}


@pytest.fixture
def lab(clean_app, session, world, feed, as_user):
    """lab.report(resident key, control id, arrived_at, critical=False) -> report id (through receive_hl7 with a
    pinned clock); lab.visit(resident key, date)."""
    clean_app.config["FOLLOWUP_TODAY"] = TODAY
    lab_feed = session.get(LabFeed, feed[0])

    class Lab:
        @staticmethod
        def report(key: str, control_id: str, arrived_at: dt.datetime, critical: bool = False) -> str:
            res = session.get(Resident, world.residents[key])
            flag, value = ("HH", "6.9") if critical else ("N", "4.1")
            reported = arrived_at.astimezone(CHINA) - dt.timedelta(minutes=5)
            raw = (f"MSH|^~\\&|LIS|HOSP_T|GPO|C|20250302110000||ORU^R01|{control_id}|P|2.5.1|||||CHN|UNICODE UTF-8\r"
                   f"PID|1||{res.id_number}^^^^ID||{res.name}||{res.birth_date:%Y%m%d}|{'M' if res.sex == '1' else 'F'}\r"
                   f"OBR|1||F-{control_id}|K^钾^L|||20250302070000|||||||||||||||{reported:%Y%m%d%H%M%S}|||F\r"
                   f"OBX|1|NM|K^钾^L||{value}|mmol/L|3.5-5.5|{flag}|||F\r").encode()
            receipt = intake.receive_hl7(session, lab_feed, raw, transport="http", now=lambda: arrived_at)
            assert receipt.ack_code == "AA" and receipt.match_status == "matched"
            return receipt.report_ids[0]

        @staticmethod
        def visit(key: str, day: dt.date, user: str = "gp-a1"):
            resident_id = world.residents[key]
            r = as_user(user).post(f"/api/v1/residents/{resident_id}/conditions", json={"condition": "hypertension"})
            assert r.status_code in (201, 409, 422), r.get_json()
            r = as_user(user).post("/api/v1/followups", json={
                "id": str(uuid.uuid4()), "resident_id": resident_id, "condition": "hypertension",
                "form": _visit_form(day)})
            assert r.status_code == 201, r.get_json()

    return Lab


def test_reports_new_since_the_last_visit_critical_first(lab, as_user, world):
    lab.visit("A1-0-0", TODAY - dt.timedelta(days=10))
    old = lab.report("A1-0-0", "V-1", _at(20))
    same_day = lab.report("A1-0-0", "V-2", _at(10, hour=16))  # the visit's day: may have come after it
    later = lab.report("A1-0-0", "V-3", _at(5))
    critical = lab.report("A1-0-0", "V-4", _at(3), critical=True)
    url = f"/api/v1/residents/{world.residents['A1-0-0']}/lab-reports"
    every = as_user("gp-a1").get(url).get_json()["items"]
    assert {r["id"]: r["new_since_visit"] for r in every} == {old: False, same_day: True, later: True, critical: True}
    assert {r["last_visit_date"] for r in every} == {(TODAY - dt.timedelta(days=10)).isoformat()}
    new = as_user("gp-a1").get(f"{url}?since_visit=true").get_json()["items"]
    assert [r["id"] for r in new] == [critical, later, same_day]  # critical values first, then newest
    r = as_user("gp-a1").get(f"{url}?since_visit=maybe")
    assert r.status_code == 422 and "since_visit" in r.get_json()["errors"]["query"]


def test_worklist_lab_alerts_top_of_the_list_and_cleared_by_the_next_visit(lab, as_user, world):
    lab.visit("A1-0-0", TODAY - dt.timedelta(days=10))
    lab.report("A1-0-0", "W-1", _at(20))  # before the visit: no alert for it
    normal = lab.report("A1-0-0", "W-2", _at(6))
    critical = lab.report("A1-0-0", "W-3", _at(4), critical=True)
    lab.report("A1-0-1", "W-4", _at(2))  # no visit ever: new
    lab.report("A1-1-0", "W-5", _at(1))  # the newest, not critical
    lab.report("A2-0-0", "W-6", _at(1), critical=True)  # another team's resident

    alerts = as_user("gp-a1").get("/api/v1/worklist").get_json()["lab_alerts"]
    assert alerts["total"] == 3
    items = alerts["items"]
    assert [a["resident_id"] for a in items] == [world.residents[k] for k in ("A1-0-0", "A1-1-0", "A1-0-1")]
    first = items[0]
    assert (first["reports"], first["critical"], first["unseen"]) == (2, 1, 2)
    assert first["last_visit_date"] == (TODAY - dt.timedelta(days=10)).isoformat()
    assert items[2]["last_visit_date"] is None
    # Center staff see the center's residents (both teams); admin the same here.
    staff = as_user("staff-a").get("/api/v1/worklist").get_json()["lab_alerts"]
    assert staff["items"][0]["resident_id"] in (world.residents["A1-0-0"], world.residents["A2-0-0"])
    assert staff["total"] == 4
    assert as_user("gp-b1").get("/api/v1/worklist").get_json()["lab_alerts"] == {"total": 0, "items": []}

    # Seeing a report keeps it for the next visit (unseen drops), the next visit clears it.
    assert as_user("gp-a1").post(f"/api/v1/lab-reports/{critical}/seen").status_code == 200
    items = as_user("gp-a1").get("/api/v1/worklist").get_json()["lab_alerts"]["items"]
    assert (items[0]["resident_id"], items[0]["critical"], items[0]["unseen"]) == (world.residents["A1-0-0"], 1, 1)
    lab.visit("A1-0-0", TODAY - dt.timedelta(days=1))
    alerts = as_user("gp-a1").get("/api/v1/worklist").get_json()["lab_alerts"]
    assert world.residents["A1-0-0"] not in {a["resident_id"] for a in alerts["items"]}
    assert alerts["total"] == 2
    # The report list says the same per report.
    rows = as_user("gp-a1").get("/api/v1/lab-reports?since_visit=true").get_json()["items"]
    assert normal not in {r["id"] for r in rows} and len(rows) == 2
