"""What the tablet protocol (issue 18: server/devices/hooks.py on the sync blueprint) adds to a sync request:
the same incremental pull with and without X-Device-Id / X-Pending-Changes, in turns, through Flask's test
client on a real database. With the headers the request also checks the token once more, reads the device,
records the contact (one commit) and, once served, the sync time (a second commit); the pull is the most
frequent and cheapest sync request, so the share shown here is the largest the hook takes.

    .venv/bin/python bench/bench_devices.py                 # PostgreSQL at 127.0.0.1:5432, database gpo_devices_bench
    .venv/bin/python bench/bench_devices.py --sqlite        # a SQLite file in a temporary folder
    .venv/bin/python bench/bench_devices.py --smoke         # SQLite, a few requests: checks it runs
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _smoke import parse  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400, help="pulls of each kind")
    ap.add_argument("--sqlite", action="store_true", help="a SQLite file instead of the local PostgreSQL")
    ap.add_argument("--db", default="gpo_devices_bench", help="the PostgreSQL database (dropped and recreated)")
    args = parse(ap, argv, requests=10, sqlite=True)
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="gpo-devices-") as folder:
            run(args, f"sqlite:///{folder}/bench.db", "SQLite")
    else:
        from _district import recreate_database, server_facts
        url = recreate_database(args.db)
        run(args, url, "PostgreSQL " + server_facts(url)["version"])


def run(args, url: str, backend: str) -> None:
    from flask_jwt_extended import create_access_token

    from server import create_app
    from server.manage import migrate

    migrate(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True, "PASSWORD_HASH_PROFILE": "fast"})
    with app.app_context():
        from _district import create_organisation
        session = app.extensions["db_sessionmaker"]()
        district = create_organisation(session, teams=1)
        session.commit()
        gp = district.teams[0].gp
        token = create_access_token(identity=str(gp.user_id))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    device = str(uuid.uuid4())
    r = client.post("/api/v1/devices/enrol", headers=auth, json={"device_id": device, "model": "bench",
                                                                  "app_version": "1", "store_version": 1})
    assert r.status_code == 201, r.get_json()
    cursor = client.get("/api/v1/sync/pull", headers=auth).get_json()["cursor"]
    tablet = {**auth, "X-Device-Id": device, "X-Pending-Changes": "0"}
    kinds = {"without headers": auth, "with X-Device-Id": tablet}
    times = {k: [] for k in kinds}
    for i in range(args.requests + 20):  # the first 20 of each warm up
        order = list(kinds) if i % 2 else list(reversed(kinds))
        for kind in order:
            t = time.perf_counter()
            r = client.get("/api/v1/sync/pull", headers=kinds[kind], query_string={"cursor": cursor})
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, r.get_json()
            if i >= 20:
                times[kind].append(elapsed)
    with app.app_context():
        from server.devices.models import Device
        session = app.extensions["db_sessionmaker"]()
        row = session.get(Device, device)
        assert row.last_sync_at is not None and row.pending_changes == 0
        session.close()
    app.extensions["db_engine"].dispose()
    print(f"incremental pull with nothing new, {args.requests} of each kind in turns, {backend}, "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for kind, values in times.items():
        print(f"  {kind:18} median {statistics.median(values) * 1000:6.2f} ms   p95 "
              f"{percentile(values, 0.95) * 1000:6.2f} ms")
    extra = statistics.median(times["with X-Device-Id"]) - statistics.median(times["without headers"])
    print(f"  the device protocol adds {extra * 1000:.2f} ms at the median")


if __name__ == "__main__":
    main()
