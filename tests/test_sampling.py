"""Business sample: acceptance-sampling plan, stratified draw, reviewer workbook, verdicts, accuracy."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from openpyxl import load_workbook
from scipy import stats
from validation_fixtures import build_run_tables, make_config

from workbench.core.validation.sampling import (
    REVIEW_COLUMNS,
    SamplingError,
    allocate,
    draw_sample,
    evaluate_sample,
    load_plan,
    plan_sample,
    read_verdicts,
    review_sheet,
    sample_masters,
    zero_defect_sample_size,
)
from workbench.engine.connection import connect
from workbench.presentation.workbooks.business_sample import write_review_workbook
from workbench.project.settings.report import SamplingSettings


def test_zero_defect_size_is_the_textbook_formula() -> None:
    assert zero_defect_sample_size(0.999, 0.95) == math.ceil(math.log(0.05) / math.log(0.999))
    assert zero_defect_sample_size(0.99, 0.95) == 299


def test_binomial_plan_is_the_smallest_n_that_rejects_a_bad_population() -> None:
    plan = plan_sample(10**9, 0.99, 0.95, 2, finite_population=False)
    n = plan.sample_size
    assert plan.method == "binomial"
    assert stats.binom.cdf(2, n, 0.01) <= 0.05 < stats.binom.cdf(2, n - 1, 0.01)


def test_hypergeometric_plan_needs_fewer_records_on_a_small_population() -> None:
    finite = plan_sample(2000, 0.99, 0.95, 0)
    infinite = plan_sample(2000, 0.99, 0.95, 0, finite_population=False)
    assert finite.method == "hypergeometric" and finite.tolerated_defects == 20
    assert finite.sample_size < infinite.sample_size == 299
    n = finite.sample_size
    assert stats.hypergeom.cdf(0, 2000, 21, n) <= 0.05 < stats.hypergeom.cdf(0, 2000, 21, n - 1)


def test_small_population_is_checked_whole_and_bad_input_is_refused() -> None:
    assert plan_sample(7, 0.99, 0.95).method in {"census", "hypergeometric"}
    assert plan_sample(7, 0.99, 0.95).sample_size <= 7
    with pytest.raises(SamplingError, match="target accuracy"):
        plan_sample(100, 1.0, 0.95)
    with pytest.raises(SamplingError, match="allowed defects"):
        plan_sample(100, 0.99, 0.95, allowed_defects=5)


def test_allocation_is_proportional_with_one_per_stratum() -> None:
    alloc = allocate(pd.Series({"a": 900, "b": 90, "c": 10}), 50)
    assert alloc.sum() == 50 and (alloc >= 1).all()
    assert alloc["a"] > alloc["b"] > 0
    assert allocate(pd.Series({"a": 3, "b": 2}), 10).to_dict() == {"a": 3, "b": 2}


def test_draw_is_seeded_and_stratified() -> None:
    frame = pd.DataFrame(
        {
            "master_id": [f"M{i:04d}" for i in range(300)],
            "source": ["erp"] * 200 + ["crm"] * 100,
            "match_type": ["single", "merged", "reviewed"] * 100,
        }
    )
    a = draw_sample(frame, 30, ["source", "match_type"], seed=1)
    b = draw_sample(frame, 30, ["source", "match_type"], seed=1)
    c = draw_sample(frame, 30, ["source", "match_type"], seed=2)
    assert a.equals(b) and not a["master_id"].equals(c["master_id"])
    assert len(a) == 30 and a["master_id"].is_unique
    assert a["stratum"].nunique() == 6
    sizes = frame.assign(stratum=frame["source"] + " / " + frame["match_type"]).groupby("stratum").size()
    drawn = a.groupby("stratum").size()
    assert ((drawn - sizes / 300 * 30).abs() < 1).all()  # each stratum within one of its quota


@pytest.fixture
def sampled(tmp_path):
    config = make_config(tmp_path, sampling={"target_accuracy": 0.9, "confidence": 0.9})
    con = connect()
    build_run_tables(con)
    plan, sample = sample_masters(con, config.report.sampling, config.project.seed)
    yield config, con, plan, sample, tmp_path
    con.close()


def test_workbook_gives_history_and_masks_personal_data(sampled) -> None:
    config, con, plan, sample, tmp_path = sampled
    assert plan.population == 7 and len(sample) == plan.sample_size
    assert load_plan(con) == plan
    sample = sample.sort_values("master_id").reset_index(drop=True)
    path = write_review_workbook(
        con, config, plan, sample, tmp_path / "review.xlsx", language="zh", masking=config.report.masking
    )
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["instructions", "sample", "history"]
    rows = list(wb["sample"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:3] == ["sample_no", "master_id", "stratum"] and header[-4:] == [
        "verdict",
        "defect_fields",
        "comment",
        "reviewer",
    ]
    mobiles = [r[header.index("mobile")] for r in rows[2:] if r[header.index("mobile")]]
    assert mobiles and all("****" in m for m in mobiles)
    hist = pd.DataFrame(
        list(wb["history"].iter_rows(values_only=True))[1:],
        columns=[c.value for c in next(wb["history"].iter_rows(max_row=1))],
    )
    wb.close()
    assert plan.method == "census"  # 7 masters at 90 %: every master is checked
    m1 = hist[hist["master_id"] == "M001"]
    assert set(m1["section"]) == {"来源记录", "黄金记录", "交易"}
    assert (m1["section"] == "交易").sum() == 2  # both transactions of E1
    assert set(m1.loc[m1["section"] == "来源记录", "record_key"]) == {"erp:2", "crm:2"}
    golden_rows = hist[hist["section"] == "黄金记录"]
    assert golden_rows["detail"].eq("source_priority").all()


def _fill(path, verdicts: dict[int, str]) -> None:
    from openpyxl import load_workbook as lw

    wb = lw(path)
    ws = wb["sample"]
    header = [c.value for c in ws[1]]
    col = header.index("verdict") + 1
    for row in range(3, ws.max_row + 1):
        no = ws.cell(row, 1).value
        if no in verdicts:
            ws.cell(row, col).value = verdicts[no]
            ws.cell(row, header.index("defect_fields") + 1).value = (
                "mobile" if verdicts[no] == "defect" else None
            )
    wb.save(path)


def test_verdicts_round_trip_and_accuracy_interval(sampled) -> None:
    config, con, plan, sample, tmp_path = sampled
    path = write_review_workbook(con, config, plan, sample, tmp_path / "r.xlsx", language="en")
    n = len(sample)
    _fill(path, {i: ("defect" if i == 1 else "正确") for i in range(1, n + 1)})
    verdicts = read_verdicts(path)
    assert verdicts["verdict"].tolist() == ["defect"] + ["ok"] * (n - 1)
    result = evaluate_sample(verdicts, plan)
    ci = stats.binomtest(n - 1, n).proportion_ci(confidence_level=plan.confidence, method="exact")
    assert result.reviewed == n and result.defects == 1 and result.pending == 0
    assert result.ci_low == pytest.approx(ci.low) and result.ci_high == pytest.approx(ci.high)
    assert result.accuracy == pytest.approx((n - 1) / n)
    assert result.defect_fields == {"mobile": 1}
    assert result.accepted is (plan.allowed_defects >= 1)


def test_pending_verdicts_leave_the_target_open(sampled) -> None:
    config, con, plan, sample, tmp_path = sampled
    path = write_review_workbook(con, config, plan, sample, tmp_path / "r.xlsx")
    _fill(path, {1: "ok"})
    result = evaluate_sample(read_verdicts(path), plan)
    assert result.reviewed == 1 and result.pending == len(sample) - 1
    assert result.target_met is None and result.accepted is None


def test_zero_defects_meet_the_target() -> None:
    plan = plan_sample(10**6, 0.99, 0.95)
    verdicts = pd.DataFrame(
        {"verdict": ["ok"] * plan.sample_size, "defect_fields": [None] * plan.sample_size}
    )
    result = evaluate_sample(verdicts, plan)
    assert result.target_met is True and result.lower_bound >= 0.99 - 1e-4


def test_invalid_verdict_names_file_row_and_value(sampled) -> None:
    config, con, plan, sample, tmp_path = sampled
    path = write_review_workbook(con, config, plan, sample, tmp_path / "r.xlsx")
    _fill(path, {2: "maybe"})
    with pytest.raises(SamplingError, match=r"r\.xlsx, sheet sample, row 4, column verdict: 'maybe'"):
        read_verdicts(path)


def test_unknown_stratum_is_refused(tmp_path) -> None:
    con = connect()
    build_run_tables(con)
    with pytest.raises(SamplingError, match="unknown stratum"):
        sample_masters(con, SamplingSettings(strata=["region"]), 1)


def test_review_sheet_is_masked_data_with_empty_review_columns(sampled) -> None:
    config, con, _, sample, _ = sampled
    sheet = review_sheet(
        con, config, sample, masking=config.report.masking, fields=["customer_name", "mobile"]
    )
    assert list(sheet.rows.columns) == [
        "sample_no",
        "master_id",
        "stratum",
        "customer_name",
        "mobile",
        "customer_type",  # always there: a person's (B2C) customer name is masked
        *REVIEW_COLUMNS,
    ]
    assert (sheet.rows[REVIEW_COLUMNS] == "").all().all()
    assert all("****" in m for m in sheet.rows["mobile"].dropna())
    # the section labels are the workbook's
    assert set(sheet.history["section"]) <= {"source_row", "golden", "transaction"}
    phones = sheet.history.loc[sheet.history["field"] == "mobile", "value"].dropna()
    assert len(phones) and all("*" in v for v in phones)
    assert sheet.history["sample_no"].notna().all()


def test_business_sample_writes_the_sheet_before_reading_verdicts(tmp_path) -> None:
    """The run's review sheet is there even when the returned verdicts are invalid."""
    from workbench.core.validation import business_sample
    from workbench.presentation.workbooks.business_sample import write_business_sample_workbook
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths

    config = make_config(tmp_path, sampling={"target_accuracy": 0.9, "confidence": 0.9})
    ctx = RunContext(config, RunPaths(tmp_path / "runs" / "r1").ensure())
    con = connect()
    try:
        build_run_tables(con)
        first = business_sample(ctx, con, write_sheet=write_business_sample_workbook)
        assert first.workbook == ctx.paths.review / "business_sample.xlsx" and first.workbook.is_file()
        assert first.verdicts is None and first.metrics()["sample_workbook"] == str(first.workbook)
        returned = ctx.project.verdicts
        returned.write_bytes(first.workbook.read_bytes())
        _fill(returned, {1: "maybe"})
        first.workbook.unlink()
        with pytest.raises(SamplingError, match="'maybe' is not a verdict"):
            business_sample(ctx, con, write_sheet=write_business_sample_workbook)
        assert first.workbook.is_file()
        _fill(returned, {1: "ok"})
        answered = business_sample(ctx, con)  # no writer: the path is still reported
        assert answered.result is not None and answered.result.reviewed == 1
        assert con.sql("select count(*) from sample_verdicts").fetchall()[0][0] == len(answered.sample)
    finally:
        con.close()
