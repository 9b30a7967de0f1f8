"""Accuracy of a clustering against a ground truth: pairwise and cluster precision, recall and F1.

- **Pairwise**: the pairs of records put in one master record, against the pairs of records of
  one true entity. Precision = TP / predicted pairs, recall = TP / true pairs.
- **Cluster**: a predicted cluster is right when it holds exactly the records of one true entity
  (singletons included). Precision = right clusters / predicted clusters, recall = right clusters
  / true entities.
- **Hard cases**: the pairwise figures on a slice of pairs defined on ground-truth columns (records
  in different scripts, a duplicate with changed contact data, members of one group …), see
  :class:`workbench.settings.match.HardCase`. For a slice of pairs that must *not* match (members
  of one group that are different entities), ``false_merges`` counts those the clustering merged.

Only records present in both the clustering and the ground truth are scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.db import quote_ident
from workbench.errors import WorkbenchError
from workbench.settings.match import HardCase

log = logging.getLogger(__name__)


class GroundTruthError(WorkbenchError):
    """The ground truth file cannot be used (missing, unreadable, no key or entity column)."""


def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float | None]:
    """Precision, recall and F1 from counts (None where a ratio is undefined)."""
    p = tp / n_pred if n_pred else None
    r = tp / n_true if n_true else None
    if p is None or r is None:
        f = None
    else:
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


def _slice_sql(case: HardCase, column: str) -> str:
    c = quote_ident(column)
    if case.test == "differ":
        return f"(tl.{c} IS NOT NULL AND tr.{c} IS NOT NULL AND tl.{c} <> tr.{c})"
    if case.test == "same":
        return f"(tl.{c} IS NOT NULL AND tl.{c} = tr.{c})"
    values = "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in case.values) + "]"
    return (
        f"(list_has_any(string_split(coalesce(tl.{c}, ''), ';'), {values}) OR "
        f"list_has_any(string_split(coalesce(tr.{c}, ''), ';'), {values}))"
    )


def evaluate_clusters(
    con: Any,
    predicted: str,
    truth: str,
    *,
    hard_cases: dict[str, HardCase] | None = None,
) -> dict[str, Any]:
    """Score a clustering against the truth (both tables in `con`).

    Args:
        con: DuckDB connection.
        predicted: table with ``record_key``, ``master_id``.
        truth: table with ``record_key``, ``entity_id`` and the hard-case columns.
        hard_cases: slices reported separately.

    Returns:
        ``pairwise`` and ``cluster`` dicts (precision, recall, f1, counts), and ``hard_cases``
        (name → pairwise figures of the slice).
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __wb_eval AS SELECT p.record_key, p.master_id, t.entity_id "
        f"FROM {predicted} p JOIN {truth} t USING (record_key)"
    )
    pred_pairs = "SELECT a.record_key AS l, b.record_key AS r FROM __wb_eval a JOIN __wb_eval b ON a.master_id = b.master_id AND a.record_key < b.record_key"
    true_pairs = "SELECT a.record_key AS l, b.record_key AS r FROM __wb_eval a JOIN __wb_eval b ON a.entity_id = b.entity_id AND a.record_key < b.record_key"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __wb_eval_pairs AS "
        f"SELECT coalesce(p.l, t.l) AS l, coalesce(p.r, t.r) AS r, p.l IS NOT NULL AS predicted, "
        f"t.l IS NOT NULL AS actual FROM ({pred_pairs}) p FULL OUTER JOIN ({true_pairs}) t ON p.l = t.l AND p.r = t.r"
    )
    tp, n_pred, n_true = con.execute(
        "SELECT count(*) FILTER (predicted AND actual), count(*) FILTER (predicted), count(*) FILTER (actual) "
        "FROM __wb_eval_pairs"
    ).fetchall()[0]
    pairwise = {**prf(tp, n_pred, n_true), "tp": tp, "predicted_pairs": n_pred, "true_pairs": n_true}
    right, n_pc, n_tc = con.execute(
        "WITH p AS (SELECT string_agg(record_key, '|' ORDER BY record_key) AS m FROM __wb_eval GROUP BY master_id), "
        "t AS (SELECT string_agg(record_key, '|' ORDER BY record_key) AS m FROM __wb_eval GROUP BY entity_id) "
        "SELECT (SELECT count(*) FROM p JOIN t USING (m)), (SELECT count(*) FROM p), (SELECT count(*) FROM t)"
    ).fetchall()[0]
    cluster = {**prf(right, n_pc, n_tc), "exact_clusters": right, "predicted_clusters": n_pc, "true_clusters": n_tc}
    out: dict[str, Any] = {"pairwise": pairwise, "cluster": cluster, "records_scored": _count(con, "__wb_eval")}
    truth_cols = {r[0] for r in con.execute(f"DESCRIBE {truth}").fetchall()}
    cases: dict[str, Any] = {}
    for name, case in (hard_cases or {}).items():
        if case.column not in truth_cols:
            log.info("hard case %s: ground truth has no column %r; skipped", name, case.column)
            continue
        cond = _slice_sql(case, case.column)
        tp_s, pred_s, true_s, merges = con.execute(
            f"SELECT count(*) FILTER (predicted AND actual), count(*) FILTER (predicted), "
            f"count(*) FILTER (actual), count(*) FILTER (predicted AND NOT actual) "
            f"FROM __wb_eval_pairs x JOIN {truth} tl ON tl.record_key = x.l JOIN {truth} tr ON tr.record_key = x.r "
            f"WHERE {cond}"
        ).fetchall()[0]
        cases[name] = {
            **prf(tp_s, pred_s, true_s),
            "tp": tp_s,
            "predicted_pairs": pred_s,
            "true_pairs": true_s,
            "false_merges": merges,
        }
    out["hard_cases"] = cases
    con.execute("DROP TABLE IF EXISTS __wb_eval_pairs")
    con.execute("DROP TABLE IF EXISTS __wb_eval")
    return out


def _count(con: Any, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


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
