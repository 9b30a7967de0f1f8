"""Clerical review labels as input of the match stage: overrides, and measured precision/recall.

The labels CSV (``match.labels_path``, format in docs/architecture.md) is read with
:func:`workbench.core.linkage.review_queue.read_decisions` (newest decision per pair wins). In the
match stage a ``match`` label links the pair whatever the model says, a ``non_match`` label keeps
the two records apart (the pair is cut and the records never share a cluster), ``skip`` changes
nothing. Labels naming records that are not in this run are reported and ignored.

Labels also measure the model: on the labelled pairs, the model's decision at the threshold (before
the labels override it; a pair no blocking rule generated counts as "not linked") against the label.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.linkage.review_queue import read_decisions

log = logging.getLogger(__name__)


def read_labels(path: Path, known_keys: set[str] | None = None) -> tuple[pd.DataFrame, int]:
    """The deciding labels (``match`` / ``non_match``) of the pairs whose records are known.

    Args:
        path: the labels CSV (missing: no labels).
        known_keys: the record_keys of this run; labels naming other records are left out.

    Returns:
        Columns ``record_key_l, record_key_r, label`` ordered by pair, and how many labels were left
        out because a record is not in this run.

    Raises:
        workbench.core.linkage.review_queue.ReviewLabelsError: naming the file, line, column and bad value.
    """
    df = read_decisions(path)
    df = df[df["label"].isin(["match", "non_match"])]
    unknown = 0
    if known_keys is not None and not df.empty:
        ok = df["record_key_l"].isin(known_keys) & df["record_key_r"].isin(known_keys)
        unknown = int((~ok).sum())
        if unknown:
            log.warning(
                "%s: %d label(s) name records not in this run and are ignored, e.g. %s",
                path,
                unknown,
                df.loc[~ok, ["record_key_l", "record_key_r"]].head(3).values.tolist(),
            )
        df = df[ok]
    out = df[["record_key_l", "record_key_r", "label"]].reset_index(drop=True)
    return out, unknown


def measure_against_labels(labels: pd.DataFrame, scores: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Precision and recall of the model at `threshold` on the labelled pairs.

    Args:
        labels: ``record_key_l, record_key_r, label`` (match / non_match).
        scores: ``record_key_l, record_key_r, match_probability`` of the scored pairs (l < r).
        threshold: the match threshold.

    Returns:
        ``labels_match``, ``labels_non_match``, ``label_tp``/``fp``/``fn``/``tn`` and
        ``label_precision`` / ``label_recall`` (None when undefined).
    """
    merged = labels.merge(scores, on=["record_key_l", "record_key_r"], how="left")
    predicted = merged["match_probability"].fillna(0.0) >= threshold
    actual = merged["label"] == "match"
    tp = int((predicted & actual).sum())
    fp = int((predicted & ~actual).sum())
    fn = int((~predicted & actual).sum())
    tn = int((~predicted & ~actual).sum())
    return {
        "labels_match": int(actual.sum()),
        "labels_non_match": int((~actual).sum()),
        "label_tp": tp,
        "label_fp": fp,
        "label_fn": fn,
        "label_tn": tn,
        "label_precision": tp / (tp + fp) if tp + fp else None,
        "label_recall": tp / (tp + fn) if tp + fn else None,
    }
