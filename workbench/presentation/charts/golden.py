"""Figures of the golden-record stage: masters by match type, and how golden values were decided."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from workbench.presentation.charts import style_figure

TEXT = {
    "zh": {
        "match_types": "主记录按匹配类型",
        "masters": "主记录数",
        "members": "源记录数",
        "match_type": "匹配类型",
        "single": "单一来源",
        "merged": "自动合并",
        "reviewed": "人工审核",
        "rules": "黄金字段值由哪条规则决定",
        "values": "字段值数",
        "field": "字段",
    },
    "en": {
        "match_types": "Master records by match type",
        "masters": "masters",
        "members": "source rows",
        "match_type": "match type",
        "single": "single",
        "merged": "merged",
        "reviewed": "reviewed",
        "rules": "Which rule decided each golden value",
        "values": "values",
        "field": "field",
    },
}


def match_type_figure(counts: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Bars of masters and member rows per match type.

    Args:
        counts: ``match_type, masters, members`` (from ``survivorship.count_match_types``).
        language: ``zh`` or ``en``.
    """
    t = TEXT.get(language, TEXT["en"])
    labels = [t.get(str(m), str(m)) for m in counts["match_type"]]
    fig = go.Figure(
        [
            go.Bar(
                name=t["masters"], x=labels, y=counts["masters"], text=counts["masters"], textposition="auto"
            ),
            go.Bar(
                name=t["members"], x=labels, y=counts["members"], text=counts["members"], textposition="auto"
            ),
        ]
    )
    fig.update_layout(title=t["match_types"], barmode="group", xaxis_title=t["match_type"])
    return style_figure(fig, height=380)


def deciding_rule_figure(rules: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Stacked horizontal bars: per golden field, how many values each rule decided.

    Args:
        rules: ``field, rule, value_count`` (from ``survivorship.count_deciding_rules``).
        language: ``zh`` or ``en``.
    """
    t = TEXT.get(language, TEXT["en"])
    fields = sorted(rules["field"].unique().tolist(), reverse=True)
    fig = go.Figure()
    for rule in sorted(rules["rule"].unique().tolist()):
        part = rules[rules["rule"] == rule].set_index("field")["value_count"]
        fig.add_trace(go.Bar(name=rule, y=fields, x=[int(part.get(f, 0)) for f in fields], orientation="h"))
    fig.update_layout(title=t["rules"], barmode="stack", xaxis_title=t["values"], yaxis_title=t["field"])
    return style_figure(fig, height=max(320, 24 * len(fields) + 140))
