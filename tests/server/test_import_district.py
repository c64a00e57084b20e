"""A district import (issue 15, item 11): one file per center, each team in its own transaction over a pool of
connections (two on PostgreSQL; SQLite writes with one), a team with a problem reported and left out while
the others are kept, a rerun under the same batch name leaving out the teams already imported."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from gpcore import idcard
from server.errors import Forbidden
from server.households.models import Household, Resident
from server.imports import district, services
from server.imports.district import Source, run_district
from server.imports.models import ImportBatch
from server.scope import Actor

SAMPLE = Path(__file__).resolve().parents[2] / "server" / "imports" / "sample" / "residents-sample.csv"
# The sample's teams in center A: committee 001 (team A1, 5 residents), 002 (team A2, 4), 101 (no team, 2).
pytestmark = pytest.mark.commits  # each team commits through a connection of its own


@pytest.fixture
def district_world(world, clean_app):
    from server.org.models import Committee

    maker = clean_app.extensions["db_sessionmaker"]
    with maker() as session:
        session.add(Committee(center_id=world.centers["A"], code="101", name="东沟村村委会", last_serial=0))
        session.commit()
    return maker


def _actor(maker, username="admin"):
    from server.auth.models import User

    with maker() as session:
        return Actor.of(session.scalar(select(User).where(User.username == username)))


def _count(maker, team_id=None, center_id=None) -> int:
    with maker() as session:
        stmt = select(func.count()).select_from(Resident)
        if team_id is not None:
            stmt = stmt.where(Resident.team_id == team_id)
        if center_id is not None:
            stmt = stmt.where(Resident.center_id == center_id)
        return session.scalar(stmt)


@pytest.fixture
def imported(district_world):
    """Residents written since the world was built: by team, by center, or all."""
    maker = district_world
    before: dict = {}

    def count(team_id=None, center_id=None) -> int:
        return _count(maker, team_id, center_id) - before[(team_id, center_id)]

    from server.org.models import Team
    with maker() as session:
        teams = session.scalars(select(Team)).all()
        keys = [(None, None), *((t.id, None) for t in teams), *((None, t.center_id) for t in teams)]
    before.update({k: _count(maker, *k) for k in keys})
    return count


def _bad_a2(data: bytes) -> bytes:
    """The sample with one bad row in team A2 (欧阳小宇's sex)."""
    return data.replace("欧阳小宇,男".encode(), "欧阳小宇,X".encode())


def _b_file() -> bytes:
    header, *rows = SAMPLE.read_text(encoding="utf-8").splitlines()
    # Center B's committee 001 (team B1): two of the sample's households under new ID numbers.
    out = [header]
    for i, row in enumerate(r for r in rows if ",001," in r):
        cells = row.split(",")
        cells[5] = "1950-01-01"
        cells[6] = idcard.make("310104", dt.date(1950, 1, 1), 2 * i + (1 if cells[4] == "男" else 2))
        out.append(",".join(cells))
    return ("\n".join(out) + "\n").encode()


def test_each_team_all_or_nothing_and_a_rerun_finishes(district_world, world, imported):
    maker = district_world
    admin = _actor(maker)
    a_file, b_file = _bad_a2(SAMPLE.read_bytes()), _b_file()
    sources = [Source("A", "a.csv", a_file), Source("B", "b.csv", b_file)]
    seen = []
    report = run_district(maker, admin, sources, batch="2026-12", connections=2, progress=seen.append)
    states = {(t.center_code, t.team_id): t.state for t in report.teams}
    assert states == {("A", world.teams["A1"]): "imported", ("A", world.teams["A2"]): "refused",
                      ("A", None): "imported", ("B", world.teams["B1"]): "imported"}
    refused = next(t for t in report.teams if t.state == "refused")
    assert [(p.row, p.field) for p in refused.problems] == [(9, "sex")] and refused.residents == 3
    assert not report.complete and sorted(t.team_id or 0 for t in seen) == sorted(
        [world.teams["A1"], 0, world.teams["B1"]])
    assert imported(world.teams["A1"]) == 5 and imported(world.teams["A2"]) == 0
    assert imported(world.teams["B1"]) == 5

    # The clerk fixes the row and runs the same command: only team A2 is written now.
    again = run_district(maker, admin, [Source("A", "a.csv", SAMPLE.read_bytes()), Source("B", "b.csv", b_file)],
                         batch="2026-12", connections=2)
    assert {(t.center_code, t.team_id): t.state for t in again.teams} == {
        ("A", world.teams["A1"]): "skipped", ("A", world.teams["A2"]): "imported", ("A", None): "skipped",
        ("B", world.teams["B1"]): "skipped"}
    assert again.complete
    assert (imported(world.teams["A1"]), imported(world.teams["A2"]),
            imported(center_id=world.centers["A"]), imported(world.teams["B1"])) == (5, 4, 11, 5)
    with maker() as session:
        assert sorted(session.scalars(select(ImportBatch.unit).where(ImportBatch.batch == "2026-12"))) == sorted(
            [district.unit_of(world.centers["A"], world.teams["A1"]),
             district.unit_of(world.centers["A"], world.teams["A2"]), district.unit_of(world.centers["A"], None),
             district.unit_of(world.centers["B"], world.teams["B1"])])
        # record numbers stay unique and consecutive per committee across the two runs and the threads
        numbers = session.scalars(select(Resident.record_number).where(Resident.center_id == world.centers["A"])
                                  ).all()
        assert len(numbers) == len(set(numbers))


def test_a_team_the_database_refuses_is_rolled_back_alone(district_world, world, imported, monkeypatch):
    maker = district_world
    write = services.write

    def failing(session, actor, center, groups, **kw):
        write(session, actor, center, groups, **kw)  # its rows are written, then the database gives out
        if groups[0][0]["committee"].team_id == world.teams["A2"]:
            raise OperationalError("COPY", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(services, "write", failing)
    report = run_district(maker, _actor(maker), [Source("A", "a.csv", SAMPLE.read_bytes())], batch="b",
                          connections=2)
    assert {t.team_id: t.state for t in report.teams} == {world.teams["A1"]: "imported",
                                                           world.teams["A2"]: "failed", None: "imported"}
    failed = next(t for t in report.teams if t.state == "failed")
    assert failed.problems[0].field == "database" and "closed" in failed.problems[0].message
    assert imported(world.teams["A2"]) == 0 and imported(world.teams["A1"]) == 5
    monkeypatch.setattr(services, "write", write)
    again = run_district(maker, _actor(maker), [Source("A", "a.csv", SAMPLE.read_bytes())], batch="b")
    assert [t.state for t in again.teams].count("imported") == 1 and again.complete
    assert imported(center_id=world.centers["A"]) == 11


def test_a_row_of_no_team_refuses_its_file_and_a_dry_run_writes_nothing(district_world, world, imported):
    maker = district_world
    orphan = SAMPLE.read_bytes() + "H0009,999,某路1号,孙七,男,1950-01-01,,,户主,汉族,否,否\n".encode()
    report = run_district(maker, _actor(maker), [Source("A", "a.csv", orphan), Source("B", "b.csv", _b_file())],
                          batch="b", connections=2)
    assert [(p.row, p.field) for p in report.files[0].problems] == [(13, "committee")]
    assert [(t.center_code, t.state) for t in report.teams] == [("B", "imported")]
    assert imported(center_id=world.centers["A"]) == 0
    dry = run_district(maker, _actor(maker), [Source("A", "a.csv", SAMPLE.read_bytes())], batch="b",
                       dry_run=True)
    assert [t.state for t in dry.teams] == ["checked"] * 3 and sum(t.residents for t in dry.teams) == 11
    assert imported(center_id=world.centers["A"]) == 0


def test_center_staff_import_their_own_center_only(district_world, world, imported):
    maker = district_world
    with pytest.raises(Forbidden):
        run_district(maker, _actor(maker, "staff-a"), [Source("A", "a.csv", SAMPLE.read_bytes()),
                                                        Source("B", "b.csv", _b_file())], batch="b")
    assert imported() == 0  # refused before anything was written


def test_the_command_reports_each_team_and_fails_until_complete(district_world, world, imported, clean_app, tmp_path,
                                                                capsys, monkeypatch):
    from server import manage

    monkeypatch.setenv("DATABASE_URL", clean_app.config["SQLALCHEMY_DATABASE_URI"])
    folder = tmp_path / "district"
    folder.mkdir()
    (folder / "A.csv").write_bytes(_bad_a2(SAMPLE.read_bytes()))
    (folder / "B.csv").write_bytes(_b_file())
    with pytest.raises(SystemExit) as stop:
        manage.main(["import-district", str(folder), "--user", "admin", "--connections", "2"])
    assert "run the same command again" in str(stop.value)
    out = capsys.readouterr().out
    assert "团队A2: refused, 1 problem(s):" in out and "row 9: sex: unknown value 'X'" in out
    assert "3 team(s) imported, 1 team(s) refused" in out
    (folder / "A.csv").write_bytes(SAMPLE.read_bytes())
    manage.main(["import-district", f"A={folder / 'A.csv'}", "--user", "admin"])
    assert "1 team(s) imported, 2 team(s) skipped; 4 residents imported" in capsys.readouterr().out
