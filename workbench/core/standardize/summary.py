"""Read-outs of a standardize run for notebooks and reports (tables only).

Validity per field and source, change rules by count, a sample of the change log, flagged records
by reason. Charts of these live in :mod:`workbench.presentation.charts.standardize`.

Everything is read from the persisted tables (``std_customers``, ``change_log``,
``field_validity``), so a notebook can show them after a rerun of the stage alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.standardize.base import StandardizeError
from workbench.engine.catalog import CHANGE_LOG, FIELD_VALIDITY, STD_CUSTOMERS, Table
from workbench.engine.connection import table_exists

if TYPE_CHECKING:
    import duckdb


def _require(con: duckdb.DuckDBPyConnection, *tables: Table) -> None:
    for table in tables:
        if not table_exists(con, table.name):
            raise StandardizeError(
                f"the run database has no table {table.name!r}; run the standardize stage first"
            )


def read_validity(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``field_validity`` with the rates: ``valid_before`` and ``valid_after`` as shares of present values."""
    _require(con, FIELD_VALIDITY)
    frame = con.execute(f"SELECT * FROM {FIELD_VALIDITY}").df()
    present = frame["n_present"].where(frame["n_present"] > 0)
    frame["valid_before"] = (frame["n_valid_before"] / present).round(4)
    frame["valid_after"] = (frame["n_valid_after"] / present).round(4)
    return frame


def count_rules(con: duckdb.DuckDBPyConnection, *, top: int | None = None) -> pd.DataFrame:
    """Change-log rows per rule (a row with several rules counts for each), most frequent first."""
    _require(con, CHANGE_LOG)
    limit = f" LIMIT {int(top)}" if top else ""
    return con.execute(
        f"SELECT r AS rule, count(*) AS changes FROM (SELECT unnest(string_split(rule, ';')) AS r FROM {CHANGE_LOG}) "
        f"GROUP BY r ORDER BY changes DESC, rule{limit}"
    ).df()


def sample_change_log(con: duckdb.DuckDBPyConnection, *, per_rule: int = 3, seed: int = 42) -> pd.DataFrame:
    """A few change-log rows of every rule, picked reproducibly (hash of key, field and seed)."""
    _require(con, CHANGE_LOG)
    return con.execute(
        "SELECT record_key, source, row_number, field, before, after, rule FROM ("
        "SELECT *, row_number() OVER (PARTITION BY rule ORDER BY md5(record_key || '|' || field || '|' || ?), "
        f"record_key, field) AS k FROM {CHANGE_LOG}) WHERE k <= ? ORDER BY rule, record_key, field",
        [str(seed), int(per_rule)],
    ).df()


def count_flags(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Records per flag reason (a record with several reasons counts for each), by source."""
    _require(con, STD_CUSTOMERS)
    return con.execute(
        "SELECT _source AS source, f AS reason, count(*) AS records FROM ("
        f"SELECT _source, unnest(string_split(flags, ';')) AS f FROM {STD_CUSTOMERS} WHERE flags IS NOT NULL) "
        "GROUP BY ALL ORDER BY records DESC, source, reason"
    ).df()


def flagged_records(con: duckdb.DuckDBPyConnection, *, limit: int = 50) -> pd.DataFrame:
    """The first flagged records (by key order) with their reasons and lineage."""
    _require(con, STD_CUSTOMERS)
    return con.execute(
        "SELECT record_key, _source, _row_number, source_id, record_status, is_test, is_stale, flags "
        f"FROM {STD_CUSTOMERS} WHERE flags IS NOT NULL ORDER BY _source, _row_number LIMIT ?",
        [int(limit)],
    ).df()
