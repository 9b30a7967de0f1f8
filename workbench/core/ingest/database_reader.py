"""Read a source from PostgreSQL (``format: postgres``): a legacy ERP's table read in place.

The connection string is taken from the environment variable the source names
(``database.connection_env``); it is never written anywhere, and error messages name the source,
the table and the variable, not the connection. Rows are read with a server-side cursor in batches
and handed to staging like the rows of a file: every cell as text (NULL as the empty cell, dates
and timestamps in ISO form, numbers as PostgreSQL prints them), ``_row_number`` counting from 1 in
a stable order (the ID column, then the whole row as text), so a rerun on the same data stages the
same rows under the same numbers.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from typing import TYPE_CHECKING, Any

from workbench.core.ingest.reading import BLANK_ROW, RowSink, SourceRead, join_cells
from workbench.errors import SourceError

if TYPE_CHECKING:
    from workbench.project.config import SourceSpec

FETCH_ROWS = 10_000
"""Rows fetched from the server per round trip."""


def read_database_source(spec: SourceSpec, label: str) -> SourceRead:
    """Every row of the source's table or query, as staging wants them.

    Raises:
        SourceError: the variable is not set, the connection or the query fails, or the result has
            no ID column.
    """
    import psycopg

    header_query, query = _queries(spec)
    try:
        with psycopg.connect(_dsn(spec), connect_timeout=30) as conn:
            conn.read_only = True  # the workbench never writes to a legacy database
            headers = _headers(conn, header_query)
            if spec.id_column not in headers:
                raise SourceError(
                    f"{label}: no column {spec.id_column!r} (the id_column) in the result; columns: "
                    f"{', '.join(headers)}"
                )
            sink = RowSink(len(headers))
            with conn.cursor(name=f"workbench_{spec.name}") as cur:
                cur.itersize = FETCH_ROWS
                cur.execute(query.format(id=_quote(spec.id_column)))
                number = 0
                for row in cur:
                    number += 1
                    cells = [_text(v) for v in row]
                    if any(c.strip() for c in cells):
                        sink.add(number, cells)
                    else:
                        sink.quarantine.append((number, BLANK_ROW, join_cells(cells)))
    except psycopg.Error as exc:
        raise SourceError(f"{label}: {_message(exc)}") from exc
    return SourceRead(headers=headers, file_rows=number, batches=sink.finish(), quarantine=sink.quarantine)


def read_database_headers(spec: SourceSpec, label: str) -> list[str]:
    """The column names of the source's table or query (no rows are read)."""
    import psycopg

    header_query, _ = _queries(spec)
    try:
        with psycopg.connect(_dsn(spec), connect_timeout=30) as conn:
            conn.read_only = True
            return _headers(conn, header_query)
    except psycopg.Error as exc:
        raise SourceError(f"{label}: {_message(exc)}") from exc


def _dsn(spec: SourceSpec) -> str:
    assert spec.database is not None
    name = spec.database.connection_env
    dsn = os.environ.get(name)
    if not dsn:
        raise SourceError(
            f"the environment variable {name} is not set; export it with the connection string "
            "(e.g. postgresql://user@host:5432/db; the password in ~/.pgpass or PGPASSWORD)"
        )
    return dsn


def _queries(spec: SourceSpec) -> tuple[str, str]:
    """(the query that reads no row, the query of every row in stable order with ``{id}`` to fill)."""
    assert spec.database is not None
    db = spec.database
    if db.table is not None:
        inner = f"SELECT * FROM {'.'.join(_quote(part) for part in db.table.split('.'))}"
    else:
        inner = str(db.query).strip().rstrip(";")
    inner = inner.replace("{", "{{").replace("}", "}}")
    header = f"SELECT * FROM ({inner}) AS wb_source LIMIT 0"
    rows = (
        f"SELECT * FROM ({inner}) AS wb_source ORDER BY wb_source.{{id}}::text, "
        "row_to_json(wb_source)::text"
    )
    return header.replace("{{", "{").replace("}}", "}"), rows


def _headers(conn: Any, query: str) -> list[str]:
    cur = conn.execute(query)
    return [str(d.name).strip() for d in cur.description or []]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _message(exc: Exception) -> str:
    """The database's message without anything from the connection string."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the database refused: {text}; check the table or query and the connection in the environment variable"
