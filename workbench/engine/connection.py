"""The DuckDB seam: every connection the package opens comes from here.

DuckDB is the embedded engine. Connections are opened with extension auto-install and auto-load
off (no network at run time) and a fixed thread count, so runs are reproducible and offline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from workbench.errors import WorkbenchError

_SAFE_SETTINGS = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect(
    path: str | Path | None = None, *, read_only: bool = False, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the workbench's offline settings.

    Args:
        path: database file; ``None`` for an in-memory database.
        read_only: open the file read-only (several readers may share it).
        threads: worker threads; default: the ``WORKBENCH_THREADS`` variable or all cores.
    """
    config: dict[str, Any] = dict(_SAFE_SETTINGS)
    threads = threads or int(os.environ.get("WORKBENCH_THREADS", "0") or 0) or os.cpu_count() or 1
    config["threads"] = threads
    database = ":memory:" if path is None else str(path)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(database, read_only=read_only, config=config)


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # DuckDB 2: a partly read result blocks the connection, so always read results completely
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [str(name)]
    ).fetchall()
    return bool(rows[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table, in order; raises if the table does not exist."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
        [str(table)],
    ).fetchall()
    if not rows:
        raise WorkbenchError(
            f"table {str(table)!r} does not exist in the run database; run the stage that writes it"
        )
    return [r[0] for r in rows]


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: Any) -> Iterator[str]:
    """Register a pandas/Arrow frame as view `name` for the block, then unregister it."""
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)
