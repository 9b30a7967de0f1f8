"""Stage ``batches``: every golden customer in exactly one load batch or exclusion, with a reason.

Views: ``summary``, ``plan_chart``, ``plan``.
"""

from __future__ import annotations

from workbench.core.batches.plan import build_batch_plan
from workbench.presentation.charts.batches import batch_plan_figure
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("batches")
def run(ctx: RunContext) -> StageResult:
    result = build_batch_plan(ctx)
    language = ctx.config.project.language
    return StageResult(
        "batches",
        result.metrics(),
        tables=tables_written_by("batches"),
        views={
            "summary": lambda: result.summary,
            "plan_chart": lambda: batch_plan_figure(result.plan, language),
            "plan": lambda rows=30: result.plan.head(rows),
        },
    )
