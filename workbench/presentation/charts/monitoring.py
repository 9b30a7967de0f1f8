"""Figures of the run history: quality trends across runs (phase 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.presentation.charts import style_figure

if TYPE_CHECKING:
    import plotly.graph_objects as go

# the outcome of a source row (workbench.core.validation.reconcile.DISPOSITIONS), as business reads it
DISPOSITION_LABELS = {
    "zh": {
        "loaded": "已导入",
        "merged": "已合并",
        "deferred": "延后",
        "excluded": "排除",
        "rejected": "拒绝",
        "quarantined": "隔离",
    },
    "en": {
        "loaded": "loaded",
        "merged": "merged",
        "deferred": "deferred",
        "excluded": "excluded",
        "rejected": "rejected",
        "quarantined": "quarantined",
    },
}
LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "run": "运行",
        "value": "数值",
        "share": "比例",
        "rows": "行数",
        "overview": "质量趋势：匹配率、导入失败率、抽样准确率",
        "completeness": "完整性趋势（黄金记录各字段非空比例）",
        "validity": "有效性趋势（标准化后各字段有效比例）",
        "uniqueness": "唯一性趋势（各字段去重比例）",
        "disposition": "对账：每次运行的来源行去向",
        "no_data": "暂无运行历史",
        "metrics": {
            "match_rate": "匹配率",
            "load_failure_rate": "导入失败率",
            "sample_accuracy": "抽样准确率",
        },
        "dispositions": DISPOSITION_LABELS["zh"],
    },
    "en": {
        "run": "run",
        "value": "value",
        "share": "share",
        "rows": "rows",
        "overview": "Quality trend: match rate, load failure rate, sample accuracy",
        "completeness": "Completeness trend (non-empty share of each golden field)",
        "validity": "Validity trend (valid share of each standardized field)",
        "uniqueness": "Uniqueness trend (distinct share of each field)",
        "disposition": "Reconciliation: outcome of the source rows per run",
        "no_data": "no run history yet",
        "metrics": {
            "match_rate": "match rate",
            "load_failure_rate": "load failure rate",
            "sample_accuracy": "sample accuracy",
        },
        "dispositions": DISPOSITION_LABELS["en"],
    },
}
RUN_METRICS = ("match_rate", "load_failure_rate", "sample_accuracy")


def _empty(title: str, language: str) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(title=title)
    fig.add_annotation(
        text=LABELS[language]["no_data"], showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style_figure(fig, height=320)


def quality_trend_figure(
    history: pd.DataFrame, language: str = "zh", metrics: tuple[str, ...] = RUN_METRICS
) -> go.Figure:
    """Lines across runs of the run-level rates (match rate, load failure rate, sample accuracy).

    Args:
        history: ``run_metrics`` rows (:func:`workbench.core.monitoring.history.read_history`).
        language: ``zh`` or ``en``.
        metrics: which run-level metrics to draw.
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    sel = history[history["metric"].isin(metrics)]
    if sel.empty:
        return _empty(lab["overview"], language)
    fig = go.Figure()
    for metric in metrics:
        m = sel[sel["metric"] == metric].sort_values("run_id")
        if m.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=m["run_id"], y=m["value"], mode="lines+markers", name=lab["metrics"].get(metric, metric)
            )
        )
    fig.update_layout(title=lab["overview"], xaxis_title=lab["run"], yaxis_title=lab["share"])
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(type="category")
    return style_figure(fig, height=380)


def field_trend_figure(
    history: pd.DataFrame, metric: str = "completeness", language: str = "zh"
) -> go.Figure:
    """One line per field across runs for a per-field metric (completeness, validity, uniqueness)."""
    import plotly.graph_objects as go

    lab = LABELS[language]
    title = lab.get(metric, metric)
    sel = history[(history["metric"] == metric) & (history["field"] != "")].sort_values(["field", "run_id"])
    if sel.empty:
        return _empty(title, language)
    fig = go.Figure()
    for field, g in sel.groupby("field", sort=True):
        fig.add_trace(go.Scatter(x=g["run_id"], y=g["value"], mode="lines+markers", name=str(field)))
    fig.update_layout(title=title, xaxis_title=lab["run"], yaxis_title=lab["share"])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(type="category")
    return style_figure(fig, height=420)


def disposition_trend_figure(history: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Stacked bars per run: how many source rows were loaded, merged, deferred, excluded, …"""
    import plotly.graph_objects as go

    lab = LABELS[language]
    sel = history[history["metric"] == "disposition"]
    if sel.empty:
        return _empty(lab["disposition"], language)
    fig = go.Figure()
    for disposition in lab["dispositions"]:
        g = sel[sel["field"] == disposition].sort_values("run_id")
        if g.empty:
            continue
        fig.add_trace(go.Bar(x=g["run_id"], y=g["value"], name=lab["dispositions"][disposition]))
    fig.update_layout(
        barmode="stack", title=lab["disposition"], xaxis_title=lab["run"], yaxis_title=lab["rows"]
    )
    fig.update_xaxes(type="category")
    return style_figure(fig, height=380)
