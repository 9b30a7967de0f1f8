"""What every reader hands to staging, and the pieces the readers share.

This module owns :class:`SourceRead` (a source file as read: its headers, its row count, the raw
cells in Arrow batches and the quarantined rows), :class:`RowSink` (which collects parsed rows into
those batches), the error labelling of a source (:func:`source_errors`) and the magic numbers used
to tell a mislabelled file early (an Excel workbook configured as CSV, and so on).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.errors import SourceError

BATCH_ROWS = 100_000
"""Rows collected in Python before they are turned into one Arrow batch."""

BLANK_ROW = "blank row"
"""The quarantine reason of a row whose cells are all empty or blank."""

# magic numbers of the binary formats, to tell a mislabelled file early and clearly
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PARQUET_MAGIC = b"PAR1"


@dataclass
class SourceRead:
    """A source file as read: raw cells in Arrow batches plus the quarantined rows.

    Batch columns are ``c1 … cN`` (the file's columns in order, cell text, '' for empty) and
    ``_row_number``. For Parquet the rows stay in DuckDB: ``relation`` is SQL that selects them.

    Attributes:
        headers: the cleaned header cells, in file order ('' for an empty header cell).
        file_rows: every record below the header (see :mod:`workbench.core.ingest.staging`).
        batches: the staged rows' raw cells.
        quarantine: ``(row_number, reason, raw_text)`` of every quarantined row.
        encoding: the text encoding read with (CSV only).
        encoding_reason: why that encoding was chosen.
        relation: SQL selecting the rows (Parquet only), with ``relation_params`` bound.
        cell_issues: ``(row_number, position, issue, detail)`` of every cell the reader read as
            empty although it is not (Excel: a formula without a cached value, an error value).
    """

    headers: list[str]
    file_rows: int
    batches: list[pa.Table] = field(default_factory=list)
    quarantine: list[tuple[int, str, str]] = field(default_factory=list)
    encoding: str | None = None
    encoding_reason: str = ""
    relation: str | None = None
    relation_params: list[Any] = field(default_factory=list)
    cell_issues: list[tuple[int, int, str, str]] = field(default_factory=list)


class RowSink:
    """Collects staged rows into Arrow batches and quarantined rows into a list."""

    def __init__(self, width: int):
        self.width = width
        self.cells: list[str] = []  # flat, row after row
        self.numbers: list[int] = []
        self.batches: list[pa.Table] = []
        self.quarantine: list[tuple[int, str, str]] = []
        self.records = 0

    def add(self, number: int, cells: list[str]) -> None:
        """Stage one row (its physical row number and its cells)."""
        self.cells.extend(cells)
        self.numbers.append(number)
        if len(self.numbers) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Turn the rows collected so far into one Arrow batch."""
        if self.numbers:
            self.batches.append(flat_to_arrow(self.cells, self.numbers, self.width))
            self.cells, self.numbers = [], []

    def finish(self) -> list[pa.Table]:
        """Every batch, the last rows included."""
        self.flush()
        return self.batches


def flat_to_arrow(cells: list[str], numbers: list[int], width: int) -> pa.Table:
    """An Arrow table ``c1 … cN, _row_number`` from cells listed row after row."""
    import numpy as np

    n = len(numbers)
    names = [*raw_names(width), "_row_number"]
    flat = pa.array(cells, type=pa.string())
    if n == 0:
        arrays = [flat] * width
    else:
        # one column = every width-th cell: a vectorised take beats transposing in Python
        starts = np.arange(n, dtype=np.int64) * width
        arrays = [flat.take(pa.array(starts + i)) for i in range(width)]
    return pa.Table.from_arrays([*arrays, pa.array(numbers, type=pa.int64())], names=names)


def raw_names(width: int) -> list[str]:
    """The raw column names of a read: ``c1 … c<width>``."""
    return [f"c{i}" for i in range(1, width + 1)]


def join_cells(cells: Sequence[str], delimiter: str = ",") -> str:
    """A row's cells as one CSV line (the raw text of a quarantined row that has no line of its own)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(cells)
    return out.getvalue()


def looks_like_text(path: Path) -> bool:
    """Whether the file's first 4 KiB look like text (no NUL byte)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    return bool(head) and b"\x00" not in head


@contextmanager
def source_errors(label: str) -> Iterator[None]:
    """Give every :class:`SourceError` and :class:`OSError` of the block the source's label.

    Args:
        label: ``source '<name>' (<path>)``; a message that starts with ``source `` already names
            its source and is kept as it is.
    """
    try:
        yield
    except SourceError as exc:
        message = str(exc)
        raise SourceError(message if message.startswith("source ") else f"{label}: {message}") from exc
    except OSError as exc:
        raise SourceError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
