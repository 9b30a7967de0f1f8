"""Profiling of the staged tables in DuckDB (stage ``audit``).

This module owns the profile of a run: per column statistics (inferred type, nulls, blanks,
distinct values, lengths, min/max, top values, pattern masks), exact-duplicate keys and rows within
a source, and the overlap of keys (phone, e-mail, tax ID) between customer sources. Everything is
computed by SQL in DuckDB; the SQL comes from pure ``build_*_sql`` functions that check every
identifier against the table's columns and quote it with :func:`workbench.engine.connection.ident`.

Tables written by :func:`profile_sources` (replaced on rerun):

``profile_columns``      one row per (source, staged column) with the statistics
``profile_top_values``   (source, field, rank, value, count, share)
``profile_patterns``     (source, field, rank, pattern, count, share, distinct_values, example)
``profile_duplicates``   (source, check, key, rows, row_numbers): duplicate IDs and duplicate rows
``profile_key_overlaps`` (key_kind, source_a, source_b, source_order_a, source_order_b,
                          fields_a, fields_b, keys_a, keys_b, shared_keys, jaccard)

Pattern masks: ASCII digits → ``9``, Latin letters → ``A``/``a``, CJK ideographs → ``汉``,
whitespace → ``_``, full-width digits/letters → ``９``/``Ａ``/``ａ`` (so full-width input shows),
other letters (kana, hangul …) → ``L``; punctuation is kept and runs are kept, so
``138-0013-8000`` → ``999-9999-9999`` while ``13800138000`` → ``99999999999``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.engine.catalog import staged
from workbench.engine.connection import connect, table_columns, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import LINEAGE_COLUMNS, Kind, ProjectConfig

if TYPE_CHECKING:
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# settings (module data; callers may pass their own)

TOP_K = 10
"""Top values and top patterns kept per column."""

TYPE_THRESHOLD = 0.95
"""A column is typed integer/decimal/date when at least this share of its filled values casts."""

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


@dataclass(frozen=True)
class MaskRule:
    """How one class of characters shows in a pattern mask.

    A character matches the rule when it lies in ``first..last`` (code point order), or is one of
    `chars`, or fully matches the RE2 class `pattern`. The first matching rule wins.

    Attributes:
        replacement: the mask symbol, or ``None`` to keep the character as it is.
    """

    replacement: str | None
    first: str | None = None
    last: str | None = None
    chars: str = ""
    pattern: str | None = None


MASK_RULES: tuple[MaskRule, ...] = (
    MaskRule("9", first="0", last="9"),
    MaskRule("A", first="A", last="Z"),
    MaskRule("a", first="a", last="z"),
    MaskRule("_", chars=" \t\n\r\f\v"),
    MaskRule(None, first="\x00", last="\x7f"),  # ASCII punctuation is kept
    MaskRule("汉", first="\u4e00", last="\u9fff"),  # the main CJK block, before the slower class test
    MaskRule("９", first="０", last="９"),
    MaskRule("Ａ", first="Ａ", last="Ｚ"),
    MaskRule("ａ", first="ａ", last="ｚ"),
    MaskRule("汉", pattern=r"\p{Han}"),
    MaskRule("_", pattern=r"\p{Z}"),  # U+3000 and other non-ASCII spaces
    MaskRule("A", pattern=r"\p{Lu}"),  # other upper-case letters (É, Ж …)
    MaskRule("a", pattern=r"\p{Ll}"),
    MaskRule("L", pattern=r"\p{L}"),  # letters without case (kana, hangul …)
)
"""The pattern mask, one rule per character class (see the module docstring); other characters
(punctuation, full-width brackets …) are kept."""

MULTI_VALUE_SPLIT = r"[;/,；，、|]"
"""Separators of several keys in one cell (``13800138000;13912345678``, ``…/021-62345678``)."""

KEY_KINDS: tuple[str, ...] = (Kind.PHONE.value, Kind.EMAIL.value, Kind.TAX_ID.value)
"""Field kinds whose keys are compared between sources."""

MIN_PHONE_DIGITS = 7
"""Phone keys with fewer digits are ignored in overlaps (fragments, placeholders like ``0``)."""

MOBILE_PATTERNS: dict[str, tuple[str, int]] = {"CN": ("1[3-9][0-9]{9}", 11)}
"""Per region, the digits of a mobile number (RE2, and how many there are): a phone key ending in
one is cut to it (so ``86 138…`` and ``+86-138…`` meet ``138…``)."""


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
    intl = f"starts_with(d, '00{cc}') OR (starts_with(d, '{cc}') AND length(d) >= {len(cc) + 8})"
    mobile = MOBILE_PATTERNS.get(region.upper())
    key_cases = []
    if mobile:
        pattern, digits = mobile
        key_cases.append(
            f"WHEN regexp_full_match(n, {_sql_literal('.*' + pattern)}) THEN right(n, {int(digits)})"
        )
    if prefix:
        key_cases.append(f"WHEN cc AND NOT starts_with(n, '{prefix}') THEN '{prefix}' || n")
    phone = (
        # cut an extension, full-width digits to ASCII, keep only digits
        "regexp_replace(translate(regexp_replace(part, '(?i)(转|分机|ext|x|#).*$', ''), "
        "'０１２３４５６７８９', '0123456789'), '[^0-9]', '', 'g') AS d",
        f"{intl} AS cc, CASE WHEN starts_with(d, '00{cc}') THEN substr(d, {len(cc) + 3}) "
        f"WHEN {intl} THEN substr(d, {len(cc) + 1}) ELSE d END AS n",
        f"CASE {' '.join(key_cases)} ELSE n END AS key" if key_cases else "n AS key",
    )
    return {
        Kind.PHONE.value: phone,
        Kind.EMAIL.value: (r"lower(regexp_replace(part, '^[\s\p{Z}]+|[\s\p{Z}]+$', '', 'g')) AS key",),
        Kind.TAX_ID.value: (r"upper(regexp_replace(part, '[\s\p{Z}\-－]', '', 'g')) AS key",),
    }


_TMP_VALUES = "__wb_profile_values"
_TMP_MASKED = "__wb_profile_masked"


class SqlQuery(NamedTuple):
    """SQL text and the values bound to its ``?`` placeholders."""

    sql: str
    params: list[Any]


# --------------------------------------------------------------------------------------------
# pure SQL builders


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


def mask_expression(expr: str, rules: Sequence[MaskRule] = MASK_RULES) -> str:
    """SQL expression giving the pattern mask of the VARCHAR SQL expression `expr`.

    The value is split into characters and each is mapped by a ``CASE`` over `rules` in one
    vectorised lambda: several times faster in DuckDB than one ``regexp_replace`` per class.
    """
    if not rules:
        raise WorkbenchError("a pattern mask needs at least one rule")
    whens = []
    for rule in rules:
        conditions = []
        if rule.first is not None or rule.last is not None:
            if rule.first is None or rule.last is None:
                raise WorkbenchError(f"mask rule {rule!r}: give both `first` and `last` of the range")
            conditions.append(f"c BETWEEN {_char_literal(rule.first)} AND {_char_literal(rule.last)}")
        if rule.chars:
            conditions.append(f"c IN ({', '.join(_char_literal(ch) for ch in rule.chars)})")
        if rule.pattern is not None:
            conditions.append(f"regexp_full_match(c, {_sql_literal(rule.pattern)})")
        if not conditions:
            raise WorkbenchError(f"mask rule {rule!r} matches nothing; give a range, chars or a pattern")
        if rule.replacement is not None and len(rule.replacement) != 1:
            raise WorkbenchError(f"mask rule {rule!r}: the replacement must be one character")
        then = "c" if rule.replacement is None else _sql_literal(rule.replacement)
        whens.append(f"WHEN {' OR '.join(conditions)} THEN {then}")
    case = f"CASE {' '.join(whens)} ELSE c END"
    return f"array_to_string(list_transform(string_split({expr}, ''), lambda c: {case}), '')"


def _char_literal(ch: str) -> str:
    if len(ch) != 1:
        raise WorkbenchError(f"expected one character, got {ch!r}")
    return _sql_literal(ch) if ch.isprintable() else f"chr({ord(ch)})"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_values(values: pa.Array | pa.ChunkedArray, rules: Sequence[MaskRule] = MASK_RULES) -> pa.Array:
    """The pattern masks of many strings at once, the same as :func:`mask_expression` gives.

    Masking maps each character to one character, so it is a table lookup on code points: the
    strings are decoded in one go (to UTF-16, or UTF-32 when a character lies beyond the BMP),
    mapped with numpy and encoded back; only characters whose UTF-8 length changes need work on
    the string offsets. The lookup table is computed once by DuckDB from :func:`mask_expression`,
    so both always agree. Several times faster than masking in SQL, the profile's costliest step.

    Args:
        values: strings without NULLs (an Arrow string array or chunked array).
        rules: the mask rules.

    Returns:
        A ``large_string`` array of masks, in the order of `values`.
    """
    if isinstance(values, pa.ChunkedArray):
        chunks = [mask_values(chunk, rules) for chunk in values.chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], type=pa.large_string())
    if values.null_count:
        raise WorkbenchError("mask_values got NULL values; mask only present values")
    arr = values.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return pa.array([], type=pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    raw = memoryview(arr.buffers()[2] or b"")[start:end]
    # UTF-8 lead bytes 0xF0.. start the characters beyond the BMP, which need UTF-32
    wide = end > start and int(np.frombuffer(raw, dtype=np.uint8).max()) >= 0xF0
    table = _mask_table(tuple(rules), bmp_only=not wide)
    encoding = "utf-32-le" if table.dtype == np.uint32 else "utf-16-le"
    units = np.frombuffer(str(raw, "utf-8").encode(encoding), dtype=table.dtype)
    masked = table[units]
    out = masked.tobytes().decode(encoding).encode("utf-8")
    delta = _utf8_length(masked) - _utf8_length(units)  # change of each character's UTF-8 length
    changed = np.flatnonzero(delta)
    if changed.size:
        char_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(pc.utf8_length(arr).to_numpy(zero_copy_only=False), out=char_offsets[1:])
        owner = np.searchsorted(char_offsets, changed, side="right") - 1
        shift = np.bincount(owner, weights=delta[changed], minlength=n).astype(np.int64)
        new_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.diff(offsets) + shift, out=new_offsets[1:])
    else:
        new_offsets = offsets - offsets[0]
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(out))


@functools.lru_cache(maxsize=8)
def _mask_table(rules: tuple[MaskRule, ...], *, bmp_only: bool) -> np.ndarray:
    """Code point → masked code point, computed by DuckDB with :func:`mask_expression`.

    The BMP table is ``uint16`` (for UTF-16 text) unless a rule maps into another plane; the full
    table is ``uint32`` (for UTF-32 text).
    """
    limit = 0x10000 if bmp_only else 0x110000
    con = connect(threads=1)
    try:
        result = con.execute(
            f"SELECT i, {mask_expression('chr(i::INTEGER)', rules)} AS m FROM range(0, {limit}) r(i) "
            "WHERE i < 55296 OR i > 57343 ORDER BY i"  # surrogates are not characters
        ).fetchnumpy()
    finally:
        con.close()
    table = np.arange(limit, dtype=np.uint32)
    table[result["i"]] = np.fromiter((ord(m) for m in result["m"]), dtype=np.uint32, count=len(result["m"]))
    if bmp_only and int(table.max()) > 0xFFFF:
        return _mask_table(rules, bmp_only=False)
    return table.astype(np.uint16) if bmp_only else table


def _utf8_length(code_points: np.ndarray) -> np.ndarray:
    """UTF-8 bytes of each code point (``int8``)."""
    length = (code_points >= 0x80).astype(np.int8)
    length += code_points >= 0x800
    if code_points.dtype.itemsize > 2:
        length += code_points >= 0x10000
    return length + 1


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
        f"regexp_full_match(value, {_sql_literal(BLANK_PATTERN)}) AS is_blank, "
        f"CASE WHEN regexp_full_match(value, {_sql_literal(_INTEGER_SHAPE)}) "
        "THEN try_cast(value AS BIGINT) END AS as_integer, "
        f"CASE WHEN regexp_full_match(value, {_sql_literal(_DECIMAL_SHAPE)}) "
        "AND isfinite(try_cast(value AS DOUBLE)) THEN try_cast(value AS DOUBLE) END AS as_decimal, "
        f"CASE WHEN regexp_full_match(value, {_sql_literal(_DATE_SHAPE)}) THEN "
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
    _check_k(k)
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
    _check_k(k)
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
    _check_k(k)
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


@dataclass(frozen=True)
class KeySpec:
    """The fields of one kind in one source whose keys are compared with other sources."""

    source: str
    table: str
    key_kind: str
    fields: tuple[str, ...]
    order: int = 0
    """the source's position in the config (orders pairs and results)"""


def build_key_overlap_sql(
    specs: Sequence[KeySpec],
    schemas: dict[str, Sequence[str]],
    normalizers: dict[str, tuple[str, ...]] | None = None,
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
        f"AND (key_kind <> 'phone' OR length(key) >= {int(MIN_PHONE_DIGITS)})), "
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


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise WorkbenchError(f"k (values to keep per column) must be a positive whole number, got {k!r}")


# --------------------------------------------------------------------------------------------
# profiling one table


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
    con,
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
    Masks are computed with :func:`mask_values` (numpy), the rest in DuckDB.

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
    """
    _check_k(top_k)
    pattern_k = top_k if pattern_k is None else pattern_k
    _check_k(pattern_k)
    if not 0 < type_threshold <= 1:
        raise WorkbenchError(f"type_threshold must be in (0, 1], got {type_threshold!r}")
    schema = table_columns(con, table)
    if columns is None:
        columns = [c for c in schema if c not in LINEAGE_COLUMNS]
    columns = check_columns(table, list(columns), schema)

    rows = int(con.execute(f"SELECT count(*) FROM {ident(table)}").fetchall()[0][0])
    values_q = build_value_counts_sql(table, columns, schema)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(_TMP_VALUES)} AS {values_q.sql}", values_q.params)
    try:
        stats_q = build_column_stats_sql(_TMP_VALUES, date_formats=date_formats)
        stats = con.execute(stats_q.sql, stats_q.params).df().set_index("pos")
        top_q = build_top_values_sql(_TMP_VALUES, range(len(columns)), top_k)
        top = con.execute(top_q.sql, top_q.params).df()
        values = con.sql(f"SELECT pos, value, n FROM {ident(_TMP_VALUES)}").to_arrow_table()
        masked = values.append_column("pattern", mask_values(values.column("value")))
        con.register(_TMP_MASKED, masked)
        try:
            pat_q = build_patterns_sql(_TMP_MASKED, pattern_k)
            pats = con.execute(pat_q.sql, pat_q.params).df()
        finally:
            con.unregister(_TMP_MASKED)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ident(_TMP_VALUES)}")

    names = dict(enumerate(columns))
    top_values = pd.DataFrame(
        {
            "field": top["pos"].map(names),
            "rank": top["rank"].astype("int64"),
            "value": top["value"],
            "count": top["n"].astype("int64"),
            "share": top["n"] / rows if rows else float("nan"),
        }
    )
    patterns = pd.DataFrame(
        {
            "field": pats["pos"].map(names),
            "rank": pats["rank"].astype("int64"),
            "pattern": pats["pattern"],
            "count": pats["n"].astype("int64"),
            "share": pats["n"] / rows if rows else float("nan"),
            "distinct_values": pats["distinct_values"].astype("int64"),
            "example": pats["example"],
        }
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


def profile_columns(
    con,
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
    con, table: str, column: str, k: int = TOP_K, rules: Sequence[MaskRule] = MASK_RULES
) -> pd.DataFrame:
    """The `k` most frequent pattern masks of one column.

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


# --------------------------------------------------------------------------------------------
# duplicates and overlaps


def duplicate_keys(con, source_table: str, id_field: str | None) -> pd.DataFrame:
    """Exact duplicates within one staged table: IDs held by several rows, and identical rows.

    Args:
        con: a DuckDB connection.
        source_table: a ``stg_<source>`` table.
        id_field: the column holding the source's record ID (compared trimmed); ``None`` to check
            duplicate rows only (activity sources, where the ID column is a customer reference).

    Returns:
        Columns ``check`` (``duplicate_id`` or ``duplicate_row``), ``key`` (the ID, or the row
        hash), ``rows`` (rows holding it) and ``row_numbers`` (their ``_row_number``, ``;``-joined),
        duplicate IDs first, then most rows first.
    """
    schema = table_columns(con, source_table)
    frames = []
    if id_field is not None:
        q = build_duplicate_ids_sql(source_table, id_field, schema)
        frames.append(con.execute(q.sql, q.params).df().assign(check="duplicate_id"))
    q = build_duplicate_rows_sql(source_table, schema)
    frames.append(con.execute(q.sql, q.params).df().assign(check="duplicate_row"))
    out = pd.concat(frames, ignore_index=True)
    out["rows"] = out["rows"].astype("int64")
    return out[["check", "key", "rows", "row_numbers"]]


def summarize_duplicates(duplicates: pd.DataFrame, sources: Sequence[str] | None = None) -> pd.DataFrame:
    """Per source: duplicate IDs, rows sharing an ID, duplicate-row groups and surplus copies.

    Args:
        duplicates: the ``profile_duplicates`` rows (with a ``source`` column).
        sources: every source to list, in order (sources without duplicates get zeros);
            default the sources in `duplicates`.
    """
    names = list(sources) if sources is not None else list(dict.fromkeys(duplicates["source"]))
    rows = []
    for source in names:
        part = duplicates[duplicates["source"] == source]
        ids = part[part["check"] == "duplicate_id"]
        same = part[part["check"] == "duplicate_row"]
        rows.append(
            {
                "source": source,
                "duplicate_ids": len(ids),
                "rows_with_duplicate_id": int(ids["rows"].sum()),
                "duplicate_row_groups": len(same),
                "surplus_duplicate_rows": int((same["rows"] - 1).sum()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "source",
            "duplicate_ids",
            "rows_with_duplicate_id",
            "duplicate_row_groups",
            "surplus_duplicate_rows",
        ],
    )


def key_overlaps(con, config: ProjectConfig, *, kinds: Sequence[str] = KEY_KINDS) -> pd.DataFrame:
    """The overlap of keys (phone, e-mail, tax ID) between every pair of customer sources.

    The fields compared are those of the given kinds in the config; all fields of one kind in a
    source are pooled (a number in the ERP's 电话 may be the CRM's Mobile). Cells holding several
    keys are split (see :data:`MULTI_VALUE_SPLIT`) and keys are lightly normalised in SQL
    (:func:`key_normalizers`, for the project's ``default_region``).

    Returns:
        Columns ``key_kind, source_a, source_b, source_order_a, source_order_b, fields_a, fields_b,
        keys_a, keys_b, shared_keys, jaccard`` (distinct keys in each source, keys in both,
        shared / union); one row per pair of sources (in config order) that both have fields of
        the kind; sorted by kind then source order; empty when there is no such pair.
    """
    specs: list[KeySpec] = []
    schemas: dict[str, list[str]] = {}
    positions = {s.name: i for i, s in enumerate(config.sources)}
    for source in config.customer_sources:
        table = _staged_table(con, source.name)
        schemas[table] = table_columns(con, table)
        for kind in kinds:
            fields = tuple(source.fields_of_kind(kind))
            if fields:
                specs.append(KeySpec(source.name, table, Kind(kind).value, fields, positions[source.name]))
    columns = [
        "key_kind",
        "source_a",
        "source_b",
        "source_order_a",
        "source_order_b",
        "fields_a",
        "fields_b",
        "keys_a",
        "keys_b",
        "shared_keys",
        "jaccard",
    ]
    if not specs:
        return pd.DataFrame(columns=columns)
    q = build_key_overlap_sql(specs, schemas, key_normalizers(config.project.default_region))
    df = con.execute(q.sql, q.params).df()
    fields_of = {(s.source, s.key_kind): ";".join(s.fields) for s in specs}
    df["fields_a"] = [fields_of[(s, k)] for s, k in zip(df["source_a"], df["key_kind"], strict=True)]
    df["fields_b"] = [fields_of[(s, k)] for s, k in zip(df["source_b"], df["key_kind"], strict=True)]
    for c in ("keys_a", "keys_b", "shared_keys"):
        df[c] = df[c].astype("int64")
    union = df["keys_a"] + df["keys_b"] - df["shared_keys"]
    df["jaccard"] = (df["shared_keys"] / union.where(union > 0)).fillna(0.0)
    return df[columns]


# --------------------------------------------------------------------------------------------
# all sources of a run


@dataclass
class ProfileResult:
    """The profile of every staged source of a run (as saved in the run database).

    Attributes:
        columns: ``profile_columns`` (source, field, header, kind, mapped, …statistics).
        top_values: ``profile_top_values``.
        patterns: ``profile_patterns``.
        duplicates: ``profile_duplicates`` (source, check, key, rows, row_numbers).
        duplicate_summary: per source counts (see :func:`summarize_duplicates`).
        overlaps: ``profile_key_overlaps``.
    """

    columns: pd.DataFrame
    top_values: pd.DataFrame
    patterns: pd.DataFrame
    duplicates: pd.DataFrame
    duplicate_summary: pd.DataFrame
    overlaps: pd.DataFrame
    tables: dict[str, str] = field(default_factory=dict)


PROFILE_TABLES = {
    "columns": ("profile_columns", ("source_order", "position")),
    "top_values": ("profile_top_values", ("source_order", "position", "rank")),
    "patterns": ("profile_patterns", ("source_order", "position", "rank")),
    "duplicates": ("profile_duplicates", ("source_order", "check", "rows DESC", "key")),
    "overlaps": ("profile_key_overlaps", ("key_kind", "source_order_a", "source_order_b")),
}
"""Attribute of :class:`ProfileResult` → (run table, sort keys before saving)."""


def profile_sources(
    ctx_or_config: RunContext | ProjectConfig,
    con,
    *,
    top_k: int = TOP_K,
    type_threshold: float = TYPE_THRESHOLD,
    date_formats: Sequence[str] = DATE_FORMATS,
) -> ProfileResult:
    """Profile every staged source of the project and save the profile tables in the run DB.

    Profiles every column of each ``stg_<source>`` (mapped fields and kept unmapped columns;
    lineage columns excepted), finds duplicate IDs and rows per source and the key overlaps
    between customer sources, then replaces the tables ``profile_columns``,
    ``profile_top_values``, ``profile_patterns``, ``profile_duplicates`` and
    ``profile_key_overlaps``.

    Args:
        ctx_or_config: the run context (or just the project config).
        con: the run database connection.
        top_k: top values and patterns kept per column.
        type_threshold: see :func:`profile_columns`.
        date_formats: see :func:`profile_columns`.

    Raises:
        WorkbenchError: a source has no staged table (run the ingest first).
    """
    config: ProjectConfig = getattr(ctx_or_config, "config", ctx_or_config)  # type: ignore[assignment]
    column_map = _read_column_map(con)
    col_frames, top_frames, pat_frames, dup_frames = [], [], [], []
    for order, source in enumerate(config.sources):
        table = _staged_table(con, source.name)
        prof = profile_table(
            con, table, top_k=top_k, type_threshold=type_threshold, date_formats=date_formats
        )
        info = _column_info(source, column_map, prof.columns["field"])
        cols = prof.columns.merge(info, on="field", how="left")
        front = ["source", "source_order", "role", "field", "header", "kind", "mapped"]
        cols = cols.assign(source=source.name, source_order=order, role=source.role)
        col_frames.append(cols[front + [c for c in cols.columns if c not in front]])
        position = dict(zip(prof.columns["field"], prof.columns["position"], strict=True))
        for frame, bucket in ((prof.top_values, top_frames), (prof.patterns, pat_frames)):
            bucket.append(
                frame.assign(source=source.name, source_order=order, position=frame["field"].map(position))
            )
        id_field = source.id_field if source.role == "customers" else None
        dups = duplicate_keys(con, table, id_field)
        dup_frames.append(dups.assign(source=source.name, source_order=order))
        log.info(
            "profiled %s: %d columns, %d rows, %d duplicate IDs",
            table,
            len(prof.columns),
            int(prof.columns["rows"].iloc[0]) if len(prof.columns) else 0,
            int((dups["check"] == "duplicate_id").sum()),
        )
    if not col_frames:
        raise WorkbenchError("the config lists no sources to profile")
    columns = pd.concat(col_frames, ignore_index=True)
    top_values = _front(pd.concat(top_frames, ignore_index=True), ["source", "source_order", "position"])
    patterns = _front(pd.concat(pat_frames, ignore_index=True), ["source", "source_order", "position"])
    duplicates = _front(pd.concat(dup_frames, ignore_index=True), ["source", "source_order"])
    overlaps = key_overlaps(con, config)
    result = ProfileResult(
        columns=columns,
        top_values=top_values,
        patterns=patterns,
        duplicates=duplicates,
        duplicate_summary=summarize_duplicates(duplicates, [s.name for s in config.sources]),
        overlaps=overlaps,
    )
    result.tables = save_profile(con, result)
    return result


def save_profile(con, result: ProfileResult) -> dict[str, str]:
    """Replace the profile tables of the run database with `result` (sorted by unique keys)."""
    saved = {}
    for attr, (name, order) in PROFILE_TABLES.items():
        df = getattr(result, attr)
        view = f"__wb_profile_save_{attr}"
        con.register(view, df)
        try:
            con.execute(
                f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT * FROM {ident(view)}{_order_by(order)}"
            )
        finally:
            con.unregister(view)
        saved[attr] = name
    return saved


def load_profile(con) -> ProfileResult:
    """Read the profile tables saved by :func:`profile_sources` back from the run database.

    Raises:
        WorkbenchError: the tables are missing (run :func:`profile_sources` first).
    """
    frames = {}
    for attr, (name, order) in PROFILE_TABLES.items():
        if not table_exists(con, name):
            raise WorkbenchError(
                f"table {name!r} is missing from the run database; run the audit stage "
                "(profile_sources) before reading the profile"
            )
        frames[attr] = con.execute(f"SELECT * FROM {ident(name)}{_order_by(order)}").df()
    return ProfileResult(
        columns=frames["columns"],
        top_values=frames["top_values"],
        patterns=frames["patterns"],
        duplicates=frames["duplicates"],
        duplicate_summary=summarize_duplicates(
            frames["duplicates"], list(dict.fromkeys(frames["columns"]["source"]))
        ),
        overlaps=frames["overlaps"],
        tables={attr: name for attr, (name, _) in PROFILE_TABLES.items()},
    )


def _order_by(keys: Sequence[str]) -> str:
    """`` ORDER BY`` clause from column names, each optionally followed by `` DESC``."""
    if not keys:
        return ""
    parts = []
    for key in keys:
        name, _, direction = key.partition(" ")
        parts.append(ident(name) + (" DESC" if direction.upper() == "DESC" else ""))
    return " ORDER BY " + ", ".join(parts)


def _front(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return df[first + [c for c in df.columns if c not in first]]


def _staged_table(con, source: str) -> str:
    table = staged(source)
    if not table_exists(con, table):
        raise WorkbenchError(
            f"source {source!r} has no staged table {table!r} in the run database; "
            "run the ingest (workbench.core.ingest.sources.ingest_sources) before profiling"
        )
    return table


def _read_column_map(con) -> pd.DataFrame | None:
    if not table_exists(con, "stg_columns"):
        return None
    return con.execute(
        "SELECT source, field, header, kind, mapped FROM stg_columns WHERE field IS NOT NULL "
        "ORDER BY source, position"
    ).df()


def _column_info(source, column_map: pd.DataFrame | None, fields: pd.Series) -> pd.DataFrame:
    """header / kind / mapped of each staged column, from ``stg_columns`` or else the config."""
    by_field: dict[str, tuple[str, str | None, bool]] = {}
    for header, spec in source.columns.items():
        by_field[spec.field] = (header, spec.kind.value, True)
    if column_map is not None:
        part = column_map[column_map["source"] == source.name]
        for f, header, kind, mapped in zip(
            part["field"], part["header"], part["kind"], part["mapped"], strict=True
        ):
            by_field[f] = (header, None if pd.isna(kind) else kind, bool(mapped))
    rows = [(f, *by_field.get(f, (f, None, False))) for f in fields]
    return pd.DataFrame(rows, columns=["field", "header", "kind", "mapped"])


def choose_field(
    columns: pd.DataFrame, source: str = "", field: str = "", kinds: Sequence[str] = KEY_KINDS
) -> tuple[str, str]:
    """The (source, field) to chart: the one given, else the first mapped field of `kinds`.

    Args:
        columns: the ``profile_columns`` table.
        source: a source name, or ``""`` to choose.
        field: a field of that source, or ``""`` to choose.
        kinds: kinds to choose from, in order of preference.

    Raises:
        WorkbenchError: the given source or field is not in the profile (the message lists them).
    """
    if source and source not in set(columns["source"]):
        raise WorkbenchError(
            f"no source {source!r} in the profile; profiled sources: {list(dict.fromkeys(columns['source']))}"
        )
    part = columns[columns["source"] == source] if source else columns
    if field:
        if field not in set(part["field"]):
            raise WorkbenchError(
                f"no field {field!r} in the profile of {source or 'any source'}; fields: {list(dict.fromkeys(part['field']))}"
            )
        hit = part[part["field"] == field].iloc[0]
        return str(hit["source"]), field
    for kind in kinds:
        hits = part[(part["kind"] == kind) & part["mapped"].fillna(False).astype(bool)]
        if len(hits):
            return str(hits.iloc[0]["source"]), str(hits.iloc[0]["field"])
    if part.empty:
        raise WorkbenchError("the profile is empty; run profile_sources first")
    return str(part.iloc[0]["source"]), str(part.iloc[0]["field"])


# --------------------------------------------------------------------------------------------
# ingest tables, read for display


def read_ingest_summary(con, config: ProjectConfig | None = None) -> pd.DataFrame:
    """The ``ingest_summary`` table, in the config's source order (else by source name)."""
    _require(con, "ingest_summary")
    df = con.execute("SELECT * FROM ingest_summary ORDER BY source, file").df()
    if config is not None:
        order = {s.name: i for i, s in enumerate(config.sources)}
        df = df.sort_values("source", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return df


def read_quarantine(con, limit: int | None = None) -> pd.DataFrame:
    """Quarantined rows (source, file, row_number, reason, raw_text), by source and row."""
    _require(con, "quarantine")
    sql = "SELECT * FROM quarantine ORDER BY source, file, row_number"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return con.execute(sql).df()


def quarantine_reasons(con) -> pd.DataFrame:
    """Quarantined rows counted per source and reason (byte offsets in reasons are grouped)."""
    _require(con, "quarantine")
    return con.execute(
        "SELECT source, regexp_replace(reason, ' at byte [0-9]+', '') AS reason, count(*) AS rows "
        "FROM quarantine GROUP BY ALL ORDER BY source, rows DESC, reason"
    ).df()


def _require(con, table: str) -> None:
    if not table_exists(con, table):
        raise WorkbenchError(
            f"table {table!r} is missing from the run database; run the ingest "
            "(workbench.core.ingest.sources.ingest_sources) first"
        )


# --------------------------------------------------------------------------------------------
# metrics


def build_audit_metrics(
    ingest_summary: pd.DataFrame, result: ProfileResult, report_path: Any = None
) -> dict[str, Any]:
    """The figures the audit stage records (``metrics/audit.json``).

    Rows per source (file / staged / quarantined), quarantined total, columns profiled, the null
    rate per source (share of empty cells, NULL or blank, over its mapped fields), duplicate ID
    counts, key overlaps, and the report path.
    """
    rows = {
        str(r.source): {
            "file": int(r.file_rows),
            "staged": int(r.staged_rows),
            "quarantined": int(r.quarantined_rows),
        }
        for r in ingest_summary.itertuples()
    }
    cols = result.columns
    mapped = cols[cols["mapped"].fillna(False).astype(bool)]
    null_rate = {}
    for source, part in mapped.groupby("source", sort=False):
        cells = part["rows"].sum()
        null_rate[str(source)] = (
            round(float((part["nulls"] + part["blanks"]).sum() / cells), 6) if cells else None
        )
    summary = result.duplicate_summary
    overlaps = {
        f"{r.source_a}~{r.source_b}:{r.key_kind}": int(r.shared_keys) for r in result.overlaps.itertuples()
    }
    return {
        "rows": rows,
        "quarantined_total": int(ingest_summary["quarantined_rows"].sum()),
        "columns_profiled": len(cols),
        "null_rate": null_rate,
        "duplicate_ids": {str(r.source): int(r.duplicate_ids) for r in summary.itertuples()},
        "duplicate_rows": {str(r.source): int(r.surplus_duplicate_rows) for r in summary.itertuples()},
        "overlaps": overlaps,
        "report_path": None if report_path is None else str(report_path),
    }
