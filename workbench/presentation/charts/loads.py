"""Figure of the mock-load history: failed records per reason and failure rate per round."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from workbench.presentation.charts import style_figure

if TYPE_CHECKING:
    import plotly.graph_objects as go

LABELS = {
    "zh": {
        "title": "试导入轮次：失败原因与失败率",
        "round": "轮次",
        "failed": "失败记录数",
        "rate": "失败率",
        "round_label": "{profile} 第{n}轮",
        "reason": "原因",
    },
    "en": {
        "title": "Mock loads: failures by reason and failure rate per round",
        "round": "round",
        "failed": "failed records",
        "rate": "failure rate",
        "round_label": "{profile} #{n}",
        "reason": "reason",
    },
}


def load_iterations_figure(
    history: pd.DataFrame, language: str = "zh", *, reason_labels: dict[str, str] | None = None
) -> go.Figure:
    """Stacked bars of failed records per reason for every round, with the failure rate as a line.

    Args:
        history: :func:`workbench.core.export.import_log.read_load_history` output.
        language: ``zh`` or ``en``.
        reason_labels: reason id → text to show (default: the ids).
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    fig = go.Figure()
    if history.empty:
        fig.update_layout(title=lab["title"])
        return style_figure(fig, height=420)
    h = history.copy()
    h["round"] = [
        lab["round_label"].format(profile=p, n=int(i))
        for p, i in zip(h["profile"], h["iteration"], strict=True)
    ]
    rounds = h.drop_duplicates(["profile", "run_id", "iteration"])
    order = rounds["round"].tolist()
    reasons = h.dropna(subset=["reason"])
    for reason, part in reasons.groupby("reason", sort=True):
        name = (reason_labels or {}).get(reason, reason)
        fig.add_bar(x=part["round"], y=part["rows"], name=name)
    fig.add_scatter(
        x=rounds["round"],
        y=rounds["failure_rate"],
        name=lab["rate"],
        yaxis="y2",
        mode="lines+markers+text",
        text=[f"{r:.1%}" for r in rounds["failure_rate"]],
        textposition="top center",
    )
    fig.update_layout(
        barmode="stack",
        title=lab["title"],
        legend_title_text=lab["reason"],
        yaxis={"title": lab["failed"]},
        yaxis2={
            "title": lab["rate"],
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "rangemode": "tozero",
        },
    )
    fig.update_xaxes(title=lab["round"], categoryorder="array", categoryarray=order)
    return style_figure(fig, height=440)
