"""The HTML view of one master record's explanation (``workbench.core.golden.explain``).

:func:`render_master_explanation` turns a :class:`~workbench.core.golden.explain.MasterExplanation`
into an HTML fragment (headings in Chinese or English, tables escaped by pandas) that a report can
embed; :func:`explanation_view` wraps it for the notebook (it displays itself as that HTML).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from workbench.core.golden.explain import MasterExplanation

TEXT = {
    "zh": {
        "title": "主记录 {m} 的解释",
        "golden": "黄金记录字段 (值, 来源记录, 规则)",
        "members": "成员记录",
        "evidence": "匹配证据 (成员之间的记录对)",
        "waterfall": "逐项比较 (瀑布)",
        "parent": "上级主记录",
        "children": "下级主记录",
        "none": "无",
    },
    "en": {
        "title": "Explanation of master {m}",
        "golden": "Golden fields (value, source record, rule)",
        "members": "Member records",
        "evidence": "Match evidence (pairs among the members)",
        "waterfall": "Per-comparison evidence (waterfall)",
        "parent": "Parent master",
        "children": "Child masters",
        "none": "none",
    },
}


def render_master_explanation(explanation: MasterExplanation, language: str = "zh") -> str:
    """The explanation as an HTML fragment.

    Args:
        explanation: what :func:`workbench.core.golden.explain.explain_master` returned.
        language: ``zh`` or ``en`` (any other: English).

    Returns:
        Headings, the parent and child masters, and the tables: golden fields, members, match
        evidence and (when the match stage kept Splink's per-comparison columns) the waterfall.
    """
    t = TEXT.get(language, TEXT["en"])
    none = t["none"]

    def table(df: pd.DataFrame) -> str:
        return df.to_html(index=False, na_rep="", escape=True, border=0) if not df.empty else none

    ex = explanation
    parts = [
        f"<h3>{html.escape(t['title'].format(m=ex.master_id))}</h3>",
        f"<p>{html.escape(t['parent'])}: {html.escape(ex.parent_master_id or none)} · "
        f"{html.escape(t['children'])}: {html.escape(', '.join(ex.children) or none)}</p>",
        f"<h4>{html.escape(t['golden'])}</h4>{table(ex.fields)}",
        f"<h4>{html.escape(t['members'])}</h4>{table(ex.members)}",
        f"<h4>{html.escape(t['evidence'])}</h4>{table(ex.evidence)}",
    ]
    if not ex.waterfall.empty:
        parts.append(f"<h4>{html.escape(t['waterfall'])}</h4>{table(ex.waterfall)}")
    return "\n".join(parts)


@dataclass
class ExplanationView:
    """A master's explanation that a notebook displays as HTML (the data stays in `explanation`)."""

    explanation: MasterExplanation
    language: str = "zh"

    def _repr_html_(self) -> str:
        return render_master_explanation(self.explanation, self.language)


def explanation_view(
    explanation: MasterExplanation | None, language: str | None = None
) -> ExplanationView | None:
    """The notebook view of an explanation (None when there is no master to explain).

    Args:
        explanation: the explanation, or None.
        language: ``zh`` or ``en``; default ``zh``.
    """
    if explanation is None:
        return None
    return ExplanationView(explanation, language or "zh")
