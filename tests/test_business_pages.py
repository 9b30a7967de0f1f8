"""Every page business is sent to, checked in headless Chromium on a demo run (issues 13 §5 and 16).

One demo run (300 customers, through the export) is profiled, validated, reconciled and sampled;
the summary, the profile, the Data Docs index and a failing suite's page are written in Chinese and
English and opened in Chromium. Screenshots go into the run folder (``reports/screenshots/``).
Each page: no console error, no request off the machine, Chinese rendered with a CJK font, its
sections and charts there, no raw phone, e-mail, USCC or person name of the demo, and (Chinese
pages) no field identifier in the text a reader sees; the statuses of the index, each suite page
and the summary agree.
"""

from __future__ import annotations

import re

import pytest
from validation_fixtures import build_demo_run

from workbench.presentation.browser import PAGE_PROBES, find_chromium, render_page

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")

PAGES = ("summary", "profile", "datadocs", "failing_suite")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from workbench.core.monitoring.history import record_run_metrics
    from workbench.core.profiling import profile_sources
    from workbench.core.validation import business_sample, reconcile_run, validate_run
    from workbench.presentation.reports.datadocs import page_name, publish_data_docs, suite_table
    from workbench.presentation.reports.profile_report import build_profile_report, write_profile_report
    from workbench.presentation.reports.summary import write_summary_report
    from workbench.presentation.workbooks.business_sample import write_business_sample_workbook

    ctx = build_demo_run(tmp_path_factory.mktemp("pages"))
    en = ctx.paths.reports / "en"
    con = ctx.connect()
    try:
        profile_sources(ctx, con)
        pages = {("profile", "zh"): write_profile_report(ctx, con)}
        pages[("profile", "en")] = build_profile_report(ctx, con, language="en").write(en / "profile.html")
        outcome = validate_run(ctx, con)
        pages[("datadocs", "zh")] = publish_data_docs(outcome, ctx, con)
        pages[("datadocs", "en")] = publish_data_docs(outcome, ctx, con, language="en", folder=en / "datadocs")
        table = suite_table(outcome.results).sort_values("status", key=lambda s: s.map({"fail": 0, "warn": 1, "ok": 2}))
        failing = table["suite"].iloc[0]  # a suite with failed rules (of severity error, if any)
        assert table["status"].iloc[0] != "ok"
        pages[("failing_suite", "zh")] = ctx.paths.datadocs / page_name(failing)
        pages[("failing_suite", "en")] = en / "datadocs" / page_name(failing)
        reconcile_run(con, ctx.config, ctx.paths.root)
        business_sample(ctx, con, write_sheet=write_business_sample_workbook)
        record_run_metrics(ctx, con)
        pages[("summary", "zh")] = write_summary_report(ctx, con, language="zh")
        pages[("summary", "en")] = write_summary_report(ctx, con, language="en", path=en / "summary.html")
        pii = _demo_pii(con)
    finally:
        con.close()
    shots = ctx.paths.reports / "screenshots"
    checks = {key: render_page(path, shots / f"{key[0]}_{key[1]}.png", evaluate=PAGE_PROBES)
              for key, path in pages.items()}
    return ctx, outcome, pages, checks, pii


def _demo_pii(con) -> dict[str, set[str]]:
    """Raw personal data of the demo: phones, e-mails, USCCs, contact names, B2C customer names."""
    def values(sql: str) -> set[str]:
        return {str(v).strip() for (v,) in con.execute(sql).fetchall() if v is not None and str(v).strip()}

    phones = values("SELECT mobile_raw FROM std_customers UNION SELECT phone_raw FROM std_customers")
    def name_like(v: str) -> bool:  # a name, not a placeholder such as "test": 2+ ideographs, or first + last
        return len(re.findall(r"[\u4e00-\u9fff]", v)) >= 2 or bool(re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)+", v))

    return {
        "phone": {p for p in phones if sum(c.isdigit() for c in p) >= 8},
        "email": {e for e in values("SELECT email_raw FROM std_customers") if "@" in e},
        "uscc": {u for u in values("SELECT uscc_raw FROM std_customers") if len(u) >= 15},
        "person": {n for n in values("SELECT contact_name_raw FROM std_customers")
                   | values("SELECT customer_name_raw FROM std_customers WHERE customer_type = 'B2C'")
                   | values("SELECT short_name_raw FROM std_customers WHERE customer_type = 'B2C'") if name_like(n)},
    }


def test_every_page_opens_offline_without_errors_and_is_screenshotted(demo) -> None:
    ctx, _, pages, checks, _ = demo
    assert len(checks) == 2 * len(PAGES)
    for key, check in checks.items():
        assert check.ok, check.describe()
        assert check.external_requests == [] and check.console_errors == [], key
        assert check.screenshot is not None and check.screenshot.stat().st_size > 10_000, key
        assert check.screenshot.parent == ctx.paths.reports / "screenshots"
        assert check.values["cjk_rendered"] is True, key  # the demo's Chinese names draw as glyphs


def test_the_expected_sections_and_charts_are_there(demo) -> None:
    _, _, _, checks, _ = demo
    summary = checks[("summary", "zh")].values
    for title in ("概览", "导入模板注意事项", "报告链接", "技术校验", "匹配（识别重复客户）", "逻辑校验", "批次计划"):
        assert title in summary["text"], title
    assert "请与贵公司系统当前版本的导入模板逐列核对" in summary["text"]  # the SAP/U8 caution
    assert "候选对按模型匹配概率" in summary["chart_text"] and "主记录按成员数" in summary["chart_text"]
    assert summary["charts"] >= 4
    english = checks[("summary", "en")].values
    assert "Cautions about the import templates" in english["text"] and english["charts"] >= 4
    profile = checks[("profile", "zh")].values
    for title in ("提示：值得注意的字段", "缺失相关性", "字段分布：erp", "来源之间的共有键"):
        assert title in profile["text"], title
    assert profile["charts"] >= 20  # a distribution chart per field, heatmaps, overlaps
    assert "无数据" not in profile["chart_text"]  # no empty chart
    for lang in ("zh", "en"):
        assert checks[("datadocs", lang)].values["statuses"], lang
        assert checks[("failing_suite", lang)].values["page_status"] in ("fail", "warn")


def test_statuses_agree_between_index_pages_and_summary(demo) -> None:
    from workbench.presentation.reports.datadocs import page_name, suite_status

    ctx, outcome, pages, checks, _ = demo
    for lang in ("zh", "en"):
        index = checks[("datadocs", lang)].values["statuses"]
        assert index == checks[("summary", lang)].values["statuses"]
        folder = pages[("datadocs", lang)].parent
        for suite, status in index.items():
            page = (folder / page_name(suite)).read_text(encoding="utf-8")
            assert f'id="wb-suite-status" data-status="{status}"' in page, (lang, suite)
            assert suite_status(outcome.results[outcome.results["suite"] == suite]) == status
    assert "warn" in index.values() and "ok" in index.values()


def _whole(values: set[str], before: str, after: str) -> re.Pattern[str]:
    """One pattern finding any of `values` as a whole value (not inside a longer run of `before`/`after`)."""
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<!{before})(?:{alternatives})(?!{after})")


def test_no_raw_personal_data_on_any_business_page(demo) -> None:
    _, _, pages, _, pii = demo
    assert all(pii.values()), {k: len(v) for k, v in pii.items()}
    patterns = {  # a digit run inside 0.1111… is not a phone; a name inside a longer name is not it
        "phone": _whole(pii["phone"], r"[\w.@]", r"[\w@]"),
        "email": _whole(pii["email"], r"[\w.@]", r"[\w@]"),
        "uscc": _whole(pii["uscc"], r"[\w.@]", r"[\w@]"),
        "person": _whole(pii["person"], r"[\w\u4e00-\u9fff]", r"[\w\u4e00-\u9fff]"),
    }
    for key, path in pages.items():
        html = path.read_text(encoding="utf-8")
        for kind, pattern in patterns.items():
            found = sorted(set(pattern.findall(html)))
            assert not found, (key, kind, found[:5])


def test_chinese_pages_show_no_field_identifiers(demo) -> None:
    ctx, _, _, checks, _ = demo
    fields = sorted(ctx.config.field_kinds())
    word = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, fields)) + r")(?![A-Za-z0-9_])")
    for page in PAGES:
        values = checks[(page, "zh")].values
        found = sorted(set(word.findall(values["text"] + "\n" + values["chart_text"])))
        assert not found, (page, found)


def test_the_summary_links_no_analyst_page(demo) -> None:
    _, _, pages, _, _ = demo
    for lang in ("zh", "en"):
        html = pages[("summary", lang)].read_text(encoding="utf-8")
        links = re.findall(r'href="([^"#]+)"', html)
        assert links and not [h for h in links if h.split("/")[1:2] in (["splink"], ["html"], ["analyst"])], links
