"""Writing notices (inbox items, queued SMS) in the caller's transaction, and reading them back, scoped."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..db import utcnow
from ..errors import NotFound
from ..scope import Actor, can_see_referral, sms_visible
from .models import InboxItem, SmsMessage

INBOX_TEXT_MAX = 300


def to_inbox(session: Session, user_ids: Iterable[int], topic: str, text: str,
             referral_id: str | None = None) -> int:
    """Put one notice in each user's inbox (in the caller's transaction); how many were added."""
    ids = list(dict.fromkeys(u for u in user_ids if u is not None))
    session.add_all(InboxItem(user_id=u, topic=topic, text=text[:INBOX_TEXT_MAX], referral_id=referral_id)
                    for u in ids)
    return len(ids)


def queue_sms(session: Session, *, topic: str, phone: str | None, text: str, dedupe_key: str | None = None,
              **about) -> SmsMessage | None:
    """Queue one SMS for the worker (in the caller's transaction). Nothing without a phone number, and
    nothing when a message with the same dedupe_key was queued before."""
    phone = (phone or "").strip()
    if not phone:
        return None
    if dedupe_key is not None and session.scalar(select(SmsMessage.id).where(SmsMessage.dedupe_key == dedupe_key)):
        return None
    message = SmsMessage(topic=topic, phone=phone, text=text, dedupe_key=dedupe_key, next_attempt_at=utcnow(),
                         **about)
    session.add(message)
    return message


def retire_notices(session: Session, row, user_ids: Iterable[int], note: str) -> int:
    """Mark the notices about a case (`row`) that these users can no longer open: claimed by a colleague of
    the pool, moved with its household to another team. Each is marked read and starts with `note` (what
    became of the case), so a notice never leads to a case its reader may not see. How many were marked."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    # By user first: the inbox index leads with user_id (a case's few readers, not every notice).
    items = session.scalars(select(InboxItem).where(InboxItem.user_id.in_(ids), InboxItem.referral_id == row.id)
                            .order_by(InboxItem.id)).all()
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({i.user_id for i in items})))}
    marked = 0
    for item in items:
        if can_see_referral(Actor.of(users[item.user_id]), row):
            continue
        item.read_at = item.read_at or utcnow()
        if not item.text.startswith(note):
            item.text = (note + item.text)[:INBOX_TEXT_MAX]
        marked += 1
    return marked


# --- the inbox (the caller's own) ---------------------------------------------------------------------

def inbox(actor: Actor, unread_only: bool = False):
    """A select of the caller's inbox, newest first."""
    stmt = select(InboxItem).where(InboxItem.user_id == actor.user_id).order_by(InboxItem.id.desc())
    if unread_only:
        stmt = stmt.where(InboxItem.read_at.is_(None))
    return stmt


def unread_count(session: Session, actor: Actor) -> int:
    """How many notices the caller has not read."""
    return session.scalar(select(func.count()).select_from(InboxItem)
                          .where(InboxItem.user_id == actor.user_id, InboxItem.read_at.is_(None)))


def mark_read(session: Session, actor: Actor, item_id: int | None = None) -> int:
    """Mark one of the caller's notices read (404 if it is not theirs), or all with item_id None."""
    stmt = update(InboxItem).where(InboxItem.user_id == actor.user_id, InboxItem.read_at.is_(None))
    if item_id is not None:
        if session.scalar(select(InboxItem.user_id).where(InboxItem.id == item_id)) != actor.user_id:
            raise NotFound("No such notice.", zh="没有这条通知。")
        stmt = stmt.where(InboxItem.id == item_id)
    return session.execute(stmt.values(read_at=utcnow()), execution_options={"synchronize_session": False}).rowcount


# --- SMS delivery status -----------------------------------------------------------------------------

def sms_status(actor: Actor, args: dict):
    """A select of the SMS messages the caller may see (their own; their team's or center's), newest first."""
    stmt = (select(SmsMessage).where(sms_visible(actor, SmsMessage.user_id, SmsMessage.team_id,
                                                 SmsMessage.center_id))
            .order_by(SmsMessage.id.desc()))
    for key in ("status", "referral_id", "resident_id", "topic"):
        if args.get(key):
            stmt = stmt.where(getattr(SmsMessage, key) == args[key])
    return stmt


def masked(phone: str) -> str:
    """A phone number as the status list shows it: the last four digits."""
    return "*" * max(len(phone) - 4, 0) + phone[-4:]


def due_dates(today: dt.date, days: int = 7) -> tuple[dt.date, dt.date]:
    """The window of a reminder 'due next week': tomorrow to a week from today."""
    return today + dt.timedelta(days=1), today + dt.timedelta(days=days)
