"""SQL text helpers: the one place that quotes identifiers and literals.

Values are bound as parameters (``?``) wherever DuckDB allows it. Where it does not (a file path in
``COPY … TO``, a constant inside generated SQL such as Splink comparison levels), text goes through
:func:`literal`; identifiers from config or files go through :func:`ident` after the caller has checked them
against the schema (e.g. :func:`workbench.core.profiling.sql.check_columns`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError


def ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL (any text is allowed; quotes are doubled)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise WorkbenchError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A SQL string literal for `value` (``NULL`` for None; single quotes doubled)."""
    if value is None:
        return "NULL"
    text = str(value)
    if "\x00" in text:
        raise WorkbenchError(f"a NUL character cannot be part of a SQL literal: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def literal_list(values: Iterable[Any]) -> str:
    """A DuckDB list literal ``['a', 'b']`` of string literals."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def copy_to(query: str, path: Path | str, options: str = "") -> str:
    """``COPY (query) TO 'path' (options)`` with the path quoted safely (apostrophes and all)."""
    opts = f" ({options})" if options and not options.lstrip().startswith("(") else f" {options}" if options else ""
    return f"COPY ({query}) TO {literal(Path(path))}{opts}"
