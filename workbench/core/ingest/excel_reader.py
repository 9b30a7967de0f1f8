"""Reading Excel sources: one sheet of a workbook, read with python-calamine.

This module owns how a sheet becomes a :class:`~workbench.core.ingest.reading.SourceRead`: which
sheet (``sheet:``, a name or a 0-based index), the header at ``header_row`` (rows above it are
titles), and the text of every cell as a person sees it in Excel (:func:`_cell_text`). Blank rows
between data rows are quarantined; blank rows after the last data row are not rows of the table.
Cells that read as empty but are not (a formula without a cached value, an error value such as
``#N/A``; see :mod:`workbench.core.ingest.xlsx_cells`) are reported in ``SourceRead.cell_issues``,
and a row holding one is never taken for a blank row.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.ingest.columns import clean_header, plan_columns
from workbench.core.ingest.reading import (
    BLANK_ROW,
    OLE_MAGIC,
    PARQUET_MAGIC,
    ZIP_MAGIC,
    RowSink,
    SourceRead,
    join_cells,
    looks_like_text,
)
from workbench.core.ingest.xlsx_cells import scan_sheet_cells
from workbench.errors import SourceError

if TYPE_CHECKING:
    from python_calamine import CalamineSheet, CalamineWorkbook

    from workbench.project.config import SourceSpec

log = logging.getLogger(__name__)

SheetRows = Iterator[tuple[int, list[Any]]]
"""(Excel row number, cell values) of a sheet, in order."""


def read_excel_source(spec: SourceSpec, path: Path) -> SourceRead:
    """Read a sheet of an Excel workbook with python-calamine.

    Cells become the text a person sees: whole numbers without ``.0``, other numbers with up to 15
    significant digits (as Excel shows them), dates as ``YYYY-MM-DD``, date-times as
    ``YYYY-MM-DD HH:MM:SS``, booleans as ``TRUE``/``FALSE``; text is kept as it is. Rows above the
    header (titles) are skipped; blank rows between data rows are quarantined; blank rows after the
    last data row are not data.

    Raises:
        SourceError: see :func:`workbench.core.ingest.staging.ingest_source`.
    """
    with _opened_sheet(spec, path) as (sheet, sheet_name):
        rows = _iter_sheet_rows(sheet)
        headers = _read_header(rows, spec, sheet_name)
        plan_columns(spec, headers)  # fail fast, before reading the data
        issues = _cell_issues(path, sheet, sheet_name, spec.header_row, len(headers))
        sink = RowSink(len(headers))
        trailing_blank = _read_data_rows(rows, sink, sheet_name, {i[0] for i in issues})
    if trailing_blank:
        log.info(
            "ingest %s: %d blank row(s) after the last data row (rows %d-%d) are not data",
            spec.name,
            len(trailing_blank),
            trailing_blank[0][0],
            trailing_blank[-1][0],
        )
    if sink.records == 0:
        raise SourceError(
            f"no data rows below the header (row {spec.header_row}) in sheet {sheet_name!r}; "
            f"check `header_row:` and `sheet:`"
        )
    return SourceRead(
        headers=headers,
        file_rows=sink.records,
        batches=sink.finish(),
        quarantine=sink.quarantine,
        cell_issues=issues,
    )


def _cell_issues(
    path: Path, sheet: CalamineSheet, sheet_name: str, header_row: int, width: int
) -> list[tuple[int, int, str, str]]:
    """``(row, position, issue, detail)`` of the data cells that read as empty but are not."""
    start = sheet.start
    first_column = (start[1] if start else 0) + 1  # Excel column of position 1
    out = []
    for cell in scan_sheet_cells(path, sheet_name):
        position = cell.column - first_column + 1
        if cell.row > header_row and 1 <= position <= width:
            out.append((cell.row, position, cell.issue, cell.detail))
    if out:
        log.info("sheet %r: %d cell(s) without a usable value (formulas, errors)", sheet_name, len(out))
    return out


def read_excel_headers(spec: SourceSpec, path: Path) -> list[str]:
    """The cleaned header cells of an Excel source (the sheet is read up to the header row).

    Raises:
        SourceError: see :func:`read_excel_source`.
    """
    with _opened_sheet(spec, path) as (sheet, sheet_name):
        return _read_header(_iter_sheet_rows(sheet), spec, sheet_name)


@contextmanager
def _opened_sheet(spec: SourceSpec, path: Path) -> Iterator[tuple[CalamineSheet, str]]:
    """The configured sheet and its name; a read error becomes a :class:`SourceError`."""
    import python_calamine as calamine

    workbook = _open_workbook(path)
    try:
        yield _open_sheet(workbook, spec.sheet)
    except calamine.CalamineError as exc:
        raise SourceError(
            f"cannot read the sheet ({type(exc).__name__}: {exc}); re-save it in Excel"
        ) from exc
    finally:
        workbook.close()


def _read_header(rows: SheetRows, spec: SourceSpec, sheet_name: str) -> list[str]:
    """The cleaned cells of row ``header_row``; `rows` is left at the first row below it.

    Raises:
        SourceError: the sheet ends above the header row, or the header row is empty.
    """
    last_row = 0
    for number, values in rows:
        last_row = number
        if number < spec.header_row:
            continue
        if number == spec.header_row:
            headers = [clean_header(_cell_text(v)) for v in values]
            if any(headers):
                return headers
        break
    if last_row < spec.header_row:
        raise SourceError(
            f"header row {spec.header_row} is beyond the data: sheet {sheet_name!r} has {last_row} row(s); "
            f"check `header_row:` and `sheet:`"
        )
    raise SourceError(
        f"header row {spec.header_row} of sheet {sheet_name!r} is empty; check `header_row:` and `sheet:`"
    )


def _read_data_rows(
    rows: SheetRows, sink: RowSink, sheet_name: str, not_blank: set[int] | frozenset[int] = frozenset()
) -> list[tuple[int, str]]:
    """Stage the rows below the header into `sink`, quarantining blank rows between data rows.

    Rows in `not_blank` (they hold a formula or error cell) are data even when every cell reads empty.

    Returns:
        The blank rows after the last data row, ``(row number, raw text)``: they are not data.
    """
    width = sink.width
    pending_blank: list[tuple[int, str]] = []
    for number, values in rows:
        cells = [v if v.__class__ is str else _cell_text(v) for v in values]
        if len(cells) != width:  # calamine gives every row the used range's width
            raise SourceError(
                f"sheet {sheet_name!r} row {number} has {len(cells)} cells but the header has {width}"
            )
        if number not in not_blank and not "".join(cells).strip():
            # blank rows count only when a data row follows (trailing blank rows are no data)
            pending_blank.append((number, join_cells(cells)))
            continue
        for blank_number, raw in pending_blank:
            sink.quarantine.append((blank_number, BLANK_ROW, raw))
            sink.records += 1
        pending_blank.clear()
        sink.records += 1
        sink.add(number, cells)
    return pending_blank


def _open_workbook(path: Path) -> CalamineWorkbook:
    """Open an Excel workbook with python-calamine, with a clear error for anything else."""
    import python_calamine as calamine

    with path.open("rb") as fh:
        head = fh.read(8)
    if not (head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC)):
        if head.startswith(PARQUET_MAGIC):
            kind, fix = "Parquet", "set `format: parquet`"
        else:
            kind = "text (CSV?)" if looks_like_text(path) else "unknown"
            fix = "set `format: csv` (or re-export it as .xlsx)"
        raise SourceError(f"the file is not an Excel workbook; its content looks like {kind}: {fix}")
    try:
        return calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError as exc:
        raise SourceError("the workbook is password-protected; save an unprotected copy") from exc
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise SourceError(
            f"cannot open the workbook ({type(exc).__name__}: {exc}); re-save it in Excel"
        ) from exc


def _open_sheet(workbook: CalamineWorkbook, sheet: str | int | None) -> tuple[CalamineSheet, str]:
    """The sheet `sheet` names (``None``: the first) and its name, with a hint for a near miss."""
    names = list(workbook.sheet_names)
    if not names:
        raise SourceError("the workbook has no sheets")
    if sheet is None or sheet == 0:
        return workbook.get_sheet_by_index(0), names[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise SourceError(
                f"sheet index {sheet} does not exist; the workbook has {len(names)} sheet(s): {names} "
                f"(`sheet:` takes a name or a 0-based index)"
            )
        return workbook.get_sheet_by_index(sheet), names[sheet]
    if sheet not in names:
        stripped = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        close = stripped or difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SourceError(f"no sheet named {sheet!r}; the workbook's sheets are {names}.{hint} Fix `sheet:`")
    return workbook.get_sheet_by_name(sheet), sheet


def _iter_sheet_rows(sheet: CalamineSheet) -> SheetRows:
    """(Excel row number, cell values) of the sheet's used range, columns from its first used one."""
    start = sheet.start
    if start is None:
        return
    first_row = start[0] + 1
    for i, values in enumerate(sheet.iter_rows()):
        yield first_row + i, values


def cell_text(value: Any) -> str:
    """The text a person sees in an Excel cell with the General format (as the ingest stages it)."""
    return _cell_text(value)


def _cell_text(value: Any) -> str:
    """The text a person sees in an Excel cell with the General format."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return _temporal_text(value)
    return str(value)


def _number_text(value: float) -> str:
    """A float as Excel's General format shows it: no ``.0``, up to 15 significant digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = format(value, ".15g")
    if "e" in text:
        text = format(value, ".15f").rstrip("0").rstrip(".")
    return text


def _temporal_text(value: dt.date | dt.time | dt.timedelta) -> str:
    """A date (``YYYY-MM-DD``), date-time, time or duration (``[-]H:MM:SS``) as text."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
