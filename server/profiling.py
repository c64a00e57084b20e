"""Where a server's CPU goes, per route: off unless GPO_PROFILE_DIR is set (serve-production only).

With GPO_PROFILE_DIR=folder every request's thread CPU time (CLOCK_THREAD_CPUTIME_ID: this request's own
work, not the other threads of its worker) and wall time are appended to folder/requests-<pid>.tsv, one line a
request: end time (time.time()), method, route template, status, CPU ms, wall ms. A benchmark splits the lines by
time into its phases, so CPU per request kind comes out of a mixed load too. With GPO_PROFILE_CALLS=1 as well,
each request also runs under cProfile and the worker writes its calls per route to
folder/calls-<pid>-<route>.pstats when it exits (read them with `python -m pstats`); that costs about as much
CPU again as the request, so use it for where, not how much.
"""
from __future__ import annotations

import cProfile
import os
import pstats
import re
import threading
import time

from flask import request

_lock = threading.Lock()
_calls: dict[str, pstats.Stats] = {}   # "METHOD route" -> its requests' calls, added up
_state: dict = {}


def wrap(app, folder: str, calls: bool) -> None:
    """Measure every request of `app` (a Flask app) into `folder`."""
    os.makedirs(folder, exist_ok=True)
    inner = app.wsgi_app
    _state.update(folder=folder, calls=calls)

    def measured(environ, start_response):
        # Timed by the thread's CPU clock: on a loaded machine wall time is mostly waiting (the database, the
        # GIL, other processes), which says nothing about what this code costs.
        prof = cProfile.Profile(time.thread_time) if calls else None
        status = []

        def start(code, headers, *exc):
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, *exc)

        t0, c0 = time.perf_counter(), time.thread_time()
        if prof:
            prof.enable()
        try:
            return inner(environ, start)
        finally:
            if prof:
                prof.disable()
            cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
            route = environ.get("gpo.route", "unmatched")
            line = (f"{time.time():.3f}\t{environ.get('REQUEST_METHOD')}\t{route}\t{status[0] if status else '-'}"
                    f"\t{cpu * 1000:.2f}\t{wall * 1000:.2f}\n")
            with _lock:
                if "out" not in _state or _state["pid"] != os.getpid():  # opened in the worker, after the fork
                    _state.update(pid=os.getpid(), out=open(os.path.join(folder, f"requests-{os.getpid()}.tsv"),
                                                            "a", buffering=1))
                _state["out"].write(line)
                if prof:
                    key = f"{environ.get('REQUEST_METHOD')} {route}"
                    if key in _calls:
                        _calls[key].add(prof)
                    else:
                        _calls[key] = pstats.Stats(prof)

    @app.teardown_request
    def _note_route(_exc):
        # Flask lets go of the request object when its context ends, before this middleware finishes.
        rule = request.url_rule
        request.environ["gpo.route"] = rule.rule if rule is not None else "unmatched"

    app.wsgi_app = measured


def dump() -> None:
    """Write this worker's calls per route (gunicorn's worker_exit hook)."""
    folder = _state.get("folder")
    if not folder:
        return
    with _lock:
        for key, prof in _calls.items():
            name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")
            prof.dump_stats(os.path.join(folder, f"calls-{os.getpid()}-{name}.pstats"))
        if "out" in _state:
            _state["out"].flush()
