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
# How long a claimed message is this round's: longer than a round should take (it stops trying at half of
# it), so no other worker sends it meanwhile; a round that died leaves the message it had in flight due again
# after it. Outcomes are written only while the lease holds.
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
    deferred: int = 0  # claimed, not tried: the gateway kept failing (BREAKER), half the lease used, a stop


def run_once(session: Session, gateway: Gateway, batch: int = 200, now: Callable[[], dt.datetime] = utcnow,
             stop: Callable[[], bool] = lambda: False) -> Round:
    """Claim one batch of due messages, send them with no transaction open, and commit their outcomes. What
    was tried is recorded however the round ends (an error escaping, the process stopping): only the
    message in flight then is left leased, as it may have gone out."""
    started = now()
    lease = started + LEASE
    rows = _claim(session, batch, started, lease)
    result = Round(claimed=len(rows))
    outcomes: list[dict] = []
    tried = 0  # rows[:tried] went to the gateway (the last one may still be in flight when an error escapes)
    in_a_row = 0
    try:
        for row in rows:
            why = _why_stop(in_a_row, now() - started, stop)
            if why:
                result.deferred = len(rows) - tried
                log.warning("sms round ended early (%s): %s messages left for the next round", why,
                            result.deferred)
                break
            tried += 1
            outcome, transient = _attempt(gateway, row, started, now)
            kind = outcome.pop("kind")
            outcomes.append(outcome)
            setattr(result, kind, getattr(result, kind) + 1)
            in_a_row = in_a_row + 1 if transient else 0
    finally:
        _record(session, outcomes, rows[tried:], lease)
    return result


def _why_stop(failures_in_a_row: int, elapsed: dt.timedelta, stop: Callable[[], bool]) -> str | None:
    """Why the round tries no more messages, or None."""
    if failures_in_a_row >= BREAKER:
        return f"the gateway failed {failures_in_a_row} times in a row"
    if elapsed > LEASE / 2:
        return "half the lease is used"
    return "stopping" if stop() else None


def _attempt(gateway: Gateway, row, started: dt.datetime,
             now: Callable[[], dt.datetime]) -> tuple[dict, bool]:
    """One message to the gateway: its outcome row (with "kind": sent, retry or failed) and whether it failed
    in a way that may pass (counted towards BREAKER)."""
    attempts = row.attempts + 1
    try:
        ref = gateway.send(Outgoing(row.id, row.phone, row.text))
    except Exception as err:  # noqa: BLE001 - any failure of the provider's call is this message's
        permanent = isinstance(err, GatewayError) and err.permanent
        give_up = permanent or attempts >= MAX_ATTEMPTS
        log.warning("sms %s attempt %s failed%s: %r", row.id, attempts, " (giving up)" if give_up else "",
                    err)
        return ({"_id": row.id, "kind": "failed" if give_up else "retry",
                 "status": FAILED if give_up else PENDING, "attempts": attempts,
                 "last_error": str(err)[:500] or type(err).__name__,
                 "next_attempt_at": now() + backoff(attempts), "gateway_ref": None, "sent_at": None},
                not permanent)
    return ({"_id": row.id, "kind": "sent", "status": SENT, "attempts": attempts, "last_error": None,
             "next_attempt_at": started, "gateway_ref": ref, "sent_at": now()}, False)


def _claim(session: Session, batch: int, started: dt.datetime, lease: dt.datetime) -> list:
    """The due messages this round takes, leased to it (next attempt at `lease`) and committed here. The
    update takes only rows still due: SQLite has no SKIP LOCKED, and a second worker that read the same
    rows meanwhile gets none of those the first leased."""
    table = SmsMessage.__table__
    stmt = (select(table.c.id, table.c.phone, table.c.text, table.c.attempts, table.c.next_attempt_at)
            .where(table.c.status == PENDING, table.c.next_attempt_at <= started)
            .order_by(table.c.next_attempt_at, table.c.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if rows:
        ids = [r.id for r in rows]
        taken = session.execute(update(table).where(table.c.id.in_(ids), table.c.status == PENDING,
                                                    table.c.next_attempt_at <= started)
                                .values(next_attempt_at=lease)).rowcount
        if taken != len(rows):
            mine = set(session.scalars(select(table.c.id).where(table.c.id.in_(ids),
                                                                table.c.next_attempt_at == lease)))
            rows = [r for r in rows if r.id in mine]
    session.commit()
    return rows


def _record(session: Session, outcomes: list[dict], untried: list, lease: dt.datetime) -> None:
    """Write the round's outcomes, and put what it did not try back due as it was, on the rows this round
    still holds: a lease that ran out (a send that outlasted it) may have let another round take a message,
    whose own outcome stands."""
    table = SmsMessage.__table__
    held = (table.c.id == bindparam("_id"), table.c.status == PENDING,
            table.c.next_attempt_at == bindparam("lease"))
    if outcomes:
        done = session.execute(update(table).where(*held), [{**o, "lease": lease} for o in outcomes]).rowcount
        if 0 <= done < len(outcomes):
            log.warning("sms round: %s outcomes not recorded, their lease ran out (another round may have "
                        "sent them too)", len(outcomes) - done)
    if untried:
        session.execute(update(table).where(*held).values(next_attempt_at=bindparam("was")),
                        [{"_id": r.id, "was": r.next_attempt_at, "lease": lease} for r in untried])
    session.commit()


def serve(maker, gateway: Gateway, batch: int = 200, poll: float = 5.0, once: bool = False,
          stop: Callable[[], bool] = lambda: False) -> Round:
    """Run rounds until stopped (or one pass over what is due, with once); a full batch goes again at once."""
    total = Round()
    while True:
        with maker() as session:
            done = run_once(session, gateway, batch, stop=stop)
        for field in ("claimed", "sent", "retry", "failed", "deferred"):
            setattr(total, field, getattr(total, field) + getattr(done, field))
        idle = done.claimed < batch or done.deferred  # nothing more due now, or the gateway is down
        if stop() or (idle and once):
            return total
        if idle:
            time.sleep(poll)
