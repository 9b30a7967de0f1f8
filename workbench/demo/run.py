"""`workbench demo`: generate the demo project and run every stage on it, ERP import included.

The demo has no real ERP, so between the ``export`` stage and the ``validate`` stage the demo's
simulated ERP (:mod:`workbench.demo.import_simulation`) "imports" the load files: its logs go
through the real import-error loop (fix worklist, retry files of the failed rows, load history),
for the first load and one retry. Then the remaining stages continue the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from workbench.demo.generator import DemoSummary, generate_demo
from workbench.demo.import_simulation import run_simulated_loop
from workbench.engine.files import write_text_atomic
from workbench.project.context import open_run
from workbench.project.stages import STAGE_IDS
from workbench.runner import RunResult, run_project

IMPORT_AFTER = "export"  # the ERP "imports" the load files once this stage has written them
FAIL_RATE = 0.08  # share of rows the simulated import of round 1 fails
RETRY_FAIL_RATE = 0.02  # share of retried rows that fail again


def run_demo_project(
    config_path: Path, *, run_id: str | None = None, progress: Callable[[str], None] = print
) -> RunResult:
    """Run every stage of the demo project, with the simulated ERP import after ``export``."""
    cut = STAGE_IDS.index(IMPORT_AFTER) + 1
    first = run_project(config_path, run_id=run_id, stages=list(STAGE_IDS[:cut]), progress=progress)
    ctx = open_run(config_path, first.run_dir)
    loop = run_simulated_loop(ctx, fail_rate=FAIL_RATE, retry_fail_rate=RETRY_FAIL_RATE)
    metrics = {**ctx.read_metrics(IMPORT_AFTER), **loop.metrics()}
    write_text_atomic(
        ctx.paths.metrics_file(IMPORT_AFTER),
        json.dumps(metrics, ensure_ascii=False, indent=2, sort_keys=True, default=str),
    )
    progress(
        f"simulated ERP import: {loop.rounds} round(s), {len(loop.failures)} failed log line(s), "
        f"{len(loop.retry_files)} retry file(s)"
    )
    rest = run_project(config_path, run_id=first.run_id, stages=list(STAGE_IDS[cut:]), progress=progress)
    return RunResult(first.run_id, first.run_dir, first.outcomes + rest.outcomes)


def generate_and_run(
    out: Path, *, customers: int, seed: int, run: bool = True, run_id: str | None = None,
    progress: Callable[[str], None] = print, hard: bool = False,
) -> tuple[DemoSummary, RunResult | None]:
    """Generate the demo project into `out` and (unless `run` is false) run it.

    With `hard` the hard variant is generated (look-alike groups and households, hard name forms,
    moved customers, the member system; see ``workbench/demo/README.md``).
    """
    summary = generate_demo(out, customers=customers, seed=seed, hard=hard)
    config_path = Path(out) / "workbench.yaml"
    progress(f"demo project written to {Path(out).resolve()} ({summary})")
    if not run:
        progress(f"run it with: workbench run --config {config_path}")
        return summary, None
    return summary, run_demo_project(config_path, run_id=run_id, progress=progress)
