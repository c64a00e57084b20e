"""Assigning households to teams: one by one, by committee, and by a rebalancing proposal."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import new_uuid
from ..sync import changes as sync_changes
from ..errors import Conflict, Invalid, NotFound, field_error
from ..followups.models import FollowUpStatus
from ..households.models import ChronicCondition, Household, Resident
from ..org.models import Committee, Team
from ..referrals.moves import follow_households
from ..scope import Actor, own_center_rows, require_center
from .models import AssignmentChange, CommitteeAssignment


def _team_in_center(session: Session, team_id: int | None, center_id: int) -> None:
    if team_id is None:
        return
    team = session.get(Team, team_id)
    if team is None or team.center_id != center_id:
        raise field_error("team_id", "no such team in this center", "本中心没有这个团队")


def _changing(session: Session, actor: Actor, household_ids: list[str], team_id: int | None) -> list:
    """The households (id, team_id) that giving these to a team would move; checks scope and the team."""
    if not household_ids:
        raise field_error("household_ids", "name at least one household", "请至少选择一户")
    rows = session.execute(select(Household.id, Household.team_id, Household.center_id)
                           .where(Household.id.in_(household_ids))).all()
    found = {r.id for r in rows}
    missing = [h for h in household_ids if h not in found]
    centers = {r.center_id for r in rows}
    if missing:
        raise Invalid("Some households do not exist.", {"household_ids": [f"unknown: {', '.join(missing[:10])}"]},
                      zh="有的家庭不存在（可能已被删除）。",
                      zh_errors={"household_ids": [f"不存在：{'、'.join(missing[:10])}"]})
    if len(centers) != 1:
        raise field_error("household_ids", "all households must belong to one center", "一次只能分配同一中心的家庭")
    center_id = centers.pop()
    require_center(actor, center_id)
    _team_in_center(session, team_id, center_id)
    return [r for r in rows if r.team_id != team_id]


def _summary(session: Session, changing: list, team_id: int | None) -> dict:
    """How many households and active residents move, per (from team, to team): what a clerk confirms."""
    residents: dict = defaultdict(int)
    for chunk in _chunks([r.id for r in changing], 500):
        residents.update(session.execute(select(Resident.household_id, func.count()).where(
            Resident.household_id.in_(chunk), Resident.status == "active").group_by(Resident.household_id)).all())
    moves: dict = {}
    for r in changing:
        m = moves.setdefault(r.team_id, {"from_team_id": r.team_id, "to_team_id": team_id,
                                         "households": 0, "residents": 0})
        m["households"] += 1
        m["residents"] += residents[r.id]
    return {"changed": len(changing), "residents": sum(m["residents"] for m in moves.values()), "batch_id": None,
            "moves": sorted(moves.values(), key=lambda m: (m["from_team_id"] is None, m["from_team_id"] or 0))}


def preview(session: Session, actor: Actor, household_ids: list[str], team_id: int | None) -> dict:
    """What assign would move (households and residents per team), changing nothing."""
    return _summary(session, _changing(session, actor, household_ids, team_id), team_id)


def assign(session: Session, actor: Actor, household_ids: list[str], team_id: int | None, reason: str,
           batch_id: str | None = None) -> dict:
    """Give these households to a team (None: to no team); each change is kept with who, when, why.

    Returns what moved, as preview counts it, and the batch id that undo_batch takes.
    """
    changing = _changing(session, actor, household_ids, team_id)
    result = _summary(session, changing, team_id)
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
        # Their referral cases follow them (the new team follows them up; the old team's tablets drop them).
        follow_households(session, actor, chunk, team_id)
    return {**result, "batch_id": batch_id if changing else None}


def assign_committee(session: Session, actor: Actor, committee_id: int, team_id: int | None, reason: str,
                     only_unassigned: bool = False, dry_run: bool = False) -> dict:
    """Make a committee part of a team's service area and give the team its households (dry_run: count only)."""
    committee = session.get(Committee, committee_id)
    if committee is None:
        raise field_error("committee_id", "no such committee", "没有这个居委会/村")
    require_center(actor, committee.center_id)
    _team_in_center(session, team_id, committee.center_id)
    stmt = select(Household.id).where(Household.committee_id == committee_id)
    if only_unassigned:
        stmt = stmt.where(Household.team_id.is_(None))
    ids = list(session.scalars(stmt))
    if dry_run:
        return preview(session, actor, ids, team_id) if ids else _summary(session, [], team_id)
    batch_id = new_uuid()
    _give_committee(session, actor, committee, team_id, reason, batch_id)
    if not ids:
        return {**_summary(session, [], team_id), "batch_id": batch_id}
    return assign(session, actor, ids, team_id, reason, batch_id=batch_id)


def _give_committee(session: Session, actor: Actor, committee: Committee, team_id: int | None, reason: str,
                    batch_id: str) -> None:
    """Set the committee's team, keeping the team it had under the batch so an undo can give it back."""
    session.add(CommitteeAssignment(committee_id=committee.id, from_team_id=committee.team_id, to_team_id=team_id,
                                    batch_id=batch_id, changed_by=actor.user_id, reason=reason))
    committee.team_id = team_id


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
        raise Conflict("This center has no teams.", {"center_id": ["no teams"]}, zh="本中心还没有团队。",
                       zh_errors={"center_id": ["没有团队"]})
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
                       {"moves": [f"stale: {', '.join(stale[:10])}"]},
                       zh="生成建议后有家庭被调整过，请重新生成建议。",
                       zh_errors={"moves": [f"已变动：{'、'.join(stale[:10])}"]})
    batch = new_uuid()
    done = 0
    by_target: dict = defaultdict(list)
    for m in moves:
        by_target[m["to_team_id"]].append(m["household_id"])
    for team_id, hh_ids in by_target.items():
        done += assign(session, actor, hh_ids, team_id, reason, batch_id=batch)["changed"]
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


def batches(actor: Actor, center_id: int | None = None):
    """Assignment batches (one request each) in the actor's center, newest first: (batch_id, last_id)."""
    stmt = (select(AssignmentChange.batch_id, func.max(AssignmentChange.id).label("last_id"))
            .join(Household, Household.id == AssignmentChange.household_id)
            .where(own_center_rows(actor, Household.center_id), AssignmentChange.batch_id.is_not(None))
            .group_by(AssignmentChange.batch_id).order_by(func.max(AssignmentChange.id).desc()))
    if center_id:
        stmt = stmt.where(Household.center_id == center_id)
    return stmt


def batch_rows(page):
    """For a page of batches: each (batch, from team, to team) with its households, when, who and why."""
    return (select(AssignmentChange.batch_id, AssignmentChange.from_team_id, AssignmentChange.to_team_id,
                   func.min(AssignmentChange.changed_at).label("changed_at"),
                   func.min(AssignmentChange.changed_by).label("changed_by"),
                   func.min(AssignmentChange.reason).label("reason"),
                   func.max(AssignmentChange.id).label("last_id"), func.count().label("households"))
            .where(AssignmentChange.batch_id.in_(select(page.c.batch_id)))
            .group_by(AssignmentChange.batch_id, AssignmentChange.from_team_id, AssignmentChange.to_team_id))


def group_batches(rows) -> list[dict]:
    """Fold (batch, from, to) rows into one entry per batch, newest first."""
    out: dict = {}
    for r in sorted(rows, key=lambda r: -r["last_id"]):
        b = out.setdefault(r["batch_id"], {"batch_id": r["batch_id"], "changed_at": r["changed_at"],
                                           "changed_by": r["changed_by"], "reason": r["reason"],
                                           "households": 0, "moves": []})
        b["households"] += r["households"]
        b["moves"].append({"from_team_id": r["from_team_id"], "to_team_id": r["to_team_id"],
                           "households": r["households"]})
    return list(out.values())


def with_committees(session: Session, listed: list[dict]) -> list[dict]:
    """Each listed batch with the committees it gave to a team (from, to), for the history page."""
    rows = session.scalars(select(CommitteeAssignment).where(
        CommitteeAssignment.batch_id.in_([b["batch_id"] for b in listed])).order_by(CommitteeAssignment.id))
    given: dict = defaultdict(list)
    for c in rows:
        given[c.batch_id].append({"committee_id": c.committee_id, "from_team_id": c.from_team_id,
                                  "to_team_id": c.to_team_id})
    return [{**b, "committees": given[b["batch_id"]]} for b in listed]


def undo_batch(session: Session, actor: Actor, batch_id: str, reason: str) -> dict:
    """Move a batch's households back to the teams they came from, as one new batch; refused (409) if any
    household has moved again since, so an undo never overwrites a later decision."""
    changes = session.scalars(select(AssignmentChange).where(AssignmentChange.batch_id == batch_id)).all()
    given = session.scalars(select(CommitteeAssignment).where(CommitteeAssignment.batch_id == batch_id)
                            .order_by(CommitteeAssignment.id)).all()
    if not changes and not given:
        raise NotFound("No such assignment batch.", {"batch_id": ["no such batch"]}, zh="没有这一批分配记录。",
                       zh_errors={"batch_id": ["没有这一批"]})
    centers = set(session.scalars(select(Household.center_id).where(
        Household.id.in_([c.household_id for c in changes]))))
    committees = {c.committee_id: session.get(Committee, c.committee_id) for c in given}
    centers |= {committee.center_id for committee in committees.values()}
    for center_id in centers:
        require_center(actor, center_id)
    current = dict(session.execute(select(Household.id, Household.team_id).where(
        Household.id.in_([c.household_id for c in changes]))).all())
    moved = [c.household_id for c in changes if current.get(c.household_id) != c.to_team_id]
    if moved:
        raise Conflict("Some households of this batch have moved again since; undo them one by one.",
                       {"batch_id": [f"moved since: {', '.join(moved[:10])}"]},
                       zh=f"这一批中有 {len(moved)} 户之后又被调整过，不能整批撤销；请逐户调整。",
                       zh_errors={"batch_id": [f"之后又调整过：{'、'.join(moved[:10])}"]})
    since = [c for c in given if committees[c.committee_id].team_id != c.to_team_id]
    if since:
        names = "、".join(committees[c.committee_id].name for c in since)
        raise Conflict("A committee of this batch has been given to another team since; change it by committee.",
                       {"batch_id": [f"committee changed team since: {names}"]},
                       zh=f"这一批中的居委会/村（{names}）之后又分配给了别的团队，不能整批撤销；请按居委会重新分配。",
                       zh_errors={"batch_id": [f"居委会/村之后又调整过：{names}"]})
    back: dict = defaultdict(list)
    for c in changes:
        back[c.from_team_id].append(c.household_id)
    new_batch = new_uuid()
    for c in reversed(given):  # the committee's first team in this batch is the one it goes back to
        _give_committee(session, actor, committees[c.committee_id], c.from_team_id, reason, new_batch)
    result = {"changed": 0, "residents": 0, "moves": [], "batch_id": new_batch}
    for team_id, ids in back.items():
        part = assign(session, actor, ids, team_id, reason, batch_id=new_batch)
        result["changed"] += part["changed"]
        result["residents"] += part["residents"]
        result["moves"] += part["moves"]
    return result
