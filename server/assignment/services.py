"""Assigning households to teams: one by one, by committee, and by a rebalancing proposal."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import new_uuid
from ..sync import changes as sync_changes
from ..errors import Conflict, Invalid, field_error
from ..followups.models import FollowUpStatus
from ..households.models import ChronicCondition, Household, Resident
from ..org.models import Committee, Team
from ..scope import Actor, own_center_rows, require_center
from .models import AssignmentChange


def _team_in_center(session: Session, team_id: int | None, center_id: int) -> None:
    if team_id is None:
        return
    team = session.get(Team, team_id)
    if team is None or team.center_id != center_id:
        raise field_error("team_id", "no such team in this center")


def assign(session: Session, actor: Actor, household_ids: list[str], team_id: int | None, reason: str,
           batch_id: str | None = None) -> int:
    """Give these households to a team (None: to no team); each change is kept with who, when, why."""
    if not household_ids:
        raise field_error("household_ids", "name at least one household")
    rows = session.execute(select(Household.id, Household.team_id, Household.center_id)
                           .where(Household.id.in_(household_ids))).all()
    found = {r.id for r in rows}
    missing = [h for h in household_ids if h not in found]
    centers = {r.center_id for r in rows}
    if missing:
        raise Invalid("Some households do not exist.", {"household_ids": [f"unknown: {', '.join(missing[:10])}"]})
    if len(centers) != 1:
        raise field_error("household_ids", "all households must belong to one center")
    center_id = centers.pop()
    require_center(actor, center_id)
    _team_in_center(session, team_id, center_id)
    changing = [r for r in rows if r.team_id != team_id]
    batch_id = batch_id or new_uuid()
    session.add_all([AssignmentChange(household_id=r.id, from_team_id=r.team_id, to_team_id=team_id,
                                      changed_by=actor.user_id, reason=reason, batch_id=batch_id)
                     for r in changing])
    ids = [r.id for r in changing]
    # Bulk UPDATEs bypass the ORM's flush events: tell tablets here (old team removes, new team gets all).
    sync_changes.team_moves(session.connection(), "households", [(r.id, r.team_id) for r in changing], team_id)
    for chunk in _chunks(ids, 500):
        session.execute(update(Household).where(Household.id.in_(chunk))
                        .values(team_id=team_id, version=Household.version + 1),
                        execution_options={"synchronize_session": False})
        # Residents carry their household's team so scope filters stay one column away.
        session.execute(update(Resident).where(Resident.household_id.in_(chunk)).values(team_id=team_id),
                        execution_options={"synchronize_session": False})
        # The follow-up worklist starts from its status rows' team: they move with the residents.
        session.execute(update(FollowUpStatus)
                        .where(FollowUpStatus.resident_id.in_(select(Resident.id)
                                                              .where(Resident.household_id.in_(chunk))))
                        .values(team_id=team_id), execution_options={"synchronize_session": False})
    return len(changing)


def assign_committee(session: Session, actor: Actor, committee_id: int, team_id: int | None, reason: str,
                     only_unassigned: bool = False) -> int:
    """Make a committee part of a team's service area and give the team its households."""
    committee = session.get(Committee, committee_id)
    if committee is None:
        raise field_error("committee_id", "no such committee")
    require_center(actor, committee.center_id)
    _team_in_center(session, team_id, committee.center_id)
    committee.team_id = team_id
    stmt = select(Household.id).where(Household.committee_id == committee_id)
    if only_unassigned:
        stmt = stmt.where(Household.team_id.is_(None))
    ids = list(session.scalars(stmt))
    return assign(session, actor, ids, team_id, reason) if ids else 0


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class TeamLoad:
    team_id: int | None
    name: str
    households: int
    residents: int
    chronic_patients: int
    hypertension: int
    diabetes: int
    capacity_min: int
    capacity_max: int

    @property
    def status(self) -> str:
        if self.team_id is None:
            return "unassigned"
        if self.residents > self.capacity_max:
            return "over"
        if self.residents < self.capacity_min:
            return "under"
        return "within"


def loads(session: Session, actor: Actor, center_id: int, cap_min: int, cap_max: int) -> list[TeamLoad]:
    """Each team's load (households, active residents, chronic patients) against its capacity."""
    require_center(actor, center_id)
    teams = session.execute(select(Team.id, Team.name).where(Team.center_id == center_id)
                            .order_by(Team.id)).all()
    hh = dict(session.execute(select(Household.team_id, func.count()).where(Household.center_id == center_id)
                              .group_by(Household.team_id)).all())
    res = dict(session.execute(select(Resident.team_id, func.count()).where(
        Resident.center_id == center_id, Resident.status == "active").group_by(Resident.team_id)).all())
    chronic: dict = defaultdict(dict)
    managed = (select(Resident.team_id, ChronicCondition.condition, func.count(func.distinct(Resident.id)))
               .join(ChronicCondition, ChronicCondition.resident_id == Resident.id)
               .where(Resident.center_id == center_id, Resident.status == "active",
                      ChronicCondition.status == "managed")
               .group_by(Resident.team_id, ChronicCondition.condition))
    for team_id, condition, n in session.execute(managed):
        chronic[team_id][condition] = n
    patients = dict(session.execute(
        select(Resident.team_id, func.count(func.distinct(Resident.id)))
        .join(ChronicCondition, ChronicCondition.resident_id == Resident.id)
        .where(Resident.center_id == center_id, Resident.status == "active",
               ChronicCondition.status == "managed").group_by(Resident.team_id)).all())
    out = [TeamLoad(t.id, t.name, hh.get(t.id, 0), res.get(t.id, 0), patients.get(t.id, 0),
                    chronic[t.id].get("hypertension", 0), chronic[t.id].get("t2dm", 0), cap_min, cap_max)
           for t in teams]
    if hh.get(None):
        out.append(TeamLoad(None, "未分配", hh[None], res.get(None, 0), patients.get(None, 0),
                            chronic[None].get("hypertension", 0), chronic[None].get("t2dm", 0), 0, 0))
    return out


def propose_rebalance(session: Session, actor: Actor, center_id: int, cap_min: int, cap_max: int,
                      tolerance: float = 0.05) -> dict:
    """Moves that even out teams' resident counts (and place unassigned households).

    Households move in route order within a committee, smallest committees of the donor first, so
    whole committees tend to move together and a doctor's walking route stays in one piece.
    """
    require_center(actor, center_id)
    teams = [t for t in loads(session, actor, center_id, cap_min, cap_max) if t.team_id is not None]
    if not teams:
        raise Conflict("This center has no teams.", {"center_id": ["no teams"]})
    rows = session.execute(
        select(Household.id, Household.team_id, Household.committee_id, Committee.code, Committee.team_id,
               Household.address, func.count(Resident.id))
        .join(Committee, Committee.id == Household.committee_id)
        .outerjoin(Resident, (Resident.household_id == Household.id) & (Resident.status == "active"))
        .where(Household.center_id == center_id)
        .group_by(Household.id, Household.team_id, Household.committee_id, Committee.code, Committee.team_id,
                  Household.address)).all()
    load = {t.team_id: t.residents for t in teams}
    moves: list[dict] = []
    # 1. Unassigned households: to their committee's team when it has one, else the lightest team.
    for r in sorted((r for r in rows if r[1] is None), key=lambda r: (r[3], r[5])):
        to = r[4] if r[4] in load else min(load, key=load.get)
        moves.append({"household_id": r[0], "from_team_id": None, "to_team_id": to, "residents": r[6]})
        load[to] += r[6]
    # 2. Heaviest to lightest until they are within tolerance of the mean.
    by_team: dict[int, list] = defaultdict(list)
    for r in rows:
        if r[1] is not None:
            by_team[r[1]].append(r)
    committee_size = defaultdict(int)
    for r in rows:
        committee_size[(r[1], r[2])] += 1
    for team_id in by_team:
        by_team[team_id].sort(key=lambda r: (-committee_size[(team_id, r[2])], r[3], r[5]))
    slack = max(tolerance * sum(load.values()) / len(load), 1)
    for _ in range(len(rows)):
        heavy = max(load, key=load.get)
        light = min(load, key=load.get)
        gap = load[heavy] - load[light]
        if gap <= 2 * slack or not by_team[heavy]:
            break
        r = by_team[heavy].pop()  # the end of the list: the donor's smallest committees first
        if r[6] == 0:
            continue
        if r[6] >= gap:  # moving it would not narrow the gap
            break
        moves.append({"household_id": r[0], "from_team_id": heavy, "to_team_id": light, "residents": r[6]})
        load[heavy] -= r[6]
        load[light] += r[6]
    return {"center_id": center_id, "moves": moves,
            "before": {t.team_id: t.residents for t in teams}, "after": load,
            "capacity": {"min": cap_min, "max": cap_max}}


def accept_proposal(session: Session, actor: Actor, moves: list[dict], reason: str) -> int:
    """Apply proposed moves if none went stale; a household changed since the proposal -> 409."""
    ids = [m["household_id"] for m in moves]
    current = dict(session.execute(select(Household.id, Household.team_id).where(Household.id.in_(ids))).all())
    stale = [m["household_id"] for m in moves
             if m["household_id"] not in current or current[m["household_id"]] != m.get("from_team_id")]
    if stale:
        raise Conflict("Some households changed team since the proposal was made; ask for a new proposal.",
                       {"moves": [f"stale: {', '.join(stale[:10])}"]})
    batch = new_uuid()
    done = 0
    by_target: dict = defaultdict(list)
    for m in moves:
        by_target[m["to_team_id"]].append(m["household_id"])
    for team_id, hh_ids in by_target.items():
        done += assign(session, actor, hh_ids, team_id, reason, batch_id=batch)
    return done


def history(actor: Actor, household_id: str | None = None, center_id: int | None = None):
    """Assignment changes, newest first, within the actor's center."""
    stmt = (select(AssignmentChange).join(Household, Household.id == AssignmentChange.household_id)
            .order_by(AssignmentChange.id.desc()))
    stmt = stmt.where(own_center_rows(actor, Household.center_id))
    if household_id:
        stmt = stmt.where(AssignmentChange.household_id == household_id)
    if center_id:
        stmt = stmt.where(Household.center_id == center_id)
    return stmt
