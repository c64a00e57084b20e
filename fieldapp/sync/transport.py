"""HTTP to the center server with the standard library only (urllib + gzip + json): nothing to install."""
from __future__ import annotations

import gzip
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class TransportError(Exception):
    """The request or its answer was lost (no connection, timeout, reset): safe to retry."""


class HttpError(Exception):
    """The server answered with an error status; `body` is its {code, status, message, errors}."""

    def __init__(self, status: int, body: dict | None):
        body = body if isinstance(body, dict) else {}  # a proxy's JSON may be a list or a string
        super().__init__(f"HTTP {status}: {body.get('message', '')}")
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:
        """Server trouble or throttling: try again later; other 4xx will not change by retrying."""
        return self.status >= 500 or self.status in (408, 429)


class DeviceLost(HttpError):
    """The server answered 403 device_lost: center staff marked this tablet lost; it must wipe itself."""


def device_error(status: int, body: dict | None) -> HttpError:
    """The typed error for an error answer (device_lost is told apart from any other 403)."""
    # device_wiped: the registry already saw this tablet wiped (a store restored from a copy): the same order.
    if status == 403 and isinstance(body, dict) and body.get("code") in ("device_lost", "device_wiped"):
        return DeviceLost(status, body)
    return HttpError(status, body)


def device_headers(store, device_id: str | None) -> dict:
    """The device registry's headers on every request: this tablet's id and how many changes wait in its
    outbox (the registry shows center staff what a lost tablet still held)."""
    headers = {}
    device = store.device_id if store is not None else device_id
    if device:
        headers["X-Device-Id"] = device
    if store is not None:
        headers["X-Pending-Changes"] = str(store.outbox_count())
        headers["X-Store-Version"] = str(store.schema_version)
    return headers


class Answer:
    """An answer read but not decoded yet (`call(..., deferred=True)`): a page fetched ahead is unpacked on the
    engine's thread when used, and its X-Sync-Next-Cursor header says at once where the next page starts."""

    def __init__(self, raw: bytes, encoding: str, headers):
        self.raw, self.encoding = raw, encoding
        self.next_cursor = headers.get("X-Sync-Next-Cursor") or None

    def json(self) -> dict:
        raw = gzip.decompress(self.raw) if self.encoding == "gzip" else self.raw
        return json.loads(raw) if raw else {}


class AuthError(HttpError):
    """The tablet's sign-in has expired or was revoked: a person must sign in again."""


class HttpTransport:
    """JSON over HTTP(S) with gzip both ways where it pays, bearer tokens from the store, refresh on 401."""

    deferred_answers = True  # call(..., deferred=True) gives an Answer to decode later

    def __init__(self, base_url: str, store=None, timeout: float = 60.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.timeout = timeout
        self._token = token
        self.bytes_received = 0
        self.bytes_sent = 0
        self.device_id: str | None = None  # sent when there is no store (a detached copy, a sign-in)
        self.device_state: str | None = None  # the registry's X-Device-State on the last answer (active|retire)
        self._counter = self  # whose byte counts a request adds to

    def detached(self) -> HttpTransport:
        """A copy that needs no store, for one request made on another thread (a SQLite connection
        belongs to its thread): the token and device id are read now; bytes count on this transport.
        It does not refresh an expired sign-in; the caller asks again on its own thread if it fails."""
        copy = HttpTransport(self.base_url, None, self.timeout, self._access_token())
        copy.device_id = self.store.device_id if self.store is not None else self.device_id
        copy._counter = self
        return copy

    def _access_token(self) -> str | None:
        return self._token or (self.store.state("access_token") if self.store else None)

    def call(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
             token: str | None = None, _retry_auth: bool = True, deferred: bool = False) -> dict | Answer:
        """One request; returns the decoded JSON answer (an Answer to decode later if `deferred`) or raises
        TransportError / HttpError."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        # Chinese: the server's reasons (a refused record's, a refused sign-in's) are read by the GP as sent.
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip", "Accept-Language": "zh-CN"}
        bearer = token or self._access_token()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        headers.update(device_headers(self.store, self.device_id))
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                headers = resp.headers
                encoding = headers.get("Content-Encoding", "")
                self._counter.device_state = resp.headers.get("X-Device-State") or self._counter.device_state
        except urllib.error.HTTPError as err:
            raw = err.read()
            self._counter.device_state = err.headers.get("X-Device-State") or self._counter.device_state
            if err.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
            if err.code == 401 and _retry_auth and token is None and self._refresh():
                return self.call(method, path, params=params, body=body, _retry_auth=False, deferred=deferred)
            if err.code == 401:
                raise AuthError(401, payload) from None
            raise device_error(err.code, payload) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as err:
            raise TransportError(str(err)) from err
        self._counter.bytes_sent += len(data or b"")
        self._counter.bytes_received += len(raw)
        answer = Answer(raw, encoding, headers)
        return answer if deferred else answer.json()

    def _refresh(self) -> bool:
        refresh = self.store.state("refresh_token") if self.store else None
        if not refresh:
            return False
        try:
            tokens = self.call("POST", "/api/v1/auth/refresh", token=refresh, _retry_auth=False)
        except HttpError:
            return False
        with self.store.transaction():
            self.store.set_state("access_token", tokens["access_token"])
        return True

    def login(self, username: str, password: str) -> dict:
        """Sign in and keep the tokens in the store."""
        tokens = self.call("POST", "/api/v1/auth/login", body={"username": username, "password": password},
                           _retry_auth=False)
        with self.store.transaction():
            self.store.set_state("access_token", tokens["access_token"])
            self.store.set_state("refresh_token", tokens.get("refresh_token"))
            self.store.set_state("server_url", self.base_url)
            self.store.set_state("username", username)
        return tokens
