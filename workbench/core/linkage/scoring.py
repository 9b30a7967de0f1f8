"""Scoring the blocked pairs: predictions, the prior from the data, the threshold, pairs inside clusters.

:func:`score_blocked_pairs` predicts every blocked pair down to a small probability
(:data:`KEEP_PROBABILITY`), re-estimates the prior from those scores and moves every pair's weight
and probability to it (in the prediction table itself, so Splink's charts and the stage's tables
agree), and picks the match threshold from the estimated precision–recall curve (both estimates
are explained in :mod:`workbench.core.linkage.thresholds`). :func:`missing_edge_scorer` scores the
pairs inside a cluster that no blocking rule generated, for the cluster guards.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from workbench.core.linkage import thresholds
from workbench.project.settings.match import MatchSettings

log = logging.getLogger(__name__)

KEEP_PROBABILITY = 0.001  # scored pairs kept for the prior and the threshold (under the first prior)
REPREDICT_FACTOR = 20.0  # predict again when the prior rose this much (pairs below the floor count)


@dataclass
class Scores:
    """The scored pairs and what was estimated from them.

    Attributes:
        linker: the linker with the final prior.
        prediction: Splink's prediction table (weights and probabilities under the final prior).
        model: the model as JSON (final prior).
        pairs_blocked: pairs the blocking rules generated.
        prior_first: the prior training gave; ``prior`` the one estimated from the scores.
        threshold: the match threshold used; ``threshold_source`` ``auto`` or ``config``.
        curve: the estimated precision–recall curve (empty when the threshold was configured).
    """

    linker: Any
    prediction: Any
    model: dict[str, Any]
    pairs_blocked: int
    prior_first: float
    prior: float
    prior_iterations: int
    threshold: float
    threshold_source: str
    review_min: float
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)

    def as_metrics(self) -> dict[str, Any]:
        """The figures of the scoring step."""
        chosen = self.curve[self.curve["threshold"] == self.threshold] if not self.curve.empty else self.curve
        row = chosen.iloc[0] if not chosen.empty else None
        return {
            "prior_probability": self.prior,
            "prior_first_estimate": self.prior_first,
            "prior_estimate_iterations": self.prior_iterations,
            "match_threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "review_min_probability": self.review_min,
            "estimated_precision_at_threshold": None if row is None else row["precision"],
            "estimated_recall_at_threshold": None if row is None else row["recall"],
        }


def _probabilities(con: duckdb.DuckDBPyConnection, table: str) -> np.ndarray:
    values = con.execute(f"SELECT match_weight FROM {table}").fetchnumpy()["match_weight"]
    return np.asarray(values, dtype=float)


def _shift_prediction(con: duckdb.DuckDBPyConnection, table: str, shift: float) -> None:
    """Move every pair's weight by `shift` bits (a new prior) and recompute its probability."""
    if shift == 0.0:
        return
    con.execute(
        f"UPDATE {table} SET match_weight = match_weight + ?, "
        "match_probability = 1.0 / (1.0 + pow(2.0, -(match_weight + ?)))",
        [shift, shift],
    )


def with_prior(model: dict[str, Any], prior: float) -> dict[str, Any]:
    """A copy of the model with another prior."""
    out: dict[str, Any] = json.loads(json.dumps(model))
    out["probability_two_random_records_match"] = prior
    return out


def score_blocked_pairs(
    con: duckdb.DuckDBPyConnection,
    linker: Any,
    model: dict[str, Any],
    new_linker: Callable[[dict[str, Any]], Any],
    *,
    settings: MatchSettings,
    total_pairs: int,
) -> Scores:
    """Predict the blocked pairs, estimate the prior from them, choose the threshold.

    Args:
        con: the engine's connection.
        linker: the trained linker.
        model: its model as JSON.
        new_linker: builds a linker from a model (same inputs).
        settings: the `match:` settings (threshold, review band, training.prior_from_data).
        total_pairs: the number of all record pairs the model compares (the prior's denominator).
    """
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    pairs_blocked = int(con.execute(f"SELECT count(*) FROM {blocked.physical_name}").fetchall()[0][0])
    first = float(model["probability_two_random_records_match"])
    prior, iterations = first, 0
    prediction = linker.inference.predict(threshold_match_probability=KEEP_PROBABILITY)
    if settings.training.prior_from_data:
        current = first
        for _ in range(2):
            prior, iterations = thresholds.estimate_prior(
                _probabilities(con, prediction.physical_name), current, total_pairs
            )
            if prior <= current * REPREDICT_FACTOR:
                break
            # the prior rose a lot: pairs below the floor under the old prior may now count
            log.info("prior rose from %.3g to %.3g; scoring the pairs again", current, prior)
            model, current = with_prior(model, prior), prior
            linker = new_linker(model)
            prediction = linker.inference.predict(threshold_match_probability=KEEP_PROBABILITY)
        _shift_prediction(
            con, prediction.physical_name, thresholds.logit2(prior) - thresholds.logit2(current)
        )
        if prior != current:
            model = with_prior(model, prior)
            linker = new_linker(model)
        log.info(
            "prior estimated from the scores: %.4g (first estimate %.4g, %d iterations)",
            prior,
            first,
            iterations,
        )
    threshold, source, curve = _threshold(con, prediction.physical_name, settings)
    return Scores(
        linker=linker,
        prediction=prediction,
        model=model,
        pairs_blocked=pairs_blocked,
        prior_first=first,
        prior=prior,
        prior_iterations=iterations,
        threshold=threshold,
        threshold_source=source,
        review_min=min(settings.review_min_probability, threshold),
        curve=curve,
    )


def _threshold(
    con: duckdb.DuckDBPyConnection, table: str, settings: MatchSettings
) -> tuple[float, str, pd.DataFrame]:
    auto = settings.auto_threshold
    probabilities = con.execute(f"SELECT match_probability FROM {table}").fetchnumpy()["match_probability"]
    grid = thresholds.threshold_grid(auto.min, auto.max)
    curve = thresholds.precision_recall_curve(np.asarray(probabilities, dtype=float), grid, auto.beta)
    if settings.match_threshold == "auto":
        fallback = 0.9 if auto.min <= 0.9 <= auto.max else auto.max
        return thresholds.choose_threshold(curve, fallback), "auto", curve
    return float(settings.match_threshold), "config", curve


def missing_edge_scorer(linker: Any, db_api: Any, prediction: Any) -> Callable[[str], str | None]:
    """A function scoring the pairs of cluster members that `prediction` lacks (see the clusters module).

    Why private: Splink 5 scores the missing pairs of a clustering with
    ``linker.inference._score_missing_cluster_edges`` (it has no public name yet); it takes the
    members with their ``cluster_id`` and the predictions to leave out, and reuses the linker's
    term-frequency tables.
    """

    def score(members_table: str) -> str | None:
        members = db_api.register(members_table)
        scored = linker.inference._score_missing_cluster_edges(members, df_predict=prediction)
        return str(scored.physical_name)

    return score
