"""Search by name, pinyin initials, ID number, record number, phone, address; paginated and scoped."""
import pytest

from server.search.services import classify_query


def ids(resp):
    assert resp.status_code == 200, resp.get_json()
    return [r["id"] for r in resp.get_json()["items"]]


@pytest.mark.parametrize("q,kind", [
    ("310115195604121010", "id_number"), ("31011519560412101x", "id_number"), ("310115560412101", "id_number"),
    ("31011500500100005", "record_number"), ("00100005", "record_short"), ("13800000001", "phone"),
    ("0001", "phone"), ("zs", "pinyin"), ("ZhangSan", "pinyin"), ("张三", "name"), ("潍坊路88弄", "address"),
    ("东沟村三组", "address"),
])
def test_query_kinds(q, kind):
    assert classify_query(q) == kind


def test_pinyin_initials_find_the_name(as_user, world):
    assert ids(as_user("gp-a1").get("/api/v1/residents?q=zs")) == [world.residents["A1-0-0"]]
    assert ids(as_user("gp-a1").get("/api/v1/residents?q=zhangsan")) == [world.residents["A1-0-0"]]
    assert ids(as_user("gp-a1").get("/api/v1/residents?q=ZS")) == [world.residents["A1-0-0"]]


def test_name_fragment_and_address(as_user, world):
    gp = as_user("gp-a1")
    assert ids(gp.get("/api/v1/residents?q=张")) == [world.residents["A1-0-0"]]
    found = set(ids(gp.get("/api/v1/residents?q=A1路2号")))
    assert found == {world.residents["A1-1-0"], world.residents["A1-1-1"]}


def test_id_and_record_numbers_and_phone(as_user, world, session):
    from server.households.models import Resident

    r = session.get(Resident, world.residents["A1-1-1"])
    gp = as_user("gp-a1")
    assert ids(gp.get(f"/api/v1/residents?q={r.id_number}")) == [r.id]
    assert ids(gp.get(f"/api/v1/residents?q={r.id_number.lower()}")) == [r.id]
    assert ids(gp.get(f"/api/v1/residents?q={r.record_number}")) == [r.id]
    assert ids(gp.get(f"/api/v1/residents?q={r.record_number[-8:]}")) == [r.id]
    assert ids(gp.get(f"/api/v1/residents?q={r.phone}")) == [r.id]
    assert r.id in ids(gp.get(f"/api/v1/residents?q={r.phone[-4:]}"))


def test_other_teams_residents_are_not_found(as_user, world, session):
    from server.households.models import Resident

    other = session.get(Resident, world.residents["B1-0-0"])
    gp = as_user("gp-a1")
    for q in (other.id_number, other.record_number, other.phone, other.name):
        assert ids(gp.get(f"/api/v1/residents?q={q}")) == []
    assert ids(as_user("gp-b1").get(f"/api/v1/residents?q={other.id_number}")) == [other.id]


def test_pagination_and_filters(as_user, world):
    staff = as_user("staff-a")
    first = staff.get("/api/v1/residents?page_size=5&page=1").get_json()
    second = staff.get("/api/v1/residents?page_size=5&page=2").get_json()
    assert first["total"] == 12 and len(first["items"]) == 5 and len(second["items"]) == 5
    assert not set(ids_ := [i["id"] for i in first["items"]]) & {i["id"] for i in second["items"]}, ids_
    assert staff.get("/api/v1/residents?page_size=1000").status_code == 422
    assert staff.get("/api/v1/residents?condition=cancer").status_code == 422
    assert staff.get("/api/v1/residents?condition=hypertension").get_json()["total"] == 0


def test_like_wildcards_are_literal(as_user, world):
    assert ids(as_user("gp-a1").get("/api/v1/residents?q=%25")) == []
    assert ids(as_user("gp-a1").get("/api/v1/residents?q=_")) == []


@pytest.mark.parametrize("user", ["gp-a1", "staff-a", "admin"])
def test_every_kind_finds_the_resident_for_every_scope(as_user, world, session, user):
    """Each kind of query takes its own path (indexes, sub-selects); each must find the same resident."""
    from server.households.models import Household, Resident

    r = session.get(Resident, world.residents["A1-1-1"])
    address = session.get(Household, r.household_id).address  # "A1路2号"
    c = as_user(user)
    # ID number, its first 7 digits (read as a phone: phone fragment or ID prefix), record number and
    # its last 8, phone whole and in part, initials, pinyin prefix, name, name fragment, address, fragment
    for q in (r.id_number, r.id_number[:7], r.record_number, r.record_number[-8:], r.phone, r.phone[-4:],
              r.phone[:7], r.name_initials, r.name_pinyin[:2], r.name, r.name[:1], address, "A1路2"):
        assert r.id in ids(c.get(f"/api/v1/residents?q={q}&page_size=100")), (user, q)


def test_a_name_query_also_finds_by_address_within_scope(as_user, world, session):
    """Short Chinese text without digits is a name or an address fragment: both are searched, in scope."""
    from server.households import services as hh
    from server.households.models import Household
    from server.scope import Actor
    from server.auth.models import User

    admin = Actor.of(session.get(User, world.users["admin"]))
    for key in ("A1-0", "B1-0"):
        household = session.get(Household, world.households[key])
        hh.update_household(session, admin, household, {"address": "潍坊新村" + key})
    session.commit()
    found = set(ids(as_user("gp-a1").get("/api/v1/residents?q=潍坊新村")))
    assert found == {world.residents["A1-0-0"], world.residents["A1-0-1"]}
    assert len(ids(as_user("admin").get("/api/v1/residents?q=潍坊新村"))) == 4


def test_patterns_are_bound_never_written_into_the_sql():
    """The pattern is a parameter: text from the search box never becomes SQL text (issue 15: a NUL byte once
    cut the statement short on PostgreSQL because the pattern was written into it)."""
    from sqlalchemy.dialects import postgresql

    from server.scope import Actor
    from server.search.services import search_residents

    gp = Actor(1, "gp", "gp", team_id=7, center_id=2)
    for q, pattern in (("白_%", "%白/_/%%"), ("zs", "zs%"), ("1380", "%1380%"), ("A路2号", "%A路2号%"),
                       ("o'brien", "%o'brien%")):
        compiled = search_residents(gp, {"q": q}).compile(dialect=postgresql.dialect(),
                                                         compile_kwargs={"render_postcompile": True})
        assert pattern in compiled.params.values(), (q, compiled.params)
        assert q not in str(compiled) and "ESCAPE '/'" in str(compiled), (q, str(compiled))


def test_a_quote_and_wildcards_in_the_search_box_are_only_text(as_user, world):
    for q in ("o'brien", "%", "_", "'; DROP TABLE residents; --"):
        r = as_user("admin").get("/api/v1/residents", query_string={"q": q})
        assert r.status_code == 200 and r.get_json()["total"] == 0, (q, r.get_json())


@pytest.mark.postgres
def test_postgresql_plans_each_search_for_its_pattern(session):
    """Bound patterns with a prepared statement could get a generic plan after five runs; the search forces
    a custom plan for its own transaction only."""
    from sqlalchemy import text

    from server.search.services import planned_for_each_query

    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    before = session.scalar(text("SHOW plan_cache_mode"))
    planned_for_each_query(session)
    assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    session.rollback()  # SET LOCAL ends with its transaction: other statements keep the default
    assert session.scalar(text("SHOW plan_cache_mode")) == before
