"""Inserting many rows at once: PostgreSQL COPY, or a plain executemany elsewhere (SQLite).

The import writer and the sync change log write tens of thousands of rows in one transaction. On
PostgreSQL an executemany INSERT costs a statement round trip and a Python-side parameter dump per row
(profiled: most of the writer's time); COPY streams the rows into the same transaction instead.
Both paths insert exactly the given columns; database-side defaults fill the rest.

Rows may come from a generator: COPY then takes each row as it is made, so PostgreSQL (on its own core)
checks and indexes the rows already sent while Python builds the next ones, instead of waiting for the
whole list (the import writer builds a team's residents this way; see imports.services.write).
"""
from __future__ import annotations

import json
from itertools import chain, islice
from operator import itemgetter
from typing import Iterable, Sequence

from sqlalchemy import JSON, Table, insert
from sqlalchemy.engine import Connection

_CHUNK = 5000


def insert_rows(conn: Connection, table: Table, rows: Iterable, chunk: int = _CHUNK,
                columns: Sequence[str] | None = None) -> int:
    """Insert rows into table in the connection's transaction; returns how many.

    Without `columns` the rows are dicts with the same keys; with it they are tuples in that column order.
    Either may be any iterable, a generator included (read once, in order)."""
    it = iter(rows)
    if columns is None:
        first = next(it, None)
        if first is None:
            return 0
        columns = list(first)
        pick = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
        it = map(pick, chain((first,), it))
    columns = list(columns)
    if conn.dialect.name != "postgresql":
        n = 0
        while part := [dict(zip(columns, row)) for row in islice(it, chunk)]:
            conn.execute(insert(table), part)
            n += len(part)
        return n
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    n = 0
    # The session's own DBAPI connection, so the rows share its transaction (all-or-nothing).
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(sql) as copy:
        write = copy.write_row
        if not json_at:
            for row in it:
                write(row)
                n += 1
        else:
            for row in it:
                values = list(row)
                for i in json_at:
                    values[i] = _json_text(values[i])
                write(values)
                n += 1
    return n


def _json_text(value) -> str | None:
    # Text COPY parses each field as the column's type; most imported lists are empty, so skip dumps().
    if value is None:
        return None
    if not value and isinstance(value, (list, dict)):
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)
