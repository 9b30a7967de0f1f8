"""The business-sample review workbook: the sampled customers, for reviewers to judge one by one.

The data comes from :func:`workbench.core.validation.sampling.review_sheet` (personal data already
masked); this module lays it out as three sheets with the reviewers' labels in the project's
language: ``instructions`` (the sampling plan and how to fill in the sheet), ``sample`` (one row per
sampled master, the verdict columns highlighted, a verdict picklist) and ``history`` (each
customer's source rows, golden fields with provenance and transactions). Sheet and column names
stay as :func:`~workbench.core.validation.sampling.read_verdicts` reads them back.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.validation.sampling import (
    HISTORY_SHEET,
    INFO_SHEET,
    REVIEW_COLUMNS,
    SAMPLE_SHEET,
    SamplePlan,
    review_sheet,
)
from workbench.engine.files import atomic_path

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext
    from workbench.project.settings.report import MaskingSettings

VERDICTS = ["ok", "defect"]
LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "业务抽样核对表",
        "plan": "抽样方案",
        "population": "主数据总数",
        "target": "目标准确率",
        "confidence": "置信度",
        "allowed": "允许缺陷数 c",
        "size": "样本量 n",
        "method": "计算方法",
        "how": "填写说明：在 sample 表的 verdict 列填 ok（正确）或 defect（有错误）；有错误时在 "
        "defect_fields 列写出错的字段（用 ; 分隔），comment 写说明，reviewer 写核对人。"
        "history 表列出每个抽中客户的来源记录、黄金记录字段及其来源、交易记录。",
        "caption": {
            "sample_no": "序号",
            "master_id": "主数据编号",
            "stratum": "分层",
            "verdict": "结论 (ok/defect)",
            "defect_fields": "错误字段",
            "comment": "说明",
            "reviewer": "核对人",
        },
        "sections": {"source_row": "来源记录", "golden": "黄金记录", "transaction": "交易"},
    },
    "en": {
        "title": "Business sample review sheet",
        "plan": "Sampling plan",
        "population": "Master records",
        "target": "Target accuracy",
        "confidence": "Confidence",
        "allowed": "Allowed defects c",
        "size": "Sample size n",
        "method": "Method",
        "how": "How to fill: in sheet `sample` write ok or defect in column verdict; for a defect list "
        "the wrong fields in defect_fields (separated by ;), explain in comment and sign in reviewer. "
        "Sheet `history` lists each sampled customer's source rows, golden fields with their "
        "provenance, and transactions.",
        "caption": {
            "sample_no": "No.",
            "master_id": "Master ID",
            "stratum": "Stratum",
            "verdict": "Verdict (ok/defect)",
            "defect_fields": "Wrong fields",
            "comment": "Comment",
            "reviewer": "Reviewer",
        },
        "sections": {"source_row": "source row", "golden": "golden field", "transaction": "transaction"},
    },
}
FIXED_CREATED = pd.Timestamp("2000-01-01").to_pydatetime()  # workbook metadata: reruns give the same bytes
HEADER_FORMAT = {"bold": True, "bg_color": "#DDEBF7", "border": 1}
CAPTION_FORMAT = {"italic": True, "font_color": "#555555"}
EDIT_FORMAT = {"bg_color": "#FFF2CC", "border": 1}  # the columns reviewers fill in


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _write_value(ws: Any, i: int, j: int, value: Any, text_format: Any) -> None:
    """Numbers as numbers; everything else as a text cell with Excel's quote prefix, so an edit in
    Excel cannot turn it into a formula (``=…``) or a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        ws.write_string(i, j, str(value), text_format)
    else:
        ws.write_number(i, j, value)


def _write_instructions(wb: Any, text: dict[str, Any], plan: SamplePlan, bold: Any) -> None:
    ws = wb.add_worksheet(INFO_SHEET)
    ws.write(0, 0, text["title"], bold)
    items = [
        (text["population"], plan.population),
        (text["target"], plan.target_accuracy),
        (text["confidence"], plan.confidence),
        (text["allowed"], plan.allowed_defects),
        (text["size"], plan.sample_size),
        (text["method"], plan.method),
    ]
    ws.write(2, 0, text["plan"], bold)
    for i, (k, v) in enumerate(items, start=3):
        ws.write(i, 0, k)
        ws.write(i, 1, v)
    ws.write(len(items) + 4, 0, text["how"])
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 18)


def _write_sample(wb: Any, rows: pd.DataFrame, text: dict[str, Any], formats: dict[str, Any]) -> None:
    ws = wb.add_worksheet(SAMPLE_SHEET)
    for j, col in enumerate(rows.columns):
        ws.write(0, j, col, formats["bold"])
        ws.write(1, j, text["caption"].get(col, col), formats["caption"])
    for i, rec in enumerate(rows.itertuples(index=False), start=2):
        for j, value in enumerate(rec):
            if rows.columns[j] in REVIEW_COLUMNS:
                ws.write_blank(i, j, None, formats["edit"])
            elif _is_blank(value):
                ws.write_blank(i, j, None)
            else:
                _write_value(ws, i, j, value, formats["text"])
    verdict_col = list(rows.columns).index("verdict")
    if len(rows):
        ws.data_validation(
            2, verdict_col, len(rows) + 1, verdict_col, {"validate": "list", "source": VERDICTS}
        )
    ws.freeze_panes(2, 2)
    ws.autofilter(0, 0, max(1, len(rows) + 1), len(rows.columns) - 1)
    ws.set_column(0, len(rows.columns) - 1, 16)


def _write_history(wb: Any, history: pd.DataFrame, bold: Any, text_format: Any) -> None:
    ws = wb.add_worksheet(HISTORY_SHEET)
    for j, col in enumerate(history.columns):
        ws.write(0, j, col, bold)
    for i, rec in enumerate(history.itertuples(index=False), start=1):
        for j, value in enumerate(rec):
            if not _is_blank(value):
                _write_value(ws, i, j, value, text_format)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(history)), len(history.columns) - 1)
    ws.set_column(0, len(history.columns) - 1, 18)


def write_review_workbook(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    plan: SamplePlan,
    sample: pd.DataFrame,
    path: Path,
    *,
    language: str = "zh",
    masking: MaskingSettings | None = None,
    fields: list[str] | None = None,
) -> Path:
    """Write the reviewer workbook: instructions, the sample with verdict columns, each customer's history.

    Personal data is masked with `masking` (phones, e-mails, IDs) in every sheet.

    Args:
        con: the run database (golden records, the sample and the history tables).
        config: the project config.
        plan: the sampling plan.
        sample: the drawn sample.
        path: the workbook to write (atomically).
        language: ``zh`` or ``en`` (sheet texts, captions, history sections).
        masking: ``report.masking``.
        fields: the golden fields shown; default every canonical field.

    Returns:
        `path`.
    """
    import xlsxwriter

    text = LABELS[language]
    sheet = review_sheet(con, config, sample, masking=masking, fields=fields)
    history = sheet.history.assign(section=sheet.history["section"].map(text["sections"]))
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        )
        wb.set_properties({"title": text["title"], "created": FIXED_CREATED})
        formats = {
            "bold": wb.add_format(HEADER_FORMAT),
            "caption": wb.add_format(CAPTION_FORMAT),
            "edit": wb.add_format({**EDIT_FORMAT, "quote_prefix": True}),
            "text": wb.add_format({"quote_prefix": True}),
        }
        _write_instructions(wb, text, plan, formats["bold"])
        _write_sample(wb, sheet.rows, text, formats)
        _write_history(wb, history, formats["bold"], formats["text"])
        wb.close()
    return Path(path)


def write_business_sample_workbook(
    ctx: RunContext, con: duckdb.DuckDBPyConnection, plan: SamplePlan, sample: pd.DataFrame, path: Path
) -> Path:
    """The review workbook of a run's sample, with the project's language, masking and fields.

    Passed by the ``validate`` stage to :func:`workbench.core.validation.sampling.business_sample`
    as its sheet writer.
    """
    config = ctx.config
    return write_review_workbook(
        con,
        config,
        plan,
        sample,
        path,
        language=config.report.language or config.project.language,
        masking=config.report.masking,
        fields=config.report.sampling.history_fields,
    )
