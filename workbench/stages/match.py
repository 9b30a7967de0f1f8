"""Stage ``match``: find every customer that appears more than once, within and across sources.

Options: ``largest_clusters`` (masters listed, largest first), ``show_splink_charts``.
Views: ``metrics``, ``blocking``, ``decisions``, ``probability_chart``, ``cluster_sizes_chart``,
``largest_clusters``, ``review_overview``, ``accuracy``, ``accuracy_chart``, ``match_weights``,
``waterfall``, ``files``.
"""

from __future__ import annotations

from workbench.core.linkage import match_customers
from workbench.core.linkage.summary import (
    accuracy_table,
    cluster_sizes,
    count_decisions,
    list_largest_clusters,
    metrics_table,
    probability_histogram,
    review_overview,
)
from workbench.presentation.charts.linkage import (
    accuracy_figure,
    cluster_size_figure,
    embed_html,
    probability_figure,
)
from workbench.presentation.splink_charts import save_splink_charts
from workbench.project.context import RunContext
from workbench.stages.contract import StageResult, stage, tables_written_by


@stage("match")
def run(ctx: RunContext) -> StageResult:
    result = match_customers(ctx, chart_writer=save_splink_charts)
    con = ctx.connect(read_only=True)
    try:
        decisions = count_decisions(con)
        histogram = probability_histogram(con)
        sizes = cluster_sizes(con)
        largest = list_largest_clusters(con, int(ctx.option("largest_clusters", 10)))
        review = review_overview(con)
    finally:
        con.close()
    language = ctx.config.project.language
    metrics = result.metrics
    charts = bool(ctx.option("show_splink_charts", True))
    return StageResult(
        "match",
        metrics,
        tables=tables_written_by("match"),
        files=dict(result.files),
        views={
            "metrics": lambda: metrics_table(metrics),
            "blocking": lambda: result.blocking,
            "decisions": lambda: decisions,
            "probability_chart": lambda: probability_figure(
                histogram, metrics["match_threshold"], metrics["review_min_probability"], language
            ),
            "cluster_sizes_chart": lambda: cluster_size_figure(sizes, language),
            "largest_clusters": lambda: largest,
            "review_overview": lambda: review,
            "accuracy": lambda: accuracy_table(result.accuracy),
            "accuracy_chart": lambda: accuracy_figure(accuracy_table(result.accuracy), language),
            "match_weights": lambda: embed_html(
                result.files.get("match_weights") if charts else None, language=language
            ),
            "waterfall": lambda: embed_html(result.files.get("waterfall") if charts else None, language=language),
            "files": lambda: {name: str(path) for name, path in result.files.items()},
        },
    )
