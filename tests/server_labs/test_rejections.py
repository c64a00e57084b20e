"""Refused messages are kept (bytes, reason, ACK, facility, time) and listed for center staff and admin:
nothing a hospital sends is lost, even when it is not stored as results."""
from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from server.audit.models import AuditEvent
from server.labs.models import LabMessage, LabRejection


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_refused_hl7_is_kept_byte_for_byte_and_listed_for_the_feeds_center(post_hl7, fixture_message, as_user,
                                                                           session, ack_fields):
    sent = {}
    for name in ("reject-adt-not-oru.hl7", "reject-missing-control-id.hl7", "reject-obx-before-obr.hl7"):
        raw = fixture_message(name)
        r = post_hl7(raw)
        assert r.status_code == 422
        sent[raw] = r.data
    r = post_hl7(b"hello, not HL7")
    assert r.status_code == 422
    sent[b"hello, not HL7"] = r.data
    assert _count(session, LabMessage) == 0 and _count(session, LabRejection) == 4

    page = as_user("staff-a").get("/api/v1/labs/rejections").get_json()
    assert page["total"] == 4
    assert all(item["reason"] and item["ack_code"] in ("AR", "AE") for item in page["items"])
    assert "raw_base64" not in page["items"][0]  # the list does not carry the bytes
    for item in page["items"]:
        r = as_user("staff-a").get(f"/api/v1/labs/rejections/{item['id']}")
        assert r.status_code == 200
        detail = r.get_json()
        raw = base64.b64decode(detail["raw_base64"])
        assert raw in sent and detail["size"] == len(raw)
        assert detail["ack_text"].encode(detail["encoding"] or "utf-8") == sent[raw]  # the ACK as answered
        assert ack_fields(sent[raw])[3] in detail["reason"] or detail["reason"] in ack_fields(sent[raw])[3]
    assert _count(session, AuditEvent.__table__) >= 4
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "lab_rejection", AuditEvent.action == "read")) == 4

    # Staff of a center the feed does not serve see none; a GP team may not ask.
    assert as_user("staff-b").get("/api/v1/labs/rejections").get_json()["total"] == 0
    assert as_user("staff-b").get(f"/api/v1/labs/rejections/{page['items'][0]['id']}").status_code == 404
    r = as_user("gp-a1").get("/api/v1/labs/rejections")
    assert r.status_code == 403
    assert as_user("admin").get("/api/v1/labs/rejections").get_json()["total"] == 4


def test_rejection_list_arguments_are_checked(as_user, feed):
    r = as_user("staff-a").get("/api/v1/labs/rejections?page_size=0")
    assert r.status_code == 422 and "page_size" in r.get_json()["errors"]["query"]
    r = as_user("staff-a").get("/api/v1/labs/rejections?since=2025-03-02T10:00:00")
    assert r.status_code == 422 and "since" in r.get_json()["errors"]["query"]
    r = as_user("staff-a").get(f"/api/v1/labs/rejections?feed_id={feed[0]}&since=2025-03-02T10:00:00%2B08:00")
    assert r.status_code == 200 and r.get_json()["total"] == 0


def test_bad_fhir_bundle_is_kept_with_the_path_in_the_reason(post_fhir, as_user, session):
    r = post_fhir(b"{not json")
    assert r.status_code == 422
    rej = session.scalar(select(LabRejection))
    assert (rej.format, rej.raw, rej.ack_code) == ("fhir", b"{not json", "AR")
    assert "$" in rej.reason
    bundle = {"resourceType": "Bundle", "type": "message", "entry": []}
    assert post_fhir(json.dumps(bundle).encode()).status_code == 422
    assert _count(session, LabRejection) == 2


@pytest.fixture
def results_insert_fails(clean_app):
    engine = clean_app.extensions["db_engine"]

    def refuse(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO LAB_RESULTS"):
            raise OperationalError(statement, params, Exception("disk full (simulated)"))

    event.listen(engine, "before_cursor_execute", refuse)
    yield
    event.remove(engine, "before_cursor_execute", refuse)


def test_a_message_the_database_could_not_store_is_kept_as_such(post_hl7, fixture_message, session,
                                                                results_insert_fails):
    raw = fixture_message("utf8-escapes-criticals-cr.hl7")
    assert post_hl7(raw).status_code == 503
    rej = session.scalar(select(LabRejection))
    assert (rej.raw, rej.ack_code, rej.error_code, rej.storage_failed) == (raw, "AE", "207", True)
    assert rej.control_id == "B-1001"
    assert _count(session, LabMessage) == 0


def test_a_revoked_feed_gets_401_and_nothing_is_kept(post_hl7, fixture_message, as_user, feed, session):
    assert post_hl7(fixture_message("utf8-escapes-criticals-cr.hl7")).status_code == 200  # key now cached
    assert as_user("admin").post(f"/api/v1/labs/feeds/{feed[0]}/revoke").status_code == 200
    r = post_hl7(b"hello, not HL7")
    assert r.status_code == 401 and r.get_json()["errors"] == {"authentication": "invalid_feed_key"}
    r = post_hl7(fixture_message("sex-ranges-crlf.hl7"))
    assert r.status_code == 401
    assert _count(session, LabRejection) == 0 and _count(session, LabMessage) == 1
