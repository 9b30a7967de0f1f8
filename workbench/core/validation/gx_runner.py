"""Running GX suites on DuckDB tables: counted in SQL, checked by Great Expectations on every run.

This module owns the validation of one run's datasets (:func:`run_suites`). Great Expectations
cannot validate DuckDB tables through its SQL data source (see NOTES.md), and GX on a pandas frame
of a whole table costs some 25 times the SQL of the same rules and a frame of the table in memory.
So each suite runs in two engines that must agree:

- **DuckDB counts every row.** The expectations are compiled to SQL with GX's own semantics
  (:mod:`.sql_rules`) and counted over the whole table in one scan (:mod:`.engine`); the failed
  rows listed are a bounded sample (at most ``failures_limit`` per expectation, chosen by a seeded
  hash, so a rerun lists the same rows).
- **Great Expectations is the engine of record for what each rule means.** GX validates a bounded
  sample of every dataset (seeded passing rows and failed rows of each expectation) as a GX
  checkpoint; the same SQL runs on the same sample, and every rule must find exactly the rows GX
  finds, with the same success. A rule on which they disagree, and every expectation the SQL does
  not translate, is decided by GX itself on the columns it reads (only those columns are read
  into pandas). The GX validation of the sample also builds GX's own Data Docs site (for analysts).

So a validation figure is never SQL's alone: a rule's SQL is used only after GX has confirmed it on
that very run's data, and GX's suites, checkpoints and results stay the record of each run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.core.validation import engine as sql
from workbench.core.validation.gx_context import DOCS_SITE, import_gx, new_context
from workbench.core.validation.results import (
    RESULT_COLUMNS,
    ExpectationRun,
    ValidationOutcome,
    describe,
    docs_replacements,
    failure_frame,
    failure_keys,
    result_row,
)
from workbench.core.validation.sql_rules import CompiledRule
from workbench.core.validation.suite_files import load_suite
from workbench.engine import catalog
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.settings.report import MaskingSettings

log = logging.getLogger(__name__)

GX_SAMPLE_ROWS = 2_000  # passing rows of each dataset GX checks (besides the failed ones)
GX_SAMPLE_FAILING = 50  # failed rows of each expectation GX checks


class ValidationError(WorkbenchError):
    """Validation cannot run: a table is missing or a suite does not fit its data."""


@dataclass
class SuiteCheck:
    """One suite to run on one dataset: a table (or view) of the run database."""

    suite: dict[str, Any]
    relation: str
    dataset: str
    stage: str
    keys: list[str]


@dataclass
class _RuleResult:
    """What a validation found for one expectation, from whichever engine decided it."""

    rule: CompiledRule
    count: sql.RuleCount
    failures: pd.DataFrame  # keys + value columns of the listed failed rows, in order
    engine: str
    gx_checked: int | None = None
    gx_agrees: bool | None = None
    gx_error: str | None = None


@dataclass
class _Run:
    """Settings shared by every suite of one validation."""

    con: Any
    context: Any
    source: Any
    run_name: str
    seed: int
    failures_limit: int
    gx_rows: int
    gx_failing: int
    with_docs: bool
    stats: dict[str, int] = field(default_factory=lambda: {"sql_rules": 0, "gx_rules": 0, "disagreements": 0,
                                                           "gx_sample_rows": 0})


# --------------------------------------------------------------------------------------------
# GX


def _gx_validate(run: _Run, name: str, suite_raw: dict[str, Any], entries: list[int], frame: pd.DataFrame,
                 index_column: str, docs: bool) -> dict[int, Any]:
    """Validate `frame` with the entries `entries` of a suite in GX; results by entry index."""
    gx = import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    raw = {**suite_raw, "name": name, "expectations": [suite_raw["expectations"][i] for i in entries]}
    suite = run.context.suites.add(load_suite(raw, origin=str(suite_raw.get("name"))))
    by_id = {e.id: entries[k] for k, e in enumerate(suite.expectations)}
    asset = run.source.add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("whole")
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [index_column]}
    if not docs:  # validate the batch directly: no checkpoint, nothing stored
        suite_result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format=result_format)
        return {by_id[r.expectation_config.id]: r for r in suite_result.results}
    vd = run.context.validation_definitions.add(gx.ValidationDefinition(name=f"vd_{name}", data=batch, suite=suite))
    checkpoint = run.context.checkpoints.add(
        gx.Checkpoint(
            name=f"cp_{name}",
            validation_definitions=[vd],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])],
            result_format=result_format,
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run.run_name))
    out: dict[int, Any] = {}
    for vr in result.run_results.values():
        for r in vr.results:
            out[by_id[r.expectation_config.id]] = r
    return out


def _gx_error(r: Any) -> str | None:
    """GX's message when an expectation raised (its exception info is flat, or keyed by metric)."""
    info = r.exception_info or {}
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return " ".join(str(entry.get("exception_message") or "").split())[:300]
    return None


def _gx_unexpected(r: Any, index_column: str) -> list[int]:
    rows = (r.result or {}).get("unexpected_index_list") or []
    return [int(x[index_column]) for x in rows if isinstance(x, dict) and index_column in x]


def _agrees(r: Any, rows: set[int], count: sql.RuleCount) -> bool:
    """Whether GX's result on the sample is the SQL's: same rows, same success, same element count."""
    if _gx_error(r) is not None:
        return count.error is not None
    if count.error is not None:
        return False
    if count.element_count is None:  # existence
        return bool(r.success) == count.success
    gx_rows = set(_gx_unexpected(r, sql.SAMPLE_ROW))
    element = (r.result or {}).get("element_count")
    return gx_rows == rows and bool(r.success) == count.success and int(element or 0) == count.element_count


# --------------------------------------------------------------------------------------------
# one suite


def _sample_frame(check: SuiteCheck, rules: list[CompiledRule], rows: pd.DataFrame, order: pd.DataFrame,
                  schema: dict[str, str]) -> pd.DataFrame:
    """The rows GX checks (the dataset sample and failed rows of each rule) with the columns it reads."""
    needed = list(dict.fromkeys([*check.keys, *(c for r in rules for c in r.columns)]))
    needed += [r.kwargs["column"] for r in rules if r.exists and r.kwargs.get("column") not in needed]
    ids = list(dict.fromkeys(order[sql.ROW_ID].tolist()))
    frame = rows.loc[ids, [c for c in needed if c in schema]].reset_index(drop=True)
    frame[sql.SAMPLE_ROW] = np.arange(len(frame), dtype="int64")
    return frame


def _check_sample(run: _Run, check: SuiteCheck, name: str, rules: list[CompiledRule], frame: pd.DataFrame
                  ) -> dict[int, bool]:
    """GX on the sample versus the same SQL on the sample: whether they agree, per rule."""
    checked = [r for r in rules if r.engine != "gx"]
    if not checked:
        return {}
    table = sql.sample_table(run.con, frame, "validation_sample")
    try:
        counted = sql.sql_rules(checked)
        on_sample = sql.sample_flags(run.con, table, counted) if counted else {}
        sample_schema = sql.schema_of(run.con, table)
    finally:
        run.con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
    gx_results = _gx_validate(run, name, check.suite, [r.index for r in checked], frame, sql.SAMPLE_ROW,
                              run.with_docs)
    agree: dict[int, bool] = {}
    for r in checked:
        if r.index in on_sample:
            found, count = on_sample[r.index]
        else:  # existence and missing columns: judged on the sample's columns
            exists = r.kwargs.get("column") in sample_schema if r.exists is not None else None
            count = sql.RuleCount(None, None, None, bool(exists), r.error)
            found = set()
        agree[r.index] = _agrees(gx_results[r.index], found, count)
    return agree


def _failures_from_rows(check: SuiteCheck, rule: CompiledRule, rows: pd.DataFrame) -> pd.DataFrame:
    cols = [*check.keys, *(c for c in rule.value_columns if c not in check.keys)]
    return rows[[c for c in cols if c in rows.columns]].reset_index(drop=True)


def _sql_failures(check: SuiteCheck, rules: list[CompiledRule], rows: pd.DataFrame, order: pd.DataFrame
                  ) -> dict[int, pd.DataFrame]:
    """The listed failed rows of each SQL rule (keys and values), in their seeded order."""
    by_rule = {r.index: r for r in rules}
    out = {}
    for index, part in order.dropna(subset=["rule"]).groupby("rule", sort=True):
        rule = by_rule[int(index)]
        out[rule.index] = _failures_from_rows(check, rule, rows.loc[part[sql.ROW_ID].tolist()])
    return out


def _sql_side(run: _Run, check: SuiteCheck, rules: list[CompiledRule], schema: dict[str, str]
              ) -> tuple[dict[int, sql.RuleCount], dict[int, pd.DataFrame], pd.DataFrame]:
    """Count every SQL rule over the whole dataset; fetch the listed failed rows and GX's sample."""
    counted = sql.sql_rules(rules)
    plan = sql.Plan(run.con, check.relation, counted, "full")
    try:
        counts = sql.count_rules(plan, rules)
        failed = sql.failed_rows(plan, counts)
        pick = sql.pick_rows(run.con, check.relation, counted, counts, failed, seed=run.seed,
                             failures_limit=run.failures_limit, gx_rows=run.gx_rows, gx_failing=run.gx_failing)
        columns = list(dict.fromkeys([*check.keys, *(c for r in rules for c in (*r.columns, *r.value_columns))]))
        columns += [r.kwargs["column"] for r in rules if r.exists and r.kwargs.get("column") not in columns]
        rows = sql.fetch_rows(run.con, check.relation, [c for c in columns if c in schema], pick).set_index(sql.ROW_ID)
        failure_order = sql.picked(run.con, pick, "failure")
        gx_order = sql.picked(run.con, pick, "gx")
    finally:
        plan.drop()
        sql.drop_scratch(run.con)
    frame = _sample_frame(check, [r for r in rules if r.engine != "gx"], rows, gx_order, schema)
    return counts, _sql_failures(check, counted, rows, failure_order), frame


def _gx_whole(run: _Run, check: SuiteCheck, name: str, rules: list[CompiledRule],
              schema: dict[str, str]) -> dict[int, _RuleResult]:
    """Rules GX decides on the whole dataset (only the columns they read are loaded)."""
    if not rules:
        return {}
    columns = list(dict.fromkeys([*check.keys, *(c for r in rules for c in r.columns)]))
    cols = ", ".join(ident(c) for c in columns if c in schema)
    frame = run.con.execute(f"SELECT rowid AS {sql.ROW_ID}, {cols} FROM {ident(check.relation)} ORDER BY rowid").df()
    results = _gx_validate(run, f"{name}__whole", check.suite, [r.index for r in rules], frame, sql.ROW_ID,
                           docs=False)
    out = {}
    rng = np.random.default_rng(run.seed)
    by_row = frame.set_index(sql.ROW_ID)
    for r in rules:
        res = results[r.index]
        stats = res.result or {}
        error = _gx_error(res)
        bad = _gx_unexpected(res, sql.ROW_ID)
        if len(bad) > run.failures_limit:
            bad = sorted(rng.choice(np.array(bad), size=run.failures_limit, replace=False).tolist())
        if not r.value_columns:
            r.value_columns = tuple(c for c in r.columns if c not in check.keys)[:1]
        rows = _failures_from_rows(check, r, by_row.loc[bad]) if bad else pd.DataFrame()
        count = sql.RuleCount(
            stats.get("element_count"),
            None if stats.get("unexpected_count") is None else
            int(stats.get("element_count") or 0) - int(stats.get("missing_count") or 0),
            stats.get("unexpected_count"),
            bool(res.success),
            error,
        )
        out[r.index] = _RuleResult(r, count, rows, "gx", gx_checked=len(frame), gx_agrees=True, gx_error=error)
    run.stats["gx_rules"] += len(rules)
    return out


def _run_check(run: _Run, check: SuiteCheck, k: int) -> list[_RuleResult]:
    """Validate one dataset with one suite (see the module docstring)."""
    schema = sql.schema_of(run.con, check.relation)
    missing = [c for c in check.keys if c not in schema]
    if missing:
        raise ValidationError(f"suite {check.suite.get('name')}: key column(s) {missing} are not in dataset "
                              f"{check.dataset}")
    name = f"{check.suite.get('name')}__{k}"
    rules = sql.compile_suite(run.con, list(check.suite["expectations"]), schema)
    counts, failures, frame = _sql_side(run, check, rules, schema)
    agree = _check_sample(run, check, name, rules, frame)
    run.stats["gx_sample_rows"] += len(frame)
    results: dict[int, _RuleResult] = {}
    redo = [r for r in rules if r.engine == "gx"]
    for r in rules:
        if r.engine == "gx":
            continue
        if not agree.get(r.index, False):
            log.warning("suite %s: GX and the SQL of %s on %s disagree on the sample; GX decides it",
                        check.suite.get("name"), r.type, ",".join(r.value_columns) or r.kwargs.get("column"))
            run.stats["disagreements"] += 1
            r.columns = r.columns or tuple(c for c in [r.kwargs.get("column")] if c in schema)
            redo.append(r)
            continue
        results[r.index] = _RuleResult(r, counts[r.index], failures.get(r.index, pd.DataFrame()), r.engine,
                                       gx_checked=len(frame), gx_agrees=True)
        run.stats["sql_rules"] += 1
    results.update(_gx_whole(run, check, name, redo, schema))
    return [results[i] for i in sorted(results)]


# --------------------------------------------------------------------------------------------
# results


def _collect(check: SuiteCheck, language: str, res: _RuleResult, rows: list[dict], failures: list[pd.DataFrame],
             entry: dict[str, Any]) -> None:
    meta = entry.get("meta") or {}
    kw = res.rule.kwargs
    run = ExpectationRun(
        suite=str(check.suite.get("name")),
        stage=check.stage,
        dataset=check.dataset,
        expectation=res.rule.type,
        column=kw.get("column") or ",".join(kw.get("column_list") or []),
        severity=meta.get("severity", "error"),
        description=describe(meta, language),
    )
    c = res.count
    stats = {
        "element_count": c.element_count,
        "unexpected_count": c.unexpected_count,
        "unexpected_percent": c.unexpected_percent,
    }
    row = result_row(run, c.success, stats, len(res.failures), c.error or res.gx_error)
    row.update(
        expectation_index=res.rule.index,
        kwargs=json.dumps(kw, ensure_ascii=False, sort_keys=True, default=str),
        engine=res.engine,
        gx_checked_rows=res.gx_checked,
        description_zh=describe(meta, "zh"),
        description_en=describe(meta, "en"),
    )
    rows.append(row)
    if len(res.failures):
        frame = failure_frame(run, res.failures.to_dict("records"), check.keys)
        failures.append(frame.assign(expectation_index=res.rule.index))


def find_pages(docs_dir: Path) -> dict[str, str]:
    """suite name → the newest page GX wrote for that suite's sample (relative to `docs_dir`)."""
    pages = {}
    root = docs_dir / "validations"
    if root.exists():
        for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            found = sorted(suite_dir.rglob("*.html"))
            if found:
                pages[suite_dir.name.rsplit("__", 1)[0]] = found[-1].relative_to(docs_dir).as_posix()
    return pages


def run_suites(
    con: duckdb.DuckDBPyConnection,
    checks: list[SuiteCheck],
    docs_dir: Path | None,
    *,
    run_name: str,
    language: str = "zh",
    failures_limit: int = 1_000,
    seed: int = 0,
    gx_rows: int = GX_SAMPLE_ROWS,
    gx_failing: int = GX_SAMPLE_FAILING,
    field_kinds: dict[str, Any] | None = None,
    masking: MaskingSettings | None = None,
) -> ValidationOutcome:
    """Run each suite on its dataset (counted in DuckDB, checked by GX; see the module docstring).

    Failed values of personal-data columns (by `field_kinds` and `masking`) are listed in
    ``docs_replacements`` so GX's own pages can be masked; the failures table keeps them whole for
    the fix worklist.

    Args:
        con: the run database (every check's relation is a table or view in it).
        checks: the suites and their datasets.
        docs_dir: folder of GX's own Data Docs site (of the GX samples); ``None`` builds none.
        run_name: names the validation runs (the run id).
        language: language of the descriptions.
        failures_limit: at most this many failed rows are listed per expectation (a seeded sample).
        seed: the seed of every sample.
        gx_rows: rows of each dataset GX checks besides the failed ones.
        gx_failing: failed rows of each expectation GX checks.
        field_kinds: canonical field → kind, for masking GX's pages.
        masking: ``report.masking``.

    Raises:
        ValidationError: a check's key columns are not in its dataset.
    """
    import_gx()  # before any other GX import: analytics off
    context = new_context(docs_dir)
    run = _Run(con, context, context.data_sources.add_pandas("workbench"), run_name, seed, failures_limit,
               gx_rows, gx_failing, docs_dir is not None)
    rows: list[dict] = []
    failures: list[pd.DataFrame] = []
    for k, check in enumerate(checks):
        for res in _run_check(run, check, k):
            _collect(check, language, res, rows, failures, check.suite["expectations"][res.rule.index])
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    outcome = ValidationOutcome(results, failure_keys(failures), language=language, engine_stats=dict(run.stats))
    if docs_dir is not None and docs_dir.exists():
        outcome.docs_dir = docs_dir
        outcome.pages = find_pages(docs_dir)
        outcome.docs_replacements = (
            docs_replacements(outcome.failures, field_kinds or {}, masking) if field_kinds else {}
        )
    return outcome


def frame_relation(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str) -> str:
    """Copy a pandas frame (e.g. a load file read back) into a scratch table to validate."""
    table = catalog.temp(name)
    from workbench.engine.connection import registered

    with registered(con, catalog.temp(f"{name}_frame"), frame) as view:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT * FROM {ident(view)}")
    return table
