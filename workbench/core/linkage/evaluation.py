"""Accuracy of a clustering against a ground truth: pairwise and cluster precision, recall and F1.

- **Pairwise**: the pairs of records put in one master record, against the pairs of records of
  one true entity. Precision = TP / predicted pairs, recall = TP / true pairs.
- **Cluster**: a predicted cluster is right when it holds exactly the records of one true entity
  (singletons included). Precision = right clusters / predicted clusters, recall = right clusters
  / true entities.
- **Hard cases**: the pairwise figures on a slice of pairs defined on ground-truth columns (records
  in different scripts, a duplicate with changed contact data, members of one group …), see
  :class:`workbench.project.settings.match.HardCase`. For a slice of pairs that must *not* match (members
  of one group that are different entities), ``false_merges`` counts those the clustering merged.

Only records present in both the clustering and the ground truth are scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.engine.catalog import temp
from workbench.engine.sql import ident, literal_list
from workbench.errors import WorkbenchError
from workbench.project.settings.match import HardCase

log = logging.getLogger(__name__)

EVAL = temp("eval")  # a TEMP table: the scored records with their cluster and true entity


class GroundTruthError(WorkbenchError):
    """The ground truth file cannot be used (missing, unreadable, no key or entity column)."""


def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float | None]:
    """Precision, recall and F1 from counts (None where a ratio is undefined)."""
    p = tp / n_pred if n_pred else None
    r = tp / n_true if n_true else None
    f = None
    if p is not None and r is not None:
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"precision": p, "recall": r, "f1": f}


def read_ground_truth(path: Path, entity_column: str) -> pd.DataFrame:
    """Read a ground truth CSV and give each row its ``record_key``.

    The key is the ``record_key`` column when present, else ``<source>:<file_row>`` (or
    ``row_number``); otherwise rows are joined on ``source`` + ``source_id`` later (column
    ``record_key`` is then missing).

    Raises:
        GroundTruthError: the file is missing or lacks the entity column.
    """
    path = Path(path)
    if not path.exists():
        raise GroundTruthError(f"{path}: ground truth file not found; fix match.ground_truth_path")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    if entity_column not in df.columns:
        raise GroundTruthError(
            f"{path}: no column {entity_column!r} (columns: {list(df.columns)}); set "
            "match.ground_truth_entity_column"
        )
    if "record_key" not in df.columns:
        row_col = next((c for c in ("file_row", "row_number", "_row_number") if c in df.columns), None)
        if row_col and "source" in df.columns:
            df["record_key"] = df["source"] + ":" + df[row_col]
        elif not {"source", "source_id"} <= set(df.columns):
            raise GroundTruthError(
                f"{path}: cannot tell which record each row is: give record_key, or source + file_row, "
                "or source + source_id"
            )
    return df


def _pairs(n: str) -> str:
    return f"({n}) * ({n} - 1) // 2"


def _flag_sql(case: HardCase, column: str) -> str:
    """For contains_any: the record holds one of the values (split on ;)."""
    values = literal_list(case.values)
    return f"list_has_any(string_split(coalesce(CAST({ident(column)} AS VARCHAR), ''), ';'), {values})"


def _slice_counts_sql(case: HardCase, column: str, group: str) -> str:
    """SQL: the number of record pairs in the slice within each group of `group` columns, summed.

    Pair counts come from group sizes (Σ n·(n−1)/2), never from listing the pairs, so a cluster of
    thousands of records costs no more than a small one.
    """
    c = ident(column)
    if case.test == "same":
        return (
            f"SELECT coalesce(sum({_pairs('n')}), 0) FROM (SELECT count(*) AS n FROM {EVAL} "
            f"WHERE {c} IS NOT NULL GROUP BY {group}, {c})"
        )
    if case.test == "differ":
        return (
            f"SELECT coalesce(sum({_pairs('n')} - same), 0) FROM (SELECT sum(k) AS n, "
            f"sum({_pairs('k')}) AS same FROM (SELECT {group}, {c}, count(*) AS k FROM {EVAL} "
            f"WHERE {c} IS NOT NULL GROUP BY {group}, {c}) GROUP BY {group})"
        )
    return (
        f"SELECT coalesce(sum({_pairs('n')} - {_pairs('clean')}), 0) FROM (SELECT count(*) AS n, "
        f"count(*) FILTER (NOT {_flag_sql(case, column)}) AS clean FROM {EVAL} GROUP BY {group})"
    )


def evaluate_clusters(
    con: Any,
    predicted: str,
    truth: str,
    *,
    hard_cases: dict[str, HardCase] | None = None,
) -> dict[str, Any]:
    """Score a clustering against the truth (both tables in `con`).

    Every pair count is computed from group sizes: predicted pairs from the clusters, true pairs
    from the entities, true positives from the (cluster, entity) cells, so the cost stays linear in
    the number of records even when a clustering goes wrong and builds a huge cluster.

    Args:
        con: DuckDB connection.
        predicted: table with ``record_key``, ``master_id``.
        truth: table with ``record_key``, ``entity_id`` and the hard-case columns.
        hard_cases: slices reported separately.

    Returns:
        ``pairwise`` and ``cluster`` dicts (precision, recall, f1, counts), and ``hard_cases``
        (name → pairwise figures of the slice).
    """
    truth_cols = [r[0] for r in con.execute(f"DESCRIBE {truth}").fetchall()]
    cases = {n: c for n, c in (hard_cases or {}).items() if c.column in truth_cols}
    for name, case in (hard_cases or {}).items():
        if name not in cases:
            log.info("hard case %s: ground truth has no column %r; skipped", name, case.column)
    extra = "".join(
        f", t.{ident(col)}" for col in dict.fromkeys(c.column for c in cases.values()) if col != "entity_id"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {EVAL} AS SELECT p.record_key, p.master_id, t.entity_id{extra} "
        f"FROM {predicted} p JOIN {truth} t USING (record_key)"
    )

    def one(sql: str) -> int:
        return int(con.execute(sql).fetchall()[0][0])

    n_pred = one(
        f"SELECT coalesce(sum({_pairs('n')}), 0) FROM (SELECT count(*) n FROM {EVAL} GROUP BY master_id)"
    )
    n_true = one(
        f"SELECT coalesce(sum({_pairs('n')}), 0) FROM (SELECT count(*) n FROM {EVAL} GROUP BY entity_id)"
    )
    tp = one(
        f"SELECT coalesce(sum({_pairs('n')}), 0) FROM (SELECT count(*) n FROM {EVAL} GROUP BY master_id, entity_id)"
    )
    pairwise = {**prf(tp, n_pred, n_true), "tp": tp, "predicted_pairs": n_pred, "true_pairs": n_true}
    # a cluster is exact when its (cluster, entity) cell holds the whole cluster and the whole entity;
    # window sums instead of joins on the counts (DuckDB may join pc and tc on the count: a blow-up)
    right, n_pc, n_tc = con.execute(
        f"WITH cell AS (SELECT master_id, entity_id, count(*) AS n FROM {EVAL} GROUP BY ALL), "
        "x AS (SELECT n, sum(n) OVER (PARTITION BY master_id) AS pn, "
        "sum(n) OVER (PARTITION BY entity_id) AS tn FROM cell) "
        "SELECT count(*) FILTER (WHERE n = pn AND n = tn), "
        f"(SELECT count(DISTINCT master_id) FROM {EVAL}), (SELECT count(DISTINCT entity_id) FROM {EVAL}) "
        "FROM x"
    ).fetchall()[0]
    cluster = {
        **prf(right, n_pc, n_tc),
        "exact_clusters": right,
        "predicted_clusters": n_pc,
        "true_clusters": n_tc,
    }
    out: dict[str, Any] = {
        "pairwise": pairwise,
        "cluster": cluster,
        "records_scored": one(f"SELECT count(*) FROM {EVAL}"),
    }
    results: dict[str, Any] = {}
    for name, case in cases.items():
        pred_s = one(_slice_counts_sql(case, case.column, "master_id"))
        true_s = one(_slice_counts_sql(case, case.column, "entity_id"))
        tp_s = one(_slice_counts_sql(case, case.column, "master_id, entity_id"))
        results[name] = {
            **prf(tp_s, pred_s, true_s),
            "tp": tp_s,
            "predicted_pairs": pred_s,
            "true_pairs": true_s,
            "false_merges": pred_s - tp_s,
        }
    out["hard_cases"] = results
    con.execute(f"DROP TABLE IF EXISTS {EVAL}")
    return out


def flatten_metrics(result: dict[str, Any], prefix: str = "gt") -> dict[str, Any]:
    """Flat metric names for ``ctx.record_metrics``: ``gt_pairwise_f1``, ``gt_cross_script_recall`` …"""
    flat: dict[str, Any] = {f"{prefix}_records_scored": result.get("records_scored")}
    for level in ("pairwise", "cluster"):
        for k, v in result.get(level, {}).items():
            flat[f"{prefix}_{level}_{k}"] = v
    for name, figures in result.get("hard_cases", {}).items():
        for k, v in figures.items():
            flat[f"{prefix}_{name}_{k}"] = v
    return flat
