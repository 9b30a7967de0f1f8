"""Settings of the `export:` section of ``workbench.yaml``.

The section drives three stages: ``mapping`` (which target profiles, which mapping files),
``batches`` (the rules that put every golden record in exactly one batch or exclusion) and
``export`` (sign-off, draft mode, formula guard, the import-error loop). Paths are written relative
to the config file (mapping files relative to ``mapping_dir``); code reads them only through
:class:`workbench.project.paths.ProjectPaths` (``mapping_dir``, ``field_mapping(profile)``,
``value_mappings``, ``approvals``, ``target_profiles``, ``import_reasons``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchNames(_Strict):
    """The batch name of each role; the name sorts the load files and shows in every table."""

    top_revenue: str = "01_top_revenue"
    active: str = "02_active"
    vip: str = "03_vip"
    blacklist: str = "04_blacklist"
    other: str = "05_other"
    dormant: str = "deferred_dormant"
    excluded: str = "excluded"


class BatchRules(_Strict):
    """Rules of the batch plan (phase 6). A golden record gets the first role that applies, in
    the order: excluded, blacklist, vip, top_revenue, active, dormant, other."""

    active_months: int = Field(12, ge=1, description="a transaction within this many months = active")
    dormant_months: int = Field(24, ge=1, description="no transaction for longer = dormant (deferred)")
    top_revenue_n: int = Field(50, ge=0, description="the N active customers with most revenue go first")
    revenue_column: str = Field(
        "activity_amount_12m", description="golden column that ranks customers by revenue"
    )
    activity_date_column: str = Field("last_activity_date", description="golden column of last activity")
    blacklist_column: str | None = Field("blacklist", description="BOOLEAN golden column; null = no rule")
    vip_column: str | None = Field("vip", description="BOOLEAN golden column; null = no rule")
    exclude_flagged: bool = Field(True, description="exclude golden records whose `flags` are not empty")
    exclude_test: bool = Field(True, description="exclude golden records with is_test = true")
    exclude_statuses: list[str] = Field(
        default_factory=lambda: ["deregistered", "revoked"],
        description="record_status values that exclude a customer",
    )
    no_activity: Literal["other", "dormant"] = Field(
        "other", description="where customers without any recorded transaction go"
    )
    parent_before_children: bool = Field(
        True, description="move a group parent into the earliest batch of its children"
    )
    names: BatchNames = BatchNames()


class ExportSettings(_Strict):
    """The `export:` section. Every key is optional; defaults suit a Chinese-first project."""

    profiles: list[str] = Field(
        default_factory=lambda: ["sap_s4_cockpit_customer", "yonyou_u8_customer"],
        description="target profiles to map and export (built-in names or names of `profile_paths`)",
    )
    profile_paths: list[Path] = Field(
        default_factory=list, description="the project's own target profile YAML files"
    )
    mapping_dir: Path = Field(
        Path("mappings"),
        description="folder with field_mapping_<profile>.csv, value_mappings.csv and approvals.csv",
    )
    field_mappings: dict[str, Path] = Field(
        default_factory=dict, description="per profile: a field mapping file other than the default"
    )
    value_mappings: list[Path] = Field(
        default_factory=lambda: [Path("value_mappings.csv")],
        description="value mapping files (relative to mapping_dir)",
    )
    approvals_path: Path = Field(Path("approvals.csv"), description="sign-off file (relative to mapping_dir)")
    approval_roles: list[str] = Field(
        default_factory=lambda: ["it", "business"],
        description="roles an approval may carry (`workbench approve --role`); an approval with another role is refused",
    )
    required_approval_roles: list[str] = Field(
        default_factory=lambda: ["it", "business"],
        description="roles that must each have approved the inputs of the load; empty = any one valid approval",
    )
    draft: bool = Field(False, description="always export DRAFT files (file names and manifest say DRAFT)")
    when_not_ready: Literal["draft", "refuse"] = Field(
        "draft",
        description="when mappings are missing, incomplete, not covering the data or not signed off: "
        "draft = write DRAFT load files that say what is missing; refuse = stop the export with the reason",
    )
    batches: BatchRules = BatchRules()
    export_batches: list[str] | None = Field(
        None, description="batches to write load files for; default every batch except deferred/excluded"
    )
    formula_guard: bool = Field(True, description="neutralise cells that Excel would run as a formula")
    formula_safe_pattern: str = Field(
        r"^[+-]?[0-9][0-9 ]*$",
        description="values matching this regex are plain numbers/phones, never guarded",
    )
    import_reasons_path: Path | None = Field(
        None, description="the project's own reason table for import logs (YAML); default: built-in"
    )
    mask_worklists: bool = Field(
        False, description="mask phones, e-mails and IDs in the fix worklist sent to business"
    )

    @field_validator("approval_roles", "required_approval_roles")
    @classmethod
    def _lower_roles(cls, value: list[str]) -> list[str]:
        roles = [r.strip().lower() for r in value]
        if any(not r for r in roles):
            raise ValueError("a role is empty; name it, e.g. it or business")
        return list(dict.fromkeys(roles))

    @field_validator("profiles")
    @classmethod
    def _no_duplicate_profiles(cls, value: list[str]) -> list[str]:
        dups = sorted({p for p in value if value.count(p) > 1})
        if dups:
            raise ValueError(f"profiles listed twice: {dups}; list each profile once")
        return value
