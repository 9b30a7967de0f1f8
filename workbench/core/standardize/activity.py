"""Activity figures per customer from the activity sources (transactions, receivables).

An activity source (``role: activity``) names the customer source whose IDs its ``id_column``
holds. Its first ``date`` field dates each row and its first ``amount`` field (optional) gives the
amount. Dates and amounts are read in SQL when they are plain (ISO dates, plain numbers) and by the
date / amount standardizers otherwise, each distinct value once.

The reference date is ``project.as_of_date`` or, when unset, the newest activity date (never the
clock, so reruns give the same result).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from workbench.core.ingest.cells import CONTROL_CHARS_SQL
from workbench.core.standardize.base import Reference, StandardizeError, load_reference
from workbench.core.standardize.codes import standardize_amounts
from workbench.core.standardize.dates import standardize_dates
from workbench.core.standardize.regional import source_day_first
from workbench.engine.catalog import staged, temp
from workbench.engine.connection import registered, table_exists
from workbench.engine.sql import ident, literal
from workbench.project.config import Kind, ProjectConfig
from workbench.project.settings.standardize import StandardizeSettings

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

ACTIVITY_TABLE = temp("std_activity")
ACTIVITY_ROWS = temp("std_activity_rows")
FIXED_VALUES = temp("std_act_fixed")


@dataclass
class ActivitySummary:
    """What the activity step found."""

    reference_date: dt.date | None
    sources: dict[str, str] = field(default_factory=dict)  # activity source → customer source
    rows: dict[str, int] = field(default_factory=dict)
    rows_without_date: dict[str, int] = field(default_factory=dict)
    rows_without_amount: dict[str, int] = field(default_factory=dict)

    @property
    def customer_sources(self) -> set[str]:
        return set(self.sources.values())


def build_activity(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    settings: StandardizeSettings,
    reference: Reference | None = None,
) -> ActivitySummary:
    """Create the scratch table :data:`ACTIVITY_TABLE` from the activity sources.

    Its columns are ``_source, source_id, last_activity_date, activity_amount_12m,
    activity_amount_total``; the caller drops it when done. The per-column lookups it reads the
    dates and amounts with are dropped here.

    Returns:
        What was read per activity source, and the reference date.

    Raises:
        StandardizeError: an activity source has not been ingested.
    """
    lookups: list[str] = []
    reference = reference or load_reference(settings, config.base_dir)
    try:
        return _build_activity(con, config, settings, lookups, reference)
    finally:
        for name in lookups:
            con.execute(f"DROP TABLE IF EXISTS {ident(name)}")


def _build_activity(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    settings: StandardizeSettings,
    lookups: list[str],
    reference: Reference,
) -> ActivitySummary:
    parts: list[str] = []
    summary = ActivitySummary(reference_date=config.project.as_of_date)
    for spec in config.activity_sources:
        table = staged(spec.name)
        if not table_exists(con, table):
            raise StandardizeError(
                f"the activity source {spec.name!r} has no staged table {table!r}; run the audit stage first"
            )
        date_field = spec.fields_of_kind(Kind.DATE)[0]
        amount_fields = spec.fields_of_kind(Kind.AMOUNT, Kind.NUMBER)
        amount_field = amount_fields[0] if amount_fields else None
        # slash dates are read in the source's own order (its region or `day_first`)
        day_first = source_day_first(config, spec, reference)
        source_settings = settings.model_copy(update={"day_first": day_first})
        dates = _typed_lookup(con, table, date_field, "date", source_settings)
        lookups.append(dates)
        amounts = _typed_lookup(con, table, amount_field, "amount", settings) if amount_field else None
        if amounts:
            lookups.append(amounts)
        q = ident
        amount_sql = "am.value" if amounts else "CAST(NULL AS DOUBLE)"
        amount_join = (
            f"LEFT JOIN {q(amounts)} am ON am.raw = s.{q(amount_field)}" if amounts and amount_field else ""
        )
        parts.append(
            f"SELECT CAST(? AS VARCHAR) AS _source, "
            f"trim(regexp_replace(s.{q(spec.id_field)}, {literal(CONTROL_CHARS_SQL)}, '', 'g')) AS source_id, "
            f"dt.value AS d, {amount_sql} AS amount FROM {q(table)} s "
            f"LEFT JOIN {q(dates)} dt ON dt.raw = s.{q(date_field)} {amount_join}"
        )
        summary.sources[spec.name] = spec.customer_source or ""
        stats = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE dt.value IS NULL), "
            + ("count(*) FILTER (WHERE am.value IS NULL) " if amounts else "0 ")
            + f"FROM {q(table)} s LEFT JOIN {q(dates)} dt ON dt.raw = s.{q(date_field)} {amount_join}"
        ).fetchall()[0]
        (
            summary.rows[spec.name],
            summary.rows_without_date[spec.name],
            summary.rows_without_amount[spec.name],
        ) = (
            int(stats[0]),
            int(stats[1]),
            int(stats[2]),
        )
        if stats[1]:
            log.warning(
                "activity source %s: %d of %d rows have no readable date in %r; they count for no customer",
                spec.name,
                stats[1],
                stats[0],
                date_field,
            )
    params = [s.customer_source for s in config.activity_sources]
    if not parts:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {ACTIVITY_TABLE} (_source VARCHAR, source_id VARCHAR, "
            "last_activity_date DATE, activity_amount_12m DOUBLE, activity_amount_total DOUBLE)"
        )
        return summary
    union = " UNION ALL ".join(parts)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ACTIVITY_ROWS} AS {union}", params)
    if summary.reference_date is None:
        newest = con.execute(f"SELECT max(d) FROM {ACTIVITY_ROWS}").fetchall()[0][0]
        summary.reference_date = newest
    ref = summary.reference_date
    months = int(settings.activity_window_months)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ACTIVITY_TABLE} AS SELECT _source, source_id, "
        "max(d) FILTER (WHERE d <= ?) AS last_activity_date, "
        f"coalesce(sum(amount) FILTER (WHERE d > ? - INTERVAL {months} MONTH AND d <= ?), 0) AS activity_amount_12m, "
        "coalesce(sum(amount) FILTER (WHERE d <= ?), 0) AS activity_amount_total "
        f"FROM {ACTIVITY_ROWS} WHERE source_id IS NOT NULL AND d IS NOT NULL GROUP BY ALL",
        [ref, ref, ref, ref],
    )
    con.execute(f"DROP TABLE IF EXISTS {ACTIVITY_ROWS}")
    return summary


def _typed_lookup(
    con: duckdb.DuckDBPyConnection, table: str, column: str, kind: str, settings: StandardizeSettings
) -> str:
    """A lookup table raw → typed value for a date or amount column of a staged table.

    Plain values are read in SQL; the rest, each distinct value once, by the standardizer.
    """
    q = ident
    name = temp(f"std_act_{kind}_{table}")
    sql_type = "DATE" if kind == "date" else "DOUBLE"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT raw, TRY_CAST(raw AS {sql_type}) AS value FROM "
        f"(SELECT DISTINCT {q(column)} AS raw FROM {q(table)} WHERE {q(column)} IS NOT NULL)"
    )
    if kind == "date":
        # TRY_CAST accepts only ISO dates; keep its result only for exactly ISO text
        con.execute(
            f"UPDATE {q(name)} SET value = NULL WHERE value IS NOT NULL AND NOT regexp_full_match(raw, '\\d{{4}}-\\d{{2}}-\\d{{2}}')"
        )
    rest = con.execute(f"SELECT raw FROM {q(name)} WHERE value IS NULL ORDER BY raw").df()
    if len(rest):
        if kind == "date":
            frame = standardize_dates(rest["raw"], settings=settings)
            text = frame["value"].map(lambda v: None if v is None else v.isoformat())
        else:
            frame = standardize_amounts(rest["raw"])
            text = frame["value"].map(lambda v: None if v is None else repr(float(v)))
        fixed = pa.table(
            {
                "raw": pa.array(rest["raw"].tolist(), pa.string()),
                "value": pa.array(text.tolist(), pa.string()),
            }
        )
        with registered(con, FIXED_VALUES, fixed):
            con.execute(
                f"UPDATE {q(name)} t SET value = CAST(f.value AS {sql_type}) FROM {FIXED_VALUES} f WHERE f.raw = t.raw"
            )
    return name
