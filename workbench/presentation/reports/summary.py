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
from pathlib import Path

import pandas as pd

from workbench.core.masking import mask_frame
from workbench.engine.connection import table_exists
from workbench.presentation.reports.html import HtmlReport, KeyFigures, RawHtml, Table, Text

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.html"

LABELS = {
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
            "loaded": "已导入",
            "merged": "已合并",
            "deferred": "延后",
            "excluded": "排除",
            "rejected": "拒绝",
            "quarantined": "隔离",
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

# report key → candidate files relative to the run folder (globs); the first that exists is linked
LINK_CANDIDATES: dict[str, tuple[str, ...]] = {
    "profile": ("reports/profile.html", "html/10_*.html"),
    "standardize": ("reports/standardize*.html", "html/20_*.html"),
    "match": ("reports/match*.html", "html/40_*.html"),
    "splink": ("splink/*.html",),
    "batches": ("reports/batch*.html", "html/60_*.html"),
    "export": ("exports/manifest.json", "html/70_*.html"),
    "datadocs": ("datadocs/index.html",),
    "failures": ("tables/validation_failures.csv",),
    "dispositions": ("tables/dispositions.csv",),
    "sample": ("review/business_sample*.xlsx",),
}


def summary_language(config) -> str:
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


def _links_html(run_root: Path, reports_dir: Path, lab: dict) -> str:
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


def build_summary_report(
    ctx, con, *, language: str | None = None, history: pd.DataFrame | None = None
) -> HtmlReport:
    """Assemble the run summary (not written; see :func:`write_summary_report`)."""
    config = ctx.config
    lang = language or summary_language(config)
    lab = LABELS[lang]
    kinds = config.field_kinds()
    report = HtmlReport(
        config.report.title or f"{lab['title']} — {config.project.name}",
        language=lang,
        subtitle=lab["subtitle"].format(project=config.project.name, run=ctx.run_id),
    )
    figures: list[tuple[str, object]] = []
    dispositions = con.sql("SELECT * FROM dispositions").df() if table_exists(con, "dispositions") else None
    problems = (
        int(con.sql("SELECT count(*) FROM reconciliation_problems").fetchall()[0][0])
        if table_exists(con, "reconciliation_problems")
        else None
    )
    failures = (
        int(con.sql("SELECT count(*) FROM validation_failures").fetchall()[0][0])
        if table_exists(con, "validation_failures")
        else None
    )
    masters = (
        int(con.sql("SELECT count(*) FROM golden_customers").fetchall()[0][0])
        if table_exists(con, "golden_customers")
        else None
    )
    result = _sample_result(con)
    items = []
    if dispositions is not None:
        counts = dispositions["disposition"].value_counts()
        items += [
            (lab["source_rows"], f"{len(dispositions):,}"),
            (lab["loaded"], f"{int(counts.get('loaded', 0)):,}"),
            (lab["merged"], f"{int(counts.get('merged', 0)):,}"),
            (lab["rejected"], f"{int(counts.get('rejected', 0)):,}"),
        ]
    if masters is not None:
        items.append((lab["masters"], f"{masters:,}"))
    if problems is not None:
        items.append((lab["unaccounted"], f"{problems:,}"))
    if failures is not None:
        items.append((lab["validation_failed"], f"{failures:,}"))
    if result is not None and result.get("accuracy") is not None:
        items.append((lab["accuracy"], f"{result['accuracy']:.2%}"))
    overview = report.add_section(lab["overview"])
    if items:
        overview.add(KeyFigures(items))
    if problems is not None:
        overview.add(Text(lab["verdict_ok"] if problems == 0 else lab["verdict_bad"].format(n=problems)))
    reports_dir = ctx.paths.reports
    report.add_section(lab["links"], RawHtml(_links_html(ctx.paths.root, reports_dir, lab)))

    tech = report.add_section(lab["technical"], Text(lab["technical_text"]))
    if table_exists(con, "validation_results"):
        per_suite = con.sql(
            "SELECT suite, stage, dataset, count(*) AS checks, count(*) FILTER (WHERE NOT success) AS failed, "
            "coalesce(sum(unexpected_count), 0)::BIGINT AS rows_failed FROM validation_results "
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
                'FROM validation_failures ORDER BY suite, "column", record_key LIMIT 20'
            ).df()
            sample = _mask_values(sample, kinds, config)
            tech.add(Table(sample, max_rows=20, collapsed=True, caption=lab["validation_failed"]))

    logical = report.add_section(lab["logical"], Text(lab["logical_text"]))
    if table_exists(con, "reconciliation_totals"):
        totals = con.sql("SELECT * FROM reconciliation_totals ORDER BY source").df()
        logical.add(Table(totals.rename(columns=lab["columns"]), max_rows=None))
    if table_exists(con, "reconciliation_checksums"):
        logical.add(
            Table(
                con.sql("SELECT * EXCLUDE (mismatch_examples) FROM reconciliation_checksums ORDER BY ALL")
                .df()
                .rename(columns=lab["columns"]),
                caption=lab["checksums"],
                max_rows=200,
            )
        )

    business = report.add_section(lab["business"])
    if table_exists(con, "sample_plan"):
        plan = con.sql("SELECT * FROM sample_plan").df().iloc[0]
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
        else:
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

    if table_exists(con, "batch_plan"):
        from workbench.presentation.charts.batches import batch_plan_figure
        from workbench.presentation.reports.html import Figure

        plan_df = con.sql("SELECT * FROM batch_plan ORDER BY batch_order, wave, master_id").df()
        figures.append(("batches", batch_plan_figure(plan_df, lang)))
        report.add_section(lab["batches"], Figure(figures[-1][1]))

    trend = report.add_section(lab["trend"])
    if history is not None and history["run_id"].nunique() >= 1:
        from workbench.presentation.charts.monitoring import field_trend_figure, quality_trend_figure
        from workbench.presentation.reports.html import Figure

        trend.add(
            Figure(quality_trend_figure(history, lang)),
            Figure(field_trend_figure(history, "completeness", lang)),
        )
    else:
        trend.add(Text(lab["no_trend"]))
    return report


def _mask_values(df: pd.DataFrame, kinds, config) -> pd.DataFrame:
    """Mask the `value` of failure rows whose column is personal data."""
    from workbench.core.masking import columns_to_mask, mask_series

    s = config.report.masking
    if not s.enabled or df.empty:
        return df
    plan = columns_to_mask(sorted(df["column"].dropna().unique()), kinds, s)
    out = mask_frame(df, kinds, s)
    for col, kind in plan.items():
        sel = out["column"] == col
        out.loc[sel, "value"] = mask_series(out.loc[sel, "value"].astype("object"), kind, s)
    return out


def _sample_result(con) -> dict | None:
    if not (table_exists(con, "sample_plan") and table_exists(con, "sample_verdicts")):
        return None
    from workbench.core.validation.sampling import evaluate_sample, load_plan

    verdicts = con.sql("SELECT * FROM sample_verdicts ORDER BY sample_no").df()
    return evaluate_sample(verdicts, load_plan(con)).to_dict()


def write_summary_report(
    ctx,
    con=None,
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
    con = con or ctx.connect(read_only=True)
    try:
        report = build_summary_report(ctx, con, language=language, history=history)
    finally:
        if own:
            con.close()
    out = path or (ctx.paths.reports / SUMMARY_NAME)
    return report.write(out)
