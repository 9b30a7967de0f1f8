"""Profiling one table: per column statistics, top values and pattern masks.

This module owns the profile of a single DuckDB table (:func:`profile_table`). The table is read
once: one ``GROUP BY`` per column counts each distinct value into a scratch table, from which the
statistics, top values and patterns are computed (SQL from :mod:`workbench.core.profiling.sql`,
masks from :mod:`workbench.core.profiling.masks`), so every per-value function runs once per
distinct value, weighted by its count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from workbench.core.profiling.masks import MASK_RULES, MaskRule, mask_values
from workbench.core.profiling.sql import (
    DATE_FORMATS,
    build_column_stats_sql,
    build_pattern_frequencies_sql,
    build_patterns_sql,
    build_top_values_sql,
    build_value_counts_sql,
    check_columns,
    check_top_k,
)
from workbench.engine import catalog
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import LINEAGE_COLUMNS

TOP_K = 10
"""Top values and top patterns kept per column."""

TYPE_THRESHOLD = 0.95
"""A column is typed integer/decimal/date when at least this share of its filled values casts."""

_TMP_VALUES = catalog.temp("profile_values")
_TMP_MASKED = catalog.temp("profile_masked")


@dataclass
class TableProfile:
    """The profile of one table.

    Attributes:
        columns: one row per column (see :func:`profile_columns`).
        top_values: ``(field, rank, value, count, share)``; share of all rows.
        patterns: ``(field, rank, pattern, count, share, distinct_values, example)``.
    """

    columns: pd.DataFrame
    top_values: pd.DataFrame
    patterns: pd.DataFrame


def profile_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None = None,
    *,
    top_k: int = TOP_K,
    pattern_k: int | None = None,
    type_threshold: float = TYPE_THRESHOLD,
    date_formats: Sequence[str] = DATE_FORMATS,
) -> TableProfile:
    """Profile the columns of a table: statistics, top values and pattern masks.

    The table is read once: one ``GROUP BY`` per column counts each distinct value into a
    temporary table, from which the statistics, top values and patterns are computed, so every
    per-value function (length, casts, mask) runs once per distinct value, weighted by its count.
    Masks are computed with :func:`~workbench.core.profiling.masks.mask_values` (numpy), the rest
    in DuckDB.

    Args:
        con: a DuckDB connection (from :func:`workbench.engine.connection.connect`).
        table: the table to profile.
        columns: the columns, in order; default: every column except the lineage columns.
        top_k: top values kept per column.
        pattern_k: top patterns kept per column; default `top_k`.
        type_threshold: share of filled values that must cast for a column to be typed.
        date_formats: strptime formats recognised as dates besides ISO dates.

    Returns:
        The :class:`TableProfile`.

    Raises:
        WorkbenchError: a bad `top_k`, `pattern_k` or `type_threshold`, or a column not in the table.
    """
    check_top_k(top_k)
    pattern_k = top_k if pattern_k is None else pattern_k
    check_top_k(pattern_k)
    if not 0 < type_threshold <= 1:
        raise WorkbenchError(f"type_threshold must be in (0, 1], got {type_threshold!r}")
    schema = table_columns(con, table)
    if columns is None:
        columns = [c for c in schema if c not in LINEAGE_COLUMNS]
    columns = check_columns(table, list(columns), schema)

    rows = int(con.execute(f"SELECT count(*) FROM {ident(table)}").fetchall()[0][0])
    stats, top, pats = _count_values(con, table, columns, schema, top_k, pattern_k, date_formats)
    names = dict(enumerate(columns))
    top_values = _ranked_frame(top, names, rows, "value")
    patterns = _ranked_frame(pats, names, rows, "pattern").assign(
        distinct_values=pats["distinct_values"].astype("int64"), example=pats["example"]
    )
    pattern_counts = pats.groupby("pos")["patterns"].first().to_dict()

    records = []
    for i, column in enumerate(columns):
        records.append(
            _column_record(
                i,
                column,
                stats.loc[i].to_dict() if i in stats.index else {},
                rows,
                patterns=int(pattern_counts.get(i, 0)),
                top_values=top_values[top_values["field"] == column],
                top_patterns=patterns[patterns["field"] == column],
                type_threshold=type_threshold,
            )
        )
    return TableProfile(columns=pd.DataFrame.from_records(records), top_values=top_values, patterns=patterns)


def _count_values(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    schema: list[str],
    top_k: int,
    pattern_k: int,
    date_formats: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Count the distinct values of `columns` once, then compute from the counts the statistics
    (indexed by ``pos``), the top values and the top patterns of every column.

    The counts live in a TEMP table and the masked counts in a registered frame (both
    ``__wb_profile_*``), dropped before returning.
    """
    values_q = build_value_counts_sql(table, columns, schema)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(_TMP_VALUES)} AS {values_q.sql}", values_q.params)
    try:
        stats_q = build_column_stats_sql(_TMP_VALUES, date_formats=date_formats)
        stats = con.execute(stats_q.sql, stats_q.params).df().set_index("pos")
        top_q = build_top_values_sql(_TMP_VALUES, range(len(columns)), top_k)
        top = con.execute(top_q.sql, top_q.params).df()
        values = con.sql(f"SELECT pos, value, n FROM {ident(_TMP_VALUES)}").to_arrow_table()
        masked = values.append_column("pattern", mask_values(values.column("value")))
        with registered(con, _TMP_MASKED, masked):
            pat_q = build_patterns_sql(_TMP_MASKED, pattern_k)
            pats = con.execute(pat_q.sql, pat_q.params).df()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ident(_TMP_VALUES)}")
    return stats, top, pats


def _ranked_frame(ranked: pd.DataFrame, names: dict[int, str], rows: int, label: str) -> pd.DataFrame:
    """Top values or patterns ``(pos, rank, <label>, n, …)`` as ``(field, rank, <label>, count,
    share)``; share of all `rows`."""
    return pd.DataFrame(
        {
            "field": ranked["pos"].map(names),
            "rank": ranked["rank"].astype("int64"),
            label: ranked[label],
            "count": ranked["n"].astype("int64"),
            "share": ranked["n"] / rows if rows else float("nan"),
        }
    )


def profile_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None = None,
    *,
    top_k: int = TOP_K,
    type_threshold: float = TYPE_THRESHOLD,
    date_formats: Sequence[str] = DATE_FORMATS,
) -> pd.DataFrame:
    """Statistics of each column of a table, one row per column.

    Columns of the result: ``field, position, inferred_type, type_rate, rows, nulls, null_rate,
    blanks, blank_rate, filled, fill_rate, distinct, unique, min_length, max_length, avg_length,
    min_value, max_value, integer_rate, decimal_rate, date_rate, patterns, top_values,
    top_patterns``. Rates are shares of all rows, except the type rates (shares of filled values).
    ``min_value``/``max_value`` compare numbers and dates by value when the column is typed so,
    else as text.
    ``inferred_type`` is ``date``, ``integer``, ``decimal`` when at least `type_threshold` of the
    filled values cast to it (TRY_CAST / strptime), ``text`` otherwise, ``empty`` when nothing is
    filled. ``top_values`` / ``top_patterns`` summarise the top `top_k` as ``value (count)`` text.

    Args:
        con: a DuckDB connection.
        table: the table.
        columns: the columns to profile; default all but the lineage columns.
        top_k: values and patterns summarised per column.
        type_threshold: see above.
        date_formats: strptime formats recognised as dates besides ISO dates.
    """
    return profile_table(
        con, table, columns, top_k=top_k, type_threshold=type_threshold, date_formats=date_formats
    ).columns


def pattern_frequencies(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    k: int = TOP_K,
    rules: Sequence[MaskRule] = MASK_RULES,
) -> pd.DataFrame:
    """The `k` most frequent pattern masks of one column.

    Args:
        con: a DuckDB connection.
        table: the table.
        column: the column (checked against the table's columns).
        k: masks kept, most frequent first.
        rules: the mask rules.

    Returns:
        Columns ``pattern, count, share, example`` (share of the present values), most frequent
        first, ties by pattern.
    """
    q = build_pattern_frequencies_sql(table, column, table_columns(con, table), k, rules)
    return con.execute(q.sql, q.params).df()


def _rate(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else float("nan")


def _summary(df: pd.DataFrame, label: str) -> str:
    return " | ".join(f"{v} ({c:,})" for v, c in zip(df[label], df["count"], strict=True))


def _typed_text(value: Any) -> str | None:
    """A typed minimum/maximum as text: whole numbers without ``.0``, dates as ISO dates."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | np.floating):
        return format(float(value), ".15g")
    return str(int(value)) if isinstance(value, int | np.integer) else str(value)


def _column_record(
    i: int,
    column: str,
    stats: dict[str, Any],
    rows: int,
    *,
    patterns: int,
    top_values: pd.DataFrame,
    top_patterns: pd.DataFrame,
    type_threshold: float,
) -> dict[str, Any]:
    """One row of the column profile from the column's value-count statistics (empty if all NULL)."""

    def _get(key: str) -> Any:
        value = stats.get(key)
        return None if value is None or pd.isna(value) else value

    present = int(_get("present") or 0)
    blanks = int(_get("blanks") or 0)
    filled = present - blanks
    rates = {name: _rate(_get(f"{name}s") or 0, filled) for name in ("date", "integer", "decimal")}
    inferred, type_rate = ("empty", float("nan")) if filled == 0 else ("text", 1.0)
    if filled:
        for name in ("date", "integer", "decimal"):
            if rates[name] >= type_threshold:
                inferred, type_rate = name, rates[name]
                break
    distinct = int(_get("distinct") or 0)
    low, high = _get("min_value"), _get("max_value")
    if inferred in ("integer", "decimal", "date"):  # order numbers and dates by value, not as text
        low, high = _typed_text(_get(f"min_{inferred}")), _typed_text(_get(f"max_{inferred}"))
    return {
        "field": column,
        "position": i + 1,
        "inferred_type": inferred,
        "type_rate": type_rate,
        "rows": rows,
        "nulls": rows - present,
        "null_rate": _rate(rows - present, rows),
        "blanks": blanks,
        "blank_rate": _rate(blanks, rows),
        "filled": filled,
        "fill_rate": _rate(filled, rows),
        "distinct": distinct,
        "unique": present > 0 and distinct == present,
        "min_length": _get("min_length"),
        "max_length": _get("max_length"),
        "avg_length": _get("avg_length"),
        "min_value": low,
        "max_value": high,
        "integer_rate": rates["integer"],
        "decimal_rate": rates["decimal"],
        "date_rate": rates["date"],
        "patterns": patterns,
        "top_values": _summary(top_values, "value"),
        "top_patterns": _summary(top_patterns, "pattern"),
    }


def staged_table(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """The staged table of a source (``stg_<source>``), checked to exist in the run database.

    Raises:
        WorkbenchError: the source has not been ingested.
    """
    table = catalog.staged(source)
    if not table_exists(con, table):
        raise WorkbenchError(
            f"source {source!r} has no staged table {table!r} in the run database; "
            "run the ingest (workbench.core.ingest.ingest_sources) before profiling"
        )
    return table
