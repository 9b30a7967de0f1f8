"""Plotly figure builders (one module per stage) and the shared chart look.

Builders return a :class:`plotly.graph_objects.Figure` and never call ``.show()``; the notebook
shows it, a report embeds it. Every figure uses :data:`FONT_FAMILY`, a font stack that renders
Chinese on Windows, macOS and Linux without downloading a web font.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: System fonts only (no web fonts: reports open offline); CJK-capable faces come before the
#: generic fallback so Chinese never renders as boxes.
FONT_FAMILY = (
    '-apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
    '"Helvetica Neue", Arial, sans-serif'
)

#: plotly config used wherever a figure is rendered: no plotly logo link, no cloud buttons.
PLOTLY_CONFIG: dict[str, object] = {"displaylogo": False, "responsive": True}

#: Renderers for notebooks: the mimetype renderer for JupyterLab, plus the classic notebook
#: renderer which inlines plotly.js once so the nbconvert HTML export works offline.
NOTEBOOK_RENDERERS = "plotly_mimetype+notebook"


def setup_notebook() -> str:
    """Set plotly's default renderers for stage notebooks and return their name.

    Figures then show in JupyterLab (mimetype renderer) and in the offline HTML export of the
    executed notebook: the ``notebook`` renderer inlines plotly.js once. plotly's own ``notebook``
    renderer also adds a MathJax ``<script src>`` from a CDN to every figure, so it is replaced by
    :class:`OfflineNotebookRenderer`, which does not.

    Returns:
        The renderer string now in ``plotly.io.renderers.default``.
    """
    import plotly.io as pio

    pio.renderers["notebook"] = _offline_notebook_renderer()
    pio.renderers["plotly_mimetype"].config = dict(PLOTLY_CONFIG)
    pio.renderers.default = NOTEBOOK_RENDERERS
    return NOTEBOOK_RENDERERS


def _offline_notebook_renderer():
    """plotly's classic-notebook renderer without the MathJax CDN script in each figure."""
    from plotly.io import to_html
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        def to_mimebundle(self, fig_dict):
            html = to_html(
                fig_dict,
                config=self.config,
                include_plotlyjs=self.include_plotlyjs,  # False: inlined once when activated
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    return OfflineNotebookRenderer(config=dict(PLOTLY_CONFIG))


def style_figure(fig: go.Figure, *, height: int | None = None) -> go.Figure:
    """Apply the workbench look (CJK-capable fonts, white template, margins) to `fig` in place.

    Args:
        fig: the figure to style.
        height: figure height in pixels; default: leave plotly's.

    Returns:
        The same figure, for chaining.
    """
    fig.update_layout(
        template="plotly_white",
        font={"family": FONT_FAMILY, "size": 13},
        margin={"l": 60, "r": 30, "t": 70, "b": 60},
        title={"x": 0.01, "xanchor": "left"},
    )
    if height is not None:
        fig.update_layout(height=height)
    return fig


__all__ = ["FONT_FAMILY", "NOTEBOOK_RENDERERS", "PLOTLY_CONFIG", "setup_notebook", "style_figure"]
