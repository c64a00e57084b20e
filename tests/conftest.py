"""Fixtures for the server suite: one migrated database per run (SQLite, or TEST_DATABASE_URL for
PostgreSQL), emptied after every test; a small two-center world with every role; token helpers."""
from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace

import pytest
from sqlalchemy import text

PG_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {PG_URL or 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema so migrations start from empty."""
    from server.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    from server.manage import migrate

    url = PG_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if PG_URL:
        reset_postgres(url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def app(db_url):
    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "PASSWORD_HASH_PROFILE": "fast", "TESTING": True,
                      "DEVELOPMENT": True})
    return app


@pytest.fixture
def clean_app(app):
    """The app, with every table emptied after the test."""
    from server.models import Base

    saved = dict(app.config)
    yield app
    app.config.clear()
    app.config.update(saved)
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(clean_app):
    return clean_app.test_client()


@pytest.fixture
def session(clean_app):
    """A session of its own (not the request's), so test set-up never leaks into request state."""
    s = clean_app.extensions["db_sessionmaker"]()
    yield s
    s.close()


PASSWORD = "correct-horse-1"


@pytest.fixture
def world(clean_app, session):
    """Two centers. Center A: teams A1 and A2, committees 001 (A1), 002 (A2), 003 (no team).
    Center B: team B1 with committee 001. Users of every role; two households a team, two residents each."""
    from server.auth.models import User
    from server.auth.users import create_user
    from gpcore import idcard
    from server.households import services as hh
    from server.org.models import Center, Committee, Hospital, Team
    from server.scope import Actor

    w = SimpleNamespace(users={}, teams={}, committees={}, households={}, residents={})
    a = Center(code="A", name="甲中心", county_code="310115", township_code="005", township_name="甲街道")
    b = Center(code="B", name="乙中心", county_code="310104", township_code="012", township_name="乙街道")
    hosp = Hospital(code="H1", name="市一医院")
    session.add_all([a, b, hosp])
    session.flush()
    w.centers = {"A": a.id, "B": b.id}
    w.hospital_id = hosp.id
    for key, center in (("A1", a), ("A2", a), ("B1", b)):
        t = Team(center_id=center.id, name=f"团队{key}")
        session.add(t)
        session.flush()
        w.teams[key] = t.id
    for key, center, code, team in (("A1", a, "001", "A1"), ("A2", a, "002", "A2"), ("A0", a, "003", None),
                                    ("B1", b, "001", "B1")):
        c = Committee(center_id=center.id, code=code, name=f"居委会{key}",
                      team_id=w.teams[team] if team else None, last_serial=0)
        session.add(c)
        session.flush()
        w.committees[key] = c.id

    def user(name, **kw):
        u = create_user(session, {"username": name, "password": PASSWORD, "full_name": name, **kw}, "fast")
        session.flush()
        w.users[name] = u.id
        return u

    user("admin", role="admin")
    user("staff-a", role="center_staff", center_id=a.id)
    user("staff-b", role="center_staff", center_id=b.id)
    user("spec", role="specialist", hospital_id=hosp.id, department="心内科")
    for key in ("A1", "A2", "B1"):
        user(f"gp-{key.lower()}", role="gp", team_id=w.teams[key], team_role="family_doctor",
             is_team_leader=True)
        user(f"nurse-{key.lower()}", role="gp", team_id=w.teams[key], team_role="nurse")
    session.commit()
    admin = Actor.of(session.get(User, w.users["admin"]))
    people = iter([("张三", "1"), ("李四", "2"), ("王五", "1"), ("赵六", "2"), ("钱七", "1"), ("孙八", "2"),
                   ("周九", "1"), ("吴十", "2"), ("郑一", "1"), ("冯二", "2"), ("陈三", "1"), ("褚四", "2"),
                   ("卫五", "1"), ("蒋六", "2"), ("沈七", "1"), ("韩八", "2")])
    seq = iter(range(100, 999, 2))
    for key in ("A1", "A2", "A0", "B1"):
        for n in range(2):
            h = hh.create_household(session, admin, {"committee_id": w.committees[key],
                                                     "address": f"{key}路{n + 1}号", "phone": None})
            session.flush()
            w.households[f"{key}-{n}"] = h.id
            for m in range(2):
                name, sex = next(people)
                birth = dt.date(1950 + m * 20 + n, 3, 14)
                s = next(seq) + (1 if sex == "1" else 0)
                r = hh.create_resident(session, admin, {
                    "household_id": h.id, "name": name, "sex": sex, "birth_date": birth,
                    "id_number": idcard.make("310115", birth, s), "phone": f"1380000{len(w.residents):04d}",
                    "relation_to_head": "02" if m == 0 else "10"})
                session.flush()
                w.residents[f"{key}-{n}-{m}"] = r.id
    session.commit()
    return w


@pytest.fixture
def token(clean_app, world):
    """token(username) -> an access token, minted directly (login itself is tested separately)."""
    from flask_jwt_extended import create_access_token

    def make(username: str) -> str:
        with clean_app.app_context():
            return create_access_token(identity=str(world.users[username]))
    return make


@pytest.fixture
def as_user(client, token):
    """as_user(username) -> a small client whose requests carry that user's token."""

    class As:
        def __init__(self, username):
            self.headers = {"Authorization": f"Bearer {token(username)}"}

        def __getattr__(self, method):
            def call(path, headers=None, **kw):
                return getattr(client, method)(path, headers={**self.headers, **(headers or {})}, **kw)
            return call

    return As
