"""Stage ``mapping``: check the field and value mappings against the data and the target profiles.

It runs on what exists: a project without mapping files gets through (the profiles' own defaults
are checked instead) and the metrics and the ``missing`` view say what is missing before the export
can write approved files.
Views: ``metrics``, ``missing``, ``sign_off``, ``unmapped_values``, ``required_without_source``,
``not_in_picklist``, ``conflicts``, ``issues``, ``workbook``.
"""

from __future__ import annotations

import pandas as pd

from workbench.core.mapping import review_mappings
from workbench.presentation.workbooks.mapping_review import write_mapping_review
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("mapping")
def run(ctx: RunContext) -> StageResult:
    report = review_mappings(ctx)
    workbook = write_mapping_review(ctx, report)
    metrics = report.metrics()
    return StageResult(
        "mapping",
        metrics,
        tables=tables_written_by("mapping"),
        files={"review_workbook": workbook},
        views={
            "metrics": lambda: metrics,
            "missing": lambda: pd.DataFrame({"missing": report.missing()}),
            "sign_off": lambda: report.approvals if report.approved else report.approval_problem,
            "unmapped_values": lambda: report.coverage.unmapped_values,
            "required_without_source": lambda: report.coverage.required_without_source,
            "not_in_picklist": lambda: report.coverage.not_in_picklist,
            "conflicts": lambda: report.coverage.conflicts,
            "issues": report.issues,
            "workbook": lambda: workbook,
        },
    )
