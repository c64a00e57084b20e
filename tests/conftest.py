"""Fixtures for the server suite: one migrated database per run (SQLite, or TEST_DATABASE_URL for PostgreSQL),
a small two-center world with every role, token helpers.

Speed: the world is built ONCE per run and committed; each test then runs inside one database transaction
that is rolled back when it ends (a SAVEPOINT stands for every commit the code makes), so a test sees exactly
the world (or, if it does not ask for `world`, an empty database) and its writes vanish after it.

* `clean_app` is the session's app with its engine and sessionmaker swapped, for the test, for ones on the
  test's connection: requests through `client`, the `session` fixture, `db.engine().begin()`, a raw
  connection's COPY all share that one connection and transaction. `session.commit()` (in a service or a
  test) releases the savepoint and opens the next; `session.rollback()` goes back to the last commit. Ids
  are as on a freshly emptied database (world ids fixed; sequences reset before each test on PostgreSQL).
* Opt in to real commits with `@pytest.mark.commits` (or a fixture listed in COMMITTING_FIXTURES, such as
  `live` and `manage_command`): the test gets the real engine, the database as today (world committed if
  asked for, else empty), and every table is emptied and the world put back after it. Needed by anything
  that reaches the database through a second connection: a subprocess (MLLP listener, serve-production), a
  live server for the browser, threads or several engines (concurrency), a second app, PostgreSQL
  transaction ids/snapshots as another transaction sees them. `@pytest.mark.commits(on="postgresql")`
  asks for them on PostgreSQL only: the sync tests' tablets (`tablet` opts in so by itself), whose
  incremental pulls continue from a transaction id, and tests/sync/test_model.py.
* `world_layer` (below) shares one module's expensive set-up between its consecutive tests: built once in an
  outer transaction, each test rolled back to it.
* Under pytest-xdist (`make test`) every worker has its own database (db_url).
* Without the opt-in, rows committed through a second connection are caught: after each test the row counts
  must equal the world's, else the test errors ("committed outside the test's transaction") and the
  database is put back. On SQLite such a writer mostly fails at once ("database is locked").
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

PG_URL = os.environ.get("TEST_DATABASE_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"... under pytest-xdist (`make test`)

# Property tests check rules, not speed: this machine's speed moves by up to 1.6x from minute to minute and
# a test's first example pays one-off costs (a calendar's holiday table, pypinyin's dictionary), so
# hypothesis' 200 ms deadline and its "generation too slow" check failed healthy tests under load. The
# examples and their number are unchanged (derandomised where a test asks for it).
settings.register_profile("gpo", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gpo")
# Fixtures that reach the database from outside the test's transaction: their tests get real commits.
COMMITTING_FIXTURES = {"live", "manage_command", "committed_app"}
# On PostgreSQL a tablet's incremental pull continues from a transaction id (the sync change log's
# horizon): inside one test transaction every change has the same id and a later one is never sent.
COMMITTING_FIXTURES_ON_POSTGRES = {"tablet"}


CONTRACT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "contract")


def pytest_ignore_collect(collection_path, config):
    """tests/contract (every test there is marked `contract`) is not even collected when the -m expression
    cannot select a contract test (the default, "not contract"): collecting it builds an app and has
    schemathesis generate every operation's examples before they are deselected, ~10 s of CPU in each xdist
    worker. `make test-contract` (-m contract -p schemathesis) collects it."""
    if str(collection_path) != CONTRACT_DIR:
        return None
    return None if _selects_contract(config) else True


def _contract_needs_its_plugin(config) -> None:
    """setup.cfg leaves schemathesis' pytest plugin out (~0.15 s of CPU for each pytest process to load it);
    a run that would collect tests/contract without it stops with what to add, rather than failing its test
    for a missing fixture. Called from pytest_configure, so in the process that starts pytest-xdist's workers
    (a worker's usage error is not shown)."""
    if not config.pluginmanager.is_blocked("schemathesis") or not _selects_contract(config):
        return
    for arg in config.args:  # the paths to collect: the command line's, else testpaths
        path = os.path.abspath(str(arg).split("::")[0])
        inside, around = path.startswith(CONTRACT_DIR + os.sep), CONTRACT_DIR.startswith(path + os.sep)
        if path == CONTRACT_DIR or inside or around:
            raise pytest.UsageError("this -m expression selects tests/contract, which needs schemathesis' "
                                    "pytest plugin: add -p schemathesis (as `make test-contract` does) or "
                                    "`and not contract`")


def _selects_contract(config) -> bool:
    """The -m expression can select a test marked `contract`."""
    from _pytest.mark.expression import Expression

    markexpr = config.getoption("markexpr", "")
    return not markexpr or Expression.compile(markexpr).evaluate(lambda name, **kwargs: name == "contract")


def _temporary_files_in_memory() -> None:
    """The run's temporary files (pytest's tmp_path, the SQLite test databases, the tablets' stores, the
    servers' and Chromium's files) go to /dev/shm, a memory-backed tmpfs, unless TMPDIR says where they go:
    on the disk every SQLite commit waits for fsync, and with both workers waiting the cores sit idle
    (tests/README.md, "Keeping it fast", has the figures). A run writes ~50 MB; pytest keeps the last three
    runs' folders. Set here, at import, in the process that starts pytest-xdist's workers, so they and every
    subprocess inherit it, before pytest first asks for its base folder."""
    import shutil
    import tempfile

    shm = "/dev/shm"
    if "TMPDIR" in os.environ or not (os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK)):
        return
    if shutil.disk_usage(shm).free < 1 << 30:  # a container's default /dev/shm is 64 MB
        return
    os.environ["TMPDIR"] = shm
    tempfile.tempdir = None  # pytest's output capture has already asked (and cached /tmp): ask again


_temporary_files_in_memory()


def pytest_configure(config):
    """The cyclic garbage collector at its defaults (a young collection every 700 new objects) took 13% of
    tests/server's time (3.9 of 29 s, measured with gc.callbacks): a request allocates thousands of objects
    (SQLAlchemy, marshmallow, werkzeug), and each collection also walks the app and the world that live for
    the whole run. Young collections every 50,000 allocations: about 1.1-1.9 s of the 29. The older
    generations keep their default ratios (10, 10), so a full collection still comes every few million
    allocations and cyclic garbage holding a file or a connection does not outlive its test by much. The
    process's peak memory goes from 300 to 360 MB."""
    import gc

    gc.set_threshold(50_000, 10, 10)
    _contract_needs_its_plugin(config)


def pytest_unconfigure(config):
    """The interpreter's exit walks every object left (the app, the world, every test module: ~500,000 in a
    worker) through several collections, 1.0-1.6 s of CPU per pytest process; frozen, they are left alone
    (0.08 s). The same as server.manage does for a command's process."""
    import gc

    gc.freeze()


def pytest_report_header(config):
    return f"database: {PG_URL or 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if COMMITTING_FIXTURES & names:
            item.add_marker(pytest.mark.commits)
        if COMMITTING_FIXTURES_ON_POSTGRES & names:
            item.add_marker(pytest.mark.commits(on="postgresql"))


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema so migrations start from empty."""
    from server.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist, PostgreSQL worker `gw0` runs on `<db>_gw0` of the same server, created through its
    `postgres` maintenance database on first use and reused by later runs (reset_postgres empties it)."""
    from server.db import make_engine

    base, name = url.rsplit("/", 1)
    name, _, query = name.partition("?")
    own = f"{name}_{worker}"
    admin = make_engine(f"{base}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own}) is None:
                conn.execute(text(f'CREATE DATABASE "{own}"'))
    finally:
        admin.dispose()
    return f"{base}/{own}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session", autouse=True)
def _migration_scripts_read_once():
    """Alembic reads every migration script again (34 files, ~0.5 s) for each command it runs, and a worker
    runs dozens (each migration test steps up and down branch by branch): for the run, each script directory
    is read once. Nothing in it depends on the database a command runs on (env.py reads the URL from the
    command's own config)."""
    from alembic.script import ScriptDirectory

    read = ScriptDirectory.from_config.__func__
    cache: dict = {}

    def from_config(cls, config):
        location = config.get_main_option("script_location")
        if location not in cache:
            cache[location] = read(cls, config)
        return cache[location]

    ScriptDirectory.from_config = classmethod(from_config)
    yield
    ScriptDirectory.from_config = classmethod(read)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    """The run's database: a SQLite file under the worker's own temporary directory, or TEST_DATABASE_URL's
    database (one per xdist worker, see worker_database), migrated from empty (a SQLite file is a copy of
    a migrated one kept between runs: copy_of_migrated_schema)."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("db") / "test.db"
        copy_of_migrated_schema(path)
        return f"sqlite:///{path}"
    from server.manage import migrate

    url = worker_database(PG_URL, WORKER) if WORKER else PG_URL
    reset_postgres(url)
    migrate(url)
    return url


SCHEMA_INPUTS = ("migrations", "server", "gpcore")  # a migration's scripts, env.py, and what they import


def schema_key(root: Path) -> str:
    """What names a migrated schema: the code and settings under root's SCHEMA_INPUTS (Python, alembic's ini
    and template), and the library versions."""
    import hashlib
    import sqlite3
    from importlib.metadata import version

    digest = hashlib.sha256(f"{version('alembic')} {version('sqlalchemy')} {sqlite3.sqlite_version}".encode())
    for folder in SCHEMA_INPUTS:
        for file in sorted((root / folder).rglob("*")):
            # An editor's lock (Emacs' .#db.py, a link to nowhere) is no code: alembic skips it too.
            if (file.suffix in (".py", ".ini", ".mako") and "__pycache__" not in file.parts
                    and not file.name.startswith(".#") and file.is_file()):
                digest.update(os.fsencode(file.relative_to(root)) + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


# The code as this process found it, before the tests imported any of it: a schema is kept under this key
# only if the key is the same after migrating (an edit in between is in neither the key nor the schema).
ROOT = Path(__file__).resolve().parents[1]
SCHEMA_KEY_AT_START = None if PG_URL else schema_key(ROOT)


def kept_schemas_folder() -> Path | None:
    """Where migrated schemas are kept: gpo-migrated-schema in pytest's folder of this user's runs
    (pytest-of-<user>), if that is a real folder (not a link) of this user's that nobody else may enter;
    None otherwise (a user without a name, a system without user ids), and the database is migrated in
    place."""
    import getpass
    import stat
    import tempfile

    try:
        user, uid = getpass.getuser(), os.getuid()
    except (KeyError, OSError, AttributeError, ImportError):  # ImportError: no pwd module (as pytest checks)
        return None
    home = Path(os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()) / f"pytest-of-{user}"
    try:
        st = home.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        return None
    return home / "gpo-migrated-schema"


def copy_of_migrated_schema(path: Path) -> None:
    """Make `path` a SQLite database migrated from empty to head: a copy of one migrated earlier, by this
    run's other worker or an earlier run, while nothing it came from has changed (each worker migrating its
    own took ~1.3 s of its set-up). tests/server/test_migrations.py still runs every migration, up and down,
    each run.

    The kept file is named by a hash of the code under SCHEMA_INPUTS and the versions of alembic, SQLAlchemy
    and SQLite (schema_key), so a changed migration, model or library makes a new one; it is kept only if
    the code did not change between this process's start and the end of its migration. Files not used for
    a day are removed. It is migrated in a folder of its own and moved into place whole, so no worker
    copies half of one; two workers that miss at once both migrate, as each did before. Without a folder to
    keep it in (kept_schemas_folder), or when keeping fails, the database is migrated in place."""
    import tempfile

    from server.manage import migrate

    kept = kept_schemas_folder()
    if kept is not None:
        try:
            key = SCHEMA_KEY_AT_START or schema_key(ROOT)
            schema = kept / f"{key}.sqlite"
            try:
                shutil.copyfile(schema, path)
                os.utime(schema)
                return
            except FileNotFoundError:
                pass
            kept.mkdir(mode=0o700, exist_ok=True)
            making = Path(tempfile.mkdtemp(dir=kept))
            try:
                migrate(f"sqlite:///{making / 'schema.sqlite'}")
                shutil.copyfile(making / "schema.sqlite", path)
                if schema_key(ROOT) == key:  # else it may hold an edit the key does not name
                    os.replace(making / "schema.sqlite", schema)
            finally:
                shutil.rmtree(making, ignore_errors=True)
            _forget_unused_schemas(kept, schema)
            return
        except OSError:
            path.unlink(missing_ok=True)
    migrate(f"sqlite:///{path}")


def _forget_unused_schemas(kept: Path, schema: Path) -> None:
    """Schemas not used for a day, and folders a killed run was migrating in."""
    import time

    for old in kept.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another run's clean-up may be here first
            if old != schema and old.lstat().st_mtime < time.time() - 86400:
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink()


@pytest.fixture(scope="session")
def app(db_url):
    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "PASSWORD_HASH_PROFILE": "fast", "TESTING": True,
                      "DEVELOPMENT": True})
    return app


class SavepointConnection:
    """A DBAPI connection for one test at a time: inside a test, commit() and rollback() act on a savepoint
    of the test's transaction, and close() keeps it open; between tests it is a plain connection.

    A layer (world_layer) is an outer transaction holding shared set-up: its tests each run inside the
    savepoint `layer_test` and are rolled back to it, so the layer's rows stay for the next test."""

    def __init__(self, raw, sqlite: bool):
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_sqlite", sqlite)
        object.__setattr__(self, "in_test", False)
        object.__setattr__(self, "in_layer", False)

    def _run(self, sql: str) -> None:
        cur = self._raw.cursor()
        cur.execute(sql)
        cur.close()

    def begin_test(self) -> None:
        if self.in_layer:
            self._run("SAVEPOINT layer_test")
        elif self._sqlite:
            self._run("BEGIN")  # the driver is in autocommit mode: this transaction is the test's
        self._run("SAVEPOINT test")
        object.__setattr__(self, "in_test", True)

    def end_test(self) -> None:
        object.__setattr__(self, "in_test", False)
        if self.in_layer:
            try:
                self._run("ROLLBACK TO SAVEPOINT layer_test")
                self._run("RELEASE SAVEPOINT layer_test")
                return
            except Exception:  # the test ended the outer transaction itself: the layer is gone with it
                self.end_layer()
                raise
        self._rollback_all()

    def _rollback_all(self) -> None:
        if self._sqlite:
            if self._raw.in_transaction:
                self._run("ROLLBACK")
        else:
            self._raw.rollback()

    def begin_layer(self) -> None:
        """Open the layer's transaction; its builder runs as a test does (its commits are savepoints)."""
        self.begin_test()
        object.__setattr__(self, "in_layer", True)

    def built_layer(self) -> None:
        self._run("RELEASE SAVEPOINT test")
        object.__setattr__(self, "in_test", False)

    def end_layer(self) -> None:
        object.__setattr__(self, "in_test", False)
        object.__setattr__(self, "in_layer", False)
        self._rollback_all()

    def commit(self):
        if not self.in_test:
            return self._raw.commit()
        self._run("RELEASE SAVEPOINT test")
        self._run("SAVEPOINT test")

    def rollback(self):
        if not self.in_test:
            return self._raw.rollback()
        self._run("ROLLBACK TO SAVEPOINT test")

    def close(self):
        pass  # lives as long as the run

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __setattr__(self, name, value):
        setattr(self._raw, name, value)


class TestDatabase:
    """The run's database: the committed world, its row counts, and the one connection tests run on."""

    def __init__(self, app, url: str):
        self.app = app
        self.real_engine = app.extensions["db_engine"]
        self.real_maker = app.extensions["db_sessionmaker"]
        self.postgres = url.startswith("postgresql")
        # A connection made as the app's engine makes its own (same driver arguments, same type adapters).
        dialect = self.real_engine.dialect
        args, kwargs = dialect.create_connect_args(self.real_engine.url)
        raw = dialect.connect(*args, **kwargs)
        if not self.postgres:
            raw.isolation_level = None  # the driver begins nothing by itself: the test's BEGIN is the one
            for pragma in ("foreign_keys=ON", "busy_timeout=5000"):  # as server.db's connect hook
                raw.execute(f"PRAGMA {pragma}")
        self.conn = SavepointConnection(raw, sqlite=not self.postgres)
        # The psycopg dialect looks hstore up with a check that the connection is psycopg's own class;
        # the app uses no hstore, and the connection above already has the app engine's adapters.
        extra = {"use_native_hstore": False} if self.postgres else {}
        self.engine = create_engine(self.real_engine.url, creator=lambda: self.conn, poolclass=StaticPool, **extra)
        self.maker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.world = None
        self.rows: dict = {}
        self.sequences: list[tuple[str, str, str]] = []
        self.layer = None  # the world_layer whose rows the connection's open transaction holds
        self.layer_value = None
        self.layer_is_world = False
        self.layer_config: dict = {}

    # --- the committed baseline ----------------------------------------------------------------

    def empty_all(self, conn) -> None:
        """Empty every table in conn's transaction (sequences: reset_sequences)."""
        from server.models import Base

        # PostgreSQL: DELETE, not TRUNCATE (which makes new files for ~50 tables: about a second a test on
        # this machine); with triggers off meanwhile, as the append-only ones refuse deletes.
        if self.postgres:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if self.postgres:
            conn.execute(text("SET LOCAL session_replication_role = origin"))

    def snapshot(self) -> None:
        """Keep every row of the committed world, to count against and to put back after a committing test."""
        from server.models import Base

        with self.real_engine.connect() as conn:
            self.rows = {t: [dict(r._mapping) for r in conn.execute(select(t))] for t in Base.metadata.sorted_tables}
            if self.postgres:
                self.sequences = [tuple(r) for r in conn.execute(text(
                    "SELECT c.table_name, c.column_name, pg_get_serial_sequence(c.table_name, c.column_name) "
                    "FROM information_schema.columns c WHERE c.table_schema = 'public' "
                    "AND pg_get_serial_sequence(c.table_name, c.column_name) IS NOT NULL"))]

    def put_back(self) -> None:
        """Commit: every table emptied, then the world's rows as they were built."""
        with self.real_engine.begin() as conn:
            self.empty_all(conn)
            if self.postgres:  # the rows as they were: no trigger adds to them
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table, rows in self.rows.items():
                if rows:
                    conn.execute(table.insert(), rows)
            self.reset_sequences(conn)

    def reset_sequences(self, conn) -> None:
        """PostgreSQL: each sequence continues after its table's largest id, as on a freshly built world
        (nextval is never rolled back; a test that asserts ids must not see an earlier test's)."""
        if self.postgres and self.sequences:
            parts = [f"setval('{seq}', coalesce((SELECT max({col}) FROM {table}), 0) + 1, false)"
                     for table, col, seq in self.sequences]
            conn.execute(text("SELECT " + ", ".join(parts)))

    def counts(self, conn) -> dict[str, int]:
        from server.models import Base

        tables = Base.metadata.sorted_tables
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t.name})" for t in tables)
        return dict(zip((t.name for t in tables), conn.execute(text(sql)).one()))

    # --- one test ------------------------------------------------------------------------------

    def begin(self, with_world: bool) -> None:
        self.conn.begin_test()
        with self.engine.connect() as conn:
            if not with_world:
                self.empty_all(conn)  # rolled back with the test
            self.reset_sequences(conn)
            conn.commit()

    def end(self) -> None:
        """Roll the test back (to its layer, if it has one)."""
        try:
            self.conn.end_test()
        finally:
            if not self.conn.in_layer:
                self.layer = None

    def enter_layer(self, layer, app) -> None:
        """Make `layer` the one the connection holds: roll back another, build this one if it is not built.
        The app must already run on the test's connection."""
        if self.layer is layer:
            return
        self.leave_layer()
        self.conn.begin_layer()
        try:
            with self.engine.connect() as conn:
                self.reset_sequences(conn)  # the layer's ids as on a freshly built world
                conn.commit()
            before = dict(app.config)
            ctx = _layer_context(app, self)
            try:
                self.layer_value = layer.build(ctx)
                self.layer_is_world = self.layer_value is ctx.world
            finally:
                ctx.session.close()
            self.layer_config = {k: v for k, v in app.config.items() if k not in before or before[k] != v}
            self.conn.built_layer()
        except BaseException:
            self.conn.end_layer()
            raise
        self.layer = layer

    def leave_layer(self) -> None:
        if self.layer is not None or self.conn.in_layer:
            self.conn.end_layer()
        self.layer = None
        self.layer_value = None
        self.layer_config = {}

    def leaks(self) -> dict[str, tuple[int, int]]:
        """{table: (the world's rows, committed rows now)} where they differ: written by another connection."""
        with self.real_engine.connect() as conn:
            now = self.counts(conn)
        want = {t.name: len(rows) for t, rows in self.rows.items()}
        return {t: (want[t], n) for t, n in now.items() if n != want[t]}


@pytest.fixture(scope="session")
def _db(app, db_url):
    world = _build_world(app.extensions["db_sessionmaker"])
    db = TestDatabase(app, db_url)
    db.world = world
    db.snapshot()
    yield db
    db.leave_layer()
    db.engine.dispose()
    db.conn._raw.close()


@pytest.fixture
def clean_app(request, app, _db):
    """The app for one test: inside a rolled-back transaction, or with real commits (marker `commits`),
    the database put back after it either way. See this module's docstring."""
    saved = dict(app.config)
    with_world = "world" in request.fixturenames
    dialect = "postgresql" if _db.postgres else "sqlite"
    committing = any(m.kwargs.get("on", dialect) == dialect for m in request.node.iter_markers("commits"))
    layer = _wanted_layer(request)
    if committing:
        if layer is not None:
            pytest.fail(f"world_layer {layer.name!r} holds its rows in a transaction: a test with real commits "
                        "cannot stand on it (build what it needs in the test instead)")
        _db.leave_layer()
        with _db.real_engine.begin() as conn:
            if not with_world:
                _db.empty_all(conn)
            _db.reset_sequences(conn)  # an earlier rolled-back test's nextval is not undone
        yield app
        app.config.clear()
        app.config.update(saved)
        _db.put_back()
        return
    app.extensions["db_engine"] = _db.engine
    app.extensions["db_sessionmaker"] = _db.maker
    try:
        if layer is None:
            _db.leave_layer()
        else:
            _db.enter_layer(layer, app)
            app.config.update(_db.layer_config)
        _db.begin(with_world)
        try:
            yield app
        finally:
            _db.end()
    finally:
        app.extensions["db_engine"] = _db.real_engine
        app.extensions["db_sessionmaker"] = _db.real_maker
        app.config.clear()
        app.config.update(saved)
    leaked = _db.leaks()
    if leaked:
        _db.leave_layer()
        _db.put_back()
        pytest.fail(f"committed outside the test's transaction (rows per table, world vs now: {leaked}): "
                    "mark the test @pytest.mark.commits (tests/conftest.py)")


@pytest.fixture
def committed_app(clean_app):
    """The app with real commits (same as marking the test `commits`)."""
    return clean_app


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


def _build_world(maker) -> SimpleNamespace:
    """Two centers. Center A: teams A1 and A2, committees 001 (A1), 002 (A2), 003 (no team).
    Center B: team B1 with committee 001. Users of every role; two households a team, two residents each."""
    from server.auth.models import User
    from server.auth.users import create_user
    from gpcore import idcard
    from server.households import services as hh
    from server.org.models import Center, Committee, Hospital, Team
    from server.scope import Actor

    session = maker()
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
    session.close()
    return w


@pytest.fixture
def world(clean_app, _db, session):
    """Two centers. Center A: teams A1 and A2, committees 001 (A1), 002 (A2), 003 (no team).
    Center B: team B1 with committee 001. Users of every role; two households a team, two residents each.
    Built once per run; a copy of its ids for each test."""
    return copy.deepcopy(_db.world)


class _RunningTestsApp:
    """The live server's WSGI app: the running test's `clean_app` (the session's app on the engine this test
    gets); between tests, a 503 for a request that comes late."""
    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no test is running"]
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _live_server():
    """One threaded server on a free port for the run (per xdist worker)."""
    import threading

    from werkzeug.serving import make_server

    current = _RunningTestsApp()
    server = make_server("127.0.0.1", 0, current, threaded=True)
    # shutdown() waits for serve_forever's next look at its flag (0.5 s at the default poll).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield current, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def live(clean_app, world, _live_server):
    """The test's app served on 127.0.0.1 in a thread (for a browser, the tablet app's drivers, a
    subprocess); its base URL. The server is the run's; it hands each request to this test's app. With real
    commits (COMMITTING_FIXTURES): the server's threads reach the database through their own connections."""
    current, url = _live_server
    current.app = clean_app
    yield url
    current.app = None


@pytest.fixture
def token(clean_app, world):
    """token(username) -> an access token, minted directly (login itself is tested separately)."""
    from flask_jwt_extended import create_access_token

    def make(username: str) -> str:
        with clean_app.app_context():
            return create_access_token(identity=str(world.users[username]))
    return make


def _as_user_maker(client, token):
    class As:
        def __init__(self, username):
            self.headers = {"Authorization": f"Bearer {token(username)}"}

        def __getattr__(self, method):
            def call(path, headers=None, **kw):
                return getattr(client, method)(path, headers={**self.headers, **(headers or {})}, **kw)
            return call

    return As


@pytest.fixture
def as_user(client, token):
    """as_user(username) -> a small client whose requests carry that user's token."""
    return _as_user_maker(client, token)


# --- layers: set-up shared by the tests of a module ------------------------------------------------

class _Layer:
    def __init__(self, name: str, build):
        self.name, self.build = name, build


def world_layer(build):
    """Decorator: a fixture whose set-up is done once and shared by the tests that ask for it, instead of
    once per test. `build(ctx)` gets ctx.app, ctx.client, ctx.session, ctx.token(username),
    ctx.as_user(username) and ctx.world (the world's ids; the build may add to it) and returns the value
    the fixture gives (each test gets its own deep copy; if that is ctx.world, it is the test's `world`).

    The build runs on the world, in a transaction of its own that stays open while consecutive tests use
    it: each of them runs in a savepoint inside it and is rolled back to it, so every test still starts
    from exactly the world plus the layer, and nothing is committed. A test that does not ask for the layer
    rolls it back first (it is built again when a later test asks). Real-commit tests cannot use one. Config
    the build sets (app.config) is set again for each test. Use it where the same set-up of many requests
    is repeated by a module's tests (tests/server/test_scope.py's scene: 4 s of set-up for every 0.3 s of
    test)."""
    name = build.__name__

    def fixture(clean_app, _db, world):
        assert _db.layer is not None and _db.layer.build is build, "clean_app entered another layer"
        value = copy.deepcopy(_db.layer_value)
        if _db.layer_is_world:  # the world grown by the build (users it added too): the test's one world,
            vars(world).clear()  # so `token` and `as_user` know what the layer added
            vars(world).update(vars(value))
            return world
        return value

    fixture.__name__ = name
    fixture.__doc__ = build.__doc__
    fixture.__module__ = build.__module__
    fixture.world_layer = _Layer(name, build)  # how clean_app knows a test stands on it (_wanted_layer)
    return pytest.fixture(name=name)(fixture)


def _wanted_layer(request):
    """The layer one of the test's fixtures is, if any (at most one a test)."""
    found = []
    defs = request.node._fixtureinfo.name2fixturedefs
    for name in request.fixturenames:
        for fixturedef in defs.get(name, ())[-1:]:
            layer = getattr(fixturedef.func, "world_layer", None)
            if layer is not None:
                found.append(layer)
    assert len(found) <= 1, f"a test can stand on one world_layer, not {[x.name for x in found]}"
    return found[0] if found else None


def _layer_context(app, db) -> SimpleNamespace:
    from flask_jwt_extended import create_access_token

    world = copy.deepcopy(db.world)

    def token(username: str) -> str:
        with app.app_context():
            return create_access_token(identity=str(world.users[username]))

    client = app.test_client()
    return SimpleNamespace(app=app, client=client, session=db.maker(), token=token, world=world,
                           as_user=_as_user_maker(client, token))
