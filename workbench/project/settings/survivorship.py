"""Settings of the `survivorship:` section of ``workbench.yaml``.

Survivorship picks, for every master record and every golden field, the value of one member record.
A field's *rule chain* ranks the member records that hold a value; the first record wins and ties
fall through to the next rule, finally to ``record_key`` (so the choice is always deterministic).

Rules (the names used in the config):

- ``valid_value``: a value whose ``<field>_valid`` is true beats one whose validity is unknown,
  which beats an invalid one (record-level text columns: a value in ``unknown_values`` is invalid);
- ``source_priority``: the source listed first in ``source_priority`` wins;
- ``most_recent``: the record with the newest date in ``recency_fields`` (or the field's own
  ``recency_fields``) wins;
- ``most_complete``: the value with the most filled kind extras, then the longest text, wins;
- ``most_frequent``: the value most members agree on wins;
- ``any_true`` / ``all_true``: for BOOLEAN columns; true (any_true) or false (all_true) wins, so the
  golden value is "true if any member says true" or "true only if every member says true".

Example::

    survivorship:
      source_priority: [erp, crm, ledger]
      recency_fields: [last_modified, created_date]
      kind_rules:
        phone: [valid_value, most_recent, most_complete]
      fields:
        customer_name: [valid_value, source_priority]
        address: {rules: [most_complete, most_recent]}
        mobile: {rules: [most_recent], recency_fields: [last_modified]}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RuleName = Literal[
    "valid_value",
    "source_priority",
    "most_recent",
    "most_complete",
    "most_frequent",
    "any_true",
    "all_true",
]

RULE_NAMES: tuple[str, ...] = RuleName.__args__  # type: ignore[attr-defined]

# the record-level columns of golden_customers, chosen by `record_rules`
RecordColumn = Literal["customer_type", "record_status", "is_test", "is_stale"]


def _default_rules() -> list[RuleName]:
    return ["valid_value", "most_complete", "source_priority"]


def _default_kind_rules() -> dict[str, list[RuleName]]:
    return {
        "customer_name": ["valid_value", "source_priority"],
        "company_name": ["valid_value", "source_priority"],
        "person_name": ["valid_value", "most_complete", "source_priority"],
        "phone": ["valid_value", "most_recent", "most_complete"],
        "email": ["valid_value", "most_recent", "most_complete"],
        "tax_id": ["valid_value", "most_frequent", "source_priority"],
        "address": ["valid_value", "most_complete", "most_recent"],
        "province": ["valid_value", "most_frequent", "source_priority"],
        "city": ["valid_value", "most_frequent", "source_priority"],
        "district": ["valid_value", "most_frequent", "source_priority"],
        "postcode": ["valid_value", "most_frequent", "source_priority"],
        "country": ["valid_value", "most_frequent", "source_priority"],
        "flag": ["any_true"],
        "id": ["source_priority"],
        "status": ["valid_value", "source_priority", "most_recent"],
        "date": ["valid_value", "source_priority"],
        "code": ["valid_value", "source_priority"],
        "amount": ["source_priority"],
        "number": ["source_priority"],
    }


def _default_record_rules() -> dict[RecordColumn, list[RuleName]]:
    return {
        "customer_type": ["valid_value", "most_frequent", "source_priority"],
        "record_status": ["valid_value", "source_priority", "most_recent"],
        "is_test": ["all_true"],
        "is_stale": ["all_true"],
    }


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldRule(_Strict):
    """The rule chain of one golden field, with optional per-field options."""

    rules: list[RuleName] = Field(min_length=1, description="rule chain, first rule first")
    source_priority: list[str] | None = Field(
        None, description="source order for this field; default the section's `source_priority`"
    )
    recency_fields: list[str] | None = Field(
        None, description="date columns for `most_recent` of this field; default the section's"
    )


class SurvivorshipSettings(_Strict):
    """The `survivorship:` section. Every key is optional; defaults suit a Chinese-first project."""

    source_priority: list[str] = Field(
        default_factory=list,
        description="sources in order of trust, most trusted first; default: customer sources in config order",
    )
    recency_fields: list[str] | None = Field(
        None,
        description=(
            "date columns of std_customers that tell how recent a record is (the newest counts); "
            "default: every field of kind `date` plus last_activity_date. Set it when a date field is "
            "not about the record (e.g. a date of birth)"
        ),
    )
    default_rules: list[RuleName] = Field(
        default_factory=_default_rules,
        min_length=1,
        description="rule chain of a field whose kind has no entry in `kind_rules`",
    )
    kind_rules: dict[str, list[RuleName]] = Field(
        default_factory=_default_kind_rules,
        description="rule chain per field kind; entries given here replace the default of that kind",
    )
    record_rules: dict[RecordColumn, list[RuleName]] = Field(
        default_factory=_default_record_rules,
        description="rule chains of the record-level columns",
    )
    fields: dict[str, FieldRule] = Field(
        default_factory=dict,
        description="rule chain per canonical field (`field: [rules]` or `field: {rules: [...], ...}`)",
    )
    extra_fields: list[str] = Field(
        default_factory=list,
        description="other std_customers columns to carry into golden_customers (e.g. industry); default rules",
    )
    parent_field: str | None = Field(
        "auto",
        description=(
            "field of kind `id` holding the parent's source ID in the same source (group relation); "
            "`auto`: the one id field that is not a source's ID column; null: no parent relation"
        ),
    )
    unknown_values: list[str] = Field(
        default_factory=lambda: ["unknown"],
        description="values of customer_type / record_status that count as not valid",
    )
    invalid_statuses: list[str] = Field(
        default_factory=lambda: ["deregistered", "revoked"],
        description="record_status values that make a golden customer invalid (listed in `flags`)",
    )
    required_fields: list[str] = Field(
        default_factory=list,
        description="fields a golden customer must have; a missing one adds `missing_<field>` to `flags`",
    )

    @field_validator("kind_rules", mode="after")
    @classmethod
    def _merge_kind_defaults(cls, value: dict[str, list[RuleName]]) -> dict[str, list[RuleName]]:
        # a project names only the kinds it changes; the other kinds keep their defaults
        return {**_default_kind_rules(), **value}

    @field_validator("record_rules", mode="after")
    @classmethod
    def _merge_record_defaults(
        cls, value: dict[RecordColumn, list[RuleName]]
    ) -> dict[RecordColumn, list[RuleName]]:
        return {**_default_record_rules(), **value}

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand_fields(cls, value: object) -> object:
        # `field: [rules]` is shorthand for {rules: [...]}
        if isinstance(value, dict):
            return {k: ({"rules": v} if isinstance(v, list) else v) for k, v in value.items()}
        return value
