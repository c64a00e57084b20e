"""The worklist with a pinned today (Monday 2026-06-15): buckets, urgency and route order, filters, scope."""
from server.households.models import Resident


def _scene(fu, as_user, session):
    """Team A1's 4 residents with both conditions in every bucket; two patients in team A2."""
    v = fu.visit
    for key in ("A1-0-0", "A1-0-1", "A1-1-0", "A1-1-1", "A2-0-0", "A2-0-1"):
        fu.register(key)
    for key in ("A1-0-0", "A1-0-1", "A1-1-0", "A1-1-1"):
        fu.register(key, "t2dm")
    f, d = fu.htn_form, fu.dm_form
    # 张三 hypertension: overdue by 14 days.
    fu.ok(v("A1-0-0", f("2026-03-01", next_visit_date="2026-06-01")))
    # 李四 hypertension: booked far away, amended to this week (the effective record counts).
    wrong = fu.ok(v("A1-0-1", f("2026-03-20", next_visit_date="2026-09-01")))
    fu.ok(as_user("gp-a1").post(f"/api/v1/followups/{wrong['id']}/amendments", json={
        "id": fu.new_id(), "reason": "预约日期写错", "form": f("2026-03-20", next_visit_date="2026-06-18")}))
    # 李四 diabetes: only a phone visit this year.
    fu.ok(v("A1-0-1", d("2026-05-01", visit_mode=3, sbp=None, dbp=None, weight_kg=None, heart_rate=None,
                        fpg_mmol=None, dorsalis_pedis=None, next_visit_date="2026-07-30"), condition="t2dm"))
    # 王五 hypertension (75): uncontrolled at 150/95 -> 2-week recheck on 06-22.
    fu.ok(v("A1-1-0", f("2026-06-08", sbp=150, dbp=95, classification=2)))
    # 王五 diabetes: overdue by 45 days (further along the route than 张三).
    fu.ok(v("A1-1-0", d("2026-02-01", next_visit_date="2026-05-01"), condition="t2dm"))
    # 赵六 hypertension: emergency 185/100.
    fu.ok(v("A1-1-1", f("2026-06-12", sbp=185, dbp=100, classification=2)))
    # 赵六 diabetes: referred on 06-05 (follow up by 06-19), uncontrolled FPG.
    fu.ok(v("A1-1-1", d("2026-06-05", fpg_mmol=8.1, classification=2, referral_reason="血糖控制不佳",
                        referral_institution="东方医院", referral_department="内分泌科"), condition="t2dm"))
    # Team A2: one controlled far away (not listed), one overdue.
    fu.ok(v("A2-0-0", f("2026-06-01", next_visit_date="2026-08-30"), user="gp-a2"))
    fu.ok(v("A2-0-1", f("2026-01-05", next_visit_date="2026-04-05"), user="gp-a2"))
    # 张三's responsible doctor is the nurse; everyone else falls to the signer of their latest visit.
    session.get(Resident, fu.w.residents["A1-0-0"]).responsible_doctor_id = fu.w.users["nurse-a1"]
    session.commit()


def _lines(body):
    return [(i["name"], i["condition"], i["buckets"]) for i in body["items"]]


def test_buckets_urgency_and_route_order(fu, as_user, session):
    _scene(fu, as_user, session)
    r = as_user("gp-a1").get("/api/v1/worklist")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["today"] == "2026-06-15" and body["team_id"] == fu.w.teams["A1"]
    assert _lines(body) == [
        ("赵六", "hypertension", ["emergency", "recheck"]),
        ("赵六", "t2dm", ["referral", "recheck", "due_this_week"]),
        ("王五", "hypertension", ["recheck"]),
        ("张三", "hypertension", ["overdue"]),       # A1路1号 before A1路2号, although less overdue
        ("王五", "t2dm", ["overdue"]),
        ("李四", "hypertension", ["due_this_week"]),  # the amendment's date, not the original's
        ("张三", "t2dm", ["not_seen_this_year"]),     # registered, never visited
        ("李四", "t2dm", ["not_seen_this_year"]),     # a phone visit is not a face-to-face visit
    ]
    items = {(i["name"], i["condition"]): i for i in body["items"]}
    assert items[("张三", "hypertension")]["overdue_days"] == 14
    assert items[("王五", "t2dm")]["overdue_days"] == 45
    assert items[("赵六", "t2dm")]["referral_due_date"] == "2026-06-19"
    assert items[("王五", "hypertension")]["next_visit_date"] == "2026-06-22"
    assert items[("李四", "hypertension")]["next_visit_date"] == "2026-06-18"
    assert items[("张三", "hypertension")]["address"] == "A1路1号"
    assert body["counts"] == {"emergency": 1, "referral": 1, "recheck": 3, "overdue": 2, "due_this_week": 2,
                              "not_seen_this_year": 2}
    assert body["total"] == 8


def test_filters_member_condition_bucket_and_pages(fu, as_user, session):
    _scene(fu, as_user, session)
    gp = as_user("gp-a1")
    nurse = gp.get(f"/api/v1/worklist?member_id={fu.w.users['nurse-a1']}").get_json()
    assert _lines(nurse) == [("张三", "hypertension", ["overdue"]), ("张三", "t2dm", ["not_seen_this_year"])]
    doctor = gp.get(f"/api/v1/worklist?member_id={fu.w.users['gp-a1']}").get_json()
    assert {i["name"] for i in doctor["items"]} == {"赵六", "王五", "李四"}
    diabetes = gp.get("/api/v1/worklist?condition=t2dm").get_json()
    assert [i["name"] for i in diabetes["items"]] == ["赵六", "王五", "张三", "李四"]
    overdue = gp.get("/api/v1/worklist?bucket=overdue").get_json()
    assert [i["name"] for i in overdue["items"]] == ["张三", "王五"]
    page2 = gp.get("/api/v1/worklist?page=2&page_size=3").get_json()
    assert [i["name"] for i in page2["items"]] == ["张三", "王五", "李四"] and page2["total"] == 8
    bad = gp.get("/api/v1/worklist?bucket=soon")
    assert bad.status_code == 422 and "bucket" in bad.get_json()["errors"]["query"]


def test_lost_and_deceased_patients_leave_the_worklist(fu, as_user, session):
    _scene(fu, as_user, session)
    gp = as_user("gp-a1")
    fu.ok(gp.post("/api/v1/followups/lost", json={"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"],
                                                  "condition": "hypertension", "date": "2026-06-10",
                                                  "reason": "迁往外地"}))
    fu.ok(gp.post("/api/v1/followups/deaths", json={"id": fu.new_id(), "resident_id": fu.w.residents["A1-1-1"],
                                                    "condition": "hypertension", "date": "2026-06-14",
                                                    "cause": "心肌梗死"}))
    names = [(i["name"], i["condition"]) for i in gp.get("/api/v1/worklist").get_json()["items"]]
    assert ("张三", "hypertension") not in names and ("张三", "t2dm") in names
    assert not any(name == "赵六" for name, _ in names)


def test_worklist_scope(fu, as_user, session):
    _scene(fu, as_user, session)
    a2 = fu.w.teams["A2"]
    assert as_user("gp-a1").get(f"/api/v1/worklist?team_id={a2}").status_code == 404
    assert as_user("staff-b").get(f"/api/v1/worklist?team_id={a2}").status_code == 404
    assert as_user("spec").get("/api/v1/worklist").status_code == 403
    mine = as_user("gp-a2").get("/api/v1/worklist").get_json()
    assert [(i["address"], i["buckets"]) for i in mine["items"]] == [("A2路1号", ["overdue"])]
    center = as_user("staff-a").get("/api/v1/worklist?bucket=overdue").get_json()
    # Committee 001 (team A1) before committee 002 (team A2) within the same urgency.
    assert [i["address"] for i in center["items"]] == ["A1路1号", "A1路2号", "A2路1号"]
    assert as_user("staff-b").get("/api/v1/worklist").get_json()["items"] == []
    assert as_user("staff-a").get(f"/api/v1/worklist?team_id={a2}").get_json()["total"] == 1


def test_an_older_visit_arriving_late_does_not_replace_the_latest(fu, as_user, session):
    from sqlalchemy import select

    from server.followups import services
    from server.followups.models import FollowUpStatus

    fu.register("A1-0-1")
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-01", next_visit_date="2026-06-16")))
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-02-01", next_visit_date="2026-05-01")))  # synced late
    item = as_user("gp-a1").get("/api/v1/worklist").get_json()["items"][0]
    assert (item["visit_date"], item["next_visit_date"], item["buckets"]) == ("2026-06-01", "2026-06-16",
                                                                              ["due_this_week"])

    def snapshot():
        session.expire_all()
        return [tuple(getattr(r, c) for c in services._STATUS_COLUMNS)
                for r in session.scalars(select(FollowUpStatus).order_by(FollowUpStatus.resident_id))]

    kept = snapshot()
    services.rebuild_status(session)  # the bulk rebuild agrees with the row kept on every write
    session.commit()
    assert snapshot() == kept and len(kept) == 1


def _status(session, key_resident, condition="hypertension"):
    from server.followups.models import FollowUpStatus

    session.expire_all()
    return session.get(FollowUpStatus, (key_resident, condition))


def _names(as_user, user):
    return sorted((i["name"], i["condition"]) for i in as_user(user).get("/api/v1/worklist").get_json()["items"])


def test_status_rows_follow_households_assigned_to_another_team(fu, as_user, session):
    """The worklist starts from the status rows' team: assigning a household moves its patients' rows."""
    _scene(fu, as_user, session)
    a1, a2 = fu.w.teams["A1"], fu.w.teams["A2"]
    zhang = fu.w.residents["A1-0-0"]
    assert _status(session, zhang).team_id == a1
    before_a2 = _names(as_user, "gp-a2")
    r = as_user("staff-a").post("/api/v1/assignments/", json={
        "household_ids": [fu.w.households["A1-0"]], "team_id": a2, "reason": "调整服务范围"})
    assert r.status_code == 200 and r.get_json()["changed"] == 1
    assert _status(session, zhang).team_id == a2
    assert _status(session, zhang, "t2dm").team_id == a2  # never visited: an empty row, moved too
    assert _status(session, zhang, "t2dm").visit_date is None
    moved = {("张三", "hypertension"), ("张三", "t2dm"), ("李四", "hypertension"), ("李四", "t2dm")}
    assert set(_names(as_user, "gp-a2")) == set(before_a2) | moved
    assert not moved & set(_names(as_user, "gp-a1"))
    # To no team: the rows carry no team, no GP team lists them, the center still does.
    as_user("staff-a").post("/api/v1/assignments/", json={
        "household_ids": [fu.w.households["A1-0"]], "team_id": None, "reason": "暂不分配"})
    assert _status(session, zhang).team_id is None
    assert not moved & set(_names(as_user, "gp-a2"))
    assert moved <= {(i["name"], i["condition"]) for i in
                     as_user("staff-a").get("/api/v1/worklist").get_json()["items"]}


def test_status_row_follows_a_resident_who_moves_household(fu, as_user, session):
    from server.auth.models import User
    from server.households import services as households
    from server.households.models import Resident
    from server.scope import Actor

    _scene(fu, as_user, session)
    wang = fu.w.residents["A1-1-0"]  # 王五: recheck (hypertension) and overdue (t2dm) in team A1
    admin = Actor.of(session.get(User, fu.w.users["admin"]))
    households.move_resident(session, admin, session.get(Resident, wang),
                             {"household_id": fu.w.households["A2-1"], "reason": "搬家"})
    session.commit()
    assert _status(session, wang).team_id == _status(session, wang, "t2dm").team_id == fu.w.teams["A2"]
    assert ("王五", "hypertension") in _names(as_user, "gp-a2") and ("王五", "t2dm") in _names(as_user, "gp-a2")
    assert not any(name == "王五" for name, _ in _names(as_user, "gp-a1"))


def test_worklist_ignores_nothing_with_every_row_read(fu, as_user, session):
    """The same lists when every status row is read (due_from as the migration leaves it), per filter."""
    import datetime as dt

    from sqlalchemy import update

    from server.followups.models import FollowUpStatus

    _scene(fu, as_user, session)
    gp = as_user("gp-a1")
    queries = ["", "?condition=t2dm", "?condition=hypertension", f"?member_id={fu.w.users['nurse-a1']}",
               f"?member_id={fu.w.users['gp-a1']}", "?bucket=overdue", "?bucket=due_this_week"]
    narrowed = [gp.get("/api/v1/worklist" + q).get_json() for q in queries]
    session.execute(update(FollowUpStatus).values(due_from=dt.date.min))
    session.commit()
    assert [gp.get("/api/v1/worklist" + q).get_json() for q in queries] == narrowed


def _snapshot(session):
    from sqlalchemy import select

    from server.followups import services
    from server.followups.models import FollowUpStatus

    session.expire_all()
    return [tuple(getattr(r, c) for c in services._STATUS_COLUMNS)
            for r in session.scalars(select(FollowUpStatus).order_by(FollowUpStatus.resident_id,
                                                                     FollowUpStatus.condition))]


def _rebuilt_agrees(session):
    from server.followups import services

    kept = _snapshot(session)
    services.rebuild_status(session)  # the bulk rebuild agrees with the row kept on every write
    session.commit()
    assert _snapshot(session) == kept
    return kept


def test_a_late_older_visit_re_decides_the_latest_for_the_worklist(fu, as_user, session):
    """Signed 04-01 (controlled) and 06-01 (uncontrolled, first in a row: no referral); then 05-15
    (uncontrolled) arrives late. 05-15 is judged against 04-01, the visit before it by date; the status row
    keeps 06-01, re-decided against 05-15: second uncontrolled in a row, routine referral. The signed
    06-01 record is not changed."""
    fu.register("A1-0-1")  # born 1970: target < 140/90
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-04-01")))
    june = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-01", sbp=150, dbp=95, classification=2)))
    assert june["referral"] == "none" and june["next_visit_date"] == "2026-06-15"
    item = as_user("gp-a1").get("/api/v1/worklist").get_json()["items"][0]
    assert (item["referral"], item["reassessed"]) == ("none", False)

    late = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-15", sbp=152, dbp=96, classification=2)))
    assert late["assessment"]["consecutive_uncontrolled"] is False  # 04-01 was controlled
    assert late["referral"] == "none" and late["next_visit_date"] == "2026-05-29"
    item = as_user("gp-a1").get("/api/v1/worklist").get_json()["items"][0]
    assert (item["visit_date"], item["referral"], item["reassessed"], item["next_visit_date"]) == (
        "2026-06-01", "routine", True, "2026-06-15")
    assert item["buckets"] == ["recheck", "due_this_week"]
    again = as_user("gp-a1").get(f"/api/v1/followups/{june['id']}").get_json()
    assert again["referral"] == "none" and again["assessment"] == june["assessment"]
    kept = _rebuilt_agrees(session)
    assert len(kept) == 1 and kept[0][-1] is True  # reassessed


def test_late_visits_earlier_in_the_year_change_the_latest_booking(fu, as_user, session):
    """06-01 signed first: 1 face-to-face visit this year, 3 more needed by 31 December, so the rules book
    71 days ahead (08-11). Visits of 02-01 and 04-01 signed later make it 3 this year: plain 90 days, to Sunday
    08-30, booked on the working day before (08-28)."""
    fu.register("A1-0-1")
    first = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-01")))
    assert first["next_visit_date"] == "2026-08-11"
    for day in ("2026-02-01", "2026-04-01"):
        fu.ok(fu.visit("A1-0-1", fu.htn_form(day)))
    row = _status(session, fu.w.residents["A1-0-1"])
    assert (row.visit_date.isoformat(), row.next_visit_date.isoformat(), row.reassessed) == (
        "2026-06-01", "2026-08-28", True)
    # A newer visit signed in order is taken as signed: nothing to re-decide.
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-06-10")))
    row = _status(session, fu.w.residents["A1-0-1"])
    assert (row.visit_date.isoformat(), row.reassessed) == ("2026-06-10", False)
    _rebuilt_agrees(session)


def test_an_amended_older_visit_re_decides_the_latest(fu, as_user, session):
    """Correcting the 05-01 BP to uncontrolled makes the later 05-15 visit the second in a row."""
    fu.register("A1-0-1")
    may = fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-01")))
    fu.ok(fu.visit("A1-0-1", fu.htn_form("2026-05-15", sbp=150, dbp=95, classification=2)))
    assert _status(session, fu.w.residents["A1-0-1"]).referral == "none"
    fu.ok(as_user("gp-a1").post(f"/api/v1/followups/{may['id']}/amendments", json={
        "id": fu.new_id(), "reason": "血压抄错", "form": fu.htn_form("2026-05-01", sbp=151, dbp=94,
                                                                  classification=2)}))
    row = _status(session, fu.w.residents["A1-0-1"])
    assert (row.visit_date.isoformat(), row.referral, row.reassessed) == ("2026-05-15", "routine", True)
    _rebuilt_agrees(session)


def test_every_registry_entry_has_a_status_row(fu, as_user, session):
    """Registered over the API, imported from the old system or recorded by a tablet: every registry entry
    has its worklist row from the start (the worklist reads nothing else), the same a rebuild makes."""
    import io
    import uuid
    from pathlib import Path

    from sqlalchemy import select

    from server.followups.models import FollowUpStatus
    from server.households.models import ChronicCondition

    from server.org.models import Committee

    fu.register("A1-0-0")
    fu.register("A2-0-1", "t2dm")
    # The sample file also names village committee 101 (as tests/server/test_import.py adds it).
    session.add(Committee(center_id=fu.w.centers["A"], code="101", name="东沟村村委会", last_serial=0))
    session.commit()
    sample = Path(__file__).resolve().parents[2] / "server" / "imports" / "sample" / "residents-sample.csv"
    r = as_user("staff-a").post(f"/api/v1/imports/residents?center_id={fu.w.centers['A']}&dry_run=false",
                                data={"file": (io.BytesIO(sample.read_bytes()), "list.csv")},
                                content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["conditions"] > 0, r.get_json()
    push = as_user("gp-a1").post("/api/v1/sync/push", json={
        "device_id": "tablet-1", "batch_id": str(uuid.uuid4()), "records": [
            {"change_id": str(uuid.uuid4()), "entity": "chronic_conditions", "entity_id": str(uuid.uuid4()),
             "op": "create", "fields": {"resident_id": fu.w.residents["A1-1-1"], "condition": "hypertension"}}]})
    assert push.status_code == 200 and push.get_json()["results"][0]["status"] == "applied", push.get_json()
    session.expire_all()
    entries = sorted(session.execute(select(ChronicCondition.resident_id, ChronicCondition.condition)).all())
    rows = {(s.resident_id, s.condition): s for s in session.scalars(select(FollowUpStatus))}
    assert sorted(rows) == entries and len(entries) >= 2
    assert all(row.visit_date is None for row in rows.values())
    assert (fu.w.residents["A1-1-1"], "hypertension") in rows and len(entries) >= 3
    _rebuilt_agrees(session)


def test_route_order_reads_building_numbers_as_numbers(fu, as_user, session):
    from server.households.models import Household
    _scene(fu, as_user, session)
    # 张三's household renumbered 10号: as text "A1路10号" sorts before "A1路2号"; on the walk it comes after.
    household = session.get(Household, session.get(Resident, fu.w.residents["A1-0-0"]).household_id)
    assert household.address.startswith("A1路1号")
    household.address = household.address.replace("A1路1号", "A1路10号")
    session.commit()
    overdue = [(i["name"], i["address"]) for i in as_user("gp-a1").get("/api/v1/worklist").get_json()["items"]
               if i["buckets"] == ["overdue"]]
    assert [name for name, _ in overdue] == ["王五", "张三"], overdue
