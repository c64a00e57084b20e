"""Offline sync between tablets and the center server (sync.md; issue 4).

Design in brief
---------------
* **Change log** (`sync_changes`): one row per change to a synced record *as one team sees it*: (seq,
  xid, entity, entity_id, team_id, op upsert|remove). It is written in the transaction of the change: an
  ORM `after_flush` listener covers every service write (changes.py); the bulk paths that bypass the ORM
  call `changes.log` / `changes.team_moves` explicitly (imports.write, assignment.assign). A household
  reassigned to another team gives the old team removals for it and everything hanging off it (residents,
  registry entries, ...) and the new team upserts of all of it.
* **Cursor = (xid, seq), not seq alone.** On PostgreSQL every change row carries its transaction's id
  (`pg_current_xact_id()`), and a pull returns only rows whose xid is below its snapshot's xmin, ordered by
  (xid, seq). The brief's "seq cursor + xmin filter" is not enough: transaction A (xid 100) can take seq 6
  after transaction B (xid 101) took seq 5; A commits, B is still open, xmin is 101, a reader returns seq 6
  and moves its cursor past 5, then B commits and seq 5 is never sent. Ordering by (xid, seq) makes the
  cursor monotonic in what can still appear: every transaction below xmin has finished, every row that
  becomes visible later has xid >= xmin > the cursor's xid. On SQLite writers are serialised, xid is 0 and
  seq order is commit order. Proved by tests/sync/test_concurrency.py against PostgreSQL.
* **Pull** (`GET /api/v1/sync/pull?cursor=&limit=`, role gp, the caller's team only): without a cursor a
  snapshot pages the entity tables directly (parents first, keyset by id) and then continues from the
  change-log position taken when the snapshot started, so writes during a long first sync are not missed.
  Incremental pages send each changed record once per page in its *current* state, or as a tombstone when
  it is no longer in the team's scope. Pages are column lists + row arrays, gzip when accepted, thousands
  of rows each. `remaining` drives the tablet's progress bar.
* **Push** (`POST /api/v1/sync/push`): a batch with a client UUID and records with client change UUIDs.
  The batch's answer is stored with its effects in one transaction, so a repeat gets the same answer and
  changes nothing; a record seen in an earlier batch answers `duplicate` with its first answer. Each record
  is applied in a savepoint through the same schemas and services as the REST API (push.py): `applied`,
  `conflict` (fields edited on the server since the tablet's `base` keep the server's value, the tablet's
  value goes to `sync_conflicts`; other fields still apply), or `rejected` with the REST error body. Every
  answer carries the record's current state (null when out of scope) so the tablet shows the truth.
  A record outside the team's scope (reassigned, removed) is rejected, never resurrected.
* **Epoch** (`server_state`): a UUID in every answer. After a restore, `python -m server.manage new-epoch`
  changes it (and folds the log's xids so new changes sort after the restored ones); tablets then re-send
  every record the old epoch acknowledged (duplicates are harmless) and download afresh. A server whose log
  is behind a tablet's cursor answers `reset` even without a new epoch.
* **Clocks**: device time and server receive time are both kept (`sync_receipts`, `sync_conflicts`);
  order is always the server's.
* **Registry** (registry.py): households, residents, chronic_conditions, follow-ups, lab reports and rows,
  referrals and their thread messages. Another entity registers its table, columns, scope query and parent
  in a few lines; a pull-only entity (lab results) has no push handler; an append-only one (follow-up
  visits, thread messages) accepts only `create`. Referrals are the team's cases (the API's scope: the
  team that sent them); a case written offline is created through the referrals service, so the server's
  state machine starts it. Thread messages are numbered by the server: a tablet's message keeps the
  tablet's id in `client_id` (`SyncedEntity.client_key`), which is how a repeated push finds it and how
  the tablet swaps its row for the server's. The specialists' directory travels with the reference lists.

Not done here: the team's later actions on a case (cancel, give information, close) from a tablet; they
go through the API with If-Match.
"""
from . import changes as _changes
from . import models  # noqa: F401  (tables for metadata)

_changes.install()
