"""Real headless Chromium: pages render with no console errors, nothing leaves the machine, screenshots.

Skipped when Chromium is not installed (CI installs it with `apt-get install chromium`).
"""

from __future__ import annotations

import pandas as pd
import pytest
from validation_fixtures import build_run_tables, golden_frame, make_config, write_generic_load_files

from workbench.core.validation.reconcile import reconcile_run
from workbench.core.validation.sampling import sample_masters
from workbench.engine.connection import connect
from workbench.presentation.browser import check_run_pages, find_chromium, render_page
from workbench.presentation.reports.summary import write_summary_report
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium is not installed (apt-get install chromium); browser checks skipped",
)


def test_clean_page_has_no_errors_and_gives_a_screenshot(tmp_path) -> None:
    page = tmp_path / "ok.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>好</title></head>'
        "<body><h1>客户主数据</h1><script>document.title = 'ok';</script></body></html>",
        encoding="utf-8",
    )
    check = render_page(page, tmp_path / "ok.png", settle_seconds=0.2)
    assert check.ok, check.describe()
    assert check.title == "ok"
    assert (tmp_path / "ok.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_and_external_requests_are_caught(tmp_path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title>'
        '<script src="https://cdn.example.invalid/lib.js"></script></head><body>'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    check = render_page(page, settle_seconds=0.3)
    assert not check.ok
    assert any("boom" in e for e in check.console_errors)
    assert any("undefinedFunction" in e for e in check.console_errors)
    assert check.external_requests == ["https://cdn.example.invalid/lib.js"]


def test_run_summary_renders_cleanly_in_chromium(tmp_path) -> None:
    config = make_config(tmp_path, language="zh")
    root = tmp_path / "runs" / "r1"
    ctx = RunContext(config, RunPaths(root).ensure())
    con = connect()
    try:
        build_run_tables(con)
        write_generic_load_files(root, golden_frame(), con.sql("select * from load_rows").df())
        reconcile_run(con, config, root)
        sample_masters(con, config.report.sampling, config.project.seed)
        history = pd.DataFrame(
            {
                "run_id": ["r0", "r1"],
                "metric": ["match_rate"] * 2,
                "scope": ["match"] * 2,
                "field": [""] * 2,
                "value": [0.5, 0.6],
            }
        )
        write_summary_report(ctx, con, history=history)
    finally:
        con.close()
    checks = check_run_pages(ctx)
    assert len(checks) == 1
    assert checks[0].ok, checks[0].describe()
    assert (ctx.paths.reports / "summary.png").stat().st_size > 10_000
