"""Ingest: read every source file into the run's DuckDB database, with lineage and a quarantine.

This module owns the ingest tables of a run (see docs/architecture.md):

- ``stg_<source>``: one VARCHAR column per file column, the text as read (empty cell → NULL),
  after the lineage columns ``_source, _file, _row_number, _row_hash``;
- ``stg_columns``: the column map as applied;
- ``quarantine``: every row that could not be staged, with the reason and the raw text;
- ``ingest_summary``: per source, ``file_rows = staged_rows + quarantined_rows`` (or the ingest fails).

Reading is format-specific (CSV with line-aware decoding and Python's ``csv`` module, Excel with
python-calamine, Parquet with DuckDB); staging is shared: rows are batched into Arrow tables and one
SQL statement builds the staged table, computing the row hash vectorised in DuckDB. Rerunning a
source replaces its rows, so a rerun on the same files gives identical tables.

Rules worth knowing:

- ``file_rows`` counts every record below the header: for CSV every parsed record plus every line
  that does not decode (blank lines too); for Excel every row up to the last non-blank one (blank
  rows after the data are not rows of the table, and are logged); for Parquet every row.
- ``_row_hash`` is the md5 of the row's cell texts (empty cell = '') joined by U+001F, over every
  file column, mapped or not, except a column without header that is empty in every row (a
  trailing delimiter, a title wider than the table); such a column is not staged either.
- In CSV, a record that spans several lines but does not fit the header is taken for a stray
  quote: its first line is quarantined and the lines after it are parsed again, so one bad quote
  costs one row instead of swallowing the rows after it.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import difflib
import io
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

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
from workbench.engine.connection import table_exists
from workbench.engine.sql import ident, safe_table_name
from workbench.errors import IngestBalanceError, SourceError, WorkbenchError
from workbench.project.config import LINEAGE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from workbench.project.config import ProjectConfig, SourceSpec

log = logging.getLogger(__name__)

BATCH_ROWS = 100_000
"""Rows collected in Python before they are turned into one Arrow batch."""

STG_PREFIX = "stg_"
QUARANTINE_TABLE = "quarantine"
SUMMARY_TABLE = "ingest_summary"
COLUMNS_TABLE = "stg_columns"
HASH_SEPARATOR = "\x1f"  # U+001F, the unit separator: never part of a cell's text in practice
BLANK_ROW = "blank row"
UNNAMED_PREFIX = "unnamed_"

_DDL = {
    QUARANTINE_TABLE: "source VARCHAR, file VARCHAR, row_number BIGINT, reason VARCHAR, raw_text VARCHAR",
    SUMMARY_TABLE: (
        "source VARCHAR, file VARCHAR, format VARCHAR, encoding VARCHAR, file_rows BIGINT, "
        "staged_rows BIGINT, quarantined_rows BIGINT, balanced BOOLEAN"
    ),
    COLUMNS_TABLE: (
        "source VARCHAR, position INTEGER, header VARCHAR, field VARCHAR, kind VARCHAR, mapped BOOLEAN"
    ),
}

# magic numbers of the binary formats, to tell a mislabelled file early and clearly
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class StagedColumn:
    """How one file column was staged (a row of ``stg_columns``)."""

    position: int
    header: str
    field: str | None
    kind: str | None
    mapped: bool

    @property
    def kept(self) -> bool:
        return self.field is not None


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

    @property
    def balanced(self) -> bool:
        return self.file_rows == self.staged_rows + self.quarantined_rows

    @property
    def unmapped(self) -> list[str]:
        """Headers that are not listed in the source's ``columns`` (kept or dropped)."""
        return [c.header for c in self.columns if not c.mapped]

    def summary_row(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "file_rows": self.file_rows,
            "staged_rows": self.staged_rows,
            "quarantined_rows": self.quarantined_rows,
            "balanced": self.balanced,
        }


@dataclass
class _Read:
    """A source file as read: raw cells in Arrow batches plus the quarantined rows.

    Batch columns are ``c1 … cN`` (the file's columns in order, cell text, '' for empty) and
    ``_row_number``. For Parquet the rows stay in DuckDB: ``relation`` is SQL that selects them.
    """

    headers: list[str]
    file_rows: int
    batches: list[pa.Table] = field(default_factory=list)
    quarantine: list[tuple[int, str, str]] = field(default_factory=list)
    encoding: str | None = None
    encoding_reason: str = ""
    relation: str | None = None
    relation_params: list[Any] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# public API


def ingest_sources(
    config: ProjectConfig,
    con,
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

    specs = _select_sources(config, sources)
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
    columns = ["source", "file", "format", "encoding", "file_rows", "staged_rows", "quarantined_rows"]
    frame = pd.DataFrame([r.summary_row() for r in results], columns=[*columns, "balanced"])
    return frame


def ingest_source(config: ProjectConfig, source: str | SourceSpec, con) -> IngestResult:
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
    path = config.source_path(spec)
    label = f"source {spec.name!r} ({path})"
    fmt = spec.file_format
    stg_table_name(spec.name)
    if not path.exists():
        raise SourceError(f"{label}: file not found; check `path:` (relative to the config file)")
    if not path.is_file():
        raise SourceError(f"{label}: not a file (a folder?); point `path:` at the export file")
    try:
        if fmt == "csv":
            read = read_csv_source(spec, path)
        elif fmt == "xlsx":
            read = read_excel_source(spec, path)
        elif fmt == "parquet":
            read = read_parquet_source(spec, path, con)
        else:
            raise SourceError(f"format {fmt!r} is not supported; set `format:` to csv, xlsx or parquet")
        columns = plan_columns(spec, read.headers)
    except SourceError as exc:
        message = str(exc)
        raise SourceError(message if message.startswith("source ") else f"{label}: {message}") from exc
    except OSError as exc:
        raise SourceError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc

    result = _write_source(con, spec, read, columns, fmt)
    result.encoding_reason = read.encoding_reason
    result.seconds = time.perf_counter() - started
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
        fmt,
        f", {read.encoding}" if read.encoding else "",
        result.seconds,
    )
    if not result.balanced:
        raise IngestBalanceError(
            f"{label}: rows do not balance: {result.file_rows} file rows but {result.staged_rows} staged "
            f"+ {result.quarantined_rows} quarantined = {result.staged_rows + result.quarantined_rows}; "
            f"this is a bug in the ingest, please report it with the file"
        )
    return result


def remove_stale_sources(con, keep: Sequence[str]) -> list[str]:
    """Drop the ingest rows and staged tables of sources that are no longer configured.

    Args:
        con: a DuckDB connection.
        keep: the configured source names.

    Returns:
        The names of the sources removed.
    """
    if not table_exists(con, SUMMARY_TABLE):
        return []
    rows = con.execute(f"select distinct source from {SUMMARY_TABLE} order by source").fetchall()
    stale = [r[0] for r in rows if r[0] not in set(keep)]
    for name in stale:
        log.info("ingest: removing rows of source %r, which is no longer in the config", name)
        try:
            table = stg_table_name(name)
        except WorkbenchError:  # a name we never wrote a table for; leave the tables alone
            table = None
        if table:
            con.execute(f"drop table if exists {ident(table)}")
        for t in (QUARANTINE_TABLE, COLUMNS_TABLE, SUMMARY_TABLE):
            if table_exists(con, t):
                con.execute(f"delete from {t} where source = ?", [name])
    return stale


def read_source_headers(config: ProjectConfig, source: str | SourceSpec) -> list[str]:
    """The cleaned header cells of a source file, without reading its data.

    Raises:
        SourceError: the file is missing or cannot be read up to its header.
    """
    spec = config.source(source) if isinstance(source, str) else source
    path = config.source_path(spec)
    label = f"source {spec.name!r} ({path})"
    if not path.is_file():
        raise SourceError(f"{label}: file not found; check `path:` (relative to the config file)")
    try:
        fmt = spec.file_format
        if fmt == "csv":
            return _open_csv(spec, path).headers
        if fmt == "xlsx":
            return read_excel_headers(spec, path)
        if fmt == "parquet":
            from workbench.engine.connection import connect

            con = connect()
            try:
                return [clean_header(n) for n in _parquet_columns(path, con)]
            finally:
                con.close()
        raise SourceError(f"format {fmt!r} is not supported; set `format:` to csv, xlsx or parquet")
    except SourceError as exc:
        message = str(exc)
        raise SourceError(message if message.startswith("source ") else f"{label}: {message}") from exc
    except OSError as exc:
        raise SourceError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc


def check_headers(
    config: ProjectConfig, sources: Iterable[str | SourceSpec] | None = None
) -> dict[str, list[str]]:
    """Check that every source's mapped columns are in its file's header (reads headers only).

    Args:
        config: the project config.
        sources: names or specs to check; default all.

    Returns:
        The header cells of each source, by source name.

    Raises:
        SourceError: listing every source whose file cannot be read or lacks a mapped column.
    """
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    specs = _select_sources(config, sources)
    for spec in specs:
        try:
            headers = read_source_headers(config, spec)
            try:
                plan_columns(spec, headers)
            except SourceError as exc:
                raise SourceError(f"source {spec.name!r} ({config.source_path(spec)}): {exc}") from exc
        except SourceError as exc:
            problems.append(str(exc))
            continue
        found[spec.name] = headers
    if problems:
        if len(problems) == 1:
            raise SourceError(problems[0])
        lines = "\n".join(f"  - {p}" for p in problems)
        raise SourceError(f"{len(problems)} of {len(specs)} sources have header problems:\n{lines}")
    return found


def stg_table_name(source: str) -> str:
    """The staged table of a source: ``stg_<source>``.

    Raises:
        SourceError: the name would be the table of the column map (``stg_columns``).
    """
    table = safe_table_name(STG_PREFIX, source)
    if table == COLUMNS_TABLE:
        raise SourceError(
            f"the source name {source!r} is reserved: its table would be {COLUMNS_TABLE!r}, the column map "
            f"of the ingest; rename the source (e.g. {source + '_src'!r})"
        )
    return table


# --------------------------------------------------------------------------------------------
# column mapping


def clean_header(text: Any) -> str:
    """A header cell as used for mapping: without surrounding spaces and byte-order marks."""
    return str(text if text is not None else "").replace("\ufeff", "").strip()


def plan_columns(spec: SourceSpec, headers: Sequence[str]) -> list[StagedColumn]:
    """Map the file's headers to staged columns (the rows of ``stg_columns``).

    Args:
        spec: the source's config.
        headers: the file's header cells, cleaned, in file order; '' for an empty header cell.

    Returns:
        One entry per file column: mapped columns get their field and kind, unmapped ones their
        header text (or ``unnamed_<position>``) when ``keep_unmapped``, else no field.

    Raises:
        SourceError: duplicate headers, configured headers missing from the file, or two staged
            columns whose names would collide.
    """
    named = [h for h in headers if h]
    dups = sorted({h for h in named if named.count(h) > 1})
    if dups:
        where = "; ".join(
            f"{h!r} at columns {[i + 1 for i, x in enumerate(headers) if x == h]}" for h in dups
        )
        raise SourceError(
            f"the header has duplicate column names: {where}. Rename them in the file so each "
            f"header is unique (the mapping in `columns:` needs one column per header)"
        )
    wanted = {clean_header(k): (k, v) for k, v in spec.columns.items()}
    missing = [k for k in wanted if k not in set(headers)]
    if missing:
        raise SourceError(_missing_columns_message(spec, missing, headers))
    out: list[StagedColumn] = []
    for i, header in enumerate(headers, start=1):
        if header in wanted:
            col = wanted[header][1]
            out.append(StagedColumn(i, header, col.field, col.kind.value, True))
        elif spec.keep_unmapped:
            out.append(StagedColumn(i, header, header or f"{UNNAMED_PREFIX}{i}", None, False))
        else:
            out.append(StagedColumn(i, header, None, None, False))
    # DuckDB column names are case-insensitive: check collisions the same way
    seen: dict[str, StagedColumn] = {}
    for name in LINEAGE_COLUMNS:
        seen[name.lower()] = StagedColumn(0, name, name, None, False)
    for c in out:
        if c.field is None:
            continue
        other = seen.get(c.field.lower())
        if other is not None:
            what = (
                "a lineage column" if other.position == 0 else f"column {other.position} ({other.header!r})"
            )
            raise SourceError(
                f"column {c.position} ({c.header!r}) would be staged as {c.field!r}, which clashes "
                f"with {what}. Map one of them to another field under `columns:`, or set "
                f"`keep_unmapped: false` to drop unmapped columns"
            )
        seen[c.field.lower()] = c
    return out


def _missing_columns_message(spec: SourceSpec, missing: list[str], headers: Sequence[str]) -> str:
    named = [h for h in headers if h]
    hints = []
    for m in missing:
        folded = [h for h in named if h.casefold() == m.casefold()]
        close = folded or difflib.get_close_matches(m, named, n=1, cutoff=0.6)
        hints.append(f"{m!r} (did you mean {close[0]!r}?)" if close else repr(m))
    msg = (
        f"{len(missing)} column(s) listed under `columns:` are not in the file's header: "
        f"{', '.join(hints)}. The file's headers are: {named}. Fix the header names under `columns:`"
    )
    if spec.file_format == "csv":
        msg += f" (or `header_row:`, now {spec.header_row})"
        if len(named) <= 1:
            text = named[0] if named else ""
            for cand, name in ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'"), (",", "','")):
                if cand != spec.delimiter and cand in text:
                    msg += (
                        f". The header is one cell with delimiter {spec.delimiter!r}: try `delimiter: {name}`"
                    )
                    break
    elif spec.file_format == "xlsx":
        msg += f" (or `header_row:`, now {spec.header_row}, or `sheet:`)"
    return msg


# --------------------------------------------------------------------------------------------
# CSV


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
                    if item.__class__ is str:
                        good.append(item)  # type: ignore[arg-type]
                    else:
                        self.bad.append((i, item))  # type: ignore[arg-type]
                        self._bad_after.append(self.good + len(good))
            else:
                good = block  # type: ignore[assignment]
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
    _check_not_binary(head, "csv", spec)
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


def read_csv_source(spec: SourceSpec, path: Path) -> _Read:
    """Read a CSV source: decode line by line, parse with ``csv``, quarantine the bad rows.

    A line with bytes that are invalid in the encoding, a record with a different number of cells
    than the header, a blank record, and a quoted field that is never closed are quarantined; the
    rest is staged. ``_row_number`` is the physical line where a record starts.

    Raises:
        SourceError: see :func:`ingest_source`.
    """
    opened = _open_csv(spec, path)
    guess, lines, reader, headers = opened.guess, opened.lines, opened.reader, opened.headers
    encoding, header_row = guess.encoding, spec.header_row
    plan_columns(spec, headers)  # fail fast, before reading the data
    width = len(headers)
    first_data_line = lines.physical_line(reader.line_num) + 1

    sink = _RowSink(width)
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
    return _Read(
        headers=headers,
        file_rows=file_rows,
        batches=sink.finish(),
        quarantine=sink.quarantine,
        encoding=encoding,
        encoding_reason=guess.reason,
    )


class _RowSink:
    """Collects staged rows into Arrow batches and quarantined rows into a list."""

    def __init__(self, width: int):
        self.width = width
        self.cells: list[str] = []  # flat, row after row
        self.numbers: list[int] = []
        self.batches: list[pa.Table] = []
        self.quarantine: list[tuple[int, str, str]] = []
        self.records = 0

    def add(self, number: int, cells: list[str]) -> None:
        self.cells.extend(cells)
        self.numbers.append(number)
        if len(self.numbers) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.numbers:
            self.batches.append(_flat_to_arrow(self.cells, self.numbers, self.width))
            self.cells, self.numbers = [], []

    def finish(self) -> list[pa.Table]:
        self.flush()
        return self.batches


STRAY_QUOTE = "unbalanced quote: a quoted field opened on this line runs into the next lines"


def _parse_records(
    reader, stream: Iterator[str], lines: _CsvLines, sink: _RowSink, width: int, dialect
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
                text = lines.text_of(first, end)
                if text is None:
                    text = _join_cells(cells, dialect["delimiter"])
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


def _undo_last_record(sink: _RowSink, number: int) -> None:
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


def _flat_to_arrow(cells: list[str], numbers: list[int], width: int) -> pa.Table:
    """An Arrow table ``c1 … cN, _row_number`` from cells listed row after row."""
    import numpy as np

    n = len(numbers)
    names = [*_raw_names(width), "_row_number"]
    flat = pa.array(cells, type=pa.string())
    if n == 0:
        arrays = [flat] * width
    else:
        # one column = every width-th cell: a vectorised take beats transposing in Python
        starts = np.arange(n, dtype=np.int64) * width
        arrays = [flat.take(pa.array(starts + i)) for i in range(width)]
    return pa.Table.from_arrays([*arrays, pa.array(numbers, type=pa.int64())], names=names)


def _raw_names(width: int) -> list[str]:
    return [f"c{i}" for i in range(1, width + 1)]


def _check_not_binary(head: bytes, fmt: str, spec: SourceSpec) -> None:
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
        raise SourceError(
            f"the file is an Excel workbook (or another zip/OLE file), not {fmt.upper()} text; "
            f"set `format: xlsx`"
        )
    if head.startswith(_PARQUET_MAGIC):
        raise SourceError(f"the file is a Parquet file, not {fmt.upper()} text; set `format: parquet`")


# --------------------------------------------------------------------------------------------
# Excel


def read_excel_source(spec: SourceSpec, path: Path) -> _Read:
    """Read a sheet of an Excel workbook with python-calamine.

    Cells become the text a person sees: whole numbers without ``.0``, other numbers with up to 15
    significant digits (as Excel shows them), dates as ``YYYY-MM-DD``, date-times as
    ``YYYY-MM-DD HH:MM:SS``, booleans as ``TRUE``/``FALSE``; text is kept as it is. Rows above the
    header (titles) are skipped; blank rows between data rows are quarantined; blank rows after the
    last data row are not data.

    Raises:
        SourceError: see :func:`ingest_source`.
    """
    import python_calamine as calamine

    workbook = _open_workbook(path)
    try:
        sheet, sheet_name = _open_sheet(workbook, spec.sheet)
        header_row = spec.header_row
        headers: list[str] | None = None
        width = 0
        pending_blank: list[tuple[int, str]] = []
        sink = _RowSink(0)
        last_row = 0
        for number, values in _iter_sheet_rows(sheet):
            last_row = number
            if number < header_row:
                continue
            if headers is None:
                if number > header_row:
                    break  # the header row is empty
                headers = [clean_header(_cell_text(v)) for v in values]
                if any(headers):
                    plan_columns(spec, headers)  # fail fast, before reading the data
                width = sink.width = len(headers)
                continue
            cells = [v if v.__class__ is str else _cell_text(v) for v in values]
            if len(cells) != width:  # calamine gives every row the used range's width
                raise SourceError(
                    f"sheet {sheet_name!r} row {number} has {len(cells)} cells but the header has {width}"
                )
            if not "".join(cells).strip():
                # blank rows count only when a data row follows (trailing blank rows are no data)
                pending_blank.append((number, _join_cells(cells)))
                continue
            for blank_number, raw in pending_blank:
                sink.quarantine.append((blank_number, BLANK_ROW, raw))
                sink.records += 1
            pending_blank.clear()
            sink.records += 1
            sink.add(number, cells)
    except calamine.CalamineError as exc:
        raise SourceError(
            f"cannot read the sheet ({type(exc).__name__}: {exc}); re-save it in Excel"
        ) from exc
    finally:
        workbook.close()
    if headers is None or not any(headers):
        where = f"sheet {sheet_name!r}"
        if last_row < header_row:
            raise SourceError(
                f"header row {header_row} is beyond the data: {where} has {last_row} row(s); "
                f"check `header_row:` and `sheet:`"
            )
        raise SourceError(f"header row {header_row} of {where} is empty; check `header_row:` and `sheet:`")
    if pending_blank:
        log.info(
            "ingest %s: %d blank row(s) after the last data row (rows %d-%d) are not data",
            spec.name,
            len(pending_blank),
            pending_blank[0][0],
            pending_blank[-1][0],
        )
    if sink.records == 0:
        raise SourceError(
            f"no data rows below the header (row {header_row}) in sheet {sheet_name!r}; "
            f"check `header_row:` and `sheet:`"
        )
    return _Read(headers=headers, file_rows=sink.records, batches=sink.finish(), quarantine=sink.quarantine)


def _open_workbook(path: Path):
    """Open an Excel workbook with python-calamine, with a clear error for anything else."""
    import python_calamine as calamine

    with path.open("rb") as fh:
        head = fh.read(8)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC)):
        if head.startswith(_PARQUET_MAGIC):
            kind, fix = "Parquet", "set `format: parquet`"
        else:
            kind = "text (CSV?)" if _looks_like_text(path) else "unknown"
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


def read_excel_headers(spec: SourceSpec, path: Path) -> list[str]:
    """The cleaned header cells of an Excel source (the sheet is read up to the header row)."""
    import python_calamine as calamine

    workbook = _open_workbook(path)
    try:
        sheet, sheet_name = _open_sheet(workbook, spec.sheet)
        last_row = 0
        for number, values in _iter_sheet_rows(sheet):
            last_row = number
            if number == spec.header_row:
                headers = [clean_header(_cell_text(v)) for v in values]
                if any(headers):
                    return headers
                break
            if number > spec.header_row:
                break
    except calamine.CalamineError as exc:
        raise SourceError(
            f"cannot read the sheet ({type(exc).__name__}: {exc}); re-save it in Excel"
        ) from exc
    finally:
        workbook.close()
    if last_row < spec.header_row:
        raise SourceError(
            f"header row {spec.header_row} is beyond the data: sheet {sheet_name!r} has {last_row} row(s); "
            f"check `header_row:` and `sheet:`"
        )
    raise SourceError(
        f"header row {spec.header_row} of sheet {sheet_name!r} is empty; check `header_row:` and `sheet:`"
    )


def _open_sheet(workbook, sheet: str | int | None):
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


def _iter_sheet_rows(sheet) -> Iterator[tuple[int, list[Any]]]:
    """(Excel row number, cell values) of the sheet's used range, columns from its first used one."""
    start = sheet.start
    if start is None:
        return
    first_row = start[0] + 1
    for i, values in enumerate(sheet.iter_rows()):
        yield first_row + i, values


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
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer():
            return str(int(value))
        text = format(value, ".15g")
        if "e" in text:
            text = format(value, ".15f").rstrip("0").rstrip(".")
        return text
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return str(value)


def _join_cells(cells: Sequence[str], delimiter: str = ",") -> str:
    """A row's cells as one CSV line (the raw text of a quarantined row read from Excel)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(cells)
    return out.getvalue()


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return bool(head) and b"\x00" not in head


# --------------------------------------------------------------------------------------------
# Parquet


def read_parquet_source(spec: SourceSpec, path: Path, con) -> _Read:
    """Describe a Parquet source; its rows are read by DuckDB when they are staged.

    Every column is cast to VARCHAR; ``_row_number`` is the 1-based row order in the file.

    Raises:
        SourceError: see :func:`ingest_source`.
    """
    names = _parquet_columns(path, con)
    headers = [clean_header(n) for n in names]
    raw = [f"{ident(n)}::VARCHAR AS c{i}" for i, n in enumerate(names, start=1)]
    relation = (
        f"select {', '.join(raw)}, file_row_number + 1 AS _row_number "
        f"from read_parquet(?, file_row_number = true)"
    )
    total = con.execute(f"select count(*) from ({relation})", [str(path)]).fetchall()[0][0]
    if total == 0:
        raise SourceError("no data rows: the Parquet file holds no rows")
    return _Read(headers=headers, file_rows=int(total), relation=relation, relation_params=[str(path)])


def _parquet_columns(path: Path, con) -> list[str]:
    """The column names of a Parquet file, in order."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != _PARQUET_MAGIC:
        kind = (
            "an Excel workbook"
            if head.startswith(_ZIP_MAGIC)
            else "text (CSV?)"
            if _looks_like_text(path)
            else "an unknown format"
        )
        raise SourceError(f"the file is not a Parquet file; it looks like {kind}; set `format:` to match it")
    try:
        described = con.execute(
            "describe select * from read_parquet(?, file_row_number = true)", [str(path)]
        ).fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"cannot read the Parquet file ({exc}); re-export it") from exc
    names = [r[0] for r in described]
    if names[-1] != "file_row_number" or names.count("file_row_number") > 1:
        raise SourceError("the Parquet file has a column named 'file_row_number', which the ingest needs")
    if len(names) == 1:
        raise SourceError("the Parquet file has no columns")
    return names[:-1]


# --------------------------------------------------------------------------------------------
# staging (shared by every format)


def _write_source(con, spec: SourceSpec, read: _Read, columns: list[StagedColumn], fmt: str) -> IngestResult:
    table = stg_table_name(spec.name)
    file_text = str(spec.path)
    width = len(read.headers)
    raw_name = f"__wb_ingest_raw_{spec.name}"
    quarantine_name = f"__wb_ingest_quarantine_{spec.name}"
    if read.relation is None:
        raw = pa.concat_tables(read.batches) if read.batches else _flat_to_arrow([], [], width)
        con.register(raw_name, raw)
        source_sql, source_params = ident(raw_name), []
    else:
        source_sql, source_params = f"({read.relation})", list(read.relation_params)

    # an unnamed column with no value at all is an artefact (a trailing delimiter, a title row wider
    # than the table): it is not staged and not hashed
    empty_unnamed: set[int] = set()
    unnamed = [c for c in columns if not c.header]
    if unnamed:
        counts = con.execute(
            "select "
            + ", ".join(f"count(nullif(c{c.position}, ''))" for c in unnamed)
            + f" from {source_sql}",
            source_params,
        ).fetchall()[0]
        empty_unnamed = {c.position for c, n in zip(unnamed, counts, strict=True) if n == 0}
        if empty_unnamed:
            log.info(
                "ingest %s: dropped %d empty column(s) without a header at position(s) %s",
                spec.name,
                len(empty_unnamed),
                sorted(empty_unnamed),
            )
    columns = [c for c in columns if c.position not in empty_unnamed]
    hashed = [c.position for c in columns]
    hash_expr = "md5(concat_ws(?, " + ", ".join(f"coalesce(c{p}, '')" for p in hashed) + "))"
    staged = [c for c in columns if c.kept]
    select_cols = ", ".join(f"nullif(c{c.position}, '') AS {ident(c.field)}" for c in staged)  # type: ignore[arg-type]
    blank_test = (
        "regexp_full_match(concat(" + ", ".join(f"coalesce(c{p}, '')" for p in hashed) + r"), '[\s\p{Z}]*')"
    )
    try:
        with _transaction(con):
            for name, ddl in _DDL.items():
                con.execute(f"create table if not exists {name} ({ddl})")
            con.execute(f"drop table if exists {ident(table)}")
            where = ""
            if read.relation is not None:
                # Parquet rows are checked for blank rows here, in SQL
                where = f"where not {blank_test}"
            con.execute(
                f"create table {ident(table)} as select ?::VARCHAR AS _source, ?::VARCHAR AS _file, "
                f"_row_number::BIGINT AS _row_number, {hash_expr} AS _row_hash"
                + (f", {select_cols}" if select_cols else "")
                + f" from {source_sql} {where} order by _row_number",
                [spec.name, file_text, HASH_SEPARATOR, *source_params],
            )
            con.execute(f"delete from {QUARANTINE_TABLE} where source = ?", [spec.name])
            if read.quarantine:
                q = pa.table(
                    {
                        "row_number": pa.array([r[0] for r in read.quarantine], type=pa.int64()),
                        "reason": pa.array([r[1] for r in read.quarantine], type=pa.string()),
                        "raw_text": pa.array([r[2] for r in read.quarantine], type=pa.string()),
                    }
                )
                con.register(quarantine_name, q)
                try:
                    con.execute(
                        f"insert into {QUARANTINE_TABLE} select ?, ?, row_number, reason, raw_text "
                        f"from {ident(quarantine_name)} order by row_number",
                        [spec.name, file_text],
                    )
                finally:
                    con.unregister(quarantine_name)
            if read.relation is not None:
                joined = "concat_ws(',', " + ", ".join(f"coalesce(c{p}, '')" for p in hashed) + ")"
                con.execute(
                    f"insert into {QUARANTINE_TABLE} select ?, ?, _row_number, ?, {joined} "
                    f"from {source_sql} where {blank_test} order by _row_number",
                    [spec.name, file_text, BLANK_ROW, *source_params],
                )
            con.execute(f"delete from {COLUMNS_TABLE} where source = ?", [spec.name])
            con.executemany(
                f"insert into {COLUMNS_TABLE} values (?, ?, ?, ?, ?, ?)",
                [[spec.name, c.position, c.header, c.field, c.kind, c.mapped] for c in columns],
            )
            staged_rows = con.execute(f"select count(*) from {ident(table)}").fetchall()[0][0]
            quarantined_rows = con.execute(
                f"select count(*) from {QUARANTINE_TABLE} where source = ?", [spec.name]
            ).fetchall()[0][0]
            result = IngestResult(
                source=spec.name,
                file=file_text,
                format=fmt,
                encoding=read.encoding,
                file_rows=read.file_rows,
                staged_rows=int(staged_rows),
                quarantined_rows=int(quarantined_rows),
                table=table,
                columns=columns,
            )
            con.execute(f"delete from {SUMMARY_TABLE} where source = ?", [spec.name])
            row = result.summary_row()
            con.execute(f"insert into {SUMMARY_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)", list(row.values()))
    finally:
        if read.relation is None:
            con.unregister(raw_name)
    return result


@contextmanager
def _transaction(con) -> Iterator[None]:
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


def _select_sources(config: ProjectConfig, sources: Iterable[str | SourceSpec] | None) -> list[SourceSpec]:
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
