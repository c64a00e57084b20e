"""SMS gateways: where the worker hands a text message over. Chosen by configuration (SMS_GATEWAY).

    file  (default) one JSON line per message appended to SMS_FILE (instance/sms.jsonl): for the demo, for
          a site without a contract yet, and for an operator who forwards the file by other means
    http  POST {"phone", "text", "id"} as JSON to SMS_HTTP_URL (an SMS provider or a relay in front of
          one), with SMS_HTTP_TIMEOUT seconds and an optional SMS_HTTP_TOKEN as a bearer token

A gateway raises GatewayError; `permanent` says that sending the same message again cannot help (the
provider refused it: 4xx other than 408/429), so the worker stops retrying it.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """What a gateway needs of one message (plain values, no database row)."""

    id: int
    phone: str
    text: str


class GatewayError(Exception):
    """The gateway did not take the message; `permanent`: retrying the same message cannot succeed."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Gateway(Protocol):
    def send(self, message: Outgoing) -> str | None:
        """Hand one message over; the gateway's reference for it (or None). Raises GatewayError."""


class FileGateway:
    """Appends one JSON line per message to a file (the default gateway)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str | None:
        line = json.dumps({"id": message.id, "phone": message.phone, "text": message.text}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as err:
            raise GatewayError(f"cannot write {self.path}: {err.strerror or err}") from None
        return None


class HttpGateway:
    """POSTs each message as JSON to a URL; a 2xx answer means the provider took it."""

    def __init__(self, url: str, timeout: float = 5.0, token: str | None = None):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"SMS_HTTP_URL must be an http(s) URL (got {url!r})")
        self.url, self.timeout, self.token = url, timeout, token

    def send(self, message: Outgoing) -> str | None:
        body = json.dumps({"id": str(message.id), "phone": message.phone, "text": message.text},
                          ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 - http(s) checked
                answer = resp.read(4096)
        except urllib.error.HTTPError as err:
            permanent = 400 <= err.code < 500 and err.code not in (408, 429)
            raise GatewayError(f"HTTP {err.code} from the SMS gateway", permanent=permanent) from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", None) or err
            raise GatewayError(f"SMS gateway unreachable: {reason}") from None
        try:
            ref = json.loads(answer or b"{}").get("id")
        except (ValueError, AttributeError):
            ref = None
        return str(ref)[:100] if ref is not None else None


def from_config(config) -> Gateway:
    """The gateway the configuration names (SMS_GATEWAY: file or http)."""
    kind = (config.get("SMS_GATEWAY") or "file").lower()
    if kind == "file":
        return FileGateway(config["SMS_FILE"])
    if kind == "http":
        if not config.get("SMS_HTTP_URL"):
            raise ValueError("SMS_GATEWAY=http needs SMS_HTTP_URL")
        return HttpGateway(config["SMS_HTTP_URL"], float(config.get("SMS_HTTP_TIMEOUT") or 5),
                           config.get("SMS_HTTP_TOKEN") or None)
    raise ValueError(f"SMS_GATEWAY must be file or http (got {kind!r})")
