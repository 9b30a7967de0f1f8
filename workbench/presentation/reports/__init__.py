"""Self-contained offline HTML reports meant for business (built with :mod:`workbench.presentation.reports.html`).

Each report module owns one page of a run's ``reports/`` folder (``profile_report`` →
``reports/profile.html``). Pages open offline: plotly.js is inlined once, nothing loads from a CDN.
"""

from workbench.presentation.reports.html import (
    Figure,
    HtmlReport,
    KeyFigures,
    RawHtml,
    Section,
    Table,
    Text,
    find_external_references,
)

__all__ = [
    "Figure",
    "HtmlReport",
    "KeyFigures",
    "RawHtml",
    "Section",
    "Table",
    "Text",
    "find_external_references",
]
