"""One error shape everywhere; a 500 hides the stack trace and carries a request id that is logged."""
import logging
import re

import pytest

from server import create_app


@pytest.fixture
def boom_app(db_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "DEVELOPMENT": True})

    @app.route("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_500_has_no_trace_and_a_logged_request_id(boom_app, caplog):
    caplog.set_level(logging.ERROR, logger="server")
    r = boom_app.test_client().get("/api/v1/boom")
    body = r.get_json()
    assert r.status_code == 500 and set(body) == {"code", "status", "message"}
    rid = r.headers["X-Request-ID"]
    assert rid in body["message"]
    assert "hunter2" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert any(rid in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_incoming_request_id_is_kept(boom_app):
    r = boom_app.test_client().get("/api/v1/boom", headers={"X-Request-ID": "tablet-7-req-000123"})
    assert r.headers["X-Request-ID"] == "tablet-7-req-000123"


@pytest.mark.parametrize("method,path,kwargs,code", [
    ("get", "/api/v1/nowhere", {}, 404),
    ("put", "/api/v1/auth/login", {}, 405),
    ("post", "/api/v1/auth/login", {"data": "{not json", "content_type": "application/json"}, 400),
    ("post", "/api/v1/auth/login", {"json": {"username": "", "password": "x"}}, 422),
    ("post", "/api/v1/auth/login", {"json": {"username": "a", "password": "x", "extra": 1}}, 422),
])
def test_client_errors_share_the_shape(client, world, method, path, kwargs, code):
    r = getattr(client, method)(path, **kwargs)
    body = r.get_json()
    assert r.status_code == code, body
    assert body["code"] == code and isinstance(body["status"], str)
    assert set(body) <= {"code", "status", "message", "errors"}


def test_validation_names_the_field(as_user, world):
    r = as_user("gp-a1").post("/api/v1/households", json={"committee_id": "abc", "address": "x"})
    body = r.get_json()
    assert set(body["errors"]["json"]) == {"committee_id", "address"}
    assert body["message"] in ("Invalid input: json.committee_id, json.address.",
                               "Invalid input: json.address, json.committee_id.")


def test_openapi_and_docs_are_served(client, clean_app):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "GP Outreach" and "/api/v1/residents" in spec["paths"]
    # Written when first read (server/api.py): every route of the API is in it, the FHIR errors' parts too.
    rules = {re.sub(r"<[^>]+>", "{}", r.rule) for r in clean_app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]} == rules
    assert "OperationOutcome" in spec["components"]["schemas"] and "FHIR_ERROR" in spec["components"]["responses"]
    assert client.get("/openapi.json").get_json() == spec  # read again: the same document, nothing added twice
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.data
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
