"""A tablet process for the kill tests (test_kill.py kills it with SIGKILL at a chosen moment).

    python kill_driver.py draft --db FILE --resident ID    prints "kept" once a half-typed form is kept
    python kill_driver.py sign --db FILE --resident ID     prints "signed <id>" once sign() returned
    python kill_driver.py sync --db FILE --server URL      prints "answered" once the server has answered
                                                          the push, before the tablet records the answer
Both then wait to be killed.
"""
from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("sign", "sync", "draft"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--resident")
    parser.add_argument("--server")
    args = parser.parse_args()
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine
    from fieldapp.visit import VisitDraft
    from gpcore.clock import china_today

    store = Store(args.db)
    if args.what == "draft":
        draft = VisitDraft(store, args.resident, "hypertension", china_today())
        draft.set("sbp", 151)
        draft.keep()  # what the form screen does shortly after each change
        print("kept", flush=True)
    elif args.what == "sign":
        draft = VisitDraft(store, args.resident, "hypertension", china_today(), doctor="王医生")
        draft.apply_previous()
        for name, value in (("symptoms", [1]), ("sbp", 138), ("dbp", 84), ("heart_rate", 70), ("weight_kg", 68.0)):
            draft.set(name, value)
        visit_id = draft.sign()
        print("signed", visit_id, flush=True)
    else:
        class AnsweredThenStuck(HttpTransport):
            def call(self, method, path, **kw):
                answer = super().call(method, path, **kw)
                if path.endswith("/sync/push"):
                    print("answered", flush=True)
                    time.sleep(120)  # killed here: the server has the batch, the tablet has not noted it
                return answer
        SyncEngine(store, AnsweredThenStuck(args.server, store), sleep=lambda s: None).sync()
        print("synced", flush=True)
    time.sleep(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
