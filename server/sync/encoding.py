"""Compact JSON responses, gzipped when the client accepts it (pages are large and compress ~10x)."""
from __future__ import annotations

import gzip
import json

from flask import Response, request

GZIP_LEVEL = 5  # measured: level 5 is within a few per cent of 9 in size at a third of the time
MIN_GZIP = 1024


class RawJSONList:
    """A JSON array whose elements are already encoded (UTF-8 bytes each, e.g. rows PostgreSQL built): it goes
    into the body as it is."""

    __slots__ = ("items",)

    def __init__(self, items: list[bytes]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        """The elements decoded (for a reader on the server; the wire takes the bytes)."""
        return (json.loads(item) for item in self.items)


def dumps(value) -> bytes:
    """JSON without spaces or ASCII escapes; dicts are walked so that RawJSONList values are spliced in."""
    if isinstance(value, RawJSONList):
        return b"[" + b",".join(value.items) + b"]"
    if isinstance(value, dict):
        return b"{" + b",".join(_dumps(str(k)) + b":" + dumps(v) for k, v in value.items()) + b"}"
    return _dumps(value)


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(payload: dict, status: int = 200) -> Response:
    """A JSON response without spaces or ASCII escapes; gzip when Accept-Encoding allows and it pays."""
    body = dumps(payload)
    resp = Response(status=status, mimetype="application/json")
    resp.vary.add("Accept-Encoding")
    if len(body) >= MIN_GZIP and "gzip" in request.accept_encodings:
        body = gzip.compress(body, GZIP_LEVEL, mtime=0)
        resp.headers["Content-Encoding"] = "gzip"
    resp.set_data(body)
    return resp
