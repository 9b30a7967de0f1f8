"""The audit & profile report of a run: ``<run>/reports/profile.html``.

This module owns that page. It reads only what the ingest and audit stages persisted (the
``ingest_summary``, ``quarantine`` and ``profile_*`` tables of the run database), so it can be
rebuilt at any time, and writes one self-contained offline HTML file (see
:mod:`workbench.presentation.reports.html`) in the project's language. Personal data (phones, e-mails, tax
IDs … as set in ``report.masking``) is masked in everything the page shows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.ingest import quarantine_reasons, read_ingest_summary, read_quarantine
from workbench.core.masking import mask_customer_names, mask_series
from workbench.core.profiling import ProfileResult, read_profile_tables
from workbench.core.profiling.alerts import profile_alerts
from workbench.core.profiling.distributions import missing_correlations, value_histograms
from workbench.engine.catalog import staged
from workbench.engine.connection import table_exists
from workbench.engine.files import read_data_file
from workbench.errors import WorkbenchError
from workbench.presentation.charts import profile as charts
from workbench.presentation.labels import TYPE_LABELS, kind_label
from workbench.presentation.reports.html import Figure, HtmlReport, KeyFigures, Table, Text, check_language
from workbench.project.settings.report import MaskingSettings, ProfileSettings

if TYPE_CHECKING:
    import duckdb

    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

REPORT_NAME = "profile.html"

PATTERN_CHART_KINDS: tuple[str, ...] = ("phone", "email", "tax_id", "postcode", "date")
"""Fields of these kinds get a pattern chart in the report (the shapes that matter for loading)."""

MAX_DETAIL_ROWS = 200
"""Rows shown in the detail tables (quarantined rows, duplicate keys); the rest stays in the DB."""

TOP_VALUES_CHART_MAX_DISTINCT = 30
"""A field with at most this many distinct values gets a chart of its values, others a histogram."""
REASONS_FILE = Path(__file__).parent / "data" / "quarantine_reasons.yaml"

LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "数据审计与画像报告",
        "subtitle": "项目：{project} · 运行：{run}",
        "overview": "概览",
        "intro": (
            "本报告汇总迁移前的源数据状况：各来源读取与隔离的行数、每个字段的完整率、格式分布、"
            "高频值、来源内重复编号，以及来源之间共有的电话、邮箱和税号。"
            "所有数字都可在运行数据库中追溯（表 `ingest_summary`、`quarantine`、`profile_*`）。"
        ),
        "masked_note": "个人信息（{kinds}）已部分遮盖。",
        "sources": "来源数",
        "file_rows": "文件行数",
        "staged_rows": "入库行数",
        "quarantined_rows": "隔离行数",
        "columns_profiled": "画像字段数",
        "duplicate_ids": "重复编号",
        "ingest": "读取与隔离",
        "ingest_text": "每个来源：文件行数 = 入库行数 + 隔离行数（balanced 列为真）。",
        "quarantine_reasons": "隔离原因",
        "quarantine_rows": "隔离行明细（前 {n} 行）",
        "raw_hidden": "遮盖开启时不显示隔离行的原始文本；请在运行数据库的 `quarantine` 表中查看。",
        "completeness": "完整率",
        "completeness_text": "缺失 = 空值（单元格为空）+ 空白（只有空格）。仅包括配置中映射的字段。",
        "source_profile": "来源画像：{source}",
        "column_table": "字段画像",
        "pattern_legend": (
            "格式掩码：数字 → `9`，拉丁字母 → `A`/`a`，汉字 → `汉`，空白 → `_`，全角数字/字母 → "
            "`９`/`Ａ`/`ａ`，其他字母 → `L`，标点保持不变。"
        ),
        "duplicates": "来源内重复",
        "duplicates_text": (
            "重复编号：同一来源中多行使用同一客户编号。完全重复行：所有单元格完全相同的行（按行哈希）。"
        ),
        "duplicate_detail": "重复明细（前 {n} 行）",
        "overlaps": "来源之间的共有键",
        "overlaps_text": (
            "电话、邮箱、税号经过轻度规范化（电话只保留数字并去掉项目所在地区的国家码，如 86；邮箱小写；税号大写并去掉空格和连字符），"
            "一个单元格中的多个号码会拆开。对角线为各来源的去重键数，其他格为共有键数，颜色为 Jaccard 系数。"
        ),
        "no_overlaps": "没有可比较的电话、邮箱或税号字段。",
        "no_duplicates": "没有发现重复编号或完全重复行。",
        "phone": "电话",
        "email": "邮箱",
        "tax_id": "税号",
        "none": "无",
        # column headers
        "source": "来源",
        "field": "字段",
        "header": "原列名",
        "kind": "类型",
        "inferred_type": "推断类型",
        "rows": "行数",
        "null_rate": "空值率",
        "blank_rate": "空白率",
        "fill_rate": "完整率",
        "distinct": "不同值",
        "length": "长度 最小/平均/最大",
        "min_value": "最小值",
        "max_value": "最大值",
        "patterns": "格式数",
        "top_values": "高频值",
        "top_patterns": "高频格式",
        "file": "文件",
        "format": "格式",
        "encoding": "编码",
        "balanced": "平衡",
        "row_number": "行号",
        "reason": "原因",
        "raw_text": "原始文本",
        "check": "检查",
        "key": "键",
        "row_numbers": "所在行号",
        "rows_with_duplicate_id": "涉及行数",
        "duplicate_row_groups": "完全重复组",
        "surplus_duplicate_rows": "多余副本",
        "key_kind": "键类型",
        "source_a": "来源 A",
        "source_b": "来源 B",
        "fields_a": "字段 A",
        "fields_b": "字段 B",
        "keys_a": "键数 A",
        "keys_b": "键数 B",
        "shared_keys": "共有键",
        "jaccard": "Jaccard",
        "duplicate_id": "重复编号",
        "duplicate_row": "完全重复行",
        "alerts": "提示：值得注意的字段",
        "alerts_text": "与 ydata-profiling 的提示同类：全空、缺失多、常量、全部不同、取值种类过多、格式混杂、类型混杂、空白单元格、重复编号和完全重复行。阈值在配置 report.profile 中。",
        "no_alerts": "没有提示。",
        "alert": "提示",
        "severity": "级别",
        "value": "数值",
        "warning": "警告",
        "info": "信息",
        "alerts_n": "提示数",
        "alert_names": {
            "all_missing": "全部为空",
            "high_missing": "缺失多",
            "constant": "只有一个取值",
            "unique": "取值全部不同",
            "high_cardinality": "取值种类过多",
            "mixed_formats": "格式混杂",
            "mixed_types": "类型混杂（部分是数字或日期）",
            "blanks": "有只含空格的单元格",
            "duplicate_ids": "重复编号",
            "duplicate_rows": "完全重复行",
        },
        "missing_corr": "缺失相关性",
        "missing_corr_text": "两个字段的缺失是否同时出现（phi 系数，1 = 总是同时缺失，−1 = 从不同时缺失）。下表列出绝对值不低于 {min} 的字段对。",
        "field_a": "字段 A",
        "field_b": "字段 B",
        "correlation": "相关系数",
        "missing_a": "缺失率 A",
        "missing_b": "缺失率 B",
        "distributions": "字段分布：{source}",
        "field_map": "字段对照（技术名称）",
        "tech_field": "技术字段名",
    },
    "en": {
        "title": "Audit & profile report",
        "subtitle": "Project: {project} · run: {run}",
        "overview": "Overview",
        "intro": (
            "This report shows the state of the source data before migration: rows read and "
            "quarantined per source, the completeness of every field, value patterns, frequent "
            "values, duplicate IDs within a source, and the phones, e-mails and tax IDs that "
            "sources share. Every figure can be traced in the run database (tables "
            "`ingest_summary`, `quarantine`, `profile_*`)."
        ),
        "masked_note": "Personal data ({kinds}) is partly masked.",
        "sources": "Sources",
        "file_rows": "File rows",
        "staged_rows": "Staged rows",
        "quarantined_rows": "Quarantined rows",
        "columns_profiled": "Columns profiled",
        "duplicate_ids": "Duplicate IDs",
        "ingest": "Ingest and quarantine",
        "ingest_text": "For every source: file rows = staged rows + quarantined rows (column balanced).",
        "quarantine_reasons": "Quarantine reasons",
        "quarantine_rows": "Quarantined rows (first {n})",
        "raw_hidden": "The raw text of quarantined rows is hidden while masking is on; see table `quarantine` in the run database.",
        "completeness": "Completeness",
        "completeness_text": "Missing = NULL (empty cell) + blank (spaces only). Mapped fields only.",
        "source_profile": "Source profile: {source}",
        "column_table": "Column profile",
        "pattern_legend": (
            "Pattern masks: digit → `9`, Latin letter → `A`/`a`, Chinese character → `汉`, "
            "whitespace → `_`, full-width digit/letter → `９`/`Ａ`/`ａ`, other letters → `L`; "
            "punctuation is kept."
        ),
        "duplicates": "Duplicates within sources",
        "duplicates_text": (
            "Duplicate IDs: several rows of one source carry the same customer ID. Identical rows: "
            "rows whose cells are all the same (same row hash)."
        ),
        "duplicate_detail": "Duplicate details (first {n})",
        "overlaps": "Keys shared between sources",
        "overlaps_text": (
            "Phones, e-mails and tax IDs are lightly normalised (phones: digits only, the project "
            "region's country code removed; e-mails lower case; tax IDs upper case without spaces "
            "or hyphens) and cells "
            "holding several numbers are split. The diagonal shows each source's distinct keys, the "
            "other cells the shared keys; the colour is the Jaccard index."
        ),
        "no_overlaps": "No phone, e-mail or tax ID fields to compare.",
        "no_duplicates": "No duplicate IDs and no identical rows were found.",
        "phone": "phone",
        "email": "e-mail",
        "tax_id": "tax ID",
        "none": "none",
        "source": "Source",
        "field": "Field",
        "header": "Header",
        "kind": "Kind",
        "inferred_type": "Inferred type",
        "rows": "Rows",
        "null_rate": "NULL",
        "blank_rate": "Blank",
        "fill_rate": "Filled",
        "distinct": "Distinct",
        "length": "Length min/avg/max",
        "min_value": "Min value",
        "max_value": "Max value",
        "patterns": "Patterns",
        "top_values": "Top values",
        "top_patterns": "Top patterns",
        "file": "File",
        "format": "Format",
        "encoding": "Encoding",
        "balanced": "Balanced",
        "row_number": "Row",
        "reason": "Reason",
        "raw_text": "Raw text",
        "check": "Check",
        "key": "Key",
        "row_numbers": "Row numbers",
        "rows_with_duplicate_id": "Rows involved",
        "duplicate_row_groups": "Identical-row groups",
        "surplus_duplicate_rows": "Surplus copies",
        "key_kind": "Key kind",
        "source_a": "Source A",
        "source_b": "Source B",
        "fields_a": "Fields A",
        "fields_b": "Fields B",
        "keys_a": "Keys A",
        "keys_b": "Keys B",
        "shared_keys": "Shared",
        "jaccard": "Jaccard",
        "duplicate_id": "duplicate ID",
        "duplicate_row": "identical row",
        "alerts": "Alerts: fields worth a look",
        "alerts_text": "Of the kinds ydata-profiling gives: all missing, high missing, constant, unique, high "
        "cardinality, mixed formats, mixed types, blank cells, duplicate IDs and identical rows. The "
        "thresholds are in the config (report.profile).",
        "no_alerts": "No alerts.",
        "alert": "Alert",
        "severity": "Severity",
        "value": "Value",
        "warning": "warning",
        "info": "info",
        "alerts_n": "Alerts",
        "alert_names": {
            "all_missing": "all missing",
            "high_missing": "high missing",
            "constant": "constant",
            "unique": "unique",
            "high_cardinality": "high cardinality",
            "mixed_formats": "mixed formats",
            "mixed_types": "mixed types (partly numbers or dates)",
            "blanks": "blank cells",
            "duplicate_ids": "duplicate IDs",
            "duplicate_rows": "identical rows",
        },
        "missing_corr": "Missingness correlation",
        "missing_corr_text": "Whether two fields are missing together (phi coefficient: 1 = always missing "
        "together, −1 = never). The table lists the pairs of absolute value {min} or more.",
        "field_a": "Field A",
        "field_b": "Field B",
        "correlation": "Correlation",
        "missing_a": "Missing A",
        "missing_b": "Missing B",
        "distributions": "Distributions: {source}",
        "field_map": "Fields (technical names)",
        "tech_field": "Technical field",
    },
}

_PERCENT = "{:.1%}"


def report_language(ctx: RunContext) -> str:
    """The language of business reports: ``report.language`` if set, else ``project.language``."""
    return getattr(ctx.config.report, "language", None) or ctx.config.project.language


@dataclass
class _Page:
    """What every section of one profile report shares."""

    lab: dict[str, Any]
    lang: str
    profile: ProfileResult
    masking: MaskingSettings
    settings: ProfileSettings
    histograms: pd.DataFrame
    correlations: pd.DataFrame

    def label(self, source: str, field: str) -> str:
        cols = self.profile.columns
        hit = cols[(cols["source"] == source) & (cols["field"] == field)]
        header = hit["header"].iloc[0] if len(hit) else None
        return str(header) if isinstance(header, str) and header else field


def build_profile_report(
    ctx: RunContext, con: duckdb.DuckDBPyConnection, *, language: str | None = None, top_k: int | None = None
) -> HtmlReport:
    """Build (not write) the profile report of a run from its persisted tables.

    Args:
        ctx: the run.
        con: the run database connection.
        language: ``'zh'`` or ``'en'``; default :func:`report_language`.
        top_k: values/patterns shown per column; default all that were saved.
    """
    lang = check_language(language or report_language(ctx))
    lab = LABELS[lang]
    masking: MaskingSettings = ctx.config.report.masking
    settings: ProfileSettings = ctx.config.report.profile
    raw = read_profile_tables(con)
    page = _Page(lab, lang, _masked(raw, masking), masking, settings, *_distributions(con, raw, settings))
    summary = read_ingest_summary(con, ctx.config)
    alerts = profile_alerts(raw, settings)
    report = HtmlReport(
        title=f"{lab['title']} — {ctx.config.project.name}",
        language=lang,
        subtitle=lab["subtitle"].format(project=ctx.config.project.name, run=ctx.run_id),
    )
    _overview(report, page, summary, alerts)
    _alerts(report, page, alerts)
    _ingest(report, page, con, summary)
    _completeness(report, page)
    for source in dict.fromkeys(page.profile.columns["source"]):
        _source_section(report, page, str(source), top_k)
    _duplicates(report, page)
    _overlaps(report, page)
    return report


def write_profile_report(
    ctx: RunContext, con: duckdb.DuckDBPyConnection, path: str | Path | None = None
) -> Path:
    """Write the run's profile report (atomically) and return its path.

    Args:
        ctx: the run (its config decides the language and the masking).
        con: the run database connection; the audit stage must have run
            (:func:`workbench.core.profiling.profile_sources`).
        path: where to write; default ``<run>/reports/profile.html``.
    """
    target = Path(path) if path is not None else ctx.paths.reports / REPORT_NAME
    build_profile_report(ctx, con).write(target)
    log.info("wrote the profile report %s", target)
    return target


def _distributions(
    con: duckdb.DuckDBPyConnection, profile: ProfileResult, settings: ProfileSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Value histograms and missingness correlations of every staged source (whole tables, in SQL)."""
    hist, corr = [], []
    for source, cols in profile.columns.groupby("source", sort=False):
        table = staged(str(source))
        if not table_exists(con, table):
            continue
        types = dict(zip(cols["field"], cols["inferred_type"], strict=True))
        hist.append(value_histograms(con, table, types, bins=settings.histogram_bins).assign(source=source))
        mapped = cols[cols["mapped"].fillna(False).astype(bool)]["field"].tolist()
        corr.append(missing_correlations(con, table, mapped).assign(source=source))
    empty_h = pd.DataFrame(columns=["field", "measure", "bin", "lower", "upper", "count", "source"])
    empty_c = pd.DataFrame(columns=["field_a", "field_b", "correlation", "missing_a", "missing_b", "source"])
    hist = [h for h in hist if len(h)]
    corr = [c for c in corr if len(c)]
    return (pd.concat(hist, ignore_index=True) if hist else empty_h,
            pd.concat(corr, ignore_index=True) if corr else empty_c)


# --------------------------------------------------------------------------------------------
# sections


def _overview(report: HtmlReport, page: _Page, summary: pd.DataFrame, alerts: pd.DataFrame) -> None:
    lab, masking, profile = page.lab, page.masking, page.profile
    text = lab["intro"]
    if masking.enabled:
        kinds = ", ".join(kind_label(k, page.lang) for k in masking.kinds)
        text += " " + lab["masked_note"].format(kinds=kinds)
    report.add_section(
        lab["overview"],
        Text(text),
        KeyFigures(
            [
                (lab["sources"], len(summary)),
                (lab["file_rows"], int(summary["file_rows"].sum())),
                (lab["staged_rows"], int(summary["staged_rows"].sum())),
                (lab["quarantined_rows"], int(summary["quarantined_rows"].sum())),
                (lab["columns_profiled"], len(profile.columns)),
                (lab["duplicate_ids"], int(profile.duplicate_summary["duplicate_ids"].sum())),
                (lab["alerts_n"], int((alerts["severity"] == "warning").sum())),
            ]
        ),
    )


def _alerts(report: HtmlReport, page: _Page, alerts: pd.DataFrame) -> None:
    lab = page.lab
    section = report.add_section(lab["alerts"], Text(lab["alerts_text"]))
    if alerts.empty:
        section.add(Text(lab["no_alerts"]))
        return
    order = {"warning": 0, "info": 1}
    shown = alerts.sort_values("severity", key=lambda s: s.map(order), kind="mergesort")

    def value(r: Any) -> str:
        return f"{r.value:.1%}" if r.alert in ("high_missing", "mixed_formats", "mixed_types") else f"{int(r.value):,}"

    table = pd.DataFrame({
        "source": shown["source"],
        "field": [page.label(s, f) if f else "" for s, f in zip(shown["source"], shown["field"], strict=True)],
        "alert": shown["alert"].map(lambda a: lab["alert_names"].get(a, a)),
        "severity": shown["severity"].map(lambda v: lab.get(v, v)),
        "value": [value(r) for r in shown.itertuples(index=False)],
    })
    section.add(Table(_headers(table, lab), max_rows=None))


def _reason_texts(language: str) -> list[tuple[re.Pattern[str], str]]:
    rows = read_data_file(REASONS_FILE, WorkbenchError, what="quarantine reason texts")
    return [(re.compile(str(r["pattern"])), str(r.get(language) or "")) for r in rows or []]


def translate_reason(reason: str, language: str) -> str:
    """A quarantine reason in the reader's language (as recorded when no pattern knows it)."""
    for pattern, text in _reason_texts(language):
        m = pattern.fullmatch(str(reason))
        if m and text:
            return text.format(**{k: v or "" for k, v in m.groupdict().items()})
    return str(reason)


def _ingest(report: HtmlReport, page: _Page, con: duckdb.DuckDBPyConnection, summary: pd.DataFrame) -> None:
    lab, lang, masking = page.lab, page.lang, page.masking
    section = report.add_section(
        lab["ingest"],
        Text(lab["ingest_text"]),
        Table(_headers(summary, lab)),
        Figure(charts.figure_row_counts(summary, lang)),
    )
    reasons = quarantine_reasons(con)
    if reasons.empty:
        return
    reasons = reasons.assign(reason=reasons["reason"].map(lambda r: translate_reason(r, lang)))
    section.add(Table(_headers(reasons, lab), caption=lab["quarantine_reasons"]))
    rows = read_quarantine(con, limit=MAX_DETAIL_ROWS)
    rows = rows.assign(reason=rows["reason"].map(lambda r: translate_reason(r, lang)))
    if masking.enabled:
        rows = rows.drop(columns=["raw_text"])
        section.add(Text(lab["raw_hidden"]))
    section.add(
        Table(
            _headers(rows, lab),
            caption=lab["quarantine_rows"].format(n=MAX_DETAIL_ROWS),
            collapsed=True,
        )
    )


def _completeness(report: HtmlReport, page: _Page) -> None:
    lab, lang, cols = page.lab, page.lang, page.profile.columns
    labels = {f: page.label(s, f) for s, f in zip(cols["source"], cols["field"], strict=True)}
    section = report.add_section(
        lab["completeness"],
        Text(lab["completeness_text"]),
        Figure(charts.figure_missing_heatmap(cols, lang, labels=labels)),
        Figure(charts.figure_completeness(cols, lang, labels=labels)),
    )
    corr = page.correlations
    if corr.empty:
        return
    section.add(Text(lab["missing_corr_text"].format(min=page.settings.missing_correlation_min)))
    for source in dict.fromkeys(corr["source"]):
        part = corr[corr["source"] == source]
        if part["correlation"].notna().any():
            names = {f: page.label(str(source), f) for f in [*part["field_a"], *part["field_b"]]}
            section.add(Figure(charts.figure_missing_correlation(corr, str(source), lang, labels=names)))
    strong = corr[corr["correlation"].abs() >= page.settings.missing_correlation_min]
    if len(strong):
        table = strong.assign(
            field_a=[page.label(s, f) for s, f in zip(strong["source"], strong["field_a"], strict=True)],
            field_b=[page.label(s, f) for s, f in zip(strong["source"], strong["field_b"], strict=True)],
        )[["source", "field_a", "field_b", "correlation", "missing_a", "missing_b"]]
        formats = {"correlation": "{:.2f}", "missing_a": _PERCENT, "missing_b": _PERCENT}
        section.add(Table(_headers(table, lab), formats=_headers_map(formats, lab), max_rows=None))


def _column_table(page: _Page, cols: pd.DataFrame, source: str, top_k: int | None) -> pd.DataFrame:
    profile, lang = page.profile, page.lang
    typed = cols["inferred_type"].isin(["integer", "decimal", "date"]) & ~cols["kind"].isin(page.masking.kinds)
    return pd.DataFrame(
        {
            "header": cols["header"],
            "kind": cols["kind"].map(lambda k: kind_label(k, lang)),
            "inferred_type": cols["inferred_type"].map(lambda t: TYPE_LABELS[lang].get(str(t), str(t))),
            "rows": cols["rows"],
            "null_rate": cols["null_rate"],
            "blank_rate": cols["blank_rate"],
            "fill_rate": cols["fill_rate"],
            "distinct": cols["distinct"],
            "length": [
                "" if pd.isna(lo) else f"{int(lo)} / {avg:.1f} / {int(hi)}"
                for lo, avg, hi in zip(cols["min_length"], cols["avg_length"], cols["max_length"], strict=True)
            ],
            # min/max of text order letters, not values: shown for numbers and dates only
            "min_value": cols["min_value"].where(typed, None),
            "max_value": cols["max_value"].where(typed, None),
            "patterns": cols["patterns"],
            "top_values": _top_summary(profile.top_values, source, "value", top_k, cols["field"]),
            "top_patterns": _top_summary(profile.patterns, source, "pattern", top_k, cols["field"]),
        }
    )


def _field_figure(page: _Page, source: str, r: Any) -> Figure | None:
    """One chart per field: its values when few, else its histogram (numbers, dates, lengths)."""
    label = page.label(source, str(r.field))
    if r.inferred_type == "empty":
        return None
    if int(r.distinct or 0) <= TOP_VALUES_CHART_MAX_DISTINCT:
        return Figure(charts.figure_top_values(page.profile.top_values, source, str(r.field), page.lang, label=label))
    if r.kind in PATTERN_CHART_KINDS:
        return Figure(charts.figure_patterns(page.profile.patterns, source, str(r.field), page.lang, label=label))
    return Figure(charts.figure_histogram(page.histograms, source, str(r.field), page.lang, label=label,
                                          inferred=str(r.inferred_type)))


def _source_section(report: HtmlReport, page: _Page, source: str, top_k: int | None) -> None:
    lab = page.lab
    cols = page.profile.columns[page.profile.columns["source"] == source]
    table = _column_table(page, cols, source, top_k)
    formats = {c: _PERCENT for c in ("null_rate", "blank_rate", "fill_rate")}
    formats.update({c: "{:,}" for c in ("rows", "distinct", "patterns")})
    report.add_section(
        lab["source_profile"].format(source=source),
        Table(_headers(table, lab), caption=lab["column_table"], max_rows=None, formats=_headers_map(formats, lab)),
        Text(lab["pattern_legend"]),
        Table(_headers(pd.DataFrame({"header": cols["header"], "tech_field": cols["field"]}), lab),
              caption=lab["field_map"], max_rows=None, collapsed=True),
        level=2,
    )
    figures = [f for f in (_field_figure(page, source, r) for r in cols.itertuples(index=False)) if f is not None]
    if figures:
        report.add_section(lab["distributions"].format(source=source), *figures, level=3)


def _duplicates(report: HtmlReport, page: _Page) -> None:
    lab, lang, profile = page.lab, page.lang, page.profile
    summary = profile.duplicate_summary
    section = report.add_section(lab["duplicates"], Text(lab["duplicates_text"]), Table(_headers(summary, lab)))
    if profile.duplicates.empty:
        section.add(Text(lab["no_duplicates"]))
        return
    detail = profile.duplicates.drop(columns=["source_order"], errors="ignore").copy()
    detail["check"] = detail["check"].map(lambda c: lab.get(c, c))
    section.add(
        Figure(charts.figure_duplicates(summary, lang)),
        Table(
            _headers(detail, lab),
            caption=lab["duplicate_detail"].format(n=MAX_DETAIL_ROWS),
            max_rows=MAX_DETAIL_ROWS,
            collapsed=True,
        ),
    )


def _overlaps(report: HtmlReport, page: _Page) -> None:
    lab, lang = page.lab, page.lang
    overlaps = page.profile.overlaps
    if overlaps.empty:
        report.add_section(lab["overlaps"], Text(lab["no_overlaps"]))
        return
    shown = overlaps.drop(columns=["source_order_a", "source_order_b"])
    shown = shown.assign(key_kind=shown["key_kind"].map(lambda k: lab.get(k, k)))
    sep = "、" if lang == "zh" else ", "
    for side in ("fields_a", "fields_b"):
        src = "source_a" if side == "fields_a" else "source_b"
        shown[side] = [
            sep.join(page.label(str(s), f) for f in re.split(r"[;,]\s*", v) if f) if isinstance(v, str) else v
            for s, v in zip(shown[src], shown[side], strict=True)
        ]
    formats: dict[str, Any] = {c: "{:,}" for c in ("keys_a", "keys_b", "shared_keys")}
    formats["jaccard"] = "{:.3f}"
    report.add_section(
        lab["overlaps"],
        Text(lab["overlaps_text"]),
        Figure(charts.figure_key_overlap(overlaps, lang)),
        Table(_headers(shown, lab), formats=_headers_map(formats, lab)),
    )


# --------------------------------------------------------------------------------------------
# helpers


def _headers(df: pd.DataFrame, lab: dict[str, Any]) -> pd.DataFrame:
    return df.rename(columns={c: lab.get(c, c) for c in df.columns})


def _headers_map(formats: dict[str, Any], lab: dict[str, Any]) -> dict[str, Any]:
    return {lab.get(c, c): f for c, f in formats.items()}


def _top_summary(
    df: pd.DataFrame, source: str, label: str, top_k: int | None, fields: pd.Series
) -> list[str]:
    """``value (count)`` summaries of the given fields of one source, in the order of `fields`."""
    part = df[df["source"] == source]
    if top_k is not None:
        part = part[part["rank"] <= top_k]
    out: dict[str, str] = {}
    for f, group in part.sort_values("rank").groupby("field", sort=False):
        out[str(f)] = " | ".join(
            f"{v} ({int(c):,})" for v, c in zip(group[label], group["count"], strict=True)
        )
    return [out.get(str(f), "") for f in fields]


def _masked(profile: ProfileResult, masking: MaskingSettings) -> ProfileResult:
    """The profile with personal data masked in values, examples and min/max (if masking is on).

    A customer name may be a person's (a B2C customer): with ``person_customers`` on, a customer
    name that the customer-name standardizer does not find to be a company's is masked like a
    person's name.
    """
    if not masking.enabled:
        return profile
    wanted = set(masking.kinds)
    kinds = profile.columns[["source", "field", "kind"]]
    kind_of: dict[tuple[str, str], str] = {}
    for r in kinds.itertuples():
        if r.kind in wanted and r.kind in ("phone", "email", "tax_id", "id", "person_name", "person_id"):
            kind_of[(r.source, r.field)] = str(r.kind)
        elif r.kind in ("customer_name", "company_name") and masking.person_customers and "person_name" in wanted:
            kind_of[(r.source, r.field)] = "customer_name"  # masked when not a company's name

    def mask_column(df: pd.DataFrame, column: str) -> pd.DataFrame:
        df = df.copy()
        for (source, f), kind in kind_of.items():
            rows = (df["source"] == source) & (df["field"] == f)
            if rows.any():
                values = df.loc[rows, column].astype("object")
                df.loc[rows, column] = (
                    mask_customer_names(values, masking) if kind == "customer_name" else mask_series(values, kind, masking)
                )
        return df

    # the unmasked value summaries are dropped: the report rebuilds them from the masked top values
    columns = profile.columns.drop(columns=["top_values", "top_patterns"], errors="ignore")
    columns = mask_column(mask_column(columns, "min_value"), "max_value")
    top_values = mask_column(profile.top_values, "value")
    patterns = mask_column(profile.patterns, "example")
    duplicates = profile.duplicates
    if "id" in wanted:
        duplicates = duplicates.copy()
        ids = duplicates["check"] == "duplicate_id"
        duplicates.loc[ids, "key"] = mask_series(duplicates.loc[ids, "key"].astype("object"), "id", masking)
    return ProfileResult(
        columns=columns,
        top_values=top_values,
        patterns=patterns,
        duplicates=duplicates,
        duplicate_summary=profile.duplicate_summary,
        overlaps=profile.overlaps,
        tables=profile.tables,
    )


__all__ = ["LABELS", "REPORT_NAME", "build_profile_report", "report_language", "write_profile_report"]
