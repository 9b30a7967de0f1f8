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

from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import Kind, ProjectConfig

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
class MatchField:
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
        """The column of `role`, or None when std_customers has none."""
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
        """Every std_customers column of the field (value first)."""
        return list(dict.fromkeys(self.columns.values()))


@dataclass
class ModelPlan:
    """Everything the Splink settings are built from."""

    fields: list[MatchField]
    link_type: str
    comparisons: list[Any] = field(default_factory=list)


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
    for key, names in (("fields", settings.fields or []), ("exclude_fields", settings.exclude_fields)):
        for name in names:
            if name not in kinds:
                raise MatchSettingsError(
                    f"{config.config_path}: match.{key}: {name!r} is not a canonical field of the "
                    f"customer sources; known: {sorted(kinds)}"
                )
    id_fields = {s.id_field for s in config.customer_sources if s.id_column in s.columns}
    skip = set(settings.exclude_fields) | (excluded or set())
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
        plans.append(MatchField(name, kind, columns, std_columns[name].upper()))
    return plans


# --------------------------------------------------------------------------------------------
# comparisons by kind


# m probabilities fixed instead of estimated, for levels that (almost) never occur among true matches:
# EM drives such an m to exactly 0, which Splink 5 refuses (it raises instead of clamping), and
# the whole EM pass is lost. The values are domain knowledge, not fitted: two different *valid*
# tax IDs are different legal entities (a typing error nearly always breaks the check character);
# a name with a branch marker (分公司) against one without, or two different branch markers, are
# different customers unless a source simply dropped the marker.
FIXED_TAX_ID_M = 0.001
FIXED_MARKER_M: dict[str, tuple[float | None, float | None]] = {
    "branch": (0.01, 0.001),  # only one name has a branch marker / two different branch markers
    "region": (None, 0.002),  # two different regions (华瑞(上海) vs 华瑞(北京)): sister companies
    "legal_form": (None, None),  # sources drop or romanise legal forms: left to EM
}


def _fixed_m(level: Any, m: float | None) -> Any:
    if m is not None:
        level.configure(m_probability=m, fix_m_probability=True)
    return level


def _lr(column: str) -> tuple[str, str]:
    return ident(f"{column}_l"), ident(f"{column}_r")


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


def _similar_within(column: str, within: str, label: str, *, also: str = "") -> Any:
    """A level: the same `within` value and a Jaro-Winkler similarity ≥ 0.88 on `column` (and `also`)."""
    vl, vr = _lr(column)
    wl, wr = _lr(within)
    sql = f"{wl} = {wr} AND jaro_winkler_similarity({vl}, {vr}) >= 0.88"
    return _custom(f"{sql} AND {also}" if also else sql, label)


def _custom_comparison(name: str, description: str, levels: list[Any]) -> Any:
    from splink import comparison_library as cl

    return cl.CustomComparison(
        comparison_levels=levels, output_column_name=name, comparison_description=description
    )


# --------------------------------------------------------------------------------------------
# helper columns: computed once per record (not once per compared pair) before Splink runs

PIN, FIRST, HAN, NUMS = "__pin", "__first", "__han", "__nums"
PHONES = "phones__all"


def helper(plan: MatchField, suffix: str) -> str:
    """Name of a helper column of a field (e.g. ``customer_name__pin``)."""
    return f"{plan.field}{suffix}"


def helper_columns(plans: list[MatchField]) -> dict[str, str]:
    """Helper column → SQL over std_customers columns, for the records table Splink reads.

    - ``<name>__pin``: Latin letters of a name: its pinyin, or the Latin core itself (华瑞 ~ Huarui);
    - ``<name>__first``: the leading Latin word of a company name (NULL for a Chinese name);
    - ``<name>__han``: the name core has Chinese characters;
    - ``phones__all``: every number of every phone field (a list; NULL when none);
    - ``<address>__nums``: the numbers in an address (house number, floor, postcode).
    """
    out: dict[str, str] = {}
    for p in plans:
        if is_company_name(p) or (p.kind == Kind.PERSON_NAME and p.col("pinyin")):
            base = f"CAST({ident(p.match_column)} AS VARCHAR)"
            latin = f"nullif(lower(regexp_replace({base}, '[^A-Za-z0-9]', '', 'g')), '')"
            if p.col("pinyin"):
                pin = f"CAST({ident(p.columns['pinyin'])} AS VARCHAR)"
                out[helper(p, PIN)] = (
                    f"coalesce(nullif(lower(regexp_replace({pin}, '[^A-Za-z0-9]', '', 'g')), ''), {latin})"
                )
            else:
                out[helper(p, PIN)] = latin
        if is_company_name(p):
            base = f"CAST({ident(p.match_column)} AS VARCHAR)"
            out[helper(p, FIRST)] = f"nullif(regexp_extract(lower({base}), '^[a-z]+'), '')"
            out[helper(p, HAN)] = f"regexp_matches({base}, '\\p{{Han}}')"
        if p.kind == Kind.ADDRESS:
            value = f"CAST({ident(p.columns['value'])} AS VARCHAR)"
            out[helper(p, NUMS)] = f"regexp_extract_all({value}, '[0-9]+')"
    phones = [p for p in plans if p.kind == Kind.PHONE]
    if phones:
        parts = ", ".join(
            f"string_split(coalesce(CAST({ident(p.col('all') or p.col('e164') or p.columns['value'])} AS VARCHAR), ''), ';')"
            for p in phones
        )
        numbers = f"list_distinct(list_filter(flatten([{parts}]), lambda x: x <> ''))"
        out[PHONES] = f"CASE WHEN len({numbers}) > 0 THEN {numbers} END"
    return out


def _side(column: str, side: str) -> str:
    return ident(f"{column}_{side}")


def _pinyin_expr(plan: MatchField, side: str) -> str:
    return _side(helper(plan, PIN), side)


def _any(plans: list[MatchField], condition: Any) -> str:
    """OR of `condition(l_expr, r_expr, a, b)` over every pair of fields (a on the left, b on the right)."""
    return " OR ".join(f"({condition(a, b)})" for a in plans for b in plans)


def company_name_comparisons(
    plans: list[MatchField], *, tf: bool, type_column: str | None = None
) -> list[Any]:
    """Company names (one or several fields, e.g. full name and 简称): one comparison, plus markers.

    The name fields of a record are compared with every name field of the other record, so a
    source that keeps only the short name (简称) meets the full name of another source; agreement on
    both fields counts once. Levels, best first: exact core of the first (main) name field; the
    short name of one equals a name of a record that has no main name; another name field agrees
    while the main names differ (two companies with one short name); same pinyin (``华瑞`` ~
    ``Huarui``, homophone typing errors); near-identical (Jaro-Winkler ≥ 0.92 or one character off:
    a 4-character CJK core with one typo scores only 0.88); one name contains the other (short
    names); the pinyin of a Chinese name starts with the other's first Latin word (a romanised
    name that translates the industry word: ``华瑞科技`` ~ ``Huarui Technology``); similar
    (Jaro-Winkler ≥ 0.88: lower scores are common between different Latin names built from the
    same words, such as ``Orchid & Sentosa Logistics`` and ``Sentosa & Kallang Logistics``);
    similar pinyin across scripts; else.

    The branch, region and legal-form parts of the main name get comparisons of their own, so that
    a branch (分公司) or a regional subsidiary with the same core is evidence *against* a match.
    """
    from splink import comparison_level_library as cll

    main = plans[0]

    def core(p: MatchField, side: str) -> str:
        return ident(f"{p.match_column}_{side}")

    def pin(p: MatchField, side: str) -> str:
        return _pinyin_expr(p, side)

    def first(p: MatchField, side: str) -> str:
        return _side(helper(p, FIRST), side)

    def han(p: MatchField, side: str) -> str:
        return _side(helper(p, HAN), side)

    all_null = " OR ".join(
        "(" + " AND ".join(f"{core(p, side)} IS NULL" for p in plans) + ")" for side in ("l", "r")
    )
    same = _any(plans, lambda a, b: f"{core(a, 'l')} = {core(b, 'r')}")
    levels: list[Any] = [_custom(all_null, "no name", is_null_level=True)]
    if type_column:
        # an individual's name (汪军) is shared by many people: its own level, so EM weighs it apart
        # from a company name, with term frequencies on the name itself
        tl, tr = _lr(type_column)
        ml, mr = core(main, "l"), core(main, "r")
        levels.append(
            _custom(
                f"{ml} = {mr} AND {tl} = 'B2C' AND {tr} = 'B2C'",
                "same name, both individuals",
                **(
                    {
                        "tf_adjustment_column": main.match_column,
                        "tf_adjustment_weight": 1.0,
                        "disable_tf_exact_match_detection": True,
                    }
                    if tf
                    else {}
                ),
            )
        )
    levels.append(_exact(main.match_column, tf=tf, label="exact name core"))
    if len(plans) > 1:
        ml, mr = core(main, "l"), core(main, "r")
        levels += [
            _custom(f"({ml} IS NULL OR {mr} IS NULL) AND ({same})", "short name equals the other's name"),
            _custom(
                same,
                "same short name, different full names",
                # a short name shared by many companies (Weber Elektronik) says little; there is no
                # exact level on that column, so the level's own u is the base of the adjustment
                **(
                    {
                        "tf_adjustment_column": plans[1].match_column,
                        "tf_adjustment_weight": 1.0,
                        "disable_tf_exact_match_detection": True,
                    }
                    if tf
                    else {}
                ),
            ),
        ]
    levels += [
        _custom(_any(plans, lambda a, b: f"{pin(a, 'l')} = {pin(b, 'r')}"), "same pinyin / Latin spelling"),
        _custom(
            _any(
                plans,
                lambda a, b: (
                    f"jaro_winkler_similarity({core(a, 'l')}, {core(b, 'r')}) >= 0.92 OR "
                    f"(least(length({core(a, 'l')}), length({core(b, 'r')})) >= 4 AND "
                    f"levenshtein({core(a, 'l')}, {core(b, 'r')}) <= 1)"
                ),
            ),
            "near-identical name (Jaro-Winkler ≥ 0.92 or one character off)",
        ),
        _custom(
            _any(
                plans,
                lambda a, b: (
                    f"(length({core(a, 'l')}) >= 2 AND length({core(b, 'r')}) >= 2 AND "
                    f"(contains({core(a, 'l')}, {core(b, 'r')}) OR contains({core(b, 'r')}, {core(a, 'l')}))) OR "
                    f"(length({pin(a, 'l')}) >= 4 AND length({pin(b, 'r')}) >= 4 AND "
                    f"(contains({pin(a, 'l')}, {pin(b, 'r')}) OR contains({pin(b, 'r')}, {pin(a, 'l')})))"
                ),
            ),
            "one name contains the other (short name)",
        ),
        _custom(
            _any(
                plans,
                lambda a, b: (
                    f"(length({first(a, 'l')}) >= 4 AND {han(b, 'r')} "
                    f"AND starts_with({pin(b, 'r')}, {first(a, 'l')})) OR "
                    f"(length({first(b, 'r')}) >= 4 AND {han(a, 'l')} "
                    f"AND starts_with({pin(a, 'l')}, {first(b, 'r')}))"
                ),
            ),
            "pinyin starts with the other name's first word (华瑞科技 ~ Huarui Technology)",
        ),
        _custom(
            _any(plans, lambda a, b: f"jaro_winkler_similarity({core(a, 'l')}, {core(b, 'r')}) >= 0.88"),
            "similar name (Jaro-Winkler ≥ 0.88)",
        ),
        _custom(
            _any(
                plans,
                lambda a, b: (
                    f"({han(a, 'l')} OR {han(b, 'r')}) "
                    f"AND jaro_winkler_similarity({pin(a, 'l')}, {pin(b, 'r')}) >= 0.9"
                ),
            ),
            "similar pinyin across scripts",
        ),
        cll.ElseLevel(),
    ]
    names = ", ".join(p.field for p in plans)
    out = [_custom_comparison(main.field, f"company name ({names})", levels)]
    for role, what in (("branch", "branch"), ("region", "region"), ("legal_form", "legal form")):
        column = main.col(role)
        if column:
            out.append(_marker_comparison(main, column, what, role))
    return out


def _marker_comparison(plan: MatchField, column: str, what: str, role: str) -> Any:
    """Branch / region / legal-form part of a name: both absent, same, only one has it, different."""
    from splink import comparison_level_library as cll

    core_l, core_r = _lr(plan.match_column)
    ml, mr = _lr(column)
    one, different = FIXED_MARKER_M.get(role, (None, None))
    levels = [
        _custom(f"{core_l} IS NULL OR {core_r} IS NULL", f"no name to compare {what}", is_null_level=True),
        _custom(f"{ml} IS NULL AND {mr} IS NULL", f"neither name has a {what}"),
        _exact(column, label=f"same {what}"),
        _fixed_m(_custom(f"{ml} IS NULL OR {mr} IS NULL", f"only one name has a {what}"), one),
        _fixed_m(cll.ElseLevel(), different),
    ]
    return _custom_comparison(column, f"{plan.field}: {what} part of the name", levels)


def person_name_comparison(plan: MatchField, *, tf: bool) -> Any:
    """Person name: exact, same pinyin, Jaro-Winkler ≥ 0.92 / ≥ 0.88, else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [_null_level(value), _exact(value, tf=tf, label="exact name")]
    if plan.col("pinyin"):
        pl, pr = _pinyin_expr(plan, "l"), _pinyin_expr(plan, "r")
        levels.append(_custom(f"{pl} = {pr}", "same pinyin"))
    levels += [cll.JaroWinklerLevel(value, 0.92), cll.JaroWinklerLevel(value, 0.88), cll.ElseLevel()]
    return _custom_comparison(plan.field, f"{plan.field}: person name", levels)


def phone_comparison(plans: list[MatchField], *, tf: bool) -> Any:
    """Phones (all phone fields of a record together): same main number, any shared number, same last 8.

    Every number of every phone field of one record is compared with every number of the other
    (a ledger's 联系电话 often holds the mobile another source keeps under 手机). The first level,
    exact E.164 on the first phone field, has term-frequency adjustments: a switchboard shared by a
    whole group weighs less than a personal mobile.
    """
    from splink import comparison_level_library as cll

    main = plans[0]
    e164 = main.col("e164") or main.columns["value"]

    def number(p: MatchField) -> str:
        return p.col("e164") or p.columns["value"]

    all_null = " OR ".join(
        "(" + " AND ".join(f"{ident(number(p) + '_' + side)} IS NULL" for p in plans) + ")"
        for side in ("l", "r")
    )
    levels: list[Any] = [
        _custom(all_null, "no phone", is_null_level=True),
        _exact(e164, tf=tf, label=f"same {main.field} number"),
        _custom(f"list_has_any({_side(PHONES, 'l')}, {_side(PHONES, 'r')})", "share a number"),
    ]
    last8 = [p for p in plans if p.col("last8")]
    if last8:
        levels.append(
            _custom(
                _any(
                    last8,
                    lambda a, b: (
                        f"{ident(a.columns['last8'] + '_l')} = {ident(b.columns['last8'] + '_r')}"
                    ),
                ),
                "same last 8 digits",
            )
        )
    levels.append(cll.ElseLevel())
    names = ", ".join(p.field for p in plans)
    return _custom_comparison(main.field, f"phones ({names})", levels)


def email_comparison(plan: MatchField, *, tf: bool) -> Any:
    """E-mail: exact; same local part (with term frequencies: ``info@`` or ``sales@`` say little,
    ``zhangwei1985@`` at two providers says much); a similar local part at the same domain (a
    typing error); else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    levels: list[Any] = [_null_level(value), _exact(value, tf=tf, label="same e-mail")]
    local, domain = plan.col("local"), plan.col("domain")
    if local:
        levels.append(_exact(local, tf=tf, label="same local part"))
        if domain:
            levels.append(_similar_within(local, domain, "similar local part at the same domain"))
    else:
        levels.append(cll.JaroWinklerLevel(value, 0.92))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: e-mail", levels)


def _compatible_numbers(nl: str, nr: str) -> str:
    """The numbers of one address are all in the other (a floor or postcode may be added)."""
    return f"(list_has_all({nl}, {nr}) OR list_has_all({nr}, {nl}))"


def address_comparison(plan: MatchField) -> Any:
    """Address: exact; same street detail; near-identical or one containing the other *with house
    numbers that agree* (the numbers of one are all in the other); similar detail in the same district; same
    district; same city; else.

    Numbers decide between neighbours: ``Lindenallee 29`` and ``Lindenallee 61`` (or 世纪大道100号 and
    世纪大道102号) are near-identical strings but different buildings, so they only count as the
    same district or city.
    """
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    vl, vr = _lr(value)
    nl, nr = _side(helper(plan, NUMS), "l"), _side(helper(plan, NUMS), "r")
    same_numbers = _compatible_numbers(nl, nr)
    levels: list[Any] = [_null_level(value), _exact(value, label="same address")]
    detail, district, city = plan.col("detail"), plan.col("district"), plan.col("city")
    if detail:
        levels.append(_exact(detail, label="same street address (detail)"))
    levels += [
        _custom(
            f"{same_numbers} AND (jaro_winkler_similarity({vl}, {vr}) >= 0.9 OR "
            f"(least(length({vl}), length({vr})) >= 6 AND (contains({vl}, {vr}) OR contains({vr}, {vl}))))",
            "near-identical address or one contains the other, numbers agree",
        ),
    ]
    if detail and district:
        levels.append(
            _similar_within(
                detail, district, "similar street address in the same district, numbers agree", also=same_numbers
            )
        )
    if district:
        levels.append(_exact(district, label="same district"))
    if city:
        levels.append(_exact(city, label="same city"))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: address", levels)


def place_sources(plans: list[MatchField]) -> dict[Kind, str]:
    """Address components that stand in for a missing city / district / province field value."""
    role_of = {Kind.CITY: "city", Kind.DISTRICT: "district", Kind.PROVINCE: "province"}
    out: dict[Kind, str] = {}
    for kind, role in role_of.items():
        column = next((p.col(role) for p in plans if p.kind == Kind.ADDRESS and p.col(role)), None)
        if column:
            out[kind] = column
    return out


def place_comparison(plan: MatchField, *, tf: bool, fallback: str | None = None) -> Any:
    """City / district / province / country: exact (city with term frequencies), close spelling.

    With `fallback` (the same component parsed out of an address field), a record without the
    field's value uses its address's component, so a source with a separate City column meets a
    source that writes the city inside the address.
    """
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    if fallback:
        vl, vr = (f"coalesce({ident(value + s)}, {ident(fallback + s)})" for s in ("_l", "_r"))
        levels: list[Any] = [
            _custom(f"{vl} IS NULL OR {vr} IS NULL", f"{value} is NULL", is_null_level=True),
            _custom(f"{vl} = {vr}", f"same {value}"),
        ]
        if plan.kind in (Kind.CITY, Kind.DISTRICT):
            levels.append(_custom(f"jaro_winkler_similarity({vl}, {vr}) >= 0.9", f"similar {value}"))
    else:
        levels = [_null_level(value), _exact(value, tf=tf and plan.kind == Kind.CITY)]
        if plan.kind in (Kind.CITY, Kind.DISTRICT):
            levels.append(cll.JaroWinklerLevel(value, 0.9))
    levels.append(cll.ElseLevel())
    return _custom_comparison(plan.field, f"{plan.field}: {plan.kind.value}", levels)


def postcode_comparison(plan: MatchField, *, tf: bool = False) -> Any:
    """Postcode: exact (with term frequencies: a postcode shared by a whole business district says
    less), one digit off, same leading digits (all but the last two), else."""
    from splink import comparison_level_library as cll

    value = plan.col("value")
    assert value is not None
    vl, vr = _lr(value)
    return _custom_comparison(
        plan.field,
        f"{plan.field}: postcode",
        [
            _null_level(value),
            _exact(value, tf=tf, label="same postcode"),
            cll.LevenshteinLevel(value, 1),
            _custom(
                f"length({vl}) > 2 AND left({vl}, length({vl}) - 2) = left({vr}, length({vr}) - 2)",
                "same leading digits",
            ),
            cll.ElseLevel(),
        ],
    )


def date_comparison(plan: MatchField) -> Any:
    """Date: Splink's date-of-birth comparison (exact, one character off, ≤ 1 month, ≤ 1 year, ≤ 10 years)."""
    from splink import comparison_library as cl

    value = plan.col("value")
    assert value is not None
    is_string = not plan.dtype.startswith(("DATE", "TIMESTAMP"))
    kwargs: dict[str, Any] = {"input_is_string": is_string}
    if is_string:
        kwargs["datetime_format"] = "%Y-%m-%d"
    return cl.DateOfBirthComparison(value, **kwargs)


def id_comparison(plan: MatchField) -> Any:
    """An ID / tax ID: exact (tax IDs), or exact and up to two typing errors (other IDs)."""
    from splink import comparison_library as cl

    value = plan.col("value")
    assert value is not None
    if plan.kind == Kind.TAX_ID:
        from splink import comparison_level_library as cll

        return _custom_comparison(
            plan.field,
            f"{plan.field}: tax ID",
            [
                _null_level(value),
                _exact(value, label=f"same {plan.field}"),
                _fixed_m(
                    cll.ElseLevel().configure(label_for_charts=f"different valid {plan.field}"),
                    FIXED_TAX_ID_M,
                ),
            ],
        )
    return cl.LevenshteinAtThresholds(value, [1, 2])


def is_company_name(plan: MatchField) -> bool:
    """A company (or customer) name field with a name core."""
    return plan.kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME) and bool(plan.col("core"))


_PLACE_KINDS = (Kind.CITY, Kind.DISTRICT, Kind.PROVINCE, Kind.COUNTRY)


def _field_comparison(plan: MatchField, *, tf: bool, places: dict[Kind, str]) -> Any | None:
    """The comparison of a field compared on its own (company names and phones are compared as groups)."""
    kind = plan.kind
    if kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME, Kind.PERSON_NAME):
        return person_name_comparison(plan, tf=tf)
    if kind == Kind.EMAIL:
        return email_comparison(plan, tf=tf)
    if kind == Kind.ADDRESS:
        return address_comparison(plan)
    if kind in _PLACE_KINDS:
        return place_comparison(plan, tf=tf, fallback=places.get(kind))
    if kind == Kind.POSTCODE:
        return postcode_comparison(plan, tf=tf)
    if kind == Kind.DATE:
        return date_comparison(plan)
    if kind in (Kind.TAX_ID, Kind.ID):
        return id_comparison(plan)
    return None


def build_comparisons(
    plans: list[MatchField],
    *,
    tf: bool,
    overrides: dict[str, dict[str, Any]],
    type_column: str | None = None,
) -> list[Any]:
    """The Splink comparisons of every planned field (config overrides replace generated ones).

    The company name fields are compared together (at the first of them), and so are the phone
    fields; every other field has a comparison of its own.
    """
    out: list[Any] = []
    names = [p for p in plans if is_company_name(p) and p.field not in overrides]
    phones = [p for p in plans if p.kind == Kind.PHONE and p.field not in overrides]
    places = place_sources(plans)
    for plan in plans:
        if plan.field in overrides:
            out.append(overrides[plan.field])
        elif is_company_name(plan):
            if plan is names[0]:
                out.extend(company_name_comparisons(names, tf=tf, type_column=type_column))
        elif plan.kind == Kind.PHONE:
            if plan is phones[0]:
                out.append(phone_comparison(phones, tf=tf))
        else:
            comparison = _field_comparison(plan, tf=tf, places=places)
            if comparison is not None:
                out.append(comparison)
    return out


def build_settings(
    plans: list[MatchField],
    blocking_rules: list[str],
    *,
    link_type: str,
    tf: bool,
    overrides: dict[str, dict[str, Any]] | None = None,
    extra_columns: list[str] | None = None,
    type_column: str | None = None,
) -> dict[str, Any]:
    """The complete Splink settings dictionary (DuckDB dialect).

    Args:
        plans: the compared fields.
        blocking_rules: Splink SQL blocking rules for prediction.
        link_type: ``link_and_dedupe`` (several sources) or ``dedupe_only``.
        tf: term-frequency adjustments on name, city, phone and e-mail exact levels.
        overrides: field → Splink comparison dict replacing the generated comparison.
        extra_columns: more columns to keep in the predictions (shown in the charts).
        type_column: the record's B2B / B2C column (``customer_type``), when std_customers has it.
    """
    from splink import SettingsCreator

    comparisons = build_comparisons(plans, tf=tf, overrides=overrides or {}, type_column=type_column)
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
