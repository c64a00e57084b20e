"""Notifications (issue 13 item 5): inbox and SMS outbox written with the change, the worker, the gateways."""
from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def phones(ref, session):
    """Mobile numbers on the specialists' accounts (the SMS go there)."""
    from server.auth.models import User

    for i, name in enumerate(("spec", "spec-pool", "spec-endo")):
        session.get(User, ref.w.users[name]).phone = f"1390000000{i}"
    session.commit()
    return ref


def _sms(session, **where):
    from server.notifications.models import SmsMessage

    session.expire_all()
    stmt = select(SmsMessage).order_by(SmsMessage.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(SmsMessage, k) == v)
    return session.scalars(stmt).all()


def _inbox(as_user, user, **params):
    r = as_user(user).get("/api/v1/inbox", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _no_identity_numbers(text, session, resident_id):
    from server.households.models import Resident

    res = session.get(Resident, resident_id)
    assert res.id_number not in text and res.record_number not in text and res.record_number[-8:] not in text
    assert not re.search(r"\d{15}", text), text


def test_an_urgent_case_texts_the_addressed_specialist_and_fills_their_inbox(phones, session, as_user):
    case, _ = phones.send(to="spec", urgency="urgent")
    sms = _sms(session, referral_id=case["id"])
    assert [(m.phone, m.status, m.topic, m.user_id) for m in sms] == [
        ("13900000000", "pending", "urgent_referral", phones.w.users["spec"])]
    assert "紧急转诊" in sms[0].text and "心内科" in sms[0].text and "6月16日" in sms[0].text  # 1 working day
    _no_identity_numbers(sms[0].text, session, case["resident_id"])
    assert "张三" not in sms[0].text  # no patient name in an SMS to a specialist
    box = _inbox(as_user, "spec")
    assert box["unread"] == 1 and box["items"][0]["referral_id"] == case["id"]
    assert box["items"][0]["topic"] == "referral_new" and "张三" in box["items"][0]["text"]
    assert _inbox(as_user, "gp-a1")["total"] == 0  # the sender is not told of their own case
    from server.audit.models import AuditEvent
    logged = session.scalars(select(AuditEvent).where(AuditEvent.entity == "inbox", AuditEvent.username == "spec")).all()
    assert logged and logged[0].detail == {"referrals": [case["id"]]}  # notices name patients: reads are logged
    assert _inbox(as_user, "spec-pool")["total"] == 0


def test_an_emergency_for_a_pool_texts_each_of_its_specialists(phones, session, as_user):
    case, _ = phones.send(to="pool", urgency="emergency")
    sms = _sms(session, referral_id=case["id"])
    assert sorted(m.user_id for m in sms) == sorted([phones.w.users["spec"], phones.w.users["spec-pool"]])
    assert all("急诊转诊" in m.text for m in sms)
    assert _inbox(as_user, "spec-pool")["unread"] == 1 and _inbox(as_user, "spec-endo")["total"] == 0


def test_a_routine_case_sends_no_sms_but_reaches_the_inbox(phones, session, as_user):
    case, _ = phones.send(to="spec", urgency="routine")
    assert _sms(session, referral_id=case["id"]) == []
    assert _inbox(as_user, "spec")["unread"] == 1


def test_every_state_change_reaches_the_other_side(phones, as_user):
    case, etag = phones.send(to="spec", urgency="routine")
    phones.ok(phones.act("spec", case["id"], "accept", etag))
    team = {u: _inbox(as_user, u) for u in ("gp-a1", "nurse-a1")}
    for box in team.values():
        assert box["unread"] == 1 and box["items"][0]["topic"] == "referral_accept"
        assert "已接诊" in box["items"][0]["text"]
    assert _inbox(as_user, "gp-a2")["total"] == 0  # another team hears nothing
    phones.ok(as_user("gp-a1").post(f"/api/v1/referrals/{case['id']}/messages", json={"text": "患者今晨头晕"}), 201)
    spec_box = _inbox(as_user, "spec")
    assert spec_box["items"][0]["topic"] == "referral_message" and "患者今晨头晕" in spec_box["items"][0]["text"]
    assert _inbox(as_user, "nurse-a1")["unread"] == 1  # a team member's own team's message: not the author's side


def test_inbox_read_marks_are_the_callers_own(phones, as_user):
    for _ in range(2):
        phones.send(to="spec", urgency="routine")
    box = _inbox(as_user, "spec")
    assert box["unread"] == 2
    first = box["items"][0]["id"]
    r = as_user("spec-pool").post(f"/api/v1/inbox/{first}/read")  # not theirs
    assert r.status_code == 404 and set(r.get_json()) <= {"code", "status", "message", "errors"}
    r = as_user("spec-pool").post(f"/api/v1/inbox/{first}/read", headers={"Accept-Language": "zh"})
    assert r.get_json()["message"] == "没有这条通知。"
    assert phones.ok(as_user("spec").post(f"/api/v1/inbox/{first}/read")) == {"marked": 1, "unread": 1}
    assert phones.ok(as_user("spec").get("/api/v1/inbox/unread-count")) == {"unread": 1}
    assert [i["id"] for i in _inbox(as_user, "spec", unread="true")["items"]] != [first]
    assert phones.ok(as_user("spec").post("/api/v1/inbox/read-all")) == {"marked": 1, "unread": 0}
    assert _inbox(as_user, "spec")["total"] == 2


def _consent(as_user, resident_id, value=True, user="gp-a1"):
    r = as_user(user).patch(f"/api/v1/residents/{resident_id}", json={"sms_consent": value},
                            headers={"If-Match": "*"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_sms_consent_is_set_through_the_api_and_audited(ref, as_user, session):
    from server.audit.models import AuditEvent

    rid = ref.w.residents["A1-0-0"]
    body = _consent(as_user, rid)
    assert body["sms_consent"] is True and body["sms_consent_at"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.resident_id == rid, AuditEvent.action == "update")
                            .order_by(AuditEvent.id.desc())).first()
    assert event.detail["sms_consent"] is True and event.username == "gp-a1"
    r = as_user("gp-a1").patch(f"/api/v1/residents/{rid}", json={"sms_consent": "maybe"}, headers={"If-Match": "*"})
    assert r.status_code == 422 and "sms_consent" in r.get_json()["errors"]["json"]
    r = as_user("gp-a2").patch(f"/api/v1/residents/{rid}", json={"sms_consent": False}, headers={"If-Match": "*"})
    assert r.status_code == 404  # another team's resident


@pytest.mark.parametrize("consent", [True, False])
def test_a_clinic_appointment_texts_the_resident_only_with_consent(consent, phones, as_user, session):
    rid = phones.w.residents["A1-0-0"]
    _consent(as_user, rid, consent)
    case, etag = phones.send(to="spec", urgency="routine")
    etag = as_user("spec").post(f"/api/v1/referrals/{case['id']}/accept", headers={"If-Match": etag}).headers["ETag"]
    phones.ok(phones.act("spec", case["id"], "answer", etag))  # outcome clinic, 2026-06-18 am
    sms = _sms(session, referral_id=case["id"], topic="clinic_appointment")
    if not consent:
        assert sms == []
        return
    (m,) = sms
    assert m.resident_id == rid and m.phone == "13800000000" and m.user_id is None
    assert "张先生您好" in m.text and "6月18日上午" in m.text and "市一医院心内科" in m.text
    _no_identity_numbers(m.text, session, rid)


def test_a_refused_change_leaves_no_notice(phones, as_user, session):
    case, etag = phones.send(to="spec", urgency="routine")
    before = _inbox(as_user, "gp-a1")["total"]
    etag = as_user("spec").post(f"/api/v1/referrals/{case['id']}/accept", headers={"If-Match": etag}).headers["ETag"]
    r = phones.act("spec", case["id"], "answer", etag, body={"outcome": "clinic", "advice": "x", "plan": "y"})
    assert r.status_code == 422  # a clinic answer without its date
    assert _inbox(as_user, "gp-a1")["total"] == before + 1  # the accept only
    r = phones.act("gp-a1", case["id"], "close", "*", body={"followup_id": "nope"})
    assert r.status_code == 409
    assert _inbox(as_user, "spec")["total"] == 1 and _sms(session, topic="clinic_appointment") == []


# --- the worker and the gateways --------------------------------------------------------------------

def _queue(session, n=1, **kw):
    from server.notifications import services

    msgs = [services.queue_sms(session, topic="test", phone=f"1380000{i:04d}", text=f"消息{i}", **kw)
            for i in range(n)]
    session.commit()
    return msgs


def test_the_worker_sends_to_the_file_gateway_and_keeps_the_status(phones, session, as_user, tmp_path):
    from server.notifications import gateways, worker

    case, _ = phones.send(to="spec", urgency="urgent")
    path = tmp_path / "sms.jsonl"
    done = worker.run_once(session, gateways.FileGateway(path))
    assert (done.claimed, done.sent) == (1, 1)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["phone"] for line in lines] == ["13900000000"] and "紧急转诊" in lines[0]["text"]
    (m,) = _sms(session, referral_id=case["id"])
    assert (m.status, m.attempts, m.last_error) == ("sent", 1, None) and m.sent_at is not None
    assert worker.run_once(session, gateways.FileGateway(path)).claimed == 0  # nothing twice
    # The status through the API: the team whose case it is, the specialist it went to; nobody else.
    for user, seen in (("gp-a1", 1), ("staff-a", 1), ("admin", 1), ("spec", 1), ("gp-a2", 0), ("staff-b", 0),
                       ("spec-pool", 0)):
        items = phones.ok(as_user(user).get(f"/api/v1/notifications/sms?referral_id={case['id']}"))["items"]
        assert len(items) == seen, user
    item = phones.ok(as_user("gp-a1").get("/api/v1/notifications/sms?status=sent"))["items"][0]
    assert item["phone"] == "*******0000" and item["status"] == "sent" and item["attempts"] == 1
    r = as_user("gp-a1").get("/api/v1/notifications/sms?status=lost")
    assert r.status_code == 422 and "status" in r.get_json()["errors"]["query"]


class _Failing:
    def __init__(self, failures, permanent=False):
        self.failures, self.permanent, self.sent = failures, permanent, []

    def send(self, message):
        from server.notifications.gateways import GatewayError

        if self.failures:
            self.failures -= 1
            raise GatewayError("provider down", permanent=self.permanent)
        self.sent.append(message)
        return "ref-1"


def test_a_failing_gateway_loses_nothing_and_backs_off(session):
    from server.notifications import worker

    (m,) = _queue(session)
    clock = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)]
    gateway = _Failing(failures=3)
    done = worker.run_once(session, gateway, now=lambda: clock[0])
    assert (done.claimed, done.retry) == (1, 1)
    row = _sms(session)[0]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "provider down")
    assert row.next_attempt_at == clock[0] + dt.timedelta(seconds=30)
    assert worker.run_once(session, gateway, now=lambda: clock[0] + dt.timedelta(seconds=29)).claimed == 0
    waits = []
    for _ in range(3):
        clock[0] = _sms(session)[0].next_attempt_at
        worker.run_once(session, gateway, now=lambda: clock[0])
        waits.append(_sms(session)[0].next_attempt_at - clock[0])
    assert waits[:2] == [dt.timedelta(minutes=1), dt.timedelta(minutes=2)]
    row = _sms(session)[0]
    assert (row.status, row.attempts, row.gateway_ref, row.last_error) == ("sent", 4, "ref-1", None)
    assert [s.id for s in gateway.sent] == [m.id]


def test_the_worker_gives_up_after_its_attempts_or_a_permanent_refusal(session):
    from server.notifications import worker

    _queue(session, 2)
    done = worker.run_once(session, _Failing(failures=1, permanent=True), batch=1)
    assert done.failed == 1 and _sms(session)[0].status == "failed"
    clock = dt.datetime.now(dt.timezone.utc)
    gateway = _Failing(failures=99)
    for _ in range(worker.MAX_ATTEMPTS):
        clock += dt.timedelta(hours=2)
        worker.run_once(session, gateway, now=lambda: clock)
    row = _sms(session)[1]
    assert (row.status, row.attempts, row.last_error) == ("failed", worker.MAX_ATTEMPTS, "provider down")
    assert worker.backoff(20) == dt.timedelta(hours=1)


def test_a_gateway_that_keeps_failing_ends_the_round_early(session):
    from server.notifications import worker

    _queue(session, worker.BREAKER + 4)
    gateway = _Failing(failures=99)
    done = worker.run_once(session, gateway)
    assert (done.claimed, done.retry, done.deferred) == (worker.BREAKER + 4, worker.BREAKER, 4)
    rows = _sms(session)
    assert [m.attempts for m in rows] == [1] * worker.BREAKER + [0] * 4  # the rest untried, still pending
    assert {m.status for m in rows} == {"pending"}
    # The next round takes up the untried ones (fewer than BREAKER here: all tried), then --once stops.
    again = worker.serve(lambda: _Shared(session), gateway, once=True, poll=60)
    assert (again.claimed, again.retry, again.deferred) == (4, 4, 0)
    assert [m.attempts for m in _sms(session)] == [1] * (worker.BREAKER + 4)


class _Watching:
    """A gateway that looks, at each send, at the worker's own session and at what another worker would
    claim meanwhile."""

    def __init__(self, session, rival):
        self.session, self.rival, self.seen = session, rival, []

    def send(self, message):
        from server.notifications import worker

        self.seen.append((message.id, self.session.in_transaction(), worker.run_once(self.rival, self).claimed))
        return f"ref-{message.id}"


def test_no_transaction_waits_on_the_provider_and_a_claimed_message_is_the_rounds_own(session, clean_app):
    """The claim is committed before the first message goes out: on PostgreSQL an open transaction would hold
    back every tablet's pull (server/sync reads below the oldest running transaction) and its row locks would
    wait on the provider. Another worker running meanwhile claims none of the round's messages."""
    from server.notifications import worker

    msgs = _queue(session, 3)
    with clean_app.extensions["db_sessionmaker"]() as rival:
        gateway = _Watching(session, rival)
        done = worker.run_once(session, gateway)
    assert (done.claimed, done.sent) == (3, 3)
    assert gateway.seen == [(m.id, False, 0) for m in msgs]
    assert [(m.status, m.attempts) for m in _sms(session)] == [("sent", 1)] * 3


class _DyingAtSecond(_Failing):
    """Sends the first message, then the worker's process is stopped while the second is with the provider."""

    def send(self, message):
        if self.sent:
            raise SystemExit("stopped mid-round")
        return super().send(message)


def test_a_round_that_dies_records_what_it_sent_and_leaves_only_the_message_in_flight_leased(session):
    from server.notifications import worker

    first, in_flight, untried = _queue(session, 3)
    due = {m.id: m.next_attempt_at for m in _sms(session)}
    started = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    with pytest.raises(SystemExit):
        worker.run_once(session, _DyingAtSecond(failures=0), now=lambda: started)
    rows = {m.id: m for m in _sms(session)}
    assert (rows[first.id].status, rows[first.id].attempts) == ("sent", 1)  # not sent twice later
    assert rows[untried.id].next_attempt_at == due[untried.id]  # due again at once, untried
    assert rows[in_flight.id].next_attempt_at == started + worker.LEASE  # it may have gone out: after the lease
    gateway = _Failing(failures=0)
    assert worker.run_once(session, gateway, now=lambda: started + worker.LEASE / 2).claimed == 1  # the untried
    done = worker.run_once(session, gateway, now=lambda: started + worker.LEASE)
    assert (done.claimed, done.sent) == (1, 1) and [s.id for s in gateway.sent] == [untried.id, in_flight.id]
    assert {m.status for m in _sms(session)} == {"sent"}


def test_a_send_that_outlasts_the_lease_leaves_the_outcome_to_the_round_that_took_it_over(session, clean_app):
    from server.notifications import worker

    (m,) = _queue(session)
    clock = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)]
    late = []

    class Hanging:
        def send(self, message):  # the provider answers after the lease ran out; another round took it meanwhile
            clock[0] += worker.LEASE + dt.timedelta(seconds=1)
            with clean_app.extensions["db_sessionmaker"]() as rival:
                late.append(worker.run_once(rival, _Failing(failures=0), now=lambda: clock[0]))
            return "ref-late"

    done = worker.run_once(session, Hanging(), now=lambda: clock[0])
    assert done.sent == 1 and late[0].sent == 1  # sent twice: at least once, as documented
    (row,) = _sms(session)
    assert (row.status, row.gateway_ref, row.attempts) == ("sent", "ref-1", 1)  # the rival's record stands


def test_any_failure_of_the_providers_call_is_that_messages_retry_not_the_rounds_end(session):
    import http.client

    from server.notifications import worker

    _queue(session, 2)

    class Garbled(_Failing):
        def send(self, message):
            if not self.sent and self.failures:
                self.failures -= 1
                raise http.client.BadStatusLine("HTTP/1.1 ???")
            return super().send(message)

    done = worker.run_once(session, Garbled(failures=1))
    assert (done.claimed, done.retry, done.sent) == (2, 1, 1)
    first, second = _sms(session)
    assert (first.status, first.attempts) == ("pending", 1) and "???" in first.last_error
    assert second.status == "sent"


def test_a_round_that_has_used_half_its_lease_puts_the_rest_back(session):
    from server.notifications import worker

    msgs = _queue(session, 3)
    due = {m.id: m.next_attempt_at for m in _sms(session)}
    clock = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)]

    class Slow(_Failing):
        def send(self, message):
            clock[0] += worker.LEASE / 3  # a provider that answers, slowly
            return super().send(message)

    done = worker.run_once(session, Slow(failures=0), now=lambda: clock[0])
    assert (done.claimed, done.sent, done.deferred) == (3, 2, 1)
    rows = _sms(session)
    assert [m.status for m in rows] == ["sent", "sent", "pending"]
    assert rows[2].next_attempt_at == due[msgs[2].id] and rows[2].attempts == 0  # due again, as it was


class _Shared:
    """The test's session as a context manager, as a sessionmaker's session would be."""

    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self.session

    def __exit__(self, *exc):
        return False


class _Provider(http.server.BaseHTTPRequestHandler):
    """An SMS provider on a free port: answers the statuses in `script` in turn, then 200."""

    script: list = []
    received: list = []
    delay = 0.0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((body, self.headers.get("Authorization"), self.headers.get("Content-Type")))
        time.sleep(type(self).delay)
        status = type(self).script.pop(0) if type(self).script else 200
        answer = json.dumps({"id": f"p-{len(type(self).received)}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    handler = type("Provider", (_Provider,), {"script": [], "received": [], "delay": 0.0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()
    server.server_close()


def test_the_http_gateway_against_a_provider_that_fails_then_succeeds(session, provider):
    from server.notifications import gateways, worker

    handler, url = provider
    handler.script = [503]
    (m,) = _queue(session)
    gateway = gateways.from_config({"SMS_GATEWAY": "http", "SMS_HTTP_URL": url, "SMS_HTTP_TIMEOUT": 2,
                                    "SMS_HTTP_TOKEN": "t0k"})
    assert worker.run_once(session, gateway).retry == 1
    row = _sms(session)[0]
    assert (row.status, row.last_error) == ("pending", "HTTP 503 from the SMS gateway")
    later = row.next_attempt_at
    assert worker.run_once(session, gateway, now=lambda: later).sent == 1
    row = _sms(session)[0]
    assert (row.status, row.attempts, row.gateway_ref) == ("sent", 2, "p-2")
    assert [r[0] for r in handler.received] == [{"id": str(m.id), "phone": "13800000000", "text": "消息0"}] * 2
    assert handler.received[0][1] == "Bearer t0k" and handler.received[0][2].startswith("application/json")


def test_the_http_gateway_times_out_and_a_refusal_is_permanent(provider):
    from server.notifications.gateways import GatewayError, HttpGateway, Outgoing

    handler, url = provider
    handler.delay = 1.0
    started = time.monotonic()
    with pytest.raises(GatewayError) as err:
        HttpGateway(url, timeout=0.2).send(Outgoing(1, "1", "x"))
    assert time.monotonic() - started < 0.9 and not err.value.permanent
    handler.delay, handler.script = 0.0, [400, 429]
    with pytest.raises(GatewayError) as err:
        HttpGateway(url).send(Outgoing(1, "1", "x"))
    assert err.value.permanent
    with pytest.raises(GatewayError) as err:
        HttpGateway(url).send(Outgoing(1, "1", "x"))
    assert not err.value.permanent  # 429: try again later
    with pytest.raises(GatewayError, match="unreachable"):
        HttpGateway("http://127.0.0.1:9/", timeout=0.5).send(Outgoing(1, "1", "x"))
    with pytest.raises(ValueError):
        gateways_from = __import__("server.notifications.gateways", fromlist=["from_config"]).from_config
        gateways_from({"SMS_GATEWAY": "carrier-pigeon"})


def test_a_slow_gateway_slows_no_request(phones, clean_app, provider, as_user):
    """Requests only write the outbox: with the provider hanging, sending a case neither waits nor calls it."""
    handler, url = provider
    handler.delay = 5.0
    clean_app.config.update(SMS_GATEWAY="http", SMS_HTTP_URL=url)
    started = time.monotonic()
    phones.send(to="spec", urgency="emergency")
    assert time.monotonic() - started < 4.0
    assert handler.received == []


def test_followups_due_next_week_are_texted_once_to_consenting_residents(ref, session, as_user):
    from server.followups.models import FollowUpStatus
    from server.notifications.triggers import followups_due

    a, b = ref.w.residents["A1-0-0"], ref.w.residents["B1-0-0"]
    _consent(as_user, a)
    _consent(as_user, b, user="gp-b1")
    session.expire_all()
    due = {s.resident_id: s.next_visit_date for s in session.scalars(select(FollowUpStatus))}
    today = due[a] - dt.timedelta(days=5)
    assert today < due[b] <= today + dt.timedelta(days=7)  # both visits on 2026-06-01: same next date
    assert followups_due(session, today) == 2
    assert followups_due(session, today + dt.timedelta(days=1)) == 0  # the daily run again: nothing twice
    sms = _sms(session, topic="followup_due")
    assert {m.resident_id for m in sms} == {a, b}
    assert all("随访将于" in m.text and "高血压" in m.text for m in sms)
    for m in sms:
        _no_identity_numbers(m.text, session, m.resident_id)
    _consent(as_user, ref.w.residents["A1-0-1"])  # consent, but no follow-up due: nothing
    assert followups_due(session, due[a] + dt.timedelta(days=1)) == 0


@pytest.mark.commits
def test_the_worker_command_sends_what_is_due_once(clean_app, tmp_path, db_url):
    import os

    maker = clean_app.extensions["db_sessionmaker"]
    with maker() as session:
        _queue(session, 3)
    out = tmp_path / "sms.jsonl"
    proc = subprocess.run([sys.executable, "-m", "server.manage", "notify-worker", "--once"], cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": db_url, "SMS_FILE": str(out)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "3 sent, 0 to retry, 0 failed, 0 not tried (FileGateway)" in proc.stdout
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    with maker() as session:
        assert {m.status for m in _sms(session)} == {"sent"}


@pytest.mark.commits
def test_the_daily_reminder_command_queues_once(clean_app, world, db_url):
    import os

    from server.followups.models import FollowUpStatus
    from server.households.models import Resident
    from server.notifications.triggers import followups_due

    maker = clean_app.extensions["db_sessionmaker"]
    rid = world.residents["A1-0-0"]
    with maker() as session:
        session.get(Resident, rid).sms_consent = True
        session.add(FollowUpStatus(resident_id=rid, condition="hypertension", team_id=world.teams["A1"],
                                   next_visit_date=dt.date(2026, 6, 20), due_from=dt.date(2026, 6, 20)))
        session.commit()
    proc = subprocess.run([sys.executable, "-m", "server.manage", "notify-followups", "--date", "2026-06-15"],
                          cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "queued 1 follow-up reminders for 2026-06-15"
    with maker() as session:
        (m,) = _sms(session, topic="followup_due")
        assert m.resident_id == rid and "6月20日" in m.text and m.status == "pending"
        # The daily run again on the same day, over what the command committed: nothing twice. (The function
        # the command calls, in this process: a second command process cost ~3 s of wall, 1.5 s of CPU.)
        assert followups_due(session, dt.date(2026, 6, 15)) == 0


def test_a_claim_marks_the_other_specialists_notices_of_the_pool(phones, as_user, session):
    """Claimed by one, the case is no longer the others' to open: their notices are marked read and say
    who claimed it; the claimant's stay as they were; after an escalation the named one's too."""
    from server.referrals import escalation

    ref = phones
    pool_case, etag = ref.send(to="pool", urgency="urgent")
    assert all(_inbox(as_user, u, unread="true")["unread"] == 1 for u in ("spec", "spec-pool"))
    ref.ok(ref.act("spec-pool", pool_case["id"], "accept", etag))
    [notice] = [i for i in _inbox(as_user, "spec")["items"] if i["referral_id"] == pool_case["id"]]
    assert notice["read_at"] and notice["text"].startswith("【已由spec-pool认领】新紧急转诊：张三")
    assert _inbox(as_user, "spec")["unread"] == 0
    assert as_user("spec").get(f"/api/v1/referrals/{pool_case['id']}").status_code == 404
    [own] = [i for i in _inbox(as_user, "spec-pool")["items"] if i["referral_id"] == pool_case["id"]]
    assert own["read_at"] is None and own["text"].startswith("新紧急转诊")
    assert not _inbox(as_user, "spec-endo")["items"]
    # Addressed to spec by name, escalated to the pool unanswered, claimed there by spec-pool.
    named, _ = ref.send(to="spec", urgency="urgent")
    escalation.escalate_overdue(session, dt.date(2026, 6, 17))
    session.commit()
    ref.ok(ref.act("spec-pool", named["id"], "accept"))
    notices = [i for i in _inbox(as_user, "spec")["items"] if i["referral_id"] == named["id"]]
    assert [i["topic"] for i in notices] == ["referral_escalate", "referral_new"]
    assert all(i["read_at"] and i["text"].startswith("【已由spec-pool认领】") for i in notices)
