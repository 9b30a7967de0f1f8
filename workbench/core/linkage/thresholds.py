"""The prior and the match threshold, estimated from this run's scored pairs.

**The prior** λ (``probability_two_random_records_match``) is the share of all record pairs that
are matches. Training starts from a first guess (the deterministic pairs or pairs agreeing on two
selective keys, see :mod:`workbench.core.linkage.training`); after scoring, λ is re-estimated as
the fixed point of

    λ = Σ_pairs P(match | pair, λ) / (all record pairs)

(the EM update of a mixing proportion, with the trained m and u held fixed). The sum runs over the
blocked pairs; pairs no blocking rule generates contribute (almost) nothing. As the customer base
grows, the number of all pairs grows with its square while the matches grow with it, so λ falls,
and a pair needs more evidence to be a match at 1M records than at 100k: the model does not grow
more generous with size.

**The threshold** is chosen from the estimated precision–recall curve. With calibrated
probabilities, the expected number of true matches among the pairs at or above a threshold t is
Σ_{p ≥ t} p, so

    precision(t) ≈ Σ_{p ≥ t} p / #{p ≥ t},    recall(t) ≈ Σ_{p ≥ t} p / Σ_all p,

and the threshold is the t of a grid (within ``match.auto_threshold.min`` … ``max``) with the
largest F_β (``match.auto_threshold.beta``; β < 1 weighs precision more: a false merge loses a
customer in the migration, a missed one is found in review). Ties go to the higher threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MAX_ITERATIONS = 200
TOLERANCE = 1e-7  # relative change of λ between iterations


def logit2(p: float) -> float:
    """log2(p / (1 - p))."""
    return math.log2(p / (1 - p))


def posterior(weights: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """Match probabilities from match weights (bits) moved by `shift` bits."""
    return 1.0 / (1.0 + np.exp2(-(weights + shift)))


def estimate_prior(weights: np.ndarray, prior: float, total_pairs: int) -> tuple[float, int]:
    """The prior as the fixed point of the EM update (see the module docstring).

    Args:
        weights: the match weights (bits, prior included) of the scored pairs, under `prior`.
        prior: the prior the weights were computed with.
        total_pairs: the number of all record pairs the model compares.

    Returns:
        The estimated prior (at least one match in all pairs) and the iterations used.
    """
    if total_pairs <= 0 or len(weights) == 0:
        return prior, 0
    base = weights - logit2(prior)  # the Bayes factors, in bits
    floor = 1.0 / total_pairs
    lam = prior
    for i in range(1, MAX_ITERATIONS + 1):
        new = float(posterior(base, logit2(lam)).sum()) / total_pairs
        new = min(max(new, floor), 0.5)
        if abs(new - lam) <= TOLERANCE * lam:
            return new, i
        lam = new
    return lam, MAX_ITERATIONS


def threshold_grid(low: float, high: float) -> list[float]:
    """Candidate thresholds: steps of 0.05 from 0.5 to 0.85, of 0.01 from 0.9 to 0.99, and both bounds."""
    grid = {round(0.5 + 0.05 * i, 4) for i in range(8)} | {round(0.9 + 0.01 * i, 4) for i in range(10)}
    grid |= {round(low, 4), round(high, 4)}
    return sorted(x for x in grid if low <= x <= high)


def precision_recall_curve(probabilities: np.ndarray, grid: list[float], beta: float) -> pd.DataFrame:
    """Estimated precision, recall, F1 and F_β of the model at each threshold of `grid`.

    Returns:
        Columns ``threshold, pairs, expected_true, precision, recall, f1, f_beta``.
    """
    p = np.sort(np.asarray(probabilities, dtype=float))
    total = float(p.sum())
    suffix = np.concatenate([np.cumsum(p[::-1])[::-1], [0.0]])
    rows: list[dict[str, Any]] = []
    b2 = beta * beta
    for t in grid:
        i = int(np.searchsorted(p, t, side="left"))
        n = len(p) - i
        tp = float(suffix[i])
        precision = tp / n if n else None
        recall = tp / total if total else None
        f1 = fb = None
        if precision is not None and recall is not None and precision + recall > 0:
            f1 = 2 * precision * recall / (precision + recall)
            fb = (1 + b2) * precision * recall / (b2 * precision + recall)
        rows.append(
            {
                "threshold": t,
                "pairs": n,
                "expected_true": tp,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "f_beta": fb,
            }
        )
    return pd.DataFrame(
        rows, columns=["threshold", "pairs", "expected_true", "precision", "recall", "f1", "f_beta"]
    )


def choose_threshold(curve: pd.DataFrame, fallback: float) -> float:
    """The threshold with the largest estimated F_β (ties: the higher one); `fallback` without scores."""
    scored = curve.dropna(subset=["f_beta"])
    if scored.empty:
        return fallback
    best = scored["f_beta"].max()
    return float(scored.loc[scored["f_beta"] >= best - 1e-12, "threshold"].max())
