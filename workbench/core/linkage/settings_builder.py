"""Splink settings built from the canonical fields, their kinds and the data at hand.

This module owns *what is compared*: :func:`plan_fields` picks the comparable fields of
``std_customers`` and the standardized columns of each kind (``mobile_e164``,
``customer_name_core``, …); :func:`helper_columns` derives per-record helper columns once per
record (pinyin of a name, every phone number of a record, the joined address lines and the place
ladder of the location, a normalized ID); :func:`build_comparisons` groups the fields into one
comparison per fact (see :mod:`workbench.core.linkage.comparisons`): all company-name fields into
one company identity, all phone fields into one, address + district + city + province (+ the
region in the name) into one location, a given name and a surname of one source into one person
name. A project needs no hand-written Splink settings; the ``match:`` section of the config can
replace any generated comparison with its own (Splink JSON form).

Every SQL condition is built from column names that were checked against ``std_customers``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.linkage import comparisons as cmp
from workbench.core.linkage.fields import (
    COMPANY_ID,
    COMPARABLE_KINDS,
    FIRST,
    HAN,
    ID_KINDS,
    KIND_ROLES,
    LOC_ADDR,
    LOC_CITY,
    LOC_DETAIL,
    LOC_DISTRICT,
    LOC_LINES,
    LOC_NUMS,
    LOC_PROVINCE,
    NAME_BRANCH,
    NAME_REGION,
    NAMES_COMPACT,
    NAMES_PIN,
    NORM_ID,
    PERSON_FULL,
    PERSON_FULL_REV,
    PERSON_PIN,
    PERSON_PIN_REV,
    PHONES,
    PIN,
    PLACE_KINDS,
    SOURCE_COLUMN,
    UNIQUE_ID,
    MatchField,
    MatchSettingsError,
    Present,
    helper,
    is_company_name,
)
from workbench.engine.sql import ident, literal_list
from workbench.project.config import Kind, ProjectConfig

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"

__all__ = [
    "COMPARABLE_KINDS",
    "FIRST",
    "HAN",
    "PHONES",
    "PIN",
    "SOURCE_COLUMN",
    "UNIQUE_ID",
    "MatchField",
    "MatchSettingsError",
    "Present",
    "build_comparisons",
    "build_settings",
    "helper",
    "helper_columns",
    "is_company_name",
    "person_pairs",
    "plan_fields",
]


def plan_fields(
    config: ProjectConfig, std_columns: dict[str, str], *, excluded: set[str] | None = None
) -> list[MatchField]:
    """Choose the fields to compare and the std_customers columns of each.

    Args:
        config: the project config (field kinds and the `match:` section).
        std_columns: column name → DuckDB type of ``std_customers``.
        excluded: more fields never compared (e.g. the group-parent reference).

    Returns:
        One plan per compared field, in config order.

    Raises:
        MatchSettingsError: `match.fields` or `match.exclude_fields` names an unknown field.
    """
    settings = config.match
    kinds = config.field_kinds()
    _check_field_names(config, kinds)
    id_fields = {s.id_field for s in config.customer_sources if s.id_column in s.columns}
    skip = set(settings.exclude_fields) | (excluded or set())
    sources_of = _sources_of_fields(config)
    plans: list[MatchField] = []
    for name, kind in kinds.items():
        if settings.fields is not None:
            if name not in settings.fields:
                continue
        elif kind not in COMPARABLE_KINDS or name in id_fields or name in skip:
            continue
        if kind not in COMPARABLE_KINDS and name not in settings.comparisons:
            log.warning("field %r of kind %r has no generated comparison; skipped", name, kind.value)
            continue
        if name not in std_columns:
            log.warning("field %r is not in std_customers; not compared", name)
            continue
        columns = {"value": name}
        for role in KIND_ROLES.get(kind, ()):
            if f"{name}_{role}" in std_columns:
                columns[role] = f"{name}_{role}"
        sources = tuple(dict.fromkeys(sources_of.get(name, [])))
        plans.append(MatchField(name, kind, columns, std_columns[name].upper(), sources))
    return plans


def _check_field_names(config: ProjectConfig, kinds: dict[str, Kind]) -> None:
    settings = config.match
    for key, names in (("fields", settings.fields or []), ("exclude_fields", settings.exclude_fields)):
        for name in names:
            if name not in kinds:
                raise MatchSettingsError(
                    f"{config.config_path}: match.{key}: {name!r} is not a canonical field of the "
                    f"customer sources; known: {sorted(kinds)}"
                )


def _sources_of_fields(config: ProjectConfig) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for source in config.customer_sources:
        for spec in source.columns.values():
            out.setdefault(spec.field, []).append(source.name)
    return out


# --------------------------------------------------------------------------------------------
# helper columns: computed once per record (not once per compared pair) before Splink runs


@functools.lru_cache(maxsize=1)
def province_regions() -> frozenset[str]:
    """The canonical regions of province level (``region_words`` table of the standardize stage)."""
    from workbench.core.standardize import load_reference

    table = load_reference().table("region_words")
    return frozenset(table.loc[table["level"] == "province", "canonical"])


@functools.lru_cache(maxsize=1)
def company_tax_types() -> frozenset[str]:
    """The tax ID types that name one legal entity (``data/tax_id_holders.csv``)."""
    table = pd.read_csv(DATA_DIR / "tax_id_holders.csv", dtype=str, keep_default_na=False)
    return frozenset(table.loc[table["holder"].str.strip() == "company", "type"].str.strip())


def _text(column: str) -> str:
    return f"CAST({ident(column)} AS VARCHAR)"


def _coalesce(parts: list[str]) -> str | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def person_pairs(plans: list[MatchField]) -> list[tuple[MatchField, MatchField]]:
    """Person-name fields compared two by two: the first two that one source maps together.

    A source with a given-name and a surname column gives one pair (compared with a swap level);
    any other person-name field is compared on its own.
    """
    persons = [p for p in plans if p.kind == Kind.PERSON_NAME]
    for i, a in enumerate(persons):
        for b in persons[i + 1 :]:
            if not a.sources or not b.sources or set(a.sources) & set(b.sources):
                return [(a, b)]
    return []


def helper_columns(plans: list[MatchField], *, provinces: frozenset[str] | None = None) -> dict[str, str]:
    """Helper column → SQL over std_customers columns, for the records table Splink reads.

    - ``<name>__pin``: Latin letters of a name: its pinyin, or the Latin core itself (华瑞 ~ Huarui);
    - ``<name>__first``: the leading Latin word of a company name (NULL for a Chinese name);
    - ``<name>__han``: the name core has Chinese characters;
    - ``names__branch`` / ``names__region``: the canonical branch marker and the region of the
      first company-name field that has one;
    - ``phones__all``: every number of every phone field (a list; NULL when none);
    - ``loc__*``: the location ladder (see :func:`_location_helpers`);
    - ``persons__full``: a given name and a surname together (term frequencies of the full name);
    - ``<id>__id``: an ID, upper case without spaces and punctuation, from the raw value when the
      standardized one is missing;
    - ``<tax id>__company``: a valid tax ID of a legal entity (``data/tax_id_holders.csv``).

    Args:
        plans: the compared fields.
        provinces: the canonical regions of province level (default: the standardize stage's table).
    """
    out: dict[str, str] = {}
    companies = [p for p in plans if is_company_name(p)]
    for p in plans:
        out.update(_name_helpers(p))
        if p.kind in ID_KINDS or p.kind == Kind.TAX_ID:
            raw = (
                f"coalesce({_text(p.columns['value'])}, {_text(p.columns['raw'])})"
                if p.col("raw")
                else _text(p.columns["value"])
            )
            out[helper(p, NORM_ID)] = f"nullif(upper(regexp_replace({raw}, '[^0-9A-Za-z]', '', 'g')), '')"
        if p.kind == Kind.TAX_ID:
            out[helper(p, COMPANY_ID)] = _company_id_sql(p)
    for role, name in (("branch", NAME_BRANCH), ("region", NAME_REGION)):
        expr = _coalesce([_text(c) for p in companies if (c := p.col(role))])
        if expr:
            out[name] = expr
    phones = [p for p in plans if p.kind == Kind.PHONE]
    if phones:
        parts = ", ".join(
            f"string_split(coalesce({_text(p.col('all') or p.col('e164') or p.columns['value'])}, ''), ';')"
            for p in phones
        )
        numbers = f"list_distinct(list_filter(flatten([{parts}]), lambda x: x <> ''))"
        out[PHONES] = f"CASE WHEN len({numbers}) > 0 THEN {numbers} END"
    out.update(_location_helpers(plans, out.get(NAME_REGION), provinces))
    out.update(_person_helpers(plans, companies))
    return out


def _compact(expr: str) -> str:
    """Lower case without spaces or punctuation (NULL when nothing is left)."""
    return f"nullif(lower(regexp_replace({expr}, '[\\s.,·\\-]', '', 'g')), '')"


def _person_helpers(plans: list[MatchField], companies: list[MatchField]) -> dict[str, str]:
    """A person's full name from a name pair, in both orders (which field is the surname is not
    known), and its pinyin; the customer name as one compact string to compare it with."""
    out: dict[str, str] = {}
    for a, b in person_pairs(plans):
        va, vb = (f"coalesce({_text(p.columns['value'])}, '')" for p in (a, b))
        out[PERSON_FULL] = _compact(f"{va} || {vb}")
        out[PERSON_FULL_REV] = _compact(f"{vb} || {va}")
        if a.col("pinyin") and b.col("pinyin"):
            pa, pb = (f"coalesce({_text(p.columns['pinyin'])}, '')" for p in (a, b))
            out[PERSON_PIN] = _compact(f"{pa} || {pb}")
            out[PERSON_PIN_REV] = _compact(f"{pb} || {pa}")
        if companies:
            out[NAMES_COMPACT] = _compact(_text(companies[0].match_column))
            if helper(companies[0], PIN) in _name_helpers(companies[0]):
                out[NAMES_PIN] = _name_helpers(companies[0])[helper(companies[0], PIN)]
    return out


def _name_helpers(p: MatchField) -> dict[str, str]:
    out: dict[str, str] = {}
    if is_company_name(p) or (p.kind == Kind.PERSON_NAME and p.col("pinyin")):
        base = _text(p.match_column)
        latin = f"nullif(lower(regexp_replace({base}, '[^A-Za-z0-9]', '', 'g')), '')"
        if p.col("pinyin"):
            pin = _text(p.columns["pinyin"])
            out[helper(p, PIN)] = (
                f"coalesce(nullif(lower(regexp_replace({pin}, '[^A-Za-z0-9]', '', 'g')), ''), {latin})"
            )
        else:
            out[helper(p, PIN)] = latin
    if is_company_name(p):
        base = _text(p.match_column)
        out[helper(p, FIRST)] = f"nullif(regexp_extract(lower({base}), '^[a-z]+'), '')"
        out[helper(p, HAN)] = f"regexp_matches({base}, '\\p{{Han}}')"
    return out


def _company_id_sql(p: MatchField) -> str:
    value = ident(p.columns["value"])
    valid = f" AND {ident(p.columns['valid'])}" if p.col("valid") else ""
    types = literal_list(sorted(company_tax_types()))
    if p.col("type"):
        holder = f"list_contains({types}, string_split(lower({_text(p.columns['type'])}), '.')[-1])"
        condition = f"({ident(p.columns['type'])} IS NULL OR {holder})"
    else:
        condition = "true"
    return f"CASE WHEN {value} IS NOT NULL{valid} AND {condition} THEN {_text(p.columns['value'])} END"


def _compact_address(expr: str) -> str:
    """An address line in lower case, single spaces, no spaces next to a Chinese character."""
    spaced = f"regexp_replace(lower({expr}), '\\s+', ' ', 'g')"
    return f"nullif(trim(regexp_replace({spaced}, '\\s*([^\\x00-\\x7F])\\s*', '\\1', 'g')), '')"


def _address_line(p: MatchField) -> str:
    """An address field's text: the standardized value, or the raw text the standardizer found too
    short to be an address on its own (a house number such as ``7``)."""
    value = _text(p.columns["value"])
    if p.col("raw") and p.col("issue"):
        raw = f"CASE WHEN {ident(p.columns['issue'])} = 'too_short' THEN trim({_text(p.columns['raw'])}) END"
        return f"coalesce({value}, {raw})"
    return value


def _location_helpers(
    plans: list[MatchField], name_region: str | None, provinces: frozenset[str] | None
) -> dict[str, str]:
    """The location ladder of a record.

    ``loc__addr`` (every address field, lines joined in field order, lower case), ``loc__lines``
    (its lines: swapped lines still agree), ``loc__nums`` (its numbers), ``loc__detail`` (the
    street part of a parsed address), ``loc__district`` / ``loc__city`` / ``loc__province``: a
    place field's value, else the place parsed from the address, else (city or province) the
    region in the company name.
    """
    addresses = [p for p in plans if p.kind == Kind.ADDRESS]
    out: dict[str, str] = {}
    if addresses:
        compact = [_compact_address(_address_line(p)) for p in addresses]
        joined = f"nullif(trim(regexp_replace(concat_ws(' ', {', '.join(compact)}), '\\s*([^\\x00-\\x7F])\\s*', '\\1', 'g')), '')"
        out[LOC_ADDR] = joined
        out[LOC_NUMS] = f"regexp_extract_all({joined}, '[0-9]+')"
        out[LOC_LINES] = f"list_filter([{', '.join(compact)}], lambda x: x IS NOT NULL AND length(x) >= 4)"

        detail = _coalesce([_text(c) for p in addresses if (c := p.col("detail"))])
        if detail:
            out[LOC_DETAIL] = detail
    region_level = {}
    if name_region:
        provinces = province_regions() if provinces is None else provinces
        in_provinces = f"list_contains({literal_list(sorted(provinces))}, {name_region})"
        region_level = {
            Kind.PROVINCE: f"CASE WHEN {in_provinces} THEN {name_region} END",
            Kind.CITY: f"CASE WHEN NOT {in_provinces} THEN {name_region} END",
        }
    role_of = {Kind.DISTRICT: "district", Kind.CITY: "city", Kind.PROVINCE: "province"}
    for kind, column in zip(PLACE_KINDS, (LOC_CITY, LOC_DISTRICT, LOC_PROVINCE), strict=True):
        parts = [_text(p.columns["value"]) for p in plans if p.kind == kind]
        parts += [_text(c) for p in addresses if (c := p.col(role_of[kind]))]
        if kind in region_level:
            parts.append(region_level[kind])
        expr = _coalesce(parts)
        if expr:
            out[column] = expr
    return out


# --------------------------------------------------------------------------------------------
# comparisons


def build_comparisons(
    plans: list[MatchField],
    *,
    tf: bool,
    overrides: dict[str, dict[str, Any]],
    type_column: str | None = None,
    present: Present | None = None,
) -> list[Any]:
    """The Splink comparisons of every planned field, one per fact (config overrides replace generated ones).

    The company name fields are compared together (at the first of them), and so are the phone
    fields, the location fields (address, district, city, province: at the first of them) and a
    person-name pair; every other field has a comparison of its own.

    Args:
        plans: the compared fields.
        tf: term-frequency adjustments on the exact levels.
        overrides: field → Splink comparison dict replacing the generated comparison.
        type_column: the record's B2B / B2C column, when std_customers has it.
        present: which columns hold data (default: all), so no level is built for a fact the data
            does not carry.
    """
    present = present or Present()
    free = [p for p in plans if p.field not in overrides]
    names = [p for p in free if is_company_name(p)]
    phones = [p for p in free if p.kind == Kind.PHONE]
    places = [p for p in free if p.kind == Kind.ADDRESS or p.kind in PLACE_KINDS]
    pairs = {id(a): b for a, b in person_pairs(free)}
    paired = {id(b) for b in pairs.values()}
    out: list[Any] = []
    for plan in plans:
        if plan.field in overrides:
            out.append(overrides[plan.field])
            continue
        group = next((g for g in (names, phones, places) if plan in g), None)
        if group is not None:
            if plan is group[0]:
                out += _group_comparison(group, present, tf=tf, type_column=type_column)
        elif id(plan) in pairs:
            out.append(cmp.person_pair_comparison(plan, pairs[id(plan)], present, tf=tf))

        elif id(plan) not in paired:
            comparison = cmp.field_comparison(plan, tf=tf)
            if comparison is not None:
                out.append(comparison)
    return out


def _group_comparison(
    group: list[MatchField], present: Present, *, tf: bool, type_column: str | None
) -> list[Any]:
    """The one comparison of a group of fields: company names, phones or the location fields."""
    first = group[0]
    if is_company_name(first):
        return [cmp.company_identity_comparison(group, present, tf=tf, type_column=type_column)]
    if first.kind == Kind.PHONE:
        return [cmp.phone_comparison(group, tf=tf)]
    n_addresses = sum(p.kind == Kind.ADDRESS for p in group)
    location = cmp.location_comparison(present, tf=tf, address_fields=n_addresses, name=first.field)
    return [location] if location is not None else []


def build_settings(
    plans: list[MatchField],
    blocking_rules: list[str],
    *,
    link_type: str,
    tf: bool,
    overrides: dict[str, dict[str, Any]] | None = None,
    extra_columns: list[str] | None = None,
    type_column: str | None = None,
    present: Present | None = None,
) -> dict[str, Any]:
    """The complete Splink settings dictionary (DuckDB dialect).

    Args:
        plans: the compared fields.
        blocking_rules: Splink SQL blocking rules for prediction.
        link_type: ``link_and_dedupe`` (several sources) or ``dedupe_only``.
        tf: term-frequency adjustments on name, address, phone, e-mail and ID exact levels.
        overrides: field → Splink comparison dict replacing the generated comparison.
        extra_columns: more columns to keep in the predictions (shown in the charts).
        type_column: the record's B2B / B2C column (``customer_type``), when std_customers has it.
        present: which columns hold data (see :func:`build_comparisons`).
    """
    from splink import SettingsCreator

    comparisons = build_comparisons(
        plans, tf=tf, overrides=overrides or {}, type_column=type_column, present=present
    )
    if not comparisons:
        raise MatchSettingsError(
            "no field can be compared: map at least one column to a kind such as company_name, "
            "person_name, phone, email, tax_id or address"
        )
    creator = SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        unique_id_column_name=UNIQUE_ID,
        source_dataset_column_name=SOURCE_COLUMN,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": r, "sql_dialect": "duckdb"} for r in blocking_rules
        ],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=list(extra_columns or []),
        max_iterations=25,
        em_convergence=0.0001,
    )
    return creator.create_settings_dict("duckdb")
