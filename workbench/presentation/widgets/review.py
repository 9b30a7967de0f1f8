"""The clerical review widget: decide uncertain pairs side by side in JupyterLab.

The widget shows one pair of records at a time, field by field, with the fields whose standardized
values differ highlighted (and fields only one record holds marked). Buttons decide ``match``,
``non_match`` or ``skip`` and go to the next pair; ``back`` returns to the previous one. Every
decision is saved at once to the labels CSV through
:func:`workbench.core.linkage.review_queue.save_decision`, so closing the notebook loses nothing; the
next run of the match stage applies the labels.

Keyboard: the buttons are tabbable in the order shown and carry their shortcut in their
description; the key box accepts ``m`` (match), ``n`` (non-match), ``s`` (skip) and ``b`` (back).
Blind mode hides the model's probability, weight and reason so they cannot sway the reviewer.

The match notebook shows :func:`review_view`: the widget when its ``interactive`` parameter is
true (a person at JupyterLab), else (papermill, ``workbench run``) a note of how many pairs wait and
where the Excel workbook of the same pairs is (:mod:`workbench.presentation.workbooks.match_review`).
"""

from __future__ import annotations

import getpass
import html
import logging
from typing import Any

import ipywidgets as widgets

from workbench.core.linkage.review_queue import (
    ReviewItem,
    ReviewLabelsError,
    ReviewSession,
    load_review_items,
    save_decision,
)

log = logging.getLogger(__name__)

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "match": "匹配 (m)",
        "non_match": "不匹配 (n)",
        "skip": "跳过 (s)",
        "back": "上一条 (b)",
        "match_tip": "两条记录是同一客户 (快捷键 m)",
        "non_match_tip": "两条记录不是同一客户 (快捷键 n)",
        "skip_tip": "暂不决定 (快捷键 s)",
        "back_tip": "回到上一条 (快捷键 b)",
        "keys": "快捷键",
        "keys_hint": "输入 m / n / s / b",
        "reviewer": "审核人",
        "note": "备注",
        "progress": "第 {pos} / {total} 条 · 已决定 {decided} 条",
        "field": "字段",
        "left": "左",
        "right": "右",
        "probability": "匹配概率",
        "weight": "匹配权重",
        "reason": "原因",
        "kind": "类型",
        "blind": "盲审模式: 不显示模型分数",
        "decision": "已有决定",
        "none": "无",
        "empty": "没有待审核的记录对。",
        "done": "全部审核完毕。决定已保存到 {path}",
        "saved": "已保存: {label} ({left} / {right})",
        "legend": "红色: 取值不同; 黄色: 仅一方有值",
        "batch_note": "{n} 对记录待人工审核。要在这里审核，请把笔记本参数 interactive 设为 True 后重新运行；"
        "或把审核表 {workbook} 发给审核人，填好后用 read_match_review_workbook 读回。",
    },
    "en": {
        "match": "Match (m)",
        "non_match": "Non-match (n)",
        "skip": "Skip (s)",
        "back": "Back (b)",
        "match_tip": "Both records are the same customer (key m)",
        "non_match_tip": "The records are different customers (key n)",
        "skip_tip": "Decide later (key s)",
        "back_tip": "Go back to the previous pair (key b)",
        "keys": "Keys",
        "keys_hint": "type m / n / s / b",
        "reviewer": "Reviewer",
        "note": "Note",
        "progress": "Pair {pos} of {total} · {decided} decided",
        "field": "Field",
        "left": "Left",
        "right": "Right",
        "probability": "Match probability",
        "weight": "Match weight",
        "reason": "Reason",
        "kind": "Kind",
        "blind": "Blind mode: model scores hidden",
        "decision": "Saved decision",
        "none": "none",
        "empty": "No pairs to review.",
        "done": "All pairs reviewed. Decisions are saved in {path}",
        "saved": "Saved: {label} ({left} / {right})",
        "legend": "Red: values differ; yellow: only one record holds a value",
        "batch_note": "{n} pairs wait for a clerical review. To review them here, set the notebook "
        "parameter interactive to True and run it again; or send the workbook {workbook} to the "
        "reviewers and read it back with read_match_review_workbook.",
    },
}
STATUS_STYLE = {
    "different": "background:#fde2e1;font-weight:600",
    "one_missing": "background:#fff4cc",
    "same": "",
    "both_missing": "color:#999",
}
KEYS = {"m": "match", "n": "non_match", "s": "skip"}


class ReviewWidget(widgets.VBox):
    """The review UI for one :class:`~workbench.core.linkage.review_queue.ReviewSession` (see the module docstring).

    Attributes:
        session: the items and the labels path.
        index: position of the pair shown (``len(items)`` when all are done).
        match_button, non_match_button, skip_button, back_button: the decision buttons.
        key_box: a text box that acts on the keys m / n / s / b.
    """

    def __init__(
        self,
        session: ReviewSession,
        *,
        reviewer: str = "",
        blind: bool = False,
        language: str = "zh",
        **kwargs: Any,
    ):
        self.session = session
        self.blind = blind
        self.text = TEXT.get(language, TEXT["en"])
        self.index = next((i for i, it in enumerate(session.items) if it.decision is None), 0)
        t = self.text
        self.match_button = self._button("match", "success")
        self.non_match_button = self._button("non_match", "danger")
        self.skip_button = self._button("skip", "")
        self.back_button = self._button("back", "info")
        self.match_button.on_click(lambda _b: self.decide("match"))
        self.non_match_button.on_click(lambda _b: self.decide("non_match"))
        self.skip_button.on_click(lambda _b: self.decide("skip"))
        self.back_button.on_click(lambda _b: self.back())
        self.key_box = widgets.Text(
            value="", placeholder=t["keys_hint"], description=t["keys"], continuous_update=True
        )
        self.key_box.observe(self._on_key, names="value")
        self.reviewer_box = widgets.Text(value=reviewer, description=t["reviewer"])
        self.note_box = widgets.Text(value="", description=t["note"])
        self.progress = widgets.HTML()
        self.header = widgets.HTML()
        self.table = widgets.HTML()
        self.message = widgets.HTML()
        buttons = widgets.HBox([self.match_button, self.non_match_button, self.skip_button, self.back_button])
        super().__init__(
            [
                self.progress,
                self.header,
                self.table,
                buttons,
                widgets.HBox([self.key_box, self.note_box, self.reviewer_box]),
                self.message,
            ],
            **kwargs,
        )
        self.render()

    def _button(self, name: str, style: str) -> widgets.Button:
        b = widgets.Button(description=self.text[name], tooltip=self.text[f"{name}_tip"], button_style=style)
        b.tabbable = True
        return b

    # -- actions -----------------------------------------------------------------------------

    @property
    def current(self) -> ReviewItem | None:
        """The item shown, or None when every item was reviewed."""
        items = self.session.items
        return items[self.index] if 0 <= self.index < len(items) else None

    def decide(self, label: str) -> None:
        """Save `label` for the pair shown and go to the next pair."""
        item = self.current
        if item is None:
            return
        try:
            row = save_decision(
                self.session.labels_path,
                item.record_key_l,
                item.record_key_r,
                label,
                self.reviewer_box.value,
                self.note_box.value,
            )
        except ReviewLabelsError as exc:
            self.message.value = f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"
            return
        item.decision = label
        self.note_box.value = ""
        self.index += 1
        self.render()
        self.message.value = html.escape(
            self.text["saved"].format(label=label, left=row["record_key_l"], right=row["record_key_r"])
        )

    def back(self) -> None:
        """Show the previous pair (its saved decision is shown and can be changed)."""
        if self.index > 0:
            self.index -= 1
            self.message.value = ""
            self.render()

    def _on_key(self, change: dict[str, Any]) -> None:
        value = str(change.get("new") or "")
        if not value:
            return
        key = value.strip()[-1:].lower()
        self.key_box.value = ""
        if key in KEYS:
            self.decide(KEYS[key])
        elif key == "b":
            self.back()

    # -- drawing -----------------------------------------------------------------------------

    def render(self) -> None:
        """Redraw progress, header and the side-by-side table for the current pair."""
        t = self.text
        items = self.session.items
        decided = sum(1 for i in items if i.decision in ("match", "non_match"))
        pos = min(self.index + 1, len(items))
        self.progress.value = (
            f"<b>{html.escape(t['progress'].format(pos=pos, total=len(items), decided=decided))}</b>"
        )
        item = self.current
        for b in (self.match_button, self.non_match_button, self.skip_button):
            b.disabled = item is None
        self.back_button.disabled = self.index == 0
        if not items:
            self.header.value, self.table.value = html.escape(t["empty"]), ""
            return
        if item is None:
            self.header.value = html.escape(t["done"].format(path=self.session.labels_path))
            self.table.value = ""
            return
        self.header.value = self._header_html(item)
        self.table.value = self._table_html(item)

    def _header_html(self, item: ReviewItem) -> str:
        t = self.text
        parts = [f"{html.escape(t['kind'])}: {html.escape(item.kind)}"]
        if self.blind:
            parts.append(f"<i>{html.escape(t['blind'])}</i>")
        else:
            if item.match_probability is not None:
                parts.append(f"{html.escape(t['probability'])}: {item.match_probability:.3f}")
            if item.match_weight is not None:
                parts.append(f"{html.escape(t['weight'])}: {item.match_weight:.2f}")
            if item.reason:
                parts.append(f"{html.escape(t['reason'])}: {html.escape(item.reason)}")
        parts.append(f"{html.escape(t['decision'])}: {html.escape(item.decision or t['none'])}")
        return " · ".join(parts)

    def _table_html(self, item: ReviewItem) -> str:
        t = self.text

        def head(source: str, source_id: str | None, key: str) -> str:
            return html.escape(f"{source} {source_id or ''} [{key}]")

        rows = [
            "<tr>"
            f"<th style='text-align:left'>{html.escape(t['field'])}</th>"
            f"<th style='text-align:left'>{head(item.source_l, item.source_id_l, item.record_key_l)}</th>"
            f"<th style='text-align:left'>{head(item.source_r, item.source_id_r, item.record_key_r)}</th>"
            "</tr>"
        ]
        for r in item.comparison.itertuples(index=False):
            style = STATUS_STYLE.get(r.status, "")
            rows.append(
                f"<tr style='{style}' data-status='{r.status}'>"
                f"<td>{html.escape(str(r.field))}</td>"
                f"<td>{html.escape(r.left or '')}</td>"
                f"<td>{html.escape(r.right or '')}</td></tr>"
            )
        return (
            "<table style='border-collapse:collapse' cellpadding='4'>"
            + "".join(rows)
            + f"</table><small>{html.escape(t['legend'])}</small>"
        )


def review_widget(
    ctx: Any,
    blind: bool = False,
    *,
    reviewer: str | None = None,
    pending_only: bool = False,
    language: str | None = None,
) -> ReviewWidget:
    """Build the review widget for a run (show it as the last expression of a notebook cell).

    Args:
        ctx: the run (:class:`workbench.project.context.RunContext`); its ``review_queue`` gives the pairs.
        blind: hide the model's scores and reasons.
        reviewer: who reviews; default the login name (editable in the widget).
        pending_only: only pairs without a match / non_match decision yet.
        language: ``zh`` or ``en``; default the project's language.

    Returns:
        The widget; decisions go to the project's labels CSV (``match.labels_path``).
    """
    session = load_review_items(ctx, ctx.config, pending_only=pending_only)
    if reviewer is None:
        try:
            reviewer = getpass.getuser()
        except (KeyError, OSError):  # no login name in some containers
            reviewer = ""
    return ReviewWidget(
        session,
        reviewer=reviewer,
        blind=blind,
        language=language or ctx.config.project.language,
    )


def review_view(
    ctx: Any,
    interactive: bool = False,
    *,
    blind: bool = True,
    reviewer: str | None = None,
    pending_only: bool = True,
    language: str | None = None,
) -> Any:
    """What the match notebook shows for clerical review.

    Args:
        ctx: the run.
        interactive: a person is at the notebook (the match notebook's ``interactive`` parameter):
            show the review widget; else a note (papermill cannot show a widget).
        blind: hide the model's scores in the widget (default: blind review).
        reviewer: who reviews; default the login name.
        pending_only: only pairs without a match / non_match decision yet.
        language: ``zh`` or ``en``; default the project's language.

    Returns:
        The :class:`ReviewWidget`, or an ``IPython.display.HTML`` note.
    """
    if interactive:
        return review_widget(ctx, blind=blind, reviewer=reviewer, pending_only=pending_only, language=language)
    from IPython.display import HTML

    from workbench.presentation.workbooks.match_review import workbook_path

    session = load_review_items(ctx, ctx.config, pending_only=pending_only)
    text = TEXT.get(language or ctx.config.project.language, TEXT["en"])
    note = text["batch_note"].format(n=len(session.items), workbook=workbook_path(ctx))
    return HTML(f"<p>{html.escape(note)}</p>")
