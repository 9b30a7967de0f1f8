"""Whether a run has what a stage needs: its input tables, written by stages that finished.

A stage reads the catalog tables its declaration lists (:mod:`workbench.project.stages`). It can
run on a run folder when every one of those tables exists in the run's database and no stage that
writes them is recorded as failed or unfinished in the stage log. The runner asks before it runs
anything (and to decide whether ``workbench run --stages X`` can continue the latest run); the stage
contract asks again when a stage starts, so a notebook opened by hand refuses too.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.engine import catalog
from workbench.project.config import ProjectConfig
from workbench.project.paths import RunPaths
from workbench.project.stage_log import read_stage_log
from workbench.project.stages import STAGED_TABLES, StageSpec

UNFINISHED = ("failed", "running", "incomplete")


def input_tables(spec: StageSpec, config: ProjectConfig) -> list[str]:
    """The tables `spec` reads, with ``stg_*`` expanded to the config's sources."""
    names: list[str] = []
    for table in spec.reads:
        names += [catalog.staged(s.name) for s in config.sources] if table == STAGED_TABLES else [table]
    return names


def run_tables(paths: RunPaths) -> set[str]:
    """The tables in a run's database (empty when it has none yet)."""
    if not paths.warehouse.exists():
        return set()
    from workbench.engine.connection import connect

    con = connect(paths.warehouse, read_only=True)
    try:
        return {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    finally:
        con.close()


def missing_inputs(
    spec: StageSpec,
    config: ProjectConfig,
    paths: RunPaths,
    *,
    tables: set[str] | None = None,
    provided_by: Iterable[str] = (),
) -> list[str]:
    """What stops `spec` from running on the run at `paths` (empty: it can run).

    Args:
        tables: the run's tables (default: read from its database).
        provided_by: stages that will run before `spec` in the same invocation: their tables count
            as present and their earlier failures do not matter.
    """
    before = set(provided_by)
    tables = run_tables(paths) if tables is None else tables
    log = {r["stage"]: r for r in read_stage_log(paths)}
    problems: list[str] = []
    for need in spec.needs:
        if need in before:
            continue
        status = log.get(need, {}).get("status")
        if status in UNFINISHED:
            problems.append(
                f"stage {need!r} did not finish in run {paths.run_id} (status {status}); "
                f"rerun it first: workbench run --config {config.config_path} --run-id {paths.run_id} "
                f"--stages {need},{spec.id}"
            )
    if "export" in spec.needs and "export" not in before and paths.exports_incomplete.exists():
        problems.append(
            f"the export of run {paths.run_id} did not finish ({paths.exports_incomplete.name}); "
            f"rerun it first: workbench run --config {config.config_path} --run-id {paths.run_id} "
            f"--stages export,{spec.id}"
        )
    for table in input_tables(spec, config):
        writer = catalog.writer_of(table)
        if writer not in before and table not in tables:
            problems.append(f"table {table!r} is missing; it is written by stage {writer!r}")
    return problems
