"""Migration l007 (issue 17): range_text widened to Text keeping every row; FHIR messages backfilled with the
fingerprint intake computes; one step down and up again. SQLite and PostgreSQL (TEST_DATABASE_URL)."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from server.labs.models import content_fingerprint
from tests.server.test_migrations import empty_url, migration_module  # noqa: F401 (empty_url: a fixture, SQLite or PG)

MESSAGES = Path(__file__).resolve().parents[1] / "labs" / "messages"
# A real band-by-age-and-sex red cell count range (302 characters): what String(200) cut.
LONG_RANGE = ("Newborn: 4.1-6.1 x10^12/L; 1-11 mo: 3.8-5.4 x10^12/L; 1-11 y: 4.0-5.2 x10^12/L; "
              "12-14 y Male: 4.4-5.2 x10^12/L; 12-14 y Female: 4.1-5.1 x10^12/L; 15-17 y Male: 4.5-5.3 x10^12/L; "
              "15-17 y Female: 4.1-5.1 x10^12/L; 18-64 y Male: 4.6-5.4 x10^12/L; 18-64 y Female: 4.2-5.0 "
              "x10^12/L; >=65 y: 4.0-5.2 x10^12/L")


def test_l007_copy_agrees_with_intake():
    l007 = migration_module("l007")
    for name in ("bundle-chem-r4.json", "bundle-lipids-r4.json"):
        raw = (MESSAGES / name).read_bytes()
        assert l007.fhir_fingerprint(raw) == content_fingerprint(raw, "fhir")
        resent = json.dumps(json.loads(raw), sort_keys=True).encode()
        assert l007.fhir_fingerprint(resent) == content_fingerprint(raw, "fhir")
    assert l007.fhir_fingerprint(b"{not json") == content_fingerprint(b"{not json", "fhir")


def test_l007_widens_range_text_backfills_fhir_and_steps_down(empty_url):  # noqa: F811
    from alembic import command
    from sqlalchemy import inspect

    from server.db import make_engine
    from server.manage import alembic_config

    assert len(LONG_RANGE) > 300
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "l006")
    engine = make_engine(empty_url)
    bundle = (MESSAGES / "bundle-lipids-r4.json").read_bytes()
    hl7 = b"MSH|^~\\&|LIS|H|||20250101||ORU^R01|1|P|2.5\rPID|1||||A\r"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO hospitals (id, code, name) VALUES (1, 'H', 'H')"))
        conn.execute(text("INSERT INTO lab_feeds (id, hospital_id, name, key_hash, key_hint, created_at) "
                          "VALUES (1, 1, 'f', 'x', 'x', CURRENT_TIMESTAMP)"))
        for row_id, fmt, raw, fingerprint in (("m0", "hl7v2", hl7, content_fingerprint(hl7, "hl7v2")),
                                              ("m1", "fhir", bundle, "")):
            conn.execute(text(
                "INSERT INTO lab_messages (id, feed_id, hospital_id, format, transport, sending_app, "
                "sending_facility, control_id, fingerprint, message_type, version, raw, encoding, encoding_reason, "
                "charset_declared, received_at, warnings, patient_name, patient_name_alphabetic, patient_sex, "
                "patient_identifiers, match_status) VALUES (:id, 1, 1, :fmt, 'http', '', '', 'c1', :fp, '', '', "
                ":raw, 'utf-8', '', '', CURRENT_TIMESTAMP, '[]', '', '', 'U', '[]', 'unmatched')"),
                {"id": row_id, "fmt": fmt, "raw": raw, "fp": fingerprint})
        conn.execute(text("INSERT INTO lab_reports (id, hospital_id, filler_no, filler_reuse, placer_no, panel_code, "
                          "panel_name, panel_coding_system, specimen_type, status, tester, reviewer, critical, "
                          "abnormal, excluded, comments, created_at, changed_at) VALUES ('r1', 1, 'S1', 0, '', '', "
                          "'', '', '', '', '', '', false, false, '[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    insert_result = text(
        "INSERT INTO lab_results (id, report_id, message_id, position, set_id, code, name, coding_system, "
        "value_type, value_text, value_code, comparator, unit, range_text, range_by_sex, flags, critical, abnormal, "
        "status, observer, received_at, comments) VALUES (:id, 'r1', 'm1', :id, '1', 'RBC', 'RBC', '', 'NM', '5.0', "
        "'', '', '', :range, '{}', '[]', false, false, 'F', '', CURRENT_TIMESTAMP, '[]')")
    with engine.begin() as conn:
        conn.execute(insert_result, {"id": 1, "range": LONG_RANGE[:200]})

    command.upgrade(cfg, "l007")
    assert inspect(engine).get_columns("lab_results")[[c["name"] for c in inspect(engine).get_columns(
        "lab_results")].index("range_text")]["type"].length is None  # Text: no length
    with engine.begin() as conn:
        got = dict(conn.execute(text("SELECT id, fingerprint FROM lab_messages")).all())
        assert got == {"m0": content_fingerprint(hl7, "hl7v2"), "m1": content_fingerprint(bundle, "fhir")}
        assert conn.execute(text("SELECT range_text FROM lab_results")).scalar() == LONG_RANGE[:200]
        conn.execute(insert_result, {"id": 2, "range": LONG_RANGE})  # PostgreSQL refused this at l006
        assert conn.execute(text("SELECT range_text FROM lab_results WHERE id = 2")).scalar() == LONG_RANGE

    command.downgrade(cfg, "l006")
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT id, range_text FROM lab_results")).all()) == {
            1: LONG_RANGE[:200], 2: LONG_RANGE[:200]}
        assert dict(conn.execute(text("SELECT id, fingerprint FROM lab_messages")).all()) == {
            "m0": content_fingerprint(hl7, "hl7v2"), "m1": ""}
    command.upgrade(cfg, "l007")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lab_results")).scalar() == 2
    engine.dispose()
