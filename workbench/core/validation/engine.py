"""Counting a suite over a whole DuckDB table in SQL, and drawing the bounded samples of its rows.

This module owns the SQL side of a validation (:mod:`workbench.core.validation.gx_runner` owns the
Great Expectations side). For one dataset (a table of the run database) it

1. compiles each expectation (:mod:`workbench.core.validation.sql_rules`) and decides in Python,
   once per distinct value, the values of the rules RE2 cannot run (a small table of the values
   found unexpected, joined back);
2. counts every rule in one aggregate scan of the dataset (its condition, domain and unexpected
   rows: GX's ``element_count``, the rows judged, ``unexpected_count``) and each uniqueness rule in
   one ``GROUP BY`` (:func:`count_rules`; GX's ``success`` with ``mostly``);
3. picks, by a seeded hash of the row, at most ``failures_limit`` failed rows per failed rule (the
   failures list) and a bounded sample for GX (rows of the dataset and failed rows of each rule):
   one more scan that keeps only failed rows (:func:`pick_rows`), and fetches just those rows.

No step reads the whole dataset into pandas; memory stays bounded by the samples.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.validation.sql_rules import CompiledRule, compile_rule
from workbench.engine import catalog
from workbench.engine.connection import registered
from workbench.engine.sql import ident

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

ROW_ID = "__wb_rowid"  # the dataset row's identity in the scratch tables (its rowid)
SAMPLE_ROW = "__wb_row"  # a sample row's number, the index GX reports unexpected rows by
_PICK = catalog.temp("validation_pick")
_FAILED = catalog.temp("validation_failed")


@dataclass
class RuleCount:
    """What SQL counted for one rule over one dataset, in GX's terms."""

    element_count: int | None
    domain_count: int | None
    unexpected_count: int | None
    success: bool
    error: str | None = None

    @property
    def unexpected_percent(self) -> float | None:
        if self.unexpected_count is None or not self.domain_count:
            return None
        return 100.0 * self.unexpected_count / self.domain_count


def schema_of(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """column → DuckDB type of a table or view."""
    rows = con.execute(f"DESCRIBE {ident(relation)}").fetchall()
    return {str(r[0]): str(r[1]).split("(")[0] for r in rows}


def _regex_checker(con: duckdb.DuckDBPyConnection) -> Any:
    def ok(pattern: str) -> bool:
        try:
            con.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchall()
        except Exception:  # duckdb raises InvalidInputException for a pattern RE2 rejects
            return False
        return True

    return ok


def compile_suite(
    con: duckdb.DuckDBPyConnection, expectations: list[dict[str, Any]], schema: dict[str, str]
) -> list[CompiledRule]:
    """Every expectation of a suite compiled against `schema` (see :func:`compile_rule`)."""
    regex_ok = _regex_checker(con)
    return [compile_rule(i, e, schema, regex_ok) for i, e in enumerate(expectations)]


def sql_rules(rules: list[CompiledRule]) -> list[CompiledRule]:
    """The rules SQL counts (not those GX decides, nor those that cannot run, nor existence)."""
    return [r for r in rules if r.engine in ("duckdb", "python") and r.error is None and r.exists is None]


# --------------------------------------------------------------------------------------------
# the SQL of the rules on one relation


class Plan:
    """The FROM clause and the per-rule predicates of a set of rules on one relation.

    Rules decided in Python join the table of their unexpected values; uniqueness rules join the
    table of their duplicated keys (both small, scratch, dropped by :meth:`drop`).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, relation: str, rules: list[CompiledRule], tag: str) -> None:
        self.con, self.relation, self.rules, self.tag = con, relation, rules, tag
        self.params: dict[str, Any] = {k: v for r in rules for k, v in r.params.items()}
        self.joins: list[str] = []
        self.scratch: list[str] = []
        self.registered: list[str] = []
        self.unexpected: dict[int, str] = {}
        for r in rules:
            self.unexpected[r.index] = self._unexpected(r)

    def _unexpected(self, r: CompiledRule) -> str:
        cond, dom = f"({r.condition})", f"({r.domain})"
        if r.unique:
            table = catalog.temp(f"{self.tag}_dup_{r.index}")
            cols = [ident(c) for c in r.value_columns]
            keys = ", ".join(f"{c} AS __wb_k{j}" for j, c in enumerate(cols))
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT {keys}, true AS __wb_dup "
                f"FROM {ident(self.relation)} WHERE {cond} AND {dom} GROUP BY ALL HAVING count(*) > 1",
                bound(r.params, cond),
            )
            self.scratch.append(table)
            alias = f"__wb_u{r.index}"
            on = " AND ".join(f"{alias}.__wb_k{j} IS NOT DISTINCT FROM {c}" for j, c in enumerate(cols))
            self.joins.append(f"LEFT JOIN {ident(table)} {alias} ON {on}")
            return f"({cond} AND {dom} AND {alias}.__wb_dup IS NOT NULL)"
        unexpected = str(r.unexpected)
        if r.engine == "python":
            assert r.python_check is not None
            column, check = r.python_check
            col = ident(column)
            values = self.con.execute(
                f"SELECT DISTINCT {col} FROM {ident(self.relation)} WHERE {col} IS NOT NULL AND {cond}",
                bound(r.params, cond),
            ).fetchall()
            bad = pd.DataFrame({"__wb_v": [v for (v,) in values if not check(v)]}, dtype="object")
            name = catalog.temp(f"{self.tag}_bad_{r.index}")
            self.con.register(name, bad)
            self.registered.append(name)
            alias = f"__wb_b{r.index}"
            self.joins.append(f"LEFT JOIN (SELECT DISTINCT __wb_v FROM {ident(name)}) {alias} ON {alias}.__wb_v = {col}")
            unexpected = f"{alias}.__wb_v IS NOT NULL"
        return f"({cond} AND {dom} AND coalesce({unexpected}, false))"

    def from_clause(self) -> str:
        return f"FROM {ident(self.relation)} __wb_r " + " ".join(self.joins)

    def drop(self) -> None:
        for table in self.scratch:
            self.con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
        for name in self.registered:
            self.con.unregister(name)


def bound(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """The named parameters (``$name``) that `sql` uses: DuckDB refuses unused ones."""
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    return {k: v for k, v in params.items() if k in used}


def _success(rule: CompiledRule, element: int, domain: int, unexpected: int) -> bool:
    """GX's success: no unexpected row, or at least ``mostly`` of the judged rows as expected."""
    if rule.mostly is None:
        return unexpected == 0
    whole = element if rule.over_all_rows else domain
    return True if whole == 0 else (whole - unexpected) / whole >= rule.mostly


def count_rules(plan: Plan, all_rules: list[CompiledRule]) -> dict[int, RuleCount]:
    """Count each SQL rule of `plan` in one scan (GX's figures and success), and the status of the
    rules SQL does not count (existence, missing columns)."""
    out: dict[int, RuleCount] = {}
    if plan.rules:
        items = ", ".join(
            f"count(*) FILTER (WHERE {r.condition}), count(*) FILTER (WHERE ({r.condition}) AND ({r.domain})), "
            f"count(*) FILTER (WHERE {plan.unexpected[r.index]})"
            for r in plan.rules
        )
        query = f"SELECT {items} {plan.from_clause()}"
        row = plan.con.execute(query, bound(plan.params, query)).fetchall()[0]
        for k, r in enumerate(plan.rules):
            element, domain, unexpected = (int(v) for v in row[3 * k : 3 * k + 3])
            if r.over_all_rows:
                domain = element
            out[r.index] = RuleCount(element, domain, unexpected, _success(r, element, domain, unexpected))
    for r in all_rules:
        if r.error is not None:
            out[r.index] = RuleCount(None, None, None, False, r.error)
        elif r.exists is not None:
            out[r.index] = RuleCount(None, None, None, bool(r.exists))
    return out


def failed_rows(plan: Plan, counts: dict[int, RuleCount]) -> str:
    """Write the scratch table of the failed rows (row id and, per failed rule, its flag and the
    hash of its value) in one scan; returns its name."""
    failing = [r for r in plan.rules if counts.get(r.index) and counts[r.index].unexpected_count]
    items = [f"__wb_r.rowid AS {ROW_ID}"]
    for r in failing:
        items.append(f"{plan.unexpected[r.index]} AS u{r.index}")
        items.append(f"hash({', '.join('__wb_r.' + ident(c) for c in r.value_columns)}) AS h{r.index}")
    where = " OR ".join(plan.unexpected[r.index] for r in failing) or "false"
    query = f"CREATE OR REPLACE TEMP TABLE {ident(_FAILED)} AS SELECT {', '.join(items)} {plan.from_clause()} WHERE {where}"
    plan.con.execute(query, bound(plan.params, query))
    return _FAILED


def pick_rows(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    rules: list[CompiledRule],
    counts: dict[int, RuleCount],
    failed: str,
    *,
    seed: int,
    failures_limit: int,
    gx_rows: int,
    gx_failing: int,
) -> str:
    """Choose the rows to fetch: per failed rule at most `failures_limit` (purpose ``failure``),
    and for GX `gx_rows` rows of the dataset plus at most `gx_failing` failed rows per rule
    (purpose ``gx``). Rows are ordered by a seeded hash of the row; a uniqueness rule orders its
    failed rows by value first, so rows sharing a value come together. Returns the pick table."""
    selects = []
    for r in rules:
        c = counts.get(r.index)
        if c is None or not c.unexpected_count:
            continue
        order = f"hash($seed, h{r.index}), {ROW_ID}" if r.unique else f"hash($seed, {ROW_ID}), {ROW_ID}"
        for purpose, limit in (("failure", "$fail_n"), ("gx", "$gx_fail_n")):
            selects.append(
                f"(SELECT {ROW_ID}, {r.index} AS rule, '{purpose}' AS purpose, row_number() OVER "
                f"(ORDER BY {order}) AS pos FROM {ident(failed)} WHERE u{r.index} ORDER BY {order} LIMIT {limit})"
            )
    selects.append(
        f"(SELECT rowid AS {ROW_ID}, NULL::INTEGER AS rule, 'gx' AS purpose, 0::BIGINT AS pos FROM {ident(relation)} "
        f"ORDER BY hash($seed, rowid), rowid LIMIT $gx_n)"
    )
    sql = " UNION ALL ".join(selects)
    params = {"seed": int(seed), "fail_n": int(failures_limit), "gx_n": int(gx_rows), "gx_fail_n": int(gx_failing)}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(_PICK)} AS {sql}", bound(params, sql))
    return _PICK


def fetch_rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], pick: str) -> pd.DataFrame:
    """Every picked row (once, by row identity) with `columns`, in one scan."""
    cols = ", ".join(f"r.{ident(c)}" for c in columns)
    return con.execute(
        f"SELECT r.rowid AS {ROW_ID}, {cols} FROM {ident(relation)} r "
        f"WHERE r.rowid IN (SELECT {ROW_ID} FROM {ident(pick)}) ORDER BY r.rowid"
    ).df()


def picked(con: duckdb.DuckDBPyConnection, pick: str, purpose: str) -> pd.DataFrame:
    """``(rule, __wb_rowid)`` of the rows picked for `purpose` (``rule`` NULL: a sampled row)."""
    return con.execute(
        f"SELECT rule, {ROW_ID} FROM {ident(pick)} WHERE purpose = $p ORDER BY rule NULLS LAST, pos, {ROW_ID}",
        {"p": purpose},
    ).df()


def drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the failed-rows and pick tables."""
    for name in (_FAILED, _PICK):
        con.execute(f"DROP TABLE IF EXISTS {ident(name)}")


def sample_table(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str) -> str:
    """Copy a bounded frame into a scratch table (so rowid exists and SQL can flag it)."""
    table = catalog.temp(name)
    with registered(con, catalog.temp(f"{name}_frame"), frame) as view:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(table)} AS SELECT * FROM {ident(view)} "
                    f"ORDER BY {SAMPLE_ROW}")
    return table


def sample_flags(
    con: duckdb.DuckDBPyConnection, table: str, rules: list[CompiledRule]
) -> dict[int, tuple[set[int], RuleCount]]:
    """Evaluate the SQL rules on a sample table: per rule, its unexpected sample rows and counts."""
    plan = Plan(con, table, rules, "sample")
    try:
        counts = count_rules(plan, rules)
        items = ", ".join(f"{plan.unexpected[r.index]} AS u{r.index}" for r in rules)
        query = f"SELECT __wb_r.{SAMPLE_ROW}, {items} {plan.from_clause()}"
        frame = con.execute(query, bound(plan.params, query)).df()
    finally:
        plan.drop()
    out = {}
    for r in rules:
        rows = set(frame.loc[frame[f"u{r.index}"].astype(bool), SAMPLE_ROW].astype(int))
        out[r.index] = (rows, counts[r.index])
    return out
