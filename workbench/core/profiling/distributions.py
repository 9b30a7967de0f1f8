"""Distributions in the profile: value histograms per field and how missing values go together.

This module owns two computations on a staged table, both in DuckDB SQL on the whole table:

- :func:`value_histograms`: for a field typed as a number or a date, equal-width bins of its values
  (``integer`` / ``decimal`` / ``date`` as in ``profile_columns.inferred_type``); for a text field,
  the distribution of value lengths (one bin per length when there are few);
- :func:`missing_correlations`: the correlation (phi coefficient) of the missing indicators of
  every pair of fields of a table: 1 when two fields are always missing together, as in
  ydata-profiling's missing-values correlation heatmap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from workbench.core.profiling.sql import _DATE_SHAPE, _DECIMAL_SHAPE, BLANK_PATTERN, DATE_FORMATS
from workbench.engine.sql import ident, literal

HISTOGRAM_COLUMNS = ["field", "measure", "bin", "lower", "upper", "count"]
"""``measure`` is ``value`` (numbers, dates as epoch days) or ``length`` (characters of text)."""
MAX_LENGTH_BINS = 40  # text lengths with at most this many distinct values get one bin each


def _value_expr(inferred: str, x: str) -> str | None:
    if inferred in ("integer", "decimal"):
        return (f"CASE WHEN regexp_full_match({x}, {literal(_DECIMAL_SHAPE)}) AND isfinite(try_cast({x} AS DOUBLE)) "
                f"THEN try_cast({x} AS DOUBLE) END")
    if inferred == "date":
        return (f"CASE WHEN regexp_full_match({x}, {literal(_DATE_SHAPE)}) THEN epoch(coalesce(try_cast({x} AS DATE), "
                "CAST(try_strptime(" + x + ", $formats::VARCHAR[]) AS DATE))) / 86400.0 END")
    return None


def value_histograms(
    con: duckdb.DuckDBPyConnection,
    table: str,
    types: Mapping[str, str],
    *,
    bins: int = 20,
    date_formats: Sequence[str] = DATE_FORMATS,
) -> pd.DataFrame:
    """Histogram rows ``(field, measure, bin, lower, upper, count)`` of every field in `types`.

    Args:
        con: the run database.
        table: a staged table.
        types: field → its inferred type (``integer``, ``decimal``, ``date``, ``text``; ``empty``
            fields are left out).
        bins: bins of a number or date histogram.
        date_formats: formats tried for dates besides ISO (as the profile does).
    """
    parts = []
    for field, inferred in types.items():
        if inferred == "empty":
            continue
        x = f"CAST({ident(field)} AS VARCHAR)"
        expr = _value_expr(inferred, x)
        measure = "value" if expr else "length"
        if expr is None:
            expr = (f"CASE WHEN NOT regexp_full_match({x}, {literal(BLANK_PATTERN)}) THEN length({x})::DOUBLE END")
        parts.append(
            f"SELECT {literal(field)} AS field, {literal(measure)} AS measure, v FROM "
            f"(SELECT {expr} AS v FROM {ident(table)} WHERE {ident(field)} IS NOT NULL) WHERE v IS NOT NULL"
        )
    if not parts:
        return pd.DataFrame(columns=HISTOGRAM_COLUMNS)
    sql = (
        f"WITH v AS ({' UNION ALL '.join(parts)}), "
        "r AS (SELECT field, measure, min(v) AS lo, max(v) AS hi, count(DISTINCT v) AS d FROM v GROUP BY ALL), "
        "b AS (SELECT v.field, v.measure, CASE WHEN r.measure = 'length' AND r.d <= $maxlen THEN v.v - r.lo "
        "WHEN r.hi = r.lo THEN 0 ELSE least(floor((v.v - r.lo) / ((r.hi - r.lo) / $bins)), $bins - 1) END AS bin, "
        "CASE WHEN r.measure = 'length' AND r.d <= $maxlen THEN 1.0 ELSE (r.hi - r.lo) / $bins END AS width, r.lo "
        "FROM v JOIN r USING (field, measure)) "
        "SELECT field, measure, bin::BIGINT AS bin, lo + bin * width AS lower, lo + (bin + 1) * width AS upper, "
        "count(*) AS count FROM b GROUP BY ALL ORDER BY field, bin"
    )
    params: dict[str, object] = {"bins": int(bins), "maxlen": MAX_LENGTH_BINS}
    if "$formats" in sql:
        params["formats"] = list(date_formats)
    order = {f: i for i, f in enumerate(types)}
    out = con.execute(sql, params).df()
    return out.sort_values(["field", "bin"], key=lambda s: s.map(order) if s.name == "field" else s,
                           kind="mergesort").reset_index(drop=True)[HISTOGRAM_COLUMNS]


def missing_correlations(con: duckdb.DuckDBPyConnection, table: str, fields: Sequence[str]) -> pd.DataFrame:
    """Phi coefficient of the missing (NULL or blank) indicators of every pair of `fields`.

    Returns:
        ``field_a, field_b, correlation, missing_a, missing_b`` for every pair (a before b in
        `fields`); the correlation is NaN when a field is never or always missing.
    """
    fields = list(fields)
    if len(fields) < 2:
        return pd.DataFrame(columns=["field_a", "field_b", "correlation", "missing_a", "missing_b"])
    flags = ", ".join(
        f"CASE WHEN {ident(f)} IS NULL OR regexp_full_match(CAST({ident(f)} AS VARCHAR), {literal(BLANK_PATTERN)}) "
        f"THEN 1.0 ELSE 0.0 END AS m{i}"
        for i, f in enumerate(fields)
    )
    pairs = [(i, j) for i in range(len(fields)) for j in range(i + 1, len(fields))]
    items = ", ".join(f"corr(m{i}, m{j}) AS c{i}_{j}" for i, j in pairs)
    shares = ", ".join(f"avg(m{i}) AS s{i}" for i in range(len(fields)))
    row = con.execute(f"SELECT {items}, {shares} FROM (SELECT {flags} FROM {ident(table)})").fetchall()[0]
    share = row[len(pairs):]
    out = []
    for k, (i, j) in enumerate(pairs):
        value = row[k]
        out.append({
            "field_a": fields[i],
            "field_b": fields[j],
            "correlation": float("nan") if value is None else float(value),
            "missing_a": float(share[i] or 0.0),
            "missing_b": float(share[j] or 0.0),
        })
    return pd.DataFrame(out, columns=["field_a", "field_b", "correlation", "missing_a", "missing_b"])
