"""The generated GX suites: the facts of a config or a target profile applied to the rule tables.

This module owns which facts each generated suite sees: :func:`build_source_suite` (a source's
staging table, from its columns' field kinds), :func:`build_standardized_suite` (``std_customers``,
from the config's canonical fields) and :func:`build_load_ready_suites` (one suite per structure of
a target profile, from its fields' properties). Which expectations follow from those facts is data:
the rule tables in ``expectations/`` (:mod:`workbench.core.validation.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.validation.postcodes import postcode_items, postcode_pattern
from workbench.core.validation.rules import META_KEY, load_rule_table
from workbench.engine.catalog import STD_CUSTOMERS, staged
from workbench.project.config import Kind

if TYPE_CHECKING:
    from workbench.core.targets.profiles import TargetField, TargetProfile
    from workbench.project.config import ProjectConfig, SourceSpec

STANDARDIZED_SUITE = "standardized_customers"

__all__ = [
    "META_KEY",
    "STANDARDIZED_SUITE",
    "build_load_ready_suites",
    "build_source_suite",
    "build_standardized_suite",
]


def _postcode_facts(
    config: ProjectConfig, country_field: str | None, countries: Mapping[str, list[str]] | None
) -> dict[str, Any]:
    """The postcode facts of a suite: the region's format and one item per country present."""
    overrides = config.report.postcode_patterns
    region = config.project.default_region
    own = postcode_pattern(region, overrides)
    if countries is None:
        countries = {region: [region]}
    return {
        "country_field": country_field,
        "region_postcode": own[0] if own else None,
        "region_postcode_example": own[1] if own else None,
        "postcode_countries": postcode_items(countries, overrides) if country_field else [],
    }


def build_source_suite(
    source: SourceSpec,
    config: ProjectConfig,
    *,
    rules_dir: Path | None = None,
    countries: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A basic suite for one source's staged table, from ``expectations/source.yaml``.

    Checks the lineage columns, the ID (present; unique in a customer source) and the shape of each
    other field by its kind (phones, e-mails, tax IDs, postcodes by country, dates, amounts, flags,
    names). A project refines the written file by hand (``report.expectations_dir``).

    Args:
        source: the source.
        config: the project config (``project.default_region``, ``report.postcode_patterns``).
        rules_dir: another folder of rule tables (tests).
        countries: country code → the cell texts of the source's country column that stand for it
            (from the standardized records); default: the project's region alone.
    """
    table = load_rule_table("source", rules_dir)
    header = {spec.field: h for h, spec in source.columns.items()}
    country_field = next((c.field for c in source.columns.values() if c.kind == Kind.COUNTRY), None)
    facts = {
        "source": source.name,
        "table": staged(source.name),
        "id_field": source.id_field,
        "id_label": header.get(source.id_field, source.id_field),
        "role": source.role,
        "region": config.project.default_region,
        **_postcode_facts(config, country_field, countries),
    }
    fields = [
        {"field": col.field, "kind": str(col.kind.value), "label": header.get(col.field, col.field)}
        for col in source.columns.values()
        if col.field != source.id_field
    ]
    return table.build(facts, fields)


def field_labels(config: ProjectConfig) -> dict[str, str]:
    """canonical field → its header in the first customer source that has it (what business calls it)."""
    labels: dict[str, str] = {}
    for s in config.customer_sources:
        for h, spec in s.columns.items():
            labels.setdefault(spec.field, h)
    return labels


def build_standardized_suite(
    config: ProjectConfig, *, rules_dir: Path | None = None, countries: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """The suite of the standardized set (``std_customers``), from ``expectations/standardized_customers.yaml``.

    Args:
        config: the project config (customer sources and the kinds of their canonical fields).
        rules_dir: another folder of rule tables (tests).
        countries: the standardized countries present (code → [code]); default the project's region.
    """
    table = load_rule_table(STANDARDIZED_SUITE, rules_dir)
    kinds = config.field_kinds()
    country_field = next((f for f, k in kinds.items() if k == Kind.COUNTRY), None)
    facts = {
        "table": STD_CUSTOMERS.name,
        "customer_sources": [s.name for s in config.customer_sources],
        "region": config.project.default_region,
        **_postcode_facts(config, country_field, countries),
    }
    labels = field_labels(config)
    fields = [{"field": f, "kind": str(k.value), "label": labels.get(f, f)} for f, k in kinds.items()]
    return table.build(facts, fields)


def _field_facts(f: TargetField) -> dict[str, Any]:
    return {
        "name": f.name,
        "caption": f.caption,
        "required": f.required,
        "length": f.length,
        "allowed": f.allowed,
        "type": f.type,
        "decimals": f.decimals,
        "format": f.format,
    }


def build_load_ready_suites(profile: TargetProfile, *, rules_dir: Path | None = None) -> list[dict[str, Any]]:
    """One suite per structure of a target profile, from ``expectations/load_ready.yaml``.

    Required fields are not null; lengths are capped; integer/number/date fields match their
    format; picklists become value sets; the key field is unique (with the exploded field, in an
    exploded structure).

    Args:
        profile: the target profile.
        rules_dir: another folder of rule tables (tests).
    """
    table = load_rule_table("load_ready", rules_dir)
    suites = []
    for s in profile.structures:
        facts = {
            "profile": profile.name,
            "structure": s.id,
            "key_field": profile.key_field,
            "explode": s.explode,
            "main": s.id == profile.main.id,
        }
        suites.append(table.build(facts, [_field_facts(f) for f in s.fields]))
    return suites
