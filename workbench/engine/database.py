"""The DuckDB seam: every connection the package opens comes from here.

DuckDB is the embedded engine. Connections are opened with extension auto-install and auto-load
off (no network at run time) and a fixed thread count, so runs are reproducible and offline.
Identifiers that come from config or files are checked and quoted here, never pasted raw into SQL.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from workbench.errors import WorkbenchError

_SAFE_SETTINGS = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def connect(path: str | Path | None = None, *, read_only: bool = False, threads: int | None = None):
    """Open a DuckDB connection with the workbench's offline settings.

    Args:
        path: database file; ``None`` for an in-memory database.
        read_only: open the file read-only (several readers may share it).
        threads: worker threads; default: the ``WORKBENCH_THREADS`` variable or all cores.
    """
    config: dict[str, object] = dict(_SAFE_SETTINGS)
    threads = threads or int(os.environ.get("WORKBENCH_THREADS", "0") or 0) or os.cpu_count() or 1
    config["threads"] = threads
    database = ":memory:" if path is None else str(path)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(database, read_only=read_only, config=config)


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL (any text is allowed; quotes are doubled)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise WorkbenchError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def table_exists(con, name: str) -> bool:
    # DuckDB 2: a partly read result blocks the connection, so always read results completely
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    return bool(rows[0][0])


def table_columns(con, table: str) -> list[str]:
    """Column names of a table, in order; raises if the table does not exist."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise WorkbenchError(
            f"table {table!r} does not exist in the run database; run the stage that writes it"
        )
    return [r[0] for r in rows]


def checked_column(con, table: str, column: str) -> str:
    """Return the quoted column after checking it exists in `table` (for building SQL safely)."""
    cols = table_columns(con, table)
    if column not in cols:
        raise WorkbenchError(f"table {table!r} has no column {column!r}; it has {cols}")
    return quote_ident(column)


def safe_table_name(prefix: str, name: str) -> str:
    """A table name made of a prefix and a config name that matched ``[a-z][a-z0-9_]*``."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise WorkbenchError(f"invalid name {name!r} for a table; use lower-case letters, digits and _")
    return f"{prefix}{name}"
