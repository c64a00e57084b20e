"""GPO_PROFILE_DIR (server/profiling.py): a line per request with its route template and its thread CPU, and
with calls on, a pstats file per route when the worker exits."""
from __future__ import annotations

import pstats


def test_each_request_is_written_with_its_route_and_cpu(db_url, tmp_path):
    from server import create_app, profiling

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "TESTING": True, "DEVELOPMENT": True})
    profiling.wrap(app, str(tmp_path), calls=True)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    profiling.dump()
    [log] = tmp_path.glob("requests-*.tsv")
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    assert [(m, route, status) for _t, m, route, status, _cpu, _wall in lines] == [
        ("GET", "/healthz", "200"), ("GET", "unmatched", "404")]
    assert all(float(cpu) > 0 and float(wall) >= 0 for *_x, cpu, wall in lines)
    [calls] = tmp_path.glob("calls-*-GET_healthz.pstats")
    assert any(fn == "wsgi_app" for (_f, _l, fn) in pstats.Stats(str(calls)).stats)
