"""The audit & profile report of a run: ``<run>/reports/profile.html``.

This module owns that page. It reads only what the ingest and audit stages persisted (the
``ingest_summary``, ``quarantine`` and ``profile_*`` tables of the run database), so it can be
rebuilt at any time, and writes one self-contained offline HTML file (see
:mod:`workbench.presentation.reports.html`) in the project's language. Personal data (phones, e-mails, tax
IDs … as set in ``report.masking``) is masked in everything the page shows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.ingest import quarantine_reasons, read_ingest_summary, read_quarantine
from workbench.core.masking import mask_series
from workbench.core.profiling import ProfileResult, read_profile_tables
from workbench.presentation.charts import profile as charts
from workbench.presentation.reports.html import Figure, HtmlReport, KeyFigures, Table, Text, check_language
from workbench.project.settings.report import MaskingSettings

if TYPE_CHECKING:
    import duckdb

    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

REPORT_NAME = "profile.html"

PATTERN_CHART_KINDS: tuple[str, ...] = ("phone", "email", "tax_id", "postcode", "date")
"""Fields of these kinds get a pattern chart in the report (the shapes that matter for loading)."""

MAX_DETAIL_ROWS = 200
"""Rows shown in the detail tables (quarantined rows, duplicate keys); the rest stays in the DB."""

LABELS: dict[str, dict[str, str]] = {
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
    },
}

_PERCENT = "{:.1%}"


def report_language(ctx: RunContext) -> str:
    """The language of business reports: ``report.language`` if set, else ``project.language``."""
    return getattr(ctx.config.report, "language", None) or ctx.config.project.language


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
    masking: MaskingSettings = getattr(ctx.config.report, "masking", MaskingSettings())
    profile = _masked(read_profile_tables(con), masking)
    summary = read_ingest_summary(con, ctx.config)

    report = HtmlReport(
        title=f"{lab['title']} — {ctx.config.project.name}",
        language=lang,
        subtitle=lab["subtitle"].format(project=ctx.config.project.name, run=ctx.run_id),
    )
    _overview(report, lab, summary, profile, masking)
    _ingest(report, lab, lang, con, summary, masking)
    report.add_section(
        lab["completeness"],
        Text(lab["completeness_text"]),
        Figure(charts.figure_missing_heatmap(profile.columns, lang)),
        Figure(charts.figure_completeness(profile.columns, lang)),
    )
    for source in dict.fromkeys(profile.columns["source"]):
        _source_section(report, lab, lang, profile, str(source), top_k)
    _duplicates(report, lab, lang, profile)
    _overlaps(report, lab, lang, profile)
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


# --------------------------------------------------------------------------------------------
# sections


def _overview(
    report: HtmlReport,
    lab: dict[str, str],
    summary: pd.DataFrame,
    profile: ProfileResult,
    masking: MaskingSettings,
) -> None:
    text = lab["intro"]
    if masking.enabled:
        text += " " + lab["masked_note"].format(kinds=", ".join(masking.kinds))
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
            ]
        ),
    )


def _ingest(
    report: HtmlReport,
    lab: dict[str, str],
    lang: str,
    con: duckdb.DuckDBPyConnection,
    summary: pd.DataFrame,
    masking: MaskingSettings,
) -> None:
    section = report.add_section(
        lab["ingest"],
        Text(lab["ingest_text"]),
        Table(_headers(summary, lab)),
        Figure(charts.figure_row_counts(summary, lang)),
    )
    reasons = quarantine_reasons(con)
    if reasons.empty:
        return
    section.add(Table(_headers(reasons, lab), caption=lab["quarantine_reasons"]))
    rows = read_quarantine(con, limit=MAX_DETAIL_ROWS)
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


def _source_section(
    report: HtmlReport,
    lab: dict[str, str],
    lang: str,
    profile: ProfileResult,
    source: str,
    top_k: int | None,
) -> None:
    cols = profile.columns[profile.columns["source"] == source]
    table = pd.DataFrame(
        {
            "field": cols["field"],
            "header": cols["header"],
            "kind": cols["kind"],
            "inferred_type": cols["inferred_type"],
            "rows": cols["rows"],
            "null_rate": cols["null_rate"],
            "blank_rate": cols["blank_rate"],
            "fill_rate": cols["fill_rate"],
            "distinct": cols["distinct"],
            "length": [
                "" if pd.isna(lo) else f"{int(lo)} / {avg:.1f} / {int(hi)}"
                for lo, avg, hi in zip(
                    cols["min_length"], cols["avg_length"], cols["max_length"], strict=True
                )
            ],
            "min_value": cols["min_value"],
            "max_value": cols["max_value"],
            "patterns": cols["patterns"],
            "top_values": _top_summary(profile.top_values, source, "value", top_k, cols["field"]),
            "top_patterns": _top_summary(profile.patterns, source, "pattern", top_k, cols["field"]),
        }
    )
    formats = {c: _PERCENT for c in ("null_rate", "blank_rate", "fill_rate")}
    formats.update({c: "{:,}" for c in ("rows", "distinct", "patterns")})
    section = report.add_section(
        lab["source_profile"].format(source=source),
        Table(
            _headers(table, lab),
            caption=lab["column_table"],
            max_rows=None,
            formats=_headers_map(formats, lab),
        ),
        Text(lab["pattern_legend"]),
        level=2,
    )
    for r in cols.itertuples():
        if r.kind in PATTERN_CHART_KINDS:
            section.add(Figure(charts.figure_patterns(profile.patterns, source, str(r.field), lang)))


def _duplicates(report: HtmlReport, lab: dict[str, str], lang: str, profile: ProfileResult) -> None:
    summary = profile.duplicate_summary
    section = report.add_section(
        lab["duplicates"], Text(lab["duplicates_text"]), Table(_headers(summary, lab))
    )
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


def _overlaps(report: HtmlReport, lab: dict[str, str], lang: str, profile: ProfileResult) -> None:
    overlaps = profile.overlaps
    if overlaps.empty:
        report.add_section(lab["overlaps"], Text(lab["no_overlaps"]))
        return
    shown = overlaps.drop(columns=["source_order_a", "source_order_b"])
    shown = shown.assign(key_kind=shown["key_kind"].map(lambda k: lab.get(k, k)))
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


def _headers(df: pd.DataFrame, lab: dict[str, str]) -> pd.DataFrame:
    return df.rename(columns={c: lab.get(c, c) for c in df.columns})


def _headers_map(formats: dict[str, Any], lab: dict[str, str]) -> dict[str, Any]:
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
    """The profile with personal data masked in values, examples and min/max (if masking is on)."""
    if not masking.enabled:
        return profile
    wanted = set(masking.kinds)
    kinds = profile.columns[["source", "field", "kind"]]
    to_mask = kinds[kinds["kind"].isin(wanted)]
    kind_of = {(r.source, r.field): r.kind for r in to_mask.itertuples()}

    def mask_column(df: pd.DataFrame, column: str) -> pd.DataFrame:
        df = df.copy()
        for (source, f), kind in kind_of.items():
            rows = (df["source"] == source) & (df["field"] == f)
            if rows.any():
                df.loc[rows, column] = mask_series(df.loc[rows, column].astype("object"), kind, masking)
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
