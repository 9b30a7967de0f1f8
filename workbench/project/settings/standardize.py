"""Settings of the `standardize:` section of ``workbench.yaml``.

Every key is optional; the defaults suit a Chinese-first project. The reference tables (legal forms,
region words, status words, industry keywords, e-mail domain typos, placeholder phones, test
patterns, …) ship as reviewable CSV files in ``workbench/core/standardize/data/``; a project can replace
one (``tables``) or add its own rows on top (``extra_tables``; project rows win). Paths are relative
to the config file.

Example::

    standardize:
      default_region: CN            # phones / tax IDs without a country; default project.default_region
      day_first: false              # 05/03/2021 is 3 May; default: from each source's region
      fixes_path: fixes.csv         # corrections applied on every run (change_log rule fix:<reason>)
      stale_months: 24              # no transaction for this long → is_stale
      placeholder_phones: ["13900000000"]
      test_patterns: ["内部"]        # regexes on names that mark a test record
      status_words: {"关闭": deregistered}
      extra_tables:
        industry_keywords: [my_industry_keywords.csv]
      fill:
        industry: true
        credit_rating:
          measure: activity_amount_12m
          bands: [{min: 1000000, rating: A}, {min: 100000, rating: B}, {min: 0.01, rating: C}]
          default: D
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RecordStatus = Literal["active", "deregistered", "revoked", "suspended", "inactive", "unknown"]

TABLE_NAMES = (
    "address_abbreviations",
    "branch_markers",
    "company_words",
    "country_conventions",
    "country_names",
    "customer_type_words",
    "email_domain_typos",
    "flag_words",
    "industry_keywords",
    "legal_forms",
    "person_id_modules",
    "placeholder_phones",
    "postcode_prefixes",
    "region_words",
    "status_words",
    "surnames",
    "test_patterns",
)

DEFAULT_DATE_FORMATS = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreditBand(_Strict):
    """A rating given when the measure is at least ``min``."""

    min: float = Field(description="lower bound (inclusive) of the measure")
    rating: str = Field(min_length=1, description="the rating written to the credit-rating column")


class CreditRatingRule(_Strict):
    """How a missing credit rating is derived from the receivables history."""

    column: str = Field("credit_rating", description="column to fill (a canonical field or a new column)")
    measure: Literal["activity_amount_12m", "activity_amount_total"] = Field(
        "activity_amount_12m", description="the activity figure the bands apply to"
    )
    bands: list[CreditBand] = Field(min_length=1, description="checked from the highest `min` down")
    default: str | None = Field(None, description="rating when no band applies (e.g. no receivables)")


class FillSettings(_Strict):
    """Which fill rules run. Every fill is logged in change_log with its rule."""

    province: bool = Field(True, description="fill a missing province from the USCC region or the phone")
    province_from: list[Literal["tax_id", "phone"]] = Field(
        ["tax_id", "phone"], description="sources of the province, in order of trust"
    )
    province_phone_types: list[Literal["landline", "mobile"]] = Field(
        ["landline"], description="phone types whose area tells the province (a mobile's does not)"
    )
    customer_type: bool = Field(True, description="fill B2B/B2C from a USCC, a legal form or a person name")
    industry: bool = Field(True, description="fill the industry from name keywords")
    industry_column: str = Field("industry", description="column the industry goes to")
    credit_rating: CreditRatingRule | None = Field(None, description="derive a missing credit rating")


class StandardizeSettings(_Strict):
    """The `standardize:` section. Every key is optional; defaults suit a Chinese-first project."""

    default_region: str | None = Field(
        None,
        pattern=r"^[A-Z]{2}$",
        description="region for phones and tax IDs; default project.default_region",
    )
    stale_months: int = Field(24, ge=1, description="no transaction for this many months → stale")
    activity_window_months: int = Field(12, ge=1, description="window of activity_amount_12m")
    placeholder_phones: list[str] = Field(
        default_factory=list,
        description="more placeholder phone values (numbers, or words such as 无), on top of the table",
    )
    placeholder_all_same_digits: bool = Field(
        True, description="a phone of one repeated digit is a placeholder"
    )
    placeholder_repeated_tail: int = Field(
        8, ge=0, description="a phone ending in this many equal digits is a placeholder (0: off)"
    )
    placeholder_sequences: bool = Field(
        True, description="a phone of ascending digits (1234567) is a placeholder"
    )
    test_patterns: list[str] = Field(
        default_factory=list, description="more regexes (case-insensitive) on names that mark a test record"
    )
    status_words: dict[str, RecordStatus] = Field(
        default_factory=dict, description="more legacy status words → status (on top of the table)"
    )
    tables: dict[str, Path] = Field(
        default_factory=dict, description="replace a reference table: name → CSV file (same columns)"
    )
    extra_tables: dict[str, list[Path]] = Field(
        default_factory=dict, description="add rows to a reference table: name → CSV files (they win)"
    )
    date_formats: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DATE_FORMATS),
        description="strptime formats tried in order (Excel serial numbers are always understood)",
    )
    day_first: bool | None = Field(
        None,
        description=(
            "read 05/03/2021 as 5 March (false: as 3 May); default: from each source's region "
            "(the `country_conventions` table: US month first, most others day first)"
        ),
    )
    min_date: str = Field("1900-01-01", description="dates before this are invalid")
    traditional_to_simplified: bool = Field(True, description="convert traditional Chinese (OpenCC t2s)")
    repair_mojibake: bool = Field(True, description="repair UTF-8 read as GBK (and similar); else only flag")
    fix_email_typos: bool = Field(True, description="fix known domain typos (else only flag them)")
    lowercase_email: bool = Field(True, description="lower-case the whole address, not only the domain")
    min_core_after_region: int = Field(
        4, ge=1, description="a leading region word is split off a name only if this many characters remain"
    )
    fill: FillSettings = Field(FillSettings(), description="fill rules")
    fixes_path: Path = Field(
        Path("fixes.csv"),
        description=(
            "corrections typed in by people (e.g. from the ERP's import log), applied on every run: "
            "CSV source,source_id,field,value,reason,fixed_by,fixed_at; a missing file means no fixes"
        ),
    )
    workers: int | None = Field(
        None, ge=1, description="processes that standardize large fields; default: the number of cores"
    )
    parallel_min_values: int = Field(
        50_000, ge=0, description="use worker processes only from this many distinct values (all fields)"
    )
    parallel_chunk_size: int = Field(25_000, ge=1_000, description="distinct values per worker task")

    @field_validator("tables", "extra_tables")
    @classmethod
    def _known_tables(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(TABLE_NAMES))
        if unknown:
            raise ValueError(f"unknown table name(s) {unknown}; known: {', '.join(TABLE_NAMES)}")
        return value
