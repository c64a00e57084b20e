"""Headless sync from a shell (support staff, tests, benchmarks); the same engine the app runs.

    python -m fieldapp.sync_cli login  --server URL --db FILE --user NAME [--password PW]
    python -m fieldapp.sync_cli sync   --server URL --db FILE
    python -m fieldapp.sync_cli status --db FILE
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time

from fieldapp.store import Store
from fieldapp.sync import HttpTransport, SyncEngine, SyncFailed
from fieldapp.sync.transport import HttpError


def _progress(p) -> None:
    print(f"\r{p.phase}: {p.done}/{p.total} {p.message}".ljust(60), end="", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Run one command; returns the exit status (0 synced, 1 failed, 2 synced but items need attention)."""
    parser = argparse.ArgumentParser(prog="python -m fieldapp.sync_cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("login", "sync", "status"):
        p = sub.add_parser(name)
        p.add_argument("--db", required=True, help="the tablet store file")
        p.add_argument("--server", help="server base URL (remembered at login)")
        if name == "login":
            p.add_argument("--user", required=True)
            p.add_argument("--password", default=os.environ.get("GPO_PASSWORD"))
        if name == "sync":
            p.add_argument("--page-limit", type=int, default=5000)
            p.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    store = Store(args.db)
    try:
        if args.cmd == "status":
            print(json.dumps({**store.status(), "needs_attention_items": store.needs_attention()},
                             ensure_ascii=False, indent=2))
            return 0
        server = args.server or store.state("server_url")
        if not server:
            parser.error("--server is needed (or log in first)")
        transport = HttpTransport(server, store)
        if args.cmd == "login":
            password = args.password or getpass.getpass("password: ")
            try:
                transport.login(args.user, password)
            except HttpError as err:
                print(f"sign-in refused: {err}", file=sys.stderr)
                return 1
            print(f"signed in as {args.user}; device {store.device_id}")
            return 0
        engine = SyncEngine(store, transport, page_limit=args.page_limit,
                            progress=None if args.quiet else _progress)
        t0 = time.perf_counter()
        try:
            result = engine.sync()
        except SyncFailed as err:
            print(f"\nsync failed: {err}", file=sys.stderr)
            return 1
        print(json.dumps({"synced": result.synced, "pushed": result.pushed, "pulled": result.pulled,
                          "pages": result.pages, "outbox": result.outbox, "needs_attention": result.needs_attention,
                          "epoch_changed": result.epoch_changed, "seconds": round(time.perf_counter() - t0, 3),
                          "bytes_received": transport.bytes_received, "bytes_sent": transport.bytes_sent}))
        return 0 if result.synced and not result.needs_attention else (2 if result.synced else 1)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
