"""The SQL of the profile: pure builders, one per query, each testable on an in-memory DuckDB.

This module owns every SQL text the profile runs. A builder takes table and column names (checked
against the table's schema with :func:`check_columns` and quoted with
:func:`workbench.engine.sql.ident`) and returns a :class:`SqlQuery`: the SQL and the values bound
to its ``?`` placeholders. It also owns the settings the SQL depends on: the date formats tried,
the shapes of numbers and dates, what a blank value is, and how keys (phone, e-mail, tax ID) are
split and lightly normalised before sources are compared (:func:`key_normalizers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from workbench.core.profiling.masks import MASK_RULES, MaskRule, mask_expression
from workbench.engine.sql import ident, literal
from workbench.errors import WorkbenchError
from workbench.project.config import Kind

DATE_FORMATS: tuple[str, ...] = ("%Y年%m月%d日", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%Y")
"""strptime formats tried (after DuckDB's own ISO date cast) to recognise dates in text."""

# Only values of these shapes are handed to the (slower) casts: digits in three groups for dates,
# plain decimal notation for numbers (no hex, no thousands separators).
_DATE_SHAPE = (
    r"[0-9]{4}[^0-9]{1,2}[0-9]{1,2}[^0-9]{1,2}[0-9]{1,2}.{0,20}|[0-9]{8}"
    r"|[0-9]{1,2}[^0-9][0-9]{1,2}[^0-9][0-9]{4}"
)
_INTEGER_SHAPE = r"\s*[-+]?[0-9]+\s*"
_DECIMAL_SHAPE = r"\s*[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?\s*"

BLANK_PATTERN = r"[\s\p{Z}]*"
"""A present value that fully matches this (RE2) is blank: empty or only whitespace (incl. U+3000)."""

MULTI_VALUE_SPLIT = r"[;/,；，、|]"
"""Separators of several keys in one cell (``13800138000;13912345678``, ``…/021-62345678``)."""

MIN_PHONE_DIGITS = 7
"""Phone keys with fewer digits are ignored in overlaps (fragments, placeholders like ``0``)."""

MOBILE_PATTERNS: dict[str, tuple[str, int]] = {"CN": ("1[3-9][0-9]{9}", 11)}
"""Per region, the digits of a mobile number (RE2, and how many there are): a phone key ending in
one is cut to it (so ``86 138…`` and ``+86-138…`` meet ``138…``)."""


class SqlQuery(NamedTuple):
    """SQL text and the values bound to its ``?`` placeholders."""

    sql: str
    params: list[Any]


@dataclass(frozen=True)
class KeySpec:
    """The fields of one kind in one source whose keys are compared with other sources."""

    source: str
    table: str
    key_kind: str
    fields: tuple[str, ...]
    order: int = 0
    """the source's position in the config (orders pairs and results)"""


def check_columns(table: str, columns: Sequence[str], schema: Sequence[str]) -> list[str]:
    """Return `columns` after checking each exists in `schema` (the table's columns).

    Raises:
        WorkbenchError: naming the table, the unknown column(s) and the columns it has.
    """
    missing = [c for c in columns if c not in schema]
    if missing:
        raise WorkbenchError(
            f"table {table!r} has no column(s) {missing}; it has {list(schema)}. "
            "Check the field names (they come from the source's `columns:` in the config)"
        )
    if not columns:
        raise WorkbenchError(f"no columns to profile in table {table!r}")
    return list(columns)


def check_top_k(k: int) -> None:
    """Check `k`, the number of values (or patterns) kept per column.

    Raises:
        WorkbenchError: `k` is not a whole number of at least 1.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise WorkbenchError(f"k (values to keep per column) must be a positive whole number, got {k!r}")


# --------------------------------------------------------------------------------------------
# column statistics, top values and patterns


def build_column_stats_sql(values_table: str, *, date_formats: Sequence[str] = DATE_FORMATS) -> SqlQuery:
    """Statistics per column from a ``(pos, value, n)`` table of value counts.

    Each per-value test runs once per distinct value, weighted by its count. Rows: ``pos,
    present, blanks, distinct, min_length, max_length, avg_length, min_value, max_value`` (text
    order), and per type ``integers, min_integer, max_integer, decimals, min_decimal,
    max_decimal, dates, min_date, max_date`` (how many values cast to the type, and the least and
    greatest of them).
    """
    typed = (
        "SELECT pos, value, n, "
        f"regexp_full_match(value, {literal(BLANK_PATTERN)}) AS is_blank, "
        f"CASE WHEN regexp_full_match(value, {literal(_INTEGER_SHAPE)}) "
        "THEN try_cast(value AS BIGINT) END AS as_integer, "
        f"CASE WHEN regexp_full_match(value, {literal(_DECIMAL_SHAPE)}) "
        "AND isfinite(try_cast(value AS DOUBLE)) THEN try_cast(value AS DOUBLE) END AS as_decimal, "
        f"CASE WHEN regexp_full_match(value, {literal(_DATE_SHAPE)}) THEN "
        "coalesce(try_cast(value AS DATE), CAST(try_strptime(value, ?::VARCHAR[]) AS DATE)) END AS as_date "
        f"FROM {ident(values_table)}"
    )
    # CASE inside sum() is much faster in DuckDB than aggregate FILTER clauses here
    counts = ", ".join(
        f"coalesce(sum(CASE WHEN as_{t} IS NOT NULL THEN n END), 0)::BIGINT AS {t}s, "
        f"min(as_{t}) AS min_{t}, max(as_{t}) AS max_{t}"
        for t in ("integer", "decimal", "date")
    )
    return SqlQuery(
        f"WITH typed AS ({typed}) "
        "SELECT pos, sum(n)::BIGINT AS present, "
        "coalesce(sum(CASE WHEN is_blank THEN n END), 0)::BIGINT AS blanks, "
        "count(*) AS distinct, min(length(value)) AS min_length, max(length(value)) AS max_length, "
        "sum(n * length(value)) / sum(n) AS avg_length, min(value) AS min_value, max(value) AS max_value, "
        f"{counts} FROM typed GROUP BY pos ORDER BY pos",
        [list(date_formats)],
    )


def build_value_counts_sql(table: str, columns: Sequence[str], schema: Sequence[str]) -> SqlQuery:
    """Count every distinct present value of every column: rows ``(pos, value, n)``.

    ``pos`` is the 0-based position of the column in `columns`. One ``GROUP BY`` per column
    (joined with ``UNION ALL``) is much faster in DuckDB than grouping an UNPIVOT.
    """
    columns = check_columns(table, columns, schema)
    selects = []
    for i, column in enumerate(columns):
        x = ident(column)
        selects.append(
            f"SELECT {i} AS pos, CAST({x} AS VARCHAR) AS value, count(*) AS n "
            f"FROM {ident(table)} WHERE {x} IS NOT NULL GROUP BY {x}"
        )
    return SqlQuery(" UNION ALL ".join(selects), [])


def build_top_values_sql(values_table: str, positions: Sequence[int], k: int) -> SqlQuery:
    """The `k` most frequent values per column from a ``(pos, value, n)`` table.

    Ties are broken by the value, so the order is stable. Rows: ``(pos, rank, value, n)``.
    """
    check_top_k(k)
    selects = [
        f"(SELECT pos, value, n FROM {ident(values_table)} WHERE pos = {int(p)} "
        f"ORDER BY n DESC, value LIMIT {int(k)})"
        for p in positions
    ]
    if not selects:
        raise WorkbenchError("no columns given for the top values")
    return SqlQuery(
        "SELECT pos, row_number() OVER (PARTITION BY pos ORDER BY n DESC, value) AS rank, value, n "
        f"FROM ({' UNION ALL '.join(selects)}) ORDER BY pos, rank",
        [],
    )


def build_patterns_sql(masked_table: str, k: int) -> SqlQuery:
    """The `k` most frequent pattern masks per column from a ``(pos, value, n, pattern)`` table.

    Rows: ``(pos, rank, pattern, n, distinct_values, example, patterns)`` where ``example`` is
    the smallest value with that mask and ``patterns`` the number of distinct masks of the column;
    ties are broken by the pattern.
    """
    check_top_k(k)
    return SqlQuery(
        "WITH p AS (SELECT pos, pattern, sum(n)::BIGINT AS n, count(*) AS distinct_values, "
        f"min(value) AS example FROM {ident(masked_table)} GROUP BY pos, pattern), "
        "r AS (SELECT *, row_number() OVER (PARTITION BY pos ORDER BY n DESC, pattern) AS rank, "
        "count(*) OVER (PARTITION BY pos) AS patterns FROM p) "
        "SELECT pos, rank, pattern, n, distinct_values, example, patterns FROM r "
        f"WHERE rank <= {int(k)} ORDER BY pos, rank",
        [],
    )


def build_pattern_frequencies_sql(
    table: str, column: str, schema: Sequence[str], k: int, rules: Sequence[MaskRule] = MASK_RULES
) -> SqlQuery:
    """The `k` most frequent masks of one column: rows ``(pattern, count, share, example)``.

    ``share`` is the share of the column's present (non-NULL) values.
    """
    (column,) = check_columns(table, [column], schema)
    check_top_k(k)
    x = ident(column)
    mask = mask_expression("value", rules)
    return SqlQuery(
        f"WITH v AS (SELECT CAST({x} AS VARCHAR) AS value, count(*) AS n FROM {ident(table)} "
        f"WHERE {x} IS NOT NULL GROUP BY {x}), "
        f"p AS (SELECT {mask} AS pattern, sum(n)::BIGINT AS count, min(value) AS example FROM v GROUP BY 1) "
        "SELECT pattern, count, count / sum(count) OVER () AS share, example FROM p "
        f"ORDER BY count DESC, pattern LIMIT {int(k)}",
        [],
    )


def build_duplicate_ids_sql(table: str, id_field: str, schema: Sequence[str]) -> SqlQuery:
    """IDs (trimmed) held by more than one row: ``(key, rows, row_numbers)``, most rows first."""
    (id_field,) = check_columns(table, [id_field], schema)
    check_columns(table, ["_row_number"], schema)
    key = f"trim(CAST({ident(id_field)} AS VARCHAR))"
    return SqlQuery(
        f"SELECT {key} AS key, count(*) AS rows, "
        "string_agg(CAST(_row_number AS VARCHAR), ';' ORDER BY _row_number) AS row_numbers "
        f"FROM {ident(table)} WHERE {key} <> '' GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY rows DESC, key",
        [],
    )


def build_duplicate_rows_sql(table: str, schema: Sequence[str]) -> SqlQuery:
    """Rows whose cells are all identical (same ``_row_hash``): ``(key, rows, row_numbers)``."""
    check_columns(table, ["_row_hash", "_row_number"], schema)
    return SqlQuery(
        "SELECT _row_hash AS key, count(*) AS rows, "
        "string_agg(CAST(_row_number AS VARCHAR), ';' ORDER BY _row_number) AS row_numbers "
        f"FROM {ident(table)} GROUP BY 1 HAVING count(*) > 1 ORDER BY rows DESC, key",
        [],
    )


# --------------------------------------------------------------------------------------------
# keys compared between sources


def key_normalizers(region: str = "CN") -> dict[str, tuple[str, ...]]:
    """SQL steps per key kind that lightly normalise one key part (full standardisation comes later).

    Each kind is a tuple of SELECT-list steps: the first reads the key part ``part``, each later
    one the columns of the step before, the last yields ``key``. Phones: an extension cut off,
    digits only (full-width digits too), the region's country code dropped when the number starts
    with ``00<cc>`` or ``<cc>`` (and the national trunk prefix put back), a mobile cut to its own
    digits. E-mails: lower case, trimmed. Tax IDs: upper case, no spaces or hyphens.

    Args:
        region: the project's ISO 3166 region (``project.default_region``); its country code and
            trunk prefix come from the ``phonenumbers`` metadata.
    """
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if meta is None:
        raise WorkbenchError(f"unknown region {region!r} for phone keys; use an ISO 3166 code such as CN")
    cc = str(meta.country_code)
    prefix = meta.national_prefix or ""
    if not (cc.isdigit() and (prefix == "" or prefix.isdigit())):
        raise WorkbenchError(f"unexpected phone metadata for {region!r}: code {cc!r}, prefix {prefix!r}")
    intl = (
        f"starts_with(d, {literal('00' + cc)}) "
        f"OR (starts_with(d, {literal(cc)}) AND length(d) >= {len(cc) + 8})"
    )
    mobile = MOBILE_PATTERNS.get(region.upper())
    key_cases = []
    if mobile:
        pattern, digits = mobile
        key_cases.append(f"WHEN regexp_full_match(n, {literal('.*' + pattern)}) THEN right(n, {int(digits)})")
    if prefix:
        key_cases.append(f"WHEN cc AND NOT starts_with(n, {literal(prefix)}) THEN {literal(prefix)} || n")
    phone = (
        # cut an extension, full-width digits to ASCII, keep only digits
        "regexp_replace(translate(regexp_replace(part, '(?i)(转|分机|ext|x|#).*$', ''), "
        "'０１２３４５６７８９', '0123456789'), '[^0-9]', '', 'g') AS d",
        f"{intl} AS cc, CASE WHEN starts_with(d, {literal('00' + cc)}) THEN substr(d, {len(cc) + 3}) "
        f"WHEN {intl} THEN substr(d, {len(cc) + 1}) ELSE d END AS n",
        f"CASE {' '.join(key_cases)} ELSE n END AS key" if key_cases else "n AS key",
    )
    return {
        Kind.PHONE.value: phone,
        Kind.EMAIL.value: (r"lower(regexp_replace(part, '^[\s\p{Z}]+|[\s\p{Z}]+$', '', 'g')) AS key",),
        Kind.TAX_ID.value: (r"upper(regexp_replace(part, '[\s\p{Z}\-－]', '', 'g')) AS key",),
    }


def build_key_overlap_sql(
    specs: Sequence[KeySpec],
    schemas: Mapping[str, Sequence[str]],
    normalizers: Mapping[str, tuple[str, ...]] | None = None,
) -> SqlQuery:
    """Distinct normalised keys per (source, kind) and the keys shared by each pair of sources.

    Rows: ``(key_kind, source_a, source_b, source_order_a, source_order_b, keys_a, keys_b,
    shared_keys)`` for every pair of sources (ordered as in `specs`) that both have fields of the
    kind, whether they share keys or not; sorted by kind, then source order. `normalizers`:
    see :func:`key_normalizers` (default: region CN).
    """
    normalizers = normalizers if normalizers is not None else key_normalizers("CN")
    if not specs:
        raise WorkbenchError("no key fields to compare (no phone, e-mail or tax ID fields in the sources)")
    order = {s.source: s.order for s in specs}
    if len(set(order.values())) != len(order):
        raise WorkbenchError(f"key specs need one distinct `order` per source, got {order}")
    selects: list[str] = []
    params: list[Any] = []
    for spec in specs:
        normalizer = normalizers.get(spec.key_kind)
        if normalizer is None:
            raise WorkbenchError(
                f"no key normalisation for kind {spec.key_kind!r}; known: {sorted(normalizers)}"
            )
        check_columns(spec.table, spec.fields, schemas[spec.table])
        for f in spec.fields:
            x = ident(f)
            inner = (
                f"SELECT unnest(regexp_split_to_array({x}, ?)) AS part "
                f"FROM {ident(spec.table)} WHERE {x} IS NOT NULL"
            )
            for step in normalizer:
                inner = f"SELECT *, {step} FROM ({inner})"
            selects.append(
                f"SELECT {order[spec.source]} AS ord, ? AS source, ? AS key_kind, key FROM ({inner})"
            )
            params += [spec.source, spec.key_kind, MULTI_VALUE_SPLIT]
    sql = (
        f"WITH raw AS ({' UNION ALL '.join(selects)}), "
        "keys AS (SELECT DISTINCT ord, source, key_kind, key FROM raw WHERE key IS NOT NULL AND key <> '' "
        f"AND (key_kind <> {literal(Kind.PHONE.value)} OR length(key) >= {int(MIN_PHONE_DIGITS)})), "
        "counts AS (SELECT ord, source, key_kind, count(*) AS n FROM keys GROUP BY ALL), "
        "shared AS (SELECT a.key_kind, a.ord AS ord_a, b.ord AS ord_b, count(*) AS n FROM keys a "
        "JOIN keys b ON a.key_kind = b.key_kind AND a.key = b.key AND a.ord < b.ord GROUP BY ALL) "
        "SELECT ca.key_kind, ca.source AS source_a, cb.source AS source_b, ca.ord AS source_order_a, "
        "cb.ord AS source_order_b, ca.n AS keys_a, cb.n AS keys_b, "
        "coalesce(s.n, 0) AS shared_keys FROM counts ca JOIN counts cb "
        "ON ca.key_kind = cb.key_kind AND ca.ord < cb.ord "
        "LEFT JOIN shared s ON s.key_kind = ca.key_kind AND s.ord_a = ca.ord AND s.ord_b = cb.ord "
        "ORDER BY ca.key_kind, ca.ord, cb.ord"
    )
    return SqlQuery(sql, params)
