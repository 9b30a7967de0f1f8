"""Figures of the audit stage: completeness, patterns, top values, key overlaps, ingest row counts.

Each builder takes the tables written by :mod:`workbench.core.ingest` and :mod:`workbench.core.profiling`
(as DataFrames), a ``language`` (``'zh'`` or ``'en'``) for titles and axes, and returns a plotly
Figure; none calls ``.show()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.presentation.charts import style_figure

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "missing_title": "缺失率（空值 + 空白）：来源 × 字段",
        "missing": "缺失率",
        "nulls": "空值",
        "blanks": "空白",
        "source": "来源",
        "field": "字段",
        "completeness_title": "各来源字段完整率",
        "fill_rate": "完整率",
        "patterns_title": "格式分布：{source} · {field}",
        "pattern": "格式",
        "rows": "行数",
        "share": "占比",
        "example": "示例",
        "top_values_title": "高频值：{source} · {field}",
        "value": "值",
        "overlap_title": "来源之间的共有键（{kinds}）",
        "overlap_cell": "共有键",
        "distinct_keys": "去重键数",
        "jaccard": "Jaccard",
        "row_counts_title": "各来源行数：入库 vs 隔离",
        "staged": "入库",
        "quarantined": "隔离",
        "file_rows": "文件行数",
        "duplicates_title": "来源内重复",
        "duplicate_ids": "重复编号",
        "rows_with_duplicate_id": "涉及行数",
        "surplus_duplicate_rows": "完全重复行（多余副本）",
        "no_data": "无数据",
        "phone": "电话",
        "email": "邮箱",
        "tax_id": "税号",
        "histogram_title": "取值分布：{source} · {field}",
        "length_title": "长度分布：{source} · {field}",
        "length": "字符数",
        "date": "日期",
        "number": "数值",
        "missing_corr_title": "缺失相关性：{source}（1 = 总是同时缺失）",
        "correlation": "相关系数",
    },
    "en": {
        "missing_title": "Missing rate (NULL + blank): source × field",
        "missing": "Missing",
        "nulls": "NULL",
        "blanks": "Blank",
        "source": "Source",
        "field": "Field",
        "completeness_title": "Completeness of each field by source",
        "fill_rate": "Filled",
        "patterns_title": "Value patterns: {source} · {field}",
        "pattern": "Pattern",
        "rows": "Rows",
        "share": "Share",
        "example": "Example",
        "top_values_title": "Most frequent values: {source} · {field}",
        "value": "Value",
        "overlap_title": "Keys shared between sources ({kinds})",
        "overlap_cell": "Shared keys",
        "distinct_keys": "Distinct keys",
        "jaccard": "Jaccard",
        "row_counts_title": "Rows per source: staged vs quarantined",
        "staged": "Staged",
        "quarantined": "Quarantined",
        "file_rows": "File rows",
        "duplicates_title": "Duplicates within each source",
        "duplicate_ids": "Duplicate IDs",
        "rows_with_duplicate_id": "Rows involved",
        "surplus_duplicate_rows": "Identical rows (surplus copies)",
        "no_data": "No data",
        "phone": "Phone",
        "email": "E-mail",
        "tax_id": "Tax ID",
        "histogram_title": "Distribution of values: {source} · {field}",
        "length_title": "Distribution of lengths: {source} · {field}",
        "length": "characters",
        "date": "date",
        "number": "value",
        "missing_corr_title": "Missingness correlation: {source} (1 = always missing together)",
        "correlation": "correlation",
    },
}

_COLORS = {"staged": "#2f6fb0", "quarantined": "#d64541", "bar": "#2f6fb0"}


def _labels(language: str) -> dict[str, str]:
    if language not in LABELS:
        raise ValueError(f"language {language!r} is not supported; use one of {', '.join(LABELS)}")
    return LABELS[language]


def _pct(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _mapped(columns: pd.DataFrame, mapped_only: bool) -> pd.DataFrame:
    if mapped_only and "mapped" in columns:
        return columns[columns["mapped"].fillna(False).astype(bool)]
    return columns


def _empty(title: str, lab: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=lab["no_data"], showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
    return style_figure(fig, height=260)


def _share_heatmap(
    z: Sequence[Sequence[float | None]],
    x: Sequence[str],
    y: Sequence[str],
    text: Sequence[Sequence[str]],
    hover: Sequence[Sequence[str]],
    **style: Any,
) -> go.Heatmap:
    """A heatmap of shares in [0, 1] with its text in the cells and its own hover text.

    Args:
        z: the shares, one row per `y` label.
        x: column labels.
        y: row labels.
        text: what each cell shows.
        hover: what each cell's hover box shows.
        **style: colours and colour bar (``colorscale``, ``colorbar``, ``showscale`` …).
    """
    return go.Heatmap(
        z=z,
        x=x,
        y=y,
        text=text,
        texttemplate="%{text}",
        hovertext=hover,
        hoverinfo="text",
        zmin=0,
        zmax=1,
        xgap=2,
        ygap=2,
        **style,
    )


def figure_missing_heatmap(
    columns: pd.DataFrame, language: str = "zh", *, mapped_only: bool = True, labels: dict[str, str] | None = None
) -> go.Figure:
    """Heatmap of the missing rate (NULL + blank) of every field in every source.

    Args:
        columns: the ``profile_columns`` table (source, field, null_rate, blank_rate …).
        language: ``'zh'`` or ``'en'``.
        mapped_only: only the fields mapped in the config (not kept unmapped columns).
    """
    lab = _labels(language)
    df = _mapped(columns, mapped_only)
    if df.empty:
        return _empty(lab["missing_title"], lab)
    sources = list(dict.fromkeys(df["source"]))
    fields = list(dict.fromkeys(df["field"]))
    by_key = {(r.source, r.field): r for r in df.itertuples()}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    for s in sources:
        zr: list[float | None] = []
        tr: list[str] = []
        hr: list[str] = []
        for f in fields:
            r = by_key.get((s, f))
            if r is None:
                zr.append(None)
                tr.append("")
                hr.append("")
                continue
            missing = float(r.null_rate) + float(r.blank_rate)
            zr.append(missing)
            tr.append(_pct(missing))
            hr.append(
                f"{lab['source']}: {s}<br>{lab['field']}: {(labels or {}).get(f, f)}<br>{lab['missing']}: {_pct(missing)}"
                f"<br>{lab['nulls']}: {int(r.nulls):,} ({_pct(r.null_rate)})"
                f"<br>{lab['blanks']}: {int(r.blanks):,} ({_pct(r.blank_rate)})"
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    fig = go.Figure(
        _share_heatmap(
            z,
            [(labels or {}).get(f, f) for f in fields],
            sources,
            text,
            hover,
            colorscale=[[0, "#f7fbff"], [0.2, "#fdd49e"], [1, "#b30000"]],
            colorbar={"title": lab["missing"], "tickformat": ".0%"},
        )
    )
    fig.update_layout(
        title=lab["missing_title"],
        xaxis={"title": lab["field"], "tickangle": -40},
        yaxis={"title": lab["source"], "autorange": "reversed"},
    )
    return style_figure(fig, height=max(300, 120 + 45 * len(sources)))


def figure_completeness(
    columns: pd.DataFrame, language: str = "zh", *, mapped_only: bool = True, labels: dict[str, str] | None = None
) -> go.Figure:
    """Grouped bars: the share of filled (not NULL, not blank) values of each field, per source."""
    lab = _labels(language)
    df = _mapped(columns, mapped_only)
    if df.empty:
        return _empty(lab["completeness_title"], lab)
    fig = go.Figure()
    for source, part in df.groupby("source", sort=False):
        fig.add_trace(
            go.Bar(
                name=str(source),
                x=[(labels or {}).get(f, f) for f in part["field"]],
                y=part["fill_rate"],
                hovertemplate=f"{source} · %{{x}}<br>{lab['fill_rate']}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=lab["completeness_title"],
        barmode="group",
        xaxis={"title": lab["field"], "tickangle": -40},
        yaxis={"title": lab["fill_rate"], "tickformat": ".0%", "range": [0, 1.05]},
        legend={"title": lab["source"]},
    )
    return style_figure(fig, height=460)


def _ranked_bars(
    df: pd.DataFrame, label_col: str, title: str, lab: dict[str, str], *, hover_example: bool
) -> go.Figure:
    df = df.sort_values("rank")
    labels = [str(v) for v in df[label_col]]
    customdata = df[["share"] + (["example"] if hover_example else [])].to_numpy()
    hover = f"%{{y}}<br>{lab['rows']}: %{{x:,}}<br>{lab['share']}: %{{customdata[0]:.1%}}"
    if hover_example:
        hover += f"<br>{lab['example']}: %{{customdata[1]}}"
    fig = go.Figure(
        go.Bar(
            x=df["count"],
            y=labels,
            orientation="h",
            marker_color=_COLORS["bar"],
            text=[_pct(v) for v in df["share"]],
            textposition="auto",
            customdata=customdata,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"title": lab["rows"]},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return style_figure(fig, height=max(260, 110 + 28 * len(df)))


def _one_field(df: pd.DataFrame, source: str, field: str) -> pd.DataFrame:
    return df[(df["source"] == source) & (df["field"] == field)]


def _bin_text(lo: float, hi: float, measure: str, inferred: str) -> str:
    if measure == "length":
        return f"{int(lo)}"
    if inferred == "date":
        import datetime as dt

        day = dt.date(1970, 1, 1)
        return f"{day + dt.timedelta(days=int(lo)):%Y-%m-%d} – {day + dt.timedelta(days=int(hi)):%Y-%m-%d}"
    return f"{lo:,.4g} – {hi:,.4g}"


def figure_histogram(
    histograms: pd.DataFrame, source: str, field: str, language: str = "zh", *, label: str | None = None,
    inferred: str = "decimal",
) -> go.Figure:
    """Bars of a field's value histogram (numbers, dates) or its length distribution (text).

    Args:
        histograms: rows of :func:`workbench.core.profiling.distributions.value_histograms` with a
            ``source`` column.
        source: source name.
        field: the field.
        language: ``zh`` or ``en``.
        label: the field's name as business reads it (default the field).
        inferred: the field's inferred type (``date`` bins are shown as dates).
    """
    lab = _labels(language)
    df = histograms[(histograms["source"] == source) & (histograms["field"] == field)].sort_values("bin")
    measure = str(df["measure"].iloc[0]) if len(df) else "value"
    key = "length_title" if measure == "length" else "histogram_title"
    title = lab[key].format(source=source, field=label or field)
    if df.empty:
        return _empty(title, lab)
    x = [_bin_text(lo, hi, measure, inferred) for lo, hi in zip(df["lower"], df["upper"], strict=True)]
    fig = go.Figure(go.Bar(x=x, y=df["count"], marker_color=_COLORS["bar"],
                           hovertemplate=f"%{{x}}<br>{lab['rows']}: %{{y:,}}<extra></extra>"))
    axis = lab["length"] if measure == "length" else (lab["date"] if inferred == "date" else lab["number"])
    fig.update_layout(title=title, xaxis={"title": axis, "type": "category"}, yaxis={"title": lab["rows"]},
                      bargap=0.05)
    return style_figure(fig, height=300)


def figure_missing_correlation(
    correlations: pd.DataFrame, source: str, language: str = "zh", *, labels: dict[str, str] | None = None
) -> go.Figure:
    """Heatmap of the correlation of missing values between the fields of one source (−1 … 1)."""
    lab = _labels(language)
    title = lab["missing_corr_title"].format(source=source)
    df = correlations[correlations["source"] == source]
    if df.empty:
        return _empty(title, lab)
    known = df[df["correlation"].notna()]
    fields = list(dict.fromkeys([*known["field_a"], *known["field_b"]]))  # fields sometimes missing
    if not fields:
        return _empty(title, lab)
    df = known
    names = [(labels or {}).get(f, f) for f in fields]
    index = {f: i for i, f in enumerate(fields)}
    z: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(fields))] for i in range(len(fields))]
    for r in df.itertuples(index=False):
        value = None if r.correlation is None or r.correlation != r.correlation else float(r.correlation)
        z[index[r.field_a]][index[r.field_b]] = value
        z[index[r.field_b]][index[r.field_a]] = value
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True, xgap=2, ygap=2,
                               colorbar={"title": lab["correlation"]},
                               hovertemplate="%{x} / %{y}: %{z:.2f}<extra></extra>"))
    fig.update_layout(title=title, xaxis={"tickangle": -40}, yaxis={"autorange": "reversed"})
    return style_figure(fig, height=max(320, 120 + 32 * len(fields)))


def figure_patterns(
    patterns: pd.DataFrame, source: str, field: str, language: str = "zh", *, label: str | None = None
) -> go.Figure:
    """Horizontal bars of the most frequent pattern masks of one field of one source.

    Args:
        patterns: the ``profile_patterns`` table.
        source: source name.
        field: staged column (field) name.
        language: ``'zh'`` or ``'en'``.
    """
    lab = _labels(language)
    title = lab["patterns_title"].format(source=source, field=label or field)
    df = _one_field(patterns, source, field)
    if df.empty:
        return _empty(title, lab)
    return _ranked_bars(df, "pattern", title, lab, hover_example=True)


def figure_top_values(
    top_values: pd.DataFrame, source: str, field: str, language: str = "zh", *, label: str | None = None
) -> go.Figure:
    """Horizontal bars of the most frequent values of one field of one source."""
    lab = _labels(language)
    title = lab["top_values_title"].format(source=source, field=label or field)
    df = _one_field(top_values, source, field)
    if df.empty:
        return _empty(title, lab)
    return _ranked_bars(df, "value", title, lab, hover_example=False)


def figure_key_overlap(
    overlaps: pd.DataFrame, language: str = "zh", *, kinds: Sequence[str] | None = None
) -> go.Figure:
    """One source × source heatmap per key kind: shared keys off the diagonal, distinct keys on it.

    Args:
        overlaps: the ``profile_key_overlaps`` table.
        language: ``'zh'`` or ``'en'``.
        kinds: key kinds to show, in order; default all in the table.
    """
    lab = _labels(language)
    kinds = list(kinds) if kinds is not None else list(dict.fromkeys(overlaps["key_kind"]))
    kind_names = [lab.get(k, k) for k in kinds]
    title = lab["overlap_title"].format(kinds=" / ".join(kind_names))
    if overlaps.empty or not kinds:
        return _empty(title, lab)
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=kind_names, horizontal_spacing=0.12)
    for i, kind in enumerate(kinds, start=1):
        part = overlaps[overlaps["key_kind"] == kind].sort_values(["source_order_a", "source_order_b"])
        order = sorted(
            set(zip(part["source_order_a"], part["source_a"], strict=True))
            | set(zip(part["source_order_b"], part["source_b"], strict=True))
        )
        sources = [name for _, name in order]
        n = len(sources)
        z = [[0.0] * n for _ in range(n)]
        text = [[""] * n for _ in range(n)]
        hover = [[""] * n for _ in range(n)]
        index = {s: j for j, s in enumerate(sources)}
        for r in part.itertuples():
            a, b = index[r.source_a], index[r.source_b]
            for x, y in ((a, b), (b, a)):
                z[x][y] = float(r.jaccard)
                text[x][y] = f"{int(r.shared_keys):,}"
                hover[x][y] = (
                    f"{r.source_a} ∩ {r.source_b}<br>{lab['overlap_cell']}: {int(r.shared_keys):,}"
                    f"<br>{lab['jaccard']}: {r.jaccard:.3f}"
                )
            for s, keys in ((r.source_a, r.keys_a), (r.source_b, r.keys_b)):
                j = index[s]
                z[j][j] = 1.0
                text[j][j] = f"{int(keys):,}"
                hover[j][j] = f"{s}<br>{lab['distinct_keys']}: {int(keys):,}"
        fig.add_trace(
            _share_heatmap(
                z,
                sources,
                sources,
                text,
                hover,
                colorscale="Blues",
                showscale=i == len(kinds),
                colorbar={"title": lab["jaccard"]},
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    fig.update_layout(title=title)
    return style_figure(fig, height=420)


def figure_row_counts(ingest_summary: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Stacked bars per source: staged and quarantined rows (they add up to the file's rows)."""
    lab = _labels(language)
    if ingest_summary.empty:
        return _empty(lab["row_counts_title"], lab)
    df = ingest_summary
    fig = go.Figure()
    for col, name in (("staged_rows", "staged"), ("quarantined_rows", "quarantined")):
        fig.add_trace(
            go.Bar(
                name=lab[name],
                x=df["source"],
                y=df[col],
                marker_color=_COLORS[name],
                text=[f"{int(v):,}" for v in df[col]],
                customdata=df["file_rows"],
                hovertemplate=(
                    f"%{{x}}<br>{lab[name]}: %{{y:,}}<br>{lab['file_rows']}: %{{customdata:,}}<extra></extra>"
                ),
            )
        )
    return _rows_by_source(fig, lab, lab["row_counts_title"], barmode="stack", height=380)


def figure_duplicates(duplicate_summary: pd.DataFrame, language: str = "zh") -> go.Figure:
    """Grouped bars per source: duplicate IDs, rows sharing an ID, identical rows."""
    lab = _labels(language)
    columns = ("duplicate_ids", "rows_with_duplicate_id", "surplus_duplicate_rows")
    if duplicate_summary.empty or not duplicate_summary[list(columns)].to_numpy().any():
        return _empty(lab["duplicates_title"], lab)  # nothing to draw: a note, not a −1…1 axis
    fig = go.Figure()
    for col in columns:
        fig.add_trace(
            go.Bar(
                name=lab[col],
                x=duplicate_summary["source"],
                y=duplicate_summary[col],
                text=[f"{int(v):,}" for v in duplicate_summary[col]],
            )
        )
    return _rows_by_source(fig, lab, lab["duplicates_title"], barmode="group", height=360)


def _rows_by_source(
    fig: go.Figure, lab: dict[str, str], title: str, *, barmode: str, height: int
) -> go.Figure:
    """Lay out bars of row counts per source: sources along x, rows up y."""
    fig.update_layout(
        title=title,
        barmode=barmode,
        xaxis={"title": lab["source"]},
        yaxis={"title": lab["rows"]},
    )
    return style_figure(fig, height=height)


__all__ = [
    "LABELS",
    "figure_completeness",
    "figure_duplicates",
    "figure_histogram",
    "figure_key_overlap",
    "figure_missing_correlation",
    "figure_missing_heatmap",
    "figure_patterns",
    "figure_row_counts",
    "figure_top_values",
]
