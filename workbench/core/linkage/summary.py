"""Read-only summaries of the match stage's tables, for the notebook and the charts.

Every function reads ``match_pairs`` / ``crosswalk`` / ``review_queue`` from a run database and
returns a small DataFrame (aggregated in SQL, so it stays small on millions of pairs).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.engine.catalog import CROSSWALK, MATCH_PAIRS, REVIEW_QUEUE

# members per master record: the base of the cluster summaries
_MEMBERS = f"SELECT master_id, count(*) AS members FROM {CROSSWALK} GROUP BY master_id"


def _frame(con: Any, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def count_decisions(con: Any) -> pd.DataFrame:
    """Pairs per decision and reason: ``decision, match_reason, pairs``."""
    return _frame(
        con,
        "SELECT decision, CASE WHEN match_reason LIKE 'review:%' THEN match_reason ELSE "
        "CASE WHEN match_reason = 'model' THEN 'model' ELSE 'rule:' || match_reason END END AS match_reason, "
        f"count(*) AS pairs FROM {MATCH_PAIRS} GROUP BY ALL ORDER BY decision, match_reason",
    )


def probability_histogram(con: Any, bins: int = 20) -> pd.DataFrame:
    """Scored pairs by model probability bin and decision: ``bin_start, decision, pairs``."""
    return _frame(
        con,
        "SELECT least(floor(model_probability * ?), ? - 1) / ? AS bin_start, decision, count(*) AS pairs "
        f"FROM {MATCH_PAIRS} WHERE model_probability IS NOT NULL GROUP BY ALL ORDER BY bin_start, decision",
        [bins, bins, bins],
    )


def cluster_sizes(con: Any) -> pd.DataFrame:
    """Master records by number of member rows: ``members, master_records``."""
    return _frame(
        con,
        f"SELECT members, count(*) AS master_records FROM ({_MEMBERS}) GROUP BY members ORDER BY members",
    )


def list_largest_clusters(con: Any, n: int = 10) -> pd.DataFrame:
    """The crosswalk rows of the `n` largest master records (ties: master_id)."""
    return _frame(
        con,
        f"WITH top AS ({_MEMBERS} HAVING count(*) > 1 ORDER BY members DESC, master_id LIMIT ?) "
        f"SELECT c.*, top.members FROM {CROSSWALK} c JOIN top USING (master_id) "
        "ORDER BY top.members DESC, c.master_id, c.record_key",
        [n],
    )


def review_overview(con: Any) -> pd.DataFrame:
    """Review items per kind: ``kind, items``."""
    return _frame(con, f"SELECT kind, count(*) AS items FROM {REVIEW_QUEUE} GROUP BY kind ORDER BY kind")


def accuracy_table(accuracy: dict[str, Any] | None) -> pd.DataFrame:
    """Precision / recall / F1 rows: overall pairwise, cluster, and each hard case."""
    columns = ["scope", "precision", "recall", "f1", "true_pairs", "predicted_pairs", "false_merges"]
    if not accuracy:
        return pd.DataFrame(columns=columns)
    rows = []
    for scope in ("pairwise", "cluster"):
        r = accuracy[scope]
        rows.append(
            {
                "scope": scope,
                "precision": r["precision"],
                "recall": r["recall"],
                "f1": r["f1"],
                "true_pairs": r.get("true_pairs", r.get("true_clusters")),
                "predicted_pairs": r.get("predicted_pairs", r.get("predicted_clusters")),
                "false_merges": None,
            }
        )
    for name, r in accuracy.get("hard_cases", {}).items():
        rows.append({"scope": name, **{c: r.get(c) for c in columns[1:]}})
    return pd.DataFrame(rows, columns=columns)


def metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """The stage metrics as a two-column table (lists shown as text)."""
    return pd.DataFrame(
        [
            {"metric": k, "value": "; ".join(map(str, v)) if isinstance(v, list) else v}
            for k, v in metrics.items()
            if not k.startswith("gt_")
        ],
        columns=["metric", "value"],
    )
