"""The ACK comes only after the commit: when the database fails mid-store the sender gets AE and nothing
half-stored remains; the same message sent again later is stored and acknowledged AA."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from server.labs.models import LabMessage, LabReport, LabResultRow


@pytest.fixture
def database_fails(clean_app):
    """database_fails(True/False): make the database refuse inserts into lab_results, which come after the
    message and report rows in the same transaction."""
    engine = clean_app.extensions["db_engine"]

    def refuse(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO LAB_RESULTS"):
            raise OperationalError(statement, params, Exception("disk full (simulated)"))

    def switch(on: bool):
        if on:
            event.listen(engine, "before_cursor_execute", refuse)
        elif event.contains(engine, "before_cursor_execute", refuse):
            event.remove(engine, "before_cursor_execute", refuse)

    yield switch
    switch(False)


def _counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (LabMessage, LabReport, LabResultRow))


def test_database_failure_gives_ae_then_the_resend_is_stored(post_hl7, fixture_message, session, ack_fields,
                                                              database_fails):
    raw = fixture_message("utf8-escapes-criticals-cr.hl7")
    database_fails(True)
    r = post_hl7(raw)
    assert r.status_code == 503 and r.headers["Retry-After"]
    fields = ack_fields(r.data)
    assert fields[1:3] == ["AE", "B-1001"] and "could not store" in fields[3]
    assert b"207^Application internal error" in r.data
    database_fails(False)
    assert _counts(session) == (0, 0, 0)  # nothing half-stored

    r = post_hl7(raw)
    assert r.status_code == 200 and ack_fields(r.data)[1] == "AA"
    assert _counts(session) == (1, 1, 11)


def test_fhir_database_failure_is_a_503_in_the_error_shape_then_the_resend_is_stored(
        post_fhir, fixture_message, session, database_fails):
    from server.labs.models import LabRejection

    raw = fixture_message("bundle-chem-r4.json")
    database_fails(True)
    r = post_fhir(raw)
    assert r.status_code == 503 and r.headers["Retry-After"]
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == 503
    assert body["errors"] == {"storage": "unavailable"}
    database_fails(False)
    assert _counts(session) == (0, 0, 0)
    kept = session.scalar(select(LabRejection))
    assert (kept.format, kept.storage_failed, kept.raw) == ("fhir", True, raw)

    assert post_fhir(raw).status_code == 201
    assert _counts(session)[0] == 1
