"""Reading Parquet sources: DuckDB reads the file, every column as text.

This module owns how a Parquet file becomes a :class:`~workbench.core.ingest.reading.SourceRead`.
The rows never pass through Python: the read is a SQL relation over ``read_parquet`` that casts
every column to VARCHAR, and staging selects from it (blank rows are quarantined there, in SQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from workbench.core.ingest.columns import clean_header
from workbench.core.ingest.reading import PARQUET_MAGIC, ZIP_MAGIC, SourceRead, looks_like_text
from workbench.engine.sql import ident
from workbench.errors import SourceError

if TYPE_CHECKING:
    from workbench.project.config import SourceSpec


def read_parquet_source(spec: SourceSpec, path: Path, con: duckdb.DuckDBPyConnection) -> SourceRead:
    """Describe a Parquet source; its rows are read by DuckDB when they are staged.

    Every column is cast to VARCHAR; ``_row_number`` is the 1-based row order in the file.

    Raises:
        SourceError: see :func:`workbench.core.ingest.staging.ingest_source`.
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
    return SourceRead(headers=headers, file_rows=int(total), relation=relation, relation_params=[str(path)])


def read_parquet_headers(path: Path) -> list[str]:
    """The cleaned column names of a Parquet file (read from its metadata, in a scratch database).

    Raises:
        SourceError: the file is not Parquet or cannot be read.
    """
    from workbench.engine.connection import connect

    con = connect()
    try:
        return [clean_header(n) for n in _parquet_columns(path, con)]
    finally:
        con.close()


def _parquet_columns(path: Path, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The column names of a Parquet file, in order."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != PARQUET_MAGIC:
        kind = (
            "an Excel workbook"
            if head.startswith(ZIP_MAGIC)
            else "text (CSV?)"
            if looks_like_text(path)
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
