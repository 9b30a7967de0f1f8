"""Clusters from linked pairs, with guards that look at the whole cluster, so links do not chain.

Clusters start as the connected components of the pairs decided ``match`` (Splink's clustering,
in SQL inside the engine). Then, in this order:

1. **oversized** clusters (more than ``match.max_cluster_size`` records, nearly always a chain of
   weak links through a switchboard or a common name) are broken by raising the bar for model
   links step by step (:func:`split_oversized`);
2. every pair inside a cluster of three or more records that no blocking rule scored is scored
   with the trained model (``score_missing``), so the guards see the model's view of *every* pair
   of a cluster, not just the links that built it;
3. the **guards** name the pairs that must not end in one cluster:

   - ``company_id``: two different valid company tax IDs (``<tax id>__company``, or the configured
     ``match.conflict_fields``): a branch or subsidiary has its own;
   - ``person_id``: clearly different person names *and* a different person ID (more than one
     typing error apart) or a different date of birth (household members may share an ID);
   - ``branch``: the same company name, one a branch and the other not, or two different branches,
     that the model did not link directly (a branch and its head office joined through a third
     record);
   - ``non_match_label``: a pair a reviewer labelled ``non_match``;

4. a cluster that holds a guarded pair, or whose pairs are not all linked (a possible chain), is
   rebuilt from its links, strongest first (review label, deterministic rule, model probability,
   :func:`rebuild_cluster`): a link that would join two parts with a guarded pair between them is
   left out, and so is a model link that is not strong (below
   ``match.clustering.strong_link_probability``) and whose two parts are, on average over all
   their record pairs, not a match (mean probability below
   ``match.clustering.min_mean_probability``: a weak bridge).

A reviewer's ``match`` label links whatever the guards say (it still never joins a pair labelled
``non_match``); a deterministic link passes the branch guard and the bridge test. Every link left
out is recorded in ``SPLIT`` with its guard (it goes to clerical review) and counted per guard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from workbench.core.linkage.scratch import (
    CLUSTERS,
    COMPONENTS,
    CONFLICTS,
    EDGES,
    LABELS,
    PAIRS,
    RECORDS,
    SPLIT,
    WITHIN,
)
from workbench.engine.catalog import temp
from workbench.engine.connection import registered
from workbench.engine.sql import ident

log = logging.getLogger(__name__)

REASON_RANK = {"review": 3, "deterministic": 2, "model": 1}
REVIEWED_RANK = REASON_RANK["review"]
GUARDS = ("oversized", "company_id", "person_id", "branch", "non_match_label", "weak_bridge")
SAME_NAME_JW = 0.9  # person guard: names at least this similar are one name written two ways

Pair = tuple[str, str]


def pair_key(a: str, b: str) -> Pair:
    """The pair in stored order (smaller key first)."""
    return (a, b) if a <= b else (b, a)


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


@dataclass
class Cut:
    """A link left out of a cluster: the edge, the guard that refused it and why."""

    edge: Edge
    guard: str
    reason: str


@dataclass
class _Parts:
    """Union-find over the members of one cluster, with what each part holds."""

    members: list[str]
    values: Mapping[str, Mapping[str, str]]
    parent: dict[str, str] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    fields: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parent = {m: m for m in self.members}
        self.groups = {m: {m} for m in self.members}
        self.fields = {m: dict(self.values.get(m, {})) for m in self.members}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        keep, drop = (a, b) if a < b else (b, a)
        self.parent[drop] = keep
        self.groups[keep] |= self.groups.pop(drop)
        for f, v in self.fields.pop(drop).items():
            self.fields[keep].setdefault(f, v)

    def representatives(self) -> dict[str, str]:
        return {m: min(self.groups[self.find(m)]) for m in self.members}


def rebuild_cluster(
    members: list[str],
    edges: Iterable[Edge],
    *,
    values: Mapping[str, Mapping[str, str]] | None = None,
    conflicts: Mapping[Pair, tuple[str, str]] | None = None,
    cannot_link: set[Pair] | None = None,
    probability: Mapping[Pair, float] | None = None,
    min_mean: float | None = None,
    strong: float = 1.0,
) -> tuple[dict[str, str], list[Cut]]:
    """Rebuild one cluster from its links, strongest first, never joining guarded parts.

    Args:
        members: the records of the cluster.
        edges: the links among them.
        values: record → {conflict field → value}: two parts holding different values of one field
            are not joined (guard ``company_id``).
        conflicts: pair (sorted) → (guard, reason) of the pairs that must not share a cluster.
        cannot_link: pairs (sorted) labelled ``non_match``.
        probability: pair (sorted) → the model's probability, for the bridge test (missing: 0).
        min_mean: a model link below `strong` joins two parts only when the mean probability over
            all their record pairs is at least this (None: no bridge test).
        strong: a model link at least this probable joins its parts whatever the other pairs say
            (copies of one record each with their own typing errors are far from each other).

    Returns:
        record → representative (the smallest record_key of its part), and the links left out.
    """
    parts = _Parts(members, values or {})
    cut: list[Cut] = []
    for edge in sorted(edges, key=Edge.sort_key):
        ra, rb = parts.find(edge.left), parts.find(edge.right)
        if ra == rb:
            continue
        a, b = parts.groups[ra], parts.groups[rb]
        refusal = _labelled_apart(a, b, cannot_link)
        if refusal is None and edge.rank < REVIEWED_RANK:
            refusal = _value_clash(parts.fields[ra], parts.fields[rb]) or _guarded_pair(
                a, b, conflicts, edge.rank
            )
        if (
            refusal is None
            and edge.rank == 1
            and edge.probability < strong
            and min_mean is not None
            and probability
        ):
            refusal = _weak_bridge(a, b, probability, min_mean)
        if refusal is not None:
            cut.append(Cut(edge, *refusal))
            continue
        parts.union(ra, rb)
    return parts.representatives(), cut


def _labelled_apart(a: set[str], b: set[str], cannot_link: set[Pair] | None) -> tuple[str, str] | None:
    for x in sorted(a):
        for y in sorted(b):
            if pair_key(x, y) in (cannot_link or set()):
                return "non_match_label", "labelled non_match"
    return None


def _value_clash(fa: Mapping[str, str], fb: Mapping[str, str]) -> tuple[str, str] | None:
    clash = [f"{f}: {fa[f]} ≠ {fb[f]}" for f in sorted(set(fa) & set(fb)) if fa[f] != fb[f]]
    return ("company_id", "; ".join(clash)) if clash else None


def _guarded_pair(
    a: set[str], b: set[str], conflicts: Mapping[Pair, tuple[str, str]] | None, rank: int
) -> tuple[str, str] | None:
    if not conflicts:
        return None
    for x in sorted(a):
        for y in sorted(b):
            found = conflicts.get(pair_key(x, y))
            if found is not None and not (found[0] == "branch" and rank >= 2):
                return found
    return None


def _weak_bridge(
    a: set[str], b: set[str], probability: Mapping[Pair, float], min_mean: float
) -> tuple[str, str] | None:
    total = sum(probability.get(pair_key(x, y), 0.0) for x in a for y in b)
    mean = total / (len(a) * len(b))
    if mean >= min_mean:
        return None
    return (
        "weak_bridge",
        f"weak bridge: mean probability {mean:.2f} between parts of {len(a)} and {len(b)} records",
    )


def split_conflicting(
    members: list[str],
    edges: Iterable[Edge],
    values: Mapping[str, Mapping[str, str]],
    cannot_link: set[tuple[str, str]] | None = None,
) -> tuple[dict[str, str], list[tuple[Edge, str]]]:
    """Rebuild one cluster keeping parts with different conflict values apart (see :func:`rebuild_cluster`).

    Returns:
        record → representative, and the edges left out with the reason.
    """
    rep, cut = rebuild_cluster(members, edges, values=values, cannot_link=cannot_link)
    return rep, [(c.edge, c.reason) for c in cut]


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
    parts = _Parts(members, {})
    for e in edges:
        a, b = parts.find(e.left), parts.find(e.right)
        if a != b:
            parts.union(a, b)
    return parts.representatives()


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
# the guards as SQL on record pairs


@dataclass(frozen=True)
class GuardColumns:
    """The RECORDS columns the guards read (empty: that guard is off).

    Attributes:
        conflict: value columns whose two different values keep records apart (company IDs).
        validity: conflict column → its ``_valid`` column, when there is one.
        person_ids: normalized person-ID columns.
        names: name columns compared by the person guard (first present wins).
        names_rev: the full name of a name pair in the other order (surname and given name swapped).
        birth_dates: dates of birth (two people with different names and birth dates are two people,
            even when a household shares their ID).
        company_cores: the name-core columns of the company-name fields.
        company_pinyin: the pinyin helper columns of those fields.
        branch: the record-level canonical branch column.
    """

    conflict: tuple[str, ...] = ()
    validity: Mapping[str, str] = field(default_factory=dict)
    person_ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    names_rev: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()
    company_cores: tuple[str, ...] = ()
    company_pinyin: tuple[str, ...] = ()
    branch: str | None = None


def _present_differ(col: str, a: str = "a", b: str = "b") -> str:
    c = ident(col)
    return f"({a}.{c} IS NOT NULL AND {b}.{c} IS NOT NULL AND {a}.{c} <> {b}.{c})"


def _names_differ(columns: GuardColumns) -> tuple[str, str, str]:
    """SQL: the two records' person names clearly differ (in either order of a name pair), and the
    name expressions of records ``a`` and ``b``."""

    def name(alias: str, rev: bool) -> str:
        cols = ([columns.names_rev[0]] if rev and columns.names_rev else []) + list(columns.names)
        return "lower(coalesce(" + ", ".join(f"{alias}.{ident(n)}" for n in cols) + "))"

    a, a_rev, b = name("a", False), name("a", True), name("b", False)

    def far(x: str, y: str) -> str:
        return f"levenshtein({x}, {y}) > greatest(1, least(length({x}), length({y})) // 4)"

    differ = f"{a} IS NOT NULL AND {b} IS NOT NULL AND {far(a, b)} AND {far(a_rev, b)}"
    return differ, a, b


def _person_conditions(columns: GuardColumns, strong: float) -> list[tuple[str, str, str]]:
    """The ``person_id`` guard: different names and a different person ID or date of birth, in a pair
    the model did not link strongly itself (a strong direct link already weighed those fields)."""
    if not columns.names or not (columns.person_ids or columns.birth_dates):
        return []
    names_differ, name_a, name_b = _names_differ(columns)
    names_differ += f" AND coalesce(w.probability, 0) < {float(strong)!r}"
    out = []
    for c in columns.person_ids:
        ci = ident(c)
        differ = f"{_present_differ(c)} AND damerau_levenshtein(a.{ci}, b.{ci}) > 1"
        reason = f"'{c}: ' || a.{ci} || ' ≠ ' || b.{ci} || ', names ' || {name_a} || ' / ' || {name_b}"
        out.append(("person_id", f"{differ} AND {names_differ}", reason))
    for c in columns.birth_dates:
        ci = ident(c)
        da, db = f"CAST(a.{ci} AS VARCHAR)", f"CAST(b.{ci} AS VARCHAR)"
        differ = f"{da} IS NOT NULL AND {db} IS NOT NULL AND levenshtein({da}, {db}) > 1"
        reason = f"'{c}: ' || {da} || ' ≠ ' || {db} || ', names ' || {name_a} || ' / ' || {name_b}"
        out.append(("person_id", f"{differ} AND {names_differ}", reason))
    return out


def guard_conditions(
    columns: GuardColumns, threshold: float, strong: float = 1.0
) -> list[tuple[str, str, str]]:
    """(guard, SQL condition on records ``a`` / ``b`` and their pair ``w``, SQL reason) of each guard."""
    out: list[tuple[str, str, str]] = []
    for c in columns.conflict:
        valid = columns.validity.get(c)
        ok = f" AND a.{ident(valid)} AND b.{ident(valid)}" if valid else ""
        reason = f"'{c}: ' || a.{ident(c)} || ' ≠ ' || b.{ident(c)}"
        out.append(("company_id", f"{_present_differ(c)}{ok}", reason))
    out += _person_conditions(columns, strong)
    if columns.branch and columns.company_cores:
        same = [f"a.{ident(x)} = b.{ident(y)}" for x in columns.company_cores for y in columns.company_cores]
        same += [
            f"(length(a.{ident(x)}) >= 4 AND a.{ident(x)} = b.{ident(y)})"
            for x in columns.company_pinyin
            for y in columns.company_pinyin
        ]
        bi = ident(columns.branch)
        condition = (
            f"({' OR '.join(same)}) AND a.{bi} IS DISTINCT FROM b.{bi} "
            f"AND coalesce(w.probability, 0) < {float(threshold)!r}"
        )
        reason = (
            f"'branch: ' || coalesce(a.{bi}, '(head office)') || ' ≠ ' || coalesce(b.{bi}, '(head office)')"
        )
        out.append(("branch", condition, reason))
    return out


# --------------------------------------------------------------------------------------------
# engine steps on the scratch tables of a match


@dataclass
class GuardReport:
    """What the guards did: per guard, the clusters it split and the links it cut."""

    clusters_split: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GUARDS, 0))
    links_cut: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GUARDS, 0))
    clusters_checked: int = 0
    pairs_scored_inside: int = 0

    def add(self, cuts: list[Cut]) -> None:
        """Count the links one cluster lost (the cluster once per guard)."""
        for guard in {c.guard for c in cuts}:
            self.clusters_split[guard] = self.clusters_split.get(guard, 0) + 1
        for c in cuts:
            self.links_cut[c.guard] = self.links_cut.get(c.guard, 0) + 1

    def as_metrics(self) -> dict[str, Any]:
        """``guard_<name>_clusters_split`` / ``guard_<name>_links_cut`` and the totals."""
        out: dict[str, Any] = {
            "clusters_checked_by_guards": self.clusters_checked,
            "pairs_scored_inside_clusters": self.pairs_scored_inside,
        }
        for g in GUARDS:
            out[f"guard_{g}_clusters_split"] = self.clusters_split.get(g, 0)
            out[f"guard_{g}_links_cut"] = self.links_cut.get(g, 0)
        return out

    def table(self) -> pd.DataFrame:
        """One row per guard: ``guard, clusters_split, links_cut``."""
        return pd.DataFrame(
            [
                {
                    "guard": g,
                    "clusters_split": self.clusters_split.get(g, 0),
                    "links_cut": self.links_cut.get(g, 0),
                }
                for g in GUARDS
            ],
            columns=["guard", "clusters_split", "links_cut"],
        )


def cluster_links(con: duckdb.DuckDBPyConnection, db_api: Any) -> None:
    """``COMPONENTS`` and a first ``CLUSTERS``: the connected components of the pairs decided ``match``."""
    con.execute(
        f"CREATE TABLE {EDGES} AS SELECT record_key_l, record_key_r FROM {PAIRS} WHERE decision = 'match'"
    )
    cc = connected_components(db_api, RECORDS, EDGES)
    con.execute(f"CREATE TABLE {COMPONENTS} AS SELECT record_key, cluster_id FROM {cc.physical_name}")
    con.execute(f"CREATE TABLE {CLUSTERS} AS SELECT record_key, cluster_id AS cluster FROM {COMPONENTS}")
    con.execute(
        f"CREATE TABLE {SPLIT} (record_key_l VARCHAR, record_key_r VARCHAR, guard VARCHAR, reason VARCHAR)"
    )


def _edge_rows_sql(cluster_filter: str) -> str:
    return (
        "SELECT f.cluster, p.record_key_l, p.record_key_r, p.edge_rank, coalesce(p.match_probability, 0), "
        f"coalesce(p.match_weight, 0) FROM {PAIRS} p JOIN {CLUSTERS} f ON f.record_key = p.record_key_l "
        f"JOIN {CLUSTERS} g ON g.record_key = p.record_key_r AND g.cluster = f.cluster "
        f"{cluster_filter} WHERE p.decision = 'match' ORDER BY 1, 2, 3"
    )


def split_large_clusters(
    con: duckdb.DuckDBPyConnection, max_size: int, threshold: float, report: GuardReport
) -> None:
    """Break the ``CLUSTERS`` above `max_size` by raising the model-link threshold.

    See :func:`split_oversized`; the links dropped are recorded like those the guards cut.
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
            con.execute(_edge_rows_sql(f"JOIN {big_table} b ON b.cluster = f.cluster")).fetchall()
        )
    new_rows: list[tuple[str, str]] = []
    items: list[Cut] = []
    for cid, group in members.groupby("cluster", sort=True):
        keys = group["record_key"].tolist()
        rep, dropped, used = split_oversized(keys, edges.get(str(cid), []), max_size, thresholds)
        new_rows += [(k, f"{cid}^{rep[k]}") for k in keys]
        cuts = [Cut(e, "oversized", why) for e, why in dropped]
        report.add(cuts)
        items += cuts
        log.warning(
            "cluster of %d records split with model threshold %s (%d links cut)",
            len(keys),
            used,
            len(dropped),
        )
    _apply_splits(con, new_rows, items)


ScoreMissing = Callable[[str], str | None]


def score_inside_pairs(
    con: duckdb.DuckDBPyConnection, predictions: str, score_missing: ScoreMissing | None, report: GuardReport
) -> None:
    """``WITHIN``: the model's probability of every pair inside a cluster (of three or more records).

    Pairs the blocking rules scored come from the `predictions` table; the others are scored by `score_missing`
    (given a table ``record_key, _source, cluster_id`` of the members, it returns the table of
    their scored pairs, or None), so the guards see every pair of a cluster.
    """
    con.execute(
        f"CREATE OR REPLACE TABLE {temp('inside_members')} AS SELECT c.record_key, r._source, c.cluster AS cluster_id "
        f"FROM {CLUSTERS} c JOIN {RECORDS} r USING (record_key) "
        f"WHERE c.cluster IN (SELECT cluster FROM {CLUSTERS} GROUP BY cluster HAVING count(*) >= 3)"
    )
    con.execute(
        f"CREATE TABLE {WITHIN} AS SELECT least(p.record_key_l, p.record_key_r) AS record_key_l, "
        "greatest(p.record_key_l, p.record_key_r) AS record_key_r, max(p.match_probability) AS probability "
        f"FROM {predictions} p JOIN {CLUSTERS} a ON a.record_key = p.record_key_l "
        f"JOIN {CLUSTERS} b ON b.record_key = p.record_key_r AND b.cluster = a.cluster "
        "WHERE p.record_key_l <> p.record_key_r GROUP BY 1, 2"
    )
    scored = score_missing(temp("inside_members")) if score_missing is not None else None
    if scored is not None:
        before = int(con.execute(f"SELECT count(*) FROM {WITHIN}").fetchall()[0][0])
        con.execute(
            f"INSERT INTO {WITHIN} SELECT least(record_key_l, record_key_r), greatest(record_key_l, record_key_r), "
            f"match_probability FROM {scored} s WHERE NOT EXISTS (SELECT 1 FROM {WITHIN} w WHERE "
            "w.record_key_l = least(s.record_key_l, s.record_key_r) AND w.record_key_r = greatest(s.record_key_l, s.record_key_r))"
        )
        report.pairs_scored_inside = (
            int(con.execute(f"SELECT count(*) FROM {WITHIN}").fetchall()[0][0]) - before
        )
    con.execute(f"DROP TABLE {temp('inside_members')}")


def find_conflicts(
    con: duckdb.DuckDBPyConnection, columns: GuardColumns, threshold: float, strong: float = 1.0
) -> None:
    """``CONFLICTS``: every pair of records in one cluster that a guard keeps apart (with why)."""
    conditions = guard_conditions(columns, threshold, strong)

    base = (
        f"FROM {CLUSTERS} ca JOIN {CLUSTERS} cb ON ca.cluster = cb.cluster AND ca.record_key < cb.record_key "
        f"JOIN {RECORDS} a ON a.record_key = ca.record_key JOIN {RECORDS} b ON b.record_key = cb.record_key "
        f"LEFT JOIN {WITHIN} w ON w.record_key_l = a.record_key AND w.record_key_r = b.record_key "
        f"WHERE ca.cluster IN (SELECT cluster FROM {CLUSTERS} GROUP BY cluster HAVING count(*) >= 2)"
    )
    parts = [
        f"SELECT a.record_key AS record_key_l, b.record_key AS record_key_r, '{guard}' AS guard, "
        f"CAST({reason} AS VARCHAR) AS reason, {i} AS guard_order {base} AND ({condition})"
        for i, (guard, condition, reason) in enumerate(conditions)
    ]
    if not parts:
        con.execute(
            f"CREATE TABLE {CONFLICTS} (record_key_l VARCHAR, record_key_r VARCHAR, guard VARCHAR, reason VARCHAR)"
        )
        return
    con.execute(
        f"CREATE TABLE {CONFLICTS} AS SELECT record_key_l, record_key_r, arg_min(guard, guard_order) AS guard, "
        f"arg_min(reason, guard_order) AS reason FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL "
        "ORDER BY record_key_l, record_key_r"
    )


def guard_clusters(
    con: duckdb.DuckDBPyConnection, *, threshold: float, min_mean: float, strong: float, report: GuardReport
) -> None:
    """Rebuild the clusters that hold a guarded pair or a possible chain (see the module docstring).

    Reads ``CLUSTERS``, ``WITHIN``, ``CONFLICTS`` and the labels; rewrites the labels of the
    records of every rebuilt cluster in ``CLUSTERS`` and records the links cut in ``SPLIT`` (their
    pairs get the decision ``split`` in ``PAIRS``).
    """
    flagged_sql = (
        f"SELECT DISTINCT c.cluster FROM {CONFLICTS} x JOIN {CLUSTERS} c ON c.record_key = x.record_key_l "
        f"UNION SELECT cluster FROM (SELECT c.cluster, count(*) AS n FROM {CLUSTERS} c GROUP BY 1 HAVING count(*) >= 3) s "
        f"WHERE (SELECT count(*) FROM {WITHIN} w JOIN {CLUSTERS} a ON a.record_key = w.record_key_l "
        f"WHERE a.cluster = s.cluster AND w.probability >= {float(threshold)!r}) < s.n * (s.n - 1) / 2 "
        f"UNION SELECT a.cluster FROM {LABELS} l JOIN {CLUSTERS} a ON a.record_key = l.record_key_l "
        f"JOIN {CLUSTERS} b ON b.record_key = l.record_key_r WHERE l.label = 'non_match' AND a.cluster = b.cluster"
    )
    con.execute(f"CREATE OR REPLACE TABLE {temp('flagged')} AS {flagged_sql}")
    flagged = temp("flagged")
    report.clusters_checked = int(con.execute(f"SELECT count(*) FROM {flagged}").fetchall()[0][0])
    if report.clusters_checked == 0:
        con.execute(f"DROP TABLE {flagged}")
        return
    members = con.execute(
        f"SELECT c.cluster, c.record_key FROM {CLUSTERS} c JOIN {flagged} USING (cluster) ORDER BY 1, 2"
    ).fetchall()
    edges = _edges_by_cluster(
        con.execute(_edge_rows_sql(f"JOIN {flagged} fl ON fl.cluster = f.cluster")).fetchall()
    )
    probability = {
        (r[0], r[1]): float(r[2] or 0.0)
        for r in con.execute(f"SELECT record_key_l, record_key_r, probability FROM {WITHIN}").fetchall()
    }
    conflicts = {
        (r[0], r[1]): (r[2], r[3])
        for r in con.execute(f"SELECT record_key_l, record_key_r, guard, reason FROM {CONFLICTS}").fetchall()
    }
    cannot = {
        (r[0], r[1])
        for r in con.execute(
            f"SELECT record_key_l, record_key_r FROM {LABELS} WHERE label = 'non_match'"
        ).fetchall()
    }
    con.execute(f"DROP TABLE {flagged}")
    by_cluster: dict[str, list[str]] = {}
    for cid, key in members:
        by_cluster.setdefault(str(cid), []).append(key)
    new_rows: list[tuple[str, str]] = []
    items: list[Cut] = []
    for cid, keys in by_cluster.items():
        rep, cuts = rebuild_cluster(
            keys,
            edges.get(cid, []),
            conflicts=conflicts,
            cannot_link=cannot,
            probability=probability,
            min_mean=min_mean,
            strong=strong,
        )
        if not cuts:
            continue
        report.add(cuts)
        items += cuts
        new_rows += [(k, f"{cid}~{rep[k]}") for k in keys]
    if items:
        log.info(
            "cluster guards cut %d link(s): %s",
            len(items),
            ", ".join(f"{g} {n}" for g, n in report.links_cut.items() if n),
        )
    _apply_splits(con, new_rows, items)


def _edges_by_cluster(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[Edge]]:
    """Rows ``cluster, left, right, rank, probability, weight`` as edges per cluster."""
    out: dict[str, list[Edge]] = {}
    for cid, left, right, rank, prob, weight in rows:
        out.setdefault(str(cid), []).append(Edge(left, right, int(rank), float(prob), float(weight)))
    return out


def _apply_splits(con: duckdb.DuckDBPyConnection, new_rows: list[tuple[str, str]], items: list[Cut]) -> None:
    """Give records their new cluster labels and record the cut links (their pairs become ``split``)."""
    if new_rows:
        with registered(con, temp("new"), pd.DataFrame(new_rows, columns=["record_key", "cluster"])) as new:
            con.execute(
                f"UPDATE {CLUSTERS} SET cluster = n.cluster FROM {new} n WHERE {CLUSTERS}.record_key = n.record_key"
            )
    if not items:
        return
    frame = pd.DataFrame(
        [
            {"record_key_l": c.edge.left, "record_key_r": c.edge.right, "guard": c.guard, "reason": c.reason}
            for c in items
        ]
    )
    with registered(con, temp("items"), frame) as cut:
        con.execute(f"INSERT INTO {SPLIT} SELECT record_key_l, record_key_r, guard, reason FROM {cut}")
    con.execute(
        f"UPDATE {PAIRS} SET decision = 'split' FROM {SPLIT} s "
        f"WHERE {PAIRS}.record_key_l = s.record_key_l AND {PAIRS}.record_key_r = s.record_key_r"
    )
