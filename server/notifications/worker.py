"""The SMS worker: sends due messages from the outbox through the gateway, with retries and backoff.

    python -m server.manage notify-worker [--once] [--batch 200] [--poll 5]

Each round claims up to `batch` due pending messages and commits the claim before any is sent: it moves
their next attempt a LEASE ahead (FOR UPDATE SKIP LOCKED on PostgreSQL while claiming, so two workers never
claim the same message). It then hands each to the gateway with no transaction open, and records the
outcomes in a second short transaction: sent (with the time and the gateway's reference), or another attempt
later (30 s, 1, 2, 4 ... minutes, at most an hour apart), or failed after MAX_ATTEMPTS or a permanent refusal,
with the last error kept. No transaction waits on the provider: on PostgreSQL one would hold back the oldest
running transaction id, and every tablet's pull reads the sync log only below it (server/sync), so a slow
provider would hold back every team's sync; it would also hold its row locks.
Delivery is at least once: a worker that stops between the gateway's yes and the record leaves the message
to be sent again when its lease runs out. A gateway that keeps failing (BREAKER transient failures in a row)
ends the round early, as does a round that has used half its lease: the rest of the batch is put back due as
it was, untried, so a provider that hangs costs a few timeouts a round, not one per message of the batch, and
the worker waits `poll` seconds before it tries again.
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
# How long a claimed message is this round's: longer than a round can take (it stops at half of it), so no
# other worker sends it meanwhile; a round that died leaves its messages due again after it.
LEASE = dt.timedelta(minutes=15)


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
    """Claim one batch of due messages, send them with no transaction open, and commit their outcomes."""
    started = now()
    rows = _claim(session, batch, started)
    result = Round(claimed=len(rows))
    outcomes, untried = [], []
    in_a_row = 0
    for n, row in enumerate(rows):
        if in_a_row >= BREAKER or now() - started > LEASE / 2:
            untried = [{"_id": r.id, "was": r.next_attempt_at} for r in rows[n:]]
            result.deferred = len(untried)
            log.warning("sms round ended early (%s failures in a row): %s messages left for the next round",
                        in_a_row, result.deferred)
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
    table = SmsMessage.__table__
    if outcomes:
        session.execute(update(table).where(table.c.id == bindparam("_id")), outcomes)
    if untried:  # due again as they were, not a lease away
        session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values(next_attempt_at=bindparam("was")), untried)
    session.commit()
    return result


def _claim(session: Session, batch: int, started: dt.datetime) -> list:
    """The due messages this round takes, leased to it in a transaction of their own (committed here)."""
    stmt = (select(SmsMessage.id, SmsMessage.phone, SmsMessage.text, SmsMessage.attempts,
                   SmsMessage.next_attempt_at)
            .where(SmsMessage.status == PENDING, SmsMessage.next_attempt_at <= started)
            .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if rows:
        session.execute(update(SmsMessage).where(SmsMessage.id.in_([r.id for r in rows]))
                        .values(next_attempt_at=started + LEASE))
    session.commit()
    return rows


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
