"""Matching to residents: ID number first; one name + birth date + sex is only a suggestion; doubt goes to
the queue that center staff resolve by hand (scoped to the feed's centers), logged; nothing is dropped or
guessed."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gpcore import idcard
from server.audit.models import AuditEvent
from server.labs.models import LabMessage, LabReport

OBR = "OBR|1||{filler}|GLU^血糖^L|||20250302070000|||||||||||||||20250302105500|||F"
OBX = ["OBX|1|NM|GLU^血糖^L||5.1|mmol/L|3.9-6.1|N|||F"]


def _send(post_hl7, make_oru, control_id, pid, filler="F-1", obx=OBX):
    r = post_hl7(make_oru(control_id, pid=pid, obr=OBR.format(filler=filler), obx=obx))
    assert r.status_code == 200, r.data
    return r


def _message(session, control_id) -> LabMessage:
    session.expire_all()
    return session.scalar(select(LabMessage).where(LabMessage.control_id == control_id))


def test_id_number_hit(post_hl7, make_oru, session, zhang_san):
    _send(post_hl7, make_oru, "M-1", f"PID|1||{'11010519491231002x'}^^^^ID||张三||19491231|M")  # lower-case x
    msg = _message(session, "M-1")
    assert (msg.match_status, msg.match_method, msg.resident_id) == ("matched", "id_number", zhang_san)
    assert msg.reports[0].resident_id == zhang_san
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "match"))
    assert (event.resident_id, event.role, event.detail) == (zhang_san, "lab_feed", {"method": "id_number"})


def test_id_number_with_another_name_is_queued(post_hl7, make_oru, session, zhang_san):
    _send(post_hl7, make_oru, "M-2", "PID|1||11010519491231002X^^^^ID||李四||19491231|M")
    msg = _message(session, "M-2")
    assert (msg.match_status, msg.match_reason, msg.resident_id) == ("unmatched", "id_name_mismatch", None)
    assert msg.reports[0].resident_id is None


def test_id_number_with_pinyin_name_matches(post_hl7, make_oru, session, zhang_san):
    _send(post_hl7, make_oru, "M-3", "PID|1||11010519491231002X^^^^ID||ZHANG^SAN||19491231|M")
    assert _message(session, "M-3").resident_id == zhang_san


def test_name_birth_sex_only_suggests_and_staff_confirm_in_one_call(post_hl7, make_oru, session, world,
                                                                     as_user):
    wang = world.residents["A1-1-0"]  # the one 王五 born 1951-03-14, male
    _send(post_hl7, make_oru, "M-4", "PID|1||H-9^^^^MR||王五||19510314|M")
    msg = _message(session, "M-4")
    # Never guessed: queued, filed under nobody, with the one namesake suggested.
    assert (msg.match_status, msg.match_method, msg.resident_id) == ("unmatched", None, None)
    assert msg.match_reason == "name_birth_sex_candidate" and msg.reports[0].resident_id is None
    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 0
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "match")) is None

    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{msg.id}").get_json()
    assert detail["match_reason_text"].startswith("one resident has this name, birth date and sex")
    assert (detail["suggested_resident"]["id"], detail["suggested_resident"]["name"]) == (wang, "王五")
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident_id": wang})
    assert r.status_code == 200 and r.get_json()["match_status"] == "matched"
    assert r.get_json()["suggested_resident"] is None  # nothing left to confirm
    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 1
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "match"))
    assert (event.username, event.resident_id) == ("staff-a", wang)
    assert (event.detail["method"], event.detail["reason"], event.detail["suggestion"]) == (
        "manual", "name_birth_sex_candidate", "confirmed")


def test_a_suggestion_is_not_shown_once_the_file_disagrees(post_hl7, make_oru, session, world, as_user):
    from server.households.models import Resident

    _send(post_hl7, make_oru, "M-4b", "PID|1||H-9^^^^MR||王五||19510314|M")
    msg = _message(session, "M-4b")
    shown = as_user("staff-a").get(f"/api/v1/labs/unmatched/{msg.id}").get_json()["suggested_resident"]
    assert shown["name"] == "王五"
    # The file is corrected after the message came: the suggestion no longer holds.
    session.get(Resident, world.residents["A1-1-0"]).birth_date = dt.date(1951, 3, 15)
    session.commit()
    assert as_user("staff-a").get(f"/api/v1/labs/unmatched/{msg.id}").get_json()["suggested_resident"] is None
    # Staff may still file it under anyone in scope; the log says the suggestion was overruled.
    other = world.residents["A2-0-0"]
    assert as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match",
                                   json={"resident_id": other}).status_code == 200
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "match"))
    assert event.detail["suggestion"] == "overruled"


def test_decide_never_files_on_name_birth_sex():
    from types import SimpleNamespace

    from server.labs import matching
    from server.labs.messages.parsed import LabPatient

    number = idcard.make("110105", dt.date(1951, 3, 14), 11)
    row = SimpleNamespace(id="r-1", name="王五", birth_date=dt.date(1951, 3, 14), sex="1", id_number=None)
    patient = LabPatient(name="王五", birth_date=dt.date(1951, 3, 14), sex="M")
    found = matching.decide(patient, [row])
    assert (found.resident_id, found.method, found.reason, found.suggested) == (
        None, None, "name_birth_sex_candidate", "r-1")
    namesake = SimpleNamespace(**{**vars(row), "id": "r-2"})
    assert matching.decide(patient, [row, namesake]).suggested is None  # two: ambiguous, no one suggested
    # A valid ID number that no file holds does not make the namesake certain either.
    with_id = matching.decide(LabPatient(name="王五", birth_date=dt.date(1951, 3, 14), sex="M",
                                         identifiers=[_citizen(number)]), [row])
    assert (with_id.resident_id, with_id.reason) == (None, "name_birth_sex_candidate")
    # The ID number rule stays a certain match.
    held = SimpleNamespace(**{**vars(row), "id_number": number})
    assert matching.decide(LabPatient(name="王五", birth_date=dt.date(1951, 3, 14), sex="M",
                                      identifiers=[_citizen(number)]), [held]).method == "id_number"


def test_name_birth_sex_needs_all_three(post_hl7, make_oru, session):
    _send(post_hl7, make_oru, "M-5", "PID|1||H-9^^^^MR||王五||19510314|F")  # wrong sex
    assert _message(session, "M-5").match_reason == "no_candidate"
    _send(post_hl7, make_oru, "M-6", "PID|1||H-9^^^^MR||王五||19510314|", filler="F-6")  # no sex
    assert _message(session, "M-6").match_reason == "incomplete_identity"


def test_unknown_id_number_and_other_id_on_file(post_hl7, make_oru, session, world):
    stranger = idcard.make("110105", dt.date(1951, 3, 14), 11)
    _send(post_hl7, make_oru, "M-7", f"PID|1||{stranger}^^^^ID||王五||19510314|M")
    # The one 王五 born that day holds a different ID number: not the same person for certain.
    assert _message(session, "M-7").match_reason == "id_conflict"
    _send(post_hl7, make_oru, "M-8", f"PID|1||{stranger}^^^^ID||无此人||19510314|M", filler="F-8")
    assert _message(session, "M-8").match_reason == "no_candidate"


def test_ambiguous_then_resolved_by_hand(post_hl7, make_oru, session, world, add_resident, as_user):
    twin = add_resident("A2", "王五", "1", dt.date(1951, 3, 14))
    _send(post_hl7, make_oru, "M-9", "PID|1||H-9^^^^MR||王五||19510314|M")
    msg = _message(session, "M-9")
    assert (msg.match_status, msg.match_reason) == ("unmatched", "ambiguous")

    queue = as_user("staff-a").get("/api/v1/labs/unmatched").get_json()
    assert [m["id"] for m in queue["items"]] == [msg.id]
    assert queue["items"][0]["match_reason_text"].startswith("several residents")
    # Nobody's team sees it until it is filed.
    assert as_user("gp-a2").get("/api/v1/lab-reports").get_json()["total"] == 0

    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident_id": twin})
    assert r.status_code == 200 and r.get_json()["match_status"] == "matched"
    assert as_user("staff-a").get("/api/v1/labs/unmatched").get_json()["total"] == 0
    assert as_user("gp-a2").get("/api/v1/lab-reports").get_json()["total"] == 1
    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 0
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "match", AuditEvent.role == "center_staff"))
    assert event.resident_id == twin and event.username == "staff-a" and event.detail["method"] == "manual"
    again = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident_id": twin})
    assert again.status_code == 409


def test_queue_is_scoped_to_the_feeds_centers(post_hl7, make_oru, session, world, as_user):
    _send(post_hl7, make_oru, "M-10", "PID|1||H-9^^^^MR||无此人||19510314|M")
    msg = _message(session, "M-10")
    assert as_user("staff-b").get("/api/v1/labs/unmatched").get_json()["total"] == 0  # feed serves center A
    assert as_user("staff-b").get(f"/api/v1/labs/unmatched/{msg.id}").status_code == 404
    r = as_user("staff-b").post(f"/api/v1/labs/unmatched/{msg.id}/match",
                                json={"resident_id": world.residents["B1-0-0"]})
    assert r.status_code == 404
    assert as_user("gp-a1").get("/api/v1/labs/unmatched").status_code == 403
    assert as_user("admin").get("/api/v1/labs/unmatched").get_json()["total"] == 1
    # Staff file only under residents of their own center; the error names the field.
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match",
                                json={"resident_id": world.residents["B1-0-0"]})
    assert r.status_code == 422 and "resident_id" in r.get_json()["errors"]
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident": "x"})
    assert r.status_code == 422 and set(r.get_json()["errors"]["json"]) == {"resident", "resident_id"}
    assert _message(session, "M-10").match_status == "unmatched"


def test_dismiss_keeps_the_message(post_hl7, make_oru, session, as_user):
    _send(post_hl7, make_oru, "M-11", "PID|1||H-9^^^^MR||无此人||19510314|M")
    msg = _message(session, "M-11")
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/dismiss", json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]["json"]
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/dismiss", json={"reason": "外区居民"})
    assert r.status_code == 200 and r.get_json()["dismiss_reason"] == "外区居民"
    assert as_user("staff-a").get("/api/v1/labs/unmatched").get_json()["total"] == 0
    dismissed = as_user("staff-a").get("/api/v1/labs/unmatched?status=dismissed").get_json()["items"]
    assert [m["id"] for m in dismissed] == [msg.id] and dismissed[0]["report_count"] == 1
    assert as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/dismiss",
                                   json={"reason": "again"}).status_code == 409
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "dismiss")).detail == {"reason": "外区居民"}


def test_order_already_filed_ties_a_later_message(post_hl7, make_oru, session, zhang_san):
    _send(post_hl7, make_oru, "M-12", "PID|1||11010519491231002X^^^^ID||张三||19491231|M", filler="ORD-7")
    # The correction carries only the hospital's own number: the order number with the same name, birth date
    # and sex as her file (2: female) ties it to the same resident.
    _send(post_hl7, make_oru, "M-13", "PID|1||55501^^^HOSP^MR||张三||19491231|F", filler="ORD-7",
          obx=["OBX|1|NM|GLU^血糖^L||5.3|mmol/L|3.9-6.1|N|||C"])
    msg = _message(session, "M-13")
    assert (msg.match_status, msg.match_method, msg.resident_id) == ("matched", "order", zhang_san)
    assert len(session.scalars(select(LabReport)).all()) == 1


def test_an_order_number_filed_for_someone_else_does_not_move_a_certain_match(post_hl7, make_oru, session, world,
                                                                             zhang_san, as_user):
    from server.households.models import Resident

    wang_id = session.get(Resident, world.residents["A1-1-0"]).id_number
    _send(post_hl7, make_oru, "M-14", f"PID|1||{wang_id}^^^^ID||王五||19510314|M", filler="ORD-8")
    _send(post_hl7, make_oru, "M-15", "PID|1||11010519491231002X^^^^ID||张三||19491231|M", filler="ORD-8")
    wang, zhang = _message(session, "M-14"), _message(session, "M-15")
    # Matched by her own ID number, 张三's results are a report of her own; 王五's report keeps its owner
    # (intake's reused-order rule: tests/server_labs/test_reused_numbers.py).
    assert (zhang.match_status, zhang.resident_id, zhang.match_method) == ("matched", zhang_san, "id_number")
    assert {rep.resident_id for rep in wang.reports} == {wang.resident_id} != {zhang_san}
    assert {rep.id for rep in zhang.reports}.isdisjoint(rep.id for rep in wang.reports)
    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 2


def _citizen(number):
    from server.labs.messages.parsed import PatientIdentifier

    return PatientIdentifier(number, "ID", "", "PID-3")
