"""The suite's database fixtures keep their promise (tests/conftest.py): a test's writes vanish after it,
the world is exactly the world, a test without it sees an empty database, commits opt in."""
import pytest
from sqlalchemy import func, select, text


def _centers(session) -> list[str]:
    from server.org.models import Center

    return sorted(session.scalars(select(Center.code)))


def test_a_test_writes_through_the_api_and_a_service_commit(world, as_user, session):
    from server.org.models import Center

    session.add(Center(code="T1", name="测试中心一", county_code="310115", township_code="009",
                       township_name="测试街道"))
    session.commit()  # only the savepoint
    r = as_user("admin").patch(f"/api/v1/users/{world.users['gp-a1']}", json={"is_active": False})
    assert r.status_code == 200, r.get_json()
    assert _centers(session) == ["A", "B", "T1"]  # the request sees the test's rows, the test the request's
    session.rollback()  # back to the last commit, not before the test
    assert _centers(session) == ["A", "B", "T1"]


def test_the_next_test_sees_the_world_as_built(world, as_user, session):
    from server.auth.models import User

    assert _centers(session) == ["A", "B"]
    assert session.get(User, world.users["gp-a1"]).is_active
    assert session.scalar(select(func.count()).select_from(User)) == len(world.users)
    assert as_user("gp-a1").get("/api/v1/households").status_code == 200


def test_without_the_world_the_database_is_empty(session):
    from server.auth.models import User

    assert session.scalar(select(func.count()).select_from(User)) == 0
    assert _centers(session) == []


def test_ids_start_as_on_a_fresh_database(session):
    from server.org.models import Center

    c = Center(code="T2", name="测试中心二", county_code="310115", township_code="009", township_name="测试街道")
    session.add(c)
    session.commit()
    assert c.id == 1


@pytest.mark.commits
def test_a_committing_test_gets_the_real_database_and_rows_from_elsewhere_are_seen(clean_app, world, _db, db_url):
    from server.db import make_engine

    other = make_engine(db_url)
    with other.begin() as conn:
        conn.execute(text("INSERT INTO centers (code, name, county_code, township_code, township_name) "
                          "VALUES ('T3', '测试中心三', '310115', '009', '测试街道')"))
    other.dispose()
    with clean_app.extensions["db_sessionmaker"]() as s:  # the real engine: another connection's commit shows
        assert _centers(s) == ["A", "B", "T3"]
    # What a test without the opt-in would be failed for (then the world is put back, as after this test).
    assert _db.leaks() == {"centers": (2, 3)}


def test_after_a_committing_test_the_world_is_back(world, session, _db):
    assert _centers(session) == ["A", "B"]
    assert _db.leaks() == {}
