"""Stage ``golden``: one golden record per master by survivorship rules, with provenance.

Options: ``explain_master_id`` (default: the merged master with most members), ``sample_size``.
Views: ``metrics``, ``match_types``, ``match_types_chart``, ``deciding_rules_chart``, ``sample``,
``provenance``, ``explanation``.
"""

from __future__ import annotations

from workbench.core.golden.explain import explain_master
from workbench.core.golden.survivorship import (
    build_golden_records,
    count_deciding_rules,
    count_match_types,
    pick_master,
    read_provenance,
    sample_golden,
)
from workbench.presentation.charts.golden import deciding_rule_figure, match_type_figure
from workbench.presentation.reports.master_explanation import explanation_view
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("golden")
def run(ctx: RunContext) -> StageResult:
    result = build_golden_records(ctx)
    metrics = result.as_metrics()
    con = ctx.connect()
    try:
        counts = count_match_types(con)
        rules = count_deciding_rules(con)
        sample = sample_golden(con, int(ctx.option("sample_size", 10)), seed=ctx.config.project.seed)
        master_id = pick_master(con, str(ctx.option("explain_master_id", "")))
        provenance = read_provenance(con, master_id) if master_id else None
        explanation = explain_master(con, master_id, ctx.config) if master_id else None
    finally:
        con.close()
    language = ctx.config.project.language
    return StageResult(
        "golden",
        metrics,
        tables=tables_written_by("golden"),
        views={
            "metrics": lambda: metrics,
            "match_types": lambda: counts,
            "match_types_chart": lambda: match_type_figure(counts, language),
            "deciding_rules_chart": lambda: deciding_rule_figure(rules, language),
            "sample": lambda: sample,
            "provenance": lambda: provenance,
            "explanation": lambda: explanation_view(explanation, language),
        },
    )
