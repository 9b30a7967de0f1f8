"""The one business summary of a run: the page to open first, offline, in Chinese or English.

This module owns ``<run>/reports/summary.html``. It says in words and shows in charts what the run
did and proved: where every source row went, how many master records the matching formed (with
the match-probability and cluster-size charts), the cautions of the target templates, the
technical validation per suite (the same result labels as the Data Docs), the reconciliation, the
business sample, the batch plan and the quality trend across runs. It links only pages meant for
business (the profile, the Data Docs, the review workbooks, the dispositions list); Splink's
viewers and the executed notebooks are for analysts and are not linked. Every chart and table is
in the reader's language (field names by their column headers, yes/no instead of True/False) and
no hash is shown. Personal data is masked (``report.masking``).
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.engine.catalog import (
    BATCH_PLAN,
    CROSSWALK,
    DISPOSITIONS,
    GOLDEN_CUSTOMERS,
    LOAD_ROWS,
    MATCH_PAIRS,
    RECONCILIATION_CHECKSUMS,
    RECONCILIATION_PROBLEMS,
    RECONCILIATION_TOTALS,
    SAMPLE_PLAN,
    SAMPLE_VERDICTS,
    VALIDATION_RESULTS,
)
from workbench.engine.catalog import Table as CatalogTable
from workbench.engine.connection import table_exists
from workbench.presentation.charts.monitoring import (
    DISPOSITION_LABELS,
    field_trend_figure,
    quality_trend_figure,
)
from workbench.presentation.labels import field_label_map, label_of
from workbench.presentation.reports.html import Figure, HtmlReport, KeyFigures, RawHtml, Table, Text

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.html"

LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "数据迁移运行总结",
        "subtitle": "项目：{project} · 运行：{run}",
        "overview": "概览",
        "overview_text": "本次运行读取了 {rows} 行来源数据：{parts}。所有来源记录归并为 {masters} 条主数据（黄金记录）。",
        "overview_parts": "{n} 行{label}",
        "source_rows": "来源行数",
        "masters": "主数据（黄金记录）",
        "loaded": "已导入来源行",
        "merged": "合并来源行",
        "rejected": "拒绝来源行",
        "unaccounted": "未对账行",
        "rules_failed": "未通过的校验规则",
        "accuracy": "抽样准确率",
        "verdict_ok": "对账结果：全部来源行均已对账，每行恰好有一个去向。",
        "verdict_bad": "对账结果：有 {n} 行未能对账，请查看对账问题表。",
        "cautions": "导入模板注意事项",
        "caution": "{label}：导入文件按公开资料生成，其中 {n} 项格式细节未经公开资料确认（如列标题、长度、必填项）。"
        "导入前请与贵公司系统当前版本的导入模板逐列核对。",
        "caution_facts": "未经确认的格式细节（{n} 项）",
        "links": "报告链接",
        "links_text": "以下页面和文件可发给业务人员（个人信息已部分遮盖）。Splink 模型页面和执行过的笔记本仅供分析人员使用，不在此链接。",
        "link_missing": "本次运行未生成",
        "reports": {
            "profile": "数据剖析报告",
            "datadocs": "数据校验报告 (Data Docs)",
            "sample": "业务抽样核对表 (Excel)",
            "match_review": "匹配人工审核表 (Excel)",
            "dispositions": "来源行去向明细 (CSV)",
        },
        "technical": "技术校验（Great Expectations）",
        "technical_text": "共 {suites} 个规则集、{rules} 条规则：{failed} 条未通过（{errors} 条错误级，{warnings} 条警告级），"
        "按规则累计 {rows} 行不合格。每条规则都在整张表上统计，并由 Great Expectations 用抽样行复核。",
        "technical_none": "本次运行没有技术校验结果。",
        "match": "匹配（识别重复客户）",
        "match_text": "模型比对了 {pairs} 对候选记录：{match} 对判为同一客户，{review} 对待人工审核，{non_match} 对判为不同客户"
        "{split}。共形成 {masters} 条主数据，其中 {merged} 条由两条以上来源记录合并而成。",
        "match_split": "，{n} 对因冲突被拆开",
        "logical": "逻辑校验（对账）",
        "logical_text": "每个来源行恰有一个去向：已导入、已合并、延后、排除、拒绝或隔离。下表为按来源与去向的行数。",
        "checksums": "关键字段核对",
        "checksums_text": "{n} 个关键字段在黄金记录与导入文件中逐字比对：{ok} 个一致，{bad} 个不一致。",
        "business": "业务校验（抽样）",
        "plan": "抽样方案：目标准确率 {target:.2%}，置信度 {conf:.0%}，允许缺陷 {c} 个；主数据 {pop:,} 条，抽取 {n:,} 条（{method}）。",
        "pending": "核对结果尚未返回：请在核对表中填写结论后重新运行本阶段。",
        "result": "已核对 {reviewed:,} 条，缺陷 {defects:,} 条；估计准确率 {acc:.2%}，{conf:.0%} 置信区间 [{lo:.2%}, {hi:.2%}]。",
        "met": "结论：达到目标。",
        "not_met": "结论：未达到目标。",
        "batches": "批次计划",
        "batches_text": "{masters} 条主数据分为 {batches} 个批次：{loaded} 条计划导入，{held} 条延后或排除。",
        "trend": "质量趋势（历次运行）",
        "no_trend": "尚无历史记录（监控阶段记录每次运行的指标）。",
        "yes": "是",
        "no": "否",
        "columns": {
            "source": "来源",
            **DISPOSITION_LABELS["zh"],
            "total": "合计",
            "file_rows": "文件行数",
            "balanced": "平衡",
            "profile": "目标模板",
            "structure": "结构",
            "target_field": "目标字段",
            "golden_column": "黄金记录字段",
            "masters": "主数据数",
            "mismatches": "不一致数",
            "match": "一致",
            "dataset": "数据集",
            "stage": "阶段",
            "status": "结果",
            "rules": "规则数",
            "passed": "通过",
            "failed_err": "未通过（错误）",
            "failed_warn": "未通过（警告）",
            "failed_rows": "不合格行",
        },
    },
    "en": {
        "title": "Migration run summary",
        "subtitle": "Project: {project} · run: {run}",
        "overview": "Overview",
        "overview_text": "This run read {rows} source rows: {parts}. All source records were combined into {masters} "
        "master records (golden records).",
        "overview_parts": "{n} {label}",
        "source_rows": "Source rows",
        "masters": "Master records (golden)",
        "loaded": "Rows loaded",
        "merged": "Rows merged",
        "rejected": "Rows rejected",
        "unaccounted": "Rows unaccounted",
        "rules_failed": "Validation rules failed",
        "accuracy": "Sample accuracy",
        "verdict_ok": "Reconciliation: every source row is accounted for, with exactly one outcome.",
        "verdict_bad": "Reconciliation: {n} rows are not accounted for; see the reconciliation problems table.",
        "cautions": "Cautions about the import templates",
        "caution": "{label}: the load files follow public documentation; {n} details of the layout are not "
        "confirmed by a public source (captions, lengths, mandatory columns …). Check the files column by "
        "column against your own system's current import template before a load.",
        "caution_facts": "Details not confirmed ({n})",
        "links": "Reports",
        "links_text": "These pages and files may be sent to business readers (personal data partly masked). "
        "Splink's model pages and the executed notebooks are for analysts and are not linked here.",
        "link_missing": "not produced in this run",
        "reports": {
            "profile": "Profile report",
            "datadocs": "Validation report (Data Docs)",
            "sample": "Business sample review sheet (Excel)",
            "match_review": "Match review workbook (Excel)",
            "dispositions": "Dispositions of the source rows (CSV)",
        },
        "technical": "Technical validation (Great Expectations)",
        "technical_text": "{suites} suites with {rules} rules: {failed} failed ({errors} errors, {warnings} "
        "warnings), {rows} failed rows summed over the rules. Every rule counts the whole table and is "
        "re-checked by Great Expectations on sampled rows.",
        "technical_none": "This run has no technical validation results.",
        "match": "Matching (finding duplicate customers)",
        "match_text": "The model compared {pairs} candidate pairs: {match} were judged the same customer, {review} "
        "await a clerical review, {non_match} were judged different customers{split}. They form {masters} "
        "master records, {merged} of them merged from two or more source records.",
        "match_split": ", {n} were split because of a conflict",
        "logical": "Logical validation (reconciliation)",
        "logical_text": "Every source row has exactly one outcome: loaded, merged, deferred, excluded, rejected "
        "or quarantined. The table counts rows by source and outcome.",
        "checksums": "Key fields compared",
        "checksums_text": "{n} key fields compared character by character between the golden records and the "
        "load files: {ok} agree, {bad} differ.",
        "business": "Business validation (sample)",
        "plan": "Plan: target accuracy {target:.2%} at {conf:.0%} confidence with at most {c} defects; "
        "{pop:,} master records, {n:,} sampled ({method}).",
        "pending": "No verdicts yet: reviewers fill in the review sheet, then this stage is run again.",
        "result": "{reviewed:,} reviewed, {defects:,} defects; estimated accuracy {acc:.2%}, "
        "{conf:.0%} interval [{lo:.2%}, {hi:.2%}].",
        "met": "Result: the target is met.",
        "not_met": "Result: the target is NOT met.",
        "batches": "Batch plan",
        "batches_text": "{masters} master records in {batches} batches: {loaded} to be loaded, {held} deferred or "
        "excluded.",
        "trend": "Quality trend across runs",
        "no_trend": "No history yet (the monitor stage records every run's metrics).",
        "yes": "yes",
        "no": "no",
        "columns": {
            "source": "source",
            **DISPOSITION_LABELS["en"],
            "total": "total",
            "file_rows": "file rows",
            "balanced": "balanced",
            "profile": "target template",
            "structure": "structure",
            "target_field": "target field",
            "golden_column": "golden field",
            "masters": "masters",
            "mismatches": "differences",
            "match": "agree",
            "dataset": "dataset",
            "stage": "stage",
            "status": "result",
            "rules": "rules",
            "passed": "passed",
            "failed_err": "failed (error)",
            "failed_warn": "failed (warning)",
            "failed_rows": "failed rows",
        },
    },
}

# report key → candidate files relative to the run folder (globs); the first that exists is linked.
# Only pages meant for business: Splink's viewers (splink/) and the executed notebooks (html/) are
# for analysts and never linked from here.
LINK_CANDIDATES: dict[str, tuple[str, ...]] = {
    "profile": ("reports/profile.html",),
    "datadocs": ("datadocs/index.html",),
    "sample": ("review/business_sample*.xlsx",),
    "match_review": ("review/match_review*.xlsx",),
    "dispositions": ("tables/dispositions.csv",),
}
ANALYST_FOLDERS = ("analyst",)


def summary_language(config: ProjectConfig) -> str:
    """The summary's language: ``report.language``, else ``project.language``."""
    return config.report.language or config.project.language


def find_links(run_root: Path) -> dict[str, list[Path]]:
    """Existing business report files of a run per report key."""
    found: dict[str, list[Path]] = {}
    for key, patterns in LINK_CANDIDATES.items():
        for pattern in patterns:
            hits = sorted(run_root.glob(pattern))
            if hits:
                found[key] = hits[:1]
                break
    return found


def _links_html(run_root: Path, reports_dir: Path, lab: dict[str, Any]) -> str:
    links = find_links(run_root)
    items = []
    for key, caption in lab["reports"].items():
        files = links.get(key)
        if not files:
            items.append(f"<li>{html.escape(caption)} — <em>{html.escape(lab['link_missing'])}</em></li>")
            continue
        rel = Path(os.path.relpath(files[0], reports_dir)).as_posix()
        items.append(f'<li><a href="{html.escape(rel)}">{html.escape(caption)}</a></li>')
    return "<ul>" + "".join(items) + "</ul>"


def _count(con: duckdb.DuckDBPyConnection, table: CatalogTable) -> int | None:
    """Rows of `table`, or None when the run has no such table."""
    if not table_exists(con, table.name):
        return None
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


# --------------------------------------------------------------------------------------------
# sections


def _overview(
    report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], lang: str, result: dict[str, Any] | None
) -> None:
    dispositions = (
        con.sql(f"SELECT disposition, count(*) AS n FROM {DISPOSITIONS} GROUP BY 1").df()
        if table_exists(con, DISPOSITIONS.name)
        else None
    )
    problems = _count(con, RECONCILIATION_PROBLEMS)
    masters = _count(con, GOLDEN_CUSTOMERS)
    failed_rules = (
        int(con.sql(f"SELECT count(*) FROM {VALIDATION_RESULTS} WHERE NOT success").fetchall()[0][0])
        if table_exists(con, VALIDATION_RESULTS.name)
        else None
    )
    overview = report.add_section(lab["overview"])
    items: list[tuple[str, Any]] = []
    if dispositions is not None:
        counts = dict(zip(dispositions["disposition"], dispositions["n"].astype(int), strict=True))
        total = sum(counts.values())
        names = DISPOSITION_LABELS[lang]
        parts = [lab["overview_parts"].format(n=f"{counts[d]:,}", label=names.get(d, d))
                 for d in names if counts.get(d)]
        sep = "，" if lang == "zh" else ", "
        overview.add(Text(lab["overview_text"].format(rows=f"{total:,}", parts=sep.join(parts),
                                                      masters=f"{masters or 0:,}")))
        items += [
            (lab["source_rows"], f"{total:,}"),
            (lab["loaded"], f"{counts.get('loaded', 0):,}"),
            (lab["merged"], f"{counts.get('merged', 0):,}"),
            (lab["rejected"], f"{counts.get('rejected', 0):,}"),
        ]
    for key, value in (("masters", masters), ("unaccounted", problems), ("rules_failed", failed_rules)):
        if value is not None:
            items.append((lab[key], f"{value:,}"))
    if result is not None and result.get("accuracy") is not None:
        items.append((lab["accuracy"], f"{result['accuracy']:.2%}"))
    if items:
        overview.add(KeyFigures(items))
    if problems is not None:
        overview.add(Text(lab["verdict_ok"] if problems == 0 else lab["verdict_bad"].format(n=problems)))


def template_cautions(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> list[tuple[str, list[str]]]:
    """(profile label, its unconfirmed layout facts) of every target profile this run exported."""
    from workbench.core.targets.profiles import load_project_profiles

    exported = set(config.export.profiles)
    if table_exists(con, LOAD_ROWS.name):
        exported |= {str(r[0]) for r in con.sql(f"SELECT DISTINCT profile FROM {LOAD_ROWS}").fetchall()}
    out = []
    for name, profile in load_project_profiles(config).items():
        if name in exported and profile.notes():
            out.append((profile.label, [f.fact for f in profile.notes()]))
    return out


def _cautions(report: HtmlReport, con: duckdb.DuckDBPyConnection, config: ProjectConfig, lab: dict[str, Any]) -> None:
    try:
        cautions = template_cautions(con, config)
    except Exception as exc:  # a broken project profile is reported by the export stage, not here
        log.warning("target profile cautions not shown: %s", exc)
        return
    if not cautions:
        return
    section = report.add_section(lab["cautions"])
    for label, facts in cautions:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in facts)
        section.add(RawHtml(
            f'<p class="wb-caution" style="background:#fff8e1;border:1px solid #f0d58c;padding:6px 10px">'
            f"⚠ {html.escape(lab['caution'].format(label=label, n=len(facts)))}</p>"
            f"<details><summary>{html.escape(lab['caution_facts'].format(n=len(facts)))}</summary>"
            f"<ul>{items}</ul></details>"
        ))


def _technical(report: HtmlReport, ctx: RunContext, con: duckdb.DuckDBPyConnection, lab: dict[str, Any],
               lang: str) -> None:
    from workbench.presentation.reports.datadocs import LABELS as DOC_LABELS
    from workbench.presentation.reports.datadocs import dataset_label, page_name, suite_table

    section = report.add_section(lab["technical"])
    if not table_exists(con, VALIDATION_RESULTS.name):
        section.add(Text(lab["technical_none"]))
        return
    results = con.sql(f"SELECT * FROM {VALIDATION_RESULTS}").df()
    table = suite_table(results)
    failed = ~results["success"].astype(bool)
    section.add(Text(lab["technical_text"].format(
        suites=len(table), rules=len(results), failed=int(failed.sum()),
        errors=int((failed & (results["severity"] == "error")).sum()),
        warnings=int((failed & (results["severity"] != "error")).sum()),
        rows=f"{int(table['failed_rows'].sum()) if len(table) else 0:,}",
    )))
    doc = DOC_LABELS[lang]
    sources = {s.name: s.label for s in ctx.config.sources if s.label}
    docs = ctx.paths.datadocs
    rows = []
    for r in table.itertuples(index=False):
        page = docs / page_name(str(r.suite))
        name = html.escape(dataset_label(str(r.dataset), doc, sources))
        if page.exists():
            rel = Path(os.path.relpath(page, ctx.paths.reports)).as_posix()
            name = f'<a href="{html.escape(rel)}">{name}</a>'
        rows.append(
            f'<tr data-suite="{html.escape(str(r.suite))}"><td>{name}</td>'
            f"<td>{html.escape(doc['stages'].get(r.stage, r.stage))}</td>"
            f'<td><span class="st-{r.status}" data-status="{r.status}">{html.escape(doc[r.status])}</span></td>'
            f'<td class="num">{r.rules:,}</td><td class="num">{r.passed:,}</td><td class="num">{r.failed_err:,}</td>'
            f'<td class="num">{r.failed_warn:,}</td><td class="num">{r.failed_rows:,}</td></tr>'
        )
    cols = lab["columns"]
    head = "".join(f"<th>{html.escape(cols[k])}</th>" for k in
                   ("dataset", "stage", "status", "rules", "passed", "failed_err", "failed_warn", "failed_rows"))
    section.add(RawHtml(
        "<style>.st-ok{color:#1e8449;font-weight:600}.st-fail{color:#c0392b;font-weight:600}"
        ".st-warn{color:#b9770e;font-weight:600}</style>"
        f'<div class="wb-table-wrap"><table class="wb-table" id="wb-suites"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    ))


def _match(report: HtmlReport, ctx: RunContext, con: duckdb.DuckDBPyConnection, lab: dict[str, Any],
           lang: str) -> None:
    if not (table_exists(con, MATCH_PAIRS.name) and table_exists(con, CROSSWALK.name)):
        return
    from workbench.core.linkage.summary import cluster_sizes, count_decisions, probability_histogram
    from workbench.presentation.charts.linkage import cluster_size_figure, probability_figure

    decisions = count_decisions(con).groupby("decision")["pairs"].sum()
    sizes = cluster_sizes(con)
    masters = int(sizes["master_records"].sum()) if len(sizes) else 0
    merged = int(sizes.loc[sizes["members"] > 1, "master_records"].sum()) if len(sizes) else 0
    split = int(decisions.get("split", 0))
    section = report.add_section(lab["match"], Text(lab["match_text"].format(
        pairs=f"{int(decisions.sum()):,}", match=f"{int(decisions.get('match', 0)):,}",
        review=f"{int(decisions.get('review', 0)):,}", non_match=f"{int(decisions.get('non_match', 0)):,}",
        split=lab["match_split"].format(n=f"{split:,}") if split else "",
        masters=f"{masters:,}", merged=f"{merged:,}",
    )))
    histogram = probability_histogram(con)
    threshold, review_min = _thresholds(ctx, con)
    if len(histogram) and threshold is not None:
        section.add(Figure(probability_figure(histogram, threshold, review_min, lang)))
    if len(sizes):
        section.add(Figure(cluster_size_figure(sizes, lang)))


def _thresholds(ctx: RunContext, con: duckdb.DuckDBPyConnection) -> tuple[float | None, float]:
    """The match threshold and the start of the review band the match stage applied."""
    metrics = ctx.read_metrics("match")
    settings = ctx.config.match
    review = float(metrics.get("review_min_probability", settings.review_min_probability))
    if "match_threshold" in metrics:
        return float(metrics["match_threshold"]), review
    if not isinstance(settings.match_threshold, str):
        return float(settings.match_threshold), review
    # "auto" without the stage's metrics: the lowest probability the model linked at
    row = con.execute(
        f"SELECT min(match_probability) FROM {MATCH_PAIRS} WHERE decision = 'match' AND match_reason = 'model'"
    ).fetchall()
    return (float(row[0][0]) if row and row[0][0] is not None else None), review


def _logical(report: HtmlReport, con: duckdb.DuckDBPyConnection, config: ProjectConfig, lab: dict[str, Any]) -> None:
    """Reconciliation totals per source and the key-field comparison (no hashes)."""
    logical = report.add_section(lab["logical"], Text(lab["logical_text"]))
    if table_exists(con, RECONCILIATION_TOTALS.name):
        totals = con.sql(f"SELECT * FROM {RECONCILIATION_TOTALS} ORDER BY source").df()
        logical.add(Table(totals.rename(columns=lab["columns"]), max_rows=None))
    if table_exists(con, RECONCILIATION_CHECKSUMS.name):
        checks = con.sql(
            "SELECT profile, structure, target_field, golden_column, masters, mismatches, match "
            f"FROM {RECONCILIATION_CHECKSUMS} ORDER BY ALL"
        ).df()
        labels = field_label_map(config)
        checks["golden_column"] = checks["golden_column"].map(lambda c: label_of(str(c), labels))
        ok = int(checks["match"].astype(bool).sum())
        logical.add(Text(lab["checksums_text"].format(n=len(checks), ok=ok, bad=len(checks) - ok)))
        logical.add(Table(checks.rename(columns=lab["columns"]), caption=lab["checksums"],
                          max_rows=200, collapsed=True))


def _business(report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], result: dict[str, Any] | None) -> None:
    """The sampling plan and, once reviewers answered, the estimated accuracy and the verdict."""
    if not table_exists(con, SAMPLE_PLAN.name):
        return
    business = report.add_section(lab["business"])
    plan = con.sql(f"SELECT * FROM {SAMPLE_PLAN}").df().iloc[0]
    business.add(Text(lab["plan"].format(
        target=plan["target_accuracy"], conf=plan["confidence"], c=int(plan["allowed_defects"]),
        pop=int(plan["population"]), n=int(plan["sample_size"]), method=plan["method"],
    )))
    if result is None or result.get("reviewed", 0) == 0:
        business.add(Text(lab["pending"]))
        return
    business.add(Text(lab["result"].format(
        reviewed=result["reviewed"], defects=result["defects"], acc=result["accuracy"], conf=plan["confidence"],
        lo=result["ci_low"], hi=result["ci_high"],
    )))
    if result.get("target_met") is not None:
        business.add(Text(lab["met"] if result["target_met"] else lab["not_met"]))


def _batches(report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], lang: str) -> None:
    if not table_exists(con, BATCH_PLAN.name):
        return
    from workbench.presentation.charts.batches import HELD_ORDER, batch_plan_figure

    plan_df = con.sql(f"SELECT * FROM {BATCH_PLAN} ORDER BY batch_order, wave, master_id").df()
    held = int((plan_df["batch_order"] >= HELD_ORDER).sum())
    text = lab["batches_text"].format(masters=f"{len(plan_df):,}", batches=plan_df["batch"].nunique(),
                                      loaded=f"{len(plan_df) - held:,}", held=f"{held:,}")
    report.add_section(lab["batches"], Text(text), Figure(batch_plan_figure(plan_df, lang)))


def _trend(report: HtmlReport, history: pd.DataFrame | None, config: ProjectConfig, lab: dict[str, Any],
           lang: str) -> None:
    trend = report.add_section(lab["trend"])
    if history is not None and len(history) and history["run_id"].nunique() >= 1:
        labels = field_label_map(config)
        named = history.assign(field=history["field"].map(lambda f: label_of(str(f), labels) if f else f))
        trend.add(Figure(quality_trend_figure(named, lang)), Figure(field_trend_figure(named, "completeness", lang)))
    else:
        trend.add(Text(lab["no_trend"]))


def build_summary_report(
    ctx: RunContext,
    con: duckdb.DuckDBPyConnection,
    *,
    language: str | None = None,
    history: pd.DataFrame | None = None,
) -> HtmlReport:
    """Assemble the run summary (not written; see :func:`write_summary_report`).

    Args:
        ctx: the run.
        con: the run database.
        language: ``zh`` / ``en``; default ``report.language`` or ``project.language``.
        history: run-history rows for the trend charts.
    """
    config = ctx.config
    lang = language or summary_language(config)
    lab = LABELS[lang]
    report = HtmlReport(
        config.report.title or f"{lab['title']} — {config.project.name}",
        language=lang,
        subtitle=lab["subtitle"].format(project=config.project.name, run=ctx.run_id),
    )
    result = _sample_result(con)
    _overview(report, con, lab, lang, result)
    _cautions(report, con, config, lab)
    report.add_section(lab["links"], Text(lab["links_text"]),
                       RawHtml(_links_html(ctx.paths.root, ctx.paths.reports, lab)))
    _technical(report, ctx, con, lab, lang)
    _match(report, ctx, con, lab, lang)
    _logical(report, con, config, lab)
    _business(report, con, lab, result)
    _batches(report, con, lab, lang)
    _trend(report, history, config, lab, lang)
    return report


def _sample_result(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    if not (table_exists(con, SAMPLE_PLAN.name) and table_exists(con, SAMPLE_VERDICTS.name)):
        return None
    from workbench.core.validation.sampling import evaluate_sample, load_plan

    verdicts = con.sql(f"SELECT * FROM {SAMPLE_VERDICTS} ORDER BY sample_no").df()
    return evaluate_sample(verdicts, load_plan(con)).to_dict()


def write_summary_report(
    ctx: RunContext,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    language: str | None = None,
    history: pd.DataFrame | None = None,
    path: Path | None = None,
) -> Path:
    """Write ``<run>/reports/summary.html`` (atomically) and return its path.

    Args:
        ctx: the run.
        con: the run database (default: opened read-only).
        language: ``zh`` / ``en``; default ``report.language`` or ``project.language``.
        history: run-history rows for the trend charts (:func:`workbench.core.monitoring.history.read_history`).
        path: another output path (tests, the other language's copy).
    """
    own = con is None
    run_con = con or ctx.connect(read_only=True)
    try:
        report = build_summary_report(ctx, run_con, language=language, history=history)
    finally:
        if own:
            run_con.close()
    out = path or (ctx.paths.reports / SUMMARY_NAME)
    return report.write(out)
