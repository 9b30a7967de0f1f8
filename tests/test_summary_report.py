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
    (root / "analyst" / "splink").mkdir(parents=True)
    for name in ("match_weights.html", "cluster_studio.html"):
        (root / "analyst" / "splink" / name).write_text("<html></html>", encoding="utf-8")
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
    assert "every source row is accounted for" in text and "数据迁移" not in text


def test_links_point_at_business_pages_only(run) -> None:
    """Splink's viewers and executed notebooks hold raw personal data: never linked for business."""
    ctx, con = run
    links = find_links(ctx.paths.root)
    assert "profile" not in links and "splink" not in links
    text = write_summary_report(ctx, con, language="en").read_text(encoding="utf-8")
    assert 'href="../datadocs/index.html"' in text
    assert 'href="../tables/dispositions.csv"' in text
    assert "splink/" not in text and "html/" not in text.replace("text/html", "")
    assert "Profile report — <em>not produced in this run</em>" in text
    assert set(LINK_CANDIDATES) == {"profile", "datadocs", "sample", "match_review", "dispositions"}


def test_personal_data_is_not_shown(run) -> None:
    ctx, con = run
    text = write_summary_report(ctx, con).read_text(encoding="utf-8")
    assert "13800138001" not in text and "91440000MA5D8XYZ1X" not in text


def test_no_hashes_and_yes_no_in_the_reader_s_language(run) -> None:
    ctx, con = run
    text = write_summary_report(ctx, con).read_text(encoding="utf-8")
    checksums = con.sql("select golden_checksum, file_checksum from reconciliation_checksums").fetchall()
    assert checksums and not any(h in text for row in checksums for h in row if h)
    assert ">True<" not in text and ">False<" not in text and ">是<" in text


def test_key_figures_come_from_the_reconciliation(run) -> None:
    ctx, con = run
    text = write_summary_report(ctx, con, language="en").read_text(encoding="utf-8")
    assert '<div class="v">12</div><div class="k">Source rows</div>' in text.replace("\n", "")
    assert "Plan: target accuracy 99.00% at 95% confidence" in text
