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


def recreate_database(name: str, template: str | None = None) -> str:
    """Drop and create the benchmark's own database, empty or (template) as a file copy of another (CREATE
    DATABASE ... TEMPLATE: nobody may be connected to it); returns its URL. Refuses the test suite's database."""
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to recreate database {name!r}")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return database_url(name)


def copy_database(source: str, name: str) -> str:
    """A new database `name` as a file copy of `source`, dropped first if it exists; returns its URL."""
    return recreate_database(name, template=source)


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
                        committees_per_team: int = COMMITTEES_PER_TEAM, first_center: int = 0,
                        county_code: str = "310115") -> District:
    """Centers of `teams_per_center` teams, each team with its committees and a GP; one admin, staff per center.

    `first_center` > 0 adds centers after those already there (another district in the same database: the
    admin already exists); `county_code` is the district's (record numbers begin with it)."""
    pw = hash_password("bench-pass", "fast")  # nobody signs in; tokens are issued directly
    if first_center:
        admin = session.scalars(select(User).where(User.role == "admin")).first()
    else:
        admin = User(username="admin", full_name="系统管理员", role="admin", password_hash=pw)
        session.add(admin)
    n_centers = -(-teams // teams_per_center)
    centers, staff = {}, {}
    team_infos = []
    for c in range(first_center, first_center + n_centers):
        district = DISTRICTS[c % len(DISTRICTS)]
        center = Center(code=f"PD-{c + 1:02d}", name=f"{district}社区卫生服务中心", county_code=county_code,
                        township_code=f"{c + 1:03d}", township_name=f"{district}街道", phone=f"021-5888{c:04d}")
        session.add(center)
        session.flush()
        centers[center.id] = center
        clerk = User(username=f"clerk{c + 1}", full_name=f"{district}文员", role="center_staff",
                     center_id=center.id, password_hash=pw)
        session.add(clerk)
        for t in range(min(teams_per_center, teams - (c - first_center) * teams_per_center)):
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


# --- a district where every team works: one team's records copied to the others in SQL -------------------

def _new_id(column: str) -> str:
    """A copy's UUID text: a pure function of the target team and the template row's id (md5, random like the
    uuid4 ids the template was given), so every foreign key is mapped by the same expression and no mapping
    table is needed; the same template and team always give the same id."""
    return f"md5(m.team_id::text || ':' || {column})::uuid::text"


def _insert_select(table, overrides: dict[str, str], source: str, skip: tuple[str, ...] = (),
                   order: str = "") -> str:
    """INSERT INTO table (every column but `skip`) SELECT each column as is (`x.col`) or as `overrides` says."""
    cols = [c.name for c in table.columns if c.name not in skip]
    exprs = [overrides.get(c, f"x.{c}") for c in cols]
    return (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {source}"
            + (f" ORDER BY {order}" if order else ""))


def replicate_records(url: str, template: int, targets: list[int]) -> dict[str, tuple[int, float]]:
    """Give every target team the template team's follow-up visits, lab messages/reports/results and referrals
    with their threads, by INSERT ... SELECT (set-based: a team's 180,000 rows in seconds, where generating
    them in Python took ~1.5 min a team).

    Each template record is re-attached to the target team's resident of the same rank: a visit to the n-th
    registry entry of its condition (by resident id), a lab message, report or referral to the n-th chronic
    patient; every team has the same numbers of each (caseload.md), so every team ends with the template's
    counts. Copies get new ids (`_new_id`; integer keys from their sequences), the target team's GP signs its
    visits and writes its referrals and thread entries, order and control numbers get the team's id appended
    (they are unique per hospital and feed), and the lab messages keep the template's fingerprint (same
    stored content). Visits keep the template's forms and decisions: their patients' ages differ, which the
    sync does not look at. The change log rows are not written here (log_records, for all teams at once).
    Returns {table: (rows, seconds)}."""
    import psycopg

    from server.followups.models import FollowUp
    from server.labs.models import LabMessage, LabReport, LabResultRow, lab_message_reports
    from server.referrals.models import Referral, ReferralMessage
    out: dict[str, tuple[int, float]] = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        params = {"template": template, "targets": targets}
        # The target teams and their GP (create_organisation: one family doctor per team).
        conn.execute("CREATE TEMP TABLE rep_team ON COMMIT DROP AS SELECT DISTINCT ON (t.id) t.id AS team_id, "
                     "t.center_id, u.id AS gp_id FROM teams t JOIN users u ON u.team_id = t.id AND u.role = 'gp' "
                     "WHERE t.id = ANY(%(targets)s) ORDER BY t.id, u.is_team_leader DESC, u.id", params)
        # Registry entry n of a condition in the template -> entry n of that condition in each target team.
        conn.execute("""
            CREATE TEMP TABLE rep_entry ON COMMIT DROP AS
            WITH e AS (SELECT c.resident_id, c.condition, r.team_id,
                              row_number() OVER (PARTITION BY r.team_id, c.condition ORDER BY r.id) AS n
                       FROM chronic_conditions c JOIN residents r ON r.id = c.resident_id
                       WHERE r.team_id = %(template)s OR r.team_id = ANY(%(targets)s))
            SELECT s.resident_id AS src, s.condition, t.resident_id AS tgt, t.team_id
            FROM e s JOIN e t ON t.condition = s.condition AND t.n = s.n
            WHERE s.team_id = %(template)s AND t.team_id <> %(template)s""", params)
        # Chronic patient n of the template -> chronic patient n of each target team.
        conn.execute("""
            CREATE TEMP TABLE rep_patient ON COMMIT DROP AS
            WITH p AS (SELECT r.id, r.team_id, row_number() OVER (PARTITION BY r.team_id ORDER BY r.id) AS n
                       FROM residents r
                       WHERE (r.team_id = %(template)s OR r.team_id = ANY(%(targets)s))
                         AND EXISTS (SELECT 1 FROM chronic_conditions c WHERE c.resident_id = r.id))
            SELECT s.id AS src, t.id AS tgt, t.team_id FROM p s JOIN p t ON t.n = s.n
            WHERE s.team_id = %(template)s AND t.team_id <> %(template)s""", params)
        for name in ("rep_entry", "rep_patient"):
            conn.execute(f"CREATE INDEX ON {name} (src)")
            conn.execute(f"ANALYZE {name}")
        conn.execute("ANALYZE rep_team")
        team = "JOIN rep_team t ON t.team_id = m.team_id"
        steps = [
            ("followups", _insert_select(FollowUp.__table__, {
                "id": _new_id("x.id"), "resident_id": "m.tgt", "original_id": _new_id("x.original_id"),
                "amends_id": f"CASE WHEN x.amends_id IS NULL THEN NULL ELSE {_new_id('x.amends_id')} END",
                "signed_by": "t.gp_id"},
                f"followups x JOIN rep_entry m ON m.src = x.resident_id AND m.condition = x.condition {team}")),
            ("lab_messages", _insert_select(LabMessage.__table__, {
                "id": _new_id("x.id"), "resident_id": "m.tgt", "control_id": "x.control_id || '.' || m.team_id",
                "suggested_resident_id": "NULL"},
                "lab_messages x JOIN rep_patient m ON m.src = x.resident_id")),
            ("lab_reports", _insert_select(LabReport.__table__, {
                "id": _new_id("x.id"), "resident_id": "m.tgt", "filler_no": "x.filler_no || '.' || m.team_id",
                "critical_call_by": "NULL"},
                "lab_reports x JOIN rep_patient m ON m.src = x.resident_id")),
            ("lab_message_reports", _insert_select(lab_message_reports, {
                "message_id": _new_id("x.message_id"), "report_id": _new_id("x.report_id")},
                "lab_message_reports x JOIN lab_reports r ON r.id = x.report_id "
                "JOIN rep_patient m ON m.src = r.resident_id")),
            # New integer ids from the sequence, in the order the join yields the rows: not sorted (a sort of
            # 4.6 M rows spilled 1 GB to disk), as intake interleaves teams anyway; superseded_by_id would need
            # mapping, but the template has no corrections (checked below).
            ("lab_results", _insert_select(LabResultRow.__table__, {
                "report_id": _new_id("x.report_id"), "message_id": _new_id("x.message_id")},
                "lab_results x JOIN lab_reports r ON r.id = x.report_id JOIN rep_patient m ON m.src = r.resident_id",
                skip=("id",))),
            ("referrals", _insert_select(Referral.__table__, {
                "id": _new_id("x.id"), "resident_id": "m.tgt", "team_id": "m.team_id", "center_id": "t.center_id",
                "created_by": "t.gp_id", "closing_followup_id": "NULL", "lab_report_ids": "'[]'::jsonb"},
                f"referrals x JOIN rep_patient m ON m.src = x.resident_id {team}", order="m.team_id, x.id")),
            ("referral_messages", _insert_select(ReferralMessage.__table__, {
                "referral_id": _new_id("x.referral_id"),
                "author_id": "CASE WHEN x.author_role = 'gp' THEN t.gp_id ELSE x.author_id END", "client_id": "NULL"},
                f"referral_messages x JOIN referrals r ON r.id = x.referral_id JOIN rep_patient m ON m.src = r.resident_id "
                f"{team}", skip=("id",), order="m.team_id, x.id")),  # a thread's entries keep their order
        ]
        corrected = conn.execute("SELECT count(*) FROM lab_results x JOIN lab_reports r ON r.id = x.report_id "
                                 "JOIN residents p ON p.id = r.resident_id WHERE p.team_id = %s "
                                 "AND x.superseded_by_id IS NOT NULL", (template,)).fetchone()[0]
        if corrected:
            raise SystemExit("the template team has corrected lab rows, which replicate_records does not map")
        for table, sql in steps:
            t0 = time.perf_counter()
            n = conn.execute(sql).rowcount
            out[table] = (n, time.perf_counter() - t0)
            print(f"    {table}: {n:,} rows copied to {len(targets)} teams in {out[table][1]:.1f} s", flush=True)
    return out


# The records a tablet receives besides households, residents and registry entries (which the import writer
# logs itself), each with the query naming its team: (entity, id as text, team).
_LOGGED = (
    ("followups", "SELECT x.id, r.team_id FROM followups x JOIN residents r ON r.id = x.resident_id"),
    ("lab_reports", "SELECT x.id, r.team_id FROM lab_reports x JOIN residents r ON r.id = x.resident_id"),
    ("lab_results", "SELECT x.id::text, r.team_id FROM lab_results x JOIN lab_reports p ON p.id = x.report_id "
                    "JOIN residents r ON r.id = p.resident_id"),
    ("referrals", "SELECT x.id, x.team_id FROM referrals x"),
    ("referral_messages", "SELECT x.id::text, r.team_id FROM referral_messages x "
                          "JOIN referrals r ON r.id = x.referral_id"),
)


def log_records(url: str, teams: list[int]) -> dict[str, tuple[int, float]]:
    """The sync change log's upsert rows for the teams' visits, lab reports and rows, referrals and thread
    entries, as the server's writers log them when they store each (server/sync/changes.py), one set-based
    INSERT ... SELECT per entity, each its own transaction (xid from pg_current_xact_id, as log_many).
    Without them the log would hold only the import's rows, and an incremental pull's plan would not be a
    real district's. Returns {entity: (rows, seconds)}."""
    import psycopg
    out = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for entity, query in _LOGGED:
            t0 = time.perf_counter()
            with conn.transaction():
                n = conn.execute(
                    "INSERT INTO sync_changes (xid, entity, entity_id, team_id, op) "
                    f"SELECT pg_current_xact_id()::text::bigint, %s, q.id, q.team_id, 'upsert' FROM ({query}) "
                    "AS q (id, team_id) WHERE q.team_id = ANY(%s) ORDER BY q.team_id", (entity, teams)).rowcount
            out[entity] = (n, time.perf_counter() - t0)
    return out


def base_and_copy(app, gen: Generator, url: str, db_copy: str, teams: int, base_teams: int,
                  teams_per_center: int = TEAMS_PER_CENTER):
    """The import benches' start: `teams` teams created, the first `base_teams` written with the import writer,
    VACUUM ANALYZE, then the database copied to `db_copy` (the bare COPY's twin). Returns (district, copy URL)."""
    from server import db
    with app.app_context():
        session = db.session()
        district = create_organisation(session, teams, teams_per_center=teams_per_center)
        session.commit()
        for team in district.teams[:base_teams]:
            write_team(session, district, team, generate_team(gen, team))
        session.close()
    app.extensions["db_engine"].dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return district, copy_database(url.rsplit("/", 1)[1], db_copy)

