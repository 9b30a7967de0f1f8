"""Stage ``export``: load-ready files in each target's template, with a manifest; the import loop.

The files are DRAFT (marked in file names and manifest) while the mappings are missing, incomplete,
not covering the data or not signed off; ``draft_reasons`` in the metrics and the manifest say why.
Options: ``draft`` (force DRAFT files), ``import_logs`` (the target ERP's import logs of this run's
files, ``{profile: [paths]}``: they are read back, the fix worklist and the retry files of the
failed rows written).
Views: ``files``, ``draft_reasons``, ``rejects``, ``manifest``, ``import_failures``, ``retry_files``,
``import_rounds_chart``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.export.import_log import LoopResult, process_import_logs
from workbench.core.export.load_files import export_load_files
from workbench.presentation.charts.loads import load_iterations_figure
from workbench.presentation.workbooks.import_worklist import write_fix_worklists
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


def import_logs_option(value: Any, ctx: RunContext) -> dict[str, list[Path]]:
    """``{profile: [paths]}`` from the option (paths relative to the config's folder)."""
    if not value:
        return {}
    return {
        str(k): [ctx.project.resolve(p) for p in (v if isinstance(v, list) else [v])]
        for k, v in value.items()
    }


@stage("export")
def run(ctx: RunContext) -> StageResult:
    result = export_load_files(ctx, draft=bool(ctx.option("draft", False)) or None)
    metrics = result.metrics()
    logs = import_logs_option(ctx.option("import_logs"), ctx)
    loop: LoopResult | None = process_import_logs(ctx, logs) if logs else None
    if loop is not None:
        write_fix_worklists(ctx, loop)
        metrics.update(loop.metrics())
    language = ctx.config.project.language
    return StageResult(
        "export",
        metrics,
        tables=tables_written_by("export"),
        files={"manifest": result.manifest_path},
        views={
            "files": lambda: result.files.drop(columns=["sheet_rows"], errors="ignore"),
            "draft_reasons": lambda: pd.DataFrame(
                [r.as_dict() for r in result.reasons], columns=["code", "en", "zh"]
            ),
            "rejects": lambda: result.rejects,
            "manifest": lambda: result.manifest_path,
            "import_failures": lambda rows=20: loop.failures.head(rows) if loop else None,
            "retry_files": lambda: loop.retry_files if loop else None,
            "import_rounds_chart": lambda: load_iterations_figure(loop.history, language) if loop else None,
        },
    )
