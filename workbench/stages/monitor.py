"""Stage ``monitor``: this run's quality metrics into the project's history, trends across runs,
and the duplicate check of new customers against the golden master.

Options: ``new_customers_path`` (new records to check, relative to the config; empty: skip).
Views: ``recorded``, ``comparison``, ``quality_chart``, ``completeness_chart``, ``validity_chart``,
``dispositions_chart``, ``pages``, ``duplicates``.
"""

from __future__ import annotations

from workbench.core.monitoring.history import (
    compare_runs,
    duplicate_check_for_run,
    monitor_metrics,
    read_history,
    record_run_metrics,
)
from workbench.presentation.browser import check_run_pages, page_table
from workbench.presentation.charts.monitoring import (
    disposition_trend_figure,
    field_trend_figure,
    quality_trend_figure,
)
from workbench.presentation.reports.summary import summary_language, write_summary_report
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage


@stage("monitor")
def run(ctx: RunContext) -> StageResult:
    language = summary_language(ctx.config)
    recorded = record_run_metrics(ctx)
    history = read_history(ctx.project.run_history)
    summary = write_summary_report(ctx, history=history)
    pages = check_run_pages(ctx, [summary])
    configured = ctx.config.report.duplicate_check.new_customers_path
    duplicates = duplicate_check_for_run(ctx, ctx.option("new_customers_path", configured))
    return StageResult(
        "monitor",
        monitor_metrics(history, ctx.run_id, duplicates),
        tables=[],
        files={"summary": summary, "run_history": ctx.project.run_history},
        views={
            "recorded": lambda: recorded,
            "comparison": lambda: compare_runs(history),
            "quality_chart": lambda: quality_trend_figure(history, language),
            "completeness_chart": lambda: field_trend_figure(history, "completeness", language),
            "validity_chart": lambda: field_trend_figure(history, "validity", language),
            "dispositions_chart": lambda: disposition_trend_figure(history, language),
            "pages": lambda: page_table(pages),
            "duplicates": lambda: duplicates,
        },
    )
