"""The project's fixes file: corrections typed in by people, applied by standardize on every run.

A fix says "in source S, the record with source ID I has the value V in field F" (typically typed
into the fix worklist of the ERP's import log; ``workbench import-log`` writes them). The file is
``standardize.fixes_path`` (default ``fixes.csv`` beside ``workbench.yaml``), UTF-8 CSV with the
columns ``source,source_id,field,value,reason,fixed_by,fixed_at``; ``field`` is a canonical field.
For one ``(source, source_id, field)`` the newest row wins (by ``fixed_at``, then by the order in
the file). An empty ``value`` sets the field empty.

On every run the fixed value replaces the raw value of that field for the rows of that source whose
source ID matches (before it is standardized, like any value); each application is a
``change_log`` row with the rule ``fix:<reason>`` (before: the staged value, after: the fixed
value), and the standardizer's own changes of the fixed value follow as usual. A fix that matches
no row, names an unknown source or field, or targets the source's ID field is listed and counted
(:class:`FixesSummary`), never silently ignored.

This module owns reading the file and applying it to the base table.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from workbench.core.standardize.base import StandardizeError
from workbench.core.standardize.fields import BASE_TABLE, StdField
from workbench.engine.catalog import temp
from workbench.engine.connection import registered
from workbench.engine.sql import ident

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig

log = logging.getLogger(__name__)

FIX_COLUMNS = ("source", "source_id", "field", "value", "reason", "fixed_by", "fixed_at")
REQUIRED_COLUMNS = ("source", "source_id", "field", "value")
FIXES_VIEW = temp("std_fixes")
UNMATCHED_LISTED = 200
"""At most this many unmatched fixes are listed in the metrics (all are counted)."""


@dataclass
class FixesSummary:
    """What the fixes file held and what was applied."""

    path: Path | None
    rows_in_file: int = 0
    fixes: int = 0  # after the newest row per (source, source_id, field) won
    applied: int = 0  # fixes that matched at least one row
    records_changed: int = 0  # (row, field) pairs that got a fixed value
    unmatched: list[dict[str, str]] = field(default_factory=list)
    fixed_fields: set[str] = field(default_factory=set)

    def metrics(self) -> dict[str, Any]:
        """The figures the standardize stage records under ``fixes``."""
        return {
            "file": None if self.path is None else str(self.path),
            "rows_in_file": self.rows_in_file,
            "fixes": self.fixes,
            "applied": self.applied,
            "values_changed": self.records_changed,
            "unmatched": len(self.unmatched),
            "unmatched_list": self.unmatched[:UNMATCHED_LISTED],
        }


def fixes_path(config: ProjectConfig) -> Path:
    """The fixes file of a project (``standardize.fixes_path``, relative to the config file)."""
    return config.resolve(config.standardize.fixes_path)


def read_fixes(path: Path) -> tuple[pd.DataFrame, int]:
    """The fixes of a file, the newest per ``(source, source_id, field)``, and the file's row count.

    Raises:
        StandardizeError: the file cannot be read or lacks a required column.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise StandardizeError(
            f"{path}: cannot read the fixes file ({exc}); it must be a UTF-8 CSV with the columns "
            f"{','.join(FIX_COLUMNS)}"
        ) from exc
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=list(FIX_COLUMNS)), 0
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise StandardizeError(
            f"{path}: the fixes file lacks the column(s) {missing}; its header must be "
            f"{','.join(FIX_COLUMNS)}"
        )
    for column in FIX_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    rows = len(frame)
    for column in ("source", "source_id", "field"):
        frame[column] = frame[column].str.strip()
    frame = frame[(frame["source"] != "") & (frame["source_id"] != "") & (frame["field"] != "")].copy()
    frame["__order"] = range(len(frame))
    frame["__at"] = pd.to_datetime(frame["fixed_at"].str.strip(), errors="coerce", utc=True)
    # newest wins: fixed_at (a row without a date counts as older), then the later row of the file
    frame = frame.sort_values(["__at", "__order"], na_position="first", kind="stable")
    frame = frame.drop_duplicates(["source", "source_id", "field"], keep="last")
    frame = frame.sort_values("__order", kind="stable").drop(columns=["__order", "__at"])
    return frame.reset_index(drop=True), rows


def fix_rule(reason: str) -> str:
    """The change-log rule of a fix: ``fix:<reason>`` (``;`` would split rules, so it becomes ``,``)."""
    text = re.sub(r"\s+", " ", str(reason or "").replace(";", ",")).strip()
    return f"fix:{text or 'manual'}"


def apply_fixes(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    plans: list[StdField],
    *,
    combined: bool,
    summary: FixesSummary,
) -> None:
    """Apply the fixes of one round to :data:`BASE_TABLE` and add what happened to `summary`.

    Round one (``combined=False``) applies the fixes of fields staged from a file column, round two
    those of combined fields (after they are computed from their fixed parts). For every fixed field
    ``f`` the base table gets ``__fix__f`` (the rule) and ``__input__f`` (the staged value), so the
    pipeline can write the change log and keep ``f_raw`` the staged value.
    """
    frame = _round_fixes(config, plans, combined=combined, summary=summary)
    if frame.empty:
        return
    names = {p.name for p in plans}
    table = pa.table(
        {
            c: pa.array(frame[c].tolist(), pa.string())
            for c in ("source", "source_id", "field", "value", "rule")
        }
    )
    with registered(con, FIXES_VIEW, table):
        for name in sorted(set(frame["field"]) & names):
            _add_fix_columns(con, name)
            con.execute(
                f"UPDATE {BASE_TABLE} b SET {ident(fix_input(name))} = b.{ident(name)}, "
                f"{ident(name)} = nullif(x.value, ''), {ident(fix_column(name))} = x.rule "
                f"FROM {FIXES_VIEW} x WHERE x.field = ? AND x.source = b._source AND x.source_id = b.source_id",
                [name],
            )
            summary.fixed_fields.add(name)
        hits = con.execute(
            f"SELECT x.source, x.source_id, x.field, count(b.record_key) FROM {FIXES_VIEW} x "
            f"LEFT JOIN {BASE_TABLE} b ON b._source = x.source AND b.source_id = x.source_id "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    for source, source_id, field_name, n in hits:
        if n:
            summary.applied += 1
            summary.records_changed += int(n)
        else:
            summary.unmatched.append(
                {
                    "source": source,
                    "source_id": source_id,
                    "field": field_name,
                    "why": "no row has this source ID",
                }
            )


def _round_fixes(
    config: ProjectConfig, plans: list[StdField], *, combined: bool, summary: FixesSummary
) -> pd.DataFrame:
    """The fixes of one round with their rule; in round one also reads the file and sorts out the
    fixes that cannot apply (unknown source or field, the ID field)."""
    path = fixes_path(config)
    if not path.is_file():
        return pd.DataFrame(columns=[*FIX_COLUMNS, "rule"])
    frame, rows = read_fixes(path)
    if not combined:
        summary.path, summary.rows_in_file, summary.fixes = path, rows, len(frame)
    sources = {s.name: s for s in config.customer_sources}
    keep = []
    for i, row in enumerate(frame.itertuples(index=False)):
        spec = sources.get(row.source)
        why = _why_not(spec, row.source, row.field, config)
        is_combined = spec is not None and row.field in spec.combine
        if why is None and is_combined == combined:
            keep.append(i)
        elif why is not None and not combined:
            summary.unmatched.append(
                {"source": row.source, "source_id": row.source_id, "field": row.field, "why": why}
            )
            log.warning("fix of %s %s field %s not applied: %s", row.source, row.source_id, row.field, why)
    out = frame.iloc[keep].copy()
    out["rule"] = out["reason"].map(fix_rule)
    return out


def _why_not(spec: Any, source: str, field_name: str, config: ProjectConfig) -> str | None:
    if spec is None:
        return f"no customer source named {source!r} (known: {[s.name for s in config.customer_sources]})"
    if field_name not in spec.field_kinds():
        return f"source {source!r} has no field {field_name!r}"
    if field_name == spec.id_field:
        return "the source's ID field cannot be fixed (a fix is found by it)"
    return None


def fix_column(name: str) -> str:
    """The base/wide column holding the fix rule of field `name` (NULL when not fixed)."""
    return f"__fix__{name}"


def fix_input(name: str) -> str:
    """The base/wide column holding the staged value of field `name` before its fix."""
    return f"__input__{name}"


def _add_fix_columns(con: duckdb.DuckDBPyConnection, name: str) -> None:
    from workbench.engine.connection import table_columns

    have = set(table_columns(con, BASE_TABLE))
    for column in (fix_column(name), fix_input(name)):
        if column not in have:
            con.execute(f"ALTER TABLE {BASE_TABLE} ADD COLUMN {ident(column)} VARCHAR")
