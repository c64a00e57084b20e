"""Every read and write of a resident's file is logged; only admins read the log; it is append-only."""


def events(admin, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = admin.get(f"/api/v1/audit/?{q}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def test_read_and_write_are_logged_with_address_and_device(client, token, world, as_user):
    rid = world.residents["A1-0-0"]
    h = {"Authorization": f"Bearer {token('gp-a1')}", "X-Device-ID": "tablet-07"}
    r = client.get(f"/api/v1/residents/{rid}", headers=h, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    client.patch(f"/api/v1/residents/{rid}", json={"phone": "1"}, environ_base={"REMOTE_ADDR": "10.1.2.3"},
                 headers={**h, "If-Match": r.headers["ETag"]})
    got = events(as_user("admin"), resident_id=rid)
    assert [e["action"] for e in got][:2] == ["update", "read"]
    for e in got[:2]:
        assert e["username"] == "gp-a1" and e["address"] == "10.1.2.3" and e["device"] == "tablet-07"
        assert e["request_id"]
    assert got[0]["detail"] == {"fields": ["phone"]}


def test_searches_log_what_was_shown(as_user, world):
    as_user("gp-a1").get("/api/v1/residents?q=zs")
    e = events(as_user("admin"), action="search")[0]
    assert e["detail"]["q"] == "zs" and e["detail"]["shown"] == [world.residents["A1-0-0"]]


def test_refused_reads_of_other_teams_are_not_logged_as_reads(as_user, world):
    rid = world.residents["B1-0-0"]
    assert as_user("gp-a1").get(f"/api/v1/residents/{rid}").status_code == 404
    assert events(as_user("admin"), resident_id=rid, action="read") == []


def test_only_admin_reads_the_log_and_nobody_edits_it(as_user, world):
    assert as_user("staff-a").get("/api/v1/audit/").status_code == 403
    assert as_user("admin").delete("/api/v1/audit/").status_code == 405
    assert as_user("admin").get("/api/v1/audit/?since=not-a-date").status_code == 422


def test_postgres_refuses_to_rewrite_the_log(as_user, world, clean_app):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = clean_app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    as_user("gp-a1").get(f"/api/v1/residents/{world.residents['A1-0-0']}")
    for statement in ("UPDATE audit_events SET username = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
