"""Clerical review labels as input of the match stage: overrides, and measured precision/recall.

The labels CSV (``match.labels_path``, format in docs/architecture.md) is read with
:func:`workbench.core.linkage.review_queue.read_decisions` (newest decision per pair wins). A label
names its records by their stable identities (source + source ID, or source + row hash), so it
still names the same records after a re-extract that shifts the rows; a line without identities
(an older file) names them by record_key. In the match stage a ``match`` label links the pair
whatever the model says, a ``non_match`` label keeps the two records apart (the pair is cut and
the records never share a cluster), ``skip`` changes nothing. Labels naming records that are not
in this run are reported and ignored.

Labels also train and measure the model, **blind**: each labelled pair is put, by a hash of its
stable keys (so the split is the same in every run), in the *training* half or the *held-out*
half (``match.label_holdout_share``). The training half's ``match`` labels train the m
probabilities (with the EM passes); the held-out half measures the model: on those pairs, the
model's decision at the threshold (before the labels override it; a pair no blocking rule
generated counts as "not linked") against the label.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.linkage.review_queue import read_decisions

log = logging.getLogger(__name__)


def read_labels(
    path: Path, identities: Mapping[str, str] | None = None, *, holdout_share: float = 0.5
) -> tuple[pd.DataFrame, int]:
    """The deciding labels (``match`` / ``non_match``) of the pairs whose records are in this run.

    Args:
        path: the labels CSV (missing: no labels).
        identities: identity → record_key of this run's records (None: labels are taken by their
            record keys as written, and none is left out).
        holdout_share: share of the labelled pairs held out to measure the model.

    Returns:
        Columns ``record_key_l, record_key_r, label, holdout`` ordered by pair, and how many labels
        were left out because a record is not in this run.

    Raises:
        workbench.core.linkage.review_queue.ReviewLabelsError: naming the file, line, column and bad value.
    """
    df = read_decisions(path)
    df = df[df["label"].isin(["match", "non_match"])].copy()
    columns = ["record_key_l", "record_key_r", "label", "holdout"]
    if df.empty:
        return pd.DataFrame(columns=columns).astype({"holdout": bool}), 0
    unknown = 0
    if identities is not None:
        known = set(identities.values())
        for side in ("l", "r"):
            by_id = df[f"identity_{side}"].map(lambda i: identities.get(i) if i else None)
            by_key = df[f"record_key_{side}"].where(df[f"record_key_{side}"].isin(known))
            # a line with an identity names its record by it; by record_key only without one
            df[f"record_key_{side}"] = by_id.where(df[f"identity_{side}"] != "", by_key)
        ok = (
            df["record_key_l"].notna()
            & df["record_key_r"].notna()
            & (df["record_key_l"] != df["record_key_r"])
        )
        unknown = int((~ok).sum())
        if unknown:
            log.warning("%s: %d label(s) name records not in this run and are ignored", path, unknown)
        df = df[ok].copy()
    swap = df["record_key_l"] > df["record_key_r"]
    df.loc[swap, ["record_key_l", "record_key_r"]] = df.loc[swap, ["record_key_r", "record_key_l"]].to_numpy()
    stable = [
        "|".join(sorted((a, b))) if a and b else f"#{kl}|{kr}"
        for a, b, kl, kr in zip(
            df["identity_l"], df["identity_r"], df["record_key_l"], df["record_key_r"], strict=True
        )
    ]
    df["holdout"] = [_in_holdout(k, holdout_share) for k in stable]
    # two lines can name one pair here (a line by record_key and a newer one by identities, or
    # identities whose rows moved): the newest decision wins, as in read_decisions
    df["_stamp"] = [_stamp(v) for v in df["decided_at"]]
    df = df.sort_values(["record_key_l", "record_key_r", "_stamp", "line"], kind="mergesort").drop_duplicates(
        ["record_key_l", "record_key_r"], keep="last"
    )
    return df[columns].astype({"holdout": bool}).reset_index(drop=True), unknown


def _stamp(decided_at: str) -> dt.datetime:
    """A decision's time (checked by read_decisions); without a zone it is UTC."""
    stamp = dt.datetime.fromisoformat(decided_at)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _in_holdout(stable_key: str, share: float) -> bool:
    """True for the held-out half: a hash of the pair's stable key, the same in every run."""
    digest = hashlib.md5(stable_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


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
