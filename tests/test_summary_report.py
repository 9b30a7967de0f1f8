"""The business summary of a run: offline, bilingual, linked to every report, personal data masked."""

from __future__ import annotations

import pandas as pd
import pytest
from validation_fixtures import build_run_tables, golden_frame, make_config, write_generic_load_files

from workbench.core.monitoring.history import read_history, record_run_metrics
from workbench.core.validation import FAILURE_COLUMNS, RESULT_COLUMNS
from workbench.core.validation.reconcile import reconcile_run
from workbench.core.validation.sampling import sample_masters
from workbench.engine.connection import connect
from workbench.presentation.reports.html import find_external_references
from workbench.presentation.reports.summary import LINK_CANDIDATES, find_links, write_summary_report
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths


@pytest.fixture
def run(tmp_path):
    config = make_config(tmp_path, language="zh")
    root = tmp_path / "runs" / "20260102-000000"
    ctx = RunContext(config, RunPaths(root).ensure())
    con = connect()
    build_run_tables(con)
    write_generic_load_files(root, golden_frame(), con.sql("select * from load_rows").df())
    reconcile_run(con, config, root)
    sample_masters(con, config.report.sampling, config.project.seed)
    results = pd.DataFrame(
        [
            {
                "suite": "source_erp",
                "stage": "ingest",
                "dataset": "stg_erp",
                "success": False,
                "unexpected_count": 1,
            }
        ],
        columns=RESULT_COLUMNS,
    )
    con.register("__results", results)
    con.execute("create table validation_results as select * from __results")
    failures = pd.DataFrame(
        [
            {
                "suite": "source_erp",
                "stage": "ingest",
                "column": "mobile",
                "source": "erp",
                "source_id": "E1",
                "record_key": "erp:2",
                "master_id": "M001",
                "value": "13800138001",
            }
        ],
        columns=FAILURE_COLUMNS,
    ).astype(object)
    con.register("__failures", failures)
    con.execute("create table validation_failures as select * from __failures")
    (root / "datadocs").mkdir()
    (root / "datadocs" / "index.html").write_text("<html></html>", encoding="utf-8")
    (root / "splink").mkdir()
    for name in ("match_weights.html", "cluster_studio.html"):
        (root / "splink" / name).write_text("<html></html>", encoding="utf-8")
    record_run_metrics(ctx, con)
    yield ctx, con
    con.close()


def test_summary_is_offline_and_in_the_configured_language(run) -> None:
    ctx, con = run
    path = write_summary_report(ctx, con, history=read_history(ctx.config.output_dir / "history.duckdb"))
    assert path == ctx.paths.reports / "summary.html"
    text = path.read_text(encoding="utf-8")
    assert find_external_references(text) == []
    assert '<html lang="zh-CN">' in text and "数据迁移运行总结" in text
    assert "全部来源行均已对账" in text
    assert "<script src=" not in text  # plotly.js is inlined, never loaded


def test_english_switch(run) -> None:
    ctx, con = run
    path = write_summary_report(ctx, con, language="en", path=ctx.paths.reports / "summary_en.html")
    text = path.read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "Migration run summary" in text
    assert "Every source row is accounted for" in text and "数据迁移" not in text


def test_links_point_at_existing_reports_only(run) -> None:
    ctx, con = run
    links = find_links(ctx.paths.root)
    assert [p.name for p in links["splink"]] == ["cluster_studio.html", "match_weights.html"]
    assert "profile" not in links
    text = write_summary_report(ctx, con, language="en").read_text(encoding="utf-8")
    assert 'href="../datadocs/index.html"' in text
    assert 'href="../splink/match_weights.html"' in text
    assert 'href="../tables/dispositions.csv"' in text
    assert "Profile report — <em>not produced in this run</em>" in text


def test_personal_data_is_masked(run) -> None:
    ctx, con = run
    text = write_summary_report(ctx, con).read_text(encoding="utf-8")
    assert "138****8001" in text and "13800138001" not in text


def test_key_figures_come_from_the_reconciliation(run) -> None:
    ctx, con = run
    text = write_summary_report(ctx, con, language="en").read_text(encoding="utf-8")
    assert '<div class="v">12</div><div class="k">Source rows</div>' in text.replace("\n", "")
    assert "Plan: target accuracy 99.00% at 95% confidence" in text


def test_demo_run_end_to_end(tmp_path) -> None:
    """The demo run: Data Docs, all rows reconciled, the sample sheet, the summary in zh and en checked in
    headless Chromium; a second run gives a trend."""
    from openpyxl import load_workbook
    from validation_fixtures import build_demo_run

    from workbench.core.monitoring.history import metric_trend
    from workbench.core.validation import business_sample, validate_run
    from workbench.presentation.browser import check_run_pages, find_chromium
    from workbench.presentation.datadocs import publish_data_docs
    from workbench.presentation.workbooks.business_sample import write_business_sample_workbook

    ctx = build_demo_run(tmp_path)
    con = ctx.connect()
    try:
        outcome = validate_run(ctx, con)
        publish_data_docs(outcome)
        assert (ctx.paths.datadocs / "index.html").exists() and outcome.pages
        assert {"source_erp", "source_crm", "source_ledger", "standardized_customers"} <= set(outcome.pages)
        assert any(s.startswith("load_ready_sap_s4_cockpit_customer") for s in outcome.pages)
        recon = reconcile_run(con, ctx.config, ctx.paths.root)
        files = con.sql("select sum(file_rows) from ingest_summary where source in ('erp', 'crm', 'ledger')")
        assert len(recon.dispositions) == files.fetchall()[0][0]  # every customer source row, once
        assert recon.problems.empty and recon.dispositions["record_key"].is_unique
        assert recon.metrics()["checksums_match"]
        sample = business_sample(ctx, con, write_sheet=write_business_sample_workbook)
        sheet = load_workbook(sample.workbook, read_only=True)
        assert sheet["sample"].max_row == sample.plan.sample_size + 2 and sheet["history"].max_row > 10
        sheet.close()
        record_run_metrics(ctx, con)
        zh = write_summary_report(ctx, con, language="zh")
        en = write_summary_report(ctx, con, language="en", path=ctx.paths.reports / "summary_en.html")
    finally:
        con.close()
    assert "数据迁移运行总结" in zh.read_text(encoding="utf-8")
    assert "Migration run summary" in en.read_text(encoding="utf-8")
    if find_chromium() is not None:
        pages = [zh, en, ctx.paths.datadocs / "index.html", ctx.paths.datadocs / outcome.pages["source_erp"]]
        for check in check_run_pages(ctx, pages):
            assert check.ok, check.describe()
        assert (ctx.paths.reports / "summary.png").exists()
    ctx2 = build_demo_run(tmp_path, through="golden", run_id="r2")
    record_run_metrics(ctx2)
    history = read_history(ctx.project.run_history)
    trend = metric_trend(history, "completeness")
    assert list(trend.index) == ["r1", "r2"] and trend.notna().all().all()


def test_notebook_links_follow_the_stage_declaration() -> None:
    from workbench.project.stages import stage_spec

    assert LINK_CANDIDATES["profile"][1] == "html/10_*.html"
    assert LINK_CANDIDATES["export"][1] == "html/70_*.html"
    for key, stage in (("standardize", "standardize"), ("match", "match"), ("batches", "batches")):
        assert stage_spec(stage).notebook.startswith(LINK_CANDIDATES[key][1].removeprefix("html/")[:3])
