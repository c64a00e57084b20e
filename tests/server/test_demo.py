"""The demo district: one center, three teams of 7-9, ~600 households, every role; loaded once."""
from sqlalchemy import func, select


def test_demo_loads_once_with_every_role(session):
    from server.auth.models import User
    from server.demo import load as demo
    from server.households.models import ChronicCondition, Household, Resident

    assert not demo.is_loaded(session)
    counts = demo.load(session, hash_profile="fast")
    assert counts["households"] == 600 and counts["residents"] == 1800
    roles = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert set(roles) == {"admin", "center_staff", "specialist", "gp"}
    team_sizes = sorted(session.scalars(select(func.count()).select_from(User).where(User.role == "gp")
                                        .group_by(User.team_id)))
    assert team_sizes == [7, 8, 9]
    leaders = session.scalar(select(func.count()).select_from(User).where(User.is_team_leader.is_(True)))
    assert leaders == 3
    assert session.scalar(select(func.count()).select_from(ChronicCondition)) > 300
    assert session.scalar(select(func.count()).select_from(Household).where(Household.head_id.is_(None))) == 0
    assert demo.is_loaded(session)
    ids = session.scalars(select(Resident.id_number)).all()
    assert len(set(ids)) == len(ids) == 1800


def test_demo_generator_is_deterministic():
    from server.demo.caseload import Generator, team_caseload

    a = team_caseload(Generator(5), "T", 2, 50, 150, 25, 10, 5)
    b = team_caseload(Generator(5), "T", 2, 50, 150, 25, 10, 5)
    assert a == b
    people = [m for hh in a for m in hh.members]
    assert len(a) == 50 and len(people) == 150
    assert sum(m.hypertension is not None for m in people) == 25
    assert sum(m.t2dm is not None for m in people) == 10
    assert sum(m.t2dm is not None and m.hypertension is not None for m in people) == 5
