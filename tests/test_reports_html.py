"""The shared offline HTML page builder: escaping, tables, figures, determinism, offline check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench.presentation.charts import FONT_FAMILY, setup_notebook
from workbench.presentation.reports.html import (
    Figure,
    HtmlReport,
    KeyFigures,
    RawHtml,
    Table,
    Text,
    find_external_references,
)


def _figure(label: str) -> go.Figure:
    return go.Figure(go.Bar(x=[label], y=[1]))


def _report(language: str = "zh") -> HtmlReport:
    report = HtmlReport("画像 <报告>", language=language, subtitle="运行 r1")
    report.add_section(
        "概览",
        Text("**完整率** 很低 <script>alert(1)</script>\n\n- 一\n- 二"),
        KeyFigures([("行数", 1234567), ("比率", 0.25)]),
        Table(
            pd.DataFrame({"字段": ["<b>名称</b>", "电话"], "率": [0.5, None]}),
            caption="字段表",
            formats={"率": "{:.1%}"},
        ),
    )
    report.add_section("图表", Figure(_figure("甲"), caption="第一张"), Figure(_figure("乙")))
    return report


def test_page_is_utf8_cjk_and_escaped():
    page = _report().render()
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert '<html lang="zh-CN">' in page and "目录" in page
    assert FONT_FAMILY in page and "Noto Sans CJK SC" in FONT_FAMILY
    assert "<title>画像 &lt;报告&gt;</title>" in page
    assert "<strong>完整率</strong>" in page and "<li>一</li>" in page  # markdown rendered
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "&lt;b&gt;名称&lt;/b&gt;" in page  # table cells escaped
    table = page.split('<table class="dataframe wb-table">', 1)[1].split("</table>", 1)[0]
    # short cells never wrap (class nw), numbers are right-aligned (class num)
    assert '<td class="num">50.0%</td>' in table and '<td class="nw"></td>' in table and "nan" not in table
    assert "1,234,567" in page


def test_plotly_js_is_inlined_once_and_nothing_is_external():
    page = _report().render()
    assert page.count("plotly.js v") == 1  # the bundle, not one copy per figure
    assert page.count('class="plotly-graph-div"') == 2
    assert "cdn.plot.ly/plotly" not in page and '<script src="http' not in page
    assert find_external_references(page) == []
    assert '"displaylogo": false' in page


def test_render_is_deterministic_and_english_labels():
    assert _report().render() == _report().render()
    english = _report("en").render()
    assert '<html lang="en">' in english and "Contents" in english


def test_table_truncation_collapse_and_empty():
    report = HtmlReport("t", language="en", toc=False)
    big = pd.DataFrame({"n": range(30)})
    report.add_section("s", Table(big, max_rows=10, caption="numbers", collapsed=True), Table(big.head(0)))
    page = report.render()
    assert "Showing the first 10 of 30 rows" in page
    assert "<details><summary>numbers</summary>" in page
    assert "(no rows)" in page
    assert '<nav class="wb-toc">' not in page


def test_raw_html_and_section_add():
    report = HtmlReport("t", language="en")
    section = report.add_section("a", level=3)
    section.add(RawHtml('<p id="mine">kept</p>'))
    assert '<p id="mine">kept</p>' in report.render() and "<h3>a</h3>" in report.render()
    with pytest.raises(ValueError, match="level"):
        report.add_section("b", level=1)


def test_write_is_atomic_and_creates_folders(tmp_path: Path):
    path = _report().write(tmp_path / "deep" / "r.html")
    assert path.read_text(encoding="utf-8") == _report().render()
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]  # no temporary file left


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="language 'fr'"):
        HtmlReport("t", language="fr")


def test_caller_figure_is_not_changed():
    fig = _figure("x")
    report = HtmlReport("t", language="en")
    report.add_section("s", Figure(fig, height=300))
    report.render()
    assert fig.layout.height is None and fig.layout.font.family is None


@pytest.mark.parametrize(
    ("page", "found"),
    [
        ('<script src="https://cdn.example.com/x.js"></script>', 1),
        ('<link rel="stylesheet" href="//fonts.example.com/a.css">', 1),
        ('<img srcset="a.png 1x, https://x.example/b.png 2x">', 1),
        ('<div style="background: url(http://x.example/bg.png)"></div>', 1),
        ('<style>@import url("https://fonts.example.com/css");</style>', 1),
        ("<style>@import 'https://fonts.example.com/css';</style>", 1),
        ('<a href="#sec-1">in page</a><a href="profile.html">relative</a>', 0),
        ('<script>var u = "https://cdn.plot.ly/un/";</script>', 0),  # text in a script loads nothing
    ],
)
def test_find_external_references(page: str, found: int):
    assert len(find_external_references(f"<html><body>{page}</body></html>")) == found


def test_setup_notebook_sets_offline_renderers():
    import plotly.io as pio

    before = pio.renderers.default, pio.renderers["notebook"]
    try:
        assert setup_notebook() == "plotly_mimetype+notebook"
        assert pio.renderers.default == "plotly_mimetype+notebook"
        notebook = pio.renderers["notebook"]
        assert notebook.config["displaylogo"] is False
        bundle = notebook.to_mimebundle(_figure("甲").to_dict())
        html = bundle["text/html"]
        assert "plotly-graph-div" in html and find_external_references(html) == []  # no MathJax CDN
        assert "plotly.js v" not in html  # plotly.js comes once, when the renderer is activated
    finally:
        pio.renderers.default, pio.renderers["notebook"] = before


def test_table_with_repeated_headers_and_missing_values():
    df = pd.DataFrame([["a", None, 1], ["b", "x", 2]], columns=["k", "v", "v"])
    report = HtmlReport("t", language="en")
    report.add_section("s", Table(df))
    page = report.render()
    assert "None" not in page and '<td class="nw">x</td>' in page
