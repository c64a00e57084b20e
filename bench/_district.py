"""A district of standard team caseloads (shared/design/caseload.md) generated into its own PostgreSQL database.

Shared by the benchmarks: a fresh database, the organisation (centers, teams, committees, one user per role),
then each team's households written with the import writer. Nothing here changes server code or data outside
the benchmark's own database.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.services import hash_password
from server.demo.caseload import Generator, HouseholdFile, team_caseload
from server.demo.load import to_groups
from server.imports.services import write
from server.org.models import Center, Committee, Team
from server.scope import Actor

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 20261122
# caseload.md, one team: households, residents, hypertension, diabetes, both
CASELOAD = dict(households=5000, residents=15000, hypertension=3000, diabetes=1000, both=500)
# --smoke: a team of 1/100 of the standard caseload, enough to run every phase of a benchmark in seconds.
SMOKE_CASELOAD = dict(households=50, residents=150, hypertension=30, diabetes=10, both=5)
TEAMS_PER_CENTER = 6
COMMITTEES_PER_TEAM = 4
DISTRICTS = ("潍坊", "陆家嘴", "洋泾", "塘桥", "花木", "金杨", "沪东", "周家渡", "上钢", "南码头")


def use_smoke_caseload() -> None:
    """Every team generated from now on gets the tiny --smoke caseload."""
    CASELOAD.update(SMOKE_CASELOAD)


def database_url(name: str) -> str:
    """The SQLAlchemy URL of a benchmark database on the local server."""
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def recreate_database(name: str) -> str:
    """Drop and create the benchmark's own database; returns its URL. Refuses the test suite's database."""
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to recreate database {name!r}")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def server_facts(url: str) -> dict:
    """PostgreSQL version and the settings that matter for these figures."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        facts = {"version": conn.execute("SHOW server_version").fetchone()[0]}
        for setting in ("shared_buffers", "work_mem", "synchronous_commit", "max_wal_size", "lc_collate"):
            facts[setting] = conn.execute(f"SHOW {setting}").fetchone()[0]
    return facts


@dataclass
class TeamInfo:
    id: int
    center_id: int
    key: str
    gp: Actor
    committees: list[Committee]


@dataclass
class District:
    admin: Actor
    center_staff: dict[int, Actor]          # center id -> a staff member's Actor
    centers: dict[int, Center]
    teams: list[TeamInfo] = field(default_factory=list)


def create_organisation(session: Session, teams: int, teams_per_center: int = TEAMS_PER_CENTER,
                        committees_per_team: int = COMMITTEES_PER_TEAM) -> District:
    """Centers of `teams_per_center` teams, each team with its committees and a GP; one admin, staff per center."""
    pw = hash_password("bench-pass", "fast")  # nobody signs in; tokens are issued directly
    admin = User(username="admin", full_name="系统管理员", role="admin", password_hash=pw)
    session.add(admin)
    n_centers = -(-teams // teams_per_center)
    centers, staff = {}, {}
    team_infos = []
    for c in range(n_centers):
        district = DISTRICTS[c % len(DISTRICTS)]
        center = Center(code=f"PD-{c + 1:02d}", name=f"{district}社区卫生服务中心", county_code="310115",
                        township_code=f"{c + 1:03d}", township_name=f"{district}街道", phone=f"021-5888{c:04d}")
        session.add(center)
        session.flush()
        centers[center.id] = center
        clerk = User(username=f"clerk{c + 1}", full_name=f"{district}文员", role="center_staff",
                     center_id=center.id, password_hash=pw)
        session.add(clerk)
        for t in range(min(teams_per_center, teams - c * teams_per_center)):
            team = Team(center_id=center.id, name=f"{district}{t + 1}队", phone=f"021-5999{c:02d}{t:02d}")
            session.add(team)
            session.flush()
            committees = []
            for k in range(committees_per_team):
                code = f"{t * committees_per_team + k + 1:03d}"
                committees.append(Committee(center_id=center.id, code=code, name=f"{district}{code}居委会",
                                            team_id=team.id, last_serial=0))
            session.add_all(committees)
            gp = User(username=f"c{c + 1}t{t + 1}-doctor", full_name="家庭医生", role="gp", team_id=team.id,
                      center_id=center.id, team_role="family_doctor", is_team_leader=True, password_hash=pw)
            session.add(gp)
            session.flush()
            team_infos.append(TeamInfo(team.id, center.id, f"C{c + 1}T{t + 1}", Actor.of(gp), committees))
        session.flush()
        staff[center.id] = Actor.of(clerk)
    session.flush()
    return District(Actor.of(admin), staff, centers, team_infos)


def generate_team(gen: Generator, team: TeamInfo) -> list[HouseholdFile]:
    """One team's standard caseload (caseload.md), deterministic for the generator's seed and call order."""
    return team_caseload(gen, team.key, len(team.committees), **CASELOAD)


@dataclass
class LoadTiming:
    team_key: str
    residents: int
    generate_s: float
    write_s: float       # write() plus the commit


def write_team(session: Session, district: District, team: TeamInfo, files: list[HouseholdFile]) -> float:
    """Write one team's households with the bulk import writer and commit; returns seconds."""
    center = district.centers[team.center_id]
    groups = to_groups(files, team.committees)
    t0 = time.perf_counter()
    write(session, district.admin, center, groups, reason="benchmark district")
    session.commit()
    return time.perf_counter() - t0


def caseload_csv(files: list[HouseholdFile], committees: list[Committee]) -> bytes:
    """The households as a CSV file with the Chinese headers the importer accepts (UTF-8 with BOM)."""
    from gpcore import health_file as hf

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["户编号", "居委会", "家庭住址", "姓名", "性别", "出生日期", "身份证号", "联系电话", "与户主关系",
                "民族", "常住类型", "高血压", "糖尿病"])
    for f in files:
        code = committees[f.committee_index].code
        for m in f.members:
            w.writerow([f.household_key, code, f.address, m.name, "男" if m.sex == "1" else "女",
                        m.birth_date.isoformat(), m.id_number, m.phone or "", hf.RELATIONSHIP[m.relation_to_head],
                        "汉族", "户籍", m.hypertension.isoformat() if m.hypertension else "否",
                        m.t2dm.isoformat() if m.t2dm else "否"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def reload_district(session: Session) -> District:
    """The District of an already loaded benchmark database (to rerun queries without reloading)."""
    users = session.scalars(select(User)).all()
    admin = next(u for u in users if u.role == "admin")
    staff = {u.center_id: Actor.of(u) for u in users if u.role == "center_staff"}
    centers = {c.id: c for c in session.scalars(select(Center))}
    gps = {u.team_id: u for u in users if u.role == "gp"}
    infos = []
    for team in session.scalars(select(Team).order_by(Team.id)):
        committees = list(session.scalars(select(Committee).where(Committee.team_id == team.id)
                                          .order_by(Committee.code)))
        infos.append(TeamInfo(team.id, team.center_id, team.name, Actor.of(gps[team.id]), committees))
    return District(Actor.of(admin), staff, centers, infos)
