"""Figures of the standardize stage: validity before/after per field and source, top change
rules, flagged records by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from workbench.presentation.charts import style_figure

if TYPE_CHECKING:
    import plotly.graph_objects as go

LABELS = {
    "zh": {
        "validity_title": "各来源字段有效率：标准化前后",
        "before": "标准化前",
        "after": "标准化后",
        "rate": "有效率（占有值记录）",
        "field": "来源 / 字段",
        "rules_title": "变更规则 Top {n}（按变更数）",
        "rule": "规则",
        "changes": "变更数",
        "flags_title": "被标记的记录（按原因与来源）",
        "reason": "原因",
        "records": "记录数",
        "source": "来源",
    },
    "en": {
        "validity_title": "Validity per field and source: before and after standardization",
        "before": "before",
        "after": "after",
        "rate": "valid (share of present values)",
        "field": "source / field",
        "rules_title": "Top {n} change rules (by changes)",
        "rule": "rule",
        "changes": "changes",
        "flags_title": "Flagged records by reason and source",
        "reason": "reason",
        "records": "records",
        "source": "source",
    },
}


def figure_validity(validity: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Grouped bars: for every source and field, the share of present values valid before and after.

    Args:
        validity: :func:`workbench.core.standardize.summary.read_validity` (source, field, valid_before,
            valid_after, n_present).
        language: ``zh`` or ``en``.
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    data = validity[validity["n_present"] > 0]
    x = [data["source"].tolist(), data["field"].tolist()]
    fig = go.Figure()
    fig.add_bar(x=x, y=data["valid_before"], name=lab["before"], marker_color="#C9CED6")
    fig.add_bar(
        x=x,
        y=data["valid_after"],
        name=lab["after"],
        marker_color="#2E7D5B",
        customdata=data[["n_present", "n_valid_before", "n_valid_after"]].to_numpy(),
        hovertemplate="%{x}<br>%{y:.1%} (%{customdata[2]} / %{customdata[0]})<extra></extra>",
    )
    fig.update_layout(barmode="group", title=lab["validity_title"])
    fig.update_yaxes(title=lab["rate"], tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(title=lab["field"], tickangle=-45)
    return style_figure(fig, height=480)


def figure_top_rules(rules: pd.DataFrame, language: str = "zh", *, top: int = 15) -> go.Figure:
    """Horizontal bars of the most frequent change rules.

    Args:
        rules: :func:`workbench.core.standardize.summary.count_rules` (rule, changes).
        language: ``zh`` or ``en``.
        top: how many rules to show.
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    data = rules.head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=data["changes"], y=data["rule"], orientation="h", text=data["changes"], textposition="outside"
        )
    )
    fig.update_layout(title=lab["rules_title"].format(n=min(top, len(rules))))
    fig.update_xaxes(title=lab["changes"])
    fig.update_yaxes(title=lab["rule"], automargin=True)
    return style_figure(fig, height=max(320, 28 * len(data) + 140))


def figure_flags(flags: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Stacked bars: flagged records per reason, one colour per source.

    Args:
        flags: :func:`workbench.core.standardize.summary.count_flags` (source, reason, records).
        language: ``zh`` or ``en``.
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    order = flags.groupby("reason")["records"].sum().sort_values(ascending=False).index.tolist()
    fig = go.Figure()
    for source, part in flags.groupby("source", sort=True):
        fig.add_bar(x=part["reason"], y=part["records"], name=str(source))
    fig.update_layout(barmode="stack", title=lab["flags_title"], legend_title_text=lab["source"])
    fig.update_xaxes(title=lab["reason"], categoryorder="array", categoryarray=order)
    fig.update_yaxes(title=lab["records"])
    return style_figure(fig, height=420)
