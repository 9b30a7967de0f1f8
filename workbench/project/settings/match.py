"""Settings of the `match:` section of ``workbench.yaml``.

The match stage builds a Splink model from the kinds of the canonical fields, so a project needs no
hand-written Splink settings. Every key here is optional; each one overrides one part of what is
built automatically. Paths are relative to the config file (resolve them with
``ProjectConfig.resolve``).

Example::

    match:
      match_threshold: auto          # or a probability: pairs at or above are linked
      review_min_probability: 0.5    # [0.5, 0.95) goes to clerical review
      exclude_fields: [created_date]
      deterministic_rules:           # always match; reported by name
        - {name: same_uscc, columns: [uscc]}
        - {name: same_email_mobile_name, columns: [email, mobile_e164, customer_name_core]}
      comparisons:                   # a Splink comparison (JSON form) replaces the generated one
        postcode: {output_column_name: postcode, comparison_levels: [...]}
      blocking_rules: ["l.mobile_e164 = r.mobile_e164"]   # replaces the generated rules
      ground_truth_path: ground_truth.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[a-z][a-z0-9_]{0,39}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeterministicRule(_Strict):
    """Records that agree exactly on every listed column (all present) always match."""

    name: str = Field(pattern=NAME, description="rule name, shown as the match reason")
    columns: list[str] = Field(
        min_length=1, description="std_customers columns that must all be present and equal"
    )


class HardCase(_Strict):
    """A slice of the ground-truth pairs whose accuracy is reported on its own.

    A pair belongs to the slice when the test holds on the ground-truth ``column`` of its records:
    ``differ`` (the two values differ), ``same`` (equal and present), ``contains_any`` (either
    record's value, split on ``;``, holds one of ``values``).
    """

    column: str = Field(description="ground-truth column")
    test: Literal["differ", "same", "contains_any"] = Field(description="differ | same | contains_any")
    values: list[str] = Field(default_factory=list, description="for contains_any: the values to look for")
    label: str = Field("", description="a longer name for reports")


def _default_hard_cases() -> dict[str, HardCase]:
    return {
        "cross_script": HardCase(
            column="script", test="differ", label="same customer in different scripts or by short name"
        ),
        "changed_contact": HardCase(
            column="defects",
            test="contains_any",
            values=["address_changed", "mobile_changed", "phone_changed", "email_changed"],
            label="duplicate whose address or mobile changed",
        ),
        "group_members": HardCase(
            column="group_id",
            test="same",
            label="branches, subsidiaries and sisters of one group (must not merge)",
        ),
    }


class TrainingSettings(_Strict):
    """How the model's parameters are estimated."""

    u_max_pairs: float | None = Field(
        None,
        gt=0,
        description=(
            "record pairs sampled at random to estimate u; default: u_pairs_per_record per record, "
            "between u_min_pairs and u_cap_pairs, never more than all pairs"
        ),
    )
    u_pairs_per_record: float = Field(
        20, gt=0, description="the u sample grows with the records (≈ the square root of the pair space)"
    )
    u_min_pairs: float = Field(
        2e6, gt=0, description="at least this many pairs for u (rare agreements need many pairs to be seen)"
    )
    u_cap_pairs: float = Field(3e7, gt=0, description="at most this many pairs for u (time bound)")
    min_m: float = Field(
        0.005,
        ge=0,
        lt=0.5,
        description=(
            "floor on every trained m: at least this share of true matches is taken to differ on any "
            "one field (customers move and change numbers; EM drives such m toward 0)"
        ),
    )
    prior_from_data: bool = Field(
        True,
        description=(
            "re-estimate the prior from the scored pairs (EM fixed point, see "
            "workbench.core.linkage.thresholds); false: keep the first estimate from the rules"
        ),
    )
    min_training_labels: int = Field(
        20,
        ge=1,
        description="match labels (of the training half) needed before they also train the m probabilities",
    )
    em_blocking_rules: list[str] | None = Field(
        None,
        description="Splink SQL blocking rules, one EM pass each; default: chosen from the blocking rules",
    )
    em_passes: int = Field(3, ge=1, le=10, description="EM passes chosen automatically, each on other fields")
    em_max_pairs: float | None = Field(
        2e6, gt=0, description="cap on the record pairs one EM pass uses (sampled); null: no cap"
    )
    em_with_term_frequencies: bool = Field(
        False,
        description=(
            "let term frequencies take part in the EM iterations (slower: each iteration reads every "
            "pair instead of the counts of each comparison pattern)"
        ),
    )
    prior_recall: float = Field(

        0.7,
        gt=0,
        le=1,
        description="share of all true matches the deterministic rules are believed to find (seeds the prior)",
    )
    max_level_weight: float = Field(
        15,
        gt=0,
        description=(
            "bound (in bits, ±) on every level's trained match weight, so no single field vetoes or "
            "decides a pair on its own"
        ),
    )
    prior_rules: list[str] | None = Field(
        None,
        description=(
            "Splink SQL rules that admit almost no false matches, used to seed the prior when the "
            "deterministic rules find nothing; default: pairs of the most selective blocking keys"
        ),
    )


class AutoThreshold(_Strict):
    """How ``match_threshold: auto`` picks the threshold from the estimated precision–recall curve."""

    beta: float = Field(
        1.0, gt=0, description="maximise F-beta: below 1 weighs precision more (a false merge loses a customer)"
    )
    min: float = Field(0.5, gt=0, lt=1, description="lowest threshold considered")
    max: float = Field(0.99, gt=0, lt=1, description="highest threshold considered")

    @model_validator(mode="after")
    def _check_bounds(self) -> AutoThreshold:
        if self.min > self.max:
            raise ValueError(f"auto_threshold.min ({self.min}) must not be above auto_threshold.max ({self.max})")
        return self


class ClusterSettings(_Strict):
    """How clusters are kept from chaining (see workbench.core.linkage.clusters)."""

    min_mean_probability: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "a model link joins two parts of a cluster only when the mean match probability over all "
            "their record pairs reaches this (weak bridges are cut)"
        ),
    )
    strong_link_probability: float = Field(
        0.99,
        gt=0,
        le=1,
        description=(
            "a model link at least this probable is never cut as a weak bridge (copies of one record, "
            "each with its own typing errors, can be far from each other)"
        ),
    )
    score_inside_pairs: bool = Field(
        True, description="score every pair inside a cluster of 3+ records that no blocking rule scored"
    )


class ChartSettings(_Strict):
    """Which Splink charts are saved as HTML in the run's ``splink/`` folder."""

    enabled: bool = Field(True, description="save the charts at all")
    waterfall_pairs: int = Field(20, ge=0, description="pairs shown in the waterfall chart")
    comparison_viewer_pairs: int = Field(
        2, ge=0, description="example pairs per comparison vector in the comparison viewer"
    )
    cluster_studio_clusters: int = Field(20, ge=0, description="clusters shown in the cluster studio")


class MatchSettings(_Strict):
    """The `match:` section. Every key is optional; defaults suit a Chinese-first project."""

    match_threshold: float | Literal["auto"] = Field(
        "auto",
        description=(
            "model pairs with match probability at or above this are linked; auto: chosen per run from "
            "the estimated precision-recall curve (see auto_threshold)"
        ),
    )
    auto_threshold: AutoThreshold = AutoThreshold()
    review_min_probability: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="pairs from here up to match_threshold are not linked but sent to clerical review",
    )
    fields: list[str] | None = Field(
        None, description="canonical fields to compare; default: every field whose kind can be compared"
    )
    exclude_fields: list[str] = Field(default_factory=list, description="fields never compared")
    comparisons: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="field → a Splink comparison in JSON form, replacing the generated comparison",
    )
    blocking_rules: list[str] | None = Field(
        None, description="Splink SQL blocking rules for prediction; default: chosen from the data"
    )
    blocking_pairs_per_record: float = Field(
        10,
        gt=0,
        description="a generated blocking rule may create at most this many pairs per record",
    )
    max_blocking_rules: int = Field(24, ge=1, description="at most this many generated blocking rules")
    term_frequency_adjustments: bool = Field(
        True, description="weight agreement on common names / cities / shared numbers less"
    )
    deterministic_rules: list[DeterministicRule] | None = Field(
        None,
        description=(
            "rules that always match; default: the same valid company tax ID (USCC, VAT number …: "
            "data/tax_id_holders.csv of the match stage); a person's ID is never a rule; [] for none"
        ),
    )
    conflict_fields: list[str] | None = Field(
        None,
        description=(
            "fields whose different valid values keep records apart (clusters are split and sent "
            "to review); default: the valid company IDs of every field of kind tax_id"
        ),
    )
    match_test_records: bool = Field(
        False,
        description=(
            "also match records flagged as test / dummy data (is_test); by default they stay single: "
            "test entries share placeholder names, e-mails and addresses and would merge into one"
        ),
    )
    clustering: ClusterSettings = ClusterSettings()
    label_holdout_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "share of the review labels kept blind: they measure the model and never train it "
            "(chosen by a hash of the pair's stable record keys, so the split survives re-extracts)"
        ),
    )
    max_cluster_size: int = Field(
        50, ge=2, description="clusters with more members are sent to review as suspicious"
    )
    labels_path: Path = Field(
        Path("review_labels.csv"), description="clerical review decisions (input of the next run)"
    )
    ground_truth_path: Path | None = Field(
        None, description="CSV with the true entity of each record; when set, accuracy is measured"
    )
    ground_truth_entity_column: str = Field("entity_id", description="column of the true entity")
    hard_cases: dict[str, HardCase] = Field(
        default_factory=_default_hard_cases,
        description="slices of the ground truth reported separately (by name)",
    )
    registry_path: Path | None = Field(
        None,
        description="master ID registry; default: master_id_registry.parquet in the output folder",
    )
    master_id_prefix: str = Field("M", pattern=r"^[A-Z]{1,4}$", description="master IDs start with this")
    master_id_digits: int = Field(8, ge=4, le=18, description="zero-padded digits after the prefix")
    seed: int | None = Field(None, description="seeds sampling and training; default: project.seed")
    training: TrainingSettings = TrainingSettings()
    charts: ChartSettings = ChartSettings()

    @model_validator(mode="after")
    def _check_band(self) -> MatchSettings:
        if isinstance(self.match_threshold, float) and not 0 < self.match_threshold < 1:
            raise ValueError(f"match_threshold ({self.match_threshold}) must lie between 0 and 1, or be auto")
        if isinstance(self.match_threshold, float) and self.review_min_probability > self.match_threshold:
            raise ValueError(
                f"review_min_probability ({self.review_min_probability}) must not be above "
                f"match_threshold ({self.match_threshold}); the review band is [review_min, threshold)"
            )
        return self
