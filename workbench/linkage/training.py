"""Training the Splink model: prior from deterministic matches, u by sampling, m by EM passes.

- The prior (``probability_two_random_records_match``) is seeded from the pairs the deterministic
  rules find, scaled by their believed recall; when they find nothing, from conjunctions of the
  most selective blocking keys (pairs that agree on two strong keys are nearly all matches).
- u is estimated by seeded random sampling.
- m is estimated by expectation maximisation over several passes, each blocked on other fields,
  so every comparison is estimated in at least one pass.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from workbench.linkage.blocking import BlockingChoice, rule_sql
from workbench.settings.match import TrainingSettings

log = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    """What training did (recorded in the metrics)."""

    prior: float = 0.0
    prior_rules: list[str] = field(default_factory=list)
    prior_source: str = ""
    em_rules: list[str] = field(default_factory=list)

    def as_metrics(self) -> dict[str, Any]:
        return {
            "prior_probability": self.prior,
            "prior_source": self.prior_source,
            "prior_rules": self.prior_rules,
            "em_blocking_rules": self.em_rules,
        }


def choose_em_rules(choices: list[BlockingChoice], passes: int) -> list[str]:
    """EM blocking rules from the chosen blocking rules, each pass on fields no other pass used.

    Rules on one field come first (ordered by pair count, largest first: more pairs, better
    estimates); a rule is taken only if it shares no field with a rule already taken.
    """
    chosen = [c for c in choices if c.chosen]
    ordered = sorted(chosen, key=lambda c: (len(c.keys) > 1, -c.pairs, c.name))
    picked: list[BlockingChoice] = []
    used: set[str] = set()
    for c in ordered:
        if len(picked) >= passes:
            break
        if c.fields & used:
            continue
        picked.append(c)
        used |= c.fields
    return [c.rule for c in picked]


def choose_prior_rules(choices: list[BlockingChoice], *, top: int = 4) -> list[str]:
    """Conjunctions of two of the most selective single-key rules on different fields."""
    singles = sorted(
        (c for c in choices if c.chosen and len(c.keys) == 1), key=lambda c: (c.pairs, c.name)
    )
    strongest: list[BlockingChoice] = []
    for c in singles:
        if all(c.fields.isdisjoint(s.fields) for s in strongest):
            strongest.append(c)
        if len(strongest) >= top:
            break
    return [rule_sql(a.keys + b.keys) for a, b in itertools.combinations(strongest, 2)]


def train_model(
    linker: Any,
    *,
    choices: list[BlockingChoice],
    deterministic_rules: list[str],
    deterministic_pairs: int,
    settings: TrainingSettings,
    seed: int,
) -> TrainingReport:
    """Estimate the model's parameters in place.

    Args:
        linker: a Splink ``Linker`` on the records.
        choices: the blocking candidates (see :func:`workbench.linkage.blocking.choose_blocking_rules`).
        deterministic_rules: Splink SQL of the deterministic rules.
        deterministic_pairs: how many pairs those rules found (0: seed the prior another way).
        settings: the `match.training` settings.
        seed: seeds the u sampling.
    """
    report = TrainingReport()
    if deterministic_rules and deterministic_pairs > 0:
        report.prior_rules, report.prior_source = list(deterministic_rules), "deterministic rules"
    else:
        report.prior_rules = list(settings.prior_rules or choose_prior_rules(choices))
        report.prior_source = "selective blocking keys"
    if report.prior_rules:
        try:
            linker.training.estimate_probability_two_random_records_match(
                report.prior_rules, recall=settings.prior_recall
            )
        except ValueError as exc:  # the rules found more than the recall allows
            log.warning("prior not estimated from rules (%s); using Splink's default", exc)
            report.prior_source = "default"
    else:
        report.prior_source = "default"
    linker.training.estimate_u_using_random_sampling(max_pairs=settings.u_max_pairs, seed=seed)
    report.em_rules = list(settings.em_blocking_rules or choose_em_rules(choices, settings.em_passes))
    for rule in report.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            {"blocking_rule": rule, "sql_dialect": "duckdb"},
            max_pairs=settings.em_max_pairs,
        )
    report.prior = float(linker._settings_obj._probability_two_random_records_match)
    return report
