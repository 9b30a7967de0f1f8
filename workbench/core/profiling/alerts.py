"""Alerts of the profile: the warnings a ydata-profiling user expects, from the saved profile tables.

This module owns which column earns which alert and why (:func:`profile_alerts`), with the
thresholds from ``report.profile`` (:class:`~workbench.project.settings.report.ProfileSettings`):

``all_missing``       every cell is empty
``high_missing``      missing (NULL or blank) share at or above ``high_missing``
``constant``          a single distinct value
``unique``            every filled value differs (expected for IDs; shown as information)
``high_cardinality``  a code-like field (kinds in ``cardinality_kinds``) with many distinct values
``mixed_formats``     a field of a structured kind (``format_kinds``: phones, postcodes, dates, IDs …)
                      whose most frequent pattern covers less than ``dominant_pattern`` of the values
``mixed_types``       a number, amount or date field (``typed_kinds``) of which only part casts
``blanks``            cells holding only spaces
``duplicate_ids``     IDs held by several rows of a source
``duplicate_rows``    identical rows in a source
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from workbench.core.profiling.profile import ProfileResult
    from workbench.project.settings.report import ProfileSettings

ALERT_COLUMNS = ["source", "field", "alert", "severity", "value"]
"""``value`` is the figure behind the alert (a share or a count)."""


def _column_alerts(r: Any, top_share: float | None, s: ProfileSettings) -> list[tuple[str, str, float]]:
    rows = int(r.rows or 0)
    filled = int(r.filled or 0)
    missing = 1.0 - (filled / rows) if rows else 0.0
    distinct = int(r.distinct or 0)
    kind = str(r.kind or "")
    found: list[tuple[str, str, float]] = []
    if rows and filled == 0:
        return [("all_missing", "warning", 1.0)]
    if missing >= s.high_missing:
        found.append(("high_missing", "warning", missing))
    if distinct == 1:
        found.append(("constant", "warning", 1.0))
    elif filled and distinct == filled and filled > 1:
        found.append(("unique", "info", 1.0))
    if kind in s.cardinality_kinds and filled and distinct >= s.high_cardinality_distinct:
        found.append(("high_cardinality", "warning", float(distinct)))
    if kind in s.format_kinds and top_share is not None and distinct > 1 and top_share < s.dominant_pattern:
        found.append(("mixed_formats", "warning", top_share))
    rate = max(float(getattr(r, name) or 0.0) for name in ("integer_rate", "decimal_rate", "date_rate"))
    if kind in s.typed_kinds and r.inferred_type == "text" and 0.5 <= rate < 1.0:
        found.append(("mixed_types", "warning", rate))
    blanks = int(r.blanks or 0)
    if blanks:
        found.append(("blanks", "info", float(blanks)))
    return found


def profile_alerts(profile: ProfileResult, settings: ProfileSettings) -> pd.DataFrame:
    """The alerts of every profiled column and source (see the module docstring).

    Args:
        profile: the profile tables (:func:`~workbench.core.profiling.read_profile_tables`).
        settings: ``report.profile``.

    Returns:
        Rows ``source, field, alert, severity, value`` in source and column order.
    """
    patterns = profile.patterns
    top = patterns[patterns["rank"] == 1] if len(patterns) else patterns
    top_share = {}
    for r in top.itertuples(index=False):
        col = profile.columns[(profile.columns["source"] == r.source) & (profile.columns["field"] == r.field)]
        present = int(col["rows"].iloc[0] - col["nulls"].iloc[0]) if len(col) else 0
        top_share[(r.source, r.field)] = (r.count / present) if present else None
    rows = []
    for r in profile.columns.itertuples(index=False):
        share = top_share.get((r.source, r.field))
        for alert, severity, value in _column_alerts(r, share, settings):
            rows.append({"source": r.source, "field": r.field, "alert": alert, "severity": severity, "value": value})
    for r in profile.duplicate_summary.itertuples(index=False):
        if int(r.duplicate_ids):
            rows.append({"source": r.source, "field": "", "alert": "duplicate_ids", "severity": "warning",
                         "value": float(r.duplicate_ids)})
        if int(r.surplus_duplicate_rows):
            rows.append({"source": r.source, "field": "", "alert": "duplicate_rows", "severity": "warning",
                         "value": float(r.surplus_duplicate_rows)})
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)
