"""The SMS worker: sends due messages from the outbox through the gateway, with retries and backoff.

    python -m server.manage notify-worker [--once] [--batch 200] [--poll 5]

Each round claims up to `batch` due pending messages (FOR UPDATE SKIP LOCKED on PostgreSQL, so two workers
never send the same message), hands each to the gateway and records the outcome in the same transaction:
sent (with the time and the gateway's reference), or another attempt later (30 s, 1, 2, 4 ... minutes, at
most an hour apart), or failed after MAX_ATTEMPTS or a permanent refusal, with the last error kept.
Delivery is at least once: if the database is lost between the gateway's yes and the commit, that message
is sent again next round. A gateway that keeps failing (BREAKER transient failures in a row) ends the round
early: the rest of the batch stays pending, untried, so a provider that hangs costs a few timeouts a round,
not one per message of the batch, and the worker waits `poll` seconds before it tries again.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from .gateways import Gateway, GatewayError, Outgoing
from .models import FAILED, PENDING, SENT, SmsMessage

log = logging.getLogger("server.notifications")
MAX_ATTEMPTS = 8
FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
BREAKER = 5


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after `attempts` failed ones: 30 s doubling, at most an hour."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


@dataclass
class Round:
    """What one round did."""

    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    deferred: int = 0  # claimed but not tried: the gateway kept failing (BREAKER)


def run_once(session: Session, gateway: Gateway, batch: int = 200, now: Callable[[], dt.datetime] = utcnow) -> Round:
    """Send one batch of due messages and commit their outcomes."""
    started = now()
    stmt = (select(SmsMessage.id, SmsMessage.phone, SmsMessage.text, SmsMessage.attempts)
            .where(SmsMessage.status == PENDING, SmsMessage.next_attempt_at <= started)
            .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    result = Round(claimed=len(rows))
    outcomes = []
    in_a_row = 0
    for n, row in enumerate(rows):
        if in_a_row >= BREAKER:
            result.deferred = len(rows) - n
            log.warning("sms gateway failed %s times in a row: %s messages left for the next round", in_a_row,
                        result.deferred)
            break
        attempts = row.attempts + 1
        try:
            ref = gateway.send(Outgoing(row.id, row.phone, row.text))
        except GatewayError as err:
            give_up = err.permanent or attempts >= MAX_ATTEMPTS
            outcomes.append({"_id": row.id, "status": FAILED if give_up else PENDING, "attempts": attempts,
                             "last_error": str(err)[:500], "next_attempt_at": now() + backoff(attempts),
                             "gateway_ref": None, "sent_at": None})
            result.failed += give_up
            result.retry += not give_up
            in_a_row = 0 if err.permanent else in_a_row + 1
            log.warning("sms %s attempt %s failed%s: %s", row.id, attempts, " (giving up)" if give_up else "", err)
            continue
        outcomes.append({"_id": row.id, "status": SENT, "attempts": attempts, "last_error": None,
                         "next_attempt_at": started, "gateway_ref": ref, "sent_at": now()})
        result.sent += 1
        in_a_row = 0
    if outcomes:
        session.execute(update(SmsMessage.__table__).where(SmsMessage.__table__.c.id == bindparam("_id")),
                        outcomes)
    session.commit()
    return result


def serve(maker, gateway: Gateway, batch: int = 200, poll: float = 5.0, once: bool = False,
          stop: Callable[[], bool] = lambda: False) -> Round:
    """Run rounds until stopped (or one pass over what is due, with once); a full batch goes again at once."""
    total = Round()
    while True:
        with maker() as session:
            done = run_once(session, gateway, batch)
        for field in ("claimed", "sent", "retry", "failed", "deferred"):
            setattr(total, field, getattr(total, field) + getattr(done, field))
        idle = done.claimed < batch or done.deferred  # nothing more due now, or the gateway is down
        if stop() or (idle and once):
            return total
        if idle:
            time.sleep(poll)
