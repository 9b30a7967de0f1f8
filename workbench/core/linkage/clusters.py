"""Clusters from linked pairs, with the guard against over-merging.

Clusters are the connected components of the linked pairs (Splink's clustering, run in the engine).
A cluster is *conflicted* when it would hold two different values of a conflict field (by default a
valid tax ID / USCC: a branch or subsidiary has its own) or both records of a pair a reviewer
labelled ``non_match``. Such a cluster is never kept: it is rebuilt from its edges strongest first
(review label, deterministic rule, model probability), and an edge that would join two parts with
conflicting values is left out. The edges left out are reported (they go to clerical review).
A ``match`` label is a reviewer's decision on exactly this question, so it links even across
different tax IDs (it still never joins a pair labelled ``non_match``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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

    def sort_key(self) -> tuple:
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


def connected_components(db_api, nodes_table: str, edges_table: str):
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
