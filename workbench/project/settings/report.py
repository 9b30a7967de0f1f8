"""Settings of the `report:` section of ``workbench.yaml``.

The section drives phases 7 and 9: which language business reads, how personal data is masked in
everything meant for business, the business sample (target accuracy and confidence), where the
Great Expectations suites live, the run history and the duplicate check on create. Every key is
optional; defaults suit a Chinese-first project. Paths are relative to the config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MaskKind = Literal["phone", "email", "tax_id", "id", "person_name", "person_id"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_mask_kinds() -> list[MaskKind]:
    return ["phone", "email", "tax_id", "person_name", "person_id"]


class MaskingSettings(_Strict):
    """Partial masking of phones, e-mails and IDs in outputs meant for business."""

    enabled: bool = Field(True, description="mask personal data in reports, sample sheets and worklists")
    mask_char: str = Field("*", min_length=1, max_length=1, description="the character that hides text")
    kinds: list[MaskKind] = Field(
        default_factory=_default_mask_kinds,
        description="field kinds whose values (and kind extras) are masked",
    )
    columns: list[str] = Field(
        default_factory=list, description="further columns to mask as IDs, whatever their kind"
    )
    person_customers: bool = Field(
        True,
        description="mask the customer name of a person (a B2C record, where the table tells the customer "
        "type) like a person's name",
    )
    phone_keep_start: int = Field(3, ge=0, description="phone: digits shown at the start (after +CC)")
    phone_keep_end: int = Field(4, ge=0, description="phone: digits shown at the end")
    email_keep_local: int = Field(1, ge=0, description="e-mail: characters of the local part shown")
    id_keep_start: int = Field(4, ge=0, description="ID / tax ID: characters shown at the start")
    id_keep_end: int = Field(4, ge=0, description="ID / tax ID: characters shown at the end")
    name_keep_start: int = Field(1, ge=0, description="person name: characters shown at the start")


class SamplingSettings(_Strict):
    """The business sample (phase 7): acceptance sampling for a stated accuracy and confidence."""

    target_accuracy: float = Field(
        0.99, gt=0, lt=1, description="share of correct master records the migration must reach, e.g. 0.999"
    )
    confidence: float = Field(0.95, gt=0, lt=1, description="confidence of the accept decision, e.g. 0.95")
    allowed_defects: int = Field(
        0, ge=0, description="acceptance number c: the sample passes with at most this many defects"
    )
    finite_population: bool = Field(
        True, description="size the sample with the hypergeometric law on the real number of masters"
    )
    strata: list[str] = Field(
        default_factory=lambda: ["source", "batch", "match_type"],
        description="columns that stratify the sample (source = first source of the master)",
    )
    sample_size: int | None = Field(
        None, ge=1, description="override the computed sample size (the plan still reports the computed one)"
    )
    history_fields: list[str] | None = Field(
        None, description="golden fields shown to reviewers; default every canonical field"
    )
    seed: int | None = Field(None, description="seed of the draw; default project.seed")
    verdicts_path: Path = Field(
        Path("business_sample_verdicts.xlsx"),
        description="the review sheet filled in by reviewers (relative to the config); read when present",
    )


class DuplicateCheckSettings(_Strict):
    """The duplicate check on create (phase 9)."""

    threshold: float = Field(
        0.9, gt=0, lt=1, description="match probability from which a new record is an existing master"
    )
    review_threshold: float = Field(
        0.5, gt=0, lt=1, description="between this and `threshold` the answer is `review` (ask a person)"
    )
    source: str | None = Field(
        None, description="customer source whose column layout new records use; default: best header match"
    )
    new_customers_path: Path | None = Field(
        None,
        description="file of new customer records the monitor stage checks against the master "
        "(relative to the config); none: the check is skipped",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DuplicateCheckSettings:
        if self.review_threshold > self.threshold:
            raise ValueError(
                f"review_threshold {self.review_threshold} must not exceed threshold {self.threshold}"
            )
        return self


class ProfileSettings(_Strict):
    """The profile report's alerts and charts (stage ``audit``)."""

    high_missing: float = Field(0.5, gt=0, le=1, description="alert when at least this share of a field is missing")
    high_cardinality_distinct: int = Field(
        50, ge=2, description="alert when a code-like field has at least this many distinct values"
    )
    cardinality_kinds: list[str] = Field(
        default_factory=lambda: ["code", "status", "flag", "country", "province", "city"],
        description="field kinds expected to hold few distinct values (checked for high cardinality)",
    )
    format_kinds: list[str] = Field(
        default_factory=lambda: ["phone", "postcode", "date", "tax_id", "person_id", "id", "code", "amount",
                                 "number", "flag"],
        description="field kinds expected to hold one format (checked for mixed formats)",
    )
    typed_kinds: list[str] = Field(
        default_factory=lambda: ["amount", "number", "date"],
        description="field kinds whose values should all be numbers or dates (checked for mixed types)",
    )
    dominant_pattern: float = Field(
        0.8, gt=0, le=1, description="alert mixed formats when the most frequent pattern covers less than this share"
    )
    histogram_bins: int = Field(20, ge=2, le=200, description="bins of a number or date histogram")
    missing_correlation_min: float = Field(
        0.3, ge=0, le=1, description="missingness correlations listed from this absolute value"
    )


class ReportSettings(_Strict):
    """The `report:` section. Every key is optional; defaults suit a Chinese-first project."""

    language: Literal["zh", "en"] | None = Field(
        None, description="language of the business summary; default project.language"
    )
    title: str | None = Field(None, description="title of the run summary; default the project name")
    masking: MaskingSettings = MaskingSettings()
    profile: ProfileSettings = ProfileSettings()
    sampling: SamplingSettings = SamplingSettings()
    duplicate_check: DuplicateCheckSettings = DuplicateCheckSettings()
    expectations_dir: Path | None = Field(
        None,
        description="folder of the project's GX suites (source_<name>.json, standardized_customers.json); "
        "default: the folder expectations/ beside the config when it exists; a suite without a file is "
        "generated from the project's config and the rule tables in the workbench's expectations/ folder",
    )
    generate_missing_suites: bool = Field(
        True,
        description="build a basic suite from the config (and the rule tables) for a dataset without a suite file",
    )
    history_path: Path | None = Field(
        None, description="run-history DuckDB file; default <output dir>/history.duckdb"
    )
    completeness_fields: list[str] | None = Field(
        None, description="golden fields whose completeness is tracked; default every canonical field"
    )
    uniqueness_fields: list[str] | None = Field(
        None,
        description="golden fields whose uniqueness is tracked; default fields of kind tax_id/phone/email",
    )
    failures_limit: int = Field(
        1_000,
        ge=1,
        description="at most this many failed rows per expectation are listed (a seeded sample; every "
        "failed row is counted)",
    )
    gx_sample_rows: int = Field(
        2_000,
        ge=0,
        description="rows of each dataset Great Expectations validates to confirm the SQL count of every "
        "rule (besides failed rows of each rule)",
    )
    gx_sample_failing: int = Field(
        50, ge=0, description="failed rows of each expectation in the sample Great Expectations validates"
    )
    postcode_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="country (ISO code) → regex of its postcodes, replacing the format from Google's "
        "address metadata (e.g. {GB: '[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}'})",
    )
