"""Prometheus metrics: requests by route and status with latency, sync pages, HL7 messages by ACK code,
print jobs. Served at /metrics in the text exposition format.

Labels are route templates and codes, never values (no resident id, no search text), so a metric can
neither leak a person nor grow without bound. Under gunicorn each worker is a process: with
PROMETHEUS_MULTIPROC_DIR set (serve-production sets it) the client library keeps each process's values in
that folder and /metrics adds them up, whichever worker answers the scrape.

/metrics answers a caller from loopback, or one that sends `Authorization: Bearer <METRICS_TOKEN>` when that
setting is given; anyone else gets 404, as for a page that does not exist.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import Blueprint, Flask, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest,
                               multiprocess)
from werkzeug.exceptions import NotFound

REQUESTS = Counter("gpo_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("gpo_http_request_seconds", "Time to answer a request", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
SYNC_PAGES = Counter("gpo_sync_pages_total", "Sync pages served to tablets (pull) or taken (push)",
                     ["direction", "mode"])
SYNC_ROWS = Counter("gpo_sync_rows_total", "Rows in sync pages", ["direction"])
HL7_MESSAGES = Counter("gpo_hl7_messages_total", "HL7 v2 messages received, by the ACK code answered",
                       ["transport", "ack_code"])
PRINT_JOBS = Counter("gpo_print_jobs_total", "Receipts rendered for printing or preview", ["document", "format"])

blp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    app.after_request(_count)
    app.register_blueprint(blp)


def _count(resp):
    # The route template (/api/v1/residents/<resident_id>), not the path: no ids in labels.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(request.method, route, str(resp.status_code)).inc()
    started = g.get("started")  # the request's start, taken once for the log line and this (server/logs.py)
    if started is not None:
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
    return resp


@blp.route("/metrics")
def metrics():
    if not _may_scrape():
        raise NotFound()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def hl7_message(transport: str, ack_code: str) -> None:
    HL7_MESSAGES.labels(transport, ack_code).inc()


def sync_page(direction: str, mode: str, rows: int) -> None:
    SYNC_PAGES.labels(direction, mode).inc()
    SYNC_ROWS.labels(direction).inc(rows)


def print_job(document: str, fmt: str) -> None:
    PRINT_JOBS.labels(document, fmt).inc()
