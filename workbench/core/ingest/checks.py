"""Row and cell checks of the ingest: nothing a reader finds becomes NULL or data in silence.

After a source is read and before it is staged, every row is checked (in DuckDB, over the raw
cells, for every format alike):

- a **total row** (``ingest.total_rows: quarantine``): its ID cell is empty or a total word, and a
  cell holds a total word (``合计``, ``小计``, ``Total`` …; :mod:`workbench.core.ingest.cells`) →
  quarantined, reason ``total row: '合计' in column '客户名称'``;
- a row with an Excel **formula without a cached value** (``ingest.uncached_formulas:
  quarantine``) → quarantined, reason ``formula without a cached value in column 'X' …``, the
  formula shown in the raw text; with ``flag`` the row is staged, the cell empty, and listed.

Cell findings go to ``ingest_issues`` (one row per cell: source, file, row_number, position,
header, field, issue, detail, action), and each kind is counted in ``ingest_summary``:

- ``formula_without_value`` (action ``quarantined`` or ``staged_empty``), detail the formula;
- ``excel_error`` (``#N/A``, ``#REF!`` …; action ``staged_empty``: the value is unknown), detail the error;
- ``control_characters`` (NUL, other C0 controls, DEL; action ``staged_as_read``: standardize
  removes them with the change-log rule ``strip_control_chars``), detail the value with each
  control character written ``\\xNN``.

This module owns those checks, the ``ingest_issues`` table and its counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from workbench.core.ingest.cells import (
    CONTROL_CHARS,
    CONTROL_CHARS_SQL,
    TOTAL_NORMALIZE_SQL,
    show_control_chars,
    total_words,
)
from workbench.core.ingest.columns import StagedColumn
from workbench.core.ingest.xlsx_cells import EXCEL_ERROR, FORMULA_WITHOUT_VALUE
from workbench.engine import catalog
from workbench.engine.connection import registered
from workbench.engine.sql import ident, literal

if TYPE_CHECKING:
    import duckdb

    from workbench.core.ingest.reading import SourceRead
    from workbench.project.config import SourceSpec
    from workbench.project.settings.ingest import IngestSettings

# TODO(lead): move into workbench/engine/catalog.py as INGEST_ISSUES (written by audit)
INGEST_ISSUES = getattr(catalog, "INGEST_ISSUES", None) or catalog.Table(
    "ingest_issues",
    ("source", "row_number", "position", "issue"),
    "audit",
    "cells flagged at ingest: formulas without value, Excel errors, control characters",
)
ISSUES_DDL = (
    "source VARCHAR, file VARCHAR, row_number BIGINT, position INTEGER, header VARCHAR, field VARCHAR, "
    "issue VARCHAR, detail VARCHAR, action VARCHAR"
)
CONTROL_CHARACTERS = "control_characters"
TOTAL_ROW = "total row"
FORMULA_ROW = "formula without a cached value"


@dataclass
class CheckCounts:
    """The counts of the checks for one source (columns of ``ingest_summary``)."""

    total_rows: int = 0
    uncached_formula_cells: int = 0
    excel_error_cells: int = 0
    control_char_cells: int = 0
    issues: list[tuple[int, int, str, str | None, str, str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# rows to quarantine


def formula_rows(read: SourceRead, columns: Sequence[StagedColumn], settings: IngestSettings) -> pa.Table:
    """The rows quarantined for a formula without a cached value: ``row_number, reason, detail``."""
    by_row: dict[int, list[tuple[int, str]]] = {}
    if settings.uncached_formulas == "quarantine":
        for row, position, issue, detail in read.cell_issues:
            if issue == FORMULA_WITHOUT_VALUE:
                by_row.setdefault(row, []).append((position, detail))
    headers = {c.position: c.header for c in columns}
    rows, reasons, details = [], [], []
    for row in sorted(by_row):
        cells = sorted(by_row[row])
        names = ", ".join(repr(headers.get(p, f"#{p}")) for p, _ in cells)
        rows.append(row)
        reasons.append(
            f"{FORMULA_ROW} in column {names}; open the workbook in Excel and save it so the value is "
            "computed (or set ingest.uncached_formulas: flag)"
        )
        details.append("; ".join(f"{headers.get(p, f'#{p}')}: {d}" for p, d in cells))
    return pa.table(
        {
            "row_number": pa.array(rows, pa.int64()),
            "reason": pa.array(reasons, pa.string()),
            "detail": pa.array(details, pa.string()),
        }
    )


def classify_rows_sql(
    spec: SourceSpec,
    columns: Sequence[StagedColumn],
    settings: IngestSettings,
    source_sql: str,
    formula_view: str,
    *,
    skip_blank_sql: str | None,
) -> str:
    """SQL selecting the rows to quarantine (``row_number, reason, raw_text``): total rows first,
    then rows with a formula without a cached value (from `formula_view`, see :func:`formula_rows`).

    Args:
        spec: the source.
        columns: the staged columns (all file columns that are hashed).
        settings: the `ingest:` settings.
        source_sql: SQL of the raw rows (``c1 … cN, _row_number``).
        formula_view: a registered table ``row_number, reason, detail``.
        skip_blank_sql: a condition that is true for blank rows, when `source_sql` still holds them.
    """
    cells = [c.position for c in columns]
    joined = "concat_ws(',', " + ", ".join(f"coalesce(r.c{p}, '')" for p in cells) + ")"
    total = _total_reason_sql(spec, columns, settings)
    where = f"WHERE NOT ({skip_blank_sql})" if skip_blank_sql else ""
    return (
        f"SELECT row_number, reason, raw_text FROM (SELECT r._row_number AS row_number, "
        f"coalesce({total}, f.reason) AS reason, "
        f"CASE WHEN f.detail IS NULL OR ({total}) IS NOT NULL THEN {joined} "
        f"ELSE {joined} || '  [' || f.detail || ']' END AS raw_text "
        f"FROM {source_sql} r LEFT JOIN {ident(formula_view)} f ON f.row_number = r._row_number {where}) "
        "WHERE reason IS NOT NULL"
    )


def _norm(cell: str) -> str:
    return (
        f"lower(regexp_replace(nfc_normalize(coalesce({cell}, '')), {literal(TOTAL_NORMALIZE_SQL)}, '', 'g'))"
    )


def _total_reason_sql(spec: SourceSpec, columns: Sequence[StagedColumn], settings: IngestSettings) -> str:
    """SQL of a row's total-row reason (NULL when it is not a total row)."""
    if settings.total_rows != "quarantine":
        return "CAST(NULL AS VARCHAR)"
    words = total_words(settings.total_words)
    word_list = "(" + ", ".join(literal(w) for w in words) + ")"
    id_position = next((c.position for c in columns if c.mapped and c.field == spec.id_field), None)
    if id_position is None:
        return "CAST(NULL AS VARCHAR)"
    id_cell = f"r.c{id_position}"
    no_id = f"(trim(coalesce({id_cell}, '')) = '' OR {_norm(id_cell)} IN {word_list})"
    branches = " ".join(
        f"WHEN {_norm(f'r.c{c.position}')} IN {word_list} THEN "
        f"{literal(TOTAL_ROW + ': ')} || '''' || trim(r.c{c.position}) || ''' in column ' || "
        f"{literal(repr(c.header or f'#{c.position}'))}"
        for c in columns
    )
    return f"(CASE WHEN NOT {no_id} THEN NULL {branches} END)"


# --------------------------------------------------------------------------------------------
# cells to list


def reader_cell_issues(
    read: SourceRead,
    columns: Sequence[StagedColumn],
    settings: IngestSettings,
    counts: CheckCounts,
    quarantined: set[int],
) -> None:
    """Add the cells the reader reported (formulas, errors) to `counts` (issues and numbers)."""
    by_position = {c.position: c for c in columns}
    for row, position, issue, detail in read.cell_issues:
        column = by_position.get(position)
        if column is None:
            continue
        if issue == FORMULA_WITHOUT_VALUE:
            counts.uncached_formula_cells += 1
        elif issue == EXCEL_ERROR:
            counts.excel_error_cells += 1
        action = "quarantined" if row in quarantined else "staged_empty"
        counts.issues.append((row, position, column.header, column.field, issue, detail, action))


def control_char_issues(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[StagedColumn], counts: CheckCounts
) -> None:
    """List the staged cells holding a control character (NUL …) in `counts`."""
    kept = [c for c in columns if c.field is not None]
    if not kept:
        return
    names = [ident(str(c.field)) for c in kept]
    joined = "concat(" + ", ".join(f"coalesce({n}, '')" for n in names) + ")"
    rows = con.execute(
        f"SELECT _row_number, {', '.join(names)} FROM {ident(table)} "
        f"WHERE regexp_matches({joined}, {literal(CONTROL_CHARS_SQL)}) ORDER BY _row_number"
    ).fetchall()
    for row in rows:
        for column, value in zip(kept, row[1:], strict=True):
            if isinstance(value, str) and CONTROL_CHARS.search(value):
                counts.control_char_cells += 1
                counts.issues.append(
                    (
                        int(row[0]),
                        column.position,
                        column.header,
                        column.field,
                        CONTROL_CHARACTERS,
                        show_control_chars(value),
                        "staged_as_read",
                    )
                )


def write_issues(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, file_text: str, counts: CheckCounts
) -> None:
    """Replace the source's rows of ``ingest_issues`` with `counts.issues` (in row order)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {INGEST_ISSUES} ({ISSUES_DDL})")
    con.execute(f"DELETE FROM {INGEST_ISSUES} WHERE source = ?", [spec.name])
    if not counts.issues:
        return
    issues = sorted(counts.issues, key=lambda i: (i[0], i[1], i[4]))
    names = ("row_number", "position", "header", "field", "issue", "detail", "action")
    types: dict[str, Any] = {"row_number": pa.int64(), "position": pa.int32()}
    frame = pa.table(
        {n: pa.array([i[k] for i in issues], types.get(n, pa.string())) for k, n in enumerate(names)}
    )
    with registered(con, catalog.temp(f"ingest_issues_{spec.name}"), frame) as view:
        con.execute(
            f"INSERT INTO {INGEST_ISSUES} SELECT ?, ?, {', '.join(names)} FROM {ident(view)}",
            [spec.name, file_text],
        )
