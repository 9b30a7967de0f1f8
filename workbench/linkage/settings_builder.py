"""Splink settings built from the canonical fields and their kinds.

This module owns *what is compared and how*: for every comparable field of ``std_customers`` it
picks the standardized columns of its kind (``mobile_e164``, ``customer_name_core``, …) and builds a
Splink comparison from ``splink.comparison_library`` / ``comparison_level_library`` levels, with
custom SQL levels where no library comparison fits (pinyin of a Chinese name, overlap of phone
lists, branch and region markers). A project needs no hand-written Splink settings; the ``match:``
section of the config can replace any generated comparison with its own (Splink JSON form).

Every SQL condition is built from column names that were checked against ``std_customers``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from workbench.config import Kind, ProjectConfig
from workbench.db import quote_ident
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

UNIQUE_ID = "record_key"
SOURCE_COLUMN = "_source"

# the kind extras each kind may carry in std_customers (see docs/architecture.md)
KIND_ROLES: dict[Kind, tuple[str, ...]] = {
    Kind.COMPANY_NAME: ("core", "pinyin", "legal_form", "branch", "region", "script"),
    Kind.CUSTOMER_NAME: ("core", "pinyin", "legal_form", "branch", "region", "script"),
    Kind.PERSON_NAME: ("pinyin",),
    Kind.PHONE: ("e164", "all", "last8"),
    Kind.EMAIL: ("local", "domain"),
    Kind.ADDRESS: ("province", "city", "district", "detail"),
    Kind.TAX_ID: (),
    Kind.POSTCODE: (),
    Kind.PROVINCE: (),
    Kind.CITY: (),
    Kind.DISTRICT: (),
    Kind.COUNTRY: (),
    Kind.DATE: (),
    Kind.ID: (),
}

COMPARABLE_KINDS = frozenset(KIND_ROLES)


class MatchSettingsError(WorkbenchError):
    """The `match:` section names a field or column that std_customers does not have."""


@dataclass(frozen=True)
class FieldPlan:
    """One compared field: its kind and the std_customers columns that carry it.

    Attributes:
        field: canonical field name.
        kind: its kind.
        columns: role → column; role ``value`` is the standardized value, other roles are the kind
            extras that exist (``core``, ``pinyin``, ``e164``, ``all``, ``last8``, …).
        dtype: DuckDB type of the value column.
    """

    field: str
    kind: Kind
    columns: dict[str, str]
    dtype: str = "VARCHAR"

    def col(self, role: str = "value") -> str | None:
        return self.columns.get(role)

    @property
    def match_column(self) -> str:
        """The column that carries the field's identity (the name core for company names)."""
        for role in ("core", "e164", "value"):
            if role in self.columns:
                return self.columns[role]
        raise MatchSettingsError(f"field {self.field!r} has no usable column")  # pragma: no cover

    @property
    def all_columns(self) -> list[str]:
        return list(dict.fromkeys(self.columns.values()))


@dataclass
class ModelPlan:
    """Everything the Splink settings are built from."""

    fields: list[FieldPlan]
    link_type: str
    comparisons: list[Any] = field(default_factory=list)


def plan_fields(
    config: ProjectConfig, std_columns: dict[str, str], *, excluded: set[str] | None = None
) -> list[FieldPlan]:
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
    for key, names in (("fields", settings.fields or []), ("exclude_fields", settings.exclude_fields)):
        for name in names:
            if name not in kinds:
                raise MatchSettingsError(
                    f"{config.config_path}: match.{key}: {name!r} is not a canonical field of the "
                    f"customer sources; known: {sorted(kinds)}"
                )
    id_fields = {s.id_field for s in config.customer_sources if s.id_column in s.columns}
    skip = set(settings.exclude_fields) | (excluded or set())
    plans: list[FieldPlan] = []
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
        plans.append(FieldPlan(name, kind, columns, std_columns[name].upper()))
    return plans


# --------------------------------------------------------------------------------------------
# comparisons by kind


def _lr(column: str) -> tuple[str, str]:
    return quote_ident(f"{column}_l"), quote_ident(f"{column}_r")


def _null_level(column: str) -> Any:
    from splink import comparison_level_library as cll

    return cll.NullLevel(column)


def _custom(sql: str, label: str, **configure: Any) -> Any:
    from splink import comparison_level_library as cll

    level = cll.CustomLevel(sql, label_for_charts=label)
    if configure:
        level.configure(**configure)
    return level


def _exact(column: str, *, tf: bool = False, label: str | None = None) -> Any:
    from splink import comparison_level_library as cll

    level = cll.ExactMatchLevel(column, term_frequency_adjustments=tf)
    if label:
        level.configure(label_for_charts=label)
    return level


def _custom_comparison(name: str, description: str, levels: list[Any]) -> Any:
    from splink import comparison_library as cl

    return cl.CustomComparison(
        comparison_levels=levels, output_column_name=name, comparison_description=description
    )


def _pinyin_expr(plan: FieldPlan, side: str) -> str:
    """Latin letters of the name: its pinyin, or the Latin core itself (so 华瑞 ~ Huarui)."""
    core = quote_ident(f"{plan.match_column}_{side}")
    latin = f"lower(regexp_replace({core}, '[^A-Za-z0-9]', '', 'g'))"
    if plan.col("pinyin"):
        pin = quote_ident(f"{plan.col('pinyin')}_{side}")
        return f"coalesce(nullif(lower(regexp_replace({pin}, '[^A-Za-z0-9]', '', 'g')), ''), nullif({latin}, ''))"
    return f"nullif({latin}, '')"


def company_name_comparisons(plan: FieldPlan, *, tf: bool) -> list[Any]:
    """Company name: core similarity (CJK and Latin), pinyin, short name; branch/region/legal form.

    The core comparison has levels: exact core; same pinyin (``华瑞`` ~ ``Huarui``); Jaro-Winkler
    ≥ 0.92; one core contains the other (简称 short names); Jaro-Winkler ≥ 0.8 on the core or ≥ 0.9
    on the pinyin; else. The branch, region and legal-form parts get comparisons of their own, so
    that a branch (分公司) or a regional subsidiary with the same core is evidence *against* a match.
    """
    from splink import comparison_level_library as cll

    core = plan.match_column
    cl_, cr = _lr(core)
    pl, pr = _pinyin_expr(plan, "l"), _pinyin_expr(plan, "r")
    levels: list[Any] = [
        _null_level(core),
        _exact(core, tf=tf, label="exact name core"),
        _custom(f"{pl} = {pr}", "same pinyin / Latin spelling"),
        cll.JaroWinklerLevel(core, 0.92),
        _custom(
            f"(length({cl_}) >= 2 AND length({cr}) >= 2 AND "
            f"(contains({cl_}, {cr}) OR contains({cr}, {cl_}))) OR "
            f"(length({pl}) >= 4 AND length({pr}) >= 4 AND (contains({pl}, {pr}) OR contains({pr}, {pl})))",
            "one name contains the other (short name)",
        ),
        _custom(
            f"jaro_winkler_similarity({cl_}, {cr}) >= 0.8 OR jaro_winkler_similarity({pl}, {pr}) >= 0.9",
            "similar name or pinyin",
        ),
        cll.ElseLevel(),
    ]
    out = [_custom_comparison(plan.field, f"{plan.field}: company name core", levels)]
    for role, what in (("branch", "branch"), ("region", "region"), ("legal_form", "legal form")):
        column = plan.col(role)
        if column:
            out.append(_marker_comparison(plan, column, what))
    return out


def _marker_comparison(plan: FieldPlan, column: str, what: str) -> Any:
    """Branch / region / legal-form part of a name: both absent, same, only one has it, different."""
    from splink import comparison_level_library as cll

    core_l, core_r = _lr(plan.match_column)
    ml, mr = _lr(column)
    levels = [
        _custom(f"{core_l} IS NULL OR {core_r} IS NULL", f"no name to compare {what}", is_null_level=True),
        _custom(f"{ml} IS NULL AND {mr} IS NULL", f"neither name has a {what}"),
        _exact(column, label=f"same {what}"),
        _custom(f"{ml} IS NULL OR {mr} IS NULL", f"only one name has a {what}"),
        cll.ElseLevel(),
    ]
    return _custom_comparison(column, f"{plan.field}: {what} part of the name", levels)


def person_name_comparison(plan: FieldPlan, *, tf: bool) -> Any:
    """Person name: exact, same pinyin, Jaro-Winkler ≥ 0.92 / ≥ 0.8, else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [_null_level(value), _exact(value, tf=tf, label="exact name")]
    if plan.col("pinyin"):
        pl, pr = _pinyin_expr(plan, "l"), _pinyin_expr(plan, "r")
        levels.append(_custom(f"{pl} = {pr}", "same pinyin"))
    levels += [cll.JaroWinklerLevel(value, 0.92), cll.JaroWinklerLevel(value, 0.8), cll.ElseLevel()]
    return _custom_comparison(plan.field, f"{plan.field}: person name", levels)


def phone_comparison(plan: FieldPlan, *, tf: bool) -> Any:
    """Phone: exact E.164, any shared number among all numbers, same last 8 digits, else."""
    from splink import comparison_level_library as cll

    e164 = plan.col("e164") or plan.col("value")
    assert e164 is not None
    levels: list[Any] = [_null_level(e164), _exact(e164, tf=tf, label="same number (E.164)")]
    if plan.col("all"):
        al, ar = _lr(plan.columns["all"])
        levels.append(
            _custom(
                f"list_has_any(string_split({al}, ';'), string_split({ar}, ';'))", "share any number"
            )
        )
    if plan.col("last8"):
        levels.append(_exact(plan.columns["last8"], label="same last 8 digits"))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: phone", levels)


def email_comparison(plan: FieldPlan, *, tf: bool) -> Any:
    """E-mail: exact, same local part, Jaro-Winkler ≥ 0.88 on the local part, else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [_null_level(value), _exact(value, tf=tf, label="same e-mail")]
    local = plan.col("local")
    if local:
        levels += [
            _exact(local, label="same local part"),
            cll.JaroWinklerLevel(local, 0.88),
        ]
    else:
        levels.append(cll.JaroWinklerLevel(value, 0.88))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: e-mail", levels)


def address_comparison(plan: FieldPlan) -> Any:
    """Address: exact, very similar, similar detail in the same district, same district, same city."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [
        _null_level(value),
        _exact(value, label="same address"),
        cll.JaroWinklerLevel(value, 0.95),
    ]
    detail, district, city = plan.col("detail"), plan.col("district"), plan.col("city")
    if detail and district:
        dl, dr = _lr(detail)
        xl, xr = _lr(district)
        levels.append(
            _custom(
                f"{xl} = {xr} AND jaro_winkler_similarity({dl}, {dr}) >= 0.88",
                "similar street address in the same district",
            )
        )
    levels.append(cll.JaroWinklerLevel(value, 0.85))
    if district:
        levels.append(_exact(district, label="same district"))
    if city:
        levels.append(_exact(city, label="same city"))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: address", levels)


def place_comparison(plan: FieldPlan, *, tf: bool) -> Any:
    """City / district / province / country: exact (city with term frequencies), close spelling."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [_null_level(value), _exact(value, tf=tf and plan.kind == Kind.CITY)]
    if plan.kind in (Kind.CITY, Kind.DISTRICT):
        levels.append(cll.JaroWinklerLevel(value, 0.9))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: {plan.kind.value}", levels)


def postcode_comparison(plan: FieldPlan) -> Any:
    """Postcode: exact, one digit off, same leading digits (all but the last two), else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    vl, vr = _lr(value)
    return _custom_comparison(
        plan.field,
        f"{plan.field}: postcode",
        [
            _null_level(value),
            _exact(value, label="same postcode"),
            cll.LevenshteinLevel(value, 1),
            _custom(
                f"length({vl}) > 2 AND left({vl}, length({vl}) - 2) = left({vr}, length({vr}) - 2)",
                "same leading digits",
            ),
            cll.ElseLevel(),
        ],
    )


def date_comparison(plan: FieldPlan) -> Any:
    """Date: Splink's date-of-birth comparison (exact, one character off, ≤ 1 month, ≤ 1 year, ≤ 10 years)."""
    from splink import comparison_library as cl

    value = plan.col("value")
    assert value is not None
    is_string = not plan.dtype.startswith(("DATE", "TIMESTAMP"))
    kwargs: dict[str, Any] = {"input_is_string": is_string}
    if is_string:
        kwargs["datetime_format"] = "%Y-%m-%d"
    return cl.DateOfBirthComparison(value, **kwargs)


def id_comparison(plan: FieldPlan) -> Any:
    """An ID / tax ID: exact (tax IDs), or exact and up to two typing errors (other IDs)."""
    from splink import comparison_library as cl

    value = plan.col("value")
    assert value is not None
    if plan.kind == Kind.TAX_ID:
        return cl.ExactMatch(value)
    return cl.LevenshteinAtThresholds(value, [1, 2])


def build_comparisons(plans: list[FieldPlan], *, tf: bool, overrides: dict[str, dict[str, Any]]) -> list[Any]:
    """The Splink comparisons of every planned field (config overrides replace generated ones)."""
    out: list[Any] = []
    for plan in plans:
        if plan.field in overrides:
            out.append(overrides[plan.field])
            continue
        kind = plan.kind
        if kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME) and plan.col("core"):
            out.extend(company_name_comparisons(plan, tf=tf))
        elif kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME, Kind.PERSON_NAME):
            out.append(person_name_comparison(plan, tf=tf))
        elif kind == Kind.PHONE:
            out.append(phone_comparison(plan, tf=tf))
        elif kind == Kind.EMAIL:
            out.append(email_comparison(plan, tf=tf))
        elif kind == Kind.ADDRESS:
            out.append(address_comparison(plan))
        elif kind in (Kind.CITY, Kind.DISTRICT, Kind.PROVINCE, Kind.COUNTRY):
            out.append(place_comparison(plan, tf=tf))
        elif kind == Kind.POSTCODE:
            out.append(postcode_comparison(plan))
        elif kind == Kind.DATE:
            out.append(date_comparison(plan))
        elif kind in (Kind.TAX_ID, Kind.ID):
            out.append(id_comparison(plan))
    return out


def build_settings(
    plans: list[FieldPlan],
    blocking_rules: list[str],
    *,
    link_type: str,
    tf: bool,
    overrides: dict[str, dict[str, Any]] | None = None,
    extra_columns: list[str] | None = None,
) -> dict[str, Any]:
    """The complete Splink settings dictionary (DuckDB dialect).

    Args:
        plans: the compared fields.
        blocking_rules: Splink SQL blocking rules for prediction.
        link_type: ``link_and_dedupe`` (several sources) or ``dedupe_only``.
        tf: term-frequency adjustments on name, city, phone and e-mail exact levels.
        overrides: field → Splink comparison dict replacing the generated comparison.
        extra_columns: more columns to keep in the predictions (shown in the charts).
    """
    from splink import SettingsCreator

    comparisons = build_comparisons(plans, tf=tf, overrides=overrides or {})
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
