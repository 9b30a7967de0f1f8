"""The explain view of one master record: its members, why each golden value won, why they matched.

This module owns no table; it reads ``golden_customers``, ``golden_provenance``, ``crosswalk``,
``std_customers`` and ``match_pairs`` and returns a :class:`MasterExplanation`: plain data frames.
The HTML view of it (for the notebook and reports) is
:mod:`workbench.presentation.reports.master_explanation`.

Match evidence: the pairs among the members from ``match_pairs`` with probability, weight and
reason (a deterministic rule, ``model`` or ``review:<label>``). When the match stage kept Splink's
intermediate columns (``gamma_<comparison>``, ``bf_<comparison>``), each model pair is also broken
down per comparison into a waterfall table: the comparison level, its Bayes factor, its match weight
(log2 of the Bayes factor) and the running total.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.core.golden.survivorship import plan_fields
from workbench.engine.catalog import (
    CROSSWALK,
    GOLDEN_CUSTOMERS,
    GOLDEN_PROVENANCE,
    MATCH_PAIRS,
    STD_CUSTOMERS,
)
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

PAIR_COLUMNS = (
    "record_key_l",
    "record_key_r",
    "match_probability",
    "match_weight",
    "match_reason",
    "decision",
)
WATERFALL_COLUMNS = (
    "record_key_l",
    "record_key_r",
    "comparison",
    "gamma",
    "bayes_factor",
    "match_weight",
    "cumulative_weight",
)


class UnknownMasterError(WorkbenchError):
    """The master_id is not in golden_customers."""


@dataclass
class MasterExplanation:
    """Everything that explains one golden record.

    Attributes:
        master_id: the master record.
        golden: its golden_customers row (column → value).
        members: one row per member record: record_key, source, source_id, match_probability,
            match_reason, then the standardized value of every golden field.
        fields: one row per golden field with a value: field, value, record_key, source, rule
            (and ``rules``, the configured chain, when a config was given).
        evidence: the scored pairs among the members (match_pairs rows).
        waterfall: per pair and comparison: gamma, bayes_factor, match_weight, cumulative_weight
            (empty when match_pairs carries no per-comparison columns).
        parent_master_id: the group parent, if any.
        children: masters whose parent is this master.
    """

    master_id: str
    golden: dict[str, Any]
    members: pd.DataFrame
    fields: pd.DataFrame
    evidence: pd.DataFrame
    waterfall: pd.DataFrame
    parent_master_id: str | None = None
    children: list[str] = field(default_factory=list)


def explain_master(con: Any, master_id: str, config: Any = None) -> MasterExplanation:
    """Explain one master record.

    Args:
        con: a DuckDB connection to the run's database (after the golden stage).
        master_id: the master to explain.
        config: the project config; adds each field's configured rule chain to ``fields``.

    Returns:
        The explanation.

    Raises:
        WorkbenchError: a table is missing; UnknownMasterError when the master_id does not exist.
    """
    for table in (GOLDEN_CUSTOMERS, GOLDEN_PROVENANCE, CROSSWALK, STD_CUSTOMERS):
        if not table_exists(con, table.name):
            raise WorkbenchError(f"table {table.name!r} is missing; run the {table.written_by} stage first")
    golden = _golden_row(con, master_id)
    row = {k: (None if _missing(v) else v) for k, v in golden.iloc[0].to_dict().items()}
    std_columns = table_columns(con, STD_CUSTOMERS.name)
    fields = _golden_fields(con, master_id, list(golden.columns))
    if config is not None:
        fields["rules"] = fields["field"].map(_configured_rules(config, std_columns))
    evidence = pd.DataFrame(columns=list(PAIR_COLUMNS))
    waterfall = pd.DataFrame(columns=list(WATERFALL_COLUMNS))
    if table_exists(con, MATCH_PAIRS.name):
        evidence = _member_pairs(con, master_id)
        waterfall = build_waterfall(evidence)
        keep = [c for c in PAIR_COLUMNS if c in evidence.columns]
        evidence = evidence[keep + [c for c in evidence.columns if c.startswith("gamma_")]]
    children = [
        r[0]
        for r in con.execute(
            f"SELECT master_id FROM {GOLDEN_CUSTOMERS} WHERE parent_master_id = ? ORDER BY master_id",
            [master_id],
        ).fetchall()
    ]
    return MasterExplanation(
        master_id=master_id,
        golden=row,
        members=_members(con, master_id, fields, set(std_columns)),
        fields=fields,
        evidence=evidence.reset_index(drop=True),
        waterfall=waterfall,
        parent_master_id=row.get("parent_master_id"),
        children=children,
    )


def _golden_row(con: Any, master_id: str) -> pd.DataFrame:
    """The master's golden_customers row; UnknownMasterError naming close IDs when there is none."""
    golden = con.execute(f"SELECT * FROM {GOLDEN_CUSTOMERS} WHERE master_id = ?", [master_id]).df()
    if golden.empty:
        ids = [
            r[0] for r in con.execute(f"SELECT master_id FROM {GOLDEN_CUSTOMERS} ORDER BY master_id").fetchall()
        ]
        close = difflib.get_close_matches(str(master_id), ids, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownMasterError(f"master_id {master_id!r} is not in {GOLDEN_CUSTOMERS}.{hint}")
    return golden


def _golden_fields(con: Any, master_id: str, golden_columns: list[str]) -> pd.DataFrame:
    """The master's provenance rows, in golden_customers column order."""
    fields = con.execute(
        f"SELECT field, value, record_key, source, rule FROM {GOLDEN_PROVENANCE} WHERE master_id = ? "
        "ORDER BY field",
        [master_id],
    ).df()
    order = {c: i for i, c in enumerate(golden_columns)}
    return fields.sort_values(
        "field", key=lambda s: s.map(lambda f: order.get(f, len(order))), kind="mergesort"
    ).reset_index(drop=True)


def _members(con: Any, master_id: str, fields: pd.DataFrame, std_columns: set[str]) -> pd.DataFrame:
    """The member records with their crosswalk columns and the standardized golden fields."""
    shown = [f for f in fields["field"] if f in std_columns and f not in ("record_key", "source_id")]
    extra = "".join(f", s.{ident(f)}" for f in dict.fromkeys(shown))
    members: pd.DataFrame = con.execute(
        "SELECT c.record_key, c.source, c.source_id, c.match_probability, c.match_reason"
        f"{extra} FROM {CROSSWALK} c JOIN {STD_CUSTOMERS} s ON s.record_key = c.record_key "
        "WHERE c.master_id = ? ORDER BY c.record_key",
        [master_id],
    ).df()
    return members


def _member_pairs(con: Any, master_id: str) -> pd.DataFrame:
    """The match_pairs rows between two members of the master."""
    members = f"(SELECT record_key FROM {CROSSWALK} WHERE master_id = ?)"
    pairs: pd.DataFrame = con.execute(
        f"SELECT p.* FROM {MATCH_PAIRS} p WHERE p.record_key_l IN {members} AND p.record_key_r IN {members} "
        "ORDER BY p.record_key_l, p.record_key_r",
        [master_id, master_id],
    ).df()
    return pairs


def build_waterfall(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair and comparison: level (gamma), Bayes factor, match weight and the running total.

    Uses the Splink intermediate columns ``gamma_<name>`` and ``bf_<name>`` (and ``bf_tf_adj_<name>``
    term-frequency adjustments, multiplied in) when ``match_pairs`` has them. The first row of each
    pair is the prior, from the pair's total weight minus the comparisons' weights.
    """
    names = [c[3:] for c in pairs.columns if c.startswith("bf_") and not c.startswith("bf_tf_adj_")]
    if pairs.empty or not names:
        return pd.DataFrame(columns=list(WATERFALL_COLUMNS))
    rows = []
    for rec in pairs.to_dict("records"):
        rows += _pair_waterfall(rec, names)
    return pd.DataFrame(rows, columns=list(WATERFALL_COLUMNS))


def _pair_waterfall(rec: dict[Any, Any], names: list[str]) -> list[list[Any]]:
    """The waterfall rows of one pair (see :func:`build_waterfall`)."""
    steps = []
    for n in names:
        bf: Any = rec.get(f"bf_{n}")
        if _missing(bf):
            continue
        tf: Any = rec.get(f"bf_tf_adj_{n}")
        bf = float(bf) * (1.0 if _missing(tf) else float(tf))
        steps.append((n, rec.get(f"gamma_{n}"), bf, math.log2(bf) if bf > 0 else float("-inf")))
    left, right = rec["record_key_l"], rec["record_key_r"]
    rows: list[list[Any]] = []
    total: Any = rec.get("match_weight")
    running = 0.0
    if not _missing(total):
        prior = float(total) - sum(s[3] for s in steps)
        running = prior
        rows.append([left, right, "prior", None, 2.0**prior, prior, running])
    for n, gamma, bf, w in steps:
        running += w
        rows.append([left, right, n, gamma, bf, w, running])
    return rows


def _configured_rules(config: Any, std_columns: list[str]) -> dict[str, str]:
    """Field → its configured rule chain (``valid_value > source_priority``), as provenance names rules."""
    chains = {p.field: " > ".join(p.rules) for p in plan_fields(config, std_columns)}
    chains.update(
        {
            "last_activity_date": "max",
            "activity_amount_12m": "sum",
            "activity_amount_total": "sum",
            "parent_master_id": "parent_reference",
        }
    )
    return chains


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
