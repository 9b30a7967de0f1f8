"""Splink's own charts of a trained match model, saved as self-contained HTML in the run's ``splink/``.

The match stage hands :func:`save_splink_charts` to
:func:`workbench.core.linkage.pipeline.match_customers`, which calls it with the trained linker and
its predictions while the engine is still open. Which charts are saved is ``match.charts``
(:class:`workbench.project.settings.match.ChartSettings`):

- ``match_weights.html`` and ``m_u_parameters.html``: the model's parameters;
- ``waterfall.html``: the pairs whose probability is closest to 0.5, comparison by comparison;
- ``comparison_viewer.html`` and ``cluster_studio.html``: Splink's dashboards.

Every file opens offline: Splink inlines its scripts, and the web-font links of its dashboards are
removed (:func:`strip_web_fonts`). The notebook shows them with
:func:`workbench.presentation.charts.linkage.embed_html`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.files import atomic_path, write_text_atomic
from workbench.project.context import RunContext

if TYPE_CHECKING:
    from workbench.core.linkage.pipeline import ScoredModel

_WEB_FONT_LINK = re.compile(r"<link[^>]*fonts\.(?:googleapis|gstatic)\.com[^>]*>\s*", re.IGNORECASE)


def save_splink_charts(ctx: RunContext, model: ScoredModel) -> dict[str, Path]:
    """Save the Splink charts that ``match.charts`` asks for.

    Args:
        ctx: the run (chart settings and the ``splink/`` folder).
        model: the trained linker and its predictions (see
            :class:`workbench.core.linkage.pipeline.ScoredModel`).

    Returns:
        name → path of every chart written (nothing when ``match.charts.enabled`` is false).
    """
    settings = ctx.config.match.charts
    if not settings.enabled:
        return {}
    folder = ctx.paths.splink
    out = save_parameter_charts(model, folder)
    if settings.waterfall_pairs:
        out.update(save_waterfall(model, folder, settings.waterfall_pairs))
    if settings.comparison_viewer_pairs:
        out.update(save_comparison_viewer(model, folder, settings.comparison_viewer_pairs))
    if settings.cluster_studio_clusters:
        out.update(save_cluster_studio(model, folder, settings.cluster_studio_clusters))
    return out


def save_parameter_charts(model: ScoredModel, folder: Path) -> dict[str, Path]:
    """``match_weights.html`` and ``m_u_parameters.html`` (scripts inlined)."""
    charts = {
        "match_weights": model.linker.visualisations.match_weights_chart,
        "m_u_parameters": model.linker.visualisations.m_u_parameters_chart,
    }
    out: dict[str, Path] = {}
    for name, make in charts.items():
        path = folder / f"{name}.html"
        write_text_atomic(path, make().to_html(inline=True))
        out[name] = path
    return out


def save_waterfall(model: ScoredModel, folder: Path, pairs: int) -> dict[str, Path]:
    """``waterfall.html`` of the `pairs` most uncertain pairs (none written when nothing was scored)."""
    records = model.pairs_nearest_even(pairs)
    if not records:
        return {}
    path = folder / "waterfall.html"
    write_text_atomic(path, model.linker.visualisations.waterfall_chart(records).to_html(inline=True))
    return {"waterfall": path}


def save_comparison_viewer(model: ScoredModel, folder: Path, examples: int) -> dict[str, Path]:
    """``comparison_viewer.html`` with `examples` pairs per comparison vector."""
    path = folder / "comparison_viewer.html"
    with atomic_path(path) as tmp:
        model.linker.visualisations.comparison_viewer_dashboard(
            model.predictions, str(tmp), overwrite=True, num_example_rows=examples
        )
    strip_web_fonts(path)
    return {"comparison_viewer": path}


def save_cluster_studio(model: ScoredModel, folder: Path, clusters: int) -> dict[str, Path]:
    """``cluster_studio.html`` of the `clusters` largest merged clusters (none without merges)."""
    ids = model.largest_cluster_ids(clusters)
    if not ids:
        return {}
    clustered = model.register_clusters()
    path = folder / "cluster_studio.html"
    with atomic_path(path) as tmp:
        model.linker.visualisations.cluster_studio_dashboard(
            model.predictions, clustered, str(tmp), cluster_ids=ids, overwrite=True
        )
    strip_web_fonts(path)
    return {"cluster_studio": path}


def strip_web_fonts(path: Path) -> None:
    """Remove the Google Fonts links from a saved dashboard.

    Splink's dashboards link Google Fonts, which would call a third party each time they open;
    without the links the system font is used and the file opens fully offline.
    """
    text = path.read_text(encoding="utf-8")
    write_text_atomic(path, _WEB_FONT_LINK.sub("", text))
