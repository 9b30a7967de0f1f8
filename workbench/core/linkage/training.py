"""Training the Splink model: prior from deterministic matches, u by sampling, m by EM passes.

- The prior (``probability_two_random_records_match``) is seeded from the pairs the deterministic
  rules find, scaled by their believed recall; when they find nothing, from conjunctions of the
  most selective blocking keys (pairs that agree on two strong keys are nearly all matches). After
  scoring it is re-estimated from the scored pairs (:mod:`workbench.core.linkage.thresholds`).
- u is estimated by seeded random sampling, on a sample that grows with the records (bounded, see
  :func:`u_sample_size`).
- m is estimated by expectation maximisation over several passes, each blocked on other fields,
  so every comparison is estimated in at least one pass; a pass is only blocked on a column that
  two sources have (pairs agreeing on a column only one source has are that source's internal
  copies, a biased sample of the matches). Review labels of the training half add one more
  estimate of m (Splink takes the median over the estimates).
- A level left without an estimate gets a justified one (:func:`neutral_untrained`): no m → the
  level's u (no evidence either way); no u (never seen in the random sample) → half a pair in
  the sample. Every such level is reported.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core.linkage.blocking import BlockingChoice, rule_sql
from workbench.project.settings.match import TrainingSettings

log = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    """What training did (recorded in the metrics)."""

    prior: float = 0.0
    prior_rules: list[str] = field(default_factory=list)
    prior_source: str = ""
    em_rules: list[str] = field(default_factory=list)
    em_failed: list[str] = field(default_factory=list)
    untrained: list[str] = field(default_factory=list)
    clamped: list[str] = field(default_factory=list)
    neutral: list[str] = field(default_factory=list)
    floored: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    u_pairs: float = 0.0
    label_pairs: int = 0
    prior_first: float = 0.0
    prior_iterations: int = 0

    def as_metrics(self) -> dict[str, Any]:
        """The report as flat metrics (``prior_probability``, ``em_blocking_rules`` …)."""
        return {
            "prior_probability": self.prior,
            "prior_source": self.prior_source,
            "prior_rules": self.prior_rules,
            "em_blocking_rules": self.em_rules,
            "em_failed_rules": self.em_failed,
            "prior_first_estimate": self.prior_first,
            "prior_estimate_iterations": self.prior_iterations,
            "untrained_levels": len(self.untrained),
            "untrained_level_names": self.untrained,
            "levels_given_neutral_estimates": self.neutral,
            "levels_with_m_raised_to_floor": self.floored,
            "bounded_level_weights": len(self.clamped),
            "u_sample_pairs": self.u_pairs,
            "labels_training_m": self.label_pairs,
            **{f"seconds_training_{k}": round(v, 3) for k, v in self.seconds.items()},
        }


# which kinds make good EM blocking rules, best first: pairs that share a name or a phone number are
# a good mix of matches and near misses; pairs that share a postcode or a city are nearly all
# non-matches, on which EM tends to collapse rare levels to m = 0
EM_KIND_ORDER = (
    "company_name",
    "customer_name",
    "person_name",
    "phone",
    "email",
    "tax_id",
    "id",
    "address",
    "date",
    "postcode",
    "district",
    "city",
    "province",
    "country",
)
MIN_EM_PAIRS = 20


def em_candidates(
    choices: list[BlockingChoice], usable: Callable[[BlockingChoice], bool] | None = None
) -> list[BlockingChoice]:
    """Single-key blocking rules to train EM on, best first.

    Each field offers only its most specific key (exact name core, exact number …): pairs that share
    it are mostly duplicates plus some near misses, the mix EM needs to find the duplicates as its
    "match" class. Coarser keys (a name prefix, a postcode) give blocks of mostly non-matches,
    where EM tends to settle on another grouping (companies of one brand, one street) instead.
    Fields are ordered by kind (names, phones, e-mail first), then by pair count.
    """
    order = {k: i for i, k in enumerate(EM_KIND_ORDER)}
    first: dict[str, BlockingChoice] = {}
    for c in choices:  # in key order: each field's most specific key comes first
        if len(c.keys) == 1 and c.keys[0].right is None:
            first.setdefault(c.keys[0].field, c)
    singles = [
        c for c in first.values() if c.chosen and c.pairs >= MIN_EM_PAIRS and (usable is None or usable(c))
    ]
    return sorted(singles, key=lambda c: (order.get(c.keys[0].kind, len(order)), -c.pairs, c.name))


def choose_em_rules(choices: list[BlockingChoice], passes: int) -> list[str]:
    """The EM blocking rules, each pass on fields no other pass used (see :func:`em_candidates`)."""
    picked: list[str] = []
    used: set[str] = set()
    for c in em_candidates(choices):
        if len(picked) >= passes:
            break
        if c.fields & used:
            continue
        picked.append(c.rule)
        used |= c.fields
    return picked


def choose_prior_rules(choices: list[BlockingChoice], *, top: int = 4) -> list[str]:
    """Conjunctions of two of the most selective single-key rules on different fields."""
    singles = sorted(
        (c for c in choices if c.chosen and len(c.keys) == 1 and c.keys[0].right is None),
        key=lambda c: (c.pairs, c.name),
    )
    strongest: list[BlockingChoice] = []
    for c in singles:
        if all(c.fields.isdisjoint(s.fields) for s in strongest):
            strongest.append(c)
        if len(strongest) >= top:
            break
    return [rule_sql(a.keys + b.keys) for a, b in itertools.combinations(strongest, 2)]


MAX_EM_FAILURES = 6


def u_sample_size(settings: TrainingSettings, records: int) -> float:
    """Pairs sampled for u: ``u_pairs_per_record`` per record within ``u_min_pairs`` … ``u_cap_pairs``.

    The sample grows linearly with the records, i.e. with the square root of the pair space, so a
    rare agreement is seen about as often per record at 1M records as at 100k; it never exceeds the
    number of all pairs, and ``u_max_pairs`` (when set) replaces the rule.
    """
    if settings.u_max_pairs:
        return float(settings.u_max_pairs)
    all_pairs = records * (records - 1) / 2
    wanted = min(max(settings.u_pairs_per_record * records, settings.u_min_pairs), settings.u_cap_pairs)
    return float(max(1.0, min(wanted, all_pairs)))


EM_ITERATION_RETRIES = (None, 8, 3)  # full run, then shorter runs that stop before a level collapses


# --------------------------------------------------------------------------------------------
# Splink internals: the one place that reaches into a linker's private state


def _live_settings(linker: Any) -> Any:
    """The linker's current model and training settings (Splink's private ``Settings`` object).

    Why private: Splink 5 has no public API to read or change a linker's parameters *between*
    training steps, which training needs three times: bounding the level weights before each EM
    pass, restoring the model when an EM pass fails half-way (Splink edits it in place), and running
    a pass with fewer iterations. ``linker.misc.save_model_to_json`` and a new ``Linker`` would do it
    publicly, but would lose the training state Splink keeps between passes.
    """
    return linker._settings_obj


def _stored_m_u(level: Any) -> tuple[Any, Any, bool]:
    """A comparison level's stored m and u (None or a marker when not estimated) and whether m is fixed.

    The public ``m_probability`` / ``u_probability`` substitute defaults for values never estimated;
    bounding must see the stored values, so it reads the private attributes (see :func:`_live_settings`).
    """
    return level._m_probability, level._u_probability, bool(level._fix_m_probability)


# --------------------------------------------------------------------------------------------
# bounded weights


def bounded_parameter(m: float, u: float, limit: float) -> tuple[str, float, float, float] | None:
    """The change that keeps a level's weight log2(m/u) within ±`limit` bits, or None when it is.

    A positive weight is bounded by raising u when m alone cannot be lowered far enough (u would
    exceed 1 otherwise), every other weight by moving m.

    Returns:
        ``(parameter, new value, old weight, bound)`` with parameter ``m_probability`` or
        ``u_probability``.
    """
    weight = math.log2(m / u)
    if abs(weight) <= limit:
        return None
    bound = math.copysign(limit, weight)
    if bound > 0 and u * 2**bound > 1:
        return "u_probability", m / 2**bound, weight, bound
    return "m_probability", u * 2**bound, weight, bound


def bound_weights_in_place(linker: Any, limit: float) -> int:
    """Bound the linker's current level weights to ±`limit` bits (see :func:`clamp_weights`).

    Run before and between EM passes: a weight of -175 bits left by one pass makes the next pass's
    pair probabilities underflow, and EM then collapses other levels to m = 0 within an iteration.

    Returns:
        How many levels were changed.
    """
    changed = 0
    for comparison in _live_settings(linker).core_model_settings.comparisons:
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            m, u, fixed = _stored_m_u(level)
            if fixed or not isinstance(m, float) or not isinstance(u, float) or m <= 0 or u <= 0:
                continue
            change = bounded_parameter(m, u, limit)
            if change is not None:
                setattr(level, change[0], change[1])
                changed += 1
    return changed


def _em_pass(
    linker: Any,
    rule: str,
    pairs: int | None,
    cap: float | None,
    report: TrainingReport,
    with_tf: bool = False,
) -> bool:
    """One EM pass; False (model unchanged, failure recorded) when every attempt collapsed a level.

    EM on pairs where some level (almost) never occurs among the matches drives its m to exactly 0
    within a few iterations, which Splink 5 refuses (it raises). The pass is then retried with fewer
    iterations (the estimates are kept short of the collapse, and weights are bounded afterwards).
    """
    if cap is not None and pairs is not None and pairs <= cap:
        cap = None  # small enough to use every pair (sampling would only lose information)
    settings = _live_settings(linker)
    training_settings = settings.training_settings
    error: Exception | None = None
    for iterations in EM_ITERATION_RETRIES:
        # Splink's EM session edits the linker's model in place before it trains (it drops the
        # comparisons used by the blocking rule); keep a copy to restore if the pass fails
        saved = settings.core_model_settings.copy()
        if iterations is not None:
            settings.training_settings = dataclasses.replace(training_settings, max_iterations=iterations)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                {"blocking_rule": rule, "sql_dialect": "duckdb"},
                max_pairs=cap,
                estimate_without_term_frequencies=not with_tf,
            )
            return True
        except ValueError as exc:
            settings.core_model_settings = saved
            error = exc
        finally:
            settings.training_settings = training_settings
    log.warning("EM pass blocked on %s failed and was skipped: %s", rule, error)
    report.em_failed.append(rule)
    return False


# --------------------------------------------------------------------------------------------
# training


def _estimate_prior(
    linker: Any,
    report: TrainingReport,
    *,
    choices: list[BlockingChoice],
    deterministic_rules: list[str],
    deterministic_pairs: int,
    settings: TrainingSettings,
) -> None:
    """The prior from the deterministic rules when they found pairs, else from selective keys."""
    if deterministic_rules and deterministic_pairs > 0:
        report.prior_rules, report.prior_source = list(deterministic_rules), "deterministic rules"
    else:
        report.prior_rules = list(settings.prior_rules or choose_prior_rules(choices))
        report.prior_source = "selective blocking keys"
    if not report.prior_rules:
        report.prior_source = "default"
        return
    try:
        linker.training.estimate_probability_two_random_records_match(
            report.prior_rules, recall=settings.prior_recall
        )
    except ValueError as exc:  # the rules found more than the recall allows
        log.warning("prior not estimated from rules (%s); using Splink's default", exc)
        report.prior_source = "default"


def _estimate_m(
    linker: Any,
    report: TrainingReport,
    *,
    choices: list[BlockingChoice],
    settings: TrainingSettings,
    usable: Callable[[BlockingChoice], bool] | None = None,
    coverage: Coverage | None = None,
) -> None:
    """EM passes on the configured rules, or on the best candidates, each on fields no other pass used;
    then passes for comparisons still untrained (see :func:`_cover_untrained`)."""
    sizes = {c.rule: c.pairs for c in choices}
    candidates: list[tuple[str, set[str]]]
    if settings.em_blocking_rules:
        candidates = [(rule, set()) for rule in settings.em_blocking_rules]
        wanted = len(candidates)
    else:
        candidates = [(c.rule, c.fields) for c in em_candidates(choices, usable)]
        wanted = settings.em_passes
    used: set[str] = set()
    for rule, fields in candidates:
        if len(report.em_rules) >= wanted or len(report.em_failed) >= MAX_EM_FAILURES:
            break
        if fields & used:
            continue
        bound_weights_in_place(linker, settings.max_level_weight)
        if _em_pass(
            linker, rule, sizes.get(rule), settings.em_max_pairs, report, settings.em_with_term_frequencies
        ):
            report.em_rules.append(rule)
            used |= fields
    if coverage is not None and not settings.em_blocking_rules:
        _cover_untrained(linker, report, choices=choices, settings=settings, coverage=coverage, used=used)
    if not report.em_rules:
        log.warning("no EM pass succeeded: the m probabilities keep Splink's starting values")


MAX_EXTRA_EM_PASSES = 3


@dataclass(frozen=True)
class Coverage:
    """Where the data of each comparison and of each blocking key lives (sources), for EM's coverage.

    Attributes:
        comparisons: comparison (output column) name → the sources whose records have its field.
        key_sources: blocking key name → the sources whose records have the key.
    """

    comparisons: dict[str, set[str]]
    key_sources: dict[str, set[str]]


def untrained_comparisons(model: dict[str, Any]) -> list[str]:
    """Comparisons none of whose (free) levels has an m yet."""
    out = []
    for comparison in model.get("comparisons", []):
        levels = [
            lv
            for lv in comparison.get("comparison_levels", [])
            if not lv.get("is_null_level") and not lv.get("fix_m_probability")
        ]
        if levels and all(lv.get("m_probability") is None for lv in levels):
            out.append(str(comparison.get("output_column_name")))
    return out


def _cover_untrained(
    linker: Any,
    report: TrainingReport,
    *,
    choices: list[BlockingChoice],
    settings: TrainingSettings,
    coverage: Coverage,
    used: set[str],
) -> None:
    """More EM passes, blocked on keys of the sources where comparisons are still untrained.

    A field only one source has (the names and birth dates of a member list) is compared only
    inside that source; the passes blocked on columns two sources share never see its pairs.
    A pass blocked on a key of that source trains it (its other comparisons learn from that
    source's internal copies, one estimate among several: Splink takes the median).
    """
    sizes = {c.rule: c.pairs for c in choices}
    for _ in range(MAX_EXTRA_EM_PASSES):
        missing = untrained_comparisons(linker.misc.save_model_to_json())
        need = set().union(*(coverage.comparisons.get(c, set()) for c in missing)) if missing else set()
        if not need:
            return
        pick = next(
            (
                c
                for c in em_candidates(choices)
                if not c.fields & used
                and c.rule not in report.em_rules
                and c.rule not in report.em_failed
                and coverage.key_sources.get(c.keys[0].name, set()) & need
                and not set(missing) >= c.fields
            ),
            None,
        )
        if pick is None:
            return
        bound_weights_in_place(linker, settings.max_level_weight)
        if _em_pass(
            linker,
            pick.rule,
            sizes.get(pick.rule),
            settings.em_max_pairs,
            report,
            settings.em_with_term_frequencies,
        ):
            report.em_rules.append(pick.rule)
        used |= pick.fields


def train_model(
    linker: Any,
    *,
    choices: list[BlockingChoice],
    deterministic_rules: list[str],
    deterministic_pairs: int,
    settings: TrainingSettings,
    seed: int,
    records: int = 0,
    usable: Callable[[BlockingChoice], bool] | None = None,
    coverage: Coverage | None = None,
    labels_table: str | None = None,
    label_pairs: int = 0,
) -> TrainingReport:
    """Estimate the model's parameters in place.

    Args:
        linker: a Splink ``Linker`` on the records.
        choices: the blocking candidates (see :func:`workbench.core.linkage.blocking.choose_blocking_rules`).
        deterministic_rules: Splink SQL of the deterministic rules.
        deterministic_pairs: how many pairs those rules found (0: seed the prior another way).
        settings: the `match.training` settings.
        seed: seeds the u sampling.
        records: how many records are matched (sizes the u sample, see :func:`u_sample_size`).
        usable: which blocking candidates may block an EM pass (default: all).
        labels_table: a table of labelled matching pairs in Splink's pairwise-labels format
            (``source_dataset_l, unique_id_l, source_dataset_r, unique_id_r``), or None.
        label_pairs: how many pairs it holds (below ``min_training_labels`` it is not used).
    """
    report = TrainingReport()
    clock = time.perf_counter()
    _estimate_prior(
        linker,
        report,
        choices=choices,
        deterministic_rules=deterministic_rules,
        deterministic_pairs=deterministic_pairs,
        settings=settings,
    )
    report.seconds["prior"] = time.perf_counter() - clock
    clock = time.perf_counter()
    u_pairs = u_sample_size(settings, records)
    report.u_pairs = float(u_pairs)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    report.seconds["u"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _estimate_m(linker, report, choices=choices, settings=settings, usable=usable, coverage=coverage)

    if labels_table is not None and label_pairs >= settings.min_training_labels:
        linker.training.estimate_m_from_pairwise_labels(labels_table)
        report.label_pairs = label_pairs
    report.seconds["em"] = time.perf_counter() - clock
    model = linker.misc.save_model_to_json()
    report.prior = report.prior_first = float(model["probability_two_random_records_match"])
    report.untrained = untrained_levels(model)
    if report.untrained:
        log.warning(
            "%d comparison level(s) kept Splink's default m or u (too few pairs to estimate them): %s",
            len(report.untrained),
            "; ".join(report.untrained[:8]) + (" …" if len(report.untrained) > 8 else ""),
        )
    return report


def clamp_weights(model: dict[str, Any], limit: float) -> tuple[dict[str, Any], list[str]]:
    """Keep every level's match weight log2(m/u) within ±`limit` bits (a copy of the model).

    EM drives the m of a level that (almost) never occurs among the matches of its training pairs
    toward 0 (weights of -100 bits and below), and a rare level's u toward 0 the other way: one
    field then vetoes, or decides, a pair whatever the other fields say. Bounding the weights keeps
    every field's evidence in proportion. Fixed levels are left as they are.

    Returns:
        The bounded model and ``comparison: level (old → new weight)`` of every level changed.
    """
    out = copy.deepcopy(model)
    changed: list[str] = []
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or level.get("fix_m_probability") or not m or not u:
                continue
            change = bounded_parameter(m, u, limit)
            if change is None:
                continue
            parameter, value, weight, bound = change
            level[parameter] = value
            changed.append(
                f"{comparison.get('output_column_name')}: {level.get('label_for_charts')} "
                f"({weight:.1f} → {bound:.0f})"
            )
    return out, changed


def untrained_levels(model: dict[str, Any]) -> list[str]:
    """``comparison: level`` of every non-null level whose m or u was not estimated."""
    out = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            if level.get("m_probability") is None or level.get("u_probability") is None:
                out.append(f"{comparison.get('output_column_name')}: {level.get('label_for_charts')}")
    return out


def neutral_untrained(model: dict[str, Any], u_pairs: float) -> tuple[dict[str, Any], list[str]]:
    """Give every level left without an m or u a justified value (a copy of the model).

    - no m (the level never occurred among the pairs EM saw as matches, or EM never trained its
      comparison): m = u, a weight of 0 bits: no evidence either way rather than Splink's default;
    - no u (never seen among the ``u_pairs`` random pairs): u = 0.5 / ``u_pairs``, half a pair of
      the sample (its weight is then bounded by :func:`clamp_weights`);
    - neither: both set equal (weight 0).

    Returns:
        The model and ``comparison: level (what was set)`` of every level changed.
    """
    out = copy.deepcopy(model)
    changed: list[str] = []
    floor = 0.5 / max(u_pairs, 1.0)
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is not None and u is not None:
                continue
            name = f"{comparison.get('output_column_name')}: {level.get('label_for_charts')}"
            if u is None:
                u = floor
                level["u_probability"] = u
            if m is None:
                level["m_probability"] = u
                changed.append(f"{name} (no m: weight 0)")
            else:
                changed.append(f"{name} (no u: u = {u:.2g})")
    return out, changed


def floor_m(model: dict[str, Any], floor: float) -> tuple[dict[str, Any], list[str]]:
    """Raise every trained m below `floor` to it (a copy of the model; each comparison's m sum to 1 again).

    EM trains on pairs that agree on the blocking field, where real duplicates whose address,
    mobile or e-mail changed are rare; it then drives the m of "different" levels toward 0, and a
    moved company loses the match on one field alone (−15 bits). A live customer base changes:
    at least `floor` of the true matches are taken to differ on any one field. Fixed levels keep
    their m.

    Returns:
        The model and ``comparison: level (old m → floor)`` of every level raised.
    """
    out = copy.deepcopy(model)
    changed: list[str] = []
    for comparison in out.get("comparisons", []):
        levels = [lv for lv in comparison.get("comparison_levels", []) if not lv.get("is_null_level")]
        free = [
            lv for lv in levels if not lv.get("fix_m_probability") and lv.get("m_probability") is not None
        ]
        low = [lv for lv in free if lv["m_probability"] < floor]
        if not low:
            continue
        for lv in low:
            changed.append(
                f"{comparison.get('output_column_name')}: {lv.get('label_for_charts')} ({lv['m_probability']:.2g} → {floor})"
            )
            lv["m_probability"] = floor
        rest = [lv for lv in free if lv not in low]
        fixed_sum = sum(
            lv["m_probability"] for lv in levels if lv not in rest and lv.get("m_probability") is not None
        )
        rest_sum = sum(lv["m_probability"] for lv in rest)
        if rest and rest_sum > 0 and fixed_sum < 1:
            scale = (1 - fixed_sum) / rest_sum
            for lv in rest:
                lv["m_probability"] *= scale
    return out, changed
