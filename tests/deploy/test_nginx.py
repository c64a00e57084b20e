"""The example deployment (deploy/), exercised: Debian's nginx with deploy/nginx/gpo-proxy.conf unchanged in
front of two production app servers (gunicorn) on loopback. Checks the client address the app believes, the
headers a browser gets, /metrics closed, no query string in nginx's log, and a tablet's sync through it."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from server.audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.server_labs.conftest import manage_command  # noqa: F401 (the fixture: app servers on free ports)

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make system-deps installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def proxied(manage_command, world, monkeypatch, tmp_path):  # noqa: F811
    """nginx on a free loopback port in front of two `serve-production` app servers; returns its base URL."""
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    apps = manage_command.together(*[("serve-production", "--workers", "1")] * 2)
    port = _free_port()
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
daemon off;
events {{ worker_connections 64; }}
http {{
    include {ROOT}/deploy/nginx/gpo-logformat.conf;
    access_log {tmp_path}/access.log gpo;
    client_body_temp_path {tmp_path}/client_body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    upstream gpo_app {{ server 127.0.0.1:{apps[0]}; server 127.0.0.1:{apps[1]}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{port};
        include {ROOT}/deploy/nginx/gpo-proxy.conf;
    }}
}}
""")
    # As root, nginx's workers drop to `user` (nobody): the temp folders must be theirs to write.
    if os.geteuid() == 0:
        shutil.chown(tmp_path, "nobody")
        for child in tmp_path.iterdir():
            if child.is_dir():
                shutil.chown(child, "nobody")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"nginx did not start: {proc.communicate()[1]}")
            time.sleep(0.1)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", log=tmp_path / "access.log")
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _call(url: str, *, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _too_large(url: str, language: str) -> tuple[int, dict, bytes]:
    """Announce a 60 MB body and send none of it: nginx answers on the header alone."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /api/v1/households HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 60000000\r\nAccept-Language: {language}\r\nConnection: close\r\n\r\n"
                     .encode())
        # Read the answer to its Content-Length, not until nginx closes: after a 413 it keeps the connection
        # open for the unread body (lingering_timeout, 5 s).
        raw = b""
        while not _whole(raw) and (chunk := sock.recv(65536)):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _whole(raw: bytes) -> bool:
    """An HTTP answer's head and as much body as its Content-Length says have arrived."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return bool(sep and length and len(body) >= int(length[1]))


def test_nginx_in_front_of_two_app_servers(proxied, session):
    # Sign in through nginx with a made-up X-Forwarded-For: the app must see nginx's view of the client.
    status, headers, body = _call(f"{proxied.url}/api/v1/auth/login", method="POST",
                                  body={"username": "gp-a1", "password": "wrong-password-1"},
                                  headers={"X-Forwarded-For": "203.0.113.77", "X-Request-ID": "spoofed-1234"})
    assert status == 401
    request_id = headers["X-Request-ID"]
    assert len(request_id) == 32 and request_id != "spoofed-1234"  # nginx's $request_id, the same in both logs
    session.expire_all()
    denied = session.scalar(select(AuditEvent).where(AuditEvent.request_id == request_id))
    assert denied is not None and denied.action == "denied" and denied.address == "127.0.0.1", denied

    status, headers, body = _call(f"{proxied.url}/api/v1/auth/login", method="POST",
                                  body={"username": "gp-a1", "password": PASSWORD})
    assert status == 200, body
    token = json.loads(body)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    # Headers a browser and a cache get through the proxy; nginx does not say its version.
    status, headers, _ = _call(f"{proxied.url}/api/v1/residents?q=11010519491231002X", headers=auth)
    assert status == 200
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Server"] == "nginx"
    status, headers, _ = _call(f"{proxied.url}/console/")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]

    # A body beyond what any endpoint takes is refused by nginx itself, on its Content-Length, in the app's
    # error shape and the reader's language (not nginx's HTML page).
    for language, words in (("zh-CN,zh;q=0.9", "超过"), ("en", "larger than")):
        status, headers, body = _too_large(proxied.url, language)
        answer = json.loads(body)
        assert status == 413 and headers["content-type"].startswith("application/json"), body
        assert answer["code"] == 413 and words in answer["message"] and list(answer["errors"]) == ["body"]

    # /metrics is for the scraper inside, not through the public address.
    assert _call(f"{proxied.url}/metrics")[0] == 404

    # A tablet's first sync through nginx: gzip pages followed to the end, over both app servers.
    cursor, rows, pages = None, 0, 0
    while True:
        query = f"?cursor={cursor}" if cursor else ""
        status, headers, body = _call(f"{proxied.url}/api/v1/sync/pull{query}",
                                      headers={**auth, "Accept-Encoding": "gzip"})
        assert status == 200, body
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        page = json.loads(body)
        rows += sum(len(e["rows"]) for e in page["entities"].values())
        pages += 1
        cursor = page.get("cursor")
        if not page.get("more") or pages > 50:
            break
    assert rows > 0 and pages <= 50

    # nginx's own log: the path, never the query (a search is a resident's ID number or name).
    for _ in range(20):
        if proxied.log.exists() and "/api/v1/residents" in proxied.log.read_text():
            break
        time.sleep(0.1)
    log = proxied.log.read_text()
    assert "/api/v1/residents" in log and "11010519491231002X" not in log and request_id in log
