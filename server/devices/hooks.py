"""The tablet protocol on every sync request: X-Device-Id and X-Pending-Changes (and, optionally,
X-App-Version and X-Store-Version) are recorded in the registry; a lost or wiped tablet is refused (403
device_lost / device_wiped) before anything it sends is read; every answer to an enrolled tablet carries
X-Device-State. A request without X-Device-Id, or naming a tablet that never enrolled, is served unrecorded
(older tablets, tests)."""
from __future__ import annotations

import uuid

from flask import g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from .. import db
from ..db import utcnow
from ..errors import Invalid
from ..scope import Actor
from . import services

MAX_PENDING = 10_000_000


def watch_sync(blp) -> None:
    """Hook the device protocol onto a blueprint (the sync one)."""
    blp.before_request(_before_sync)
    blp.after_request(_after_sync)


def device_header() -> str | None:
    """The X-Device-Id as a canonical UUID, or None (absent, or not a UUID: never enrolled either way)."""
    raw = request.headers.get("X-Device-Id")
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def _bad_header(name: str, message: str, zh: str) -> Invalid:
    return Invalid(f"{name}: {message}", {name: [message]}, zh=f"{name}：{zh}。", zh_errors={name: [zh]})


def _int_header(name: str, limit: int) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) > limit:
        raise _bad_header(name, f"a whole number from 0 to {limit}", f"须为 0 到 {limit} 的整数")
    return int(raw)


def _report() -> services.Report:
    version = request.headers.get("X-App-Version")
    if version is not None and not 1 <= len(version) <= 40:
        raise _bad_header("X-App-Version", "1 to 40 characters", "须为 1 到 40 个字符")
    return services.Report(pending_changes=_int_header("X-Pending-Changes", MAX_PENDING), app_version=version,
                           store_version=_int_header("X-Store-Version", 1_000_000))


def _signed_in() -> Actor | None:
    """The caller if the request carries a valid token; else None (the view itself answers the 401)."""
    try:
        verify_jwt_in_request()
    except (JWTExtendedException, PyJWTError):
        return None
    return Actor.of(current_user)


def _before_sync():
    device_id = device_header()
    if device_id is None:
        return None
    report = _report()
    actor = _signed_in()
    session = db.session()
    contact = services.sync_contact(session, actor, device_id, report, utcnow())
    session.commit()  # what the tablet reported stays even when it is refused below
    g.sync_device = (device_id, contact)
    if contact.refusal is not None:
        raise contact.refusal
    return None


def _after_sync(response):
    device_id, contact = g.pop("sync_device", (None, None))
    if contact is None or contact.state is None:
        return response
    response.headers["X-Device-State"] = contact.state
    if contact.recorded and contact.refusal is None and response.status_code < 400:
        session = db.session()
        services.synced(session, device_id, utcnow())
        session.commit()
    return response
