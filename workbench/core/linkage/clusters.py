"""Clusters from linked pairs, with the guard against over-merging.

Clusters are the connected components of the linked pairs (Splink's clustering, run in the engine).
A cluster is *conflicted* when it would hold two different values of a conflict field (by default a
valid tax ID / USCC: a branch or subsidiary has its own) or both records of a pair a reviewer
labelled ``non_match``. Such a cluster is never kept: it is rebuilt from its edges strongest first
(review label, deterministic rule, model probability), and an edge that would join two parts with
conflicting values is left out. The edges left out are reported (they go to clerical review).
A ``match`` label is a reviewer's decision on exactly this question, so it links even across
different tax IDs (it still never joins a pair labelled ``non_match``).

A cluster bigger than ``match.max_cluster_size`` is broken by raising the bar for model links
(:func:`split_oversized`). The pure algorithms work on :class:`Edge` lists; the engine steps
(:func:`guard_conflicts`, :func:`split_large_clusters`) run them on the scratch tables of a match
(:mod:`workbench.core.linkage.scratch`) and record every cut link in ``SPLIT``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from workbench.core.linkage.scratch import (
    CLUSTERS,
    COMPONENTS,
    CONFLICT_VALUES,
    EDGES,
    LABELS,
    PAIRS,
    RECORDS,
    SPLIT,
)
from workbench.engine.catalog import temp
from workbench.engine.connection import registered, table_columns
from workbench.engine.sql import ident, literal

log = logging.getLogger(__name__)

REASON_RANK = {"review": 3, "deterministic": 2, "model": 1}
REVIEWED_RANK = REASON_RANK["review"]


@dataclass(frozen=True)
class Edge:
    """A link between two records, with what makes it strong."""

    left: str
    right: str
    rank: int
    probability: float
    weight: float

    def sort_key(self) -> tuple[int, float, float, str, str]:
        """Strongest first: review label, deterministic rule, then model probability and weight."""
        return (-self.rank, -self.probability, -self.weight, self.left, self.right)


def split_conflicting(
    members: list[str],
    edges: Iterable[Edge],
    values: Mapping[str, Mapping[str, str]],
    cannot_link: set[tuple[str, str]] | None = None,
) -> tuple[dict[str, str], list[tuple[Edge, str]]]:
    """Rebuild one cluster from its edges, strongest first, never joining conflicting parts.

    Args:
        members: the records of the cluster.
        edges: the linking edges among them.
        values: record → {conflict field → value} (only present values).
        cannot_link: pairs (sorted) that must not end in one cluster (``non_match`` labels).

    Returns:
        record → representative (the smallest record_key of its part), and the edges left out with
        the reason each was left out.
    """
    parent = {m: m for m in members}
    fields: dict[str, dict[str, str]] = {m: dict(values.get(m, {})) for m in members}
    forbidden: dict[str, set[str]] = {m: set() for m in members}
    groups: dict[str, set[str]] = {m: {m} for m in members}
    for a, b in cannot_link or set():
        if a in forbidden and b in forbidden:
            forbidden[a].add(b)
            forbidden[b].add(a)

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rejected: list[tuple[Edge, str]] = []
    for edge in sorted(edges, key=Edge.sort_key):
        ra, rb = find(edge.left), find(edge.right)
        if ra == rb:
            continue
        clash = [
            f"{f}: {fields[ra][f]} ≠ {fields[rb][f]}"
            for f in sorted(set(fields[ra]) & set(fields[rb]))
            if fields[ra][f] != fields[rb][f]
        ]
        if edge.rank >= REVIEWED_RANK:
            clash = []  # a reviewer saw both records and said match: that decision stands
        if not clash and forbidden[ra] & groups[rb]:
            clash = ["labelled non_match"]
        if clash:
            rejected.append((edge, "; ".join(clash)))
            continue
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        parent[drop] = keep
        groups[keep] |= groups.pop(drop)
        forbidden[keep] |= forbidden.pop(drop)
        for f, v in fields.pop(drop).items():
            fields[keep].setdefault(f, v)
    rep = {m: min(groups[find(m)]) for m in members}
    return rep, rejected


def split_oversized(
    members: list[str], edges: Iterable[Edge], max_size: int, thresholds: tuple[float, ...]
) -> tuple[dict[str, str], list[tuple[Edge, str]], float | None]:
    """Break a cluster bigger than `max_size` by raising the bar for model links, step by step.

    A cluster of hundreds of records is almost always a chain of weak links (shared switchboards,
    shared e-mail domains, similar names), not one customer. Deterministic and reviewed links
    (rank ≥ 2) always stay; model links need a probability of at least the next threshold, until
    every part is within `max_size` or the thresholds run out.

    Returns:
        record → representative (smallest record_key of its part), the model links dropped (with the
        reason), and the threshold finally used (None when the cluster was not too big).
    """
    edges = sorted(edges, key=Edge.sort_key)
    if len(members) <= max_size:
        return {m: m for m in members}, [], None
    used = None
    rep: dict[str, str] = {}
    kept: list[Edge] = edges
    for threshold in thresholds:
        used = threshold
        kept = [e for e in edges if e.rank >= 2 or e.probability >= threshold]
        rep = _components(members, kept)
        sizes: dict[str, int] = {}
        for r in rep.values():
            sizes[r] = sizes.get(r, 0) + 1
        if max(sizes.values()) <= max_size:
            break
    kept_set = {(e.left, e.right) for e in kept}
    dropped = [
        (e, f"cluster of {len(members)} records too large; model links need p ≥ {used}")
        for e in edges
        if (e.left, e.right) not in kept_set
    ]
    return rep, dropped, used


def _components(members: list[str], edges: list[Edge]) -> dict[str, str]:
    parent = {m: m for m in members}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in edges:
        a, b = find(e.left), find(e.right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for m in members:
        groups.setdefault(find(m), []).append(m)
    return {m: min(g) for g in groups.values() for m in g}


def has_conflict(
    members: Iterable[str],
    values: Mapping[str, Mapping[str, str]],
    cannot_link: set[tuple[str, str]] | None = None,
) -> bool:
    """True when the members hold two values of one conflict field, or a cannot-link pair."""
    seen: dict[str, str] = {}
    member_set = set(members)
    for m in member_set:
        for f, v in values.get(m, {}).items():
            if seen.setdefault(f, v) != v:
                return True
    return any(a in member_set and b in member_set for a, b in cannot_link or set())


def connected_components(db_api: Any, nodes_table: str, edges_table: str) -> Any:
    """Connected components with Splink's clustering (all given edges link).

    Args:
        db_api: the Splink database API (see :mod:`workbench.engine.splink_backend`).
        nodes_table: table with a ``record_key`` column.
        edges_table: table with ``record_key_l``, ``record_key_r``.

    Returns:
        A Splink dataframe with ``record_key`` and ``cluster_id``.
    """
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes = db_api.register(nodes_table)
    edges = db_api.register(edges_table)
    return cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api=db_api, node_id_column_name="record_key"
    )


# --------------------------------------------------------------------------------------------
# engine steps on the scratch tables of a match


def cluster_links(con: duckdb.DuckDBPyConnection, db_api: Any) -> None:
    """``COMPONENTS``: the connected components of the pairs decided ``match`` in ``PAIRS``."""
    con.execute(
        f"CREATE TABLE {EDGES} AS SELECT record_key_l, record_key_r FROM {PAIRS} WHERE decision = 'match'"
    )
    cc = connected_components(db_api, RECORDS, EDGES)
    con.execute(f"CREATE TABLE {COMPONENTS} AS SELECT record_key, cluster_id FROM {cc.physical_name}")


def guard_conflicts(con: duckdb.DuckDBPyConnection, conflict_columns: list[str]) -> None:
    """Split the components that join conflicting records (see the module docstring).

    Writes ``CLUSTERS`` (record_key, cluster) and ``SPLIT`` (the links cut, with why); the cut pairs
    get the decision ``split`` in ``PAIRS``.
    """
    con.execute(f"CREATE TABLE {CONFLICT_VALUES} AS {_conflict_values_sql(con, conflict_columns)}")
    bad = _conflicted_components(con)
    con.execute(f"CREATE TABLE {CLUSTERS} AS SELECT record_key, cluster_id AS cluster FROM {COMPONENTS}")
    con.execute(f"CREATE TABLE {SPLIT} (record_key_l VARCHAR, record_key_r VARCHAR, reason VARCHAR)")
    if not bad:
        return
    with registered(con, temp("bad"), pd.DataFrame({"cluster_id": bad})) as bad_table:
        members = con.execute(
            f"SELECT c.cluster_id, c.record_key FROM {COMPONENTS} c JOIN {bad_table} USING (cluster_id) "
            "ORDER BY 1, 2"
        ).df()
        values = con.execute(
            f"SELECT v.record_key, v.field, v.value FROM {CONFLICT_VALUES} v JOIN {COMPONENTS} c USING (record_key) "
            f"JOIN {bad_table} USING (cluster_id) ORDER BY 1, 2"
        ).df()
        edges = _edges_by_cluster(
            con.execute(
                "SELECT c.cluster_id, p.record_key_l, p.record_key_r, p.edge_rank, coalesce(p.match_probability, 0), "
                f"coalesce(p.match_weight, 0) FROM {PAIRS} p JOIN {COMPONENTS} c ON c.record_key = p.record_key_l "
                f"JOIN {bad_table} USING (cluster_id) WHERE p.decision = 'match' ORDER BY 1, 2, 3"
            ).fetchall()
        )
        cannot = {
            (r[0], r[1])
            for r in con.execute(
                f"SELECT record_key_l, record_key_r FROM {LABELS} WHERE label = 'non_match'"
            ).fetchall()
        }
    value_map: dict[str, dict[str, str]] = {}
    for k, f, v in values.itertuples(index=False):
        value_map.setdefault(k, {})[f] = v
    new_rows: list[tuple[str, str]] = []
    items: list[dict[str, Any]] = []
    for cid, group in members.groupby("cluster_id", sort=True):
        keys = group["record_key"].tolist()
        rep, rejected = split_conflicting(keys, edges.get(str(cid), []), value_map, cannot)
        new_rows += [(k, f"{cid}~{rep[k]}") for k in keys]
        items += [{"record_key_l": e.left, "record_key_r": e.right, "reason": why} for e, why in rejected]
    log.warning(
        "%d cluster(s) would join records with different %s or labelled non_match; split (%d link(s) cut, "
        "sent to review)",
        len(bad),
        "/".join(conflict_columns) or "values",
        len(items),
    )
    _apply_splits(con, new_rows, items)


def split_large_clusters(con: duckdb.DuckDBPyConnection, max_size: int, threshold: float) -> None:
    """Break the ``CLUSTERS`` above `max_size` by raising the model-link threshold.

    See :func:`split_oversized`; the links dropped are recorded like those the conflict guard cuts.
    """
    big = [
        r[0]
        for r in con.execute(
            f"SELECT cluster FROM {CLUSTERS} GROUP BY cluster HAVING count(*) > ? ORDER BY 1", [max_size]
        ).fetchall()
    ]
    if not big:
        return
    # 1 - (1 - t) / 10^k: 0.9 → 0.99 → 0.999 …
    thresholds = tuple(1 - (1 - threshold) / 10**k for k in range(1, 6))
    with registered(con, temp("big"), pd.DataFrame({"cluster": big})) as big_table:
        members = con.execute(
            f"SELECT f.cluster, f.record_key FROM {CLUSTERS} f JOIN {big_table} USING (cluster) ORDER BY 1, 2"
        ).df()
        edges = _edges_by_cluster(
            con.execute(
                "SELECT f.cluster, p.record_key_l, p.record_key_r, p.edge_rank, coalesce(p.match_probability, 0), "
                f"coalesce(p.match_weight, 0) FROM {PAIRS} p JOIN {CLUSTERS} f ON f.record_key = p.record_key_l "
                f"JOIN {CLUSTERS} g ON g.record_key = p.record_key_r AND g.cluster = f.cluster "
                f"JOIN {big_table} b ON b.cluster = f.cluster WHERE p.decision = 'match' ORDER BY 1, 2, 3"
            ).fetchall()
        )
    new_rows: list[tuple[str, str]] = []
    items: list[dict[str, Any]] = []
    for cid, group in members.groupby("cluster", sort=True):
        keys = group["record_key"].tolist()
        rep, dropped, used = split_oversized(keys, edges.get(str(cid), []), max_size, thresholds)
        new_rows += [(k, f"{cid}^{rep[k]}") for k in keys]
        items += [{"record_key_l": e.left, "record_key_r": e.right, "reason": why} for e, why in dropped]
        log.warning(
            "cluster of %d records split with model threshold %s (%d links cut)",
            len(keys),
            used,
            len(dropped),
        )
    _apply_splits(con, new_rows, items)


def _conflict_values_sql(con: duckdb.DuckDBPyConnection, conflict_columns: list[str]) -> str:
    """``record_key, field, value`` of every present (and, where known, valid) conflict value."""
    record_columns = set(table_columns(con, RECORDS))
    parts = []
    for c in conflict_columns:
        valid = f" AND {ident(c + '_valid')}" if c + "_valid" in record_columns else ""
        parts.append(
            f"SELECT record_key, {literal(c)} AS field, CAST({ident(c)} AS VARCHAR) AS value FROM {RECORDS} "
            f"WHERE {ident(c)} IS NOT NULL{valid}"
        )
    return (
        " UNION ALL ".join(parts)
        or "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS field, NULL::VARCHAR AS value WHERE false"
    )


def _conflicted_components(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The components holding two values of one conflict field, or both records of a non_match label."""
    return [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT c.cluster_id FROM {CONFLICT_VALUES} v JOIN {COMPONENTS} c USING (record_key) "
            "GROUP BY c.cluster_id, v.field HAVING count(DISTINCT v.value) > 1 "
            f"UNION SELECT DISTINCT a.cluster_id FROM {LABELS} l JOIN {COMPONENTS} a ON a.record_key = l.record_key_l "
            f"JOIN {COMPONENTS} b ON b.record_key = l.record_key_r WHERE l.label = 'non_match' "
            "AND a.cluster_id = b.cluster_id ORDER BY 1"
        ).fetchall()
    ]


def _edges_by_cluster(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[Edge]]:
    """Rows ``cluster, left, right, rank, probability, weight`` as edges per cluster."""
    out: dict[str, list[Edge]] = {}
    for cid, left, right, rank, prob, weight in rows:
        out.setdefault(str(cid), []).append(Edge(left, right, int(rank), float(prob), float(weight)))
    return out


def _apply_splits(
    con: duckdb.DuckDBPyConnection, new_rows: list[tuple[str, str]], items: list[dict[str, Any]]
) -> None:
    """Give records their new cluster labels and record the cut links (their pairs become ``split``)."""
    with registered(con, temp("new"), pd.DataFrame(new_rows, columns=["record_key", "cluster"])) as new:
        con.execute(
            f"UPDATE {CLUSTERS} SET cluster = n.cluster FROM {new} n "
            f"WHERE {CLUSTERS}.record_key = n.record_key"
        )
    if not items:
        return
    with registered(con, temp("items"), pd.DataFrame(items)) as cut:
        con.execute(f"INSERT INTO {SPLIT} SELECT record_key_l, record_key_r, reason FROM {cut}")
    con.execute(
        f"UPDATE {PAIRS} SET decision = 'split' FROM {SPLIT} s "
        f"WHERE {PAIRS}.record_key_l = s.record_key_l AND {PAIRS}.record_key_r = s.record_key_r"
    )
