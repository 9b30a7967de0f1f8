"""One run of a project: its folder layout, its database and its recorded metrics.

This module owns every path inside a run folder. A stage notebook opens the run with
:func:`open_run` and talks to other stages only through what is persisted here: tables in the run's
DuckDB database and files in the run folder.

Layout of ``<output dir>/runs/<run id>/``::

    warehouse.duckdb      every table of the run (stg_*, quarantine, std_*, …)
    notebooks/            executed stage notebooks (papermill output)
    html/                 HTML export of each executed notebook
    metrics/<stage>.json  metrics each stage recorded (smoke tests assert these)
    reports/              self-contained HTML reports meant for business
    tables/               CSV / Parquet / Excel outputs (crosswalk, change log, …)
    splink/               trained model JSON and Splink chart HTML
    review/               clerical review worklists
    exports/              load-ready files and their manifest
    datadocs/             Great Expectations Data Docs
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.project.config import ProjectConfig, load_config

LATEST_FILE = "LATEST"


@dataclass(frozen=True)
class RunPaths:
    """Every path of one run folder."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def html(self) -> Path:
        return self.root / "html"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def splink(self) -> Path:
        return self.root / "splink"

    @property
    def review(self) -> Path:
        return self.root / "review"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def datadocs(self) -> Path:
        return self.root / "datadocs"

    def metrics_file(self, stage: str) -> Path:
        return self.metrics / f"{stage}.json"

    def ensure(self) -> RunPaths:
        for p in (self.notebooks, self.html, self.metrics, self.reports, self.tables):
            p.mkdir(parents=True, exist_ok=True)
        return self


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable run id from the clock, e.g. ``20261129-061502``."""
    return (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def run_dir_for(config: ProjectConfig, run_id: str) -> Path:
    return config.output_dir / "runs" / run_id


def latest_run_dir(config: ProjectConfig) -> Path:
    """The run folder of the newest run of this project."""
    marker = config.output_dir / LATEST_FILE
    if not marker.exists():
        raise WorkbenchError(
            f"no run yet under {config.output_dir}; run `workbench run --config {config.config_path}` first"
        )
    return config.output_dir / "runs" / marker.read_text(encoding="utf-8").strip()


@dataclass
class RunContext:
    """What a stage needs: the validated config and the run folder."""

    config: ProjectConfig
    paths: RunPaths

    @property
    def run_id(self) -> str:
        return self.paths.root.name

    def connect(self, *, read_only: bool = False):
        """Open the run's DuckDB database."""
        from workbench.engine.database import connect

        return connect(self.paths.warehouse, read_only=read_only)

    def record_metrics(self, stage: str, metrics: dict[str, Any]) -> Path:
        """Merge `metrics` into ``metrics/<stage>.json`` (written atomically)."""
        path = self.paths.metrics_file(stage)
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        current.update(metrics)
        write_text_atomic(
            path, json.dumps(current, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        )
        return path

    def read_metrics(self, stage: str) -> dict[str, Any]:
        path = self.paths.metrics_file(stage)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def open_run(config_path: str | Path, run_dir: str | Path | None = None) -> RunContext:
    """Open (and create) a run folder for a project.

    Args:
        config_path: the project's ``workbench.yaml``.
        run_dir: the run folder; empty or ``None`` means the project's latest run.
    """
    config = load_config(config_path)
    root = Path(run_dir) if run_dir else latest_run_dir(config)
    return RunContext(config=config, paths=RunPaths(root.resolve()).ensure())


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write a text file so that readers never see it half-written."""
    write_bytes_atomic(path, text.encode(encoding))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class atomic_path:
    """Context manager yielding a temporary path that replaces `path` only on success.

    For libraries that write a file themselves (Excel writers, ``COPY … TO``)::

        with atomic_path(out) as tmp:
            df.to_excel(tmp)
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.unlink(missing_ok=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
