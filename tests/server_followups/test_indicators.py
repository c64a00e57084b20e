"""Indicators on a small hand-built dataset: the expected numbers are worked out by hand below."""
import csv
import datetime as dt
import io

from openpyxl import load_workbook

from tests.conftest import world_layer
from tests.server_followups.conftest import helpers


@world_layer
def dataset(ctx):
    """Team A1: P1 张三 (75 in 2025), P2 李四 (55), P3 王五 (74), P4 赵六 (54); team A2: P5 钱七.

    Every form books a next visit, so a visit is complete unless a box is removed on purpose. Built once for
    the tests that read it (a world_layer: each is rolled back to it)."""
    fu, as_user = helpers(ctx.world, ctx.as_user, ctx.app), ctx.as_user
    f, d = fu.htn_form, fu.dm_form
    phone = dict(visit_mode=3, sbp=None, dbp=None, weight_kg=None, height_cm=None, heart_rate=None)

    def visit(key, day, cond="hypertension", user="gp-a1", **changes):
        form = (f if cond == "hypertension" else d)(day, next_visit_date=_plus(day), **changes)
        return fu.ok(fu.visit(key, form, condition=cond, user=user))

    for key in ("A1-0-0", "A1-0-1", "A1-1-0", "A1-1-1"):
        fu.register(key)
    fu.register("A2-0-0")
    fu.register("A1-0-0", "t2dm")
    fu.register("A1-1-0", "t2dm", diagnosed_on="2026-02-01")  # P6: not yet diagnosed in 2025
    # P1 hypertension, target < 150/90: 4 face-to-face + 1 phone; the latest BP 148/86 is controlled.
    visit("A1-0-0", "2025-02-10", sbp=145, dbp=85)
    visit("A1-0-0", "2025-05-10", sbp=150, dbp=88, classification=2, visit_mode=2)
    visit("A1-0-0", "2025-05-24", sbp=140, dbp=80)
    visit("A1-0-0", "2025-08-20", **phone)
    visit("A1-0-0", "2025-11-15", sbp=148, dbp=86)
    # P2 hypertension, target < 140/90: 2 face-to-face + 2 phone; the latest BP 142/85 is not controlled.
    visit("A1-0-1", "2025-03-01", sbp=138, dbp=88)
    visit("A1-0-1", "2025-06-01", **phone)
    visit("A1-0-1", "2025-09-01", **phone)
    visit("A1-0-1", "2025-12-01", sbp=142, dbp=85, classification=2)
    # P3: registered, never visited.
    # P4: an "emergency" 185/100 that was a typing slip, amended to 135/85; then one visit with no heart
    # rate (incomplete); lost to follow-up on 2025-10-01.
    slip = visit("A1-1-1", "2025-04-01", sbp=185, dbp=100, classification=2)
    assert slip["emergency"] is True
    fu.ok(as_user("gp-a1").post(f"/api/v1/followups/{slip['id']}/amendments", json={
        "id": fu.new_id(), "reason": "收缩压录入错误",
        "form": f("2025-04-01", sbp=135, dbp=85, next_visit_date="2025-06-30")}))
    visit("A1-1-1", "2025-07-01", sbp=130, dbp=80, heart_rate=None)
    fu.ok(as_user("gp-a1").post("/api/v1/followups/lost", json={
        "id": fu.new_id(), "resident_id": fu.w.residents["A1-1-1"], "condition": "hypertension",
        "date": "2025-10-01", "reason": "搬离辖区"}))
    # P1 diabetes: 3 face-to-face, one an emergency (FPG 17.0); the latest FPG 7.4 is not controlled.
    visit("A1-0-0", "2025-03-01", "t2dm", fpg_mmol=6.5)
    visit("A1-0-0", "2025-06-01", "t2dm", fpg_mmol=17.0, classification=2)
    visit("A1-0-0", "2025-09-01", "t2dm", fpg_mmol=7.4, classification=2)
    # P5 (team A2): one controlled visit.
    visit("A2-0-0", "2025-01-15", sbp=120, dbp=80, user="gp-a2")
    # 2026: P1 twice (the second, in Q2, uncontrolled at 76: 155/85); P6 once in Q2 (FPG 6.0).
    visit("A1-0-0", "2026-01-10", sbp=130, dbp=80)
    visit("A1-0-0", "2026-04-10", sbp=155, dbp=85, classification=2)
    visit("A1-1-0", "2026-05-01", "t2dm", fpg_mmol=6.0)
    return ctx.world


def _plus(day: str) -> str:
    import datetime as dt
    return (dt.date.fromisoformat(day) + dt.timedelta(days=14)).isoformat()


def _rows(body, level, condition):
    return {(r["team_id"] or r["center_id"]): r for r in body["rows"]
            if r["level"] == level and r["condition"] == condition}


def _pick(row, *keys):
    return {k: row[k] for k in keys}


KEYS = ("under_management", "managed_to_spec", "spec_rate", "bp_measured", "bp_controlled", "bp_control_rate",
        "fpg_measured", "fpg_controlled", "glucose_control_rate", "emergency_visits", "emergency_patients",
        "visits", "complete_visits", "completeness_rate")


def test_year_indicators_by_hand(dataset, as_user):
    w = dataset
    body = as_user("admin").get("/api/v1/followups/indicators?year=2025").get_json()
    assert body["period_start"] == "2025-01-01" and body["period_end"] == "2025-12-31"
    assert body["visits_for_spec"] == 4
    a1 = _rows(body, "team", "hypertension")[w.teams["A1"]]
    # Under management: P1-P4 (P4 was lost in October, so was managed during 2025).
    # To the specification: only P1 (4 face-to-face; P2 has 2, P4 has 2 as the amendment replaces the slip).
    # BP: measured P1 (148/86 at 75: controlled), P2 (142/85 at 55: not), P4 (130/80: controlled).
    # Emergencies: none (the only one was amended away). Visits 5 + 4 + 2 = 11, all complete but P4's July.
    assert _pick(a1, *KEYS) == {
        "under_management": 4, "managed_to_spec": 1, "spec_rate": 0.25, "bp_measured": 3, "bp_controlled": 2,
        "bp_control_rate": 0.5, "fpg_measured": 0, "fpg_controlled": 0, "glucose_control_rate": None,
        "emergency_visits": 0, "emergency_patients": 0, "visits": 11, "complete_visits": 10,
        "completeness_rate": round(10 / 11, 4)}
    dm = _rows(body, "team", "t2dm")[w.teams["A1"]]
    # Only P1 (P6 was diagnosed in 2026): 3 face-to-face < 4; latest FPG 7.4 not controlled; BP 128/82 fine.
    assert _pick(dm, *KEYS) == {
        "under_management": 1, "managed_to_spec": 0, "spec_rate": 0.0, "bp_measured": 1, "bp_controlled": 1,
        "bp_control_rate": 1.0, "fpg_measured": 1, "fpg_controlled": 0, "glucose_control_rate": 0.0,
        "emergency_visits": 1, "emergency_patients": 1, "visits": 3, "complete_visits": 3,
        "completeness_rate": 1.0}
    a2 = _rows(body, "team", "hypertension")[w.teams["A2"]]
    assert _pick(a2, "under_management", "managed_to_spec", "bp_controlled", "visits") == {
        "under_management": 1, "managed_to_spec": 0, "bp_controlled": 1, "visits": 1}
    b1 = _rows(body, "team", "hypertension")[w.teams["B1"]]
    assert b1["under_management"] == 0 and b1["spec_rate"] is None
    center = _rows(body, "center", "hypertension")[w.centers["A"]]
    assert _pick(center, "under_management", "managed_to_spec", "bp_controlled", "bp_control_rate", "visits",
                 "complete_visits") == {"under_management": 5, "managed_to_spec": 1, "bp_controlled": 3,
                                        "bp_control_rate": 0.6, "visits": 12, "complete_visits": 11}
    district = [r for r in body["rows"] if r["level"] == "district" and r["condition"] == "hypertension"]
    assert len(district) == 1 and district[0]["under_management"] == 5 and district[0]["bp_controlled"] == 3


def test_quarter_indicators_by_hand(dataset, as_user):
    w = dataset
    body = as_user("gp-a1").get("/api/v1/followups/indicators?year=2026&quarter=2").get_json()
    assert body["period_start"] == "2026-04-01" and body["period_end"] == "2026-06-30"
    assert body["visits_for_spec"] == 2
    assert {r["level"] for r in body["rows"]} == {"team"} and {r["team_id"] for r in body["rows"]} == {w.teams["A1"]}
    htn = _rows(body, "team", "hypertension")[w.teams["A1"]]
    # P1, P2, P3 (P4 was lost before the quarter). P1 has 2 face-to-face visits by 30 June: on track.
    # The quarter's only BP is P1's 155/85 at 76: not controlled.
    assert _pick(htn, "under_management", "managed_to_spec", "bp_measured", "bp_controlled", "visits") == {
        "under_management": 3, "managed_to_spec": 1, "bp_measured": 1, "bp_controlled": 0, "visits": 1}
    dm = _rows(body, "team", "t2dm")[w.teams["A1"]]
    # P1 (no 2026 visit) and P6 (one visit, FPG 6.0).
    assert _pick(dm, "under_management", "managed_to_spec", "fpg_measured", "fpg_controlled",
                 "glucose_control_rate") == {"under_management": 2, "managed_to_spec": 0, "fpg_measured": 1,
                                             "fpg_controlled": 1, "glucose_control_rate": 0.5}


def test_indicator_scope(dataset, as_user):
    w = dataset
    staff = as_user("staff-a").get("/api/v1/followups/indicators?year=2025&condition=hypertension").get_json()
    assert {(r["level"], r["team_id"] or r["center_id"]) for r in staff["rows"]} == {
        ("team", w.teams["A1"]), ("team", w.teams["A2"]), ("center", w.centers["A"])}
    assert as_user("gp-a1").get(f"/api/v1/followups/indicators?year=2025&team_id={w.teams['A2']}").status_code == 404
    assert as_user("staff-a").get(f"/api/v1/followups/indicators?year=2025&center_id={w.centers['B']}"
                                  ).status_code == 404
    assert as_user("spec").get("/api/v1/followups/indicators?year=2025").status_code == 403
    b = as_user("staff-b").get("/api/v1/followups/indicators?year=2025").get_json()
    assert all(r["under_management"] == 0 for r in b["rows"])
    bad = as_user("admin").get("/api/v1/followups/indicators?year=2025&quarter=5")
    assert bad.status_code == 422 and "quarter" in bad.get_json()["errors"]["query"]
    assert "year" in as_user("admin").get("/api/v1/followups/indicators").get_json()["errors"]["query"]


def test_exports_read_back(dataset, as_user):
    admin = as_user("admin")
    report = admin.get("/api/v1/followups/indicators?year=2025").get_json()
    x = admin.get("/api/v1/followups/indicators/export?year=2025&format=xlsx")
    assert x.status_code == 200 and "spreadsheetml" in x.headers["Content-Type"]
    assert "followup-indicators-2025.xlsx" in x.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(x.data)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert "2025年" in lines[0][0]
    header = lines[1]
    assert header[:6] == ("层级", "名称", "病种", "管理人数", "规范管理人数", "规范管理率")
    assert len(lines) - 2 == len(report["rows"])
    for line, row in zip(lines[2:], report["rows"]):
        got = dict(zip(header, line))
        assert got["管理人数"] == row["under_management"] and got["血压控制率"] == row["bp_control_rate"]
        assert got["病种"] == {"hypertension": "高血压", "t2dm": "2型糖尿病"}[row["condition"]]
    c = admin.get("/api/v1/followups/indicators/export?year=2025&format=csv&condition=hypertension")
    assert c.status_code == 200 and c.headers["Content-Type"].startswith("text/csv")
    assert c.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    table = list(csv.DictReader(io.StringIO(c.data.decode("utf-8-sig"))))
    htn = [r for r in report["rows"] if r["condition"] == "hypertension"]
    assert [(t["层级"], t["名称"], int(t["管理人数"]), int(t["血压控制人数"])) for t in table] == [
        ({"team": "团队", "center": "中心", "district": "全区"}[r["level"]], r["name"], r["under_management"],
         r["bp_controlled"]) for r in htn]
    a1 = next(t for t in table if t["名称"] == "团队A1")
    assert float(a1["规范管理率"]) == 0.25 and a1["血糖控制率"] == ""
    assert as_user("gp-a2").get(f"/api/v1/followups/indicators/export?year=2025&team_id={dataset.teams['A1']}"
                                ).status_code == 404
    bad = admin.get("/api/v1/followups/indicators/export?year=2025&format=pdf")
    assert bad.status_code == 422 and "format" in bad.get_json()["errors"]["query"]


def _recompute(session, start, end, needed):
    """The indicators computed the plain way, in Python, from every record: {(center, team, condition): counts}."""
    from collections import defaultdict

    from sqlalchemy import select

    from server.followups.indicators import COUNTS
    from server.followups.models import FollowUp
    from server.households.models import ChronicCondition, Resident

    records = session.scalars(select(FollowUp)).all()
    amended = {r.amends_id for r in records if r.amends_id}
    visits = defaultdict(list)
    for r in records:
        if r.kind == "visit" and r.id not in amended:
            visits[(r.resident_id, r.condition)].append(r)
    out = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for cond, res in session.execute(select(ChronicCondition, Resident)
                                     .join(Resident, Resident.id == ChronicCondition.resident_id)).all():
        if cond.diagnosed_on is not None and cond.diagnosed_on > end:
            continue
        if cond.status != "managed" and not (cond.status_date and cond.status_date >= start):
            continue
        if res.status == "moved_out" and not (res.status_date and res.status_date >= start):
            continue
        counts = out[(res.center_id, res.team_id, cond.condition)]
        counts["under_management"] += 1
        mine = visits[(res.id, cond.condition)]
        period = [v for v in mine if start <= v.visit_date <= end]
        f2f = [v for v in mine if dt.date(start.year, 1, 1) <= v.visit_date <= end and v.visit_mode in (1, 2)]
        counts["managed_to_spec"] += len(f2f) >= needed
        for flag in ("bp", "fpg"):
            measured = [v for v in period if getattr(v, f"{flag}_controlled") is not None]
            if measured:
                last = max(v.visit_date for v in measured)
                counts[f"{flag}_measured"] += 1
                counts[f"{flag}_controlled"] += any(getattr(v, f"{flag}_controlled") for v in measured
                                                    if v.visit_date == last)
        emergencies = sum(v.emergency for v in period)
        counts["emergency_visits"] += emergencies
        counts["emergency_patients"] += emergencies > 0
        counts["visits"] += len(period)
        counts["complete_visits"] += sum(v.missing_count == 0 for v in period)
    return dict(out)


def test_reports_equal_a_plain_recomputation(fu, as_user, session):
    """Random visits (out of order, amended, phone, incomplete, emergencies) for every resident of the
    world: each year and quarter report, team by team, equals the Python recomputation above; the yearly
    rows kept on every write equal a rebuild from the records."""
    import random

    from sqlalchemy import select

    from server.auth.models import User
    from server.followups import indicators, services
    from server.followups.models import FollowUpYear
    from server.scope import Actor

    rng = random.Random(7)
    keys = sorted(fu.w.residents)
    registered = []
    for key in keys:
        for cond in ("hypertension", "t2dm"):
            if rng.random() < 0.7:
                diagnosed = rng.choice([None, None, "2025-07-01", "2026-03-01"])
                fu.register(key, cond, diagnosed_on=diagnosed)
                registered.append((key, cond))
    signed = []
    for key, cond in registered:
        days = sorted(rng.sample(range(0, 530), rng.randint(0, 9)))
        rng.shuffle(days)  # signed out of date order, as tablets sync late
        for n in days:
            day = (dt.date(2025, 1, 2) + dt.timedelta(days=n)).isoformat()
            form = (fu.htn_form if cond == "hypertension" else fu.dm_form)(day)
            if rng.random() < 0.4:
                form.update(sbp=rng.choice([125, 138, 145, 152, 185]), dbp=rng.choice([78, 88, 95]))
            if cond == "t2dm":
                form["fpg_mmol"] = rng.choice([5.8, 6.9, 7.0, 8.4, 17.2])
            if rng.random() < 0.15:  # phone: nothing measured
                for box in ("sbp", "dbp", "weight_kg", "height_cm", "heart_rate", "fpg_mmol", "dorsalis_pedis"):
                    form.pop(box, None)
                form["visit_mode"] = 3
            elif rng.random() < 0.2:
                form.pop("heart_rate")  # incomplete
            user = {"A1": "gp-a1", "A2": "gp-a2", "B1": "gp-b1"}.get(key[:2], "admin")
            signed.append((fu.ok(fu.visit(key, form, condition=cond, user=user)), user, cond))
    for rec, user, cond in rng.sample(signed, len(signed) // 6):  # amendments, some into another year
        day = dt.date.fromisoformat(rec["visit_date"]) + dt.timedelta(days=rng.choice([0, 0, -200, 190]))
        day = min(day, fu.TODAY).isoformat()
        form = (fu.htn_form if cond == "hypertension" else fu.dm_form)(day, sbp=rng.choice([128, 160]))
        fu.ok(as_user(user).post(f"/api/v1/followups/{rec['id']}/amendments",
                                 json={"id": fu.new_id(), "reason": "更正", "form": form}))
    assert len(signed) > 100

    def rows():
        session.expire_all()
        return sorted(tuple(getattr(r, c) for c in services._YEAR_COLUMNS)
                      for r in session.scalars(select(FollowUpYear)))

    kept = rows()
    services.rebuild_years(session)
    session.commit()
    assert rows() == kept and len(kept) > 20
    admin = Actor.of(session.get(User, fu.w.users["admin"]))
    for year, quarter in [(2025, None), (2026, None), (2025, 1), (2025, 4), (2026, 1), (2026, 2), (2026, 3)]:
        start, end = indicators.period(year, quarter)
        needed = indicators.visits_for_spec(quarter)
        expected = _recompute(session, start, end, needed)
        session.rollback()
        report = indicators.indicators(session, admin, {"year": year, "quarter": quarter})
        session.rollback()
        got = {(r["center_id"], r["team_id"], r["condition"]): {k: r[k] for k in indicators.COUNTS}
               for r in report["rows"] if r["level"] == "team"}
        want = {k: v for k, v in expected.items() if k[1] is not None}
        assert {k: v for k, v in got.items() if any(v.values())} == want, (year, quarter)
        # The yearly path (followup_years) and the visit scan agree on the whole year too.
        if quarter is None:
            scan = indicators._per_team(session, start, end, needed, None, None, None, use_years=False)
            session.rollback()
            assert {k: v for k, v in scan.items() if k[1] is not None} == want
        # Residents of no team (committee 003) count in their center's and the district's rows.
        district = {r["condition"]: {k: r[k] for k in indicators.COUNTS}
                    for r in report["rows"] if r["level"] == "district"}
        for cond in ("hypertension", "t2dm"):
            assert district[cond] == {k: sum(v[k] for key, v in expected.items() if key[2] == cond)
                                      for k in indicators.COUNTS}
