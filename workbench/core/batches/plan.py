"""The batch plan (phase 6): which load wave every golden record goes in, or why it stays out.

This module owns the ``batch_plan`` table (``master_id, batch, batch_order, wave, reason``). The
rules come from ``export.batches`` in the config: invalid customers are excluded with their reason;
blacklist and VIP customers get their own batches; the top N active customers by revenue go first,
then the other active ones; dormant customers are deferred; group parents are loaded before their
children (a parent moves into the earliest batch of its children, and inside a batch it sits in an
earlier ``wave``). Every golden record ends in exactly one batch or exclusion.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.engine import catalog
from workbench.engine.connection import registered, table_columns
from workbench.engine.files import atomic_path
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.settings.export import BatchRules

if TYPE_CHECKING:
    import duckdb

    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

ROLE_ORDER = {
    "top_revenue": 1,
    "active": 2,
    "vip": 3,
    "blacklist": 4,
    "other": 5,
    "dormant": 90,
    "excluded": 99,
}
LOADABLE_ROLES = ("top_revenue", "active", "vip", "blacklist", "other")
PLAN_COLUMNS = ["master_id", "batch", "batch_order", "wave", "reason"]


class BatchPlanError(WorkbenchError):
    """The batch plan cannot be built, or does not hold every golden record exactly once."""


@dataclass
class BatchPlanResult:
    """What :func:`build_batch_plan` wrote."""

    plan: pd.DataFrame
    summary: pd.DataFrame
    as_of: dt.date | None
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.plan["batch"].value_counts().sort_index().items()}

    def metrics(self) -> dict[str, Any]:
        """Figures the stage records: masters, customers per batch, loaded / deferred / excluded."""
        held = self.plan["batch_order"] >= ROLE_ORDER["dormant"]
        return {
            "masters": len(self.plan),
            "batches": self.counts,
            "to_load": int((~held).sum()),
            "deferred": int((self.plan["batch_order"] == ROLE_ORDER["dormant"]).sum()),
            "excluded": int((self.plan["batch_order"] == ROLE_ORDER["excluded"]).sum()),
            "waves": int(self.plan["wave"].max()) if len(self.plan) else 0,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "notes": self.notes,
        }


def plan_batches(golden: pd.DataFrame, rules: BatchRules, as_of: dt.date | None = None) -> BatchPlanResult:
    """Assign every golden record to one batch (pure function on a DataFrame).

    Args:
        golden: ``golden_customers`` rows; needs ``master_id``; uses ``flags``, ``is_test``,
            ``record_status``, ``parent_master_id`` and the columns named in `rules` when present.
        rules: the batch rules from config.
        as_of: the reference date for activity; default the newest activity date in `golden`.

    Returns:
        The plan (one row per master, ordered by batch_order, wave, master_id) and a summary.

    Raises:
        BatchPlanError: a master_id is missing or duplicated.
    """
    _check_master_ids(golden)
    df = golden.sort_values("master_id", kind="mergesort").reset_index(drop=True)
    n = len(df)
    roles = _Roles(df)
    roles.exclude(rules)
    roles.flag_batches(rules)
    as_of = roles.activity(rules, as_of)
    role, reason, notes = roles.role, roles.reason, roles.notes
    order = role.map(ROLE_ORDER).astype(int)
    parents = df["parent_master_id"] if "parent_master_id" in df.columns else pd.Series([None] * n)
    parents = parents.where(parents.isin(set(df["master_id"])), None)
    if rules.parent_before_children:
        role, order, reason = _pull_parents_forward(df["master_id"], parents, role, order, reason, notes)
    wave = _waves(df["master_id"], parents, order, notes)
    names = rules.names.model_dump()
    plan = pd.DataFrame(
        {
            "master_id": df["master_id"].astype(str),
            "batch": role.map(names),
            "batch_order": order.astype("int64"),
            "wave": wave.astype("int64"),
            "reason": reason.astype(str),
        }
    ).sort_values(["batch_order", "wave", "master_id"], kind="mergesort", ignore_index=True)
    if len(plan) != n or plan["master_id"].duplicated().any():
        raise BatchPlanError("internal error: the batch plan does not hold every master exactly once")
    return BatchPlanResult(plan=plan, summary=summarize_plan(plan), as_of=as_of, notes=notes)


def _check_master_ids(golden: pd.DataFrame) -> None:
    golden_table = catalog.GOLDEN_CUSTOMERS
    if "master_id" not in golden.columns:
        raise BatchPlanError(f"{golden_table} has no master_id column; run the golden stage first")
    ids = golden["master_id"]
    if ids.isna().any():
        raise BatchPlanError(f"{golden_table} has {int(ids.isna().sum())} row(s) without master_id")
    dups = ids[ids.duplicated()].unique().tolist()
    if dups:
        raise BatchPlanError(f"{golden_table} holds master_id(s) more than once: {dups[:10]}")


class _Roles:
    """The role and reason of every record, assigned rule by rule (a record keeps its first role).

    Rules whose column is missing from the records are skipped with a note.
    """

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.role = pd.Series([None] * len(df), dtype=object)
        self.reason = pd.Series([""] * len(df), dtype=object)
        self.notes: list[str] = []

    def column(self, name: str | None) -> pd.Series | None:
        """The records' column `name`; None (with a note when it is named but missing) otherwise."""
        if not name:
            return None
        if name not in self.df.columns:
            self.notes.append(f"column {name!r} is not in {catalog.GOLDEN_CUSTOMERS}; its rule is skipped")
            return None
        return self.df[name]

    def assign(self, hit: pd.Series, role: str, reason: pd.Series | str) -> None:
        """Give the records in `hit` the role and the reason (a text, or the reasons of those rows)."""
        self.role[hit] = role
        self.reason[hit] = reason if isinstance(reason, str) else reason[hit]

    def exclude(self, rules: BatchRules) -> None:
        """Excluded, each with its reasons: the golden flags, test records, excluded statuses."""
        tokens: list[list[str]] = [[] for _ in range(len(self.df))]
        flags = self.column("flags") if rules.exclude_flagged else None
        if flags is not None:
            for i, f in enumerate(flags):
                if isinstance(f, str) and f.strip():
                    tokens[i] += [t.strip() for t in f.split(";") if t.strip()]
        is_test = self.column("is_test") if rules.exclude_test else None
        if is_test is not None:
            for i in np.flatnonzero(is_test.fillna(False).astype(bool).to_numpy()):
                tokens[i].append("test")
        status = self.column("record_status") if rules.exclude_statuses else None
        if status is not None:
            for i in np.flatnonzero(status.isin(rules.exclude_statuses).to_numpy()):
                tokens[i].append(str(status.iloc[i]))
        why = pd.Series(["; ".join(dict.fromkeys(t)) for t in tokens], dtype=object)
        self.assign(why != "", "excluded", why)

    def flag_batches(self, rules: BatchRules) -> None:
        """Blacklist and VIP customers: their own batches."""
        for name, column in (("blacklist", rules.blacklist_column), ("vip", rules.vip_column)):
            values = self.column(column)
            if values is None:
                continue
            self.assign(self.role.isna() & values.fillna(False).astype(bool), name, f"{column} = true")

    def activity(self, rules: BatchRules, as_of: dt.date | None) -> dt.date | None:
        """Active (the top N by revenue first), dormant, other; returns the reference date used."""
        index = self.df.index
        dates = self.column(rules.activity_date_column)
        last = pd.to_datetime(dates, errors="coerce") if dates is not None else pd.Series(pd.NaT, index=index)
        if as_of is None and last.notna().any():
            as_of = last.max().date()
        if as_of is None:
            self.notes.append("no activity dates and no project.as_of_date: activity rules are skipped")
            active = pd.Series(False, index=index)
            dormant = pd.Series(False, index=index)
        else:
            ts = pd.Timestamp(as_of)
            active = last >= ts - pd.DateOffset(months=rules.active_months)
            dormant = last < ts - pd.DateOffset(months=rules.dormant_months)
        self.top_revenue(rules, active)
        last_txt = last.dt.strftime("%Y-%m-%d").fillna("")
        self.assign(
            self.role.isna() & active,
            "active",
            "last activity " + last_txt + f" within {rules.active_months} months",
        )
        self.assign(
            self.role.isna() & dormant,
            "dormant",
            "last activity " + last_txt + f" over {rules.dormant_months} months ago",
        )
        never = self.role.isna() & last.isna()
        self.assign(never, "dormant" if rules.no_activity == "dormant" else "other", "no activity recorded")
        self.assign(self.role.isna(), "other", "last activity " + last_txt + " (neither active nor dormant)")
        return as_of

    def top_revenue(self, rules: BatchRules, active: pd.Series) -> None:
        """The N active customers with the most revenue (ties by master_id)."""
        revenue = self.column(rules.revenue_column)
        cand = self.role.isna() & active
        if not rules.top_revenue_n or not cand.any():
            return
        index = self.df.index
        rev = (
            pd.to_numeric(revenue, errors="coerce").fillna(0.0)
            if revenue is not None
            else pd.Series(0.0, index=index)
        )
        ranked = (
            pd.DataFrame({"rev": rev[cand], "mid": self.df.loc[cand, "master_id"]})
            .sort_values(["rev", "mid"], ascending=[False, True], kind="mergesort")
            .head(rules.top_revenue_n)
        )
        top = pd.Series(False, index=index)
        top[ranked.index] = True
        rank = pd.Series(range(1, len(ranked) + 1), index=ranked.index)
        self.role[top] = "top_revenue"
        self.reason[top] = (
            "rank " + rank.astype(str) + f" of top {rules.top_revenue_n} by {rules.revenue_column}"
        )


def summarize_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """Customers per batch and wave, in load order."""
    out = (
        plan.groupby(["batch_order", "batch", "wave"], as_index=False)
        .agg(customers=("master_id", "size"))
        .sort_values(["batch_order", "wave"], ignore_index=True)
    )
    return out


def build_batch_plan(ctx: RunContext, *, as_of: dt.date | None = None) -> BatchPlanResult:
    """Build the batch plan of a run from ``golden_customers`` and write ``batch_plan``.

    Also writes ``tables/batch_plan.csv`` (UTF-8 with BOM) in the run folder.

    Args:
        ctx: the :class:`~workbench.project.context.RunContext`.
        as_of: reference date; default ``project.as_of_date``, else the newest activity date.
    """
    rules = ctx.config.export.batches
    as_of = as_of or ctx.config.project.as_of_date
    con = ctx.connect()
    try:
        golden = read_golden_for_plan(con, rules)
        result = plan_batches(golden, rules, as_of)
        write_batch_plan(con, result.plan)
    finally:
        con.close()
    with atomic_path(ctx.paths.tables / "batch_plan.csv") as tmp:
        result.plan.to_csv(tmp, index=False, encoding="utf-8-sig")
    for note in result.notes:
        log.warning("batch plan: %s", note)
    return result


def read_golden_for_plan(con: duckdb.DuckDBPyConnection, rules: BatchRules) -> pd.DataFrame:
    """The columns of ``golden_customers`` that the batch rules use (those that exist)."""
    cols = table_columns(con, catalog.GOLDEN_CUSTOMERS.name)
    wanted = [
        "master_id",
        "flags",
        "is_test",
        "record_status",
        "parent_master_id",
        rules.revenue_column,
        rules.activity_date_column,
        rules.blacklist_column,
        rules.vip_column,
    ]
    present = [c for c in dict.fromkeys(w for w in wanted if w) if c in cols]
    sql = f"select {', '.join(ident(c) for c in present)} from {catalog.GOLDEN_CUSTOMERS} order by master_id"
    return con.sql(sql).df()


def write_batch_plan(con: duckdb.DuckDBPyConnection, plan: pd.DataFrame) -> None:
    """Replace the ``batch_plan`` table with `plan` (ordered by batch_order, wave, master_id)."""
    with registered(con, catalog.temp("plan"), plan[PLAN_COLUMNS]) as frame:
        con.execute(
            f"create or replace table {catalog.BATCH_PLAN} as select master_id::varchar as master_id, "
            "batch::varchar as batch, batch_order::integer as batch_order, wave::integer as wave, "
            f"reason::varchar as reason from {frame} order by batch_order, wave, master_id"
        )


def _pull_parents_forward(
    ids: pd.Series,
    parents: pd.Series,
    role: pd.Series,
    order: pd.Series,
    reason: pd.Series,
    notes: list[str],
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Move every loadable parent into the earliest batch of its loadable descendants.

    Batch orders only ever decrease, so the loop ends even when parent links form a cycle.
    """
    role, order, reason = role.copy(), order.copy(), reason.copy()
    pos = pd.Series(range(len(ids)), index=ids.values)
    loadable = role.isin(LOADABLE_ROLES) | (role == "dormant")
    for _ in range(len(ids) + 1):
        child = pd.DataFrame(
            {"parent": parents, "order": order, "child": ids, "ok": role.isin(LOADABLE_ROLES)}
        )
        child = child[child["parent"].notna() & child["ok"]]
        if child.empty:
            break
        best = child.sort_values(["order", "child"], kind="mergesort").drop_duplicates("parent")
        idx = pos[best["parent"].values].values
        later = (order.values[idx] > best["order"].values) & loadable.values[idx]
        if not later.any():
            break
        for i, new_order, kid in zip(
            idx[later], best["order"].values[later], best["child"].values[later], strict=True
        ):
            new_role = next(r for r, o in ROLE_ORDER.items() if o == new_order)
            reason[i] = f"{reason[i]}; moved to {new_role} as group parent of {kid}"
            role[i] = new_role
            order[i] = new_order
    excl = pd.Series(parents).map(dict(zip(ids, role, strict=True)))
    hit = parents.notna() & role.isin(LOADABLE_ROLES) & ~excl.isin(LOADABLE_ROLES)
    reason[hit] = reason[hit] + "; group parent " + parents[hit].astype(str) + " is not loaded"
    return role, order, reason


def _waves(ids: pd.Series, parents: pd.Series, order: pd.Series, notes: list[str]) -> pd.Series:
    """1 for records without a parent in the same batch; parent's wave + 1 otherwise."""
    order_of = dict(zip(ids, order, strict=True))
    same = parents.notna() & (parents.map(order_of) == order)
    wave = pd.Series(1, index=ids.index)
    for _ in range(len(ids) + 1):
        wave_of = dict(zip(ids, wave, strict=True))
        new = wave.where(~same, parents.map(wave_of).fillna(0).astype(int) + 1)
        if new.equals(wave):
            return wave
        if new.max() > len(ids):
            notes.append("parent links form a cycle; waves of the records in it are capped")
            return new.clip(upper=len(ids))
        wave = new
    return wave
