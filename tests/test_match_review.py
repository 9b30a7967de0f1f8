"""Clerical review through Excel: the widget's pairs out as a workbook, the decisions back in the labels file."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from test_review import make_config, make_db

from workbench.core.linkage.review_queue import read_decisions
from workbench.engine.connection import connect
from workbench.presentation.workbooks.match_review import (
    FIXED_COLUMNS,
    REVIEW_SHEET,
    MatchReviewError,
    read_match_review_workbook,
    write_match_review_workbook,
)
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths


@pytest.fixture
def ctx(tmp_path):
    paths = RunPaths(tmp_path / "run").ensure()
    con = connect(paths.warehouse)
    make_db(con)
    con.close()
    return RunContext(config=make_config(tmp_path), paths=paths)


def _fill(path, decisions: dict[int, tuple[str, str, str]]) -> None:
    """Type decisions into the review sheet as a reviewer would (Excel row → decision, note, reviewer)."""
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    for row, (decision, note, reviewer) in decisions.items():
        ws.cell(row, 2, decision)
        ws.cell(row, 3, note)
        ws.cell(row, 4, reviewer)
    wb.save(path)


def test_workbook_holds_the_widget_s_pairs_blind_masked_and_as_text(ctx) -> None:
    path = write_match_review_workbook(ctx)
    assert path == ctx.paths.review / "match_review.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["instructions", REVIEW_SHEET]
    ws = wb[REVIEW_SHEET]
    header = [c.value for c in ws[1]]
    assert tuple(header[: len(FIXED_COLUMNS)]) == FIXED_COLUMNS
    assert "customer_name (L)" in header and "mobile (R)" in header
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    pairs = {(r[4], r[5]) for r in rows}
    assert ("erp:2", "crm:2") in pairs and ("crm:3", "erp:3") in pairs
    assert ("crm:4", "erp:4") in pairs  # the suspicious cluster, expanded to its pair
    text = "\n".join(str(v) for r in rows for v in r if v is not None)
    assert "138-0013-8000" not in text and "138-****-8000" in text  # phones masked
    assert "0.62" not in text and "model" not in text  # blind: no score, no reason
    assert ws.freeze_panes == "C3"
    validation = ws.data_validations.dataValidation[0]
    assert validation.formula1 == '"match,non_match,skip"' and "B3" in str(validation.sqref)
    first = ws.cell(3, len(FIXED_COLUMNS) + 1)
    assert first.data_type == "s" and first.quotePrefix  # text with Excel's quote prefix: no formula
    differs = [ws.cell(3, j).fill.fgColor.rgb for j in range(len(FIXED_COLUMNS) + 1, ws.max_column + 1)]
    assert any(str(c).endswith("FFF2CC") for c in differs)  # the differing fields are highlighted


def test_decisions_typed_in_excel_reach_the_labels_file_once(ctx) -> None:
    path = write_match_review_workbook(ctx)
    _fill(path, {3: ("match", "same company", "wl"), 4: ("non_match", "", "wl")})
    assert read_match_review_workbook(ctx, path) == 2
    labels = read_decisions(ctx.project.review_labels)
    assert sorted(zip(labels["record_key_l"], labels["record_key_r"], labels["label"], strict=True)) == [
        ("crm:2", "erp:2", "match"),
        ("crm:3", "erp:3", "non_match"),
    ]
    assert read_match_review_workbook(ctx, path) == 0  # read twice: nothing new
    pending = write_match_review_workbook(ctx, ctx.paths.review / "again.xlsx")
    remaining = [r[4:6] for r in load_workbook(pending)[REVIEW_SHEET].iter_rows(min_row=3, values_only=True)]
    assert remaining == [("crm:4", "erp:4")]  # decided pairs do not go out again


def test_a_wrong_decision_names_the_row_and_the_value(ctx) -> None:
    path = write_match_review_workbook(ctx)
    _fill(path, {4: ("yes", "", "wl")})
    with pytest.raises(MatchReviewError, match=r"row 4, column decision: 'yes' is not one of match, non_match"):
        read_match_review_workbook(ctx, path)
    assert not ctx.project.review_labels.exists()


def test_the_view_shows_the_widget_only_when_interactive(ctx) -> None:
    from workbench.presentation.widgets.review import ReviewWidget, review_view

    note = review_view(ctx, interactive=False)
    assert "3 pairs wait" in note.data and "match_review.xlsx" in note.data
    widget = review_view(ctx, interactive=True, reviewer="wl")
    assert isinstance(widget, ReviewWidget) and widget.blind
    widget.non_match_button.click()
    assert read_decisions(ctx.project.review_labels)["label"].tolist() == ["non_match"]
