"""Reading CSV sources: line-aware decoding, parsing with Python's ``csv`` and the CSV quarantine.

This module owns how a CSV file becomes a :class:`~workbench.core.ingest.reading.SourceRead`: the
delimiter and encoding of the source (detected for ``encoding: auto``, see
:mod:`workbench.core.ingest.encodings`), the header at ``header_row``, and the records below it.
A line with bytes that are invalid in the encoding, a record with a different number of cells than
the header, a blank record and a quoted field that is never closed are quarantined; a record that
spans several lines but does not fit the header is taken for a stray quote: its first line is
quarantined and the lines after it are parsed again, so one bad quote costs one row instead of
swallowing the rows after it.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from workbench.core.ingest.columns import clean_header, plan_columns
from workbench.core.ingest.encodings import (
    MAX_BAD_LINE_SHARE,
    EncodingGuess,
    UndecodableLine,
    detect_encoding,
    detect_line_end,
    is_line_safe,
    iter_decoded_blocks,
    normalize_encoding,
    scan_decoding,
)
from workbench.core.ingest.reading import (
    BLANK_ROW,
    OLE_MAGIC,
    PARQUET_MAGIC,
    ZIP_MAGIC,
    RowSink,
    SourceRead,
    join_cells,
)
from workbench.errors import SourceError

if TYPE_CHECKING:
    from workbench.project.config import SourceSpec

log = logging.getLogger(__name__)

STRAY_QUOTE = "unbalanced quote: a quoted field opened on this line runs into the next lines"
"""The quarantine reason of the first line of a multi-line record that does not fit the header."""


def resolve_delimiter(value: str) -> str:
    """The one-character delimiter of a config value (``\\t``, ``tab`` and friends allowed)."""
    named = {"\\t": "\t", "tab": "\t", "TAB": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delim = named.get(value, value)
    if len(delim) != 1:
        raise SourceError(
            f"delimiter {value!r} must be a single character (e.g. ',', ';', '|' or '\\t' for tab)"
        )
    return delim


def resolve_csv_encoding(spec: SourceSpec, path: Path) -> EncodingGuess:
    """The encoding to read a CSV source with: detected for ``auto``, else the configured one.

    GBK and GB2312 are read as GB18030, their superset, so rare characters in GBK exports decode.
    """
    if spec.encoding.strip().lower() == "auto":
        guess = detect_encoding(path)
        log.info(
            "ingest %s: encoding %s (confidence %.2f): %s",
            spec.name,
            guess.encoding,
            guess.confidence,
            guess.reason,
        )
        return guess
    codec = normalize_encoding(spec.encoding)
    if codec not in ("utf-8", "utf-8-sig", "ascii") and is_line_safe(codec):
        # valid multi-byte UTF-8 does not happen by chance: reading it as a legacy code page garbles it
        utf8 = scan_decoding(path, "utf-8")
        if utf8.bad_lines == 0 and utf8.nonascii_lines:
            raise SourceError(
                f"`encoding: {spec.encoding}` is configured, but the file is valid UTF-8 with "
                f"{utf8.nonascii_lines} non-ASCII line(s); reading it as {spec.encoding} would garble "
                f"the text. Set `encoding: auto` (or utf-8)"
            )
    if codec in ("gbk", "gb2312"):
        log.info("ingest %s: reading %s as gb18030 (a superset of it)", spec.name, spec.encoding)
        return EncodingGuess("gb18030", 1.0, f"configured {spec.encoding!r}, read as its superset gb18030")
    return EncodingGuess(codec, 1.0, f"configured encoding: {spec.encoding!r}")


class _CsvLines:
    """The decoded good lines of a CSV file from one physical line on, with line bookkeeping.

    Lines are handed to ``csv.reader`` block by block (C speed); ``csv.reader.line_num`` then counts
    the good lines consumed, and :meth:`physical_line` turns that count back into the line number a
    person sees, accounting for skipped lines above and undecodable lines in between.
    """

    def __init__(self, path: Path, encoding: str, line_end: bytes, first_line: int):
        self.path = path
        self.encoding = encoding
        self.line_end = line_end
        self.first_line = first_line  # physical line of the first good line yielded
        self.lines_read = 0  # physical lines read so far (including skipped ones)
        self.good = 0  # good lines yielded
        self.bad: list[tuple[int, UndecodableLine]] = []  # (physical line, item), after first_line
        self._bad_after: list[int] = []  # good lines yielded before each bad line (sorted)
        # blocks that hold the current record's lines, for its raw text: (first good index, lines)
        self._recent: deque[tuple[int, list[str]]] = deque()
        self.keep_from = 1  # first good line of the current record (set by the parser)

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[list[str]]:
        for block in iter_decoded_blocks(self.path, self.encoding, line_end=self.line_end):
            before = self.lines_read
            self.lines_read += len(block)
            if self.lines_read < self.first_line:
                continue
            if before < self.first_line - 1:
                block = block[self.first_line - 1 - before :]
                before = self.first_line - 1
            if UndecodableLine in set(map(type, block)):
                good: list[str] = []
                for i, item in enumerate(block, start=before + 1):
                    if isinstance(item, str):
                        good.append(item)
                    else:
                        self.bad.append((i, item))
                        self._bad_after.append(self.good + len(good))
            else:
                good = cast("list[str]", block)  # no UndecodableLine in it
            recent = self._recent
            while recent and recent[0][0] + len(recent[0][1]) <= self.keep_from:
                recent.popleft()
            recent.append((self.good + 1, good))
            self.good += len(good)
            yield good

    def physical_line(self, good_index: int) -> int:
        """The physical line of the `good_index`-th (1-based) good line yielded."""
        skipped_bad = bisect.bisect_left(self._bad_after, good_index) if self._bad_after else 0
        return self.first_line - 1 + good_index + skipped_bad

    def lines_of(self, first: int, last: int) -> list[str] | None:
        """Good lines `first`..`last` (1-based); None if they are no longer kept (lines before
        :attr:`keep_from` are let go when a new block is read)."""
        parts: list[str] = []
        for start, lines in self._recent:
            lo, hi = max(first, start), min(last, start + len(lines) - 1)
            if lo <= hi:
                parts.extend(lines[lo - start : hi - start + 1])
        return parts if len(parts) == last - first + 1 else None

    def text_of(self, first: int, last: int) -> str | None:
        """The raw text of good lines `first`..`last` (1-based), without the final line end."""
        parts = self.lines_of(first, last)
        return None if parts is None else "".join(parts).rstrip("\r\n")


@dataclass
class _OpenedCsv:
    """A CSV source opened up to its header: the encoding, the line stream and the parser."""

    guess: EncodingGuess
    lines: _CsvLines
    stream: Iterator[str]
    reader: Any
    headers: list[str]
    dialect: dict[str, Any]


def _open_csv(spec: SourceSpec, path: Path) -> _OpenedCsv:
    """Decide the encoding, open the line stream and parse the header of a CSV source."""
    delimiter = resolve_delimiter(spec.delimiter)
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    _check_not_binary(head)
    guess = resolve_csv_encoding(spec, path)
    encoding = guess.encoding
    line_end = detect_line_end(head)
    header_row = spec.header_row
    dialect: dict[str, Any] = {"delimiter": delimiter, "quotechar": '"', "doublequote": True, "strict": False}
    lines = _CsvLines(path, encoding, line_end, header_row)
    stream = iter(lines)
    reader = csv.reader(stream, **dialect)
    try:
        header_cells = next(reader)
    except StopIteration:
        header_cells = None
    except csv.Error as exc:
        raise SourceError(
            f"the header (line {header_row}) cannot be parsed as CSV: {exc}; check `delimiter:` "
            f"and the quotes in the header"
        ) from exc
    if lines.bad and lines.bad[0][0] == header_row:
        item = lines.bad[0][1]
        raise SourceError(
            f"the header (line {header_row}) has bytes that are not valid {encoding} at byte "
            f"{item.offset}: '{item.text[:120]}'. {_encoding_advice(spec, guess)}"
        )
    if header_cells is None:
        raise SourceError(
            f"header row {header_row} is beyond the data: the file has {lines.lines_read} line(s); "
            f"check `header_row:`" + (" (the file is empty)" if lines.lines_read == 0 else "")
        )
    headers = [clean_header(h) for h in header_cells]
    if not any(headers):
        raise SourceError(f"the header (line {header_row}) is empty; check `header_row:`")
    return _OpenedCsv(guess, lines, stream, reader, headers, dialect)


def read_csv_headers(spec: SourceSpec, path: Path) -> list[str]:
    """The cleaned header cells of a CSV source (the file is read up to its header).

    Raises:
        SourceError: see :func:`read_csv_source`.
    """
    return _open_csv(spec, path).headers


def read_csv_source(spec: SourceSpec, path: Path) -> SourceRead:
    """Read a CSV source: decode line by line, parse with ``csv``, quarantine the bad rows.

    A line with bytes that are invalid in the encoding, a record with a different number of cells
    than the header, a blank record, and a quoted field that is never closed are quarantined; the
    rest is staged. ``_row_number`` is the physical line where a record starts.

    Raises:
        SourceError: see :func:`workbench.core.ingest.staging.ingest_source`.
    """
    opened = _open_csv(spec, path)
    guess, lines, reader, headers = opened.guess, opened.lines, opened.reader, opened.headers
    encoding, header_row = guess.encoding, spec.header_row
    plan_columns(spec, headers)  # fail fast, before reading the data
    width = len(headers)
    first_data_line = lines.physical_line(reader.line_num) + 1

    sink = RowSink(width)
    _parse_records(reader, opened.stream, lines, sink, width, opened.dialect)
    for number, item in lines.bad:
        if number >= first_data_line:
            sink.quarantine.append(
                (number, f"undecodable bytes for {encoding} at byte {item.offset}", item.text)
            )
    n_bad = sum(1 for number, _ in lines.bad if number >= first_data_line)
    data_lines = lines.lines_read - header_row
    _check_decoding(spec, guess, [b for b in lines.bad if b[0] >= first_data_line], data_lines)
    file_rows = sink.records + n_bad
    if file_rows == 0:
        raise SourceError(
            f"no data rows below the header (line {header_row}); the file holds only the header. "
            f"Export the data again or check `header_row:`"
        )
    sink.quarantine.sort(key=lambda q: q[0])
    return SourceRead(
        headers=headers,
        file_rows=file_rows,
        batches=sink.finish(),
        quarantine=sink.quarantine,
        encoding=encoding,
        encoding_reason=guess.reason,
    )


def _parse_records(
    reader, stream: Iterator[str], lines: _CsvLines, sink: RowSink, width: int, dialect
) -> None:
    """Parse the records after the header into `sink`.

    A record that spans several lines but does not fit the header (wrong cell count, a CSV error,
    or a quote still open at the end of the file) is taken for a stray quote: its first line is
    quarantined and the lines after it are parsed again, so one bad quote costs one row, not the
    rest of the file.
    """
    offset = 0  # good-line index = offset + reader.line_num (a new reader starts after a stray quote)
    prev = reader.line_num  # good-line index of the last line consumed
    last: tuple[int, int] | None = None  # (first, last) good line of the last record
    quarantine = sink.quarantine
    physical_line = lines.physical_line
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            if last is None or last[0] == last[1] or not _ends_inside_quotes(lines, *last, dialect):
                break
            first, end = last
            _undo_last_record(sink, physical_line(first))
            reason = STRAY_QUOTE
        except csv.Error as exc:
            first, end = prev + 1, offset + reader.line_num
            if end == first:
                prev = end
                lines.keep_from = end + 1
                sink.records += 1
                text = lines.text_of(first, end) or ""
                quarantine.append((physical_line(first), f"unparseable CSV: {exc}", text))
                last = None
                continue
            reason = f"{STRAY_QUOTE} ({exc})"
        else:
            first, end = prev + 1, offset + reader.line_num
            prev = end
            lines.keep_from = end + 1
            last = (first, end)
            sink.records += 1
            if len(cells) == width and "".join(cells).strip():
                sink.add(physical_line(first), cells)
                continue
            if end == first or not "".join(cells).strip():
                kept = lines.text_of(first, end)
                text = join_cells(cells, dialect["delimiter"]) if kept is None else kept
                if not "".join(cells).strip():
                    quarantine.append((physical_line(first), BLANK_ROW, text))
                else:
                    quarantine.append(
                        (physical_line(first), f"expected {width} cells, found {len(cells)}", text)
                    )
                continue
            sink.records -= 1
            reason = STRAY_QUOTE
        # a multi-line record that does not fit: quarantine its first line, parse the rest again
        sink.records += 1
        quarantine.append((physical_line(first), reason, lines.text_of(first, first) or ""))
        again = lines.lines_of(first + 1, end) or []
        stream = itertools.chain(again, stream)
        reader = csv.reader(stream, **dialect)
        offset = prev = first
        lines.keep_from = first + 1
        last = None


def _ends_inside_quotes(lines: _CsvLines, first: int, last: int, dialect: dict) -> bool:
    """Whether good lines `first`..`last` end inside a quoted field (a quote that is never closed)."""
    text = lines.text_of(first, last)
    if text is None:
        return False
    try:
        for _ in csv.reader(io.StringIO(text + "\n", newline=""), **{**dialect, "strict": True}):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _undo_last_record(sink: RowSink, number: int) -> None:
    """Take back the last record (staged or quarantined), which starts at physical line `number`."""
    sink.records -= 1
    if sink.quarantine and sink.quarantine[-1][0] == number:
        sink.quarantine.pop()
    elif sink.numbers:
        sink.numbers.pop()
        del sink.cells[-sink.width :]
    else:  # already flushed into a batch
        table = sink.batches.pop()
        sink.batches.append(table.slice(0, table.num_rows - 1))


def _check_decoding(
    spec: SourceSpec, guess: EncodingGuess, bad_lines: list[tuple[int, UndecodableLine]], lines: int
) -> None:
    """Fail when the encoding is clearly wrong instead of quarantining most of the file."""
    n_bad = len(bad_lines)
    if n_bad and n_bad > max(1, int(lines * MAX_BAD_LINE_SHARE)):
        first_line, first = bad_lines[0]
        raise SourceError(
            f"{n_bad} of {lines} lines are not valid {guess.encoding}; the first is line {first_line} "
            f"(byte {first.offset}): '{first.text[:120]}'. {_encoding_advice(spec, guess)}"
        )


def _encoding_advice(spec: SourceSpec, guess: EncodingGuess) -> str:
    if spec.encoding.strip().lower() == "auto":
        return (
            f"The encoding was detected as {guess.encoding} ({guess.reason}); set `encoding:` to the "
            f"file's real encoding (e.g. gb18030, utf-8), or re-save the file as UTF-8"
        )
    return f"`encoding: {spec.encoding}` seems wrong for this file; set `encoding: auto` to detect it"


def _check_not_binary(head: bytes) -> None:
    """Refuse an Excel workbook or a Parquet file configured as CSV (by its first bytes)."""
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
        raise SourceError(
            "the file is an Excel workbook (or another zip/OLE file), not CSV text; set `format: xlsx`"
        )
    if head.startswith(PARQUET_MAGIC):
        raise SourceError("the file is a Parquet file, not CSV text; set `format: parquet`")
