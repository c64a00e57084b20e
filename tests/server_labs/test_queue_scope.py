"""The unmatched queue's scope, for every role: staff see what their center's feeds bring, and a message
already matched only while its resident is theirs too (it names the resident and their results); admin sees
everything; GP teams and specialists not the queue. Out of scope answers 404 in the one error shape."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from server.households.models import Resident
from server.labs.models import LabMessage

USERS = ("admin", "staff-a", "staff-b", "spec", "gp-a1", "nurse-a1", "gp-a2", "gp-b1", "nurse-b1")
OBR = "OBR|1||{filler}|CHEM^生化^L|||20250302070000|||||||||||||||20250302105500|||F"
ERROR_KEYS = {"code", "status", "message", "errors"}


def _is_error(body) -> bool:
    # The one error shape; `errors` is left out when there is nothing to name (as every 404 here).
    return {"code", "status", "message"} <= set(body) <= ERROR_KEYS


@pytest.fixture
def feed_ab(world, as_user):
    """A second feed of the world's hospital, serving both centers: its key."""
    r = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "市一医院 区域平台", "center_ids": [world.centers["A"],
                                                                              world.centers["B"]]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["key"]


def _pid(res: Resident, *, by_id: bool = True) -> str:
    ident = f"{res.id_number}^^^^ID" if by_id else "H-1^^^^MR"
    return f"PID|1||{ident}||{res.name}||{res.birth_date:%Y%m%d}|{'M' if res.sex == '1' else 'F'}"


@pytest.fixture
def queue(session, world, post_hl7, make_oru, feed, feed_ab):
    """Messages of every kind: matched to a center A / center B resident (through the feed serving both),
    matched to a center B resident through the feed serving center A only, unmatched with no candidate,
    and unmatched with a center B resident suggested. Their ids by name."""
    resident = {key: session.get(Resident, world.residents[key]) for key in ("A1-0-0", "B1-0-0", "B1-1-0")}
    sent = {
        "matched_a": (feed_ab, _pid(resident["A1-0-0"])),
        "matched_b": (feed_ab, _pid(resident["B1-0-0"])),
        "matched_b_via_a": (feed[1], _pid(resident["B1-0-0"])),
        "unknown": (feed_ab, "PID|1||H-9^^^^MR||无此人||19510314|M"),
        "candidate_b": (feed_ab, _pid(resident["B1-1-0"], by_id=False)),
    }
    for n, (name, (key, pid)) in enumerate(sent.items()):
        raw = make_oru(name, pid=pid, obr=OBR.format(filler=f"ORD-{n}"),
                       obx=[f"OBX|1|NM|K^钾^L||{4.1 + n / 10:.1f}|mmol/L|3.5-5.5|N|||F"])
        assert post_hl7(raw, key=key).status_code == 200
    session.expire_all()
    ids = dict(session.execute(select(LabMessage.control_id, LabMessage.id)).all())
    statuses = dict(session.execute(select(LabMessage.control_id, LabMessage.match_status)).all())
    assert statuses == {"matched_a": "matched", "matched_b": "matched", "matched_b_via_a": "matched",
                        "unknown": "unmatched", "candidate_b": "unmatched"}
    return SimpleNamespace(ids=ids, residents={k: r.id for k, r in resident.items()})


# What each user reads with GET /labs/unmatched/<id>; everyone else gets 404 (staff) or 403 (other roles).
SEES = {"admin": {"matched_a", "matched_b", "matched_b_via_a", "unknown", "candidate_b"},
        "staff-a": {"matched_a", "unknown", "candidate_b"},  # not a center B resident's, whatever the feed
        "staff-b": {"matched_b", "unknown", "candidate_b"}}  # not what the center-A-only feed brought


def test_every_user_reads_exactly_their_queue(queue, as_user):
    for user in USERS:
        c = as_user(user)
        listed = c.get("/api/v1/labs/unmatched?page_size=100")
        if user not in SEES:
            assert listed.status_code == 403 and _is_error(listed.get_json()), user
        else:
            expected = {"unknown", "candidate_b"}  # the list holds unmatched messages only
            assert {m["control_id"] for m in listed.get_json()["items"]} == expected, user
        for name, message_id in queue.ids.items():
            one = c.get(f"/api/v1/labs/unmatched/{message_id}")
            if name in SEES.get(user, ()):
                assert one.status_code == 200 and one.get_json()["control_id"] == name, (user, name)
            else:
                assert one.status_code == (404 if user in SEES else 403), (user, name, one.get_json())
                assert _is_error(one.get_json())
                assert name not in str(one.get_json()) and "钾" not in str(one.get_json())


def test_staff_cannot_act_on_a_message_matched_outside_their_scope(queue, session, as_user):
    # Before, a matched message of another center answered 409 "already matched": it told that it existed.
    of_b, of_a = queue.ids["matched_b"], queue.ids["matched_a"]
    for path, body in (("match", {"resident_id": queue.residents["A1-0-0"]}), ("dismiss", {"reason": "外区居民"})):
        r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{of_b}/{path}", json=body)
        assert r.status_code == 404 and _is_error(r.get_json()), path
        r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{of_a}/{path}", json=body)
        assert r.status_code == 409, path  # in scope: the real answer
    session.expire_all()
    assert session.get(LabMessage, of_b).resident_id == queue.residents["B1-0-0"]


def test_a_resident_moved_to_another_center_takes_their_message_along(queue, session, world, as_user):
    from server.auth.models import User
    from server.households import services as hh
    from server.scope import Actor

    admin = Actor.of(session.get(User, world.users["admin"]))
    res = session.get(Resident, queue.residents["A1-0-0"])
    hh.move_resident(session, admin, res, {"household_id": world.households["B1-1"], "reason": "搬家"})
    session.commit()
    assert as_user("staff-a").get(f"/api/v1/labs/unmatched/{queue.ids['matched_a']}").status_code == 404
    assert as_user("staff-b").get(f"/api/v1/labs/unmatched/{queue.ids['matched_a']}").status_code == 200


def test_the_suggested_resident_is_shown_only_within_scope(queue, session, as_user):
    candidate = queue.ids["candidate_b"]
    wanted = queue.residents["B1-1-0"]
    assert session.get(LabMessage, candidate).match_reason == "name_birth_sex_candidate"
    # Center A's staff see the message (their feed brought it) but not the other center's resident.
    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{candidate}").get_json()
    assert detail["suggested_resident"] is None and detail["resident_id"] is None
    # ... and cannot file it under them: the field is named, nothing is filed.
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{candidate}/match", json={"resident_id": wanted})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"resident_id"}
    for user in ("staff-b", "admin"):
        shown = as_user(user).get(f"/api/v1/labs/unmatched/{candidate}").get_json()["suggested_resident"]
        assert shown["id"] == wanted, user
    r = as_user("staff-b").post(f"/api/v1/labs/unmatched/{candidate}/match", json={"resident_id": wanted})
    assert r.status_code == 200 and r.get_json()["resident_id"] == wanted
    # Filed in center B: center A's staff no longer read it.
    assert as_user("staff-a").get(f"/api/v1/labs/unmatched/{candidate}").status_code == 404
    filed = {r["resident_id"] for r in as_user("gp-b1").get("/api/v1/lab-reports").get_json()["items"]}
    assert wanted in filed


def test_a_queued_message_shows_only_its_own_results(session, world, post_hl7, make_oru, feed_ab, as_user):
    """An order number filed for a center B resident, then sent again for a center A resident: the report
    is withdrawn to the queue, and center A's staff read only what the new message says, not B's result."""
    b, a = (session.get(Resident, world.residents[k]) for k in ("B1-0-0", "A1-0-0"))
    first = make_oru("first", pid=_pid(b), obr=OBR.format(filler="ORD-X"),
                     obx=["OBX|1|NM|K^钾^L||6.9|mmol/L|3.5-5.5|HH|||F"])
    again = make_oru("again", pid=_pid(a), obr=OBR.format(filler="ORD-X"),
                     obx=["OBX|1|NM|GLU^血糖^L||5.2|mmol/L|3.9-6.1|N|||F"])
    assert post_hl7(first, key=feed_ab).status_code == 200 and post_hl7(again, key=feed_ab).status_code == 200
    session.expire_all()
    # Today intake withdraws the order to the queue (order_conflict); should it one day keep the two patients'
    # orders apart, the message is center A's anyway: either way staff A must not read B's potassium.
    queued = session.scalar(select(LabMessage).where(LabMessage.control_id == "again"))
    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{queued.id}").get_json()
    rows = [row for rep in detail["reports"] for row in rep["results"]]
    assert [(row["code"], row["value_text"]) for row in rows] == [("GLU", "5.2")]


def test_the_queue_lists_oldest_or_newest_first(queue, as_user):
    def listed(query=""):
        return [m["control_id"] for m in as_user("admin").get(f"/api/v1/labs/unmatched{query}").get_json()["items"]]

    assert listed() == ["unknown", "candidate_b"] == listed("?order=oldest")  # posted in that order
    assert listed("?order=newest") == ["candidate_b", "unknown"]
    r = as_user("admin").get("/api/v1/labs/unmatched?order=random")
    assert r.status_code == 422 and "order" in r.get_json()["errors"]["query"]
