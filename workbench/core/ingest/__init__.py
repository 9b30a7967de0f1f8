"""Ingest: source files into the run's DuckDB database, with lineage, a quarantine and a summary.

The public API is re-exported here; the code lives in one module per concern:

- :mod:`~workbench.core.ingest.staging`: ``ingest_sources`` / ``ingest_source``, the ingest
  tables (``stg_<source>``, ``stg_columns``, ``quarantine``, ``ingest_summary``) written and read back;
- :mod:`~workbench.core.ingest.headers`: checking the headers of the files without reading their data;
- :mod:`~workbench.core.ingest.columns`: how file columns map to staged columns;
- :mod:`~workbench.core.ingest.csv_reader`, :mod:`~workbench.core.ingest.excel_reader`,
  :mod:`~workbench.core.ingest.parquet_reader`: one reader per file format;
- :mod:`~workbench.core.ingest.reading`: what every reader returns (:class:`SourceRead`);
- :mod:`~workbench.core.ingest.encodings`: text encoding detection and line-aware decoding.
"""

from workbench.core.ingest.columns import StagedColumn, clean_header, plan_columns
from workbench.core.ingest.csv_reader import (
    STRAY_QUOTE,
    read_csv_headers,
    read_csv_source,
    resolve_csv_encoding,
    resolve_delimiter,
)
from workbench.core.ingest.encodings import (
    MAX_BAD_LINE_SHARE,
    EncodingGuess,
    UndecodableLine,
    detect_encoding,
    iter_decoded_lines,
    normalize_encoding,
)
from workbench.core.ingest.excel_reader import read_excel_headers, read_excel_source
from workbench.core.ingest.headers import check_headers, read_source_headers
from workbench.core.ingest.parquet_reader import read_parquet_headers, read_parquet_source
from workbench.core.ingest.reading import BLANK_ROW, SourceRead
from workbench.core.ingest.staging import (
    IngestResult,
    ingest_source,
    ingest_sources,
    quarantine_reasons,
    read_ingest_summary,
    read_quarantine,
    remove_stale_sources,
)

__all__ = [
    "BLANK_ROW",
    "MAX_BAD_LINE_SHARE",
    "STRAY_QUOTE",
    "EncodingGuess",
    "IngestResult",
    "SourceRead",
    "StagedColumn",
    "UndecodableLine",
    "check_headers",
    "clean_header",
    "detect_encoding",
    "ingest_source",
    "ingest_sources",
    "iter_decoded_lines",
    "normalize_encoding",
    "plan_columns",
    "quarantine_reasons",
    "read_csv_headers",
    "read_csv_source",
    "read_excel_headers",
    "read_excel_source",
    "read_ingest_summary",
    "read_parquet_headers",
    "read_parquet_source",
    "read_quarantine",
    "read_source_headers",
    "remove_stale_sources",
    "resolve_csv_encoding",
    "resolve_delimiter",
]
