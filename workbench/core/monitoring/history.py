"""After go-live (phase 9): run history of quality metrics, master-data change log, duplicate check.

This module owns the project's history database (``ProjectPaths.run_history``:
``<output dir>/history.duckdb`` unless ``report.history_path`` says otherwise), which outlives the
run folders:

- ``run_metrics(run_id, project, recorded_at, metric, scope, field, value)`` — the quality metrics
  of every run (completeness, validity and uniqueness per field, match rate, reconciliation counts,
  load failure rate, validation failures, sample accuracy); :func:`record_run_metrics` replaces a
  run's rows, so recording a run twice does not double it. Trend charts live in
  :mod:`workbench.presentation.charts.monitoring`.
- ``master_customers`` — the published customer master (:func:`publish_master` copies a run's
  golden records and replays the edits made since), and ``master_change_log`` — every edit, with
  who, what, before, after and why, applied only through :func:`apply_master_edit`, which refuses an
  edit without a reason.

The duplicate check on create (:func:`check_new_customers`) standardizes new records with the
project's standardizers and scores them against the golden master with the run's trained Splink
model, answering per row an existing master ID (with probability and reason), ``review`` or ``new``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.engine import catalog
from workbench.engine.catalog import (
    CROSSWALK,
    DISPOSITIONS,
    GOLDEN_CUSTOMERS,
    LOAD_ROWS,
    MASTER_CHANGE_LOG,
    MASTER_CUSTOMERS,
    QUARANTINE,
    RECONCILIATION_PROBLEMS,
    REJECT_ROWS,
    RUN_METRICS,
    SAMPLE_VERDICTS,
    STD_CUSTOMERS,
    VALIDATION_FAILURES,
    VALIDATION_RESULTS,
)
from workbench.engine.connection import connect, registered, table_columns, table_exists
from workbench.engine.files import atomic_path
from workbench.engine.sql import ident, literal
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig, SourceSpec
    from workbench.project.context import RunContext
    from workbench.project.settings.report import DuplicateCheckSettings

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["run_id", "project", "recorded_at", "metric", "scope", "field", "value"]
CHANGE_LOG_COLUMNS = ["edit_id", "master_id", "field", "before", "after", "who", "why", "edited_at"]
UNIQUENESS_KINDS = ("tax_id", "phone", "email")
NOT_EDITABLE = ("master_id",)


class MonitoringError(WorkbenchError):
    """The history database or a run's tables cannot be read or written as asked."""


class MasterEditError(WorkbenchError):
    """An edit to master data was refused (no reason, unknown master or field, bad value)."""


def _init_history(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {RUN_METRICS} (run_id VARCHAR, project VARCHAR, recorded_at TIMESTAMP, "
        "metric VARCHAR, scope VARCHAR, field VARCHAR, value DOUBLE)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {MASTER_CHANGE_LOG} (edit_id BIGINT, master_id VARCHAR, field VARCHAR, "
        "before VARCHAR, after VARCHAR, who VARCHAR, why VARCHAR, edited_at TIMESTAMP)"
    )


def _read_table(
    history_db: Path | str, table: catalog.Table, columns: list[str], order_by: str, **equal: Any
) -> pd.DataFrame:
    """Rows of a history table, optionally where columns equal values (an empty frame when absent).

    Args:
        history_db: the history database file.
        table: the table to read.
        columns: the columns of an empty result (no file or no table yet).
        order_by: the ORDER BY list.
        equal: column → value filters; a None value does not filter.
    """
    path = Path(history_db)
    if not path.exists():
        return pd.DataFrame(columns=columns)
    con = connect(path, read_only=True)
    try:
        if not table_exists(con, table.name):
            return pd.DataFrame(columns=columns)
        wanted = {c: v for c, v in equal.items() if v}
        where = ("WHERE " + " AND ".join(f"{ident(c)} = ?" for c in wanted)) if wanted else ""
        return con.execute(f"SELECT * FROM {table} {where} ORDER BY {order_by}", list(wanted.values())).df()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# per-run quality metrics


def _share(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> float | None:
    rows = con.execute(sql, params or []).fetchall()
    return None if not rows or rows[0][0] is None else float(rows[0][0])


@dataclass
class _Metrics:
    """The metric rows of one run as they are collected (a None value is skipped)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, metric: str, value: float | None, scope: str = "run", field: str = "") -> None:
        if value is not None:
            self.rows.append({"metric": metric, "scope": scope, "field": field, "value": float(value)})


def _golden_metrics(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, kinds: dict[str, str], m: _Metrics
) -> None:
    """``masters``, ``completeness`` and ``uniqueness`` per field of the golden records."""
    if not table_exists(con, GOLDEN_CUSTOMERS.name):
        return
    cols = table_columns(con, GOLDEN_CUSTOMERS.name)
    fields = [f for f in (config.report.completeness_fields or list(kinds)) if f in cols]
    n = _share(con, f"SELECT count(*) FROM {GOLDEN_CUSTOMERS}") or 0
    m.add("masters", n, "golden")
    if n and fields:
        exprs = ", ".join(
            f"avg(CASE WHEN {ident(f)} IS NULL OR trim(CAST({ident(f)} AS VARCHAR)) = '' THEN 0 ELSE 1 END)"
            for f in fields
        )
        values = con.sql(f"SELECT {exprs} FROM {GOLDEN_CUSTOMERS}").fetchall()[0]
        for f, v in zip(fields, values, strict=True):
            m.add("completeness", v, "golden", f)
    unique_fields = config.report.uniqueness_fields or [f for f, k in kinds.items() if k in UNIQUENESS_KINDS]
    for f in [f for f in unique_fields if f in cols]:
        q = ident(f)
        share = _share(con, f"SELECT count(DISTINCT {q}) / nullif(count({q}), 0) FROM {GOLDEN_CUSTOMERS}")
        m.add("uniqueness", share, "golden", f)


def _standardized_metrics(con: duckdb.DuckDBPyConnection, kinds: dict[str, str], m: _Metrics) -> None:
    """``rows`` and ``validity`` per field (valid among present) of the standardized set."""
    if not table_exists(con, STD_CUSTOMERS.name):
        return
    std_cols = set(table_columns(con, STD_CUSTOMERS.name))
    m.add("rows", _share(con, f"SELECT count(*) FROM {STD_CUSTOMERS}") or 0, "std")
    for f in kinds:
        if f"{f}_valid" in std_cols:
            valid = ident(f + "_valid")
            share = _share(
                con,
                f"SELECT avg(CASE WHEN {valid} THEN 1 ELSE 0 END) FROM {STD_CUSTOMERS} WHERE {valid} IS NOT NULL",
            )
            m.add("validity", share, "std", f)


def _match_metrics(con: duckdb.DuckDBPyConnection, m: _Metrics) -> None:
    """``match_rate`` (share of source rows merged with another), ``source_rows``, ``masters``."""
    if not table_exists(con, CROSSWALK.name):
        return
    n_rows = _share(con, f"SELECT count(*) FROM {CROSSWALK}") or 0
    rate = _share(
        con,
        "SELECT avg(CASE WHEN n > 1 THEN 1 ELSE 0 END) FROM "
        f"(SELECT count(*) OVER (PARTITION BY master_id) AS n FROM {CROSSWALK})",
    )
    m.add("match_rate", rate, "match")
    m.add("source_rows", n_rows, "match")
    m.add("masters", _share(con, f"SELECT count(DISTINCT master_id) FROM {CROSSWALK}"), "match")


def _reconcile_metrics(con: duckdb.DuckDBPyConnection, m: _Metrics) -> None:
    """``disposition`` counts and ``unaccounted_rows``."""
    if not table_exists(con, DISPOSITIONS.name):
        return
    for disposition, count in con.sql(
        f"SELECT disposition, count(*) FROM {DISPOSITIONS} GROUP BY ALL ORDER BY 1"
    ).fetchall():
        m.add("disposition", count, "reconcile", disposition)
    problems = (
        _share(con, f"SELECT count(*) FROM {RECONCILIATION_PROBLEMS}")
        if table_exists(con, RECONCILIATION_PROBLEMS.name)
        else 0.0
    )
    m.add("unaccounted_rows", problems, "reconcile")


def _export_metrics(con: duckdb.DuckDBPyConnection, m: _Metrics) -> None:
    """``loaded_masters``, ``rejected_masters`` and ``load_failure_rate`` (rejected among exported)."""
    if not table_exists(con, LOAD_ROWS.name):
        return
    loaded = _share(con, f"SELECT count(DISTINCT master_id) FROM {LOAD_ROWS}") or 0
    rejected = (
        (_share(con, f"SELECT count(DISTINCT master_id) FROM {REJECT_ROWS}") or 0)
        if table_exists(con, REJECT_ROWS.name)
        else 0
    )
    m.add("loaded_masters", loaded, "export")
    m.add("rejected_masters", rejected, "export")
    m.add("load_failure_rate", rejected / (loaded + rejected) if loaded + rejected else 0.0, "export")


def _validation_metrics(con: duckdb.DuckDBPyConnection, m: _Metrics) -> None:
    """``validation_failures`` per stage (failed rows counted over the whole tables, summed over the
    expectations; the failures table lists only a sample of them) and ``sample_accuracy``."""
    if table_exists(con, VALIDATION_RESULTS.name):
        for stage, count in con.sql(
            f"SELECT stage, coalesce(sum(unexpected_count), 0)::BIGINT FROM {VALIDATION_RESULTS} "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall():
            m.add("validation_failures", count, "validate", stage)
    elif table_exists(con, VALIDATION_FAILURES.name):
        for stage, count in con.sql(
            f"SELECT stage, count(*) FROM {VALIDATION_FAILURES} GROUP BY ALL ORDER BY 1"
        ).fetchall():
            m.add("validation_failures", count, "validate", stage)
    if table_exists(con, SAMPLE_VERDICTS.name):
        accuracy = _share(
            con,
            "SELECT avg(CASE WHEN verdict = 'ok' THEN 1 ELSE 0 END) "
            f"FROM {SAMPLE_VERDICTS} WHERE verdict IS NOT NULL",
        )
        m.add("sample_accuracy", accuracy, "sample")


def collect_run_metrics(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> pd.DataFrame:
    """The quality metrics of one run, from the tables it wrote (missing tables are skipped).

    Returns:
        Long form ``metric, scope, field, value``: ``completeness`` per golden field,
        ``validity`` per standardized field (valid among present), ``uniqueness`` per golden
        field (distinct among present), ``rows``/``masters``/``match_rate`` (share of source rows
        merged with another), ``disposition`` counts, ``unaccounted_rows``, ``load_failure_rate``
        (rejected masters among exported masters), ``validation_failures`` per stage,
        ``sample_accuracy``.
    """
    kinds = {f: str(k.value) for f, k in config.field_kinds().items()}
    m = _Metrics()
    _golden_metrics(con, config, kinds, m)
    _standardized_metrics(con, kinds, m)
    _match_metrics(con, m)
    _reconcile_metrics(con, m)
    _export_metrics(con, m)
    _validation_metrics(con, m)
    return pd.DataFrame(m.rows, columns=["metric", "scope", "field", "value"])


def record_run_metrics(
    ctx: RunContext, con: duckdb.DuckDBPyConnection | None = None, history_db: Path | str | None = None
) -> pd.DataFrame:
    """Record a run's quality metrics in the history database (replacing that run's earlier rows).

    Args:
        ctx: the :class:`~workbench.project.context.RunContext`.
        con: the run database (default: opened read-only from the run).
        history_db: the history file; default ``ctx.project.run_history``.

    Returns:
        The rows recorded.
    """
    own = con is None
    run_con = con or ctx.connect(read_only=True)
    try:
        metrics = collect_run_metrics(run_con, ctx.config)
    finally:
        if own:
            run_con.close()
    metrics.insert(0, "recorded_at", pd.Timestamp(dt.datetime.now().replace(microsecond=0)))
    metrics.insert(0, "project", ctx.config.project.name)
    metrics.insert(0, "run_id", ctx.run_id)
    metrics = metrics[METRIC_COLUMNS]
    path = Path(history_db) if history_db else ctx.project.run_history
    frame = catalog.temp("metrics")
    hist = connect(path)
    try:
        _init_history(hist)
        hist.execute("BEGIN TRANSACTION")
        hist.execute(f"DELETE FROM {RUN_METRICS} WHERE run_id = ?", [ctx.run_id])
        with registered(hist, frame, metrics):
            hist.execute(f"INSERT INTO {RUN_METRICS} SELECT * FROM {frame}")
        hist.execute("COMMIT")
    finally:
        hist.close()
    return metrics


def read_history(history_db: Path | str, *, metric: str | None = None) -> pd.DataFrame:
    """Every recorded metric row (optionally of one metric), ordered by run, metric, scope, field."""
    return _read_table(history_db, RUN_METRICS, METRIC_COLUMNS, "run_id, metric, scope, field", metric=metric)


def metric_trend(history: pd.DataFrame, metric: str, scope: str | None = None) -> pd.DataFrame:
    """One metric across runs: rows = runs (in run order), columns = fields (``value`` if no field)."""
    sel = history[history["metric"] == metric]
    if scope is not None:
        sel = sel[sel["scope"] == scope]
    if sel.empty:
        return pd.DataFrame()
    wide = sel.assign(field=sel["field"].replace("", "value")).pivot_table(
        index="run_id", columns="field", values="value", aggfunc="last"
    )
    wide.columns.name = None
    return wide.sort_index()


def compare_runs(
    history: pd.DataFrame, previous: str | None = None, current: str | None = None
) -> pd.DataFrame:
    """Each metric of two runs side by side with the change (default: the last two runs)."""
    runs = sorted(history["run_id"].unique())
    if len(runs) < 2 and (previous is None or current is None):
        return pd.DataFrame(columns=["metric", "scope", "field", "previous", "current", "change"])
    previous = previous or runs[-2]
    current = current or runs[-1]
    key = ["metric", "scope", "field"]
    a = history[history["run_id"] == previous][[*key, "value"]].rename(columns={"value": "previous"})
    b = history[history["run_id"] == current][[*key, "value"]].rename(columns={"value": "current"})
    out = a.merge(b, on=key, how="outer")
    out["change"] = out["current"] - out["previous"]
    return out.sort_values(key, kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# master data and its change log


def publish_master(history_db: Path | str, run_con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Publish a run's golden records as the customer master, then replay the logged edits.

    The edits in ``master_change_log`` are reapplied in order to masters and fields that still
    exist, so a later run does not silently undo a steward's correction.

    Returns:
        The number of master records published.
    """
    if not table_exists(run_con, GOLDEN_CUSTOMERS.name):
        raise MonitoringError(f"table {GOLDEN_CUSTOMERS} is missing in the run; run the golden stage first")
    golden = run_con.sql(f"SELECT * FROM {GOLDEN_CUSTOMERS} ORDER BY master_id").df()
    golden.insert(1, "published_run", run_id)
    frame = catalog.temp("golden")
    hist = connect(Path(history_db))
    try:
        _init_history(hist)
        hist.execute("BEGIN TRANSACTION")
        with registered(hist, frame, golden):
            hist.execute(
                f"CREATE OR REPLACE TABLE {MASTER_CUSTOMERS} AS SELECT * FROM {frame} ORDER BY master_id"
            )
        cols = set(table_columns(hist, MASTER_CUSTOMERS.name))
        edits = hist.sql(
            f"SELECT master_id, field, after FROM {MASTER_CHANGE_LOG} ORDER BY edit_id"
        ).fetchall()
        replayed = 0
        for master_id, fld, after in edits:
            if fld in cols:
                hist.execute(
                    f"UPDATE {MASTER_CUSTOMERS} SET {ident(fld)} = ? WHERE master_id = ?",
                    [after, master_id],
                )
                replayed += 1
        hist.execute("COMMIT")
        log.info("published %s masters from run %s, replayed %s edits", len(golden), run_id, replayed)
    finally:
        hist.close()
    return len(golden)


def apply_master_edit(
    history_db: Path | str, master_id: str, field: str, new_value: Any, who: str, why: str
) -> dict[str, Any]:
    """Change one field of one master record and log who changed what, from what, to what and why.

    Args:
        history_db: the history database holding ``master_customers``.
        master_id: the master record.
        field: the column to change (not ``master_id``).
        new_value: the new value (``None`` clears the field).
        who: the person making the edit.
        why: the reason; required.

    Returns:
        The change-log row written.

    Raises:
        MasterEditError: no reason or no editor given, unknown master or field, or a value that does
            not fit the field's type. Nothing is changed then.
    """
    if not isinstance(why, str) or not why.strip():
        raise MasterEditError(
            f"edit of {master_id}.{field} refused: give the reason for the change (why), e.g. a ticket number"
        )
    if not isinstance(who, str) or not who.strip():
        raise MasterEditError(f"edit of {master_id}.{field} refused: say who makes the change (who)")
    path = Path(history_db)
    if not path.exists():
        raise MasterEditError(f"{path}: no history database; publish the master first (publish_master)")
    hist = connect(path)
    try:
        _init_history(hist)
        if not table_exists(hist, MASTER_CUSTOMERS.name):
            raise MasterEditError(f"{path}: no published master; run publish_master first")
        cols = table_columns(hist, MASTER_CUSTOMERS.name)
        if field not in cols or field in NOT_EDITABLE or field == "published_run":
            import difflib

            close = difflib.get_close_matches(field, cols, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise MasterEditError(f"cannot edit field {field!r} of the master.{hint} Editable: {cols[2:]}")
        q = ident(field)
        found = hist.execute(
            f"SELECT CAST({q} AS VARCHAR) FROM {MASTER_CUSTOMERS} WHERE master_id = ?", [master_id]
        ).fetchall()
        if not found:
            raise MasterEditError(f"no master record {master_id!r} in {path}; check the master ID")
        before = found[0][0]
        hist.execute("BEGIN TRANSACTION")
        try:
            hist.execute(f"UPDATE {MASTER_CUSTOMERS} SET {q} = ? WHERE master_id = ?", [new_value, master_id])
            after = hist.execute(
                f"SELECT CAST({q} AS VARCHAR) FROM {MASTER_CUSTOMERS} WHERE master_id = ?", [master_id]
            ).fetchall()[0][0]
            edit_id = hist.sql(f"SELECT coalesce(max(edit_id), 0) + 1 FROM {MASTER_CHANGE_LOG}").fetchall()[
                0
            ][0]
            row = {
                "edit_id": int(edit_id),
                "master_id": master_id,
                "field": field,
                "before": before,
                "after": after,
                "who": who.strip(),
                "why": why.strip(),
                "edited_at": dt.datetime.now().replace(microsecond=0),
            }
            hist.execute(
                f"INSERT INTO {MASTER_CHANGE_LOG} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [row[c] for c in CHANGE_LOG_COLUMNS],
            )
            hist.execute("COMMIT")
        except Exception as exc:
            hist.execute("ROLLBACK")
            if isinstance(exc, WorkbenchError):
                raise
            raise MasterEditError(
                f"edit of {master_id}.{field} to {new_value!r} refused: the value does not fit the field ({exc})"
            ) from exc
    finally:
        hist.close()
    log.info("master edit %s: %s.%s %r -> %r by %s", row["edit_id"], master_id, field, before, after, who)
    return row


def read_change_log(history_db: Path | str, master_id: str | None = None) -> pd.DataFrame:
    """The change log (optionally of one master), oldest first."""
    return _read_table(history_db, MASTER_CHANGE_LOG, CHANGE_LOG_COLUMNS, "edit_id", master_id=master_id)


# --------------------------------------------------------------------------------------------
# duplicate check on create

DUPLICATE_COLUMNS = [
    "row_number",
    "source_id",
    "customer_name",
    "decision",
    "master_id",
    "match_probability",
    "reason",
    "candidate_name",
]


def _choose_source(config: ProjectConfig, input_path: Path) -> SourceSpec:
    """The customer source whose columns the new file has (``report.duplicate_check.source`` first)."""
    from workbench.core.ingest import read_source_headers

    wanted = config.report.duplicate_check.source
    candidates = [config.source(wanted)] if wanted else config.customer_sources
    best: SourceSpec | None = None
    best_hits, problems = -1, []
    for spec in candidates:
        probe = spec.model_copy(
            update={"path": input_path, "encoding": "auto", "format": None, "sheet": None}
        )
        try:
            headers = set(read_source_headers(config, probe))
        except WorkbenchError as exc:
            problems.append(f"{spec.name}: {exc}")
            continue
        hits = len(headers & set(spec.columns))
        if spec.id_column in headers and hits > best_hits:
            best, best_hits = probe, hits
    if best is None:
        raise MonitoringError(
            f"{input_path}: its header matches no customer source of the project (each needs at least the "
            f"source's ID column); set report.duplicate_check.source. Details: {'; '.join(problems)}"
        )
    return best


def _model_columns(model: dict[str, Any]) -> set[str]:
    """Columns the model's comparisons and blocking rules read (``x_l`` / ``l.x`` references)."""
    import json
    import re

    text = json.dumps(model)
    cols = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)_l\b", text))
    cols |= set(re.findall(r"\bl\.[\\\"]*([A-Za-z_][A-Za-z0-9_]*)", text))
    for c in model.get("comparisons", []):
        for level in c.get("comparison_levels", []):
            if level.get("tf_adjustment_column"):
                cols.add(level["tf_adjustment_column"])
    return cols


def _reason(row: pd.Series, weight_columns: list[str], limit: int = 3) -> str:
    """The comparisons that speak most for the match, e.g. ``uscc +13.3; mobile +7.9``.

    Splink 5 keeps each comparison's match weight (log2 Bayes factor) as ``mw_<name>`` and its
    term-frequency adjustment as ``mw_tf_adj_<name>``; the two are added.
    """
    scored = []
    for c in weight_columns:
        v = row.get(c)
        if v is None or pd.isna(v):
            continue
        name = c.removeprefix("mw_")
        w = float(v) + float(row.get(f"mw_tf_adj_{name}") or 0.0)
        if w > 0.5:
            scored.append((w, name))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return "; ".join(f"{name} +{w:.1f}" for w, name in scored[:limit])


def check_new_customers(
    config_path: str | Path, input_path: str | Path, run_dir: str | Path | None = None
) -> pd.DataFrame:
    """Duplicate check on create: is each new customer record an existing master?

    The file is read with the layout of the customer source it resembles, standardized with the
    project's standardizers, and scored against the run's ``golden_customers`` with the run's trained
    Splink model (``splink/model.json``, Splink 5 ``predict_between``). Every row of the file gets an
    answer; rows that cannot be parsed are ``quarantined`` with the reason.

    Args:
        config_path: the project's ``workbench.yaml``.
        input_path: the new records (same columns as one of the customer sources).
        run_dir: the run whose golden records and model are used; default the latest run.

    Returns:
        One row per input row, ordered by row number: ``row_number, source_id, customer_name,
        decision`` (``existing`` ≥ ``report.duplicate_check.threshold``, ``review`` ≥
        ``review_threshold``, ``new``, or ``quarantined``), ``master_id`` (best candidate),
        ``match_probability``, ``reason`` (strongest agreeing comparisons, or the quarantine reason),
        ``candidate_name``.
    """
    import json

    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers
    from workbench.project.config import load_config
    from workbench.project.paths import ProjectPaths, RunPaths

    config = load_config(config_path)
    input_path = Path(input_path).expanduser().resolve()
    if not input_path.is_file():
        raise MonitoringError(f"{input_path}: file of new customer records not found")
    paths = RunPaths(Path(run_dir).resolve()) if run_dir else ProjectPaths(config).latest_run()
    model_path = paths.model
    if not model_path.is_file():
        raise MonitoringError(f"{model_path}: no trained model in this run; run the match stage first")
    spec = _choose_source(config, input_path).model_copy(update={"name": "new"})
    new_config = config.model_copy(update={"sources": [spec]})
    con = connect()
    try:
        ingest_sources(new_config, con)
        standardize_customers(new_config, con)
        run_con = connect(paths.warehouse, read_only=True)
        try:
            golden = run_con.sql(f"SELECT * FROM {GOLDEN_CUSTOMERS} ORDER BY master_id").df()
        finally:
            run_con.close()
        with registered(con, catalog.temp("golden_frame"), golden) as frame:
            con.execute(f"CREATE TABLE {GOLDEN_COPY} AS SELECT * FROM {frame}")
        quarantined = (
            con.sql(f"SELECT row_number, reason FROM {QUARANTINE} ORDER BY row_number").df()
            if table_exists(con, QUARANTINE.name)
            else pd.DataFrame(columns=["row_number", "reason"])
        )
        model = json.loads(model_path.read_text(encoding="utf-8"))
        answers = _score_new(con, model, config)
    finally:
        con.close()
    return _decide(answers, quarantined, config.report.duplicate_check)


# scratch tables of the duplicate check (in its own in-memory database)
GOLDEN_COPY = catalog.temp("golden")  # the run's golden records
NEW_RECORDS = catalog.temp("new")  # the new records, as the model reads them
GOLDEN_RECORDS = catalog.temp("gold")  # the golden records, as the model reads them


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    )


def _name_field(config: ProjectConfig) -> str | None:
    """The canonical field of the customer's name (shown with each answer)."""
    return next(
        (f for f, k in config.field_kinds().items() if str(k.value) in ("customer_name", "company_name")),
        None,
    )


@dataclass(frozen=True)
class _ModelInputs:
    """The columns the model reads, and how to make a table of them from new or golden records."""

    uid: str
    src: str
    columns: list[str]  # read as they are (NULL where a side lacks one)
    helpers: dict[str, str]  # derived like the match stage does: name → SQL
    types: dict[str, str]  # a column's type on either side

    def select(self, types: dict[str, str], key: str, source: str, table: str) -> str:
        """SQL of `table` as the model reads it: the key as ``uid``, `source` as ``src``, the columns."""
        cols = [
            f"CAST({ident(key)} AS VARCHAR) AS {ident(self.uid)}",
            f"{literal(source)} AS {ident(self.src)}",
        ]
        for c in self.columns:
            if c in (self.uid, self.src):
                continue
            typ = types.get(c) or self.types.get(c) or "VARCHAR"
            cols.append(f"{ident(c)}" if c in types else f"CAST(NULL AS {typ}) AS {ident(c)}")
        base = f"SELECT {', '.join(cols)} FROM {table}"
        derived = "".join(f", {sql} AS {ident(name)}" for name, sql in self.helpers.items())
        return f"SELECT *{derived} FROM ({base})"


def _model_inputs(
    model: dict[str, Any], config: ProjectConfig, std_types: dict[str, str], gold_types: dict[str, str]
) -> _ModelInputs:
    # helper columns (pinyin of names, all phones, address numbers …) are derived like the match stage does
    from workbench.core.linkage.pipeline import plan_match_inputs

    # planned on the columns of either side: a field the new records lack (a source the new
    # customers' file does not have) is NULL on their side, and its helpers still exist
    both = {**gold_types, **std_types}
    inputs = plan_match_inputs(config, both)
    model_cols = _model_columns(model)
    helpers = {k: v for k, v in inputs.helpers.items() if k in model_cols}
    needed = sorted((set(model_cols) - set(helpers)) | {c for c in inputs.columns if c in both})
    name_col = _name_field(config)
    extra = [name_col] if name_col and name_col not in needed else []
    return _ModelInputs(
        uid=model.get("unique_id_column_name", "record_key"),
        src=model.get("source_dataset_column_name", "_source"),
        columns=[*needed, *extra],
        helpers=helpers,
        types={**gold_types, **std_types},
    )


def _predict(con: duckdb.DuckDBPyConnection, model: dict[str, Any]) -> pd.DataFrame:
    """Splink 5 ``predict_between`` of the golden and the new records (term frequencies computed)."""
    from splink import Linker

    from workbench.engine.splink_backend import splink_api

    db_api = splink_api(con)
    gold = db_api.register(GOLDEN_RECORDS, dataset_display_name="golden")
    new = db_api.register(NEW_RECORDS, dataset_display_name="new")
    settings = dict(model)
    settings["link_type"] = "link_only"
    linker = Linker([gold, new], settings, log_level=None)
    tf_columns = {
        lv.get("tf_adjustment_column")
        for cmp in model.get("comparisons", [])
        for lv in cmp.get("comparison_levels", [])
        if lv.get("tf_adjustment_column")
    }
    for c in sorted(tf_columns):
        linker.table_management.compute_tf_table(c)
    pred = linker.inference.predict_between(gold, new, link_type="link_only", warning_mode="never")
    return con.sql(f"SELECT * FROM {pred.physical_name}").df()


def _best_candidates(df: pd.DataFrame, uid: str, src: str) -> pd.DataFrame:
    """Per new record, its most probable golden master with the reason."""
    # orient every pair as (golden, new)
    left_is_gold = df[f"{src}_l"] == "golden"
    df["master_id"] = df[f"{uid}_l"].where(left_is_gold, df[f"{uid}_r"])
    df["record_key"] = df[f"{uid}_r"].where(left_is_gold, df[f"{uid}_l"])
    mw_cols = [c for c in df.columns if c.startswith("mw_") and not c.startswith("mw_tf_adj_")]
    df["reason"] = [_reason(r, mw_cols) for _, r in df.iterrows()]
    df = df.sort_values(
        ["record_key", "match_probability", "master_id"], ascending=[True, False, True], kind="mergesort"
    )
    return df.drop_duplicates("record_key")[["record_key", "master_id", "match_probability", "reason"]]


def _score_new(con: duckdb.DuckDBPyConnection, model: dict[str, Any], config: ProjectConfig) -> pd.DataFrame:
    """Best golden candidate per new record (``record_key`` new:<row>) with probability and reason."""
    std_types = _column_types(con, STD_CUSTOMERS.name)
    gold_types = _column_types(con, GOLDEN_COPY)
    inputs = _model_inputs(model, config, std_types, gold_types)
    con.execute(
        f"CREATE TABLE {NEW_RECORDS} AS {inputs.select(std_types, 'record_key', 'new', str(STD_CUSTOMERS))}"
    )
    con.execute(
        f"CREATE TABLE {GOLDEN_RECORDS} AS {inputs.select(gold_types, 'master_id', 'golden', GOLDEN_COPY)}"
    )
    df = _predict(con, model)
    keys = con.sql(f"SELECT {ident(inputs.uid)} AS record_key FROM {NEW_RECORDS} ORDER BY 1").df()
    if df.empty:
        return keys.assign(master_id=None, match_probability=None, reason=None, candidate_name=None)
    best = _best_candidates(df, inputs.uid, inputs.src)
    name_col = _name_field(config)
    if name_col:
        names = con.sql(
            f"SELECT CAST(master_id AS VARCHAR) AS master_id, {ident(name_col)} AS candidate_name "
            f"FROM {GOLDEN_COPY}"
        ).df()
        best = best.merge(names, on="master_id", how="left")
    else:
        best["candidate_name"] = None
    out = keys.merge(best, on="record_key", how="left")
    info = con.sql(
        "SELECT record_key, _row_number AS row_number, source_id"
        + (f", {ident(name_col + '_raw')} AS customer_name" if name_col else ", NULL AS customer_name")
        + f" FROM {STD_CUSTOMERS}"
    ).df()
    return info.merge(out, on="record_key", how="left")


def _decide(answers: pd.DataFrame, quarantined: pd.DataFrame, dc: DuplicateCheckSettings) -> pd.DataFrame:
    """Each row's answer from its best candidate's probability; quarantined rows added."""
    prob = pd.to_numeric(answers["match_probability"], errors="coerce")
    decision = pd.Series("new", index=answers.index, dtype="object")
    decision[prob >= dc.review_threshold] = "review"
    decision[prob >= dc.threshold] = "existing"
    out = answers.assign(decision=decision)
    out.loc[out["decision"] == "new", ["master_id", "reason", "candidate_name"]] = None
    parts = [out.drop(columns=["record_key"], errors="ignore")]
    if len(quarantined):
        parts.append(
            quarantined.assign(
                decision="quarantined",
                source_id=None,
                customer_name=None,
                master_id=None,
                match_probability=None,
                candidate_name=None,
            )
        )
    both = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].copy()
    both["row_number"] = both["row_number"].astype("int64")
    return both[DUPLICATE_COLUMNS].sort_values("row_number", kind="mergesort").reset_index(drop=True)


def monitor_metrics(
    history: pd.DataFrame, run_id: str, duplicates: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Figures the ``monitor`` stage records: runs in the history, this run's rows, duplicate-check answers."""
    out: dict[str, Any] = {
        "history_runs": int(history["run_id"].nunique()) if len(history) else 0,
        "history_metrics_this_run": int((history["run_id"] == run_id).sum()) if len(history) else 0,
    }
    if duplicates is not None:
        counts = duplicates["decision"].value_counts()
        out["new_records_checked"] = len(duplicates)
        out["duplicate_check"] = {
            k: int(counts.get(k, 0)) for k in ("existing", "review", "new", "quarantined")
        }
    return out


def duplicate_check_for_run(ctx: RunContext, input_path: str | Path | None) -> pd.DataFrame | None:
    """The duplicate check of the ``monitor`` stage.

    Args:
        ctx: the run whose golden records and model are used.
        input_path: the file of new customer records, relative to the config file.

    Returns:
        The answers (also saved to ``tables/duplicate_check.csv``); ``None`` when no file is given
        or it does not exist (logged).
    """
    if not input_path:
        return None
    path = ctx.project.resolve(input_path)
    if not path.is_file():
        log.warning("duplicate check skipped: no file of new customer records at %s", path)
        return None
    answers = check_new_customers(ctx.config.config_path, path, ctx.paths.root)
    with atomic_path(ctx.paths.tables / "duplicate_check.csv") as tmp:
        answers.to_csv(tmp, index=False, encoding="utf-8-sig")
    return answers
