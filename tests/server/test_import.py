"""Import from the old system: CSV/XLSX, UTF-8/GBK, dry run reports every problem, real run all-or-nothing."""
import datetime as dt
import io
from pathlib import Path

from openpyxl import Workbook

from gpcore import idcard

SAMPLE = Path(__file__).resolve().parents[2] / "server" / "imports" / "sample" / "residents-sample.csv"
HEADER = "户编号,居委会,家庭住址,姓名,性别,出生日期,身份证号,联系电话,与户主关系,高血压,糖尿病\n"


import pytest


@pytest.fixture(autouse=True)
def village(world, session):
    """The sample file also names village committee 101 (as in the demo center); center A gets one."""
    from server.org.models import Committee

    session.add(Committee(center_id=world.centers["A"], code="101", name="东沟村村委会", last_serial=0))
    session.commit()


def post(c, world, data: bytes, name="list.csv", dry_run=True, center="A"):
    return c.post(f"/api/v1/imports/residents?center_id={world.centers[center]}&dry_run={str(dry_run).lower()}",
                  data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def counts(session):
    from server.households.models import ChronicCondition, Household, Resident
    return (session.query(Household).count(), session.query(Resident).count(),
            session.query(ChronicCondition).count())


def test_sample_file_dry_run_then_import(as_user, world, session):
    staff = as_user("staff-a")
    data = SAMPLE.read_bytes()
    before = counts(session)
    r = post(staff, world, data)
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["problems"] == [] and report["residents"] == 11 and report["households"] == 4
    assert report["conditions"] == 8 and report["dry_run"] is True
    assert counts(session) == before  # a dry run writes nothing
    r = post(staff, world, data, dry_run=False)
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    assert counts(session) == (before[0] + 4, before[1] + 11, before[2] + 8)
    # the committee's team got the households, with who/why kept; the head was set
    from server.assignment.models import AssignmentChange
    from server.households.models import Household, Resident
    zs = session.query(Resident).filter_by(name="张三").filter(Resident.household_id.notin_(
        world.households.values())).one()
    hh = session.get(Household, zs.household_id)
    assert hh.team_id == world.teams["A1"] and hh.head_id == zs.id
    change = session.query(AssignmentChange).filter_by(household_id=hh.id).one()
    assert change.reason == "import list.csv" and change.changed_by == world.users["staff-a"]
    assert zs.record_number.startswith("310115005001") and zs.name_initials == "zs"
    # committee 101 has no team in this world: the household waits unassigned
    ds = session.query(Resident).filter_by(name="刘大山").one()
    assert session.get(Household, ds.household_id).team_id is None


def test_gbk_csv_is_read(as_user, world):
    data = SAMPLE.read_text(encoding="utf-8").encode("gbk")
    r = post(as_user("staff-a"), world, data)
    assert r.status_code == 200 and r.get_json()["encoding"] == "gb18030"
    assert r.get_json()["problems"] == [] and r.get_json()["residents"] == 11


def test_xlsx_is_read(as_user, world):
    wb = Workbook()
    ws = wb.active
    ws.append(["户编号", "居委会", "家庭住址", "姓名", "性别", "出生日期", "身份证号", "高血压"])
    birth = dt.date(1950, 6, 1)
    ws.append(["X1", "001", "甲路100号", "黄忠", "男", birth, idcard.make("310115", birth, 1), "是"])
    buf = io.BytesIO()
    wb.save(buf)
    r = post(as_user("staff-a"), world, buf.getvalue(), name="old.xlsx", dry_run=False)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["residents"] == 1 and r.get_json()["conditions"] == 1


def test_dry_run_reports_every_problem_and_real_run_writes_nothing(as_user, world, session):
    from server.households.models import Resident

    b1 = dt.date(1960, 1, 1)
    good = idcard.make("310115", b1, 11)
    existing = session.get(Resident, world.residents["B1-0-0"]).id_number
    bad_check = good[:17] + ("1" if good[17] != "1" else "2")
    lines = [
        f"K1,001,甲路1号,甲,男,1960-01-01,{good},,户主,是,否",          # row 2 fine
        f"K1,001,甲路1号,乙,女,1960-01-01,{good},,配偶,否,否",          # row 3 duplicate ID in file (+ sex)
        f"K2,001,甲路2号,丙,男,1960-01-01,{bad_check},,户主,否,否",     # row 4 bad check digit
        "K3,001,甲路3号,,男,1961-01-01,,,户主,否,否",                   # row 5 missing name
        "K4,777,甲路4号,丁,男,1962-01-01,,,户主,否,否",                 # row 6 unknown committee
        f"K5,001,甲路5号,戊,男,1962-01-01,{existing},,户主,否,否",      # row 7 already on file (+ birth)
        "K6,001,甲路6号,己,男,1962-13-01,,,户主,maybe,否",              # row 8 bad date, bad condition
    ]
    data = (HEADER + "\n".join(lines) + "\n").encode()
    before = counts(session)
    report = post(as_user("staff-a"), world, data).get_json()
    found = {(p["row"], p["field"]) for p in report["problems"]}
    assert (3, "id_number") in found and (3, "sex") in found
    assert (4, "id_number") in found
    assert (5, "name") in found
    assert (6, "committee") in found
    assert (7, "id_number") in found
    assert (8, "birth_date") in found and (8, "hypertension") in found
    assert not any(p["row"] == 2 for p in report["problems"])
    dup = next(p for p in report["problems"] if p["row"] == 3 and p["field"] == "id_number")
    assert "row 2" in dup["message"]
    r = post(as_user("staff-a"), world, data, dry_run=False)
    assert r.status_code == 422 and r.get_json()["errors"]["rows"][0].startswith("row ")
    session.expire_all()
    assert counts(session) == before


def test_missing_columns_are_named(as_user, world):
    r = post(as_user("staff-a"), world, "姓名,性别\n张三,男\n".encode())
    problems = r.get_json()["problems"]
    assert problems[0]["field"] == "header" and "household_key" in problems[0]["message"]


def test_a_gp_cannot_import(as_user, world):
    assert post(as_user("gp-a1"), world, SAMPLE.read_bytes()).status_code == 403


# The command builds its own app (its own engine): it must see the committed world.
@pytest.mark.commits
def test_cli_import_shows_progress_and_imports(world, clean_app, tmp_path, capsys, monkeypatch):
    from server import manage

    monkeypatch.setenv("DATABASE_URL", clean_app.config["SQLALCHEMY_DATABASE_URI"])
    manage.main(["import", str(SAMPLE), "--center", "A", "--user", "staff-a"])
    out = capsys.readouterr()
    assert "imported 11 residents in 4 households" in out.out
    assert "importing" in out.err  # the tqdm bar
