"""Hospital feeds and their keys: adding and revoking a feed, and which feed a key (X-Lab-Feed-Key) is.

A feed is a hospital's interface engine with its own random key (header X-Lab-Feed-Key over HTTP); the MLLP
listener is bound to one feed when it starts, since MLLP has no authentication of its own. Only a hash of a
key is stored; the key is shown once, when the feed is added.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import services as audit
from ..db import utcnow
from ..errors import NotFound, Unauthorized, field_error
from ..org.models import Center, Hospital
from ..scope import Actor, require_admin
from .models import LabFeed

KEY_HEADER = "X-Lab-Feed-Key"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_feed(session: Session, actor: Actor, data: dict) -> tuple[LabFeed, str]:
    """A new feed for a hospital and the centers it serves; returns the feed and its key (shown only once)."""
    require_admin(actor, "Only an admin adds lab feeds.")
    if session.get(Hospital, data["hospital_id"]) is None:
        raise field_error("hospital_id", "no such hospital")
    centers = session.scalars(select(Center).where(Center.id.in_(data["center_ids"]))).all()
    missing = set(data["center_ids"]) - {c.id for c in centers}
    if missing:
        raise field_error("center_ids", f"no such center: {sorted(missing)}")
    key = secrets.token_urlsafe(32)
    feed = LabFeed(hospital_id=data["hospital_id"], name=data["name"], key_hash=_hash(key), key_hint=key[:6],
                   created_by=actor.user_id, centers=list(centers))
    session.add(feed)
    session.flush()
    audit.record(session, actor, "create", "lab_feed", str(feed.id))
    return feed, key


def revoke_feed(session: Session, actor: Actor, feed_id: str) -> LabFeed:
    """Stop a feed's key from working (its messages stay)."""
    require_admin(actor, "Only an admin revokes lab feeds.")
    feed = session.get(LabFeed, int(feed_id)) if str(feed_id).isdigit() else None
    if feed is None:
        raise NotFound("No such lab feed.")
    feed.revoked_at = feed.revoked_at or utcnow()
    audit.record(session, actor, "update", "lab_feed", str(feed.id), detail={"revoked": True})
    return feed


@dataclass(frozen=True)
class FeedRef:
    """What intake needs of a feed (a LabFeed row serves as well): plain values, safe to share across
    requests and threads."""

    id: int
    hospital_id: int
    name: str


# Key hash -> feed, filled on first use. A key belongs to one feed for ever (keys are random and never
# reassigned), so only revocation can change the answer, and that is checked in the transaction that stores
# the message (intake._insert_while_feed_live), not here: no SELECT of the feed per message, no stale
# revocation.
_FEEDS: dict[str, FeedRef] = {}


def feed_for_key(session: Session, key: str) -> FeedRef:
    """The feed holding this key; Unauthorized when it is unknown (or, on first use, revoked)."""
    digest = _hash(key)
    ref = _FEEDS.get(digest)
    if ref is None:
        feed = session.scalar(select(LabFeed).where(LabFeed.key_hash == digest))
        if feed is None or feed.revoked_at is not None:
            raise revoked_error()
        ref = _FEEDS[digest] = FeedRef(feed.id, feed.hospital_id, feed.name)
    return ref


def revoked_error() -> Unauthorized:
    return Unauthorized("This lab feed key is unknown or revoked.", {"authentication": "invalid_feed_key"})


class FeedRevoked(Exception):
    """The feed was revoked after its key was cached: nothing was stored (the caller answers 401/AR)."""


def facility_encodings(config: Mapping) -> dict[str, str]:
    """Per-sending-facility (MSH-4) charsets: config LAB_FACILITY_ENCODINGS, else that env variable as JSON."""
    value = config.get("LAB_FACILITY_ENCODINGS")
    if value is None:
        value = json.loads(os.environ.get("LAB_FACILITY_ENCODINGS") or "{}")
    return dict(value)
