"""Issue 15 item 5: structured logs with the request id and no personal data; list views, exports and
denied attempts audited."""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid

import pytest
from sqlalchemy import func, select

from server.audit.models import AuditEvent, DeniedAttempt
from server.logs import JsonFormatter, TextFormatter, redact, redacted_query

ID = "11010519491231002X"


@pytest.mark.parametrize("text, expected", [
    (f"GET /api/v1/residents?q={ID}", "GET /api/v1/residents?q=…"),
    ("15-digit 110105491231002 kept out", "15-digit … kept out"),
    ("call 13812345678 or +86 13912345678", "call … or …"),
    ("clinic 021-64041990", "clinic …"),
    ('DETAIL:  Key (id_number)=(110105194912310021) already exists.', "DETAIL:  Key (id_number)=(…) already exists."),
    ('Key (name, birth_date)=(张三, 1949-12-31) conflicts', "Key (name, birth_date)=(…) conflicts"),
    ("[SQL: INSERT INTO residents (name, phone) VALUES (?, ?)]\n[parameters: ('张三', '13812345678')]\n"
     "(Background on this error at: https://sqlalche.me/e/20/gkpj)",
     "[SQL: INSERT INTO residents (name, phone) VALUES (?, ?)]\n[parameters: …]\n"
     "(Background on this error at: https://sqlalche.me/e/20/gkpj)"),
    # Kept: a record number (17 digits, the service's own), ids, dates, times, sizes.
    ("record 31011500100100017 on 2026-12-06 08:00:01, 5242880 bytes, uuid 6f1c2b1e-0d7a-4b8e-9c41-3e2f5a6b7c8d",
     "record 31011500100100017 on 2026-12-06 08:00:01, 5242880 bytes, uuid 6f1c2b1e-0d7a-4b8e-9c41-3e2f5a6b7c8d"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_query_values_that_could_name_a_person_are_not_kept():
    assert redacted_query(f"q=zs&page=2&page_size=50&status=managed&team_id=7&phone=1381234&name=%E5%BC%A0"
                          f"&since=2026-12-01&id_number={ID}&cursor=12345678") == {
        "q": "…", "page": "2", "page_size": "50", "status": "managed", "team_id": "7", "phone": "…", "name": "…",
        "since": "2026-12-01", "id_number": "…", "cursor": "…"}


def _lines(caplog, formatter=None):
    formatter = formatter or JsonFormatter()
    return [formatter.format(r) for r in caplog.records]


def test_a_request_logs_one_json_line_with_its_request_id_and_no_id_number(as_user, world, caplog):
    caplog.set_level(logging.INFO, logger="server.access")
    r = as_user("admin").get("/api/v1/residents", query_string={"q": ID},
                             headers={"X-Request-ID": "req-0123456789"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-0123456789"
    access = [json.loads(line) for line in _lines(caplog) if '"server.access"' in line]
    assert len(access) == 1, access
    line = access[0]
    assert line["request_id"] == "req-0123456789" and line["status"] == 200 and line["method"] == "GET"
    assert line["path"] == "/api/v1/residents" and line["query"] == {"q": "…"} and line["user_id"]
    assert ID not in json.dumps(line, ensure_ascii=False)
    text = TextFormatter().format(caplog.records[-1])
    assert "[req-0123456789]" in text and ID not in text and "\x1b[" not in text


def test_an_exception_is_logged_redacted(caplog):
    caplog.set_level(logging.ERROR)
    try:
        raise ValueError(f"duplicate Key (id_number)=({ID}) phone 13812345678")
    except ValueError:
        logging.getLogger("server").exception("could not store %s", ID)
    (line,) = [json.loads(x) for x in _lines(caplog)]
    assert ID not in json.dumps(line) and "13812345678" not in line["exception"]
    assert line["message"] == "could not store …" and "Key (id_number)=(…)" in line["exception"]


@pytest.fixture
def before(session):
    """The audit rows the world's building wrote are not this test's."""
    return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def _events(session, before, **where):
    stmt = select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return session.scalars(stmt).all()


def test_a_list_view_is_audited_once(as_user, world, session, before):
    r = as_user("staff-a").get("/api/v1/households?page=1&address=%E6%BD%8D")
    assert r.status_code == 200
    (event,) = _events(session, before, username="staff-a")
    assert (event.action, event.entity, event.role) == ("view", "households", "center_staff")
    assert event.detail["endpoint"] == "households.list_households" or event.detail["endpoint"].startswith(
        "households.")
    assert event.detail["query"] == {"page": "1", "address": "…"} and event.request_id


def test_a_view_that_audits_itself_gets_no_second_row(as_user, world, session, before):
    assert as_user("gp-a1").get("/api/v1/residents?q=zs").status_code == 200
    assert [e.action for e in _events(session, before, username="gp-a1")] == ["search"]


def test_an_export_is_audited(as_user, world, session, before):
    r = as_user("admin").get("/api/v1/followups/indicators/export?year=2026&format=csv")
    assert r.status_code == 200, r.get_json()
    assert [e.action for e in _events(session, before, username="admin")] == ["export"]


def test_a_role_refused_is_audited_with_the_user(as_user, world, session, before):
    r = as_user("gp-a1").get("/api/v1/audit/")
    assert r.status_code == 403
    (event,) = _events(session, before, action="denied")
    assert (event.username, event.role, event.user_id) == ("gp-a1", "gp", world.users["gp-a1"])
    assert event.detail == {"method": "GET", "path": "/api/v1/audit/", "status": 403,
                            "endpoint": event.detail["endpoint"]}


def test_no_token_and_a_wrong_password_are_audited(client, world, session, before):
    assert client.get("/api/v1/households").status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "gp-a1", "password": "wrong-wrong-wrong"})
    assert r.status_code == 401
    events = _events(session, before, action="denied")
    assert [(e.username, e.role, e.user_id, e.detail["status"]) for e in events] == [
        ("-", "anonymous", None, 401), ("-", "anonymous", None, 401)]
    assert events[1].detail["username_tried"] == "gp-a1" and "password" not in json.dumps(events[1].detail)


def test_the_caller_is_each_requests_own_where_one_app_context_serves_several(clean_app, as_user, client, world,
                                                                             session, before, caplog):
    """The caller remembered at the token check is cleared at the next request's start: a test (or a command)
    that keeps an app context open across requests must not see the previous caller on an anonymous one."""
    caplog.set_level(logging.INFO, logger="server.access")
    with clean_app.app_context():
        assert as_user("gp-a1").get("/api/v1/audit/").status_code == 403
        assert client.get("/api/v1/households").status_code == 401
    events = _events(session, before, action="denied")
    assert [(e.username, e.user_id) for e in events] == [("gp-a1", world.users["gp-a1"]), ("-", None)]
    access = [json.loads(line) for line in _lines(caplog) if '"server.access"' in line]
    assert [(a["status"], a["user_id"]) for a in access] == [(403, world.users["gp-a1"]), (401, None)]


def test_a_view_that_audited_itself_does_not_silence_the_next_request(clean_app, as_user, world, session,
                                                                      before):
    with clean_app.app_context():  # one app context, two requests
        assert as_user("gp-a1").get("/api/v1/residents?q=zs").status_code == 200  # audits itself: "search"
        assert as_user("gp-a1").get("/api/v1/households").status_code == 200  # left to the hook: "view"
    assert [e.action for e in _events(session, before, username="gp-a1")] == ["search", "view"]


def test_health_and_the_callers_own_account_are_not_audited(as_user, client, world, session, before):
    assert client.get("/healthz").status_code == 200
    assert as_user("gp-a1").get("/api/v1/auth/me").status_code == 200
    assert _events(session, before) == []


@pytest.fixture
def one_minute(monkeypatch):
    """Every refusal of the test in one minute (the count starts afresh each minute)."""
    from server.audit import requests as audit_requests

    at = dt.datetime(2026, 12, 6, 9, 30, 15, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(audit_requests, "utcnow", lambda: at)
    return at


def _denials(session, **where):
    session.expire_all()
    stmt = select(DeniedAttempt).order_by(DeniedAttempt.address, DeniedAttempt.endpoint, DeniedAttempt.status)
    for key, value in where.items():
        stmt = stmt.where(getattr(DeniedAttempt, key) == value)
    return [(d.address, d.username, d.endpoint, d.status, d.count) for d in session.scalars(stmt)]


def test_repeated_refusals_are_counted_not_each_written(client, as_user, world, session, before, one_minute):
    """An anonymous caller refused 60 times in a minute writes one audit row, and the 60 are counted."""
    paths = [f"/api/v1/households/{uuid.uuid4()}" for _ in range(60)]
    for path in paths:  # any id in the path: the endpoint is what counts, not the path
        assert client.get(path, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 401
    for _ in range(3):
        client.post("/api/v1/auth/login", json={"username": "gp-a1", "password": "wrong-wrong-wrong"},
                    environ_base={"REMOTE_ADDR": "203.0.113.9"})
    client.get(paths[0], environ_base={"REMOTE_ADDR": "198.51.100.4"})  # another address
    for _ in range(2):
        assert as_user("gp-a1").get("/api/v1/audit/").status_code == 403  # a signed-in caller refused
    rows = _events(session, before, action="denied")
    assert [(e.address, e.username, e.detail["status"], e.detail["path"]) for e in rows] == [
        ("203.0.113.9", "-", 401, paths[0]),
        ("203.0.113.9", "-", 401, "/api/v1/auth/login"),
        ("198.51.100.4", "-", 401, paths[0]),
        ("127.0.0.1", "gp-a1", 403, "/api/v1/audit/")]
    assert rows[1].detail["username_tried"] == "gp-a1"
    endpoint = rows[0].detail["endpoint"]
    assert _denials(session) == [
        ("127.0.0.1", "gp-a1", rows[3].detail["endpoint"], 403, 2),
        ("198.51.100.4", "-", endpoint, 401, 1),
        ("203.0.113.9", "-", "auth.login", 401, 3),
        ("203.0.113.9", "-", endpoint, 401, 60)]


def test_the_next_minute_writes_its_first_refusal_again(client, world, session, before, monkeypatch):
    from server.audit import requests as audit_requests

    for minute in (1, 1, 2, 2, 2):
        monkeypatch.setattr(audit_requests, "utcnow",
                            lambda m=minute: dt.datetime(2026, 12, 6, 9, m, 30, tzinfo=dt.timezone.utc))
        assert client.get("/api/v1/households").status_code == 401
    assert len(_events(session, before, action="denied")) == 2
    assert [d[-1] for d in _denials(session)] == [2, 3]


@pytest.mark.commits  # each request thread counts through its own connection
def test_parallel_refusals_write_one_row_and_count_every_one(clean_app, world, session, one_minute):
    """40 callers at once from one address, 5 refusals each: exactly one audit row, a count of 200."""
    before = session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))
    start = threading.Barrier(40)
    statuses, lock = [], threading.Lock()

    def caller():
        client = clean_app.test_client()
        start.wait()
        for _ in range(5):
            code = client.get("/api/v1/households", environ_base={"REMOTE_ADDR": "203.0.113.50"}).status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=caller) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [401] * 200
    assert len(_events(session, before, action="denied")) == 1
    assert [d[-1] for d in _denials(session, address="203.0.113.50")] == [200]
