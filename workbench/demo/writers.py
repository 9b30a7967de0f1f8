"""Writing the demo's files: the GBK ERP export, the Excel workbooks and the UTF-8 CSVs.

This module owns the byte-level form of every demo file. Files are written atomically and are
byte-identical for the same input: CSVs carry no timestamps, and the Excel workbooks get a fixed
creation time (xlsxwriter then also fixes the zip members' times).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workbench.demo.rates import DemoError
from workbench.demo.rows import BAD_BYTES_MARKER, BAD_CELLS_MARKER
from workbench.engine.files import atomic_path, write_bytes_atomic

# bytes that are invalid in GBK and GB18030 (0xFF is never a lead byte)
INVALID_GBK_BYTES = b"\xff\xfe"


def csv_text(columns: dict[str, np.ndarray], *, line_end: str = "\n") -> str:
    """The CSV text of `columns` (header first), quoting only where needed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end)
    writer.writerow(list(columns))
    writer.writerows(zip(*(np.asarray(v, dtype=object) for v in columns.values()), strict=True))
    return buf.getvalue()


def write_csv(path: Path, columns: dict[str, np.ndarray], *, encoding: str = "utf-8") -> None:
    """A plain CSV file (UTF-8 by default, LF line ends)."""
    write_bytes_atomic(path, csv_text(columns).encode(encoding))


def write_legacy_csv(path: Path, columns: dict[str, np.ndarray], *, encoding: str = "gb18030") -> None:
    """The old ERP's export: GBK, CRLF line ends, with the planted file errors made real.

    Encoded as GB18030, which writes every GBK character as GBK does; only mojibake cells (UTF-8
    read as GB18030) use byte pairs outside GBK's mapped area. The bad-bytes marker becomes bytes
    that neither GBK nor GB18030 can decode; the bad-cells marker an unquoted comma (one cell too
    many).
    """
    text = csv_text(columns, line_end="\r\n")
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise DemoError(
            f"{path.name}: line {line} holds {text[exc.start : exc.end]!r}, which {encoding} cannot encode; "
            "the generator must only plant characters the legacy encoding has"
        ) from exc
    marker_bytes = BAD_BYTES_MARKER.encode("ascii")
    comma_marker = BAD_CELLS_MARKER.encode("ascii")
    if data.count(marker_bytes) > 1 or data.count(comma_marker) > 1:  # pragma: no cover - a generator bug
        raise DemoError(f"{path.name}: a file-error marker occurs more than once")
    data = data.replace(marker_bytes, INVALID_GBK_BYTES).replace(comma_marker, b",")
    write_bytes_atomic(path, data)


def write_xlsx(
    path: Path,
    sheet: str,
    columns: dict[str, np.ndarray],
    *,
    created: dt.datetime,
    title_rows: Sequence[str] = (),
    number_columns: Sequence[str] = (),
) -> None:
    """One sheet: optional title rows and a blank row, then the header and the data.

    Text stays text (no conversion of numbers, URLs or formulas); ``datetime`` cells get a date
    format; `number_columns` hold numbers (NaN → empty cell). Written in xlsxwriter's
    constant-memory mode, so a million rows need little memory.
    """
    import xlsxwriter

    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        wb.set_properties({"created": created, "author": "workbench demo"})
        ws = wb.add_worksheet(sheet)
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        bold = wb.add_format({"bold": True})
        r = 0
        for title in title_rows:
            ws.write_string(r, 0, title, bold)
            r += 1
        if title_rows:
            r += 1  # a blank row above the header
        ws.write_row(r, 0, list(columns), bold)
        r += 1
        names = list(columns)
        numeric = [name in number_columns for name in names]
        values = [np.asarray(columns[name], dtype=object) for name in names]
        n = len(values[0]) if values else 0
        for i in range(n):
            for j in range(len(names)):
                v = values[j][i]
                if numeric[j]:
                    if v == v and v is not None and v != "":  # NaN != NaN
                        ws.write_number(r, j, float(v))
                elif isinstance(v, np.datetime64 | dt.datetime):
                    ws.write_datetime(
                        r, j, v.astype(dt.datetime) if isinstance(v, np.datetime64) else v, date_fmt
                    )
                elif v:
                    ws.write_string(r, j, str(v))
            r += 1
        ws.set_column(0, len(names) - 1, 16)
        wb.close()
