"""The standardize stage: staged customer rows → ``std_customers``, ``change_log``, ``field_validity``.

How it runs (see docs/architecture.md for the table contracts):

1. every customer source's ``stg_<source>`` is stacked into one base table (rows in = rows out);
2. per canonical field, its *distinct* raw values (with the record's country where the kind needs
   it) are standardized once in Python by the standardizer of the field's kind, and the results go
   back into DuckDB as a lookup table (:mod:`workbench.core.standardize.lookups`);
3. one ``CREATE TABLE … AS SELECT`` joins base, lookups and the activity figures and computes the
   record-level columns (fills, status, test, stale, flags);
4. the change log and the validity counts are built in SQL from that table; every changed value
   carries the rule its standardizer recorded, every fill the fill rule.

This module owns the stage entry point, the base table, the SQL of the wide table, of
``change_log`` and of ``field_validity``, and the run's summary. Every scratch table (prefix
``__wb_std_``) is a TEMP table and is dropped before the function returns.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.standardize import fill as fills
from workbench.core.standardize import flags as record_flags
from workbench.core.standardize.activity import ACTIVITY_TABLE, ActivitySummary, build_activity
from workbench.core.standardize.base import Reference, StandardizeError, load_reference
from workbench.core.standardize.base_table import add_combined_fields, add_country_context, build_base
from workbench.core.standardize.fields import BASE_TABLE, RECORD_COLUMNS, RESERVED, SOURCE_KEY, StdField
from workbench.core.standardize.fixes import FixesSummary, apply_fixes, fix_column, fix_input, fixes_path
from workbench.core.standardize.lookups import build_lookup, build_lookups
from workbench.engine.catalog import CHANGE_LOG, FIELD_VALIDITY, STD_CUSTOMERS, temp
from workbench.engine.sql import ident, literal
from workbench.project.config import Kind, ProjectConfig

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

# every std_customers column plus the hidden helper columns (scratch; dropped after the run)
WIDE_TABLE = temp("std_wide")


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
    fixes: FixesSummary = field(default_factory=lambda: FixesSummary(None))
    test_records_by_reason: dict[str, int] = field(default_factory=dict)
    test_records_by_source: dict[str, int] = field(default_factory=dict)

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
            "test_records_by_reason": {k: int(v) for k, v in self.test_records_by_reason.items()},
            "test_records_by_source": {k: int(v) for k, v in self.test_records_by_source.items()},
            "flagged_records": int(sum(self.flagged_by_source.values())),
            "flagged_by_source": {k: int(v) for k, v in self.flagged_by_source.items()},
            "control_chars_stripped": int(self.changes_by_rule.get("strip_control_chars", 0)),
            "fixes": self.fixes.metrics(),
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


def standardize_customers(config: ProjectConfig, con: duckdb.DuckDBPyConnection) -> StandardizeResult:
    """Standardize every customer source's staged rows into ``std_customers``.

    Also writes ``change_log`` (one row per changed or filled value, with its rule) and
    ``field_validity`` (per source and field: rows, present, valid before and after).

    Args:
        config: the project config (fields and kinds from the sources, the `standardize:` section).
        con: a DuckDB connection holding the ingest tables (``stg_<source>``).

    The project's fixes file (``standardize.fixes_path``) is applied first, see
    :mod:`workbench.core.standardize.fixes`.

    Returns:
        Counts, validity, flagged records by reason, the fixes applied and not applied, and timings.

    Raises:
        StandardizeError: a staged table is missing or lacks a configured field, a field name is
            reserved, or a reference table is invalid.
    """
    timer = _Timer()
    reference = load_reference(config.standardize, config.base_dir)
    plans = plan_fields(config)
    fixes = FixesSummary(fixes_path(config))
    try:
        rows_in, activity, distinct, fill_targets = _build_wide_table(
            con, config, plans, reference, timer, fixes
        )
        _write_tables(con, plans, fill_targets, fixes.fixed_fields)
        timer.lap("write")
        result = _summarize(con, rows_in, activity, timer.timings, distinct)
    finally:
        _drop_work_tables(con, plans)
    result.fixes = fixes
    timer.lap("summary")
    result.timings = timer.timings
    log.info(
        "standardize: %d rows in, %d out, %d changes, %d fills in %.1f s",
        sum(rows_in.values()),
        result.rows_out,
        result.changes,
        result.fills,
        sum(v for k, v in timer.timings.items() if not k.startswith("cpu:")),
    )
    return result


class _Timer:
    """Wall time per step (since the previous lap), and worker CPU time added as given."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def lap(self, name: str, seconds: float | None = None) -> None:
        if seconds is not None:
            self.timings[name] = self.timings.get(name, 0.0) + seconds
            return
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.clock
        self.clock = now


def _build_wide_table(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    plans: list[StdField],
    reference: Reference,
    timer: _Timer,
    fixes: FixesSummary,
) -> tuple[dict[str, int], ActivitySummary, dict[str, int], list[fills.FillTarget]]:
    """Base (with the fixes applied), activity and lookups joined into :data:`WIDE_TABLE`.

    Returns:
        Rows in per source, the activity summary, distinct values per field and the fill targets.
    """
    settings = config.standardize
    rows_in = build_base(con, config, plans, reference, combined=False)
    apply_fixes(con, config, plans, combined=False, summary=fixes)
    add_combined_fields(con, config)
    apply_fixes(con, config, plans, combined=True, summary=fixes)
    timer.lap("base")
    activity = build_activity(con, config, settings, reference)
    timer.lap("activity")
    distinct: dict[str, int] = {}
    base_dir = str(config.base_dir)
    country = next((p for p in plans if p.kind == Kind.COUNTRY), None)
    if country is not None:
        # phones, tax IDs and postcodes are read with the record's country: standardize it first
        distinct[country.name] = build_lookup(con, country, settings, activity.reference_date, base_dir)
        add_country_context(con, country)
        timer.lap(f"field:{country.name}")
    rest = [p for p in plans if p is not country]
    distinct.update(build_lookups(con, rest, settings, base_dir, activity.reference_date, timer.lap))
    province_codes = fills.build_province_codes(con, reference)
    wide_sql, params, fill_targets = build_wide_sql(
        config, plans, activity, province_codes, fixed=fixes.fixed_fields
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {WIDE_TABLE} AS {wide_sql}", params)
    timer.lap("join")
    return rows_in, activity, distinct, fill_targets


def _write_tables(
    con: duckdb.DuckDBPyConnection,
    plans: list[StdField],
    fill_targets: list[fills.FillTarget],
    fixed: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Replace ``std_customers``, ``change_log`` and ``field_validity`` from the wide table, at once."""
    final_columns = std_columns(plans, fill_targets)
    with _transaction(con):
        for table in (STD_CUSTOMERS, CHANGE_LOG, FIELD_VALIDITY):
            con.execute(f"DROP TABLE IF EXISTS {ident(table.name)}")
        con.execute(
            f"CREATE TABLE {STD_CUSTOMERS} AS SELECT "
            + ", ".join(ident(c) for c in final_columns)
            + f" FROM {WIDE_TABLE} ORDER BY __source_order, _row_number"
        )
        con.execute(f"CREATE TABLE {CHANGE_LOG} AS {build_change_log_sql(plans, fill_targets, fixed)}")
        con.execute(f"CREATE TABLE {FIELD_VALIDITY} AS {build_validity_sql(plans)}")


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
    keys = {s.id_field for s in config.customer_sources if s.id_column in s.columns}
    plans = []
    for i, (name, kind) in enumerate(kinds.items()):
        sources = [s.name for s in config.customer_sources if name in s.field_kinds()]
        if name == "customer_type":
            standardizer = "customer_type"
        elif name in keys and kind == Kind.ID:
            standardizer = SOURCE_KEY  # a source's own key is never taken for a test record
        else:
            standardizer = kind.value
        plans.append(StdField(name, kind, i, sources, standardizer))
    return plans


# --------------------------------------------------------------------------------------------
# the wide table: base + lookups + activity + record-level columns


def build_wide_sql(
    config: ProjectConfig,
    plans: list[StdField],
    activity: ActivitySummary,
    province_codes: str,
    *,
    fixed: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, list[Any], list[fills.FillTarget]]:
    """SQL of the wide work table (every std_customers column plus the hidden helper columns).

    A field in `fixed` has fix columns in the base table: its ``_raw`` stays the staged value, the
    fix rule and the fixed text are hidden columns for the change log, and a fixed value does not
    count as valid before.
    """
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
        if p.name in fixed:
            fix = f"b.{q(fix_column(p.name))}"
            inner.append(
                f"CASE WHEN {fix} IS NOT NULL THEN b.{q(fix_input(p.name))} ELSE b.{q(p.name)} END AS {q(p.col('raw'))}"
            )
            inner.append(f"{fix} AS {q(p.hidden('fix'))}")
            inner.append(f"b.{q(p.name)} AS {q(p.hidden('fixed'))}")
        else:
            inner.append(f"b.{q(p.name)} AS {q(p.col('raw'))}")
        inner.append(f"CAST({a}.value AS {p.sql_type}) AS {q(p.name)}")
        inner.append(f"{a}.valid AS {q(p.col('valid'))}")
        inner.append(f"{a}.issue AS {q(p.col('issue'))}")
        for e in p.extras:
            inner.append(f"{a}.{q(e)} AS {q(p.col(e))}")
        for e in p.internal:
            inner.append(f"{a}.{q(e)} AS {q(p.hidden(e.strip('_')))}")
        inner.append(f"{a}.rule AS {q(p.hidden('rule'))}")
        if p.name in fixed:
            inner.append(
                f"CASE WHEN b.{q(fix_column(p.name))} IS NOT NULL THEN false ELSE {a}.valid_before END "
                f"AS {q(p.hidden('valid_before'))}"
            )
        else:
            inner.append(f"{a}.valid_before AS {q(p.hidden('valid_before'))}")
        inner.append(f"{a}.value AS {q(p.hidden('after'))}")
        inner.append(f"{a}.__test AS {q(p.hidden('test'))}")
        ctx = f" AND {a}.ctx = b.{p.context_column}" if p.context_column else ""
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


def build_change_log_sql(
    plans: list[StdField], targets: list[fills.FillTarget], fixed: set[str] | frozenset[str] = frozenset()
) -> str:
    """SQL of ``change_log``: every fix, every value a standardizer changed, then every fill.

    A fixed value has two rows: the fix (staged value → fixed value, rule ``fix:<reason>``) and,
    when the standardizer changed the fixed value, its change (fixed value → standardized value).
    """
    q = ident
    parts = []
    for p in plans:
        before = q(p.col("raw"))
        if p.name in fixed:
            fix = q(p.hidden("fix"))
            parts.append(
                f"SELECT record_key, _source AS source, _row_number AS row_number, {literal(p.name)} AS field, "
                f"{q(p.col('raw'))} AS before, {q(p.hidden('fixed'))} AS after, {fix} AS rule, "
                f"__source_order, {p.position} AS __field_order FROM {WIDE_TABLE} WHERE {fix} IS NOT NULL"
            )
            before = f"CASE WHEN {fix} IS NOT NULL THEN {q(p.hidden('fixed'))} ELSE {q(p.col('raw'))} END"
        parts.append(
            f"SELECT record_key, _source AS source, _row_number AS row_number, {literal(p.name)} AS field, "
            f"{before} AS before, {q(p.hidden('after'))} AS after, {q(p.hidden('rule'))} AS rule, "
            f"__source_order, {p.position} AS __field_order FROM {WIDE_TABLE} WHERE {q(p.hidden('rule'))} IS NOT NULL"
        )
    for i, t in enumerate(targets):
        parts.append(
            f"SELECT record_key, _source, _row_number, {literal(t.column)}, CAST(NULL AS VARCHAR), "
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
        sources = ", ".join(literal(s) for s in p.sources)
        parts.append(
            f"SELECT _source AS source, {literal(p.name)} AS field, {literal(p.kind.value)} AS kind, "
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


# --------------------------------------------------------------------------------------------
# summary


def _summarize(
    con: duckdb.DuckDBPyConnection,
    rows_in: dict[str, int],
    activity: ActivitySummary,
    timings: dict[str, float],
    distinct: dict[str, int],
) -> StandardizeResult:
    rows_out = con.execute(f"SELECT count(*) FROM {STD_CUSTOMERS}").fetchall()[0][0]
    by_rule = con.execute(
        f"SELECT r, count(*) FROM (SELECT unnest(string_split(rule, ';')) AS r FROM {CHANGE_LOG}) "
        "GROUP BY r ORDER BY count(*) DESC, r"
    ).fetchall()
    changes, fill_count = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE rule LIKE 'fill_%') FROM {CHANGE_LOG}"
    ).fetchall()[0]
    flagged = con.execute(
        f"SELECT f, count(*) FROM (SELECT unnest(string_split(flags, ';')) AS f FROM {STD_CUSTOMERS} "
        "WHERE flags IS NOT NULL) GROUP BY f ORDER BY count(*) DESC, f"
    ).fetchall()
    validity = con.execute(f"SELECT * FROM {FIELD_VALIDITY}").df()
    per_source = con.execute(
        f"SELECT _source, count(*), count(*) FILTER (WHERE flags IS NOT NULL), count(*) FILTER (WHERE is_test) "
        f"FROM {STD_CUSTOMERS} GROUP BY _source"
    ).fetchall()
    changes_per_source = con.execute(
        f"SELECT source, count(*) FILTER (WHERE rule NOT LIKE 'fill_%'), count(*) FILTER (WHERE rule LIKE 'fill_%') "
        f"FROM {CHANGE_LOG} GROUP BY source"
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
        test_records_by_reason={f.removeprefix("test:"): int(n) for f, n in flagged if f.startswith("test:")},
        test_records_by_source={r[0]: int(r[3]) for r in per_source},
    )


def _drop_work_tables(con: duckdb.DuckDBPyConnection, plans: list[StdField]) -> None:
    """Drop every scratch table of the run (they are TEMP tables; this frees them at once)."""
    for name in [BASE_TABLE, WIDE_TABLE, ACTIVITY_TABLE, fills.PROVINCE_CODES, *(p.lookup for p in plans)]:
        con.execute(f"DROP TABLE IF EXISTS {ident(name)}")


class _transaction:
    """Run a block in a transaction, or in the caller's when one is open already."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.own = False

    def __enter__(self) -> None:
        import duckdb

        try:
            self.con.execute("BEGIN TRANSACTION")
            self.own = True
        except duckdb.TransactionException:
            self.own = False

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.own:
            return
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
