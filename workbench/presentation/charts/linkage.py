"""Figures of the match stage: scored pairs by probability, cluster sizes, accuracy; Splink charts.

Builders return a plotly Figure (never ``.show()``). :func:`embed_html` shows one of the Splink
chart files saved in the run's ``splink/`` folder inside the notebook (an ``iframe`` with the file's
own self-contained HTML, so it works offline and in the exported notebook).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from workbench.presentation.charts import style_figure

TEXT = {
    "zh": {
        "probability": "候选对按模型匹配概率",
        "prob_axis": "匹配概率",
        "pairs": "候选对数",
        "threshold": "匹配阈值",
        "review_min": "审核下限",
        "sizes": "主记录按成员数",
        "members": "成员（源记录）数",
        "masters": "主记录数",
        "accuracy": "与真值对比的准确率",
        "scope": "范围",
        "match": "匹配",
        "review": "待审核",
        "non_match": "不匹配",
        "split": "因冲突拆开",
        "pairwise": "成对",
        "cluster": "簇",
        "cross_script": "跨文字/简称",
        "changed_contact": "地址或手机变更",
        "group_members": "集团成员",
        "missing": "图表文件不存在：{path}",
    },
    "en": {
        "probability": "Scored pairs by model match probability",
        "prob_axis": "match probability",
        "pairs": "pairs",
        "threshold": "match threshold",
        "review_min": "review band starts",
        "sizes": "Master records by number of members",
        "members": "members (source rows)",
        "masters": "master records",
        "accuracy": "Accuracy against the ground truth",
        "scope": "scope",
        "match": "match",
        "review": "review",
        "non_match": "non-match",
        "split": "split (conflict)",
        "pairwise": "pairwise",
        "cluster": "cluster",
        "cross_script": "cross-script / short name",
        "changed_contact": "changed address or mobile",
        "group_members": "group members",
        "missing": "chart file not found: {path}",
    },
}

DECISION_COLORS = {"match": "#2e7d32", "review": "#f9a825", "non_match": "#9e9e9e", "split": "#c62828"}


def _t(language: str) -> dict[str, str]:
    return TEXT.get(language, TEXT["en"])


def probability_figure(
    histogram: pd.DataFrame, threshold: float, review_min: float, language: str = "zh"
) -> go.Figure:
    """Stacked bars of scored pairs per probability bin, coloured by decision.

    Args:
        histogram: ``bin_start, decision, pairs`` (from ``linkage.summary.probability_histogram``).
        threshold: the match threshold (drawn as a line).
        review_min: the start of the review band (drawn as a line).
        language: ``zh`` or ``en``.
    """
    t = _t(language)
    fig = go.Figure()
    for decision in ("non_match", "review", "match", "split"):
        part = histogram[histogram["decision"] == decision]
        if part.empty:
            continue
        fig.add_bar(
            x=part["bin_start"],
            y=part["pairs"],
            name=t.get(decision, decision),
            marker_color=DECISION_COLORS[decision],
            offset=0,
            width=0.05,
        )
    for x, label, dash in ((threshold, t["threshold"], "solid"), (review_min, t["review_min"], "dot")):
        fig.add_vline(x=x, line_dash=dash, annotation_text=label, annotation_position="top")
    fig.update_layout(
        title=t["probability"], barmode="stack", xaxis_title=t["prob_axis"], yaxis_title=t["pairs"]
    )
    fig.update_xaxes(range=[0, 1.0])
    return style_figure(fig, height=380)


def cluster_size_figure(sizes: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Bars of master records per member count (log scale: singletons dominate)."""
    t = _t(language)
    fig = go.Figure(
        go.Bar(
            x=sizes["members"].astype(str),
            y=sizes["master_records"],
            text=sizes["master_records"],
            textposition="auto",
        )
    )
    fig.update_layout(title=t["sizes"], xaxis_title=t["members"], yaxis_title=t["masters"])
    fig.update_yaxes(type="log")
    return style_figure(fig, height=340)


def accuracy_figure(table: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Grouped bars of precision, recall and F1 per scope (from ``linkage.summary.accuracy_table``)."""
    t = _t(language)
    labels = [t.get(str(s), str(s)) for s in table["scope"]]
    fig = go.Figure(
        [
            go.Bar(name=m, x=labels, y=table[m], text=[None if pd.isna(v) else f"{v:.3f}" for v in table[m]])
            for m in ("precision", "recall", "f1")
        ]
    )
    fig.update_layout(title=t["accuracy"], barmode="group", xaxis_title=t["scope"])
    fig.update_yaxes(range=[0, 1.05])
    return style_figure(fig, height=380)


def embed_html(path: Path | str | None, *, height: int = 520, language: str = "zh"):
    """Show a saved, self-contained HTML chart in the notebook (an iframe with the file's content).

    Args:
        path: the HTML file (e.g. ``result.files["match_weights"]``); None or missing: a note.
        height: iframe height in pixels.
        language: language of the note.

    Returns:
        An ``IPython.display.HTML`` object.
    """
    from IPython.display import HTML

    if path is None or not Path(path).exists():
        return HTML(f"<p>{html.escape(_t(language)['missing'].format(path=path))}</p>")
    content = Path(path).read_text(encoding="utf-8")
    # wrapped in a div: IPython warns about a bare iframe (it would rather load a URL, which a
    # self-contained offline chart does not need)
    return HTML(
        f'<div><iframe srcdoc="{html.escape(content, quote=True)}" style="width:100%;height:{int(height)}px;'
        'border:0"></iframe></div>'
    )
