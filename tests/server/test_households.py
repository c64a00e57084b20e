"""Household health files: create, validate, ETag edits, move, status, registry; nothing deleted."""
import datetime as dt

from gpcore import idcard, record_number
from gpcore.clock import china_today


def new_resident(world, **over):
    birth = over.pop("birth_date", "1960-05-04")
    body = {"household_id": world.households["A1-0"], "name": "刘备", "sex": "1", "birth_date": birth,
            "id_number": idcard.make("310115", dt.date.fromisoformat(birth), 311), "relation_to_head": "50"}
    body.update(over)
    return body


def test_create_household_in_own_team_and_audit(as_user, world):
    gp = as_user("gp-a1")
    r = gp.post("/api/v1/households", json={"committee_id": world.committees["A1"], "address": "甲路9号",
                                              "toilet": "flush", "water": "tap"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["team_id"] == world.teams["A1"] and body["committee_name"] == "居委会A1"
    assert r.headers["ETag"] == f'"{body["id"]}-v1"'


def test_household_codes_are_checked(as_user, world):
    r = as_user("gp-a1").post("/api/v1/households", json={"committee_id": world.committees["A1"],
                                                            "address": "甲路9号", "toilet": "golden"})
    assert r.status_code == 422 and "toilet" in r.get_json()["errors"]["json"]


def test_gp_cannot_open_a_household_in_another_center(as_user, world):
    r = as_user("gp-a1").post("/api/v1/households", json={"committee_id": world.committees["B1"],
                                                            "address": "乙路1号"})
    assert r.status_code == 422 and "committee_id" in r.get_json()["errors"]


def test_resident_gets_record_number_by_the_rule(as_user, world):
    r = as_user("gp-a1").post("/api/v1/residents", json=new_resident(world))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    # 310115 county + 005 township + 001 committee + serial 00005 (the world made 4 in committee 001)
    assert body["record_number"] == "31011500500100005"
    assert record_number.is_well_formed(body["record_number"])
    assert body["record_number_short"] == "00100005"


def test_id_number_check_digit_is_named(as_user, world):
    good = new_resident(world)["id_number"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = as_user("gp-a1").post("/api/v1/residents", json=new_resident(world, id_number=bad))
    assert r.status_code == 422
    assert "check character" in r.get_json()["errors"]["id_number"][0]


def test_sex_and_birth_must_match_the_id(as_user, world):
    body = new_resident(world, sex="2")
    body["birth_date"] = "1960-05-05"
    r = as_user("gp-a1").post("/api/v1/residents", json=body)
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert "sex" in errors and "birth_date" in errors


def test_lowercase_and_fullwidth_x_are_accepted(as_user, world):
    birth = dt.date(1980, 1, 1)
    number = next(idcard.make("340524", birth, s) for s in range(1, 999, 2) if idcard.make("340524", birth, s)[-1] == "X")
    fullwidth = number[:17] + "Ｘ"
    r = as_user("gp-a1").post("/api/v1/residents", json=new_resident(world, birth_date="1980-01-01",
                                                                       id_number=fullwidth))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["id_number"] == number


def test_duplicate_id_is_409_without_revealing_where(as_user, world, session):
    from server.households.models import Resident

    other = session.get(Resident, world.residents["B1-0-0"])
    r = as_user("gp-a1").post("/api/v1/residents", json=new_resident(
        world, id_number=other.id_number, birth_date=other.birth_date.isoformat(), sex=other.sex))
    assert r.status_code == 409
    assert r.get_json()["errors"] == {"id_number": ["already registered"]}
    assert "乙" not in r.get_json()["message"]


def test_unknown_field_is_refused_not_ignored(as_user, world):
    r = as_user("gp-a1").post("/api/v1/residents", json=new_resident(world, nmae="typo"))
    assert r.status_code == 422 and "nmae" in r.get_json()["errors"]["json"]


def test_edit_needs_if_match_and_refuses_stale(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]
    first = gp.get(f"/api/v1/residents/{rid}")
    etag = first.headers["ETag"]
    assert gp.patch(f"/api/v1/residents/{rid}", json={"phone": "13900000000"}).status_code == 428
    ok = gp.patch(f"/api/v1/residents/{rid}", json={"phone": "13900000000"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.get_json()["phone"] == "13900000000"
    assert ok.headers["ETag"] != etag
    stale = gp.patch(f"/api/v1/residents/{rid}", json={"phone": "13911111111"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and "If-Match" in stale.get_json()["errors"]
    assert gp.get(f"/api/v1/residents/{rid}").get_json()["phone"] == "13900000000"  # nothing overwritten


def test_rename_updates_pinyin_for_search(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]
    etag = gp.get(f"/api/v1/residents/{rid}").headers["ETag"]
    gp.patch(f"/api/v1/residents/{rid}", json={"name": "欧阳修"}, headers={"If-Match": etag})
    found = gp.get("/api/v1/residents?q=oyx").get_json()["items"]
    assert [f["id"] for f in found] == [rid]


def test_household_edit_head_must_be_member(as_user, world):
    gp = as_user("gp-a1")
    hid = world.households["A1-0"]
    etag = gp.get(f"/api/v1/households/{hid}").headers["ETag"]
    r = gp.patch(f"/api/v1/households/{hid}", json={"head_id": world.residents["A1-1-0"]},
                 headers={"If-Match": etag})
    assert r.status_code == 422 and "head_id" in r.get_json()["errors"]
    r = gp.patch(f"/api/v1/households/{hid}", json={"head_id": world.residents["A1-0-1"], "fuel": "natural_gas"},
                 headers={"If-Match": etag})
    assert r.status_code == 200 and r.get_json()["head_id"] == world.residents["A1-0-1"]


def test_move_between_households_keeps_history(as_user, world, session):
    from server.households.models import ResidentMove

    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]  # the head of A1-0
    etag = gp.get(f"/api/v1/residents/{rid}").headers["ETag"]
    r = gp.post(f"/api/v1/residents/{rid}/move", json={"household_id": world.households["A1-1"],
                                                       "reason": "投靠子女", "relation_to_head": "50"},
                headers={"If-Match": etag})
    assert r.status_code == 200 and r.get_json()["household_id"] == world.households["A1-1"]
    assert gp.get(f"/api/v1/households/{world.households['A1-0']}").get_json()["head_id"] is None
    moves = session.query(ResidentMove).all()
    assert len(moves) == 1 and moves[0].reason == "投靠子女" and moves[0].moved_by == world.users["gp-a1"]


def test_move_to_another_teams_household_is_refused(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]
    etag = gp.get(f"/api/v1/residents/{rid}").headers["ETag"]
    r = gp.post(f"/api/v1/residents/{rid}/move", json={"household_id": world.households["A2-0"], "reason": "x y"},
                headers={"If-Match": etag})
    assert r.status_code == 422 and "household_id" in r.get_json()["errors"]


def test_deceased_closes_registry_and_cannot_reopen(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]
    assert gp.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension",
                                                                "diagnosed_on": "2015-03-01"}).status_code == 201
    etag = gp.get(f"/api/v1/residents/{rid}").headers["ETag"]
    r = gp.post(f"/api/v1/residents/{rid}/status", json={"status": "deceased", "date": "2026-01-02"},
                headers={"If-Match": etag})
    assert r.status_code == 422 and "death_cause" in r.get_json()["errors"]
    r = gp.post(f"/api/v1/residents/{rid}/status", json={"status": "deceased", "date": "2026-01-02",
                                                         "death_cause": "脑卒中"}, headers={"If-Match": etag})
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "deceased" and body["conditions"][0]["status"] == "deceased"
    r = gp.post(f"/api/v1/residents/{rid}/status", json={"status": "active", "date": "2026-01-03"},
                headers={"If-Match": r.headers["ETag"]})
    assert r.status_code == 409
    # still readable: nothing is hard-deleted
    assert gp.get(f"/api/v1/residents/{rid}").status_code == 200


def test_future_status_date_is_refused(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-1"]
    etag = gp.get(f"/api/v1/residents/{rid}").headers["ETag"]
    future = (china_today() + dt.timedelta(days=3)).isoformat()
    r = gp.post(f"/api/v1/residents/{rid}/status", json={"status": "moved_out", "date": future},
                headers={"If-Match": etag})
    assert r.status_code == 422 and "date" in r.get_json()["errors"]


def test_registry_entry_status_and_duplicates(as_user, world):
    gp = as_user("gp-a1")
    rid = world.residents["A1-0-0"]
    r = gp.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "t2dm"})
    assert r.status_code == 201
    cid, etag = r.get_json()["id"], r.headers["ETag"]
    assert gp.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "t2dm"}).status_code == 409
    r = gp.patch(f"/api/v1/conditions/{cid}", json={"status": "lost", "status_date": "2026-02-01"},
                 headers={"If-Match": etag})
    assert r.status_code == 422 and "status_reason" in r.get_json()["errors"]
    r = gp.patch(f"/api/v1/conditions/{cid}", json={"status": "lost", "status_date": "2026-02-01",
                                                    "status_reason": "外出务工"}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.get_json()["status"] == "lost"
    assert gp.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "asthma"}).status_code == 422


def test_there_is_no_delete(client, as_user, world):
    admin = as_user("admin")
    assert admin.delete(f"/api/v1/residents/{world.residents['A1-0-0']}").status_code == 405
    assert admin.delete(f"/api/v1/households/{world.households['A1-0']}").status_code == 405
    assert admin.delete(f"/api/v1/residents/{world.residents['A1-0-0']}").get_json()["code"] == 405


def test_household_list_is_in_route_order_with_heads(as_user, world):
    rows = as_user("staff-a").get("/api/v1/households?page_size=10").get_json()
    assert rows["total"] == 6
    assert [r["committee_name"] for r in rows["items"]][:2] == ["居委会A1", "居委会A1"]
    assert all(r["member_count"] == 2 for r in rows["items"])
    assert rows["items"][0]["head_name"] == "张三"
    unassigned = as_user("staff-a").get("/api/v1/households?unassigned=true").get_json()
    assert unassigned["total"] == 2
