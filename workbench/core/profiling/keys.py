"""Keys in the profile: exact duplicates within a source and keys shared between sources.

This module owns ``profile_duplicates`` (IDs held by several rows, and identical rows by their
``_row_hash``) and ``profile_key_overlaps`` (distinct phone, e-mail and tax ID keys of each
customer source, lightly normalised, and how many each pair of sources shares). The SQL comes from
:mod:`workbench.core.profiling.sql`.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from workbench.core.profiling.sql import (
    KeySpec,
    build_duplicate_ids_sql,
    build_duplicate_rows_sql,
    build_key_overlap_sql,
    key_normalizers,
)
from workbench.core.profiling.table_profile import staged_table
from workbench.engine.connection import table_columns
from workbench.project.config import Kind, ProjectConfig

KEY_KINDS: tuple[str, ...] = (Kind.PHONE.value, Kind.EMAIL.value, Kind.TAX_ID.value)
"""Field kinds whose keys are compared between sources."""


def duplicate_keys(con: duckdb.DuckDBPyConnection, source_table: str, id_field: str | None) -> pd.DataFrame:
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


def key_overlaps(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, *, kinds: Sequence[str] = KEY_KINDS
) -> pd.DataFrame:
    """The overlap of keys (phone, e-mail, tax ID) between every pair of customer sources.

    The fields compared are those of the given kinds in the config; all fields of one kind in a
    source are pooled (a number in the ERP's 电话 may be the CRM's Mobile). Cells holding several
    keys are split (see :data:`~workbench.core.profiling.sql.MULTI_VALUE_SPLIT`) and keys are lightly normalised in SQL
    (:func:`~workbench.core.profiling.sql.key_normalizers`, for the project's ``default_region``).

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
        table = staged_table(con, source.name)
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
