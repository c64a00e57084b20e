"""Inserting many rows at once: PostgreSQL COPY, or a plain executemany elsewhere (SQLite).

The import writer and the sync change log write tens of thousands of rows in one transaction. On
PostgreSQL an executemany INSERT costs a statement round trip and a Python-side parameter dump per row
(profiled: most of the writer's time); COPY streams the rows into the same transaction instead.
Both paths insert exactly the given columns; database-side defaults fill the rest.
"""
from __future__ import annotations

import json
from operator import itemgetter

from sqlalchemy import JSON, Table, insert
from sqlalchemy.engine import Connection

_CHUNK = 5000


def insert_rows(conn: Connection, table: Table, rows: list[dict], chunk: int = _CHUNK) -> int:
    """Insert rows (dicts with the same keys) into table in the connection's transaction; returns how many."""
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        for i in range(0, len(rows), chunk):
            conn.execute(insert(table), rows[i:i + chunk])
        return len(rows)
    columns = list(rows[0])
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    pick = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    # The session's own DBAPI connection, so the rows share its transaction (all-or-nothing).
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(sql) as copy:
        if not json_at:
            for row in rows:
                copy.write_row(pick(row))
        else:
            for row in rows:
                values = list(pick(row))
                for i in json_at:
                    values[i] = _json_text(values[i])
                copy.write_row(values)
    return len(rows)


def _json_text(value) -> str | None:
    # Text COPY parses each field as the column's type; most imported lists are empty, so skip dumps().
    if value is None:
        return None
    if not value and isinstance(value, (list, dict)):
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)
