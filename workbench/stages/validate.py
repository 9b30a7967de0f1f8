"""Stage ``validate``: prove the migration three ways and write the business summary.

Technical (Great Expectations suites and Data Docs), logical (every source row reconciled exactly
once, key-field checksums) and business (acceptance sample with a confidence interval); then the
run summary, checked in headless Chromium when ``check_in_browser`` is set.
Views: ``validation``, ``failures``, ``totals``, ``checksums``, ``sample_plan``, ``sample``,
``sample_result``, ``summary``, ``pages``.
"""

from __future__ import annotations

from workbench.core.validation import business_sample, reconcile_run, validate_run
from workbench.presentation.browser import browser_metrics, check_run_pages, page_table
from workbench.presentation.reports.datadocs import publish_data_docs
from workbench.presentation.reports.summary import write_summary_report
from workbench.presentation.workbooks.business_sample import write_business_sample_workbook
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("validate")
def run(ctx: RunContext) -> StageResult:
    con = ctx.connect()
    try:
        validation = validate_run(ctx, con)
        publish_data_docs(validation, ctx, con)
        recon = reconcile_run(con, ctx.config, ctx.paths.root)
        sample = business_sample(ctx, con, write_sheet=write_business_sample_workbook)
        summary = write_summary_report(ctx, con)
    finally:
        con.close()
    pages = check_run_pages(ctx) if ctx.option("check_in_browser", True) else []
    metrics = {
        **validation.metrics(),
        **recon.metrics(),
        **sample.metrics(),
        **browser_metrics(pages),
        "summary": str(summary),
    }
    return StageResult(
        "validate",
        metrics,
        tables=tables_written_by("validate"),
        files={"summary": summary, "datadocs": ctx.paths.datadocs},
        views={
            "validation": validation.failed,
            "failures": lambda rows=20: validation.failures.head(rows),
            "totals": lambda: recon.totals,
            "checksums": lambda: recon.checksums,
            "sample_plan": lambda: sample.plan,
            "sample": lambda rows=20: sample.sample.head(rows),
            "sample_result": lambda: sample.result,
            "summary": lambda: summary,
            "pages": lambda: page_table(pages),
        },
    )
