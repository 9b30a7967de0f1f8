"""Profiling of the staged tables in DuckDB (stage ``audit``).

The public API is re-exported here; the code lives in one module per concern:

- :mod:`~workbench.core.profiling.profile`: :func:`profile_sources` (every source of a run) and the
  ``profile_*`` tables saved and read back (:func:`read_profile_tables`);
- :mod:`~workbench.core.profiling.table_profile`: one table: statistics, top values, patterns;
- :mod:`~workbench.core.profiling.keys`: duplicates within a source, keys shared between sources;
- :mod:`~workbench.core.profiling.masks`: the pattern masks (``138-0013-8000`` → ``999-9999-9999``);
- :mod:`~workbench.core.profiling.sql`: the pure SQL builders (``build_*_sql``, ``key_normalizers``);
- :mod:`~workbench.core.profiling.metrics`: the metrics the audit stage records.
"""

from workbench.core.profiling.keys import KEY_KINDS, duplicate_keys, key_overlaps, summarize_duplicates
from workbench.core.profiling.masks import MASK_RULES, MaskRule, mask_expression, mask_values
from workbench.core.profiling.metrics import build_audit_metrics
from workbench.core.profiling.profile import (
    PROFILE_TABLES,
    ProfileResult,
    choose_field,
    profile_sources,
    read_profile_tables,
    save_profile,
)
from workbench.core.profiling.sql import (
    BLANK_PATTERN,
    DATE_FORMATS,
    MIN_PHONE_DIGITS,
    MOBILE_PATTERNS,
    MULTI_VALUE_SPLIT,
    KeySpec,
    SqlQuery,
    build_column_stats_sql,
    build_duplicate_ids_sql,
    build_duplicate_rows_sql,
    build_key_overlap_sql,
    build_pattern_frequencies_sql,
    build_patterns_sql,
    build_top_values_sql,
    build_value_counts_sql,
    check_columns,
    key_normalizers,
)
from workbench.core.profiling.table_profile import (
    TOP_K,
    TYPE_THRESHOLD,
    TableProfile,
    pattern_frequencies,
    profile_columns,
    profile_table,
)

__all__ = [
    "BLANK_PATTERN",
    "DATE_FORMATS",
    "KEY_KINDS",
    "MASK_RULES",
    "MIN_PHONE_DIGITS",
    "MOBILE_PATTERNS",
    "MULTI_VALUE_SPLIT",
    "PROFILE_TABLES",
    "TOP_K",
    "TYPE_THRESHOLD",
    "KeySpec",
    "MaskRule",
    "ProfileResult",
    "SqlQuery",
    "TableProfile",
    "build_audit_metrics",
    "build_column_stats_sql",
    "build_duplicate_ids_sql",
    "build_duplicate_rows_sql",
    "build_key_overlap_sql",
    "build_pattern_frequencies_sql",
    "build_patterns_sql",
    "build_top_values_sql",
    "build_value_counts_sql",
    "check_columns",
    "choose_field",
    "duplicate_keys",
    "key_normalizers",
    "key_overlaps",
    "mask_expression",
    "mask_values",
    "pattern_frequencies",
    "profile_columns",
    "profile_sources",
    "profile_table",
    "read_profile_tables",
    "save_profile",
    "summarize_duplicates",
]
