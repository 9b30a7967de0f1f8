"""The mapping review workbook: mappings, coverage issues and approvals, for IT and business.

One sheet per part of :class:`~workbench.core.mapping.review.MappingReport` (summary, field mapping,
value mappings, each kind of coverage issue, approvals, the transform reference), with sheet names
and summary labels in the project's language.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.mapping import TRANSFORMS, MappingReport
from workbench.engine.files import atomic_path

if TYPE_CHECKING:
    from workbench.project.context import RunContext

REVIEW_WORKBOOK = "mapping_review.xlsx"  # in the run's tables/ folder
FIXED_CREATED = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes

SHEETS = {
    "zh": {
        "summary": "概要",
        "fields": "字段映射",
        "values": "值映射",
        "unmapped_values": "未映射的值",
        "required_without_source": "必填无来源",
        "not_in_picklist": "不在可选值内",
        "conflicts": "映射冲突",
        "unknown_sources": "未知来源字段",
        "required_empty": "必填为空",
        "approvals": "审批记录",
        "transforms": "转换说明",
    },
    "en": {
        "summary": "Summary",
        "fields": "Field mapping",
        "values": "Value mappings",
        "unmapped_values": "Unmapped values",
        "required_without_source": "Required no source",
        "not_in_picklist": "Not in picklist",
        "conflicts": "Conflicts",
        "unknown_sources": "Unknown sources",
        "required_empty": "Required empty",
        "approvals": "Approvals",
        "transforms": "Transforms",
    },
}
SUMMARY_LABELS = {
    "zh": {
        "version": "映射版本 (SHA-256)",
        "approved": "已审批",
        "yes": "是",
        "no": "否 — 导出只能以 DRAFT 草稿模式进行",
        "table": "检查的数据表",
        "records": "记录数",
        "profiles": "目标模板",
        "item": "项目",
        "value": "值",
    },
    "en": {
        "version": "mapping version (SHA-256)",
        "approved": "approved",
        "yes": "yes",
        "no": "no — export runs only in DRAFT mode",
        "table": "records checked",
        "records": "records",
        "profiles": "target profiles",
        "item": "item",
        "value": "value",
    },
}


def review_sheets(report: MappingReport, language: str = "zh") -> dict[str, pd.DataFrame]:
    """The sheets of the review workbook, by key of :data:`SHEETS`, in workbook order.

    Args:
        report: what the mapping stage found.
        language: ``zh`` or ``en`` (the summary's labels).
    """
    lab = SUMMARY_LABELS[language]
    coverage = report.coverage
    summary = pd.DataFrame(
        [
            (lab["version"], report.mapping.version),
            (lab["approved"], lab["yes"] if report.approved else lab["no"]),
            (lab["profiles"], ", ".join(report.profiles)),
            (lab["table"], coverage.table),
            (lab["records"], coverage.records),
            *[(k, v) for k, v in coverage.counts().items()],
        ],
        columns=[lab["item"], lab["value"]],
    )
    return {
        "summary": summary,
        "fields": report.field_overview(),
        "values": report.mapping.value_maps.frame.drop(columns=["line"], errors="ignore"),
        "unmapped_values": coverage.unmapped_values,
        "required_without_source": coverage.required_without_source,
        "not_in_picklist": coverage.not_in_picklist,
        "conflicts": coverage.conflicts,
        "unknown_sources": coverage.unknown_sources,
        "required_empty": coverage.required_empty,
        "approvals": report.sign_off.approvals,
        "transforms": pd.DataFrame(list(TRANSFORMS.items()), columns=["transform", "meaning"]),
    }


def write_review_workbook(path: Path, report: MappingReport, *, language: str = "zh") -> Path:
    """Write the Excel workbook IT and business review (atomically).

    Args:
        path: the workbook to write.
        report: what the mapping stage found.
        language: ``zh`` or ``en`` (sheet names and summary labels).

    Returns:
        `path`.
    """
    names = SHEETS[language]
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="xlsxwriter") as writer:
        writer.book.set_properties({"created": FIXED_CREATED, "title": "mapping review"})
        for key, frame in review_sheets(report, language).items():
            frame = frame.astype(object).where(frame.notna(), "")
            frame.to_excel(writer, sheet_name=names[key], index=False)
            ws = writer.sheets[names[key]]
            ws.freeze_panes(1, 0)
            if len(frame.columns):
                ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
                ws.set_column(0, len(frame.columns) - 1, 18)
    return path


def write_mapping_review(ctx: RunContext, report: MappingReport) -> Path:
    """Write the run's review workbook, ``tables/mapping_review.xlsx``, in the project's language.

    Args:
        ctx: the run.
        report: :func:`~workbench.core.mapping.review.review_mappings` output.

    Returns:
        The workbook's path.
    """
    return write_review_workbook(
        ctx.paths.tables / REVIEW_WORKBOOK, report, language=ctx.config.project.language
    )
