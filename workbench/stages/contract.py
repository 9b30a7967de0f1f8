"""The stage contract: ``run(ctx) -> StageResult``, the same for every stage.

A stage module (``workbench/stages/<id>.py``) is thin: it calls the headless phase logic in
``workbench.core``, persists nothing itself beyond what that logic writes, and returns a
:class:`StageResult`: the metrics, the tables and files it wrote, and named *views* — the tables
and figures its notebook shows (built only when asked for, so a headless run pays nothing for
charts). The :func:`stage` decorator records the result in the run folder: the metrics in
``metrics/<id>.json`` and the stage's record (time, peak memory, tables, files) in the stage log.
Notebooks never record anything themselves.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.engine import catalog
from workbench.engine.files import write_text_atomic
from workbench.errors import StageError
from workbench.project.context import RunContext
from workbench.project.readiness import missing_inputs
from workbench.project.stage_log import update_stage_record
from workbench.project.stages import stage_spec

View = Callable[..., Any]


@dataclass
class StageResult:
    """What one stage did.

    Attributes:
        stage: the stage id.
        metrics: the figures the stage recorded (``metrics/<stage>.json``).
        tables: the catalog tables the stage wrote.
        files: files the stage wrote, by name.
        views: what the notebook shows, by name: callables returning a table or a figure.
        seconds: wall time of ``run``.
        peak_rss_mb: peak resident memory of the process when ``run`` returned.
    """

    stage: str
    metrics: dict[str, Any]
    tables: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def show(self, name: str, **options: Any) -> Any:
        """Build the view `name` (a table or a figure); `options` go to its builder."""
        try:
            view = self.views[name]
        except KeyError:
            raise StageError(
                f"stage {self.stage!r} has no view {name!r}; it has: {', '.join(self.views)}"
            ) from None
        return view(**options)

    def metrics_table(self) -> Any:
        """The metrics as a two-column table (name, value), for display."""
        import pandas as pd

        flat = {k: (json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else v)
                for k, v in sorted(self.metrics.items())}
        return pd.DataFrame({"metric": list(flat), "value": [str(v) for v in flat.values()]})


def tables_written_by(stage_id: str, extra: list[str] | None = None) -> list[str]:
    """The run tables the catalog says `stage_id` writes, plus `extra` (e.g. staging tables)."""
    names = [t.name for t in catalog.TABLES if t.written_by == stage_id and t.database == "run"]
    return [*(extra or []), *names]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def stage(stage_id: str) -> Callable[[Callable[[RunContext], StageResult]], Callable[[RunContext], StageResult]]:
    """Mark a function as the ``run`` of stage `stage_id` and record its result when it returns."""
    stage_spec(stage_id)  # an undeclared id is a programming error, caught at import

    def wrap(fn: Callable[[RunContext], StageResult]) -> Callable[[RunContext], StageResult]:
        @functools.wraps(fn)
        def run(ctx: RunContext) -> StageResult:
            require_inputs(ctx, stage_id)
            start = time.perf_counter()
            result = fn(ctx)
            result.seconds = round(time.perf_counter() - start, 2)
            result.peak_rss_mb = peak_rss_mb()
            record_result(ctx, result)
            return result

        return run

    return wrap


def require_inputs(ctx: RunContext, stage_id: str) -> None:
    """Refuse to run a stage on a run that lacks its inputs (names what is missing and the fix)."""
    problems = missing_inputs(stage_spec(stage_id), ctx.config, ctx.paths)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise StageError(f"stage {stage_id!r} cannot run on run {ctx.run_id}:\n{lines}")


def record_result(ctx: RunContext, result: StageResult) -> Path:
    """Write the stage's metrics file and its record in the stage log."""
    path = ctx.paths.metrics_file(result.stage)
    write_text_atomic(
        path, json.dumps(result.metrics, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    )
    update_stage_record(
        ctx.paths,
        result.stage,
        run_seconds=result.seconds,
        peak_rss_mb=result.peak_rss_mb,
        tables=result.tables,
        files={k: str(v) for k, v in result.files.items()},
        finished_at=dt.datetime.now().isoformat(timespec="seconds"),
    )
    return path
