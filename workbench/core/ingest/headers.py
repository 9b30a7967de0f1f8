"""Checking the headers of source files without reading their data (``workbench check --headers``).

This module owns the quick check that runs before an ingest: every source's file can be opened in
its configured format and its header holds every column mapped under ``columns:``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from workbench.core.ingest.columns import plan_columns
from workbench.core.ingest.csv_reader import read_csv_headers
from workbench.core.ingest.excel_reader import read_excel_headers
from workbench.core.ingest.parquet_reader import read_parquet_headers
from workbench.core.ingest.reading import source_errors
from workbench.core.ingest.staging import select_sources, source_label
from workbench.errors import SourceError

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig, SourceSpec


def read_source_headers(config: ProjectConfig, source: str | SourceSpec) -> list[str]:
    """The cleaned header cells of a source file, without reading its data.

    Args:
        config: the project config (paths are resolved against its folder).
        source: the source's name or spec.

    Raises:
        SourceError: the file is missing or cannot be read up to its header.
    """
    spec = config.source(source) if isinstance(source, str) else source
    if spec.file_format == "postgres":
        from workbench.core.ingest.database_reader import read_database_headers

        label = source_label(spec, spec.origin)
        with source_errors(label):
            return read_database_headers(spec, label)
    path = config.source_path(spec)
    label = source_label(spec, path)
    if not path.is_file():
        raise SourceError(f"{label}: file not found; check `path:` (relative to the config file)")
    with source_errors(label):
        fmt = spec.file_format
        if fmt == "csv":
            return read_csv_headers(spec, path)
        if fmt == "xlsx":
            return read_excel_headers(spec, path)
        if fmt == "parquet":
            return read_parquet_headers(path)
        raise SourceError(f"format {fmt!r} is not supported; set `format:` to csv, xlsx or parquet")


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
    specs = select_sources(config, sources)
    for spec in specs:
        try:
            headers = read_source_headers(config, spec)
            try:
                plan_columns(spec, headers)
            except SourceError as exc:
                raise SourceError(f"{source_label(spec, spec.origin)}: {exc}") from exc
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
