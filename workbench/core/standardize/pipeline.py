"""The standardize stage: staged customer rows → ``std_customers``, ``change_log``, ``field_validity``.

How it runs (see docs/architecture.md for the table contracts):

1. every customer source's ``stg_<source>`` is stacked into one base table (rows in = rows out);
2. per canonical field, its *distinct* raw values (with the record's country where the kind needs
   it) are standardized once in Python by the standardizer of the field's kind, and the results go
   back into DuckDB as a lookup table;
3. one ``CREATE TABLE … AS SELECT`` joins base, lookups and the activity figures and computes the
   record-level columns (fills, status, test, stale, flags);
4. the change log and the validity counts are built in SQL from that table; every changed value
   carries the rule its standardizer recorded, every fill the fill rule.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.core.standardize import fill as fills
from workbench.core.standardize import flags as record_flags
from workbench.core.standardize.activity import ACTIVITY_TABLE, ActivitySummary, build_activity
from workbench.core.standardize.addresses import (
    standardize_addresses,
    standardize_countries,
    standardize_postcodes,
    standardize_regions,
)
from workbench.core.standardize.base import Reference, StandardizeError, load_reference
from workbench.core.standardize.codes import (
    standardize_amounts,
    standardize_codes,
    standardize_customer_types,
    standardize_flags,
    standardize_statuses,
    standardize_text,
    standardize_urls,
)
from workbench.core.standardize.company_names import standardize_company_names
from workbench.core.standardize.customer_names import standardize_customer_names
from workbench.core.standardize.dates import standardize_dates
from workbench.core.standardize.emails import standardize_emails
from workbench.core.standardize.fields import RECORD_COLUMNS, RESERVED, TEST_APPLIES, StdField
from workbench.core.standardize.ids import standardize_ids, standardize_tax_ids
from workbench.core.standardize.person_names import (
    compile_test_patterns,
    match_test_pattern,
    standardize_person_names,
)
from workbench.core.standardize.phones import standardize_phones
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.sql import ident
from workbench.project.config import Kind, ProjectConfig
from workbench.project.settings.standardize import StandardizeSettings

log = logging.getLogger(__name__)

STD_TABLE = "std_customers"
CHANGE_LOG_TABLE = "change_log"
VALIDITY_TABLE = "field_validity"
BASE_TABLE = "__std_base"
WIDE_TABLE = "__std_wide"

@dataclass
class StandardizeResult:
    """What a standardize run produced (tables in the database) and how long it took."""

    rows_in: dict[str, int]
    rows_out: int
    changes: int
    fills: int
    changes_by_rule: dict[str, int]
    flagged: dict[str, int]
    validity: pd.DataFrame
    reference_date: dt.date | None
    activity: ActivitySummary
    timings: dict[str, float] = field(default_factory=dict)
    distinct_values: dict[str, int] = field(default_factory=dict)
    rows_out_by_source: dict[str, int] = field(default_factory=dict)
    test_records: int = 0
    changes_by_source: dict[str, int] = field(default_factory=dict)
    fills_by_source: dict[str, int] = field(default_factory=dict)
    flagged_by_source: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return sum(self.rows_in.values()) == self.rows_out

    def summary(self) -> pd.DataFrame:
        """One row per source: rows in and out, changes and fills, flagged and test records."""
        frame = pd.DataFrame({"source": list(self.rows_in), "rows_in": list(self.rows_in.values())})
        frame["rows_out"] = frame["source"].map(self.rows_out_by_source).fillna(0).astype(int)
        for name, values in (
            ("changes", self.changes_by_source),
            ("fills", self.fills_by_source),
            ("flagged", self.flagged_by_source),
        ):
            frame[name] = frame["source"].map(values).fillna(0).astype(int)
        return frame

    def metrics(self) -> dict[str, Any]:
        """The figures the stage records (``ctx.record_metrics("standardize", …)``)."""
        total = self.validity.groupby("field")[["n_present", "n_valid_before", "n_valid_after"]].sum()
        rates = {
            f: {
                "present": int(r.n_present),
                "valid_before": _rate(r.n_valid_before, r.n_present),
                "valid_after": _rate(r.n_valid_after, r.n_present),
            }
            for f, r in total.iterrows()
        }
        return {
            "rows_in": int(sum(self.rows_in.values())),
            "rows_in_by_source": {k: int(v) for k, v in self.rows_in.items()},
            "rows_out": int(self.rows_out),
            "balanced": self.balanced,
            "rows_out_by_source": {k: int(v) for k, v in self.rows_out_by_source.items()},
            "changes": int(self.changes),
            "changes_by_source": {k: int(v) for k, v in self.changes_by_source.items()},
            "fills": int(self.fills),
            "test_records": int(self.test_records),
            "flagged_records": int(sum(self.flagged_by_source.values())),
            "changes_by_rule": {k: int(v) for k, v in self.changes_by_rule.items()},
            "validity": rates,
            "flagged": {k: int(v) for k, v in self.flagged.items()},
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _rate(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


# --------------------------------------------------------------------------------------------
# public API


def standardize_customers(config: ProjectConfig, con) -> StandardizeResult:
    """Standardize every customer source's staged rows into ``std_customers``.

    Also writes ``change_log`` (one row per changed or filled value, with its rule) and
    ``field_validity`` (per source and field: rows, present, valid before and after).

    Args:
        config: the project config (fields and kinds from the sources, the `standardize:` section).
        con: a DuckDB connection holding the ingest tables (``stg_<source>``).

    Returns:
        Counts, validity, flagged records by reason and timings.

    Raises:
        StandardizeError: a staged table is missing or lacks a configured field, a field name is
            reserved, or a reference table is invalid.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str, seconds: float | None = None) -> None:
        # a step's wall time since the last lap, or (for worker CPU time) the seconds given
        nonlocal clock
        if seconds is not None:
            timings[name] = timings.get(name, 0.0) + seconds
            return
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock
        clock = now

    settings = config.standardize
    reference = load_reference(settings, config.base_dir)
    region = settings.default_region or config.project.default_region
    plans = plan_fields(config)
    rows_in = build_base(con, config, plans, region)
    lap("base")
    activity = build_activity(con, config, settings)
    lap("activity")
    distinct: dict[str, int] = {}
    base_dir = str(config.base_dir)
    country = next((p for p in plans if p.kind == Kind.COUNTRY), None)
    if country is not None:
        # phones, tax IDs and postcodes are read with the record's country: standardize it first
        distinct[country.name] = build_lookup(
            con, country, settings, reference, activity.reference_date, base_dir
        )
        _add_country_context(con, country, region)
        lap(f"field:{country.name}")
    rest = [p for p in plans if p is not country]
    distinct.update(build_lookups(con, rest, settings, base_dir, activity.reference_date, lap))
    province_codes = fills.build_province_codes(con, reference)
    wide_sql, params, fill_targets = build_wide_sql(config, plans, activity, province_codes)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {WIDE_TABLE} AS {wide_sql}", params)
    lap("join")
    final_columns = std_columns(plans, fill_targets)
    with _transaction(con):
        for table in (STD_TABLE, CHANGE_LOG_TABLE, VALIDITY_TABLE):
            con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
        con.execute(
            f"CREATE TABLE {STD_TABLE} AS SELECT "
            + ", ".join(ident(c) for c in final_columns)
            + f" FROM {WIDE_TABLE} ORDER BY __source_order, _row_number"
        )
        con.execute(f"CREATE TABLE {CHANGE_LOG_TABLE} AS {build_change_log_sql(plans, fill_targets)}")
        con.execute(f"CREATE TABLE {VALIDITY_TABLE} AS {build_validity_sql(plans)}")
    lap("write")
    result = _summarize(con, rows_in, activity, timings, distinct)
    _drop_work_tables(con, plans)
    lap("summary")
    result.timings = timings
    log.info(
        "standardize: %d rows in, %d out, %d changes, %d fills in %.1f s",
        sum(rows_in.values()),
        result.rows_out,
        result.changes,
        result.fills,
        sum(v for k, v in timings.items() if not k.startswith("cpu:")),
    )
    return result


# --------------------------------------------------------------------------------------------
# planning


def plan_fields(config: ProjectConfig) -> list[StdField]:
    """The canonical fields of all customer sources, in order of first appearance.

    Raises:
        StandardizeError: a field is named like a record-level column of std_customers.
    """
    kinds = config.field_kinds()
    problems = [
        f"field {name!r} is named like a record-level column of std_customers; rename it in `columns:`"
        for name in kinds
        if name in RESERVED
    ]
    if problems:
        raise StandardizeError(f"{config.config_path}: " + "; ".join(problems))
    plans = []
    for i, (name, kind) in enumerate(kinds.items()):
        sources = [s.name for s in config.customer_sources if name in s.field_kinds()]
        standardizer = "customer_type" if name == "customer_type" else kind.value
        plans.append(StdField(name, kind, i, sources, standardizer))
    return plans


def build_base(con, config: ProjectConfig, plans: list[StdField], region: str) -> dict[str, int]:
    """Stack the staged customer tables into ``__std_base`` (one row per staged row).

    Returns:
        Rows per source.

    Raises:
        StandardizeError: a staged table is missing or lacks a configured field.
    """
    from workbench.core.ingest.sources import stg_table_name

    selects: list[str] = []
    params: list[Any] = []
    for order, spec in enumerate(config.customer_sources):
        table = stg_table_name(spec.name)
        if not table_exists(con, table):
            raise StandardizeError(
                f"the customer source {spec.name!r} has no staged table {table!r}; run the ingest stage first"
            )
        columns = set(table_columns(con, table))
        missing = [f for f in spec.field_kinds() if f not in columns]
        if missing:
            raise StandardizeError(
                f"{table} lacks the field(s) {missing} that the config maps for source {spec.name!r}; "
                "rerun the ingest stage with this config"
            )
        fields = spec.field_kinds()
        cols = [
            ident(p.name) if p.name in fields else f"CAST(NULL AS VARCHAR) AS {ident(p.name)}"
            for p in plans
        ]
        selects.append(
            "SELECT _source || ':' || CAST(_row_number AS VARCHAR) AS record_key, _source, "
            f"CAST(? AS INTEGER) AS __source_order, _row_number, _row_hash, "
            f"trim({ident(spec.id_field)}) AS source_id, CAST(? AS VARCHAR) AS __country"
            + "".join(f", {c}" for c in cols)
            + f" FROM {ident(table)}"
        )
        params.extend([order, region])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BASE_TABLE} AS " + " UNION ALL ".join(selects), params)
    rows = con.execute(f"SELECT _source, count(*) FROM {BASE_TABLE} GROUP BY _source").fetchall()
    counts = dict.fromkeys((s.name for s in config.customer_sources), 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


def _add_country_context(con, plan: StdField, region: str) -> None:
    col = ident(plan.name)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {BASE_TABLE} AS SELECT b.* REPLACE (coalesce(l.value, ?) AS __country) "
        f"FROM {BASE_TABLE} b LEFT JOIN {plan.lookup} l ON l.raw = b.{col}",
        [region],
    )


# --------------------------------------------------------------------------------------------
# per-field lookups


def run_standardizer(
    plan: StdField,
    values: pd.Series,
    context: pd.Series | None,
    settings: StandardizeSettings,
    reference: Reference,
    reference_date: dt.date | None,
) -> pd.DataFrame:
    """Run the standardizer of a field's kind on its distinct values."""
    return _run(plan.standardizer, plan.kind, values, context, settings, reference, reference_date)


def _run(
    standardizer: str,
    kind: Kind,
    values: pd.Series,
    context: pd.Series | None,
    settings: StandardizeSettings,
    reference: Reference,
    reference_date: dt.date | None,
) -> pd.DataFrame:
    kw: dict[str, Any] = {"settings": settings, "reference": reference}
    region: Any = context if context is not None else (settings.default_region or "CN")
    dispatch: dict[str, Callable[[], pd.DataFrame]] = {
        "customer_type": lambda: standardize_customer_types(values, **kw),
        Kind.ID.value: lambda: standardize_ids(values),
        Kind.COMPANY_NAME.value: lambda: standardize_company_names(values, **kw),
        Kind.PERSON_NAME.value: lambda: standardize_person_names(values, **kw),
        Kind.CUSTOMER_NAME.value: lambda: standardize_customer_names(values, **kw),
        Kind.PHONE.value: lambda: standardize_phones(values, region, **kw),
        Kind.EMAIL.value: lambda: standardize_emails(values, **kw),
        Kind.ADDRESS.value: lambda: standardize_addresses(values, **kw),
        Kind.PROVINCE.value: lambda: standardize_regions(values, "province", **kw),
        Kind.CITY.value: lambda: standardize_regions(values, "city", **kw),
        Kind.DISTRICT.value: lambda: standardize_regions(values, "district", **kw),
        Kind.POSTCODE.value: lambda: standardize_postcodes(values, region, **kw),
        Kind.COUNTRY.value: lambda: standardize_countries(values, **kw),
        Kind.TAX_ID.value: lambda: standardize_tax_ids(values, region),
        Kind.DATE.value: lambda: standardize_dates(values, settings=settings, reference_date=reference_date),
        Kind.AMOUNT.value: lambda: standardize_amounts(values),
        Kind.NUMBER.value: lambda: standardize_amounts(values),
        Kind.STATUS.value: lambda: standardize_statuses(values, **kw),
        Kind.CODE.value: lambda: standardize_codes(values, settings=settings),
        Kind.FLAG.value: lambda: standardize_flags(values, **kw),
        Kind.URL.value: lambda: standardize_urls(values),
        Kind.TEXT.value: lambda: standardize_text(values, settings=settings),
    }
    frame = dispatch[standardizer]()
    applies = TEST_APPLIES.get(kind)
    if "__test" not in frame.columns:
        tests = compile_test_patterns(reference, applies) if applies else []
        if tests:
            probe = values.map(lambda v: _digits(v) if kind == Kind.PHONE else str(v).strip())
            frame["__test"] = probe.map(lambda v: match_test_pattern(v, tests) if v else None)
        else:
            frame["__test"] = None
    return frame


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def _wanted(plan_extras: tuple[str, ...]) -> tuple[str, ...]:
    return ("value", "valid", "valid_before", "issue", "rule", *plan_extras, "__test")


def standardize_chunk(
    standardizer: str,
    kind: str,
    columns: tuple[str, ...],
    values: list[Any],
    context: list[Any] | None,
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
) -> dict[str, list[str | None]]:
    """Standardize a chunk of distinct values and return the lookup columns as text.

    Runs in a worker process for large fields (see ``standardize.workers``); everything it needs
    comes in its arguments, so it gives the same result wherever it runs.
    """
    from pathlib import Path

    reference = load_reference(settings, Path(base_dir))
    series = pd.Series(values, dtype=object)
    ctx = pd.Series(context, dtype=object) if context is not None else None
    frame = _run(standardizer, Kind(kind), series, ctx, settings, reference, reference_date)
    return {
        name: [_as_text(v) for v in (frame[name].tolist() if name in frame.columns else [None] * len(values))]
        for name in columns
    }


def _timed_chunk(*args: Any) -> tuple[dict[str, list[str | None]], float]:
    """:func:`standardize_chunk` and the CPU seconds it took (in the worker)."""
    started = time.process_time()
    columns = standardize_chunk(*args)
    return columns, time.process_time() - started


def fetch_distinct(con, plan: StdField) -> tuple[list[Any], list[Any] | None]:
    """The distinct raw values of a field (with the record country where the kind needs it), sorted."""
    col = ident(plan.name)
    ctx = ", __country AS ctx" if plan.uses_context else ""
    rows = con.execute(
        f"SELECT DISTINCT {col} AS raw{ctx} FROM {BASE_TABLE} WHERE {col} IS NOT NULL ORDER BY ALL"
    ).fetchall()
    values = [r[0] for r in rows]
    context = [r[1] for r in rows] if plan.uses_context else None
    return values, context


def store_lookup(
    con, plan: StdField, values: list[Any], context: list[Any] | None, columns: dict[str, list[str | None]]
) -> None:
    """Write a field's standardized distinct values as the lookup table ``__std_lk_<n>``."""
    arrays: dict[str, pa.Array] = {
        "raw": pa.array(values, pa.string()),
        "ctx": pa.array(context if context is not None else [None] * len(values), pa.string()),
    }
    for name in _wanted(plan.extras + plan.internal):
        arrays[name] = pa.array(columns[name], pa.string())
    view = f"{plan.lookup}_arrow"
    con.register(view, pa.table(arrays))
    try:
        selects = ["raw", "ctx", "value", "CAST(valid AS BOOLEAN) AS valid"]
        selects += ["CAST(valid_before AS BOOLEAN) AS valid_before", "issue", "rule"]
        selects += [ident(c) for c in (*plan.extras, *plan.internal, "__test")]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {plan.lookup} AS SELECT {', '.join(selects)} FROM {view}")
    finally:
        con.unregister(view)


def build_lookup(
    con,
    plan: StdField,
    settings: StandardizeSettings,
    reference: Reference,
    reference_date: dt.date | None,
    base_dir: str = ".",
) -> int:
    """Standardize a field's distinct values (in this process) into its lookup table.

    Returns:
        The number of distinct values standardized.
    """
    values, context = fetch_distinct(con, plan)
    columns = standardize_chunk(
        plan.standardizer,
        plan.kind.value,
        _wanted(plan.extras + plan.internal),
        values,
        context,
        settings,
        base_dir,
        reference_date,
    )
    store_lookup(con, plan, values, context, columns)
    return len(values)


def build_lookups(
    con,
    plans: list[StdField],
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
    lap: Callable[..., None],
) -> dict[str, int]:
    """Standardize every field, in worker processes when the fields are large.

    The distinct values of all fields are cut into chunks that the workers share, so both cores
    stay busy across fields; the results are put back in chunk order (the outcome does not depend
    on the number of workers).
    """
    fetched = {p.name: fetch_distinct(con, p) for p in plans}
    lap("distinct")
    total = sum(len(v) for v, _ in fetched.values())
    workers = settings.workers or os.cpu_count() or 1
    if workers <= 1 or total < settings.parallel_min_values:
        for p in plans:
            values, context = fetched[p.name]
            columns = standardize_chunk(
                p.standardizer,
                p.kind.value,
                _wanted(p.extras + p.internal),
                values,
                context,
                settings,
                base_dir,
                reference_date,
            )
            store_lookup(con, p, values, context, columns)
            lap(f"field:{p.name}")
        return {p.name: len(fetched[p.name][0]) for p in plans}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(settings.parallel_chunk_size, 1)
    jobs: list[tuple[str, int]] = []
    futures = []
    # fork where the platform has it: the workers then need no re-import of the caller's script
    # (a script without a __main__ guard would run again under spawn); they never touch DuckDB
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        # biggest fields first, so the last chunks are small and the workers finish together
        for p in sorted(plans, key=lambda p: -len(fetched[p.name][0])):
            values, context = fetched[p.name]
            for start in range(0, len(values), chunk):
                jobs.append((p.name, start))
                futures.append(
                    pool.submit(
                        _timed_chunk,
                        p.standardizer,
                        p.kind.value,
                        _wanted(p.extras + p.internal),
                        values[start : start + chunk],
                        context[start : start + chunk] if context is not None else None,
                        settings,
                        base_dir,
                        reference_date,
                    )
                )
        results: dict[str, dict[int, dict[str, list[str | None]]]] = {}
        cpu: dict[str, float] = {}
        for (name, start), future in zip(jobs, futures, strict=True):
            results.setdefault(name, {})[start], seconds = future.result()
            cpu[name] = cpu.get(name, 0.0) + seconds
    lap("fields (parallel)")
    for name in sorted(cpu, key=lambda n: -cpu[n]):
        lap(f"cpu:{name}", cpu[name])
    for p in plans:
        values, context = fetched[p.name]
        parts = [results.get(p.name, {})[k] for k in sorted(results.get(p.name, {}))]
        columns = {n: [x for part in parts for x in part[n]] for n in _wanted(p.extras + p.internal)}
        store_lookup(con, p, values, context, columns)
    lap("lookups")
    return {p.name: len(fetched[p.name][0]) for p in plans}


def _as_text(value: Any) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return None if value != value else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------
# the wide table: base + lookups + activity + record-level columns


def build_wide_sql(
    config: ProjectConfig,
    plans: list[StdField],
    activity: ActivitySummary,
    province_codes: str,
) -> tuple[str, list[Any], list[fills.FillTarget]]:
    """SQL of the wide work table (every std_customers column plus the hidden helper columns)."""
    q = ident
    inner: list[str] = [
        "b.record_key",
        "b._source",
        "b.__source_order",
        "b._row_number",
        "b._row_hash",
        "b.source_id",
    ]
    joins: list[str] = []
    for p in plans:
        a = p.alias
        inner.append(f"b.{q(p.name)} AS {q(p.col('raw'))}")
        inner.append(f"CAST({a}.value AS {p.sql_type}) AS {q(p.name)}")
        inner.append(f"{a}.valid AS {q(p.col('valid'))}")
        inner.append(f"{a}.issue AS {q(p.col('issue'))}")
        for e in p.extras:
            inner.append(f"{a}.{q(e)} AS {q(p.col(e))}")
        for e in p.internal:
            inner.append(f"{a}.{q(e)} AS {q(p.hidden(e.strip('_')))}")
        inner.append(f"{a}.rule AS {q(p.hidden('rule'))}")
        inner.append(f"{a}.valid_before AS {q(p.hidden('valid_before'))}")
        inner.append(f"{a}.value AS {q(p.hidden('after'))}")
        inner.append(f"{a}.__test AS {q(p.hidden('test'))}")
        ctx = f" AND {a}.ctx = b.__country" if p.uses_context else ""
        joins.append(f"LEFT JOIN {p.lookup} {a} ON {a}.raw = b.{q(p.name)}{ctx}")
    inner += [
        "act.last_activity_date AS __last_activity_date",
        "act.activity_amount_12m AS __activity_amount_12m",
        "act.activity_amount_total AS __activity_amount_total",
    ]
    joins.append(f"LEFT JOIN {ACTIVITY_TABLE} act ON act._source = b._source AND act.source_id = b.source_id")
    tax = next((p for p in plans if p.kind == Kind.TAX_ID), None)
    if tax is not None:
        inner.append("pc.name AS __province_from_tax")
        joins.append(f"LEFT JOIN {province_codes} pc ON pc.code = left({tax.alias}.region_code, 2)")
    else:
        inner.append("CAST(NULL AS VARCHAR) AS __province_from_tax")
    inner_sql = f"SELECT {', '.join(inner)} FROM {BASE_TABLE} b " + " ".join(joins)

    params: list[Any] = []
    targets = fills.plan_fill_targets(config, plans)
    outer: list[str] = []
    replaced: list[str] = []
    for target in targets:
        expr, rule_expr = fills.fill_expressions(target, config, plans)
        replaced.append(target.column)
        outer.append(f"{expr} AS {q(target.column)}")
        outer.append(f"{rule_expr} AS {q(target.rule_column)}")
    exclude = (
        f" EXCLUDE ({', '.join(q(c) for c in replaced if c in _inner_names(plans))})"
        if any(c in _inner_names(plans) for c in replaced)
        else ""
    )
    record_sql, record_params = record_flags.record_expressions(config, plans, activity)
    params.extend(record_params)
    sql = f"SELECT * {exclude}, {', '.join(outer) + ', ' if outer else ''}{record_sql} FROM ({inner_sql}) j"
    # the flags need the record-level columns: wrap once more
    flags_sql = record_flags.flags_expression(plans)
    sql = f"SELECT *, {flags_sql} AS flags FROM ({sql}) r"
    return sql, params, targets


def _inner_names(plans: list[StdField]) -> set[str]:
    names = set()
    for p in plans:
        names.add(p.name)
        names.update(p.col(e) for e in p.extras)
    return names


def std_columns(plans: list[StdField], targets: list[fills.FillTarget]) -> list[str]:
    """The columns of std_customers, in contract order."""
    cols = ["record_key", "_source", "_row_number", "_row_hash", "source_id"]
    for p in plans:
        cols += [p.col("raw"), p.name, p.col("valid"), p.col("issue")]
        cols += [p.col(e) for e in p.extras]
        if p.kind == Kind.POSTCODE:
            cols.append(p.col("province_match"))
    cols += [c for c in RECORD_COLUMNS if c not in cols]
    cols += [t.column for t in targets if t.column not in cols]
    return cols


# --------------------------------------------------------------------------------------------
# change log and validity


def build_change_log_sql(plans: list[StdField], targets: list[fills.FillTarget]) -> str:
    """SQL of ``change_log``: every value a standardizer changed, then every fill."""
    q = ident
    parts = []
    for p in plans:
        parts.append(
            f"SELECT record_key, _source AS source, _row_number AS row_number, '{_sql_text(p.name)}' AS field, "
            f"{q(p.col('raw'))} AS before, {q(p.hidden('after'))} AS after, {q(p.hidden('rule'))} AS rule, "
            f"__source_order, {p.position} AS __field_order FROM {WIDE_TABLE} WHERE {q(p.hidden('rule'))} IS NOT NULL"
        )
    for i, t in enumerate(targets):
        parts.append(
            f"SELECT record_key, _source, _row_number, '{_sql_text(t.column)}', CAST(NULL AS VARCHAR), "
            f"CAST({q(t.column)} AS VARCHAR), {q(t.rule_column)}, __source_order, {len(plans) + i} "
            f"FROM {WIDE_TABLE} WHERE {q(t.rule_column)} IS NOT NULL"
        )
    union = (
        " UNION ALL ".join(parts)
        if parts
        else (
            "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS source, NULL::BIGINT AS row_number, NULL::VARCHAR AS field, "
            "NULL::VARCHAR AS before, NULL::VARCHAR AS after, NULL::VARCHAR AS rule, 0 AS __source_order, 0 AS __field_order "
            "WHERE false"
        )
    )
    return (
        "SELECT record_key, source, row_number, field, before, after, rule FROM ("
        + union
        + ") ORDER BY __source_order, row_number, __field_order, rule"
    )


def build_validity_sql(plans: list[StdField]) -> str:
    """SQL of ``field_validity``: per source and field, rows, present, valid before and after.

    *Valid before* counts values that were valid as they stood (valid and not changed, or changed
    only in a lossless way the standardizer vouches for); *valid after* counts values valid after
    standardization.
    """
    q = ident
    parts = []
    for p in plans:
        sources = ", ".join(f"'{_sql_text(s)}'" for s in p.sources)
        parts.append(
            f"SELECT _source AS source, '{_sql_text(p.name)}' AS field, '{p.kind.value}' AS kind, "
            f"count(*) AS n, count({q(p.col('valid'))}) AS n_present, "
            f"count(*) FILTER (WHERE {q(p.hidden('valid_before'))}) AS n_valid_before, "
            f"count(*) FILTER (WHERE {q(p.col('valid'))}) AS n_valid_after, min(__source_order) AS __o, "
            f"{p.position} AS __p FROM {WIDE_TABLE} WHERE _source IN ({sources}) GROUP BY _source"
        )
    return (
        "SELECT source, field, kind, n, n_present, n_valid_before, n_valid_after FROM ("
        + " UNION ALL ".join(parts)
        + ") ORDER BY __o, __p"
    )


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


# --------------------------------------------------------------------------------------------
# summary


def _summarize(
    con,
    rows_in: dict[str, int],
    activity: ActivitySummary,
    timings: dict[str, float],
    distinct: dict[str, int],
) -> StandardizeResult:
    rows_out = con.execute(f"SELECT count(*) FROM {STD_TABLE}").fetchall()[0][0]
    by_rule = con.execute(
        f"SELECT r, count(*) FROM (SELECT unnest(string_split(rule, ';')) AS r FROM {CHANGE_LOG_TABLE}) "
        "GROUP BY r ORDER BY count(*) DESC, r"
    ).fetchall()
    changes, fill_count = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE rule LIKE 'fill_%') FROM {CHANGE_LOG_TABLE}"
    ).fetchall()[0]
    flagged = con.execute(
        f"SELECT f, count(*) FROM (SELECT unnest(string_split(flags, ';')) AS f FROM {STD_TABLE} "
        "WHERE flags IS NOT NULL) GROUP BY f ORDER BY count(*) DESC, f"
    ).fetchall()
    validity = con.execute(f"SELECT * FROM {VALIDITY_TABLE}").df()
    per_source = con.execute(
        f"SELECT _source, count(*), count(*) FILTER (WHERE flags IS NOT NULL), count(*) FILTER (WHERE is_test) "
        f"FROM {STD_TABLE} GROUP BY _source"
    ).fetchall()
    changes_per_source = con.execute(
        f"SELECT source, count(*) FILTER (WHERE rule NOT LIKE 'fill_%'), count(*) FILTER (WHERE rule LIKE 'fill_%') "
        f"FROM {CHANGE_LOG_TABLE} GROUP BY source"
    ).fetchall()
    if rows_out != sum(rows_in.values()):  # pragma: no cover - the SQL above cannot lose rows
        raise StandardizeError(f"rows in ({sum(rows_in.values())}) differ from rows out ({rows_out})")
    return StandardizeResult(
        rows_in=rows_in,
        rows_out=int(rows_out),
        changes=int(changes),
        fills=int(fill_count),
        changes_by_rule={r: int(n) for r, n in by_rule},
        flagged={f: int(n) for f, n in flagged},
        validity=validity,
        reference_date=activity.reference_date,
        activity=activity,
        timings=timings,
        distinct_values=distinct,
        rows_out_by_source={r[0]: int(r[1]) for r in per_source},
        test_records=sum(int(r[3]) for r in per_source),
        changes_by_source={r[0]: int(r[1]) for r in changes_per_source},
        fills_by_source={r[0]: int(r[2]) for r in changes_per_source},
        flagged_by_source={r[0]: int(r[2]) for r in per_source},
    )


def _drop_work_tables(con, plans: list[StdField]) -> None:
    for name in [BASE_TABLE, WIDE_TABLE, ACTIVITY_TABLE, fills.PROVINCE_CODES, *(p.lookup for p in plans)]:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_\\_std\\_act\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in rows:
        con.execute(f"DROP TABLE IF EXISTS {ident(name)}")


class _transaction:
    """Run a block in a transaction, or in the caller's when one is open already."""

    def __init__(self, con) -> None:
        self.con = con
        self.own = False

    def __enter__(self) -> None:
        import duckdb

        try:
            self.con.execute("BEGIN TRANSACTION")
            self.own = True
        except duckdb.TransactionException:
            self.own = False

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.own:
            return
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
