"""Filing a queued message by hand offers the other queued messages of the same patient (same ID number, same
hospital patient number, or same name + birth date + sex) and files those staff list in `also` with it;
nothing is filed by guess, and contradicting identities are never offered."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gpcore import idcard
from server.audit.models import AuditEvent
from server.labs.models import LabMessage

OBR = "OBR|1||{filler}|GLU^血糖^L|||20250302070000|||||||||||||||20250302105500|||F"
OBX = ["OBX|1|NM|GLU^血糖^L||5.1|mmol/L|3.9-6.1|N|||F"]
STRANGER = idcard.make("110105", dt.date(1962, 5, 1), 21)  # on file for nobody
OTHER = idcard.make("110105", dt.date(1962, 5, 1), 23)


def _send(post_hl7, make_oru, control_id, pid, facility="HOSP_T"):
    r = post_hl7(make_oru(control_id, pid=pid, obr=OBR.format(filler=f"F-{control_id}"), obx=OBX,
                          facility=facility))
    assert r.status_code == 200, r.data


def _id(session, control_id) -> str:
    session.expire_all()
    return session.scalar(select(LabMessage.id).where(LabMessage.control_id == control_id))


def test_same_patient_offered_with_the_reason_and_filed_when_listed(post_hl7, make_oru, session, as_user,
                                                                    add_resident):
    resident = add_resident("A1", "赵六", "1", dt.date(1962, 5, 1))
    _send(post_hl7, make_oru, "Q-1", f"PID|1||{STRANGER}^^^^ID~H-77^^^HOSP^MR||赵陆||19620501|M")
    _send(post_hl7, make_oru, "Q-2", f"PID|1||{STRANGER}^^^^ID||ZHAO^LIU||19620501|M")  # same ID number
    _send(post_hl7, make_oru, "Q-3", "PID|1||H-77^^^HOSP^MR||ZHAO^LIU||19620501|M")  # same hospital number
    _send(post_hl7, make_oru, "Q-4", "PID|1||H-99^^^HOSP^MR||赵陆||19620501|M")  # same name, birth, sex
    # Not the same person: another ID number; another birth date; another sex.
    _send(post_hl7, make_oru, "Q-5", f"PID|1||{OTHER}^^^^ID~H-77^^^HOSP^MR||赵陆||19620501|M")
    _send(post_hl7, make_oru, "Q-6", "PID|1||H-77^^^HOSP^MR||赵陆||19620502|M")
    _send(post_hl7, make_oru, "Q-7", "PID|1||H-1^^^HOSP^MR||赵陆||19620501|F")
    first = _id(session, "Q-1")
    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{first}").get_json()
    offered = {o["control_id"]: o["same_on"] for o in detail["same_patient"]}
    assert offered == {"Q-2": ["id_number"], "Q-3": ["hospital_patient_id"], "Q-4": ["name_birth_sex"]}

    # Something not offered in `also` refuses the whole request, naming the field; nothing is filed.
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{first}/match",
                                json={"resident_id": resident, "also": [_id(session, "Q-2"), _id(session, "Q-5")]})
    assert r.status_code == 422 and "also" in r.get_json()["errors"]
    assert session.scalar(select(LabMessage.match_status).where(LabMessage.id == first)) == "unmatched"

    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{first}/match",
                                json={"resident_id": resident, "also": [_id(session, "Q-2"), _id(session, "Q-3")]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # Still offered after the match: the one staff did not list (never filed by guess).
    assert [o["control_id"] for o in body["same_patient"]] == ["Q-4"]
    session.expire_all()
    status = dict(session.execute(select(LabMessage.control_id, LabMessage.resident_id)).all())
    assert {k for k, v in status.items() if v == resident} == {"Q-1", "Q-2", "Q-3"}
    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 3
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "match",
                                                      AuditEvent.role == "center_staff")).all()
    assert sorted(e.detail.get("with", "") for e in events) == ["", first, first]


def test_other_centers_messages_are_not_offered(post_hl7, make_oru, session, as_user, world, client):
    _send(post_hl7, make_oru, "Q-8", "PID|1||H-5^^^HOSP^MR||钱七||19700101|M")
    # The same patient through a feed that serves center B only.
    r = as_user("admin").post("/api/v1/labs/feeds", json={"hospital_id": world.hospital_id, "name": "乙 LIS",
                                                          "center_ids": [world.centers["B"]]})
    key_b = r.get_json()["key"]
    raw = make_oru("Q-9", pid="PID|1||H-5^^^HOSP^MR||钱七||19700101|M", obr=OBR.format(filler="F-Q-9"), obx=OBX)
    assert post_hl7(raw, key=key_b).status_code == 200
    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{_id(session, 'Q-8')}").get_json()
    assert detail["same_patient"] == []
    both = as_user("admin").get(f"/api/v1/labs/unmatched/{_id(session, 'Q-8')}").get_json()
    assert [o["control_id"] for o in both["same_patient"]] == ["Q-9"]
