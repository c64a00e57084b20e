"""The demo district: one center, three teams of 7-9, ~600 households, every role; loaded once."""
from sqlalchemy import func, select


def test_demo_loads_once_with_every_role(session):
    from server.auth.models import User
    from server.demo import load as demo
    from server.households.models import ChronicCondition, Household, Resident

    assert not demo.is_loaded(session)
    counts = demo.load(session, hash_profile="fast", clinical=False)
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


def test_demo_clinical_data_goes_through_the_real_services(session):
    """A small demo with visits and lab results: the worklist has work, the queue has the unknown patient and
    a message sent without an ID number, with its resident suggested."""
    from server.auth.models import User
    from gpcore.clock import china_today
    from server.followups import worklist
    from server.followups.models import FollowUp
    from server.demo import load as demo
    from server.labs.models import LabMessage, LabResultRow
    from server.scope import Actor

    counts = demo.load(session, hash_profile="fast", households_per_team=20, residents_per_team=60)
    assert counts["followups"] == session.scalar(select(func.count()).select_from(FollowUp)) > 20
    assert counts["lab_messages"] == session.scalar(select(func.count()).select_from(LabMessage))
    statuses = dict(session.execute(select(LabMessage.match_status, func.count())
                                    .group_by(LabMessage.match_status)).all())
    assert statuses.get("unmatched") == 2, statuses
    queued = session.execute(select(LabMessage.match_reason, LabMessage.suggested_resident_id)
                             .where(LabMessage.match_status == "unmatched")).all()
    assert {reason for reason, _ in queued} == {"no_candidate", "name_birth_sex_candidate"}
    assert all(suggested is not None for reason, suggested in queued if reason == "name_birth_sex_candidate")
    assert any("HH" in flags for flags in session.scalars(select(LabResultRow.flags)))
    assert "标本轻度溶血，结果仅供参考" in {c for cs in session.scalars(select(LabResultRow.comments)) for c in cs}
    # Every visit was decided by the rules: uncontrolled ones book the 2-week recheck.
    rows = session.scalars(select(FollowUp).where(FollowUp.kind == "visit")).all()
    assert all(r.next_visit_date is not None for r in rows)
    from gpcore.followup import is_working_day  # booked off weekends and holidays, as the rules book them
    assert all(is_working_day(r.next_visit_date)[0] for r in rows)
    assert all(r.visit_date <= china_today() for r in rows)
    leader = session.scalars(select(User).where(User.username == "t1-doctor")).one()
    work = worklist.worklist(session, Actor.of(leader), {}, today=china_today())
    buckets = {b for item in work["items"] for b in item["buckets"]}
    assert {"overdue", "recheck"} <= buckets, work["counts"]
    # Referrals in every open state, the answered and returned ones in the teams' worklists.
    from server.referrals.models import Referral
    states = sorted(session.scalars(select(Referral.state)))
    assert counts["referrals"] == 6 and states == ["answered", "info_requested", "requested", "requested",
                                                   "requested", "returned"]
    clerk = Actor.of(session.scalars(select(User).where(User.username == "clerk")).one())
    from server.referrals.services import list_referrals
    overdue = session.execute(list_referrals(clerk, {"overdue": True}, china_today())).all()
    assert len(overdue) == 1
    assert [a["state"] for a in work["referral_answers"]] == ["answered"]


def test_demo_lab_times_are_china_time():
    """The loader passes now in UTC; the demo LIS stamped it as it was, so a report received at 17:00 in
    Shanghai read "reported 09:00". Chinese LIS send wall-clock China time without an offset."""
    import datetime as dt
    import random

    from server.demo.clinical import hl7_message
    from server.labs.messages.hl7v2 import parse_oru
    from server.labs.intake import local_time

    now = dt.datetime(2026, 12, 5, 9, 0, 30, tzinfo=dt.timezone.utc)  # 17:00:30 in Shanghai
    msg = parse_oru(hl7_message(7, "H1", None, now, random.Random(1)))
    (report,) = msg.reports
    assert report.reported_at == dt.datetime(2026, 12, 5, 17, 0, 30)
    assert local_time(report.reported_at) == now == local_time(msg.sent_at)
    assert report.specimen_type == "血清"
