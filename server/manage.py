"""Operator commands: serve the demo, migrate, load demo data, import a file, add an admin.

    python -m server.manage serve [--port 5000]     migrate, load the demo once, serve (development)
    python -m server.manage serve-production [--host H] [--port 8000] [--workers N] [--threads T]
                                                    serve with gunicorn; migrate first, no demo data
    python -m server.manage migrate [--revision head]
    python -m server.manage demo
    python -m server.manage import FILE --center CODE [--dry-run] --user USERNAME
    python -m server.manage import-district SOURCE... --user USERNAME [--connections N] [--batch NAME] [--dry-run]
                                                    one file per center, each team in its own transaction
    python -m server.manage mllp --feed NAME [--port 2575] [--metrics-port P]   HL7 v2 over MLLP for one feed
    python -m server.manage new-epoch               after restoring a backup: tablets re-send and re-download
    python -m server.manage notify-worker [--once]  send queued SMS through the configured gateway
    python -m server.manage notify-followups [--date D]  queue SMS for follow-ups due next week (daily)
    python -m server.manage backup FILE             pg_dump (custom format), or SQLite's backup
    python -m server.manage restore FILE --yes      the backup back, then a new sync epoch (service stopped)

Installed from the wheel, the same commands are `gpo ...`, where `gpo serve` is the production server
(serve-production here) and `gpo serve-demo` the development demo server.
"""
from __future__ import annotations

import argparse
import gc
import getpass
import os
import sys
from pathlib import Path

import migrations as _migrations  # packaged with the code, so `gpo migrate` works from a wheel too

MIGRATIONS = Path(_migrations.__file__).resolve().parent


def alembic_config(url: str):
    """An Alembic config for this URL, independent of the working directory."""
    from alembic.config import Config  # Alembic only for the commands that migrate (~70 ms of CPU to load)

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "heads") -> None:
    """Bring the database at `url` to `revision`."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _app():
    """The app for a command that serves no requests: it signs and checks no tokens, so needs no secret, and
    has no routes (create_app)."""
    from . import create_app
    return create_app({"SERVES_REQUESTS": False})


def cmd_serve(args) -> None:
    """The demo: werkzeug's development server, the public development secret, the API docs published."""
    from . import create_app

    app = create_app({"DEVELOPMENT": True})
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    migrate(url)
    _demo(app)
    print(f"GP Outreach on http://127.0.0.1:{args.port}  (API docs: /docs, OpenAPI: /openapi.json)")
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


def cmd_serve_production(args) -> None:
    """Serve the app with gunicorn (the production server; `serve` is werkzeug's development server).

    Workers are processes, so N workers use N cores (one Python interpreter each). `--threads T` (default 6)
    runs gthread workers: keep-alive, T requests at once per process, so one thread runs Python while another
    waits for the database. `--threads 1` runs gunicorn's sync workers: one request at a time, the connection
    closed after each answer (slow clients then need a buffering reverse proxy in front, as gunicorn's
    documentation advises). Measured on the lab intake alone (bench/bench_labs.py, 2 cores), 2 workers x 2
    threads served most; on the district's busiest morning (bench/bench_morning.py: tablets, staff, HL7 and GPs
    together) 6 threads a worker cost the same CPU a request and queued far less than 2. The database is not
    migrated here: run `migrate` first."""
    from gunicorn.app.base import BaseApplication

    metrics_dir = _multiprocess_metrics_folder()
    from . import create_app
    from .logs import gunicorn_logconfig

    # Before forking (preload): a broken configuration or a weak secret stops here, not in each worker.
    app = create_app()
    if app.config["API_DOCS"]:
        # A published OpenAPI document is written here too (server/api.py writes it when first read): once,
        # shared by the workers, and a fault in it stops the start.
        for api in app.extensions["flask-smorest"]["apis"].values():
            api["ext_obj"].spec  # noqa: B018 (reading it writes it)
    # The app lives as long as the processes: its ~430,000 objects (modules, schemas, mappers) out of the
    # garbage collector's sight, so a full collection in a worker (0.2-0.4 s here, in the middle of a
    # request) does not walk them nor write to, so copy, the pages a worker shares with the master
    # (gc.freeze's documentation). Also what makes each process's exit quick (_as_process).
    gc.freeze()
    if os.environ.get("GPO_PROFILE_DIR"):  # CPU per route, for benchmarks (server/profiling.py)
        from . import profiling
        profiling.wrap(app, os.environ["GPO_PROFILE_DIR"], os.environ.get("GPO_PROFILE_CALLS") == "1")

    def worker_gone(_server, worker) -> None:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid, metrics_dir)

    def worker_done(_server, _worker) -> None:
        from . import profiling
        profiling.dump()  # nothing to write unless GPO_PROFILE_CALLS

    def fresh_connections(_server, _worker) -> None:
        # A worker must not reuse a database connection the parent may hold (close=False leaves those to
        # the parent).
        app.extensions["db_engine"].dispose(close=False)

    class Server(BaseApplication):
        def load_config(self):
            options = {"bind": f"{args.host}:{args.port}", "workers": args.workers, "threads": args.threads,
                       "worker_class": "sync" if args.threads == 1 else "gthread", "preload_app": True,
                       "post_fork": fresh_connections, "child_exit": worker_gone,
                       "worker_exit": worker_done,
                       "control_socket_disable": True,  # no gunicornc socket in $HOME (one per host)
                       "logconfig_dict": gunicorn_logconfig(app.config["LOG_FORMAT"])}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def _multiprocess_metrics_folder() -> str:
    """Each gunicorn worker keeps its metrics in files here and /metrics adds them up. Set before the client
    library is first imported (it chooses how to keep values then); emptied at start, as its documentation
    asks, so a restart does not add the last run's counts."""
    import shutil

    from .config import INSTANCE

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(INSTANCE / "metrics")
    if "prometheus_client" in sys.modules and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        sys.exit("gpo: metrics were set up before serve-production chose its multiprocess folder")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def _demo(app) -> None:
    from . import db
    from .demo import load as demo

    with app.app_context():
        session = db.session()
        if demo.is_loaded(session):
            print("Existing data kept (demo data is loaded only into an empty database).")
            return
        print("Loading the demo district (one center, three teams, ~600 households, a year of follow-ups; "
              "about a minute)...")
        counts = demo.load(session)
        print(f"Demo loaded: {counts['households']} households, {counts['residents']} residents, "
              f"{counts.get('followups', 0)} follow-up visits, {counts.get('lab_messages', 0)} lab messages. "
              f"Accounts are listed in README.md.")


def cmd_migrate(args) -> None:
    app = _app()
    migrate(app.config["SQLALCHEMY_DATABASE_URI"], args.revision)


def cmd_demo(_args) -> None:
    app = _app()
    migrate(app.config["SQLALCHEMY_DATABASE_URI"])
    _demo(app)


def cmd_import(args) -> None:
    from sqlalchemy import select
    from tqdm import tqdm

    from . import db
    from .auth.models import User
    from .imports import services
    from .org.models import Center
    from .scope import Actor

    app = _app()
    with app.app_context():
        session = db.session()
        center = session.scalar(select(Center).where(Center.code == args.center))
        user = session.scalar(select(User).where(User.username == args.user))
        if center is None or user is None:
            sys.exit(f"unknown center {args.center!r} or user {args.user!r}")
        data = Path(args.file).read_bytes()
        bar = tqdm(total=0, unit="rows", desc="importing", disable=args.dry_run)

        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        report = services.run(session, Actor.of(user), center.id, data, args.file, dry_run=args.dry_run,
                              progress=progress)
        bar.close()
        for p in report.problems:
            print(f"row {p.row}: {p.field}: {p.message} {p.value!r}")
        if report.problems:
            session.rollback()
            sys.exit(f"{len(report.problems)} problem(s); nothing imported")
        session.commit()
        verb = "would import" if args.dry_run else "imported"
        print(f"{verb} {report.residents} residents in {report.households} households "
              f"({report.conditions} registry entries), encoding {report.encoding}")


def district_sources(args: list[str]) -> list:
    """`CENTER=FILE`, a FILE named after its center (PD-01.csv), or a folder of such files."""
    from .imports.district import Source

    sources = []
    for arg in args:
        center, _, name = arg.rpartition("=") if "=" in arg else ("", "", arg)
        path = Path(name)
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".xlsx", ".xlsm")) \
            if path.is_dir() else [path]
        for file in files:
            sources.append(Source(center or file.stem, file.name, file.read_bytes()))
    return sources


def cmd_import_district(args) -> None:
    """A district's files, each team in its own transaction over --connections; rerun to finish."""
    from sqlalchemy import select

    from .auth.models import User
    from .imports.district import run_district
    from .scope import Actor

    app = _app()
    maker = app.extensions["db_sessionmaker"]
    with maker() as session:
        user = session.scalar(select(User).where(User.username == args.user))
        if user is None:
            sys.exit(f"unknown user {args.user!r}")
        actor = Actor.of(user)
    try:
        sources = district_sources(args.sources)
    except OSError as err:
        sys.exit(f"gpo: {err}")

    def progress(team) -> None:
        print(f"  {team.center_code} {team.team_name}: {team.state} {team.residents} residents in "
              f"{team.households} households ({team.seconds:.1f} s)", flush=True)

    report = run_district(maker, actor, sources, batch=args.batch, connections=args.connections,
                          dry_run=args.dry_run, progress=progress)
    for f in report.files:
        for p in f.problems:
            print(f"{f.filename}: row {p.row}: {p.field}: {p.message} {p.value!r}")
        if f.problems:
            print(f"{f.filename} ({f.center_code}): {len(f.problems)} problem(s); nothing of it imported")
    states: dict[str, int] = {}
    for t in report.teams:
        states[t.state] = states.get(t.state, 0) + 1
        if t.state in ("refused", "failed"):
            print(f"{t.center_code} {t.team_name}: {t.state}, {len(t.problems)} problem(s):")
            for p in t.problems:
                print(f"  row {p.row}: {p.field}: {p.message} {p.value!r}")
    residents = sum(t.residents for t in report.teams if t.state in ("imported", "checked"))
    print(f"batch {report.batch!r}, {report.connections} connection(s): "
          + ", ".join(f"{n} team(s) {s}" for s, n in sorted(states.items()))
          + (f"; {residents} residents would be imported" if args.dry_run else
             f"; {residents} residents imported in {report.write_seconds:.1f} s"))
    if not report.complete:
        sys.exit("gpo: not everything was imported; fix the problems above and run the same command again "
                 "(teams already imported are left out)")


def cmd_create_admin(args) -> None:
    from . import db
    from .auth.users import create_user

    app = _app()
    password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("password: ")
    with app.app_context():
        create_user(db.session(), {"username": args.username, "password": password, "full_name": args.username,
                                   "role": "admin"})
        db.session().commit()


def cmd_mllp(args) -> None:
    """Listen for HL7 v2 over MLLP for one lab feed; each message is stored and committed before its ACK."""
    import signal

    from sqlalchemy import select

    # The listener's counts are its own (one process), served on its own port below: never mixed into the
    # web servers' multiprocess folder, which they empty when they start.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from .labs import feeds, intake
    from .labs.messages.mllp import MLLPListener
    from .labs.models import LabFeed

    app = _app()
    maker = app.extensions["db_sessionmaker"]
    with maker() as session:
        feed = session.scalar(select(LabFeed).where(
            LabFeed.id == int(args.feed) if args.feed.isdigit() else LabFeed.name == args.feed))
        if feed is None or feed.revoked_at is not None:
            sys.exit(f"no active lab feed {args.feed!r} (add one with POST /api/v1/labs/feeds)")
        feed_id, name = feed.id, feed.name
    handler = intake.feed_handler(maker, feed_id, feeds.facility_encodings(app.config))
    listener = MLLPListener(handler, args.host, args.port)
    # SIGTERM (service managers) stops like Ctrl-C. A message cut off mid-store was never acknowledged, so the
    # sender resends it; a resend of one already stored gets its first ACK again.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.metrics_port is not None:
        # HL7 messages by ACK code for Prometheus, on loopback only (as the web servers' /metrics answers
        # loopback): the scraper runs on this machine or reaches it through a tunnel, never the hospital.
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr="127.0.0.1")
        print(f"metrics on http://127.0.0.1:{args.metrics_port}/metrics", flush=True)
    print(f"MLLP listener for feed {name!r} on {listener.address[0]}:{listener.address[1]}", flush=True)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.server_close()


def cmd_new_epoch(_args) -> None:
    from . import db
    from .sync.services import new_epoch

    app = _app()
    with app.app_context():
        with db.engine().begin() as conn:
            value = new_epoch(conn)
    print(f"new sync epoch {value}: tablets will re-send what they sent before and download afresh")


def cmd_backup(args) -> None:
    from .backup import BackupError, backup

    app = _app()
    try:
        size = backup(app.config["SQLALCHEMY_DATABASE_URI"], Path(args.file))
    except BackupError as err:
        sys.exit(f"gpo: backup failed: {err}")
    print(f"backed up to {args.file} ({size:,} bytes)")


def cmd_restore(args) -> None:
    from .backup import BackupError, restore

    if not args.yes:
        sys.exit("gpo: restore replaces the whole database with the backup; stop the service, then run it "
                 "again with --yes")
    app = _app()
    app.extensions["db_engine"].dispose()
    try:
        epoch = restore(app.config["SQLALCHEMY_DATABASE_URI"], Path(args.file))
    except BackupError as err:
        sys.exit(f"gpo: restore failed: {err}")
    print(f"restored {args.file}; new sync epoch {epoch}: tablets will re-send what the backup lacks and "
          f"download afresh. Start the service.")


def cmd_prune_sync_log(args) -> None:
    import datetime as dt

    from . import db
    from .sync.services import prune_changes

    app = _app()
    with app.app_context():
        with db.engine().begin() as conn:
            n = prune_changes(conn, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=args.days))
    print(f"pruned {n} sync changes older than {args.days} days; tablets not synced since download afresh")


def cmd_purge_expired(args) -> None:
    """Forget what no longer matters (daily, from cron): revoked tokens past their expiry (refused anyway),
    sign-in counts quiet, and delaying no one, for the longest of a day, the failure window and the longest
    delay, and the per-minute counts of refused requests older than --denied-days (the audit rows of those
    refusals stay)."""
    import datetime as dt

    from . import db
    from .audit.services import prune_denied
    from .auth.services import purge_expired

    if args.denied_days < 1:
        sys.exit("gpo: --denied-days must be 1 or more")
    app = _app()
    with app.app_context():
        session = db.session()
        quiet = max(dt.timedelta(days=1), app.config["LOGIN_FAILURE_WINDOW"], app.config["LOGIN_MAX_DELAY"])
        expired = purge_expired(session, quiet)
        denied = prune_denied(session, db.utcnow() - dt.timedelta(days=args.denied_days))
        session.commit()
    print(f"purged {expired} expired token revocations and sign-in counts, and {denied} counts of refused "
          f"requests older than {args.denied_days} days")


def cmd_escalate_referrals(_args) -> None:
    from . import clock, db
    from .referrals.escalation import escalate_overdue

    app = _app()
    with app.app_context():
        session = db.session()
        done = escalate_overdue(session, clock.today())
        session.commit()
    print(f"escalated {len(done)} overdue referrals "
          f"({sum(e.kind == 'pool' for e in done)} to their department pool; all flagged to their center)")
def cmd_notify_worker(args) -> None:
    """Send queued SMS with retries and backoff until stopped (--once: what is due now, then exit)."""
    import signal

    from .notifications import gateways, worker

    app = _app()
    gateway = gateways.from_config(app.config)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        done = worker.serve(app.extensions["db_sessionmaker"], gateway, batch=args.batch, poll=args.poll,
                            once=args.once, stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        return
    print(f"sms: {done.sent} sent, {done.retry} to retry, {done.failed} failed, {done.deferred} not tried "
          f"({type(gateway).__name__})")


def cmd_notify_followups(args) -> None:
    """Queue an SMS to each consenting resident whose follow-up is due next week (run it daily)."""
    import datetime as dt

    from . import db
    from .clock import today
    from .notifications.triggers import followups_due

    app = _app()
    with app.app_context():
        day = dt.date.fromisoformat(args.date) if args.date else today()
        session = db.session()
        queued = followups_due(session, day)
        session.commit()
    print(f"queued {queued} follow-up reminders for {day.isoformat()}")


# `gpo` is the operator's command once the wheel is installed: there `serve` means the production server,
# and the werkzeug demo server (what `make run` starts) is `serve-demo`.
GPO_NAMES = {"serve": "serve-production", "serve-demo": "serve"}


def gpo(argv=None) -> None:
    """The `gpo` console script: the same commands, named for an operator."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in GPO_NAMES:
        argv[0] = GPO_NAMES[argv[0]]
    _as_process(argv, prog="gpo")


def _as_process(argv, prog: str) -> None:
    """main() as the whole process. When it ends (or exits), everything left is frozen (gc.freeze) so the
    interpreter's exit does not walk the app's ~430,000 objects in several garbage collections: 0.8-0.9 s of
    CPU at the end of every command, gunicorn master and worker here, for nothing. Not in main(), which
    tests call inside their own process."""
    try:
        main(argv, prog)
    finally:
        gc.freeze()


def main(argv=None, prog: str = "python -m server.manage") -> None:
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve", help="migrate, load the demo once, serve")
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5000)))
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("serve-production", help="serve with gunicorn (no migration, no demo data)")
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    p.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1)),
                   help="processes (default: WEB_CONCURRENCY, else one per core)")
    # 6, measured on the district's busiest morning (bench/README.md): with 2 a worker's threads all wait on
    # the database while requests queue in front of it; 6 did not cost more CPU a request.
    p.add_argument("--threads", type=int, default=6,
                   help="requests at once per process (gthread workers; 1: sync workers)")
    p.set_defaults(func=cmd_serve_production)
    p = sub.add_parser("migrate")
    p.add_argument("--revision", default="heads")
    p.set_defaults(func=cmd_migrate)
    sub.add_parser("demo").set_defaults(func=cmd_demo)
    p = sub.add_parser("import", help="import residents from CSV/XLSX")
    p.add_argument("file")
    p.add_argument("--center", required=True, help="center code")
    p.add_argument("--user", required=True, help="who imports (center staff or admin)")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("import-district", help="import a district's files, each team in its own transaction")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="CENTER=FILE, a FILE named after its center code (PD-01.csv), or a folder of those")
    p.add_argument("--user", required=True, help="who imports (admin, or center staff for their center)")
    p.add_argument("--batch", default="district-import",
                   help="a rerun under the same name leaves out the teams already imported (default: %(default)s)")
    p.add_argument("--connections", type=int, default=2, help="teams written at once (PostgreSQL)")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_import_district)
    p = sub.add_parser("mllp", help="receive HL7 v2 lab results over MLLP for one feed")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2575)
    p.add_argument("--feed", required=True, help="lab feed id or name")
    p.add_argument("--metrics-port", type=int,
                   default=int(os.environ["MLLP_METRICS_PORT"]) if os.environ.get("MLLP_METRICS_PORT") else None,
                   help="serve Prometheus metrics (HL7 messages by ACK code) on 127.0.0.1:PORT/metrics "
                        "(default: MLLP_METRICS_PORT, else none)")
    p.set_defaults(func=cmd_mllp)
    sub.add_parser("escalate-referrals", help="escalate referrals unanswered past their deadline (run from cron)"
                   ).set_defaults(func=cmd_escalate_referrals)
    sub.add_parser("new-epoch", help="after a restore: tablets re-upload and re-download").set_defaults(
        func=cmd_new_epoch)
    p = sub.add_parser("backup", help="copy the database to a file (pg_dump; SQLite's backup)")
    p.add_argument("file")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="put a backup back and start a new sync epoch (service stopped)")
    p.add_argument("file")
    p.add_argument("--yes", action="store_true", help="yes, replace the whole database")
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser("prune-sync-log", help="drop sync changes older than N days (tablets older resync)")
    p.add_argument("--days", type=int, default=180)
    p.set_defaults(func=cmd_prune_sync_log)
    p = sub.add_parser("purge-expired", help="forget expired revocations, quiet sign-in counts and old "
                                             "counts of refused requests (daily)")
    p.add_argument("--denied-days", type=int, default=180, help="keep refused-request counts this many days")
    p.set_defaults(func=cmd_purge_expired)
    p = sub.add_parser("notify-worker", help="send queued SMS (retries with backoff)")
    p.add_argument("--once", action="store_true", help="send what is due now, then exit")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--poll", type=float, default=5.0, help="seconds between looks at an empty queue")
    p.set_defaults(func=cmd_notify_worker)
    p = sub.add_parser("notify-followups", help="queue SMS for follow-ups due next week (daily)")
    p.add_argument("--date", help="today, as YYYY-MM-DD (default: today in China)")
    p.set_defaults(func=cmd_notify_followups)
    p = sub.add_parser("create-admin")
    p.add_argument("username")
    p.set_defaults(func=cmd_create_admin)
    args = parser.parse_args(argv)
    from .config import ConfigError

    try:
        args.func(args)
    except ConfigError as err:  # one line for the operator, not a traceback
        sys.exit(f"gpo: configuration refused: {err}")


if __name__ == "__main__":
    _as_process(sys.argv[1:], prog="python -m server.manage")
