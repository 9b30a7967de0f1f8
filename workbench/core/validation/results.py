"""Validation results: ``validation_results`` (one row per expectation run) and ``validation_failures``.

This module owns how a GX result becomes rows: every expectation run gives one result row, and
every failed row comes back with its business keys (source, source ID, record key, master ID; file
and row for load files) into ``validation_failures``, which feeds the fix worklist. It also works
out which failed values of personal-data columns must be masked in the Data Docs pages meant for
business (:func:`docs_replacements`); the failures table keeps them whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.engine import catalog
from workbench.engine.connection import registered, table_exists
from workbench.engine.sql import ident

if TYPE_CHECKING:
    import duckdb

    from workbench.project.settings.report import MaskingSettings

# the columns that say which expectation ran where (both tables start with them)
RUN_COLUMNS = ["suite", "stage", "dataset", "expectation", "column", "severity"]
FAILURE_COLUMNS = [
    *RUN_COLUMNS,
    "expectation_index",
    "source",
    "source_id",
    "record_key",
    "master_id",
    "file",
    "row_in_file",
    "value",
    "description",
]
RESULT_COLUMNS = [
    *RUN_COLUMNS,
    "success",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "failures_kept",
    "error",
    "description",
    "expectation_index",
    "kwargs",
    "engine",
    "gx_checked_rows",
    "description_zh",
    "description_en",
]
# key columns that are not a source's own ID column (see failure_frame)
_LINEAGE_KEYS = {"_source", "_row_number", "record_key", "source_id", "master_id", "_file", "_row"}
MIN_MASKED_LENGTH = 5


@dataclass
class ValidationOutcome:
    """What a validation found: one row per expectation, and the failed rows with keys.

    ``docs_dir``, ``language`` and ``docs_replacements`` (failed personal-data values → their masked
    text) are what the offline Data Docs need (:mod:`workbench.presentation.reports.datadocs`), which sets
    ``docs_index`` once the pages are rewritten.
    """

    results: pd.DataFrame
    failures: pd.DataFrame
    docs_index: Path | None = None
    pages: dict[str, str] = field(default_factory=dict)  # suite → page path relative to the docs dir
    docs_dir: Path | None = None
    language: str = "zh"
    docs_replacements: dict[str, str] = field(default_factory=dict)
    engine_stats: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        errors = self.results[self.results["severity"] == "error"]
        return bool(errors["success"].all()) if len(errors) else True

    def metrics(self) -> dict[str, Any]:
        """Figures the ``validate`` stage records."""
        r = self.results
        return {
            "suites": int(r["suite"].nunique()) if len(r) else 0,
            "expectations": len(r),
            "failed_expectations": int((~r["success"].astype(bool)).sum()) if len(r) else 0,
            "failed_errors": int(((~r["success"].astype(bool)) & (r["severity"] == "error")).sum())
            if len(r)
            else 0,
            "failure_rows": len(self.failures),
            "failed_rows_counted": int(pd.to_numeric(r["unexpected_count"], errors="coerce").fillna(0).sum())
            if len(r)
            else 0,
            "rules_counted_in_sql": int(self.engine_stats.get("sql_rules", 0)),
            "rules_decided_by_gx": int(self.engine_stats.get("gx_rules", 0)),
            "sql_gx_disagreements": int(self.engine_stats.get("disagreements", 0)),
            "gx_sample_rows": int(self.engine_stats.get("gx_sample_rows", 0)),
            "failure_rows_by_stage": {
                str(k): int(v) for k, v in self.failures["stage"].value_counts().sort_index().items()
            },
            "datadocs": str(self.docs_index) if self.docs_index else None,
        }

    def failed(self) -> pd.DataFrame:
        """The expectations that failed, errors first."""
        r = self.results[~self.results["success"].astype(bool)]
        return r.sort_values(["severity", "suite", "expectation", "column"], kind="mergesort").reset_index(
            drop=True
        )


@dataclass(frozen=True)
class ExpectationRun:
    """One expectation as it ran on one dataset: where it belongs and what it returned."""

    suite: str
    stage: str
    dataset: str
    expectation: str
    column: str
    severity: str
    description: str


def describe(meta: dict[str, Any], language: str) -> str:
    """The expectation's description in `language` (English when there is none)."""
    return str(meta.get(f"description_{language}") or meta.get("description_en") or "")


def result_row(
    run: ExpectationRun, success: bool, result: dict[str, Any], kept: int, error: str | None
) -> dict:
    """The ``validation_results`` row of one expectation run."""
    return {
        "suite": run.suite,
        "stage": run.stage,
        "dataset": run.dataset,
        "expectation": run.expectation,
        "column": run.column,
        "severity": run.severity,
        "success": bool(success),
        "element_count": result.get("element_count"),
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": result.get("unexpected_percent"),
        "failures_kept": kept,
        "error": error,
        "description": run.description,
    }


def failure_frame(run: ExpectationRun, kept: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """The failed rows of one expectation run: its labels, the row keys (``_keys``) and the value."""
    frame = pd.DataFrame(kept)
    value_cols = [c for c in frame.columns if c not in keys]
    if run.column and run.column in frame.columns and run.column not in value_cols:
        value_cols = [run.column]
    values = frame[value_cols].astype("string").fillna("") if value_cols else None
    if values is None:
        value = None
    elif values.shape[1] == 1:
        value = values.iloc[:, 0]
    else:
        value = values.agg("; ".join, axis=1)
    return pd.DataFrame(
        {
            "suite": run.suite,
            "stage": run.stage,
            "dataset": run.dataset,
            "expectation": run.expectation,
            "column": run.column,
            "severity": run.severity,
            "_keys": frame[keys].to_dict("records"),
            "value": value,
            "description": run.description,
        }
    )


def failure_keys(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Spread the key dicts of failed rows into the business key columns (``FAILURE_COLUMNS``)."""
    if not parts:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    keys = pd.DataFrame(df.pop("_keys").tolist())

    def pick(*names: str) -> pd.Series:
        out = pd.Series([None] * len(keys), dtype="object")
        for n in names:
            if n in keys.columns:
                out = out.where(out.notna(), keys[n].astype("object"))
        return out

    row = pd.to_numeric(pick("_row_number"), errors="coerce").astype("Int64").astype("string")
    df["source"] = pick("_source")
    df["record_key"] = pick("record_key")
    has_row = df["record_key"].isna() & df["source"].notna() & row.notna()
    df.loc[has_row, "record_key"] = df.loc[has_row, "source"].astype(str) + ":" + row[has_row].astype(str)
    df["source_id"] = pick("source_id")
    for c in [c for c in keys.columns if c not in _LINEAGE_KEYS]:  # a staged source's own ID column
        df["source_id"] = df["source_id"].where(df["source_id"].notna(), keys[c].astype("object"))
    df["master_id"] = pick("master_id")
    df["file"] = pick("_file")
    df["row_in_file"] = pick("_row")
    for c in ("source", "source_id", "record_key", "master_id", "file", "value"):
        df[c] = df[c].where(df[c].notna(), None).astype("object")
    df["row_in_file"] = pd.to_numeric(df["row_in_file"], errors="coerce").astype("Int64")
    return df[FAILURE_COLUMNS]


def docs_replacements(
    failures: pd.DataFrame, field_kinds: dict[str, Any], masking: MaskingSettings | None
) -> dict[str, str]:
    """Failed values of personal-data columns → their masked text.

    Only values of :data:`MIN_MASKED_LENGTH` or more characters, so a short value is never
    replaced elsewhere in a page.
    """
    from workbench.core.masking import columns_to_mask, mask_series

    if failures.empty or masking is None or not masking.enabled:
        return {}
    plan = columns_to_mask(sorted(failures["column"].dropna().unique()), field_kinds, masking)
    out: dict[str, str] = {}
    for col, kind in plan.items():
        values = failures.loc[failures["column"] == col, "value"].dropna().astype(str).drop_duplicates()
        values = values[values.str.len() >= MIN_MASKED_LENGTH]
        masked = mask_series(values.astype("object"), kind, masking)
        out.update({v: m for v, m in zip(values, masked, strict=True) if v != m})
    return out


def store_outcome(con: duckdb.DuckDBPyConnection, outcome: ValidationOutcome) -> None:
    """Write ``validation_results`` and ``validation_failures`` (master IDs filled from the crosswalk).

    ``outcome.failures`` is replaced by the rows as stored.
    """
    results, failures = catalog.temp("results"), catalog.temp("failures")
    has_crosswalk = table_exists(con, catalog.CROSSWALK.name)
    cw = f"LEFT JOIN {catalog.CROSSWALK} c ON c.record_key = f.record_key" if has_crosswalk else ""
    master = "coalesce(f.master_id, c.master_id)" if cw else "f.master_id"
    cols = ", ".join(
        f"f.{ident(c)}" if c != "master_id" else f"{master} AS master_id" for c in FAILURE_COLUMNS
    )
    with registered(con, results, outcome.results), registered(con, failures, outcome.failures):
        con.execute(f"CREATE OR REPLACE TABLE {catalog.VALIDATION_RESULTS} AS SELECT * FROM {results}")
        con.execute(
            f"CREATE OR REPLACE TABLE {catalog.VALIDATION_FAILURES} AS SELECT {cols} FROM {failures} f {cw} "
            "ORDER BY f.suite, f.expectation, f.column, f.record_key, f.file, f.row_in_file"
        )
    outcome.failures = con.sql(f"SELECT * FROM {catalog.VALIDATION_FAILURES}").df()
