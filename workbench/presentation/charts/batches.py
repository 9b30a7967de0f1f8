"""Figure of the batch plan: customers per load batch and wave, exclusions and deferrals apart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.batches.plan import ROLE_ORDER
from workbench.presentation.charts import style_figure

if TYPE_CHECKING:
    import plotly.graph_objects as go

LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "迁移批次计划：每批客户数（按波次）",
        "batch": "批次",
        "customers": "客户数",
        "wave": "波次",
        "wave_n": "波次 {n}",
        "held": "不导入",
        "roles": {
            "top_revenue": "重点客户（收入前列）",
            "active": "活跃客户",
            "vip": "VIP 客户",
            "blacklist": "黑名单客户",
            "other": "其他客户",
            "dormant": "延后（休眠客户）",
            "excluded": "排除",
        },
    },
    "en": {
        "title": "Batch plan: customers per batch (by wave)",
        "batch": "batch",
        "customers": "customers",
        "wave": "wave",
        "wave_n": "wave {n}",
        "held": "not loaded",
        "roles": {
            "top_revenue": "top revenue",
            "active": "active",
            "vip": "VIP",
            "blacklist": "blacklist",
            "other": "other",
            "dormant": "deferred (dormant)",
            "excluded": "excluded",
        },
    },
}
HELD_ORDER = ROLE_ORDER["dormant"]  # batch_order from which a batch is deferred or excluded
_ROLE_OF_ORDER = {order: role for role, order in ROLE_ORDER.items()}


def batch_label(batch: str, batch_order: int, language: str = "zh") -> str:
    """A batch as business reads it: its number and what it holds (``01 重点客户（收入前列）``)."""
    role = _ROLE_OF_ORDER.get(int(batch_order))
    text = LABELS[language]["roles"].get(role or "", "") if role else ""
    if not text:
        return str(batch).replace("_", " ")
    number = str(batch).split("_", 1)[0]
    return f"{number} {text}" if number.isdigit() else text


def batch_plan_figure(plan: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Stacked bars: customers per batch in load order, one colour per wave; deferred and
    excluded customers in grey.

    Args:
        plan: the ``batch_plan`` table (master_id, batch, batch_order, wave, reason).
        language: ``zh`` or ``en``.
    """
    import plotly.graph_objects as go

    lab = LABELS[language]
    counts = (
        plan.groupby(["batch_order", "batch", "wave"], as_index=False)
        .agg(customers=("master_id", "size"))
        .sort_values(["batch_order", "batch", "wave"])
    )
    counts["batch"] = [
        batch_label(b, o, language) for b, o in zip(counts["batch"], counts["batch_order"], strict=True)
    ]
    order = counts.drop_duplicates("batch")["batch"].tolist()
    fig = go.Figure()
    loaded = counts[counts["batch_order"] < HELD_ORDER]
    for wave, part in loaded.groupby("wave"):
        fig.add_bar(
            x=part["batch"],
            y=part["customers"],
            name=lab["wave_n"].format(n=int(wave)),
            text=part["customers"],
            textposition="inside",
        )
    held = counts[counts["batch_order"] >= HELD_ORDER].groupby("batch", as_index=False)["customers"].sum()
    if len(held):
        fig.add_bar(
            x=held["batch"],
            y=held["customers"],
            name=lab["held"],
            marker_color="#B0B0B0",
            text=held["customers"],
            textposition="inside",
        )
    fig.update_layout(barmode="stack", title=lab["title"], legend_title_text=lab["wave"])
    fig.update_xaxes(title=lab["batch"], categoryorder="array", categoryarray=order)
    fig.update_yaxes(title=lab["customers"])
    return style_figure(fig, height=420)
