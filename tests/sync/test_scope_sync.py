"""Scope of the sync endpoints for every user of the world: a tablet never receives or changes another
team's records."""
import uuid

import pytest

GPS = {"gp-a1": "A1", "nurse-a1": "A1", "gp-a2": "A2", "gp-b1": "B1"}


@pytest.mark.parametrize("user", sorted(GPS))
def test_pull_holds_only_the_callers_team(user, world, tablet, tablet_scope):
    store, engine = tablet(user)
    engine.sync()
    team = GPS[user]
    held = tablet_scope(store)
    assert set(held["households"]) == {world.households[f"{team}-{n}"] for n in range(2)}
    assert set(held["residents"]) == {v for k, v in world.residents.items() if k.startswith(team + "-")}


@pytest.mark.parametrize("user", sorted(GPS))
def test_push_to_another_teams_records_is_refused_per_record(user, world, client, token, session):
    from server.households.models import Household, Resident

    before = {h.id: h.version for h in session.query(Household)} | {r.id: r.version for r in session.query(Resident)}
    records = []
    for key in ("A1", "A2", "A0", "B1"):
        if key == GPS[user]:
            continue
        records.append({"change_id": str(uuid.uuid4()), "entity": "households", "entity_id": world.households[f"{key}-0"],
                        "op": "update", "base": {}, "fields": {"phone": "110"}})
        records.append({"change_id": str(uuid.uuid4()), "entity": "residents",
                        "entity_id": world.residents[f"{key}-0-0"], "op": "update", "base": {},
                        "fields": {"phone": "110"}})
        records.append({"change_id": str(uuid.uuid4()), "entity": "residents", "entity_id": str(uuid.uuid4()),
                        "op": "create", "base": {}, "fields": {"household_id": world.households[f"{key}-0"],
                                                               "name": "外人", "sex": "1", "birth_date": "1970-01-01"}})
        records.append({"change_id": str(uuid.uuid4()), "entity": "households", "entity_id": str(uuid.uuid4()),
                        "op": "create", "base": {}, "fields": {"committee_id": world.committees[key],
                                                               "address": "某路1号"}})
    r = client.post("/api/v1/sync/push", json={"batch_id": str(uuid.uuid4()), "device_id": "t", "records": records},
                    headers={"Authorization": f"Bearer {token(user)}"})
    assert r.status_code == 200
    for res in r.get_json()["results"]:
        assert res["status"] == "rejected", res
        assert res["current"] is None  # nothing of another team's record is shown
    session.expire_all()
    after = {h.id: h.version for h in session.query(Household)} | {r.id: r.version for r in session.query(Resident)}
    assert after == before


def test_the_conflict_log_is_scoped(world, tablet, as_user):
    s1, e1 = tablet("gp-b1")
    s2, e2 = tablet("gp-b1", name="second")
    e1.sync(), e2.sync()
    rid = world.residents["B1-0-0"]
    s1.save_resident_edit(rid, {"phone": "1"})
    s2.save_resident_edit(rid, {"phone": "2"})
    e1.sync(), e2.sync()
    seen = {u: as_user(u).get("/api/v1/sync/conflicts").get_json()["total"]
            for u in ("admin", "staff-a", "staff-b", "gp-a1", "gp-b1")}
    assert seen == {"admin": 1, "staff-a": 0, "staff-b": 1, "gp-a1": 0, "gp-b1": 1}
    assert as_user("spec").get("/api/v1/sync/conflicts").status_code == 403
