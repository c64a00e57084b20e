"""Center staff assign households: one by one, by committee, by an accepted rebalancing proposal."""
from server.org.models import Committee


def load_of(staff, team_id):
    rows = staff.get("/api/v1/assignments/load").get_json()
    return next(r for r in rows if r["team_id"] == team_id)


def test_assign_one_moves_household_and_residents(as_user, world, session):
    staff = as_user("staff-a")
    hid = world.households["A0-0"]
    r = staff.post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": world.teams["A2"],
                                                 "reason": "新入住"})
    assert r.status_code == 200 and r.get_json()["changed"] == 1 and r.get_json()["residents"] == 2
    # the new team sees it and its residents; the center's unassigned list shrank
    assert as_user("gp-a2").get(f"/api/v1/households/{hid}").status_code == 200
    assert world.residents["A0-0-0"] in [x["id"] for x in as_user("gp-a2").get("/api/v1/residents?page_size=100")
                                         .get_json()["items"]]
    hist = staff.get(f"/api/v1/assignments/history?household_id={hid}").get_json()["items"]
    assert hist[0]["to_team_id"] == world.teams["A2"] and hist[0]["from_team_id"] is None
    assert hist[0]["reason"] == "新入住" and hist[0]["changed_by"] == world.users["staff-a"]
    # moving it again records the second change too
    staff.post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": world.teams["A1"], "reason": "调整"})
    assert as_user("gp-a2").get(f"/api/v1/households/{hid}").status_code == 404
    hist = staff.get(f"/api/v1/assignments/history?household_id={hid}").get_json()["items"]
    assert [h["reason"] for h in hist] == ["调整", "新入住"]


def test_assigning_to_another_centers_team_is_refused(as_user, world):
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [world.households["A0-0"]],
                                                              "team_id": world.teams["B1"], "reason": "x y"})
    assert r.status_code == 422 and "team_id" in r.get_json()["errors"]


def test_unknown_households_are_named(as_user, world):
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": ["nope"], "team_id": None,
                                                              "reason": "x y"})
    assert r.status_code == 422 and "household_ids" in r.get_json()["errors"]


def test_bulk_by_committee(as_user, world, session):
    from server.org.models import Committee

    staff = as_user("staff-a")
    r = staff.post("/api/v1/assignments/by-committee", json={"committee_id": world.committees["A0"],
                                                             "team_id": world.teams["A1"], "reason": "划片"})
    assert r.get_json()["changed"] == 2
    assert session.get(Committee, world.committees["A0"]).team_id == world.teams["A1"]
    assert as_user("gp-a1").get("/api/v1/households").get_json()["total"] == 4


def test_load_counts_residents_and_patients_against_capacity(as_user, world):
    staff = as_user("staff-a")
    gp = as_user("gp-a1")
    gp.post(f"/api/v1/residents/{world.residents['A1-0-0']}/conditions", json={"condition": "hypertension"})
    gp.post(f"/api/v1/residents/{world.residents['A1-0-0']}/conditions", json={"condition": "t2dm"})
    gp.post(f"/api/v1/residents/{world.residents['A1-0-1']}/conditions", json={"condition": "t2dm"})
    a1 = load_of(staff, world.teams["A1"])
    assert (a1["households"], a1["residents"], a1["chronic_patients"]) == (2, 4, 2)
    assert (a1["hypertension"], a1["diabetes"]) == (1, 2)
    assert a1["capacity_min"] == 10_000 and a1["status"] == "under"
    unassigned = load_of(staff, None)
    assert unassigned["households"] == 2 and unassigned["status"] == "unassigned"


def test_proposal_evens_out_and_accepting_applies_it(as_user, world, clean_app):
    staff = as_user("staff-a")
    # pile everything on A1 first
    staff.post("/api/v1/assignments/by-committee", json={"committee_id": world.committees["A2"],
                                                         "team_id": world.teams["A1"], "reason": "临时"})
    proposal = staff.get("/api/v1/assignments/proposal").get_json()
    before, after = proposal["before"], proposal["after"]
    assert before[str(world.teams["A1"])] == 8 and before[str(world.teams["A2"])] == 0
    assert abs(after[str(world.teams["A1"])] - after[str(world.teams["A2"])]) <= 2
    # unassigned households are placed too
    assert {m["household_id"] for m in proposal["moves"] if m["from_team_id"] is None} == {
        world.households["A0-0"], world.households["A0-1"]}
    r = staff.post("/api/v1/assignments/proposal/accept", json={"moves": proposal["moves"], "reason": "均衡"})
    assert r.status_code == 200 and r.get_json()["changed"] == len(proposal["moves"])
    loads = {x["team_id"]: x["residents"] for x in staff.get("/api/v1/assignments/load").get_json()}
    assert loads[world.teams["A1"]] == after[str(world.teams["A1"])]
    assert None not in loads
    # accepting the same (now stale) proposal again is refused, nothing changes
    r = staff.post("/api/v1/assignments/proposal/accept", json={"moves": proposal["moves"], "reason": "均衡"})
    assert r.status_code == 409 and "moves" in r.get_json()["errors"]


def test_gps_cannot_assign(as_user, world):
    r = as_user("gp-a1").post("/api/v1/assignments/", json={"household_ids": [world.households["A1-0"]],
                                                            "team_id": None, "reason": "x y"})
    assert r.status_code == 403


def test_a_dry_run_counts_households_and_residents_per_team_and_changes_nothing(as_user, world, session):
    from server.org.models import Committee

    staff = as_user("staff-a")
    ids = [world.households["A0-0"], world.households["A1-0"], world.households["A2-0"]]
    body = {"household_ids": ids, "team_id": world.teams["A2"], "reason": "预览"}
    before = staff.get("/api/v1/assignments/history").get_json()["total"]
    r = staff.post("/api/v1/assignments/?dry_run=true", json=body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"changed": 2, "residents": 4, "batch_id": None, "moves": [
        {"from_team_id": world.teams["A1"], "to_team_id": world.teams["A2"], "households": 1, "residents": 2},
        {"from_team_id": None, "to_team_id": world.teams["A2"], "households": 1, "residents": 2}]}
    r = staff.post("/api/v1/assignments/by-committee?dry_run=true",
                   json={"committee_id": world.committees["A1"], "team_id": None, "reason": "预览"})
    assert r.get_json() == {"changed": 2, "residents": 4, "batch_id": None, "moves": [
        {"from_team_id": world.teams["A1"], "to_team_id": None, "households": 2, "residents": 4}]}
    assert staff.get("/api/v1/assignments/history").get_json()["total"] == before
    assert session.get(Committee, world.committees["A1"]).team_id == world.teams["A1"]
    assert as_user("gp-a1").get("/api/v1/households").get_json()["total"] == 2


def test_a_batch_is_listed_and_undone_as_a_new_batch(as_user, world):
    staff = as_user("staff-a")
    r = staff.post("/api/v1/assignments/", json={
        "household_ids": [world.households["A0-0"], world.households["A1-0"]], "team_id": world.teams["A2"],
        "reason": "误操作"})
    batch = r.get_json()["batch_id"]
    got = staff.get("/api/v1/assignments/batches").get_json()
    entry = got["items"][0]
    assert entry["batch_id"] == batch and entry["households"] == 2 and entry["reason"] == "误操作"
    assert entry["changed_by"] == world.users["staff-a"]
    assert sorted(entry["moves"], key=lambda m: m["from_team_id"] or 0) == [
        {"from_team_id": None, "to_team_id": world.teams["A2"], "households": 1},
        {"from_team_id": world.teams["A1"], "to_team_id": world.teams["A2"], "households": 1}]
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 4

    r = staff.post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "撤销误操作"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["changed"] == 2 and r.get_json()["batch_id"] != batch
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 2
    assert world.households["A1-0"] in [h["id"] for h in as_user("gp-a1").get("/api/v1/households").get_json()["items"]]
    unassigned = staff.get("/api/v1/households?unassigned=true").get_json()["items"]
    assert world.households["A0-0"] in [h["id"] for h in unassigned]
    listed = staff.get("/api/v1/assignments/batches").get_json()["items"]
    assert [b["reason"] for b in listed[:2]] == ["撤销误操作", "误操作"]
    # undoing it again finds the households gone back: refused, nothing moves
    r = staff.post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "再撤销"})
    assert r.status_code == 409 and "batch_id" in r.get_json()["errors"]


def test_an_undo_is_refused_when_a_household_moved_since(as_user, world):
    staff = as_user("staff-a")
    batch = staff.post("/api/v1/assignments/", json={"household_ids": [world.households["A0-0"]],
                                                     "team_id": world.teams["A1"], "reason": "先分"}).get_json()["batch_id"]
    staff.post("/api/v1/assignments/", json={"household_ids": [world.households["A0-0"]],
                                             "team_id": world.teams["A2"], "reason": "后改"})
    r = staff.post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "撤销"})
    assert r.status_code == 409 and world.households["A0-0"] in r.get_json()["errors"]["batch_id"][0]
    assert as_user("gp-a2").get(f"/api/v1/households/{world.households['A0-0']}").status_code == 200


def test_undo_of_an_unknown_batch_and_by_a_gp(as_user, world):
    staff = as_user("staff-a")
    assert staff.post("/api/v1/assignments/batches/nope/undo", json={"reason": "撤销"}).status_code == 404
    batch = staff.post("/api/v1/assignments/", json={"household_ids": [world.households["A0-0"]],
                                                     "team_id": world.teams["A1"], "reason": "先分"}).get_json()["batch_id"]
    assert as_user("gp-a1").post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "撤销"}).status_code == 403
    assert as_user("staff-b").post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "撤销"}).status_code == 403


def test_undoing_a_committee_batch_gives_the_committee_its_team_back(as_user, world, session):
    staff = as_user("staff-a")
    r = staff.post("/api/v1/assignments/by-committee", json={"committee_id": world.committees["A1"],
                                                             "team_id": world.teams["A2"], "reason": "误选居委会"})
    assert r.status_code == 200, r.get_json()
    batch = r.get_json()["batch_id"]
    assert session.get(Committee, world.committees["A1"]).team_id == world.teams["A2"]
    r = staff.post(f"/api/v1/assignments/batches/{batch}/undo", json={"reason": "撤销"})
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    # Before the fix the households went back but the committee stayed with A2, so the next household
    # opened in it went to the wrong team.
    assert session.get(Committee, world.committees["A1"]).team_id == world.teams["A1"]
    h = staff.post("/api/v1/households", json={"committee_id": world.committees["A1"], "address": "A1路9号"})
    assert h.status_code == 201 and h.get_json()["team_id"] == world.teams["A1"]
    # Both batches list the committee's move (the history page shows it); the new household has moved
    # since the undo, so undoing the undo is refused.
    listed = staff.get("/api/v1/assignments/batches").get_json()["items"]
    a1, a2 = world.teams["A1"], world.teams["A2"]
    assert [b["committees"] for b in listed[:2]] == [
        [{"committee_id": world.committees["A1"], "from_team_id": a2, "to_team_id": a1}],
        [{"committee_id": world.committees["A1"], "from_team_id": a1, "to_team_id": a2}]]


def test_a_committee_undo_is_refused_when_the_committee_changed_team_since(as_user, world, session):
    staff = as_user("staff-a")
    first = staff.post("/api/v1/assignments/by-committee", json={
        "committee_id": world.committees["A0"], "team_id": world.teams["A1"], "reason": "先分"}).get_json()
    staff.post("/api/v1/assignments/by-committee", json={
        "committee_id": world.committees["A0"], "team_id": world.teams["A2"], "reason": "只分新户",
        "only_unassigned": True})
    r = staff.post(f"/api/v1/assignments/batches/{first['batch_id']}/undo", json={"reason": "撤销"},
                   headers={"Accept-Language": "zh"})
    assert r.status_code == 409, r.get_json()
    assert "居委会" in r.get_json()["message"]
    session.expire_all()
    assert session.get(Committee, world.committees["A0"]).team_id == world.teams["A2"]
