"""The match review workbook: the clerical-review pairs out to Excel and the decisions back in.

The pairs are those of the review widget (:func:`workbench.core.linkage.review_queue.load_review_items`
on the run's ``review_queue``). :func:`write_match_review_workbook` lays them out for reviewers who
work in Excel: an instructions sheet, and a ``review`` sheet with one row per pair: a decision
column with a drop-down (``match`` / ``non_match`` / ``skip``), a note and the reviewer, then each
field of both records side by side, the fields whose values differ highlighted. The header is
frozen; the review is blind (no model score is shown); personal data is masked as in every business
workbook (``report.masking``); every value is written as text with Excel's quote prefix, so an
edit cannot turn it into a formula. :func:`read_match_review_workbook` reads the decisions typed in
and saves them to the project's labels file (:func:`~workbench.core.linkage.review_queue.save_decision`),
which the next run of the match stage applies.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.linkage.review_queue import (
    LABELS as DECISIONS,
)
from workbench.core.linkage.review_queue import (
    ReviewItem,
    ReviewLabelsError,
    load_review_items,
    order_pair,
    read_decisions,
    save_decision,
)
from workbench.core.masking import columns_to_mask, mask_series
from workbench.engine.files import atomic_path
from workbench.presentation.labels import field_label_map

if TYPE_CHECKING:
    from workbench.project.context import RunContext

WORKBOOK_NAME = "match_review.xlsx"  # in the run's review/ folder
REVIEW_SHEET = "review"
INFO_SHEET = "instructions"
FIXED_COLUMNS = ("item_id", "decision", "note", "reviewer", "record_key_l", "record_key_r")
FIXED_CREATED = dt.datetime(2000, 1, 1)  # workbook metadata: reruns give the same bytes
TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "匹配人工审核表",
        "how": [
            "每一行是一对可能重复的客户记录（左 L / 右 R）。请比较两条记录，在 decision 列的下拉框中选择：",
            "match = 同一客户；non_match = 不同客户；skip = 暂不决定（留空也表示未决定）。",
            "note 列可写说明，reviewer 列写审核人。不要修改 item_id、record_key_l、record_key_r 列。",
            "标为黄色的字段两边取值不同。个人信息已部分遮盖。本表不显示模型分数（盲审）。",
            "填好后把文件交回，由数据团队读入（read_match_review_workbook）；下次运行匹配阶段时生效。",
        ],
        "pairs": "待审核的记录对",
        "captions": {"item_id": "序号", "decision": "结论", "note": "说明", "reviewer": "审核人",
                     "record_key_l": "记录 L", "record_key_r": "记录 R"},
        "left": "L", "right": "R",
    },
    "en": {
        "title": "Match review workbook",
        "how": [
            "Each row is a pair of customer records that may be the same customer (left L / right R). "
            "Compare them and choose in column decision:",
            "match = the same customer; non_match = different customers; skip = decide later (blank: not decided).",
            "Write a note in column note and your name in column reviewer. Do not change item_id, "
            "record_key_l, record_key_r.",
            "Fields whose values differ are yellow. Personal data is partly masked. No model score is shown "
            "(blind review).",
            "Hand the file back to the data team, who read it in (read_match_review_workbook); the next run "
            "of the match stage applies the decisions.",
        ],
        "pairs": "pairs to review",
        "captions": {"item_id": "No.", "decision": "Decision", "note": "Note", "reviewer": "Reviewer",
                     "record_key_l": "Record L", "record_key_r": "Record R"},
        "left": "L", "right": "R",
    },
}
HEADER_FORMAT = {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
EDIT_FORMAT = {"bg_color": "#E2EFDA", "border": 1, "quote_prefix": True}
TEXT_FORMAT = {"quote_prefix": True}
DIFF_FORMAT = {"bg_color": "#FFF2CC", "quote_prefix": True}


class MatchReviewError(ReviewLabelsError):
    """The match review workbook cannot be read back: a wrong sheet, header or decision."""


def workbook_path(ctx: RunContext) -> Path:
    """Where a run's match review workbook is written: ``<run>/review/match_review.xlsx``."""
    return ctx.paths.review / WORKBOOK_NAME


def _masker(ctx: RunContext, fields: list[str]) -> dict[str, str]:
    s = ctx.config.report.masking
    if not s.enabled:
        return {}
    return columns_to_mask(fields, {f: k.value for f, k in ctx.config.field_kinds().items()}, s)


def _shown(value: Any, kind: str | None, ctx: RunContext) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if kind is None:
        return str(value)
    return str(mask_series(pd.Series([str(value)], dtype="object"), kind, ctx.config.report.masking).iloc[0])


def _person_pair(item: ReviewItem) -> bool:
    cmp = item.comparison.set_index("field")
    if "customer_type" not in cmp.index:
        return False
    return "B2C" in {str(cmp.loc["customer_type", "left"]), str(cmp.loc["customer_type", "right"])}


def _write_info(wb: Any, text: dict[str, Any], fmt: dict[str, Any], pairs: int) -> None:
    info = wb.add_worksheet(INFO_SHEET)
    info.write_string(0, 0, text["title"], fmt["head"])
    for i, line in enumerate(text["how"], start=2):
        info.write_string(i, 0, line, fmt["text"])
    info.write_string(len(text["how"]) + 3, 0, f"{text['pairs']}: {pairs}", fmt["text"])
    info.set_column(0, 0, 120)


def _write_header(ws: Any, fields: list[str], text: dict[str, Any], labels: dict[str, str], fmt: dict[str, Any]) -> int:
    """Row 1 the technical names (read back), row 2 the captions; returns the number of columns."""
    header = [*FIXED_COLUMNS]
    captions = [text["captions"][c] for c in FIXED_COLUMNS]
    for f in fields:
        for side in (text["left"], text["right"]):
            header.append(f"{f} ({side})")
            captions.append(f"{labels.get(f, f)} ({side})")
    for j, (name, caption) in enumerate(zip(header, captions, strict=True)):
        ws.write_string(0, j, name, fmt["head"])
        ws.write_string(1, j, caption, fmt["head"])
    return len(header)


def _write_pair(ws: Any, i: int, item: ReviewItem, fields: list[str], kinds: dict[str, str | None],
                ctx: RunContext, fmt: dict[str, Any]) -> None:
    fixed = [item.item_id, item.decision if item.decision in DECISIONS else "", "", "",
             item.record_key_l, item.record_key_r]
    for j, value in enumerate(fixed):
        ws.write_string(i, j, str(value or ""), fmt["edit"] if 1 <= j <= 3 else fmt["text"])
    by_field = item.comparison.set_index("field")
    for k, f in enumerate(fields):
        row = by_field.loc[f] if f in by_field.index else None
        differs = row is not None and str(row["status"]) in ("different", "one_missing")
        for side, col in ((0, "left"), (1, "right")):
            value = "" if row is None else _shown(row[col], kinds.get(f), ctx)
            ws.write_string(i, len(FIXED_COLUMNS) + 2 * k + side, value, fmt["diff"] if differs else fmt["text"])


def write_match_review_workbook(ctx: RunContext, path: Path | None = None, *, pending_only: bool = True) -> Path:
    """Write the review pairs of a run as an Excel workbook for reviewers (see the module docstring).

    Args:
        ctx: the run (its ``review_queue``; language, masking and labels file from the config).
        path: where to write; default :func:`workbook_path`.
        pending_only: leave out pairs already decided (match / non_match) in the labels file.

    Returns:
        The workbook path.
    """
    import xlsxwriter

    session = load_review_items(ctx, ctx.config, pending_only=pending_only)
    language = ctx.config.report.language or ctx.config.project.language
    text = TEXT.get(language, TEXT["en"])
    fields = list(dict.fromkeys(f for item in session.items for f in item.comparison["field"]))
    masked = _masker(ctx, fields)
    s = ctx.config.report.masking
    names = {f for f, k in ctx.config.field_kinds().items() if k.value == "customer_name"}
    out = Path(path) if path is not None else workbook_path(ctx)
    with atomic_path(out) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False})
        wb.set_properties({"title": text["title"], "created": FIXED_CREATED})
        fmt = {k: wb.add_format(v) for k, v in (("head", HEADER_FORMAT), ("edit", EDIT_FORMAT),
                                                 ("text", TEXT_FORMAT), ("diff", DIFF_FORMAT))}
        _write_info(wb, text, fmt, len(session.items))
        ws = wb.add_worksheet(REVIEW_SHEET)
        width = _write_header(ws, fields, text, field_label_map(ctx.config), fmt)
        for i, item in enumerate(session.items, start=2):
            person = s.enabled and s.person_customers and "person_name" in s.kinds and _person_pair(item)
            kinds: dict[str, str | None] = {f: masked.get(f) or ("person_name" if person and f in names else None)
                                            for f in fields}
            _write_pair(ws, i, item, fields, kinds, ctx, fmt)
        if session.items:
            ws.data_validation(2, 1, len(session.items) + 1, 1,
                               {"validate": "list", "source": list(DECISIONS), "ignore_blank": True})
        ws.freeze_panes(2, 2)
        ws.set_column(0, 0, 8)
        ws.set_column(1, 3, 14)
        ws.set_column(4, width - 1, 18)
        ws.autofilter(1, 0, max(2, len(session.items) + 1), width - 1)
        wb.close()
    return out


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def read_match_review_workbook(ctx: RunContext, path: Path | str) -> int:
    """Save the decisions typed into a match review workbook to the project's labels file.

    A row without a decision is left alone; a decision equal to the pair's newest saved one (same
    label, note and reviewer) is not saved again, so reading a workbook twice changes nothing.

    Args:
        ctx: the run (the labels file is ``match.labels_path``).
        path: the workbook filled in by reviewers.

    Returns:
        How many decisions were saved.

    Raises:
        MatchReviewError: the file has no ``review`` sheet, its header is not the one written, or a
            decision is not one of match / non_match / skip (naming the row and the value).
    """
    from openpyxl import load_workbook

    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise MatchReviewError(f"{path}: not a readable Excel workbook ({exc})") from exc
    try:
        if REVIEW_SHEET not in wb.sheetnames:
            raise MatchReviewError(f"{path}: no sheet {REVIEW_SHEET!r}; it has {wb.sheetnames}")
        rows = list(wb[REVIEW_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
    header = tuple(_cell(v) for v in rows[0][: len(FIXED_COLUMNS)]) if rows else ()
    if header != FIXED_COLUMNS:
        raise MatchReviewError(
            f"{path}, sheet {REVIEW_SHEET}, row 1: the first columns are {list(header)}, expected "
            f"{list(FIXED_COLUMNS)}; use the workbook as written by write_match_review_workbook"
        )
    labels_path = ctx.project.review_labels
    newest = {
        (r.record_key_l, r.record_key_r): (r.label, r.note, r.reviewer)
        for r in read_decisions(labels_path).itertuples(index=False)
    }
    saved = 0
    for excel_row, values in enumerate(rows[2:], start=3):
        item_id, decision, note, reviewer, left, right = (_cell(v) for v in values[: len(FIXED_COLUMNS)])
        if not decision:
            continue
        if decision not in DECISIONS:
            raise MatchReviewError(
                f"{path}, sheet {REVIEW_SHEET}, row {excel_row}, column decision: {decision!r} is not one of "
                f"{', '.join(DECISIONS)} (item {item_id})"
            )
        if not left or not right:
            raise MatchReviewError(f"{path}, sheet {REVIEW_SHEET}, row {excel_row}: record_key_l / record_key_r "
                                   "are empty; do not change those columns")
        if newest.get(order_pair(left, right)) == (decision, note, reviewer):
            continue
        save_decision(labels_path, left, right, decision, reviewer, note)
        newest[order_pair(left, right)] = (decision, note, reviewer)
        saved += 1
    return saved
