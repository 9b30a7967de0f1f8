"""The run context: what every stage is handed (``run(ctx)``).

A :class:`RunContext` is the validated project config, the paths of the project and of one run
folder, and the options the caller set (a notebook's parameters cell, ``workbench run --param``).
Stages talk to each other only through what is persisted under those paths.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.project.config import ProjectConfig, load_config
from workbench.project.paths import ProjectPaths, RunPaths

if TYPE_CHECKING:
    import duckdb

CONFIG_ENV = "WORKBENCH_CONFIG"


@dataclass
class RunContext:
    """What a stage needs: the validated config, the run folder and the caller's options."""

    config: ProjectConfig
    paths: RunPaths
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def project(self) -> ProjectPaths:
        """The project's paths outside the run folder (mappings, histories, registry …)."""
        return ProjectPaths(self.config)

    def option(self, name: str, default: Any = None) -> Any:
        """An option the caller set, else `default` (empty strings count as unset)."""
        value = self.options.get(name)
        return default if value is None or value == "" else value

    def connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the run's DuckDB database."""
        from workbench.engine.connection import connect

        return connect(self.paths.warehouse, read_only=read_only)

    def read_metrics(self, stage: str) -> dict[str, Any]:
        """The metrics a stage recorded in this run (empty when it has not run)."""
        path = self.paths.metrics_file(stage)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def config_path_from(config_path: str | Path | None) -> Path:
    """The config to open: the given path, else ``$WORKBENCH_CONFIG``."""
    chosen = str(config_path or "") or os.environ.get(CONFIG_ENV, "")
    if not chosen:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(
            f"no project config given: pass config_path, or set {CONFIG_ENV} to your workbench.yaml"
        )
    return Path(chosen)


def open_run(config_path: str | Path | None, run_dir: str | Path | None = None, **options: Any) -> RunContext:
    """Open (and create) a run folder for a project.

    Args:
        config_path: the project's ``workbench.yaml``; empty: ``$WORKBENCH_CONFIG``.
        run_dir: the run folder; empty or ``None`` means the project's latest run.
        **options: stage options (a notebook's parameters), read with :meth:`RunContext.option`.
    """
    config = load_config(config_path_from(config_path))
    paths = RunPaths(Path(run_dir).resolve()) if run_dir else ProjectPaths(config).latest_run()
    return RunContext(config=config, paths=RunPaths(paths.root.resolve()).ensure(), options=options)
