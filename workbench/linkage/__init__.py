"""Match and deduplicate customer records (phase 4): Splink model, rules, clusters, master IDs.

The stage entry point is :func:`match_customers`; the modules are:

- :mod:`~workbench.linkage.settings_builder`: comparisons by field kind → Splink settings;
- :mod:`~workbench.linkage.blocking`: blocking rules chosen from the data;
- :mod:`~workbench.linkage.training`: prior, u and m estimation;
- :mod:`~workbench.linkage.deterministic`: rules that always match;
- :mod:`~workbench.linkage.predict`: scored and decided pairs;
- :mod:`~workbench.linkage.clusters`: connected components and the over-merge guard;
- :mod:`~workbench.linkage.master_ids`: stable master IDs and their registry;
- :mod:`~workbench.linkage.labels`: review labels as overrides and as a measure;
- :mod:`~workbench.linkage.evaluation`: precision / recall / F1 against a ground truth;
- :mod:`~workbench.linkage.engine`: the Splink database API (the backend seam);
- :mod:`~workbench.linkage.pipeline`: the stage itself.
"""

from __future__ import annotations

from workbench.linkage.pipeline import MatchError, MatchResult, match_customers, registry_path_for

__all__ = ["MatchError", "MatchResult", "match_customers", "registry_path_for"]
