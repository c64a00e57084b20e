"""The locked tablet (issue 18): unlock with a PIN, and the encrypted store's first sync against the plain one.

    .venv/bin/python bench/bench_lock.py              # one team's standard caseload on PostgreSQL, 3 pairs
    .venv/bin/python bench/bench_lock.py --reuse      # the database is already built (gpo_bench_lock)
    .venv/bin/python bench/bench_lock.py --smoke      # seconds; CI runs it (tests/bench)

unlock      Keyring.unlock_pin (argon2id over PIN + device secret, AES-GCM unwrap of K) and opening the
            SQLCipher store with K and reading from it, as the unlock screen does; --unlocks times, in this
            process, on a store holding a synced caseload. Target <= 1 s.
first sync  the real client engine over real HTTP (bench_sync's server child: the app under Werkzeug on
            127.0.0.1) into a fresh store file, plain and encrypted ALTERNATING in the same run (the machine's
            speed moves minute to minute), each in a child process; medians and their ratio. Target <= 1.3x.
Figures are printed, nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _smoke  # noqa: E402
import bench_sync as bs  # noqa: E402  (its district builder, token minting and server child)

DB = "gpo_bench_lock"


def first(server: str, token: str, db: str, key_hex: str | None) -> None:
    """Child: a fresh store (encrypted when key_hex is given) and one full first sync, timed."""
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine

    store = Store(db, key=bytes.fromhex(key_hex) if key_hex else None)
    transport = HttpTransport(server, store, token=token)
    t0 = time.perf_counter()
    result = SyncEngine(store, transport).sync()
    seconds = time.perf_counter() - t0
    cpu = time.process_time()
    counts = store.status()["counts"]
    store.close()
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    print(json.dumps({"seconds": round(seconds, 3), "cpu_s": round(cpu, 2), "rows": result.pulled,
                      "synced": result.synced, "counts": counts, "db_bytes": size,
                      "encrypted": bool(key_hex)}))


def time_unlocks(store_path: str, key: bytes, n: int) -> list[float]:
    """Set a PIN on an enrolled key file for this store, then time n unlocks (PIN -> K -> open -> read)."""
    from fieldapp.keys import KeyFile, b64, keyfile_path
    from fieldapp.lock import Keyring
    from fieldapp.store import Store

    kf = KeyFile(path=keyfile_path(store_path))
    kf.device_secret = b64(os.urandom(32))
    kf.set_escrow(os.urandom(32), key)
    ring = Keyring(kf)
    ring.set_pin("5", "358172", key, name="周欣红")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        k = Keyring(KeyFile.load(kf.path)).unlock_pin("5", "358172")
        store = Store(store_path, key=k)
        store.outbox_count()
        store.count("residents")
        times.append(time.perf_counter() - t0)
        store.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3, help="first syncs to time: this many plain + encrypted pairs")
    ap.add_argument("--unlocks", type=int, default=10)
    ap.add_argument("--db", default=DB)
    ap.add_argument("--reuse", action="store_true", help="the district database is already built")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    a = _smoke.parse(ap, pairs=1, unlocks=2, db="gpo_bench_lock_smoke")
    if a.child:
        kw = json.loads(a.args)
        {"serve": bs.serve, "first": first}[a.child](**kw)
        return
    import _district as d
    url = d.database_url(a.db) if a.reuse else d.recreate_database(a.db)
    load = os.getloadavg()
    print(f"cores {os.cpu_count()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"PostgreSQL {d.server_facts(url)}")
    if a.smoke:
        d.use_smoke_caseload()
    if not a.reuse:
        bs.build(url, 1, 1)
    work = Path(tempfile.mkdtemp(prefix="gpo-bench-lock-"))
    token, _ = bs.tokens_and_spec(url, 0, work / "spec.json")
    port = bs._free_port()
    server = f"http://127.0.0.1:{port}"

    def child(kind, **kw):
        return [sys.executable, __file__, "--child", kind, "--args", json.dumps(kw)]

    srv = subprocess.Popen(child("serve", url=url, port=port), cwd=ROOT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        runs: dict[str, list[dict]] = {"plain": [], "encrypted": []}
        key = os.urandom(32)
        for n in range(max(1, a.pairs)):
            order = ("plain", "encrypted") if n % 2 == 0 else ("encrypted", "plain")
            for kind in order:
                db = work / f"{kind}{n}.sqlite"
                out = subprocess.run(child("first", server=server, token=token, db=str(db),
                                           key_hex=key.hex() if kind == "encrypted" else None),
                                     cwd=ROOT, check=True, capture_output=True, text=True)
                runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  pair {n + 1}: plain {runs['plain'][-1]['seconds']:.2f} s, "
                  f"encrypted {runs['encrypted'][-1]['seconds']:.2f} s", flush=True)
        plain = statistics.median(r["seconds"] for r in runs["plain"])
        enc = statistics.median(r["seconds"] for r in runs["encrypted"])
        assert runs["plain"][0]["counts"] == runs["encrypted"][0]["counts"], "both stores must hold the same rows"
        print("first sync of one team:", json.dumps({
            "rows": runs["plain"][0]["rows"], "counts": runs["plain"][0]["counts"],
            "plain_runs_s": [r["seconds"] for r in runs["plain"]],
            "encrypted_runs_s": [r["seconds"] for r in runs["encrypted"]],
            "plain_db_bytes": runs["plain"][0]["db_bytes"], "encrypted_db_bytes": runs["encrypted"][0]["db_bytes"]},
            ensure_ascii=False))
        print(f"first sync, median of {len(runs['plain'])} alternating pairs: plain {plain:.2f} s, encrypted "
              f"{enc:.2f} s, ratio {enc / plain:.2f} [target <= 1.3]")
        unlocks = time_unlocks(str(work / "encrypted0.sqlite"), key, a.unlocks)
        print(f"unlock with the PIN (argon2id + unwrap + open + read), {len(unlocks)} runs: median "
              f"{statistics.median(unlocks):.3f} s, max {max(unlocks):.3f} s [target <= 1 s]")
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        srv.terminate()
        srv.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
