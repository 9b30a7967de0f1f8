"""The explain view of one master record: its members, why each golden value won, why they matched.

This module owns no table; it reads ``golden_customers``, ``golden_provenance``, ``crosswalk``,
``std_customers`` and ``match_pairs`` and returns a :class:`MasterExplanation` that a notebook shows
(it renders itself as HTML) and a report can embed.

Match evidence: the pairs among the members from ``match_pairs`` with probability, weight and
reason (a deterministic rule, ``model`` or ``review:<label>``). When the match stage kept Splink's
intermediate columns (``gamma_<comparison>``, ``bf_<comparison>``), each model pair is also broken
down per comparison into a waterfall table: the comparison level, its Bayes factor, its match weight
(log2 of the Bayes factor) and the running total.
"""

from __future__ import annotations

import difflib
import html
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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

TEXT = {
    "zh": {
        "title": "主记录 {m} 的解释",
        "golden": "黄金记录字段 (值, 来源记录, 规则)",
        "members": "成员记录",
        "evidence": "匹配证据 (成员之间的记录对)",
        "waterfall": "逐项比较 (瀑布)",
        "parent": "上级主记录",
        "children": "下级主记录",
        "none": "无",
    },
    "en": {
        "title": "Explanation of master {m}",
        "golden": "Golden fields (value, source record, rule)",
        "members": "Member records",
        "evidence": "Match evidence (pairs among the members)",
        "waterfall": "Per-comparison evidence (waterfall)",
        "parent": "Parent master",
        "children": "Child masters",
        "none": "none",
    },
}


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
    language: str = "zh"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, language: str | None = None) -> str:
        """The explanation as an HTML fragment (tables escaped by pandas)."""
        t = TEXT.get(language or self.language, TEXT["en"])
        none = t["none"]

        def table(df: pd.DataFrame) -> str:
            return df.to_html(index=False, na_rep="", escape=True, border=0) if not df.empty else none

        parts = [
            f"<h3>{html.escape(t['title'].format(m=self.master_id))}</h3>",
            f"<p>{html.escape(t['parent'])}: {html.escape(self.parent_master_id or none)} · "
            f"{html.escape(t['children'])}: {html.escape(', '.join(self.children) or none)}</p>",
            f"<h4>{html.escape(t['golden'])}</h4>{table(self.fields)}",
            f"<h4>{html.escape(t['members'])}</h4>{table(self.members)}",
            f"<h4>{html.escape(t['evidence'])}</h4>{table(self.evidence)}",
        ]
        if not self.waterfall.empty:
            parts.append(f"<h4>{html.escape(t['waterfall'])}</h4>{table(self.waterfall)}")
        return "\n".join(parts)


def explain_master(
    con: Any, master_id: str, config: Any = None, *, language: str | None = None
) -> MasterExplanation:
    """Explain one master record.

    Args:
        con: a DuckDB connection to the run's database (after the golden stage).
        master_id: the master to explain.
        config: the project config; adds each field's configured rule chain to ``fields``.
        language: ``zh`` or ``en`` for the HTML view; default the config's, else ``zh``.

    Returns:
        The explanation.

    Raises:
        WorkbenchError: a table is missing; UnknownMasterError when the master_id does not exist.
    """
    for table, stage in (
        ("golden_customers", "golden"),
        ("golden_provenance", "golden"),
        ("crosswalk", "match"),
        ("std_customers", "standardize"),
    ):
        if not table_exists(con, table):
            raise WorkbenchError(f"table {table!r} is missing; run the {stage} stage first")
    golden = con.execute("SELECT * FROM golden_customers WHERE master_id = ?", [master_id]).df()
    if golden.empty:
        ids = [
            r[0] for r in con.execute("SELECT master_id FROM golden_customers ORDER BY master_id").fetchall()
        ]
        close = difflib.get_close_matches(str(master_id), ids, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownMasterError(f"master_id {master_id!r} is not in golden_customers.{hint}")
    row = {k: (None if _missing(v) else v) for k, v in golden.iloc[0].to_dict().items()}

    fields = con.execute(
        "SELECT field, value, record_key, source, rule FROM golden_provenance WHERE master_id = ? "
        "ORDER BY field",
        [master_id],
    ).df()
    golden_order = {c: i for i, c in enumerate(golden.columns)}
    fields = fields.sort_values(
        "field", key=lambda s: s.map(lambda f: golden_order.get(f, len(golden_order))), kind="mergesort"
    ).reset_index(drop=True)
    if config is not None:
        fields["rules"] = fields["field"].map(_configured_rules(config, table_columns(con, "std_customers")))

    std_cols = set(table_columns(con, "std_customers"))
    shown = [f for f in fields["field"] if f in std_cols and f not in ("record_key", "source_id")]
    extra = "".join(f", s.{ident(f)}" for f in dict.fromkeys(shown))
    members = con.execute(
        "SELECT c.record_key, c.source, c.source_id, c.match_probability, c.match_reason"
        f"{extra} FROM crosswalk c JOIN std_customers s ON s.record_key = c.record_key "
        "WHERE c.master_id = ? ORDER BY c.record_key",
        [master_id],
    ).df()

    evidence = pd.DataFrame(columns=list(PAIR_COLUMNS))
    waterfall = pd.DataFrame(
        columns=[
            "record_key_l",
            "record_key_r",
            "comparison",
            "gamma",
            "bayes_factor",
            "match_weight",
            "cumulative_weight",
        ]
    )
    if table_exists(con, "match_pairs"):
        evidence = con.execute(
            "SELECT p.* FROM match_pairs p WHERE p.record_key_l IN (SELECT record_key FROM crosswalk "
            "WHERE master_id = ?) AND p.record_key_r IN (SELECT record_key FROM crosswalk WHERE master_id = ?) "
            "ORDER BY p.record_key_l, p.record_key_r",
            [master_id, master_id],
        ).df()
        waterfall = build_waterfall(evidence)
        keep = [c for c in PAIR_COLUMNS if c in evidence.columns]
        evidence = evidence[keep + [c for c in evidence.columns if c.startswith("gamma_")]]

    children = [
        r[0]
        for r in con.execute(
            "SELECT master_id FROM golden_customers WHERE parent_master_id = ? ORDER BY master_id",
            [master_id],
        ).fetchall()
    ]
    lang = (
        language or (getattr(getattr(config, "project", None), "language", None) if config else None) or "zh"
    )
    return MasterExplanation(
        master_id=master_id,
        golden=row,
        members=members,
        fields=fields,
        evidence=evidence.reset_index(drop=True),
        waterfall=waterfall,
        parent_master_id=row.get("parent_master_id"),
        children=children,
        language=lang,
    )


def build_waterfall(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair and comparison: level (gamma), Bayes factor, match weight and the running total.

    Uses the Splink intermediate columns ``gamma_<name>`` and ``bf_<name>`` (and ``bf_tf_adj_<name>``
    term-frequency adjustments, multiplied in) when ``match_pairs`` has them. The first row of each
    pair is the prior, from the pair's total weight minus the comparisons' weights.
    """
    columns = [
        "record_key_l",
        "record_key_r",
        "comparison",
        "gamma",
        "bayes_factor",
        "match_weight",
        "cumulative_weight",
    ]
    names = [c[3:] for c in pairs.columns if c.startswith("bf_") and not c.startswith("bf_tf_adj_")]
    if pairs.empty or not names:
        return pd.DataFrame(columns=columns)
    rows = []
    for rec in pairs.to_dict("records"):
        steps = []
        for n in names:
            bf = rec.get(f"bf_{n}")
            if _missing(bf):
                continue
            tf = rec.get(f"bf_tf_adj_{n}")
            bf = float(bf) * (1.0 if _missing(tf) else float(tf))
            steps.append((n, rec.get(f"gamma_{n}"), bf, math.log2(bf) if bf > 0 else float("-inf")))
        total = rec.get("match_weight")
        prior = None if _missing(total) else float(total) - sum(s[3] for s in steps)
        running = 0.0
        if prior is not None:
            running = prior
            rows.append([rec["record_key_l"], rec["record_key_r"], "prior", None, 2.0**prior, prior, running])
        for n, gamma, bf, w in steps:
            running += w
            rows.append([rec["record_key_l"], rec["record_key_r"], n, gamma, bf, w, running])
    return pd.DataFrame(rows, columns=columns)


def _configured_rules(config: Any, std_columns: list[str]) -> dict[str, str]:
    from workbench.core.golden.survivorship import plan_fields

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
