"""Stage ``standardize``: staged rows → standardized, validated customer records and a change log.

Options: ``top_rules`` (rules in the chart), ``sample_per_rule`` (change-log rows shown per rule),
``flagged_rows`` (flagged records listed).
Views: ``summary``, ``validity``, ``validity_chart``, ``rules_chart``, ``change_log_sample``,
``flags_chart``, ``flagged_records``.
"""

from __future__ import annotations

from workbench.core.standardize import standardize_customers
from workbench.core.standardize.summary import (
    count_flags,
    count_rules,
    flagged_records,
    read_validity,
    sample_change_log,
)
from workbench.presentation.charts import standardize as charts
from workbench.presentation.reports.profile_report import report_language
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("standardize")
def run(ctx: RunContext) -> StageResult:
    con = ctx.connect()
    try:
        result = standardize_customers(ctx.config, con)
        validity = read_validity(con)
        rules = count_rules(con)
        sample = sample_change_log(
            con, per_rule=int(ctx.option("sample_per_rule", 3)), seed=ctx.config.project.seed
        )
        flags = count_flags(con)
        flagged = flagged_records(con, limit=int(ctx.option("flagged_rows", 50)))
    finally:
        con.close()
    language = report_language(ctx)
    top = int(ctx.option("top_rules", 15))
    return StageResult(
        "standardize",
        result.metrics(),
        tables=tables_written_by("standardize"),
        views={
            "summary": result.summary,
            "validity": lambda: validity,
            "validity_chart": lambda: charts.figure_validity(validity, language),
            "rules_chart": lambda: charts.figure_top_rules(rules, language, top=top),
            "change_log_sample": lambda: sample,
            "flags_chart": lambda: charts.figure_flags(flags, language),
            "flagged_records": lambda: flagged,
        },
    )
