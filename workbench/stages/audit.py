"""Stage ``audit``: ingest every source into DuckDB with lineage and quarantine, then profile it.

Options: ``top_k`` (top values and patterns kept per column).
Views: ``ingest_summary``, ``row_counts``, ``quarantine``, ``columns``, ``missing_heatmap``,
``completeness``, ``patterns`` and ``top_values`` (``source=``, ``field=``; default the first phone
field), ``duplicate_summary``, ``duplicates_chart``, ``duplicates``, ``overlaps``, ``overlaps_chart``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.core.ingest import ingest_sources, read_quarantine
from workbench.core.profiling import TOP_K, build_audit_metrics, choose_field, profile_sources
from workbench.engine.catalog import staged
from workbench.presentation.charts import profile as charts
from workbench.presentation.reports.profile_report import report_language, write_profile_report
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("audit")
def run(ctx: RunContext) -> StageResult:
    con = ctx.connect()
    try:
        summary = ingest_sources(ctx.config, con)
        quarantine = read_quarantine(con)
        profile = profile_sources(ctx, con, top_k=int(ctx.option("top_k", TOP_K)))
        report_path = write_profile_report(ctx, con)
    finally:
        con.close()
    language = report_language(ctx)

    def field_chart(figure: Callable[..., Any], frame: Any) -> Callable[..., Any]:
        def view(source: str = "", field: str = "") -> Any:
            chosen_source, chosen_field = choose_field(profile.columns, source, field)
            return figure(frame, chosen_source, chosen_field, language)

        return view

    return StageResult(
        "audit",
        build_audit_metrics(summary, profile, report_path),
        tables=tables_written_by("audit", [staged(s.name) for s in ctx.config.sources]),
        files={"profile_report": report_path},
        views={
            "ingest_summary": lambda: summary,
            "row_counts": lambda: charts.figure_row_counts(summary, language),
            "quarantine": lambda: quarantine,
            "columns": lambda: profile.columns,
            "missing_heatmap": lambda: charts.figure_missing_heatmap(profile.columns, language),
            "completeness": lambda: charts.figure_completeness(profile.columns, language),
            "patterns": field_chart(charts.figure_patterns, profile.patterns),
            "top_values": field_chart(charts.figure_top_values, profile.top_values),
            "duplicate_summary": lambda: profile.duplicate_summary,
            "duplicates_chart": lambda: charts.figure_duplicates(profile.duplicate_summary, language),
            "duplicates": lambda: profile.duplicates,
            "overlaps": lambda: profile.overlaps,
            "overlaps_chart": lambda: charts.figure_key_overlap(profile.overlaps, language),
            "report": lambda: report_path,
        },
    )
