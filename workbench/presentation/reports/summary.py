"""The one business summary of a run: a self-contained offline HTML page, in Chinese or English.

This module owns ``<run>/reports/summary.html``. It gathers what phase 7 proved — technical
validation (Data Docs and failures), logical validation (reconciliation totals and checksums) and
business validation (the sample plan and, once reviewers answered, the estimated accuracy) — with
key figures, the batch plan, the quality trend across runs, and links to every other report of the
run (profile, standardize before/after, match summary and Splink dashboards, batch plan, Data Docs).
The language comes from ``report.language`` or ``project.language``; phones, e-mails and IDs in
any customer-level table are masked (``report.masking``).
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.masking import mask_frame, mask_values_by
from workbench.engine.catalog import (
    BATCH_PLAN,
    DISPOSITIONS,
    GOLDEN_CUSTOMERS,
    RECONCILIATION_CHECKSUMS,
    RECONCILIATION_PROBLEMS,
    RECONCILIATION_TOTALS,
    SAMPLE_PLAN,
    SAMPLE_VERDICTS,
    VALIDATION_FAILURES,
    VALIDATION_RESULTS,
)
from workbench.engine.catalog import Table as CatalogTable
from workbench.engine.connection import table_exists
from workbench.presentation.charts.monitoring import (
    DISPOSITION_LABELS,
    field_trend_figure,
    quality_trend_figure,
)
from workbench.presentation.reports.html import Figure, HtmlReport, KeyFigures, RawHtml, Table, Text
from workbench.project.stages import stage_spec

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
        "source_rows": "来源行数",
        "masters": "主数据（黄金记录）",
        "loaded": "已导入来源行",
        "merged": "合并来源行",
        "rejected": "拒绝来源行",
        "unaccounted": "未对账行",
        "validation_failed": "校验不合格行",
        "accuracy": "抽样准确率",
        "verdict_ok": "全部来源行均已对账（每行恰好一个去向）。",
        "verdict_bad": "有 {n} 行未能对账，请查看对账问题表。",
        "links": "报告链接",
        "link_missing": "本次运行未生成",
        "reports": {
            "profile": "数据剖析报告",
            "standardize": "标准化前后对比",
            "match": "匹配汇总",
            "splink": "Splink 图表",
            "batches": "批次计划",
            "export": "导入文件与清单",
            "datadocs": "数据校验 (Data Docs)",
            "failures": "校验不合格明细 (CSV)",
            "dispositions": "来源行去向明细 (CSV)",
            "sample": "业务抽样核对表 (Excel)",
            "screenshot": "本页截图",
        },
        "technical": "技术校验（Great Expectations）",
        "technical_text": "每个规则集在其阶段运行；不合格的行连同业务键（来源、来源编号、主数据编号）写入不合格明细，供修复清单使用。",
        "logical": "逻辑校验（对账）",
        "logical_text": "每个来源行恰有一个去向：已导入、已合并、延后、排除、拒绝或隔离。下表为按来源与去向的行数；校验和比较黄金记录与导入文件中逐字复制的关键字段。",
        "checksums": "关键字段校验和",
        "business": "业务校验（抽样）",
        "plan": "抽样方案：目标准确率 {target:.2%}，置信度 {conf:.0%}，允许缺陷 {c} 个；主数据 {pop:,} 条，抽取 {n:,} 条（{method}）。",
        "pending": "核对结果尚未返回：请在核对表中填写结论后重新运行本阶段。",
        "result": "已核对 {reviewed:,} 条，缺陷 {defects:,} 条；估计准确率 {acc:.2%}，{conf:.0%} 置信区间 [{lo:.2%}, {hi:.2%}]。",
        "met": "结论：达到目标。",
        "not_met": "结论：未达到目标。",
        "batches": "批次计划",
        "trend": "质量趋势（历次运行）",
        "no_trend": "尚无历史记录（监控阶段记录每次运行的指标）。",
        "suite": "规则集",
        "checks": "规则数",
        "failed": "未通过规则",
        "rows_failed": "不合格行",
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
            "golden_checksum": "黄金记录校验和",
            "file_checksum": "文件校验和",
            "mismatches": "不一致数",
            "match": "一致",
            "stage": "阶段",
            "dataset": "数据集",
        },
    },
    "en": {
        "title": "Migration run summary",
        "subtitle": "Project: {project} · run: {run}",
        "overview": "Overview",
        "source_rows": "Source rows",
        "masters": "Master records (golden)",
        "loaded": "Rows loaded",
        "merged": "Rows merged",
        "rejected": "Rows rejected",
        "unaccounted": "Rows unaccounted",
        "validation_failed": "Rows failing validation",
        "accuracy": "Sample accuracy",
        "verdict_ok": "Every source row is accounted for (exactly one outcome each).",
        "verdict_bad": "{n} rows are not accounted for; see the reconciliation problems table.",
        "links": "Reports",
        "link_missing": "not produced in this run",
        "reports": {
            "profile": "Profile report",
            "standardize": "Standardize before/after",
            "match": "Match summary",
            "splink": "Splink dashboards",
            "batches": "Batch plan",
            "export": "Load files and manifest",
            "datadocs": "Data Docs (validation)",
            "failures": "Validation failures (CSV)",
            "dispositions": "Dispositions of the source rows (CSV)",
            "sample": "Business sample review sheet (Excel)",
            "screenshot": "Screenshot of this page",
        },
        "technical": "Technical validation (Great Expectations)",
        "technical_text": "Each suite runs at its stage; failed rows go with their business keys (source, "
        "source ID, master ID) to the failures table that feeds the fix worklist.",
        "logical": "Logical validation (reconciliation)",
        "logical_text": "Every source row has exactly one outcome: loaded, merged, deferred, excluded, rejected "
        "or quarantined. The table counts rows by source and outcome; the checksums compare the key fields "
        "copied unchanged from the golden records into the load files.",
        "checksums": "Key-field checksums",
        "business": "Business validation (sample)",
        "plan": "Plan: target accuracy {target:.2%} at {conf:.0%} confidence with at most {c} defects; "
        "{pop:,} master records, {n:,} sampled ({method}).",
        "pending": "No verdicts yet: reviewers fill in the review sheet, then this stage is run again.",
        "result": "{reviewed:,} reviewed, {defects:,} defects; estimated accuracy {acc:.2%}, "
        "{conf:.0%} interval [{lo:.2%}, {hi:.2%}].",
        "met": "Result: the target is met.",
        "not_met": "Result: the target is NOT met.",
        "batches": "Batch plan",
        "trend": "Quality trend across runs",
        "no_trend": "No history yet (the monitor stage records every run's metrics).",
        "suite": "suite",
        "checks": "expectations",
        "failed": "failed expectations",
        "rows_failed": "failed rows",
        "columns": {},
    },
}


def _stage_html(stage_id: str) -> str:
    """The glob of a stage notebook's HTML export in the run folder, e.g. ``html/10_*.html``."""
    number = stage_spec(stage_id).notebook.split("_", 1)[0]
    return f"html/{number}_*.html"


# report key → candidate files relative to the run folder (globs); the first that exists is linked
LINK_CANDIDATES: dict[str, tuple[str, ...]] = {
    "profile": ("reports/profile.html", _stage_html("audit")),
    "standardize": ("reports/standardize*.html", _stage_html("standardize")),
    "match": ("reports/match*.html", _stage_html("match")),
    "splink": ("splink/*.html",),
    "batches": ("reports/batch*.html", _stage_html("batches")),
    "export": ("exports/manifest.json", _stage_html("export")),
    "datadocs": ("datadocs/index.html",),
    "failures": ("tables/validation_failures.csv",),
    "dispositions": ("tables/dispositions.csv",),
    "sample": ("review/business_sample*.xlsx",),
}


def summary_language(config: ProjectConfig) -> str:
    """The summary's language: ``report.language``, else ``project.language``."""
    return config.report.language or config.project.language


def find_links(run_root: Path) -> dict[str, list[Path]]:
    """Existing report files of a run per report key (several for the Splink dashboards)."""
    found: dict[str, list[Path]] = {}
    for key, patterns in LINK_CANDIDATES.items():
        for pattern in patterns:
            hits = sorted(run_root.glob(pattern))
            if hits:
                found[key] = hits if key == "splink" else hits[:1]
                break
    return found


def _links_html(run_root: Path, reports_dir: Path, lab: dict[str, Any]) -> str:
    links = find_links(run_root)
    items = []
    for key, caption in lab["reports"].items():
        if key == "screenshot":
            continue
        files = links.get(key)
        if not files:
            items.append(f"<li>{html.escape(caption)} — <em>{html.escape(lab['link_missing'])}</em></li>")
            continue
        parts = []
        for f in files:
            rel = Path(os.path.relpath(f, reports_dir)).as_posix()
            parts.append(f'<a href="{html.escape(rel)}">{html.escape(f.name)}</a>')
        items.append(f"<li>{html.escape(caption)}: {', '.join(parts)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _count(con: duckdb.DuckDBPyConnection, table: CatalogTable) -> int | None:
    """Rows of `table`, or None when the run has no such table."""
    if not table_exists(con, table.name):
        return None
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _overview(
    report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], result: dict[str, Any] | None
) -> int | None:
    """The key figures and the reconciliation verdict; returns the failed validation rows."""
    dispositions = (
        con.sql(f"SELECT * FROM {DISPOSITIONS}").df() if table_exists(con, DISPOSITIONS.name) else None
    )
    problems = _count(con, RECONCILIATION_PROBLEMS)
    failures = _count(con, VALIDATION_FAILURES)
    masters = _count(con, GOLDEN_CUSTOMERS)
    items = []
    if dispositions is not None:
        counts = dispositions["disposition"].value_counts()
        items += [
            (lab["source_rows"], f"{len(dispositions):,}"),
            (lab["loaded"], f"{int(counts.get('loaded', 0)):,}"),
            (lab["merged"], f"{int(counts.get('merged', 0)):,}"),
            (lab["rejected"], f"{int(counts.get('rejected', 0)):,}"),
        ]
    for key, value in (("masters", masters), ("unaccounted", problems), ("validation_failed", failures)):
        if value is not None:
            items.append((lab[key], f"{value:,}"))
    if result is not None and result.get("accuracy") is not None:
        items.append((lab["accuracy"], f"{result['accuracy']:.2%}"))
    overview = report.add_section(lab["overview"])
    if items:
        overview.add(KeyFigures(items))
    if problems is not None:
        overview.add(Text(lab["verdict_ok"] if problems == 0 else lab["verdict_bad"].format(n=problems)))
    return failures


def _technical(
    report: HtmlReport,
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    lab: dict[str, Any],
    failures: int | None,
) -> None:
    """The GX results per suite and the first failed rows (personal data masked)."""
    tech = report.add_section(lab["technical"], Text(lab["technical_text"]))
    if not table_exists(con, VALIDATION_RESULTS.name):
        return
    per_suite = con.sql(
        "SELECT suite, stage, dataset, count(*) AS checks, count(*) FILTER (WHERE NOT success) AS failed, "
        f"coalesce(sum(unexpected_count), 0)::BIGINT AS rows_failed FROM {VALIDATION_RESULTS} "
        "GROUP BY ALL ORDER BY stage, suite"
    ).df()
    per_suite = per_suite.rename(
        columns={
            "suite": lab["suite"],
            "checks": lab["checks"],
            "failed": lab["failed"],
            "rows_failed": lab["rows_failed"],
            **lab["columns"],
        }
    )
    tech.add(Table(per_suite, max_rows=50))
    if failures:
        sample = con.sql(
            'SELECT suite, "column", source, source_id, record_key, master_id, value '
            f'FROM {VALIDATION_FAILURES} ORDER BY suite, "column", record_key LIMIT 20'
        ).df()
        sample = _mask_values(sample, config.field_kinds(), config)
        tech.add(Table(sample, max_rows=20, collapsed=True, caption=lab["validation_failed"]))


def _logical(report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any]) -> None:
    """Reconciliation totals per source and the key-field checksums."""
    logical = report.add_section(lab["logical"], Text(lab["logical_text"]))
    if table_exists(con, RECONCILIATION_TOTALS.name):
        totals = con.sql(f"SELECT * FROM {RECONCILIATION_TOTALS} ORDER BY source").df()
        logical.add(Table(totals.rename(columns=lab["columns"]), max_rows=None))
    if table_exists(con, RECONCILIATION_CHECKSUMS.name):
        logical.add(
            Table(
                con.sql(f"SELECT * EXCLUDE (mismatch_examples) FROM {RECONCILIATION_CHECKSUMS} ORDER BY ALL")
                .df()
                .rename(columns=lab["columns"]),
                caption=lab["checksums"],
                max_rows=200,
            )
        )


def _business(
    report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], result: dict[str, Any] | None
) -> None:
    """The sampling plan and, once reviewers answered, the estimated accuracy and the verdict."""
    business = report.add_section(lab["business"])
    if not table_exists(con, SAMPLE_PLAN.name):
        return
    plan = con.sql(f"SELECT * FROM {SAMPLE_PLAN}").df().iloc[0]
    business.add(
        Text(
            lab["plan"].format(
                target=plan["target_accuracy"],
                conf=plan["confidence"],
                c=int(plan["allowed_defects"]),
                pop=int(plan["population"]),
                n=int(plan["sample_size"]),
                method=plan["method"],
            )
        )
    )
    if result is None or result.get("reviewed", 0) == 0:
        business.add(Text(lab["pending"]))
        return
    business.add(
        Text(
            lab["result"].format(
                reviewed=result["reviewed"],
                defects=result["defects"],
                acc=result["accuracy"],
                conf=plan["confidence"],
                lo=result["ci_low"],
                hi=result["ci_high"],
            )
        )
    )
    if result.get("target_met") is not None:
        business.add(Text(lab["met"] if result["target_met"] else lab["not_met"]))


def _batches(report: HtmlReport, con: duckdb.DuckDBPyConnection, lab: dict[str, Any], lang: str) -> None:
    if not table_exists(con, BATCH_PLAN.name):
        return
    from workbench.presentation.charts.batches import batch_plan_figure

    plan_df = con.sql(f"SELECT * FROM {BATCH_PLAN} ORDER BY batch_order, wave, master_id").df()
    report.add_section(lab["batches"], Figure(batch_plan_figure(plan_df, lang)))


def _trend(report: HtmlReport, history: pd.DataFrame | None, lab: dict[str, Any], lang: str) -> None:
    trend = report.add_section(lab["trend"])
    if history is not None and history["run_id"].nunique() >= 1:
        trend.add(
            Figure(quality_trend_figure(history, lang)),
            Figure(field_trend_figure(history, "completeness", lang)),
        )
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
    failures = _overview(report, con, lab, result)
    report.add_section(lab["links"], RawHtml(_links_html(ctx.paths.root, ctx.paths.reports, lab)))
    _technical(report, con, config, lab, failures)
    _logical(report, con, lab)
    _business(report, con, lab, result)
    _batches(report, con, lab, lang)
    _trend(report, history, lab, lang)
    return report


def _mask_values(df: pd.DataFrame, kinds: Mapping[str, object], config: ProjectConfig) -> pd.DataFrame:
    """Mask the personal-data columns of failure rows, and the `value` of rows whose column is one."""
    s = config.report.masking
    if not s.enabled or df.empty:
        return df
    return mask_values_by(mask_frame(df, kinds, s), "column", kinds, s)


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
        path: another output path (tests).
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
