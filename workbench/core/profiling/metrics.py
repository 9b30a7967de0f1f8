"""The figures the audit stage records (``metrics/audit.json``), from the ingest summary and the profile.

This module owns the metric names and how each is computed from those two inputs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.core.profiling.profile import ProfileResult


def build_audit_metrics(
    ingest_summary: pd.DataFrame, result: ProfileResult, report_path: Any = None
) -> dict[str, Any]:
    """The figures the audit stage records (``metrics/audit.json``).

    Rows per source (file / staged / quarantined), quarantined total, columns profiled, the null
    rate per source (share of empty cells, NULL or blank, over its mapped fields), duplicate ID
    counts, key overlaps, and the report path.
    """
    rows = {
        str(r.source): {
            "file": int(r.file_rows),
            "staged": int(r.staged_rows),
            "quarantined": int(r.quarantined_rows),
        }
        for r in ingest_summary.itertuples()
    }
    cols = result.columns
    mapped = cols[cols["mapped"].fillna(False).astype(bool)]
    null_rate = {}
    for source, part in mapped.groupby("source", sort=False):
        cells = part["rows"].sum()
        null_rate[str(source)] = (
            round(float((part["nulls"] + part["blanks"]).sum() / cells), 6) if cells else None
        )
    summary = result.duplicate_summary
    overlaps = {
        f"{r.source_a}~{r.source_b}:{r.key_kind}": int(r.shared_keys) for r in result.overlaps.itertuples()
    }
    return {
        "rows": rows,
        "quarantined_total": int(ingest_summary["quarantined_rows"].sum()),
        "columns_profiled": len(cols),
        "null_rate": null_rate,
        "duplicate_ids": {str(r.source): int(r.duplicate_ids) for r in summary.itertuples()},
        "duplicate_rows": {str(r.source): int(r.surplus_duplicate_rows) for r in summary.itertuples()},
        "overlaps": overlaps,
        "report_path": None if report_path is None else str(report_path),
    }
