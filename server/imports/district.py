"""A district's import: one file per center, each team written in its own transaction, several at once.

Each file is checked whole as a center's import is (services.validate). Its rows then go to their teams
through the committee they name; a team is the unit: all its households or none. A team with a problem row
is reported with its rows' problems and not written; the other teams are. Each team is written in a
transaction of its own on one of `connections` connections (threads: PostgreSQL checks and indexes one
team's COPY while Python builds the next team's rows), and its ImportBatch row is written in that same
transaction, so a rerun under the same batch name leaves out exactly the teams that were committed and
writes the rest: fix the refused rows, run the same command again.

A row that names no committee of the center belongs to no team: its whole file is refused (a team written
without it could not take it later, a rerun leaves imported teams out).
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gpcore.clock import china_today

from ..logs import redact
from ..org.models import Center, Team
from ..scope import Actor, require_center
from . import services
from .models import ImportBatch
from .services import Problem

IMPORTED, SKIPPED, REFUSED, FAILED, CHECKED = "imported", "skipped", "refused", "failed", "checked"


class Source(NamedTuple):
    """One center's file."""

    center_code: str
    filename: str
    data: bytes


@dataclass
class TeamOutcome:
    center_code: str
    team_id: int | None
    team_name: str  # "-": the center's committees that have no team
    state: str = CHECKED  # imported, skipped (done by an earlier run), refused (problems), failed (database)
    households: int = 0
    residents: int = 0
    conditions: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0  # writing it, commit included


@dataclass
class FileOutcome:
    center_code: str
    filename: str
    rows: int = 0
    encoding: str = ""
    problems: list[Problem] = field(default_factory=list)  # problems that refuse the whole file


@dataclass
class DistrictReport:
    batch: str
    connections: int
    dry_run: bool
    files: list[FileOutcome] = field(default_factory=list)
    teams: list[TeamOutcome] = field(default_factory=list)
    write_seconds: float = 0.0  # the writing phase, from the first team started to the last committed

    @property
    def complete(self) -> bool:
        """Every file and every team went in (now or before)."""
        return not any(f.problems for f in self.files) and all(t.state in (IMPORTED, SKIPPED, CHECKED)
                                                               for t in self.teams)


class _CenterRef(NamedTuple):  # what services.write reads of a center and a committee, safe across threads
    id: int
    county_code: str
    township_code: str


class _CommitteeRef(NamedTuple):
    id: int
    team_id: int | None
    code: str


@dataclass
class _TeamWork:
    outcome: TeamOutcome
    center: _CenterRef
    unit: str
    source: str
    groups: list[list[dict]]


def unit_of(center_id: int, team_id: int | None) -> str:
    return f"{center_id}/{team_id if team_id is not None else '-'}"


def run_district(maker: sessionmaker, actor: Actor, sources: list[Source], *, batch: str, connections: int = 1,
                 dry_run: bool = False, today: dt.date | None = None,
                 progress: Callable[[TeamOutcome], None] | None = None) -> DistrictReport:
    """Check every file, then write each clean team not yet imported under `batch` in its own transaction,
    `connections` at a time. Returns what happened to each file and team; raises only for a caller who may
    not import into one of the centers (before anything is written)."""
    with maker() as session:
        if session.get_bind().dialect.name == "sqlite":
            connections = 1  # SQLite takes one writer at a time: a second connection would only wait
        report = DistrictReport(batch, connections, dry_run)
        work: list[_TeamWork] = []
        for source in sources:
            file_outcome, team_work = _check_file(session, actor, source, batch, today or china_today())
            report.files.append(file_outcome)
            for item in team_work:
                report.teams.append(item.outcome)
                if item.outcome.state == CHECKED and not dry_run:
                    work.append(item)
    if work:
        started = time.perf_counter()
        lock = threading.Lock()

        def write(item: _TeamWork) -> None:
            _write_team(maker, actor, item, batch)
            if progress:
                with lock:
                    progress(item.outcome)

        if connections == 1:
            for item in work:
                write(item)
        else:
            with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="district-import") as pool:
                list(pool.map(write, work))
        report.write_seconds = time.perf_counter() - started
    return report


def _check_file(session: Session, actor: Actor, source: Source, batch: str,
                today: dt.date) -> tuple[FileOutcome, list[_TeamWork]]:
    outcome = FileOutcome(source.center_code, source.filename)
    center = session.scalar(select(Center).where(Center.code == source.center_code))
    if center is None:
        outcome.problems.append(Problem(0, "center", f"unknown center {source.center_code!r}"))
        return outcome, []
    require_center(actor, center.id)
    rows, outcome.encoding = services.read_table(source.data, source.filename)
    outcome.rows = len(rows)
    clean, problems = services.validate(session, center, rows, today)
    # The team of every row, the rows with problems included (through the committee the row names).
    mapping, _missing = services._columns(rows[0].keys()) if rows else ({}, [])
    committee_of = services.committee_finder(session, center)
    team_of_row: dict[int, int | None] = {}
    for raw in rows:
        committee = committee_of((raw.get(mapping["committee"]) or "") if "committee" in mapping else "")
        if committee is not None:
            team_of_row[raw["_row"]] = committee.team_id
    done = set(session.scalars(select(ImportBatch.unit).where(ImportBatch.batch == batch,
                                                              ImportBatch.center_id == center.id)))
    by_team: dict[int | None, list[Problem]] = defaultdict(list)
    for p in problems:
        if p.row in team_of_row:
            by_team[team_of_row[p.row]].append(p)
        else:  # the file's own (no data rows, a missing column), or a row that names no committee
            outcome.problems.append(p)
    if outcome.problems:
        return outcome, []
    team_names = {t.id: t.name for t in session.scalars(select(Team).where(Team.center_id == center.id))}
    center_ref = _CenterRef(center.id, center.county_code, center.township_code)
    refs: dict[int, _CommitteeRef] = {}
    groups_by_team: dict[int | None, list[list[dict]]] = defaultdict(list)
    for group in services._households(clean):
        committee = group[0]["committee"]
        ref = refs.setdefault(committee.id, _CommitteeRef(committee.id, committee.team_id, committee.code))
        for member in group:
            member["committee"] = ref
        groups_by_team[committee.team_id].append(group)
    work = []
    for team_id in sorted(set(groups_by_team) | set(by_team), key=lambda t: (t is None, t or 0)):
        groups = groups_by_team.get(team_id, [])
        team = TeamOutcome(source.center_code, team_id, team_names.get(team_id, "-"),
                           households=len(groups), residents=sum(len(g) for g in groups),
                           conditions=sum(bool(m.get(c)) for g in groups for m in g for c in services._CONDITIONS))
        unit = unit_of(center.id, team_id)
        if unit in done:
            team.state = SKIPPED  # committed by an earlier run of this batch; its rows are on file now
        elif by_team.get(team_id):
            team.state, team.problems = REFUSED, by_team[team_id]
        work.append(_TeamWork(team, center_ref, unit, source.filename, groups))
    return outcome, work


def _write_team(maker: sessionmaker, actor: Actor, item: _TeamWork, batch: str) -> None:
    """One team, all or nothing: its households and its ImportBatch row in one transaction."""
    team = item.outcome
    started = time.perf_counter()
    with maker() as session:
        try:
            services.write(session, actor, item.center, item.groups, reason=f"import {item.source}"[:200])
            session.add(ImportBatch(batch=batch, unit=item.unit, center_id=item.center.id, team_id=team.team_id,
                                    source=item.source[:200], households=team.households,
                                    residents=team.residents, conditions=team.conditions,
                                    imported_by=actor.user_id))
            session.commit()
            team.state = IMPORTED
        except IntegrityError as err:
            session.rollback()
            done = session.scalar(select(ImportBatch.id).where(ImportBatch.batch == batch,
                                                               ImportBatch.unit == item.unit))
            team.state = SKIPPED if done else FAILED  # another run of the batch committed it meanwhile
            if not done:
                team.problems.append(Problem(0, "database", redact(str(err.orig))[:300]))
        except SQLAlchemyError as err:  # the database refused or went away: this team only, rerun it
            session.rollback()
            team.state = FAILED
            team.problems.append(Problem(0, "database", redact(str(getattr(err, "orig", err)))[:300]))
        except ValueError as err:  # e.g. a committee out of record-number serials: this team only, reported
            session.rollback()
            team.state = FAILED
            team.problems.append(Problem(0, "write", redact(str(err))[:300]))
    team.seconds = time.perf_counter() - started
