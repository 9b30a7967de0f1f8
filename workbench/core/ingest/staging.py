"""Ingest: read every source file into the run's DuckDB database, with lineage and a quarantine.

This module owns the ingest tables of a run (see docs/architecture.md) and writes and reads them:

- ``stg_<source>``: one VARCHAR column per file column, the text as read (empty cell → NULL),
  after the lineage columns ``_source, _file, _row_number, _row_hash``;
- ``stg_columns``: the column map as applied;
- ``quarantine``: every row that could not be staged, with the reason and the raw text (rows that
  do not parse, blank rows inside the data, total rows, rows with a formula without value);
- ``ingest_issues``: every cell that is staged but suspicious (see :mod:`workbench.core.ingest.checks`);
- ``ingest_summary``: per source, ``file_rows = staged_rows + quarantined_rows`` (or the ingest
  fails), and the counts of the checks (``total_rows``, ``uncached_formula_cells``,
  ``excel_error_cells``, ``control_char_cells``).

Reading is format-specific (:mod:`~workbench.core.ingest.csv_reader`,
:mod:`~workbench.core.ingest.excel_reader`, :mod:`~workbench.core.ingest.parquet_reader`);
staging is shared: the rows of a read, in Arrow batches, are turned into the staged table by one
SQL statement, which computes the row hash vectorised in DuckDB. Rerunning a source replaces its
rows, so a rerun on the same files gives identical tables.

Rules worth knowing:

- ``file_rows`` counts every record below the header: for CSV every parsed record plus every line
  that does not decode (blank lines too); for Excel every row up to the last non-blank one (blank
  rows after the data are not rows of the table, and are logged); for Parquet every row.
- ``_row_hash`` is the md5 of the row's cell texts (empty cell = '') joined by U+001F, over every
  file column, mapped or not, except a column without header that is empty in every row (a
  trailing delimiter, a title wider than the table); such a column is not staged either.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from workbench.core.ingest.checks import (
    INGEST_ISSUES,
    CheckCounts,
    classify_rows_sql,
    control_char_issues,
    formula_rows,
    reader_cell_issues,
    write_issues,
)
from workbench.core.ingest.columns import StagedColumn, plan_columns
from workbench.core.ingest.csv_reader import read_csv_source
from workbench.core.ingest.database_reader import read_database_source
from workbench.core.ingest.excel_reader import read_excel_source
from workbench.core.ingest.parquet_reader import read_parquet_source
from workbench.core.ingest.reading import BLANK_ROW, SourceRead, flat_to_arrow, source_errors
from workbench.engine import catalog
from workbench.engine.catalog import INGEST_SUMMARY, QUARANTINE, STAGED_COLUMNS
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.sql import ident, literal
from workbench.errors import IngestBalanceError, SourceError, WorkbenchError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from workbench.project.config import ProjectConfig, SourceSpec
    from workbench.project.settings.ingest import IngestSettings

log = logging.getLogger(__name__)

HASH_SEPARATOR = "\x1f"  # U+001F, the unit separator: never part of a cell's text in practice

_BLANK = r"[\s\p{Z}]*"
"""A row whose cells joined fully match this (RE2) is blank: empty or only whitespace (incl. U+3000)."""

_DDL = {
    QUARANTINE.name: "source VARCHAR, file VARCHAR, row_number BIGINT, reason VARCHAR, raw_text VARCHAR",
    INGEST_SUMMARY.name: (
        "source VARCHAR, file VARCHAR, format VARCHAR, encoding VARCHAR, file_rows BIGINT, "
        "staged_rows BIGINT, quarantined_rows BIGINT, balanced BOOLEAN, total_rows BIGINT, "
        "uncached_formula_cells BIGINT, excel_error_cells BIGINT, control_char_cells BIGINT"
    ),
    STAGED_COLUMNS.name: (
        "source VARCHAR, position INTEGER, header VARCHAR, field VARCHAR, kind VARCHAR, mapped BOOLEAN"
    ),
}


SUMMARY_COLUMNS = (
    "source",
    "file",
    "format",
    "encoding",
    "file_rows",
    "staged_rows",
    "quarantined_rows",
    "balanced",
    "total_rows",
    "uncached_formula_cells",
    "excel_error_cells",
    "control_char_cells",
)
"""The columns of ``ingest_summary``, in order."""


@dataclass
class IngestResult:
    """What ingesting one source did (its ``ingest_summary`` row and more)."""

    source: str
    file: str
    format: str
    encoding: str | None
    file_rows: int
    staged_rows: int
    quarantined_rows: int
    table: str
    columns: list[StagedColumn] = field(default_factory=list)
    encoding_reason: str = ""
    seconds: float = 0.0
    checks: CheckCounts = field(default_factory=CheckCounts)

    @property
    def balanced(self) -> bool:
        """Whether every file row was either staged or quarantined."""
        return self.file_rows == self.staged_rows + self.quarantined_rows

    @property
    def unmapped(self) -> list[str]:
        """Headers that are not listed in the source's ``columns`` (kept or dropped)."""
        return [c.header for c in self.columns if not c.mapped]

    def summary_row(self) -> dict[str, Any]:
        """The source's row of ``ingest_summary``, in column order."""
        return {
            "source": self.source,
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "file_rows": self.file_rows,
            "staged_rows": self.staged_rows,
            "quarantined_rows": self.quarantined_rows,
            "balanced": self.balanced,
            "total_rows": self.checks.total_rows,
            "uncached_formula_cells": self.checks.uncached_formula_cells,
            "excel_error_cells": self.checks.excel_error_cells,
            "control_char_cells": self.checks.control_char_cells,
        }


# --------------------------------------------------------------------------------------------
# public API


def ingest_sources(
    config: ProjectConfig,
    con: duckdb.DuckDBPyConnection,
    *,
    sources: Iterable[str | SourceSpec] | None = None,
) -> pd.DataFrame:
    """Ingest sources into the run database and return their ``ingest_summary`` rows.

    Every source is tried even when one fails; the failures are then raised together.

    Args:
        config: the project config.
        con: a DuckDB connection (from :func:`workbench.engine.connection.connect` or ``RunContext.connect``).
        sources: names (or specs) of the sources to ingest; default all, in config order. With the
            default, rows left in the ingest tables by sources no longer in the config are removed.

    Returns:
        One row per ingested source, in config order, with the columns of ``ingest_summary``.

    Raises:
        SourceError: a file cannot be read or does not match its config (every failing source named).
        IngestBalanceError: file rows differ from staged + quarantined rows for a source.
    """

    import pandas as pd

    specs = select_sources(config, sources)
    if sources is None:
        remove_stale_sources(con, [s.name for s in config.sources])
    results: list[IngestResult] = []
    failures: list[SourceError | IngestBalanceError] = []
    for spec in specs:
        try:
            results.append(ingest_source(config, spec, con))
        except (SourceError, IngestBalanceError) as exc:
            log.error("ingest %s failed: %s", spec.name, exc)
            failures.append(exc)
    if failures:
        if len(failures) == 1:
            raise failures[0]
        balance = [f for f in failures if isinstance(f, IngestBalanceError)]
        cls = IngestBalanceError if len(balance) == len(failures) else SourceError
        lines = "\n".join(f"  - {f}" for f in failures)
        raise cls(f"{len(failures)} of {len(specs)} sources failed to ingest:\n{lines}") from failures[0]
    columns = [*SUMMARY_COLUMNS]
    frame = pd.DataFrame([r.summary_row() for r in results], columns=columns)
    return frame


def ingest_source(
    config: ProjectConfig, source: str | SourceSpec, con: duckdb.DuckDBPyConnection
) -> IngestResult:
    """Read one source file into ``stg_<source>`` and record its quarantine and summary rows.

    A rerun drops and recreates the staged table and replaces the source's rows in
    ``quarantine``, ``stg_columns`` and ``ingest_summary``.

    Args:
        config: the project config (paths are resolved against its folder).
        source: the source's name or spec.
        con: a DuckDB connection.

    Returns:
        What was staged and quarantined.

    Raises:
        SourceError: the file is missing, unreadable, not the configured format, has no header or no
            data rows, lacks a configured column, or does not decode in the configured encoding.
        IngestBalanceError: file rows differ from staged + quarantined rows (the summary row is
            still written, with ``balanced = false``).
    """
    spec = config.source(source) if isinstance(source, str) else source
    started = time.perf_counter()
    fmt = spec.file_format
    _staged_table_name(spec.name)  # refuse a reserved or invalid name before reading the file
    if fmt == "postgres":
        label = source_label(spec, spec.origin)
        with source_errors(label):
            read = read_database_source(spec, label)
            columns = plan_columns(spec, read.headers)
    else:
        path = config.source_path(spec)
        label = source_label(spec, path)
        with source_errors(label):
            read = _read_file(spec, path, label, con)
            columns = plan_columns(spec, read.headers)

    result = _write_source(con, spec, read, columns, fmt, config.ingest)
    result.encoding_reason = read.encoding_reason
    result.seconds = time.perf_counter() - started
    _log_ingest(spec, read, columns, result)
    if not result.balanced:
        raise IngestBalanceError(
            f"{label}: rows do not balance: {result.file_rows} file rows but {result.staged_rows} staged "
            f"+ {result.quarantined_rows} quarantined = {result.staged_rows + result.quarantined_rows}; "
            f"this is a bug in the ingest, please report it with the file"
        )
    return result


def _read_file(spec: SourceSpec, path: Path, label: str, con: duckdb.DuckDBPyConnection) -> SourceRead:
    if not path.exists():
        raise SourceError(f"{label}: file not found; check `path:` (relative to the config file)")
    if not path.is_file():
        raise SourceError(f"{label}: not a file (a folder?); point `path:` at the export file")
    fmt = spec.file_format
    if fmt == "csv":
        return read_csv_source(spec, path)
    if fmt == "xlsx":
        return read_excel_source(spec, path)
    if fmt == "parquet":
        return read_parquet_source(spec, path, con)
    raise SourceError(f"format {fmt!r} is not supported; set `format:` to csv, xlsx, parquet or postgres")


def remove_stale_sources(con: duckdb.DuckDBPyConnection, keep: Sequence[str]) -> list[str]:
    """Drop the ingest rows and staged tables of sources that are no longer configured.

    Args:
        con: a DuckDB connection.
        keep: the configured source names.

    Returns:
        The names of the sources removed.
    """
    if not table_exists(con, INGEST_SUMMARY.name):
        return []
    rows = con.execute(f"select distinct source from {INGEST_SUMMARY} order by source").fetchall()
    stale = [r[0] for r in rows if r[0] not in set(keep)]
    for name in stale:
        log.info("ingest: removing rows of source %r, which is no longer in the config", name)
        try:
            table = _staged_table_name(name)
        except WorkbenchError:  # a name we never wrote a table for; leave the tables alone
            table = None
        if table:
            con.execute(f"drop table if exists {ident(table)}")
        for t in (QUARANTINE, STAGED_COLUMNS, INGEST_SUMMARY, INGEST_ISSUES):
            if table_exists(con, t.name):
                con.execute(f"delete from {t} where source = ?", [name])
    return stale


def _staged_table_name(source: str) -> str:
    """The staged table of a source, ``stg_<source>`` (:func:`workbench.engine.catalog.staged`).

    Raises:
        SourceError: the name is not a valid table name part, or it is reserved: the table of
            source ``columns`` would be the column map (``stg_columns``).
    """
    try:
        table = catalog.staged(source)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    if table == STAGED_COLUMNS.name:
        raise SourceError(
            f"the source name {source!r} is reserved: its table would be {STAGED_COLUMNS.name!r}, the "
            f"column map of the ingest; rename the source (e.g. {source + '_src'!r})"
        )
    return table


def select_sources(config: ProjectConfig, sources: Iterable[str | SourceSpec] | None) -> list[SourceSpec]:
    """The specs of `sources` (names or specs; ``None``: every source, in config order).

    Raises:
        SourceError: a name is not a source of the config (the message suggests a close one).
    """
    if sources is None:
        return list(config.sources)
    out = []
    names = [s.name for s in config.sources]
    for s in [sources] if isinstance(sources, str) else sources:
        if isinstance(s, str):
            if s not in names:
                close = difflib.get_close_matches(s, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise SourceError(f"no source named {s!r} in the config; known: {names}.{hint}")
            out.append(config.source(s))
        else:
            out.append(s)
    return out


def source_label(spec: SourceSpec, path: Any) -> str:
    """How messages name a source: ``source '<name>' (<path>)``."""
    return f"source {spec.name!r} ({path})"


# --------------------------------------------------------------------------------------------
# the ingest tables, read back


def read_ingest_summary(con: duckdb.DuckDBPyConnection, config: ProjectConfig | None = None) -> pd.DataFrame:
    """The ``ingest_summary`` table, in the config's source order (else by source name).

    Raises:
        WorkbenchError: the table is missing (run the ingest first).
    """
    _require(con, INGEST_SUMMARY.name)
    df = con.execute(f"SELECT * FROM {INGEST_SUMMARY} ORDER BY source, file").df()
    if config is not None:
        order = {s.name: i for i, s in enumerate(config.sources)}
        df = df.sort_values("source", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return df


def read_quarantine(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> pd.DataFrame:
    """Quarantined rows (source, file, row_number, reason, raw_text), by source and row.

    Args:
        con: the run database connection.
        limit: at most this many rows; default all.

    Raises:
        WorkbenchError: the table is missing (run the ingest first).
    """
    _require(con, QUARANTINE.name)
    sql = f"SELECT * FROM {QUARANTINE} ORDER BY source, file, row_number"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return con.execute(sql).df()


def quarantine_reasons(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Quarantined rows counted per source and reason (byte offsets in reasons are grouped).

    Raises:
        WorkbenchError: the table is missing (run the ingest first).
    """
    _require(con, QUARANTINE.name)
    return con.execute(
        "SELECT source, regexp_replace(reason, ' at byte [0-9]+', '') AS reason, count(*) AS rows "
        f"FROM {QUARANTINE} GROUP BY ALL ORDER BY source, rows DESC, reason"
    ).df()


def _require(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if not table_exists(con, table):
        raise WorkbenchError(
            f"table {table!r} is missing from the run database; run the ingest "
            "(workbench.core.ingest.ingest_sources) first"
        )


# --------------------------------------------------------------------------------------------
# staging (shared by every format)


def _log_ingest(
    spec: SourceSpec, read: SourceRead, columns: list[StagedColumn], result: IngestResult
) -> None:
    """Log the unmapped columns and the one summary line of an ingested source."""
    kept = [c.header for c in columns if not c.mapped and c.kept]
    dropped = [c.header for c in columns if not c.mapped and not c.kept]
    if kept:
        log.info("ingest %s: unmapped columns kept under their header: %s", spec.name, kept)
    if dropped:
        log.info("ingest %s: unmapped columns dropped (keep_unmapped: false): %s", spec.name, dropped)
    log.info(
        "ingest %s: %d file rows = %d staged + %d quarantined (%s%s) in %.2fs",
        spec.name,
        result.file_rows,
        result.staged_rows,
        result.quarantined_rows,
        result.format,
        f", {read.encoding}" if read.encoding else "",
        result.seconds,
    )


def _write_source(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    read: SourceRead,
    columns: list[StagedColumn],
    fmt: str,
    settings: IngestSettings,
) -> IngestResult:
    """Replace the source's staged table and its rows in the other ingest tables, in one transaction.

    Rows the checks quarantine (total rows, formulas without value; see
    :mod:`workbench.core.ingest.checks`) are left out of the staged table and added to the quarantine.
    """
    table = _staged_table_name(spec.name)
    file_text = spec.origin
    in_sql = read.relation is not None  # Parquet: the rows are a relation, checked for blanks in SQL
    counts = CheckCounts()
    with _raw_rows(con, spec, read) as (source_sql, source_params):
        columns = _drop_empty_unnamed(con, spec, columns, source_sql, source_params)
        hashed = [c.position for c in columns]
        blank = _blank_test(hashed, alias="r") if in_sql else None
        classified = catalog.temp(f"ingest_checked_{spec.name}")
        with registered(
            con, catalog.temp(f"ingest_formulas_{spec.name}"), formula_rows(read, columns, settings)
        ) as fv:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {ident(classified)} AS "
                + classify_rows_sql(spec, columns, settings, source_sql, fv, skip_blank_sql=blank),
                source_params,
            )
        try:
            with _transaction(con):
                _ensure_tables(con)
                con.execute(f"drop table if exists {ident(table)}")
                con.execute(
                    _staged_table_sql(table, columns, source_sql, skip_blank=in_sql, exclude=classified),
                    [spec.name, file_text, HASH_SEPARATOR, *source_params],
                )
                con.execute(f"delete from {QUARANTINE} where source = ?", [spec.name])
                _insert_quarantine(con, spec, read.quarantine, file_text)
                if in_sql:
                    joined = "concat_ws(',', " + _cells(hashed) + ")"
                    con.execute(
                        f"insert into {QUARANTINE} select ?, ?, _row_number, ?, {joined} "
                        f"from {source_sql} where {_blank_test(hashed)} order by _row_number",
                        [spec.name, file_text, BLANK_ROW, *source_params],
                    )
                con.execute(
                    f"insert into {QUARANTINE} select ?, ?, row_number, reason, raw_text "
                    f"from {ident(classified)} order by row_number",
                    [spec.name, file_text],
                )
                quarantined = {
                    int(r[0]) for r in con.execute(f"select row_number from {ident(classified)}").fetchall()
                }
                counts.total_rows = int(
                    con.execute(
                        f"select count(*) from {ident(classified)} where starts_with(reason, 'total row')"
                    ).fetchall()[0][0]
                )
                reader_cell_issues(read, columns, settings, counts, quarantined)
                control_char_issues(con, table, columns, counts)
                write_issues(con, spec, file_text, counts)
                con.execute(f"delete from {STAGED_COLUMNS} where source = ?", [spec.name])
                con.executemany(
                    f"insert into {STAGED_COLUMNS} values (?, ?, ?, ?, ?, ?)",
                    [[spec.name, c.position, c.header, c.field, c.kind, c.mapped] for c in columns],
                )
                result = _result_row(con, spec, read, columns, fmt, table, counts)
        finally:
            con.execute(f"drop table if exists {ident(classified)}")
    return result


def _result_row(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    read: SourceRead,
    columns: list[StagedColumn],
    fmt: str,
    table: str,
    counts: CheckCounts,
) -> IngestResult:
    """Count the staged and quarantined rows and replace the source's ``ingest_summary`` row."""
    staged_rows = con.execute(f"select count(*) from {ident(table)}").fetchall()[0][0]
    quarantined_rows = con.execute(
        f"select count(*) from {QUARANTINE} where source = ?", [spec.name]
    ).fetchall()[0][0]
    result = IngestResult(
        source=spec.name,
        file=spec.origin,
        format=fmt,
        encoding=read.encoding,
        file_rows=read.file_rows,
        staged_rows=int(staged_rows),
        quarantined_rows=int(quarantined_rows),
        table=table,
        columns=columns,
        checks=counts,
    )
    con.execute(f"delete from {INGEST_SUMMARY} where source = ?", [spec.name])
    row = result.summary_row()
    names = ", ".join(row)
    con.execute(
        f"insert into {INGEST_SUMMARY} ({names}) values ({', '.join('?' for _ in row)})", list(row.values())
    )
    return result


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ingest tables, and add the columns a database written by an older version lacks."""
    for name, ddl in _DDL.items():
        con.execute(f"create table if not exists {name} ({ddl})")
        have = set(table_columns(con, name))
        for part in ddl.split(", "):
            column, sql_type = part.split(" ", 1)
            if column not in have:
                con.execute(f"alter table {name} add column {ident(column)} {sql_type}")


@contextmanager
def _raw_rows(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, read: SourceRead
) -> Iterator[tuple[str, list[Any]]]:
    """SQL (and its parameters) that selects the raw rows of a read, for the block.

    Rows read in Python are registered as a scratch frame (``__wb_ingest_raw_<source>``) and
    unregistered after the block; a Parquet read is its own relation.
    """
    if read.relation is not None:
        yield f"({read.relation})", list(read.relation_params)
        return
    raw = pa.concat_tables(read.batches) if read.batches else flat_to_arrow([], [], len(read.headers))
    with registered(con, catalog.temp(f"ingest_raw_{spec.name}"), raw) as name:
        yield ident(name), []


def _drop_empty_unnamed(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    columns: list[StagedColumn],
    source_sql: str,
    source_params: list[Any],
) -> list[StagedColumn]:
    """`columns` without the unnamed columns that hold no value at all.

    Such a column is an artefact (a trailing delimiter, a title row wider than the table): it is
    not staged and not hashed.
    """
    unnamed = [c for c in columns if not c.header]
    if not unnamed:
        return columns
    counts = con.execute(
        "select " + ", ".join(f"count(nullif(c{c.position}, ''))" for c in unnamed) + f" from {source_sql}",
        source_params,
    ).fetchall()[0]
    empty = {c.position for c, n in zip(unnamed, counts, strict=True) if n == 0}
    if empty:
        log.info(
            "ingest %s: dropped %d empty column(s) without a header at position(s) %s",
            spec.name,
            len(empty),
            sorted(empty),
        )
    return [c for c in columns if c.position not in empty]


def _cells(positions: Sequence[int], alias: str = "") -> str:
    """The raw cells at `positions` as SQL, '' for a missing cell, comma-separated."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"coalesce({prefix}c{p}, '')" for p in positions)


def _blank_test(positions: Sequence[int], alias: str = "") -> str:
    """SQL that is true when the cells at `positions` are all empty or blank."""
    return f"regexp_full_match(concat({_cells(positions, alias)}), {literal(_BLANK)})"


def _staged_table_sql(
    table: str, columns: list[StagedColumn], source_sql: str, *, skip_blank: bool, exclude: str | None = None
) -> str:
    """``CREATE TABLE stg_<source>``: lineage columns, the row hash, then every kept column.

    Parameters: source name, file, hash separator, then those of `source_sql`. `skip_blank`
    leaves out blank rows (for a Parquet relation; readers in Python quarantine them themselves);
    `exclude` names a table whose ``row_number`` rows are left out (quarantined by the checks).
    """
    hash_expr = "md5(concat_ws(?, " + _cells([c.position for c in columns]) + "))"
    selected = [f"nullif(c{c.position}, '') AS {ident(c.field)}" for c in columns if c.field is not None]
    conditions = [f"not {_blank_test([c.position for c in columns])}"] if skip_blank else []
    if exclude:
        conditions.append(f"_row_number not in (select row_number from {ident(exclude)})")
    where = f"where {' and '.join(conditions)}" if conditions else ""
    return (
        f"create table {ident(table)} as select ?::VARCHAR AS _source, ?::VARCHAR AS _file, "
        f"_row_number::BIGINT AS _row_number, {hash_expr} AS _row_hash"
        + "".join(f", {s}" for s in selected)
        + f" from {source_sql} {where} order by _row_number"
    )


def _insert_quarantine(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, rows: list[tuple[int, str, str]], file_text: str
) -> None:
    """Append the rows a reader quarantined (``(row_number, reason, raw_text)``), by row number."""
    if not rows:
        return
    frame = pa.table(
        {
            "row_number": pa.array([r[0] for r in rows], type=pa.int64()),
            "reason": pa.array([r[1] for r in rows], type=pa.string()),
            "raw_text": pa.array([r[2] for r in rows], type=pa.string()),
        }
    )
    with registered(con, catalog.temp(f"ingest_quarantine_{spec.name}"), frame) as name:
        con.execute(
            f"insert into {QUARANTINE} select ?, ?, row_number, reason, raw_text "
            f"from {ident(name)} order by row_number",
            [spec.name, file_text],
        )


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run a block in a transaction (or in the caller's, when one is open already)."""
    try:
        con.execute("begin transaction")
    except duckdb.TransactionException:
        yield
        return
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
