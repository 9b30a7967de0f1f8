"""Match and deduplicate customer records (phase 4): Splink model, rules, clusters, master IDs.

The stage entry point is :func:`match_customers`; the modules are:

- :mod:`~workbench.core.linkage.settings_builder`: comparisons by field kind → Splink settings;
- :mod:`~workbench.core.linkage.blocking`: blocking rules chosen from the data;
- :mod:`~workbench.core.linkage.training`: prior, u and m estimation;
- :mod:`~workbench.core.linkage.deterministic`: rules that always match;
- :mod:`~workbench.core.linkage.predict`: scored and decided pairs;
- :mod:`~workbench.core.linkage.clusters`: connected components and the over-merge guards;
- :mod:`~workbench.core.linkage.master_ids`: stable master IDs and their registry;
- :mod:`~workbench.core.linkage.labels`: review labels as overrides and as a measure;
- :mod:`~workbench.core.linkage.review_queue`: the review queue's items side by side, and the
  labels file the clerical review writes;
- :mod:`~workbench.core.linkage.evaluation`: precision / recall / F1 against a ground truth;
- :mod:`~workbench.core.linkage.summary`: small read-only summaries of the match tables;
- :mod:`~workbench.core.linkage.scratch`: the scratch tables of a match inside the engine;
- :mod:`~workbench.engine.splink_backend`: the Splink database API (the backend seam);
- :mod:`~workbench.core.linkage.pipeline`: the stage itself, as a pipeline of named steps.
"""

from __future__ import annotations

from workbench.core.linkage.pipeline import MatchError, MatchResult, ScoredModel, match_customers

__all__ = ["MatchError", "MatchResult", "ScoredModel", "match_customers"]
