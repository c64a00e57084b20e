"""Bulk writes: COPY on PostgreSQL stores exactly what an INSERT stores; the import writer's rows."""
import datetime as dt

from sqlalchemy import insert, select

AWKWARD = "路\t1号\\2\n\"室\" 'x' , ;\r"


def _resident(world, rid: str, number: str, id_number: str, **over) -> dict:
    now = dt.datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=dt.timezone.utc)
    row = {"id": rid, "household_id": world.households["A1-0"], "team_id": world.teams["A1"],
           "center_id": world.centers["A"], "record_number": number, "id_number": id_number,
           "name": "欧阳\\娜娜", "name_pinyin": "ouyangnana", "name_initials": "oynn", "sex": "2",
           "birth_date": dt.date(1961, 2, 28), "relation_to_head": None, "phone": None, "employer": AWKWARD,
           "contact_name": "", "contact_phone": None, "residence_type": "1", "ethnicity": "99",
           "ethnicity_name": "蒙古族", "payment_methods": [], "drug_allergies": ["1", "3"], "exposures": [],
           "past_diseases": [{"code": "hypertension", "diagnosed": "2015-03", "note": AWKWARD}],
           "procedures": {}, "family_history": {"father": ["2"]}, "disabilities": [], "status": "active",
           "created_at": now, "updated_at": now, "created_by": world.users["admin"], "version": 1}
    row.update(over)
    return row


def test_bulk_insert_stores_what_an_insert_stores(world, session):
    """On PostgreSQL insert_rows is COPY; the same values through an ordinary INSERT read back equal."""
    from server import bulk
    from server.households.models import Resident

    table = Resident.__table__
    conn = session.connection()
    copied = _resident(world, "00000000-0000-4000-8000-000000000001", "31011500500199001",
                       "110101196102280026")
    inserted = _resident(world, "00000000-0000-4000-8000-000000000002", "31011500500199002",
                         "110101196102280042")
    assert bulk.insert_rows(conn, table, [copied]) == 1
    conn.execute(insert(table), [inserted])
    session.commit()
    got = {r.id: r._asdict() for r in session.execute(select(table).where(table.c.id.in_(
        [copied["id"], inserted["id"]])))}
    a, b = got[copied["id"]], got[inserted["id"]]
    for key in ("id", "record_number", "id_number"):
        a.pop(key), b.pop(key)
    assert a == b
    assert a["employer"] == AWKWARD and a["name"] == "欧阳\\娜娜" and a["contact_name"] == ""
    assert a["past_diseases"][0]["note"] == AWKWARD and a["payment_methods"] == []


def test_import_writer_sets_heads_and_logs_every_record_in_one_transaction(world, session):
    from server.assignment.models import AssignmentChange
    from server.auth.models import User
    from server.households.models import ChronicCondition, Household, Resident
    from server.imports.services import write
    from server.org.models import Center, Committee
    from server.scope import Actor
    from server.sync.models import SyncChange

    committee = session.get(Committee, world.committees["A1"])
    center = session.get(Center, world.centers["A"])
    actor = Actor.of(session.get(User, world.users["staff-a"]))
    groups = []
    for h in range(1500):  # enough rows for the change log's COPY path on PostgreSQL
        members = [{"name": f"王{h}", "sex": "1", "birth_date": dt.date(1960, 1, 1), "relation_to_head": "02",
                    "hypertension": dt.date(2020, 5, 1), "t2dm": True},
                   {"name": "李娜", "sex": "2", "birth_date": dt.date(1962, 1, 1), "relation_to_head": "10"}]
        if h % 2:
            members.reverse()  # the head is not always the first row
        groups.append([{**m, "committee": committee, "household_key": f"K{h}", "address": f"新路{h}号"}
                       for m in members])
    first = committee.last_serial + 1
    before = session.scalar(select(SyncChange.seq).order_by(SyncChange.seq.desc()).limit(1)) or 0
    write(session, actor, center, groups, reason="test import")
    session.commit()
    new = session.scalars(select(Household).where(Household.address.like("新路%"))).all()
    assert len(new) == 1500
    heads = dict(session.execute(select(Resident.household_id, Resident.id).where(
        Resident.relation_to_head == "02", Resident.household_id.in_([h.id for h in new]))).all())
    assert all(h.head_id == heads[h.id] and h.version == 1 for h in new)
    residents = session.scalars(select(Resident).where(Resident.household_id.in_([h.id for h in new]))).all()
    numbers = sorted(r.record_number for r in residents)
    assert numbers == [f"310115005001{n:05d}" for n in range(first, first + 3000)]
    session.refresh(committee)
    assert committee.last_serial == first + 2999
    assert {r.name_initials for r in residents if r.name == "李娜"} == {"ln"}
    conditions = session.scalar(select(ChronicCondition.id).where(ChronicCondition.resident_id.in_(
        [r.id for r in residents])).limit(1))
    assert conditions is not None
    assert session.query(AssignmentChange).filter_by(reason="test import").count() == 1500
    from server.followups.models import FollowUpStatus
    status = session.execute(select(FollowUpStatus.team_id, FollowUpStatus.reassessed).where(
        FollowUpStatus.resident_id.in_([r.id for r in residents]))).all()
    assert len(status) == 3000 and set(status) == {(world.teams["A1"], False)}  # one per registry entry
    logged = session.execute(select(SyncChange.entity, SyncChange.xid, SyncChange.team_id)
                             .where(SyncChange.seq > before)).all()
    by_entity = {}
    for entity, _xid, team in logged:
        assert team == world.teams["A1"]
        by_entity[entity] = by_entity.get(entity, 0) + 1
    assert by_entity == {"households": 1500, "residents": 3000, "chronic_conditions": 3000}
    assert len({xid for _e, xid, _t in logged}) == 1  # one transaction (0 on SQLite)
    if session.bind.dialect.name == "postgresql":
        assert logged[0].xid > 0
