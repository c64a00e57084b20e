"""The demo district: one center, three teams, two hospitals, ~600 households, users for every role."""
from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpcore.clock import china_today

from ..auth.models import User
from ..auth.services import hash_password
from ..households.models import Household
from ..db import utcnow
from ..imports.services import write
from ..org.models import Center, Committee, Hospital, Team
from ..scope import Actor
from . import clinical as clinical_demo
from . import referrals as referral_demo
from .caseload import Generator, HouseholdFile, team_caseload

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo accounts only; listed in the README
TEAMS = (
    ("潍坊一队", ("001", "潍坊一村居委会"), ("002", "潍坊二村居委会")),
    ("潍坊二队", ("003", "崂山一村居委会"), ("004", "崂山二村居委会")),
    ("潍坊三队", ("005", "南泉居委会"), ("101", "东沟村村委会")),
)
MEMBERS = (("doctor", "family_doctor", True), ("nurse", "nurse", False), ("ph", "public_health_doctor", False),
           ("doctor2", "family_doctor", False), ("nurse2", "nurse", False), ("ph2", "public_health_doctor", False),
           ("nurse3", "nurse", False), ("doctor3", "family_doctor", False), ("ph3", "public_health_doctor", False))
SURNAME_STAFF = "陈林黄周吴徐孙马朱胡"


def is_loaded(session: Session) -> bool:
    """True once any center exists: the demo is loaded once and never over existing data."""
    return session.scalar(select(func.count()).select_from(Center)) > 0


def load(session: Session, seed: int = 20261122, hash_profile: str = "default",
         households_per_team: int = 200, residents_per_team: int = 600, clinical: bool = True) -> dict:
    """Create the demo district (and, with `clinical`, its follow-ups and lab results); returns counts. Commits."""
    pw = hash_password(DEMO_PASSWORD, hash_profile)
    center = Center(code="PD-WF", name="潍坊社区卫生服务中心", county_code="310115", township_code="005",
                    township_name="潍坊新村街道", phone="021-58880000")
    session.add(center)
    hospitals = [Hospital(code="RJ-EAST", name="仁济医院东院"), Hospital(code="DF-HOSP", name="东方医院")]
    session.add_all(hospitals)
    session.flush()
    users = [User(username="admin", full_name="系统管理员", role="admin", password_hash=pw),
             User(username="clerk", full_name="王建华", role="center_staff", center_id=center.id,
                  password_hash=pw, phone="021-58880001"),
             User(username="spec-cardio", full_name="张心宁", role="specialist", hospital_id=hospitals[0].id,
                  department="心内科", password_hash=pw),
             User(username="spec-endo", full_name="李代谢", role="specialist", hospital_id=hospitals[1].id,
                  department="内分泌科", password_hash=pw)]
    session.add_all(users)
    gen = Generator(seed, county_code=center.county_code)
    admin = users[0]
    session.flush()
    actor = Actor.of(admin)
    residents = 0
    for t, (team_name, *committees) in enumerate(TEAMS, start=1):
        team = Team(center_id=center.id, name=team_name, phone=f"021-5888{1000 + t}")
        session.add(team)
        session.flush()
        rows = []
        for code, name in committees:
            c = Committee(center_id=center.id, code=code, name=name, team_id=team.id, last_serial=0)
            session.add(c)
            rows.append(c)
        size = 7 + t % 3  # teams of 7, 8 and 9 people
        for i, (suffix, team_role, leader) in enumerate(MEMBERS[:size]):
            session.add(User(username=f"t{t}-{suffix}", full_name=gen.name("1" if i % 2 else "2",
                                                                         SURNAME_STAFF[(t * 3 + i) % 10]),
                             role="gp", team_id=team.id, center_id=center.id, team_role=team_role,
                             is_team_leader=leader, password_hash=pw, phone=gen.phone()))
        session.flush()
        files = team_caseload(gen, f"T{t}", len(rows), households_per_team, residents_per_team,
                              hypertension=residents_per_team // 6, diabetes=residents_per_team // 15,
                              both=residents_per_team // 30)
        write(session, actor, center, to_groups(files, rows), reason="demo data")
        residents += sum(len(f.members) for f in files)
    session.commit()
    counts = {"households": session.scalar(select(func.count()).select_from(Household)), "residents": residents}
    if clinical:
        counts["followups"] = clinical_demo.load_followups(session, china_today())
        counts["lab_messages"] = clinical_demo.load_labs(session, admin, utcnow())
        counts["referrals"] = referral_demo.load_referrals(session, china_today())
    return counts


def to_groups(files: list[HouseholdFile], committees: list[Committee]) -> list[list[dict]]:
    """Generated households in the shape the import writer takes."""
    groups = []
    for f in files:
        committee = committees[f.committee_index]
        groups.append([{**dataclasses.asdict(m), "committee": committee, "household_key": f.household_key,
                        "address": f.address} for m in f.members])
    return groups
