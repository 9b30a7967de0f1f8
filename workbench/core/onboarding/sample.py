"""Reading an unknown file far enough to describe it: format, encoding, delimiter, sheet, header row.

:func:`read_sample` opens a CSV, Excel or Parquet file the way the ingest will read it (the same
encoding detection, the same cell texts), decides the layout a config needs to read it, and returns
the header and the first data rows as text. Nothing here is tuned to a known file: the header row is
the row that looks most like a header (many text cells, header words, data below it of the same
width), the delimiter the one that splits the lines most consistently.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.ingest.columns import clean_header
from workbench.core.ingest.encodings import detect_encoding, iter_decoded_lines
from workbench.core.ingest.reading import OLE_MAGIC, PARQUET_MAGIC, ZIP_MAGIC
from workbench.errors import SourceError

log = logging.getLogger(__name__)

SAMPLE_ROWS = 2000
"""Data rows read per file to infer its columns."""
HEADER_SEARCH_ROWS = 30
"""The header is looked for in this many rows from the top (title rows above it are skipped)."""
DELIMITERS = (",", ";", "\t", "|")
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx"}
SUFFIXES |= {".parquet": "parquet", ".pq": "parquet"}


@dataclass
class FileSample:
    """What a file looks like: how to read it, its header and its first data rows (as text)."""

    path: Path
    format: str
    headers: list[str]
    rows: list[list[str]]
    header_row: int = 1
    encoding: str | None = None
    encoding_reason: str = ""
    delimiter: str = ","
    sheet: str | None = None
    other_sheets: list[str] = field(default_factory=list)
    header_confidence: float = 1.0
    notes: list[str] = field(default_factory=list)

    def column(self, position: int) -> list[str]:
        """The sampled cells of a column (1-based position), '' for a missing cell."""
        i = position - 1
        return [r[i] if i < len(r) else "" for r in self.rows]


def discover_inputs(inputs: Sequence[Path | str]) -> list[Path]:
    """The data files among `inputs`: files as given, folders expanded to the files they hold.

    Raises:
        SourceError: an input does not exist, or a folder holds no CSV, Excel or Parquet file.
    """
    out: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            found = [p for p in found if not p.name.startswith(("~$", "."))]  # Excel lock files
            if not found:
                raise SourceError(f"{path}: the folder holds no .csv, .xlsx or .parquet file")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise SourceError(f"{path}: no such file or folder")
    return list(dict.fromkeys(p.resolve() for p in out))


def file_format(path: Path) -> str:
    """The format of a file, by its first bytes (then its extension)."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
        return "xlsx"
    return SUFFIXES.get(path.suffix.lower(), "csv")


def read_sample(path: Path, header_score: Callable[[str], float], *, rows: int = SAMPLE_ROWS) -> FileSample:
    """Describe a file and read its header and first `rows` data rows.

    Args:
        path: the file.
        header_score: how much a cell text looks like a column header (0..1, from the header
            words); helps to find the header below title rows.
        rows: data rows to read.

    Raises:
        SourceError: the file cannot be read, or holds no header and data.
    """
    fmt = file_format(path)
    if fmt == "parquet":
        return _parquet_sample(path, rows)
    if fmt == "xlsx":
        return _excel_sample(path, header_score, rows)
    return _csv_sample(path, header_score, rows)


# --------------------------------------------------------------------------------------------
# CSV


def _csv_sample(path: Path, header_score: Callable[[str], float], rows: int) -> FileSample:
    guess = detect_encoding(path)
    lines: list[str] = []
    for item in itertools.islice(iter_decoded_lines(path, guess.encoding), rows + HEADER_SEARCH_ROWS + 50):
        if isinstance(item, str):
            lines.append(item)
    if not lines:
        raise SourceError(f"{path}: the file is empty")
    delimiter = choose_delimiter(lines[: HEADER_SEARCH_ROWS + 50])
    parsed = list(csv.reader(io.StringIO("".join(lines)), delimiter=delimiter, strict=False))
    index, confidence = find_header_row(parsed, header_score)
    # the header's physical line: count the lines of the records above it (a quoted cell may span lines)
    header_line = _physical_line(lines, delimiter, index)
    headers = [clean_header(h) for h in parsed[index]]
    data = [r for r in parsed[index + 1 : index + 1 + rows]]
    sample = FileSample(
        path=path,
        format="csv",
        headers=headers,
        rows=data,
        header_row=header_line,
        encoding=guess.encoding,
        encoding_reason=guess.reason,
        delimiter=delimiter,
        header_confidence=confidence,
    )
    if index:
        sample.notes.append(f"{index} line(s) above the header skipped (titles)")
    return sample


def _physical_line(lines: list[str], delimiter: str, record_index: int) -> int:
    """The 1-based line where record `record_index` (0-based) starts."""
    reader = csv.reader(iter(lines), delimiter=delimiter, strict=False)
    line = 0
    for _ in range(record_index):
        next(reader, None)
        line = reader.line_num
    return line + 1


def choose_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits the lines into the same number (> 1) of cells most often."""
    text = "".join(lines)
    best, best_score = ",", -1.0
    for delimiter in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter, strict=False) if any(r)]
        if not counts:
            continue
        width, n = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = n / len(counts) + width / 1000  # consistency first, then more columns
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --------------------------------------------------------------------------------------------
# Excel


def _excel_sample(path: Path, header_score: Callable[[str], float], rows: int) -> FileSample:
    import python_calamine as calamine

    from workbench.core.ingest.excel_reader import cell_text

    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot open the workbook ({type(exc).__name__}: {exc})") from exc
    try:
        sheets: list[tuple[str, list[list[str]], int]] = []
        for name in workbook.sheet_names:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.start is None:
                continue
            cells = [
                [cell_text(v) for v in values]
                for values in itertools.islice(sheet.iter_rows(), rows + HEADER_SEARCH_ROWS + 1)
            ]
            filled = sum(1 for r in cells for v in r if v.strip())
            sheets.append((name, cells, sheet.start[0] + 1))
            log.debug("sheet %r: %d filled cells in the sample", name, filled)
    finally:
        workbook.close()
    if not sheets:
        raise SourceError(f"{path}: the workbook has no sheet with data")
    # the sheet with the most filled cells holds the table; the others are listed
    chosen = max(sheets, key=lambda s: (sum(1 for r in s[1] for v in r if v.strip()), -sheets.index(s)))
    name, cells, first_row = chosen
    index, confidence = find_header_row(cells, header_score)
    headers = [clean_header(h) for h in cells[index]]
    sample = FileSample(
        path=path,
        format="xlsx",
        headers=headers,
        rows=cells[index + 1 : index + 1 + rows],
        header_row=first_row + index,
        sheet=name,
        other_sheets=[s[0] for s in sheets if s[0] != name],
        header_confidence=confidence,
    )
    if first_row + index > 1:
        sample.notes.append(f"header in row {first_row + index} (rows above it are titles)")
    return sample


# --------------------------------------------------------------------------------------------
# Parquet


def _parquet_sample(path: Path, rows: int) -> FileSample:
    from workbench.engine.connection import connect
    from workbench.engine.sql import ident

    con = connect()
    try:
        names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
        select = ", ".join(f"CAST({ident(n)} AS VARCHAR)" for n in names)
        data = con.execute(f"SELECT {select} FROM read_parquet(?) LIMIT {int(rows)}", [str(path)]).fetchall()
    except Exception as exc:  # noqa: BLE001 - duckdb raises several error types for a bad file
        raise SourceError(f"{path}: cannot read the Parquet file ({exc})") from exc
    finally:
        con.close()
    return FileSample(
        path=path,
        format="parquet",
        headers=[clean_header(n) for n in names],
        rows=[["" if v is None else str(v) for v in r] for r in data],
    )


# --------------------------------------------------------------------------------------------
# the header row


def find_header_row(rows: Sequence[Sequence[str]], header_score: Callable[[str], float]) -> tuple[int, float]:
    """The 0-based index of the header among the first rows, and how sure that is (0..1).

    A header has several filled cells, mostly text (not numbers or dates), distinct, often known
    header words, and rows of about its width below it; a title row has one or two cells.

    Raises:
        SourceError: no row has at least one filled cell.
    """
    best, best_score, scores = -1, -1.0, []
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [c.strip() for c in row if c and c.strip()]
        if not cells:
            continue
        words = sum(header_score(c) for c in cells)
        texts = sum(1 for c in cells if not _looks_like_value(c))
        below = [sum(1 for c in r if c and c.strip()) for r in rows[i + 1 : i + 6]]
        support = (sum(below) / len(below) / len(cells)) if below else 0.0
        distinct = len(set(cells)) / len(cells)
        score = texts * distinct + 2.0 * words + min(support, 1.0) * len(cells) * 0.5
        scores.append(score)
        if score > best_score:
            best, best_score = i, score
    if best < 0:
        raise SourceError("no header found: the first rows are empty")
    ranked = sorted(scores, reverse=True)
    margin = (ranked[0] - ranked[1]) / ranked[0] if len(ranked) > 1 and ranked[0] else 1.0
    return best, round(min(1.0, 0.5 + margin), 2)


def _looks_like_value(cell: str) -> bool:
    """A number, an amount or a date: not a header cell."""
    text = cell.replace(",", "").replace(" ", "")
    if not text:
        return False
    digits = sum(ch.isdigit() for ch in text)
    return digits / len(text) > 0.6
