"""The profile of a run: every staged source profiled, saved in and read back from the run database.

This module owns the profile tables of a run (stage ``audit``), written by :func:`profile_sources`
and replaced on rerun:

``profile_columns``      one row per (source, staged column) with the statistics
``profile_top_values``   (source, field, rank, value, count, share)
``profile_patterns``     (source, field, rank, pattern, count, share, distinct_values, example)
``profile_duplicates``   (source, check, key, rows, row_numbers): duplicate IDs and duplicate rows
``profile_key_overlaps`` (key_kind, source_a, source_b, source_order_a, source_order_b,
                          fields_a, fields_b, keys_a, keys_b, shared_keys, jaccard)

One table is profiled by :mod:`workbench.core.profiling.table_profile`; duplicates and key overlaps
come from :mod:`workbench.core.profiling.keys`. :func:`read_profile_tables` reads the saved tables
back (for the report and the notebooks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from workbench.core.profiling.keys import KEY_KINDS, duplicate_keys, key_overlaps, summarize_duplicates
from workbench.core.profiling.sql import DATE_FORMATS
from workbench.core.profiling.table_profile import TOP_K, TYPE_THRESHOLD, profile_table, staged_table
from workbench.engine.catalog import (
    PROFILE_COLUMNS,
    PROFILE_DUPLICATES,
    PROFILE_KEY_OVERLAPS,
    PROFILE_PATTERNS,
    PROFILE_TOP_VALUES,
    STAGED_COLUMNS,
    temp,
)
from workbench.engine.connection import registered, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import ProjectConfig

if TYPE_CHECKING:
    from workbench.project.config import SourceSpec
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)


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


PROFILE_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "columns": (PROFILE_COLUMNS.name, ("source_order", "position")),
    "top_values": (PROFILE_TOP_VALUES.name, ("source_order", "position", "rank")),
    "patterns": (PROFILE_PATTERNS.name, ("source_order", "position", "rank")),
    "duplicates": (PROFILE_DUPLICATES.name, ("source_order", "check", "rows DESC", "key")),
    "overlaps": (PROFILE_KEY_OVERLAPS.name, ("key_kind", "source_order_a", "source_order_b")),
}
"""Attribute of :class:`ProfileResult` → (run table, sort keys before saving)."""


def profile_sources(
    ctx_or_config: RunContext | ProjectConfig,
    con: duckdb.DuckDBPyConnection,
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
        type_threshold: see :func:`~workbench.core.profiling.table_profile.profile_columns`.
        date_formats: see :func:`~workbench.core.profiling.table_profile.profile_columns`.

    Raises:
        WorkbenchError: a source has no staged table (run the ingest first).
    """
    config = ctx_or_config if isinstance(ctx_or_config, ProjectConfig) else ctx_or_config.config
    column_map = _read_column_map(con)
    col_frames: list[pd.DataFrame] = []
    top_frames: list[pd.DataFrame] = []
    pat_frames: list[pd.DataFrame] = []
    dup_frames: list[pd.DataFrame] = []
    for order, source in enumerate(config.sources):
        table = staged_table(con, source.name)
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


def save_profile(con: duckdb.DuckDBPyConnection, result: ProfileResult) -> dict[str, str]:
    """Replace the profile tables of the run database with `result` (sorted by unique keys).

    Returns:
        The table written for each attribute of `result` (see :data:`PROFILE_TABLES`).
    """
    saved = {}
    for attr, (name, order) in PROFILE_TABLES.items():
        with registered(con, temp(f"profile_save_{attr}"), getattr(result, attr)) as view:
            con.execute(
                f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT * FROM {ident(view)}{_order_by(order)}"
            )
        saved[attr] = name
    return saved


def read_profile_tables(con: duckdb.DuckDBPyConnection) -> ProfileResult:
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


def _read_column_map(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    if not table_exists(con, STAGED_COLUMNS.name):
        return None
    return con.execute(
        f"SELECT source, field, header, kind, mapped FROM {STAGED_COLUMNS} WHERE field IS NOT NULL "
        "ORDER BY source, position"
    ).df()


def _column_info(source: SourceSpec, column_map: pd.DataFrame | None, fields: pd.Series) -> pd.DataFrame:
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
