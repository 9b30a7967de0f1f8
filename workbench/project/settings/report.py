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

MaskKind = Literal["phone", "email", "tax_id", "id", "person_name"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_mask_kinds() -> list[MaskKind]:
    return ["phone", "email", "tax_id"]


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


class ReportSettings(_Strict):
    """The `report:` section. Every key is optional; defaults suit a Chinese-first project."""

    language: Literal["zh", "en"] | None = Field(
        None, description="language of the business summary; default project.language"
    )
    title: str | None = Field(None, description="title of the run summary; default the project name")
    masking: MaskingSettings = MaskingSettings()
    sampling: SamplingSettings = SamplingSettings()
    duplicate_check: DuplicateCheckSettings = DuplicateCheckSettings()
    expectations_dir: Path | None = Field(
        None,
        description="folder of the project's GX suites (source_<name>.json, standardized_customers.json); "
        "default: none, every suite is generated from the rule tables in the workbench's expectations/ folder",
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
        100_000, ge=1, description="at most this many failed rows per expectation go to the failures table"
    )
