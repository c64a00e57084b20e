"""Issue 15 item 9: Prometheus metrics at /metrics (requests by route and status with latency, sync pages),
for loopback or a configured token only, with route templates and codes as labels, never a person's data."""
from __future__ import annotations

from prometheus_client import REGISTRY


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(as_user, client, world):
    resident = world.residents["A1-0-0"]
    route = "/api/v1/residents/<resident_id>"
    before = _value("gpo_http_requests_total", method="GET", route=route, status="200")
    slow_before = _value("gpo_http_request_seconds_count", method="GET", route=route)
    assert as_user("gp-a1").get(f"/api/v1/residents/{resident}").status_code == 200
    assert as_user("gp-b1").get(f"/api/v1/residents/{resident}").status_code == 404
    assert _value("gpo_http_requests_total", method="GET", route=route, status="200") == before + 1
    assert _value("gpo_http_requests_total", method="GET", route=route, status="404") >= 1
    assert _value("gpo_http_request_seconds_count", method="GET", route=route) == slow_before + 2

    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert 'gpo_http_requests_total{method="GET",route="/api/v1/residents/<resident_id>",status="200"}' in text
    assert "gpo_http_request_seconds_bucket" in text and resident not in text


def test_sync_pages_are_counted(as_user, world):
    before = _value("gpo_sync_pages_total", direction="pull", mode="snapshot")
    rows_before = _value("gpo_sync_rows_total", direction="pull")
    r = as_user("gp-a1").get("/api/v1/sync/pull")
    assert r.status_code == 200
    assert _value("gpo_sync_pages_total", direction="pull", mode="snapshot") == before + 1
    assert _value("gpo_sync_rows_total", direction="pull") > rows_before


def test_only_loopback_or_the_token_may_scrape(clean_app, client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    clean_app.config["METRICS_TOKEN"] = "m" * 32
    try:
        assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer wrong"}).status_code == 404
        r = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer " + "m" * 32})
        assert r.status_code == 200 and "gpo_http_requests_total" in r.get_data(as_text=True)
    finally:
        clean_app.config["METRICS_TOKEN"] = None
