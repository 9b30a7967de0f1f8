"""Deterministic match rules: records that agree on every column of a rule always match.

The rules come from ``match.deterministic_rules``; by default there is one per tax ID field,
``same_<field>``, on the field's *company* IDs only (``<field>__company``: valid, and of a type
that names one legal entity in ``data/tax_id_holders.csv``, such as a USCC or a VAT number; a
branch or subsidiary has its own). A person's ID is never a rule: household members can share one,
so it is evidence in the model (and a cluster guard), not an automatic merge. Standardized values
are NULL when invalid, so a rule only ever fires on valid values.

A group of *n* records that agree on a rule is linked as a star (each record to the group's
smallest ``record_key``): the same clusters as all n·(n−1)/2 pairs, with n−1 edges.
"""

from __future__ import annotations

import logging

from workbench.core.linkage.fields import COMPANY_ID, MatchField, MatchSettingsError, helper
from workbench.engine.catalog import STD_CUSTOMERS
from workbench.engine.sql import ident, literal
from workbench.project.config import Kind, ProjectConfig
from workbench.project.settings.match import DeterministicRule

log = logging.getLogger(__name__)


def default_rules(plans: list[MatchField]) -> list[DeterministicRule]:
    """The default rules for the compared fields (see the module docstring)."""
    return [
        DeterministicRule(name=f"same_{p.field}", columns=[helper(p, COMPANY_ID)])
        for p in plans
        if p.kind == Kind.TAX_ID
    ]


def resolve_rules(
    config: ProjectConfig,
    plans: list[MatchField],
    std_columns: dict[str, str],
    helpers: set[str] | None = None,
) -> list[DeterministicRule]:
    """The configured rules (or the defaults), checked against the std_customers columns (and the
    helper columns the match derives from them, such as ``uscc__company``).

    Raises:
        MatchSettingsError: a rule names a column std_customers does not have, or two rules share a name.
    """
    rules = config.match.deterministic_rules
    rules = default_rules(plans) if rules is None else rules
    names = [r.name for r in rules]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        raise MatchSettingsError(
            f"{config.config_path}: match.deterministic_rules: the name {dup!r} is used twice"
        )
    for rule in rules:
        for column in rule.columns:
            if column not in std_columns and column not in (helpers or set()):
                raise MatchSettingsError(
                    f"{config.config_path}: match.deterministic_rules ({rule.name}): {STD_CUSTOMERS} has no "
                    f"column {column!r}; use a standardized column such as "
                    f"{sorted(c for c in std_columns if not c.endswith(('_raw', '_issue')))[:12]}"
                )
    return rules


def rule_blocking_sql(rule: DeterministicRule) -> str:
    """The rule as a Splink SQL rule (``l.a = r.a AND …``)."""
    return " AND ".join(f"l.{ident(c)} = r.{ident(c)}" for c in rule.columns)


def deterministic_edges_sql(table: str, rules: list[DeterministicRule]) -> str:
    """SQL of the star edges of every rule: ``record_key_l, record_key_r, rule`` (l < r).

    A pair found by several rules is listed under the first rule only.
    """
    if not rules:
        return (
            "SELECT NULL::VARCHAR AS record_key_l, NULL::VARCHAR AS record_key_r, "
            "NULL::VARCHAR AS rule, NULL::INTEGER AS rule_order WHERE false"
        )
    parts = []
    for i, rule in enumerate(rules):
        cols = ", ".join(ident(c) for c in rule.columns)
        present = " AND ".join(f"{ident(c)} IS NOT NULL" for c in rule.columns)
        parts.append(
            f"SELECT min(record_key) OVER (PARTITION BY {cols}) AS record_key_l, record_key AS record_key_r, "
            f"{literal(rule.name)} AS rule, {i} AS rule_order FROM {table} WHERE {present}"
        )
    union = " UNION ALL ".join(parts)
    return (
        f"SELECT record_key_l, record_key_r, arg_min(rule, rule_order) AS rule, min(rule_order) AS rule_order "
        f"FROM ({union}) WHERE record_key_l < record_key_r GROUP BY record_key_l, record_key_r"
    )
