"""The suite's database fixtures keep their promise (tests/conftest.py): a test's writes vanish after it,
the world is exactly the world, a test without it sees an empty database, commits opt in."""
import pytest
from sqlalchemy import func, select, text

from tests.conftest import world_layer


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


# --- world_layer: set-up shared by consecutive tests, each rolled back to it ------------------------

@world_layer
def layered(ctx):
    """The world plus center L1 (committed as a service commits), a specialist, and a config value."""
    from server.auth.users import create_user
    from server.org.models import Center

    session = ctx.session
    center = Center(code="L1", name="层中心", county_code="310115", township_code="009", township_name="测试街道")
    session.add(center)
    user = create_user(session, {"username": "spec-layer", "password": "correct-horse-1", "full_name": "层",
                                 "role": "specialist", "hospital_id": ctx.world.hospital_id,
                                 "department": "心内科"}, "fast")
    session.commit()
    ctx.app.config["FOLLOWUP_TODAY"] = "2026-02-03"
    ctx.world.users["spec-layer"] = user.id
    ctx.world.layer_center = center.id
    return ctx.world


@pytest.mark.parametrize("run", range(3))
def test_each_test_on_a_layer_starts_from_the_world_and_the_layer(run, layered, world, as_user, session,
                                                                   clean_app, _db):
    from server.org.models import Center

    assert _centers(session) == ["A", "B", "L1"]  # no T-n of another run: each was rolled back to the layer
    assert layered is world and session.get(Center, world.layer_center).code == "L1"
    assert clean_app.config["FOLLOWUP_TODAY"] == "2026-02-03"
    assert as_user("spec-layer").get("/api/v1/auth/me").get_json()["username"] == "spec-layer"
    session.add(Center(code=f"T{run}", name="测试", county_code="310115", township_code="009",
                       township_name="测试街道"))
    session.commit()
    assert _centers(session) == ["A", "B", "L1", f"T{run}"]
    layered.users.clear()  # the next test gets its own copy of the layer's ids
    assert _db.leaks() == {}  # nothing committed: the layer is a transaction


def test_a_test_without_the_layer_sees_the_world_only(world, session, clean_app):
    assert _centers(session) == ["A", "B"]
    assert "FOLLOWUP_TODAY" not in clean_app.config or clean_app.config["FOLLOWUP_TODAY"] != "2026-02-03"


@pytest.mark.parametrize("args, markexpr, blocked, refused", [
    (["tests"], "not contract", True, False),  # make test
    (["tests"], "contract", True, True),
    (["tests/contract"], "contract", True, True),
    (["tests/contract/test_openapi_contract.py::test_every_operation_keeps_the_contract"], "contract", True,
     True),
    (["tests/server"], "not slow", True, False),  # tests/contract is not collected
    (["tests"], "not slow", True, True),
    (["tests/contract"], "contract", False, False),  # make test-contract: -p schemathesis
])
def test_a_run_that_would_collect_the_contract_without_its_plugin_stops(args, markexpr, blocked, refused):
    from pathlib import Path
    from types import SimpleNamespace

    from tests.conftest import _contract_needs_its_plugin

    root = Path(__file__).resolve().parents[2]
    plugins = SimpleNamespace(is_blocked=lambda name: blocked and name == "schemathesis")
    config = SimpleNamespace(args=[str(root / a) for a in args], pluginmanager=plugins,
                             getoption=lambda name, default=None: markexpr)
    if refused:
        with pytest.raises(pytest.UsageError, match="-p schemathesis"):
            _contract_needs_its_plugin(config)
    else:
        _contract_needs_its_plugin(config)


def _schema_home(tmp_path, monkeypatch, mode=0o700):
    import getpass

    monkeypatch.setenv("PYTEST_DEBUG_TEMPROOT", str(tmp_path / "temp"))
    home = tmp_path / "temp" / f"pytest-of-{getpass.getuser()}"
    home.mkdir(parents=True)
    home.chmod(mode)
    return home


def _migrations_counted(monkeypatch) -> list:
    """server.manage.migrate replaced by one that records its URL and writes a one-table SQLite file."""
    import sqlite3

    import server.manage

    made = []

    def migrate(url):
        made.append(url)
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("CREATE TABLE made (n INTEGER)")
            conn.execute("INSERT INTO made VALUES (?)", (len(made),))
        conn.close()
    monkeypatch.setattr(server.manage, "migrate", migrate)
    return made


def _made(path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT n FROM made").fetchone()[0]
    finally:
        conn.close()


def test_the_migrated_schema_is_kept_between_runs_until_its_code_changes(tmp_path, monkeypatch):
    import os

    from tests.conftest import copy_of_migrated_schema

    home = _schema_home(tmp_path, monkeypatch)
    made = _migrations_counted(monkeypatch)
    key = ["k1"]
    monkeypatch.setitem(copy_of_migrated_schema.__globals__, "schema_key", lambda root: key[0])
    monkeypatch.setitem(copy_of_migrated_schema.__globals__, "SCHEMA_KEY_AT_START", None)

    copy_of_migrated_schema(tmp_path / "first.db")
    copy_of_migrated_schema(tmp_path / "second.db")  # the next worker, or the next run
    assert len(made) == 1 and _made(tmp_path / "first.db") == _made(tmp_path / "second.db") == 1
    kept = home / "gpo-migrated-schema"
    assert sorted(p.name for p in kept.iterdir()) == ["k1.sqlite"]  # the file it was migrated in is gone
    assert kept.stat().st_mode & 0o777 == 0o700

    key[0] = "k2"  # a migration, a model or a library changed
    copy_of_migrated_schema(tmp_path / "third.db")
    assert len(made) == 2 and _made(tmp_path / "third.db") == 2
    assert sorted(p.name for p in kept.iterdir()) == ["k1.sqlite", "k2.sqlite"]  # k1 was used today

    os.utime(kept / "k1.sqlite", (0, 0))  # not used for a day
    (kept / "tmp-of-a-killed-run").mkdir()
    os.utime(kept / "tmp-of-a-killed-run", (0, 0))
    key[0] = "k3"
    copy_of_migrated_schema(tmp_path / "fourth.db")
    assert sorted(p.name for p in kept.iterdir()) == ["k2.sqlite", "k3.sqlite"]


@pytest.mark.parametrize("at_start, keys", [
    ("at-the-run's-start", ["after-the-edit"]),  # edited while the tests were collected
    (None, ["before-the-edit", "after-the-edit"]),  # edited while it migrated
])
def test_a_schema_migrated_while_its_code_changed_is_not_kept(tmp_path, monkeypatch, at_start, keys):
    from tests.conftest import copy_of_migrated_schema

    home = _schema_home(tmp_path, monkeypatch)
    made = _migrations_counted(monkeypatch)
    keys = iter(keys)
    monkeypatch.setitem(copy_of_migrated_schema.__globals__, "schema_key", lambda root: next(keys))
    monkeypatch.setitem(copy_of_migrated_schema.__globals__, "SCHEMA_KEY_AT_START", at_start)
    copy_of_migrated_schema(tmp_path / "run.db")
    assert len(made) == 1 and _made(tmp_path / "run.db") == 1  # the run has its database
    assert list((home / "gpo-migrated-schema").iterdir()) == []  # but keeps nothing under either name


def _open_to_all(home, monkeypatch):
    home.chmod(0o777)


def _a_link_to_a_closed_folder(home, monkeypatch):
    elsewhere = home.parent / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    home.rmdir()
    home.symlink_to(elsewhere)


def _a_user_without_a_name(home, monkeypatch):
    import getpass

    def no_name():
        raise KeyError("getpwuid(): uid not found: 54321")
    monkeypatch.setattr(getpass, "getuser", no_name)


def _no_room_for_the_kept_folder(home, monkeypatch):
    (home / "gpo-migrated-schema").write_text("a file where the folder would be")


@pytest.mark.parametrize("spoil", [_open_to_all, _a_link_to_a_closed_folder, _a_user_without_a_name,
                                   _no_room_for_the_kept_folder])
def test_without_a_folder_of_its_own_each_database_is_migrated_in_place(tmp_path, monkeypatch, spoil):
    from tests.conftest import copy_of_migrated_schema

    home = _schema_home(tmp_path, monkeypatch)
    spoil(home, monkeypatch)
    made = _migrations_counted(monkeypatch)
    copy_of_migrated_schema(tmp_path / "run.db")
    copy_of_migrated_schema(tmp_path / "run2.db")
    assert made == [f"sqlite:///{tmp_path / 'run.db'}", f"sqlite:///{tmp_path / 'run2.db'}"]
    assert _made(tmp_path / "run.db") == 1 and _made(tmp_path / "run2.db") == 2
    assert [p.name for p in home.iterdir() if p.is_dir()] == []  # no folder of schemas was made


def test_the_schema_key_follows_the_code_a_migration_runs(tmp_path):
    from tests.conftest import schema_key

    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "server").mkdir()
    (tmp_path / "gpcore").mkdir()
    script = tmp_path / "migrations" / "versions" / "a001.py"
    script.write_text("def upgrade(): pass\n")
    first = schema_key(tmp_path)
    (tmp_path / "server" / "__pycache__").mkdir()
    (tmp_path / "server" / "__pycache__" / "db.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "server" / "console.css").write_text("body {}")
    (tmp_path / "server" / ".#db.py").symlink_to("root@host.1234:1765000000")  # an editor's lock
    assert schema_key(tmp_path) == first  # neither bytecode, a stylesheet nor a lock makes a schema
    for change in (lambda: script.write_text("def upgrade(): op.add_column()\n"),
                   lambda: (tmp_path / "server" / "db.py").write_text("NAMING = {}\n"),
                   lambda: (tmp_path / "gpcore" / "codes.py").write_text("X = 1\n"),
                   lambda: (tmp_path / "migrations" / "alembic.ini").write_text("[alembic]\n")):
        before = schema_key(tmp_path)
        change()
        assert schema_key(tmp_path) != before
