"""Blocking rules chosen from the data: which record pairs the model scores at all.

Each compared field offers *blocking keys* (its exact identity column, e.g. ``mobile_e164``,
``customer_name_core``, the pinyin of a name, the first two characters of a name core). A key whose
equal values create at most ``blocking_pairs_per_record × records`` pairs becomes a rule of its
own; keys that are too coarse alone (a city, a date) are paired with each other. Counting the pairs
of an equality key is one ``GROUP BY``, so the choice is cheap even on millions of rows.
Every rule is a Splink SQL rule ``l.x = r.x [AND …]``; the `match:` section can replace them.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace
from typing import Any

from workbench.core.linkage.fields import (
    ID_KINDS,
    NAMES_COMPACT,
    NORM_ID,
    PERSON_FULL,
    PERSON_FULL_REV,
    PIN,
    MatchField,
    helper,
    is_company_name,
)
from workbench.engine.sql import ident
from workbench.project.config import Kind

log = logging.getLogger(__name__)

MIN_BLOCK_BUDGET = 5_000


@dataclass(frozen=True)
class BlockingKey:
    """One equality key: an SQL expression of one record's columns (``{t}`` is the table alias)."""

    name: str
    field: str
    template: str
    kind: str = ""
    right: str | None = None  # a cross-field key: the right record's expression differs

    def sql(self, alias: str) -> str:
        """The key's expression on the record with table alias `alias` (``l``, ``r`` or none)."""
        template = self.right if alias == "r" and self.right is not None else self.template
        return template.format(t=f"{alias}." if alias else "")


@dataclass
class BlockingChoice:
    """A chosen (or rejected) rule with its pair count (and how many known matches it finds)."""

    keys: tuple[BlockingKey, ...]
    pairs: int
    chosen: bool
    found: int | None = None

    @property
    def name(self) -> str:
        """The rule's name: its keys' names joined by ``&``."""
        return " & ".join(k.name for k in self.keys)

    @property
    def rule(self) -> str:
        """The rule as Splink SQL."""
        return rule_sql(self.keys)

    @property
    def fields(self) -> set[str]:
        """The compared fields the rule blocks on."""
        return {k.field for k in self.keys}


def rule_sql(keys: tuple[BlockingKey, ...] | list[BlockingKey]) -> str:
    """The Splink SQL of a conjunction of equality keys."""
    return " AND ".join(f"{k.sql('l')} = {k.sql('r')}" for k in keys)


def _col(column: str) -> str:
    return "{t}" + ident(column)


def _key(p: MatchField, role: str) -> BlockingKey:
    """The exact key on the column of one role of a field."""
    column = p.columns[role]
    return BlockingKey(column, p.field, _col(column))


def _company_name_keys(p: MatchField) -> list[BlockingKey]:
    core = p.columns["core"]
    keys = [_key(p, "core")]
    if "pinyin" in p.columns:
        pin = _col(helper(p, PIN))
        keys.append(BlockingKey(helper(p, PIN), p.field, pin))
        # the first letters of the pinyin meet a romanised name (华瑞科技 / Huarui Technology)
        prefix = f"CASE WHEN length({pin}) >= 5 THEN left({pin}, 5) END"
        keys.append(BlockingKey(f"{helper(p, PIN)}[1:5]", p.field, prefix))
    keys.append(BlockingKey(f"{core}[1:2]", p.field, f"nullif(left({_col(core)}, 2), '')"))
    return keys


def _phone_keys(p: MatchField) -> list[BlockingKey]:
    roles: list[str] = [r for r in ("e164", "last8") if r in p.columns]
    return [_key(p, r) for r in roles or ["value"]]


# the roles a field of a kind offers as exact keys, after its value (when present in the field)
_EXTRA_KEY_ROLES: dict[Kind, str] = {
    Kind.EMAIL: "local",
    Kind.PERSON_NAME: "pinyin",
    Kind.COMPANY_NAME: "pinyin",  # a company name without a name core
    Kind.CUSTOMER_NAME: "pinyin",
    Kind.ADDRESS: "detail",
}


def field_keys(p: MatchField) -> list[BlockingKey]:
    """The blocking keys of one compared field, most specific first."""
    if p.kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME) and "core" in p.columns:
        return _company_name_keys(p)
    if p.kind == Kind.PHONE:
        return _phone_keys(p)
    if p.kind in ID_KINDS:
        return [BlockingKey(helper(p, NORM_ID), p.field, _col(helper(p, NORM_ID)))]
    keys = [_key(p, "value")]
    extra = _EXTRA_KEY_ROLES.get(p.kind)
    if extra and extra in p.columns:
        keys.append(_key(p, extra))
    return keys


def blocking_keys(plans: list[MatchField]) -> list[BlockingKey]:
    """The candidate blocking keys of the compared fields, most specific first per field."""
    out: list[BlockingKey] = []
    for p in plans:
        out += [replace(k, kind=p.kind.value) for k in field_keys(p)]
    out += cross_field_keys(plans)
    return out


def cross_field_keys(plans: list[MatchField]) -> list[BlockingKey]:
    """Keys between two fields of one kind: a ledger's 简称 against a CRM's full name, a 联系电话
    against a 手机 (both directions, since a rule only looks at the left record's field)."""
    groups = [
        [(p, p.match_column) for p in plans if is_company_name(p)],
        [(p, p.col("e164") or p.columns["value"]) for p in plans if p.kind == Kind.PHONE],
    ]
    keys = []
    for group in groups:
        for (a, col_a), (_b, col_b) in itertools.permutations(group, 2):
            keys.append(
                BlockingKey(f"{col_a}~{col_b}", a.field, _col(col_a), kind=a.kind.value, right=_col(col_b))
            )
    return keys + person_name_keys(plans)


def person_name_keys(plans: list[MatchField]) -> list[BlockingKey]:
    """A name pair's full name (either order) as a key, and against the customer name of records that
    write the person's name in one field (a member list's 姓 + 名 against an ERP's 客户名称)."""
    from workbench.core.linkage.settings_builder import person_pairs

    pairs = person_pairs(plans)
    if not pairs:
        return []
    field = pairs[0][0].field
    keys = [BlockingKey(PERSON_FULL, field, _col(PERSON_FULL), kind=Kind.PERSON_NAME.value)]
    if any(is_company_name(p) for p in plans):
        for full in (PERSON_FULL, PERSON_FULL_REV):
            keys += [
                BlockingKey(
                    f"{full}~{NAMES_COMPACT}",
                    field,
                    _col(full),
                    kind=Kind.PERSON_NAME.value,
                    right=_col(NAMES_COMPACT),
                ),
                BlockingKey(
                    f"{NAMES_COMPACT}~{full}",
                    field,
                    _col(NAMES_COMPACT),
                    kind=Kind.PERSON_NAME.value,
                    right=_col(full),
                ),
            ]
    return keys


def count_pairs_sql(table: str, keys: tuple[BlockingKey, ...] | list[BlockingKey]) -> str:
    """SQL counting the record pairs that agree on every key (all present): Σ n·(n−1)/2 per group;
    for one cross-field key Σ n_left·n_right per value."""
    if len(keys) == 1 and keys[0].right is not None:
        left, right = keys[0].sql(""), keys[0].right.format(t="")
        return (
            f"SELECT coalesce(sum(a.n * b.n), 0)::BIGINT FROM "
            f"(SELECT {left} AS v, count(*)::BIGINT AS n FROM {table} WHERE ({left}) IS NOT NULL GROUP BY 1) a "
            f"JOIN (SELECT {right} AS v, count(*)::BIGINT AS n FROM {table} WHERE ({right}) IS NOT NULL GROUP BY 1) b "
            f"USING (v)"
        )
    exprs = [k.sql("") for k in keys]
    present = " AND ".join(f"({e}) IS NOT NULL" for e in exprs)
    return (
        f"SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM ("
        f"SELECT count(*)::BIGINT AS n FROM {table} WHERE {present} GROUP BY {', '.join(exprs)})"
    )


def rules_recall(con: Any, table: str, truth_pairs: str, rules: list[str]) -> float | None:
    """The share of the pairs in `truth_pairs` (``record_key_l, record_key_r``) that any of `rules` finds."""
    if not rules:
        return None
    found = " OR ".join(f"({r})" for r in rules)
    total, hit = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {found}) FROM {truth_pairs} d "
        f"JOIN {table} l ON l.record_key = d.record_key_l JOIN {table} r ON r.record_key = d.record_key_r"
    ).fetchall()[0]
    return hit / total if total else None


def _found_sets(con: Any, table: str, truth_pairs: str, choices: list[BlockingChoice]) -> dict[int, set[int]]:
    """For each choice (by position), the known matching pairs (by row number) its rule finds."""
    cases = ", ".join(f"({c.rule}) AS f{i}" for i, c in enumerate(choices))
    rows = con.execute(
        f"SELECT {cases} FROM {truth_pairs} d JOIN {table} l ON l.record_key = d.record_key_l "
        f"JOIN {table} r ON r.record_key = d.record_key_r ORDER BY d.record_key_l, d.record_key_r"
    ).fetchall()
    return {i: {n for n, row in enumerate(rows) if row[i]} for i in range(len(choices))}


def _order_by_recall(
    con: Any, table: str, truth_pairs: str, chosen: list[BlockingChoice]
) -> list[BlockingChoice]:
    """The rules greedily by the known matches each adds (ties and the rest keep their order)."""
    if not chosen:
        return chosen
    found = _found_sets(con, table, truth_pairs, chosen)
    for i, c in enumerate(chosen):
        c.found = len(found[i])
    covered: set[int] = set()
    left = list(range(len(chosen)))
    order: list[int] = []
    while left:
        best = max(left, key=lambda i: (len(found[i] - covered), -left.index(i)))
        if not found[best] - covered:
            break
        order.append(best)
        covered |= found[best]
        left.remove(best)
    order += left
    return [chosen[i] for i in order]


def choose_blocking_rules(
    con: Any,
    table: str,
    keys: list[BlockingKey],
    *,
    pairs_per_record: float,
    max_rules: int,
    truth_pairs: str | None = None,
) -> list[BlockingChoice]:
    """Pick the blocking rules: every key within the pair budget alone, then pairs of coarse keys.

    Args:
        con: DuckDB connection holding `table`.
        table: the (quoted) table of records.
        keys: candidate keys (see :func:`blocking_keys`).
        pairs_per_record: the budget is this many pairs per record (at least 5,000 pairs).
        max_rules: at most this many rules are chosen.
        truth_pairs: a table of known matching pairs (the deterministic pairs): when more rules fit
            than `max_rules`, the rules that find most of these pairs not yet found come first.

    Returns:
        Every evaluated candidate with its pair count; ``chosen`` marks the rules to use: each field's
        most specific key first, then the fields' other keys, then pairs of coarse keys (by count),
        reordered by the known matches they add when `truth_pairs` is given.
    """
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    budget = max(MIN_BLOCK_BUDGET, int(pairs_per_record * n))
    singles: list[BlockingChoice] = []
    for key in keys:
        pairs = con.execute(count_pairs_sql(table, (key,))).fetchall()[0][0]
        singles.append(BlockingChoice((key,), int(pairs), False))
    accepted = [c for c in singles if 0 < c.pairs <= budget]
    coarse = sorted(
        (c for c in singles if c.pairs > budget and c.keys[0].right is None), key=lambda c: (c.pairs, c.name)
    )
    pairs_: list[BlockingChoice] = []
    for a, b in itertools.combinations(coarse, 2):
        if a.keys[0].field == b.keys[0].field:
            continue
        combo = tuple(sorted(a.keys + b.keys, key=lambda k: k.name))
        count = con.execute(count_pairs_sql(table, combo)).fetchall()[0][0]
        pairs_.append(BlockingChoice(combo, int(count), False))
    # every field's most specific key first (round robin over the fields), then the fields' other
    # keys, then pairs of coarse keys: a cap on the number of rules then drops the least useful
    rank: dict[str, int] = {}
    ordered = []
    for c in accepted:  # in key order: fields in config order, their keys most specific first
        ordered.append((rank.setdefault(c.keys[0].field, 0), c))
        rank[c.keys[0].field] += 1
    chosen = [c for _, c in sorted(ordered, key=lambda rc: rc[0])]
    chosen += sorted((c for c in pairs_ if 0 < c.pairs <= budget), key=lambda c: (c.pairs, c.name))
    if truth_pairs is not None and len(chosen) > max_rules:
        chosen = _order_by_recall(con, table, truth_pairs, chosen)
    for c in chosen[:max_rules]:
        c.chosen = True
    if len(chosen) > max_rules:
        log.info(
            "%d blocking rules fit the budget; using %d (match.max_blocking_rules)", len(chosen), max_rules
        )
    log.info(
        "blocking: budget %s pairs per rule; chosen: %s",
        f"{budget:,}",
        "; ".join(f"{c.name} ({c.pairs:,})" for c in chosen[:max_rules]),
    )
    return singles + pairs_
