"""The Splink comparisons of a match, one per fact, built from the fields' kinds and the data at hand.

Each fact about a customer is one comparison, so it is counted once:

- **company identity** (:func:`company_identity_comparison`): every company-name field of one record
  against every name field of the other (full name, 简称, romanised name), and what tells a branch,
  a sister or a subsidiary from the company itself: the canonical branch marker (``上海市分公司`` for
  ``上海分公司`` and ``Shanghai Branch``) and the region in the name (``华瑞(上海)`` vs ``华瑞(北京)``);
- **location** (:func:`location_comparison`): address ⊃ district ⊃ city ⊃ province in one ladder;
  the region in the name stands in for a record without any place; address lines are compared
  together (all address fields of a record, so swapped lines still agree); China-only levels
  (district, similar street within a district) exist only when the data has districts;
- **person names** (:func:`person_pair_comparison`): two name fields of one source (given name and
  surname) compared together, with a swap level; a single person-name field on its own;
- **phones**, **e-mail**, **IDs** (edit distance, the raw value kept when the standardized one was
  rejected), **tax IDs**, **postcode**, **dates**, **country**.

Term-frequency adjustments sit on the exact levels of name cores, addresses, phones, e-mails and
IDs: a name shared by many companies, a building's address or a switchboard says less.

Every condition is built from column names checked against ``std_customers`` (or helper columns
derived from them, see :mod:`workbench.core.linkage.settings_builder`), quoted with
:func:`workbench.engine.sql.ident`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.core.linkage.fields import (
    FIRST,
    HAN,
    ID_KINDS,
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
    MatchField,
    Present,
    helper,
)
from workbench.engine.sql import ident
from workbench.project.config import Kind

# m probabilities fixed instead of estimated, for levels that (almost) never occur among true
# matches: EM drives such an m to exactly 0, which Splink 5 refuses (it raises instead of
# clamping), and the whole EM pass is lost. The values are domain knowledge, not fitted: two
# different *valid* tax IDs are different legal entities (a typing error nearly always breaks the
# check character); two different branch markers (上海分公司 / 北京分公司) are two registered branches.
FIXED_TAX_ID_M = 0.001
FIXED_DIFFERENT_BRANCH_M = 0.001

NEAR_JW, SIMILAR_JW, PLACE_JW = 0.92, 0.88, 0.9


# --------------------------------------------------------------------------------------------
# small builders


def side(column: str, s: str) -> str:
    """The quoted column of one side of a pair (``"mobile_e164_l"``)."""
    return ident(f"{column}_{s}")


def lr(column: str) -> tuple[str, str]:
    """The quoted left and right columns of a pair."""
    return side(column, "l"), side(column, "r")


def custom(sql: str, label: str, **configure: Any) -> Any:
    """A custom Splink level with a chart label (and optional ``configure`` keywords)."""
    from splink import comparison_level_library as cll

    level = cll.CustomLevel(sql, label_for_charts=label)
    if configure:
        level.configure(**configure)
    return level


def tf_on(column: str, tf: bool) -> dict[str, Any]:
    """Keywords of a custom level adjusted by the term frequency of `column` (nothing when off)."""
    if not tf:
        return {}
    return {
        "tf_adjustment_column": column,
        "tf_adjustment_weight": 1.0,
        "disable_tf_exact_match_detection": True,
    }


def exact(column: str, *, tf: bool = False, label: str | None = None) -> Any:
    """Splink's exact level on `column` (with term frequencies when `tf`)."""
    from splink import comparison_level_library as cll

    level = cll.ExactMatchLevel(column, term_frequency_adjustments=tf)
    if label:
        level.configure(label_for_charts=label)
    return level


def fixed_m(level: Any, m: float) -> Any:
    """The level with its m probability fixed (see :data:`FIXED_TAX_ID_M`)."""
    level.configure(m_probability=m, fix_m_probability=True)
    return level


def null_level(column: str) -> Any:
    """Splink's null level on `column`."""
    from splink import comparison_level_library as cll

    return cll.NullLevel(column)


def else_level(label: str | None = None) -> Any:
    """Splink's else level."""
    from splink import comparison_level_library as cll

    level = cll.ElseLevel()
    if label:
        level.configure(label_for_charts=label)
    return level


def comparison(name: str, description: str, levels: list[Any]) -> Any:
    """A custom comparison with its output column name."""
    from splink import comparison_library as cl

    return cl.CustomComparison(
        comparison_levels=levels, output_column_name=name, comparison_description=description
    )


def any_pair(plans: list[MatchField], condition: Callable[[MatchField, MatchField], str]) -> str:
    """OR of `condition(a, b)` over every pair of fields (a on the left, b on the right)."""
    return " OR ".join(f"({condition(a, b)})" for a in plans for b in plans)


def both_present_differ(column: str) -> str:
    """Both sides have `column` and the values differ."""
    a, b = lr(column)
    return f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <> {b})"


def half_agrees(a: str, b: str) -> str:
    """A cheap test that holds whenever `a` and `b` are at most one edit (or one transposition) apart.

    An edit leaves the text before it and (counted from the end) after it unchanged, so one half of
    the shorter string, less two characters, is shared at the start or at the end. Evaluated first,
    it spares the edit distance on the millions of random pairs that share nothing.
    """
    k = f"greatest(0, least(length({a}), length({b})) // 2 - 2)"
    return (
        f"abs(length({a}) - length({b})) <= 1 AND "
        f"(left({a}, {k}) = left({b}, {k}) OR right({a}, {k}) = right({b}, {k}))"
    )


def compatible(column: str, *, similar: bool = False) -> str:
    """The sides agree on `column` (or are spelled alike, with `similar`), or one of them lacks it."""
    a, b = lr(column)
    alike = f" OR jaro_winkler_similarity({a}, {b}) >= {PLACE_JW}" if similar else ""
    return f"({a} IS NULL OR {b} IS NULL OR {a} = {b}{alike})"


# --------------------------------------------------------------------------------------------
# company identity


def company_identity_comparison(
    plans: list[MatchField], present: Present, *, tf: bool, type_column: str | None = None
) -> Any:
    """Company names and what tells a company from its branches, sisters and subsidiaries.

    The name fields of a record (full name, 简称, …) are compared with every name field of the
    other record, so a ledger's 简称 meets a CRM's full name and agreement on both counts once.
    Levels, first match wins:

    - no name on one side (null);
    - same name, both individuals (an individual's name, 汪军, is shared by many people);
    - the **same name** (an equal core or pinyin in any two fields) where **one is a branch**
      (``华瑞科技有限公司上海分公司`` vs ``华瑞科技有限公司``), **both are different branches**, or
      the names carry **different regions** (``华瑞(上海)`` vs ``华瑞(北京)``, sister companies):
      before the positive levels, so these never count as the company itself;
    - exact core of the main name, same region (or none) / only one name gives a region;
    - a short name equals the other's name; the same short name under different full names;
    - same pinyin / Latin spelling (homophones, 华瑞 ~ Huarui); near-identical (Jaro-Winkler ≥ 0.92
      or one character off); one name contains the other (简称 ``康成`` in ``康成科技``); the pinyin
      starts with the other's first Latin word (``运成化工`` ~ ``Yuncheng Chemical``); similar
      (Jaro-Winkler ≥ 0.88); similar pinyin across scripts; else.

    The branch and region markers are record-level helper columns (the first name field that has
    one); the levels that need them exist only when the data has them.
    """
    main = plans[0]
    branch = NAME_BRANCH if present.has(NAME_BRANCH) else None
    region = NAME_REGION if present.has(NAME_REGION) else None
    null = " OR ".join("(" + " AND ".join(f"{_core(p, s)} IS NULL" for p in plans) + ")" for s in ("l", "r"))
    same = (
        any_pair(plans, lambda a, b: f"{_core(a, 'l')} = {_core(b, 'r')}")
        + " OR "
        + any_pair(plans, lambda a, b: f"length({_pin(a, 'l')}) >= 4 AND {_pin(a, 'l')} = {_pin(b, 'r')}")
    )
    levels: list[Any] = [custom(null, "no name", is_null_level=True)]
    ml, mr = _core(main, "l"), _core(main, "r")
    if type_column and present.has(type_column):
        tl, tr = lr(type_column)
        levels.append(
            custom(
                f"{ml} = {mr} AND {tl} = 'B2C' AND {tr} = 'B2C'",
                "same name, both individuals",
                **tf_on(main.match_column, tf),
            )
        )
    levels += _marker_levels(same, branch, region)
    if region:
        rl, rr = lr(region)
        levels.append(
            custom(
                f"{ml} = {mr} AND ({rl} = {rr} OR ({rl} IS NULL AND {rr} IS NULL))",
                "exact name",
                **tf_on(main.match_column, tf),
            )
        )
        levels.append(
            custom(f"{ml} = {mr}", "exact name, only one gives a region", **tf_on(main.match_column, tf))
        )
    else:
        levels.append(exact(main.match_column, tf=tf, label="exact name"))
    levels += _short_name_levels(plans, tf)
    levels += _similar_name_levels(plans)
    levels.append(else_level())
    names = ", ".join(p.field for p in plans)
    return comparison(main.field, f"company identity ({names})", levels)


def _core(p: MatchField, s: str) -> str:
    return side(p.match_column, s)


def _pin(p: MatchField, s: str) -> str:
    return side(helper(p, PIN), s)


def _marker_levels(same: str, branch: str | None, region: str | None) -> list[Any]:
    """The levels where the names agree but a marker says "another legal entity or branch"."""
    levels: list[Any] = []
    if branch:
        bl, br = lr(branch)
        levels.append(
            custom(f"({same}) AND (({bl} IS NULL) <> ({br} IS NULL))", "same name, one is a branch")
        )
        levels.append(
            fixed_m(
                custom(f"({same}) AND {both_present_differ(branch)}", "same name, different branches"),
                FIXED_DIFFERENT_BRANCH_M,
            )
        )
    if region:
        levels.append(custom(f"({same}) AND {both_present_differ(region)}", "same name, different regions"))
    return levels


def _short_name_levels(plans: list[MatchField], tf: bool) -> list[Any]:
    if len(plans) < 2:
        return []
    ml, mr = _core(plans[0], "l"), _core(plans[0], "r")
    same = any_pair(plans, lambda a, b: f"{_core(a, 'l')} = {_core(b, 'r')}")
    return [
        custom(f"({ml} IS NULL OR {mr} IS NULL) AND ({same})", "short name equals the other's name"),
        # a short name shared by many companies says little: the level's own u is the base of the
        # adjustment (there is no exact level on that column)
        custom(same, "same short name, different full names", **tf_on(plans[1].match_column, tf)),
    ]


def _similar_name_levels(plans: list[MatchField]) -> list[Any]:
    def first(p: MatchField, s: str) -> str:
        return side(helper(p, FIRST), s)

    def han(p: MatchField, s: str) -> str:
        return side(helper(p, HAN), s)

    def same_script(a: MatchField, b: MatchField) -> str:
        # text in two scripts is never similar letter by letter; the cheap test goes first
        return f"{han(a, 'l')} = {han(b, 'r')}"

    def pin_similar(a: MatchField, b: MatchField) -> str:

        return f"({han(a, 'l')} OR {han(b, 'r')}) AND jaro_winkler_similarity({_pin(a, 'l')}, {_pin(b, 'r')}) >= {PLACE_JW}"

    return [
        custom(
            any_pair(plans, lambda a, b: f"{_pin(a, 'l')} = {_pin(b, 'r')}"), "same pinyin / Latin spelling"
        ),
        custom(
            any_pair(
                plans,
                lambda a, b: (
                    f"{same_script(a, b)} AND (jaro_winkler_similarity({_core(a, 'l')}, {_core(b, 'r')}) >= {NEAR_JW} OR "
                    f"(least(length({_core(a, 'l')}), length({_core(b, 'r')})) >= 4 AND "
                    f"{half_agrees(_core(a, 'l'), _core(b, 'r'))} AND levenshtein({_core(a, 'l')}, {_core(b, 'r')}) <= 1))"
                ),
            ),
            "near-identical name (Jaro-Winkler ≥ 0.92 or one character off)",
        ),
        custom(
            any_pair(
                plans,
                lambda a, b: (
                    f"(length({_core(a, 'l')}) >= 2 AND length({_core(b, 'r')}) >= 2 AND "
                    f"(contains({_core(a, 'l')}, {_core(b, 'r')}) OR contains({_core(b, 'r')}, {_core(a, 'l')}))) OR "
                    f"(length({_pin(a, 'l')}) >= 4 AND length({_pin(b, 'r')}) >= 4 AND "
                    f"(contains({_pin(a, 'l')}, {_pin(b, 'r')}) OR contains({_pin(b, 'r')}, {_pin(a, 'l')})))"
                ),
            ),
            "one name contains the other (short name)",
        ),
        custom(
            any_pair(
                plans,
                lambda a, b: (
                    f"(length({first(a, 'l')}) >= 4 AND {han(b, 'r')} "
                    f"AND starts_with({_pin(b, 'r')}, {first(a, 'l')})) OR "
                    f"(length({first(b, 'r')}) >= 4 AND {han(a, 'l')} "
                    f"AND starts_with({_pin(a, 'l')}, {first(b, 'r')}))"
                ),
            ),
            "pinyin starts with the other name's first word (运成化工 ~ Yuncheng Chemical)",
        ),
        custom(
            any_pair(
                plans,
                lambda a, b: (
                    f"{same_script(a, b)} AND jaro_winkler_similarity({_core(a, 'l')}, {_core(b, 'r')}) >= {SIMILAR_JW}"
                ),
            ),
            "similar name (Jaro-Winkler ≥ 0.88)",
        ),
        custom(any_pair(plans, pin_similar), "similar pinyin across scripts"),
    ]


# --------------------------------------------------------------------------------------------
# location


def location_comparison(
    present: Present, *, tf: bool, address_fields: int, name: str = "location"
) -> Any | None:
    """Address ⊃ district ⊃ city ⊃ province as one comparison (one fact: where the customer is).

    The helper columns (``loc__*``, see :func:`workbench.core.linkage.settings_builder.helper_columns`)
    join every address field of a record (lines in field order) and take district / city /
    province from the place fields, else from the address, else from the region in the name.
    Levels, best first, each only when the data has its columns: same address (term frequencies: a
    building shared by many companies says less); every address line of one inside the other's address (two or
    more address fields); same street detail in a compatible city; near-identical address whose
    numbers agree (``Lindenallee 29`` vs ``61`` are neighbours, not one address); similar street in
    the same district; same district; same city; similar city (spelling); same province; a
    different province or city; else (addresses differ, places unknown).

    Returns:
        The comparison, or None when no location column holds data.
    """
    addr, district, city, province = (
        c if present.has(c) else None for c in (LOC_ADDR, LOC_DISTRICT, LOC_CITY, LOC_PROVINCE)
    )
    places = [c for c in (district, city, province) if c]
    if not addr and not places:
        return None
    null = " OR ".join(
        "(" + " AND ".join(f"{side(c, s)} IS NULL" for c in [addr, *places] if c) + ")" for s in ("l", "r")
    )
    place_ok = " AND ".join(compatible(c, similar=c == city) for c in (city, province) if c) or "true"
    levels: list[Any] = [custom(null, "no location", is_null_level=True)]
    if addr:
        levels += _address_levels(addr, present, place_ok, tf=tf, address_fields=address_fields)
    if district and present.has(LOC_DETAIL) and addr:
        dl, dr = lr(LOC_DETAIL)
        levels.append(
            custom(
                f"{side(district, 'l')} = {side(district, 'r')} AND jaro_winkler_similarity({dl}, {dr}) >= {SIMILAR_JW} "
                f"AND {_numbers_agree()}",
                "similar street in the same district, numbers agree",
            )
        )
    for column, label in ((district, "same district"), (city, "same city")):
        if column:
            levels.append(custom(f"{side(column, 'l')} = {side(column, 'r')}", label))
    if city:
        cl_, cr_ = lr(city)
        levels.append(custom(f"jaro_winkler_similarity({cl_}, {cr_}) >= {PLACE_JW}", "similar city"))
    if province:
        levels.append(custom(f"{side(province, 'l')} = {side(province, 'r')}", "same province"))
    conflict = " OR ".join(both_present_differ(c) for c in (city, province) if c)
    if conflict:
        levels.append(custom(conflict, "different city or province"))
    levels.append(else_level("addresses differ, places unknown"))
    return comparison(name, "location (address ⊃ district ⊃ city ⊃ province)", levels)


def _numbers_agree() -> str:
    """The numbers of one address are all in the other's (a floor or postcode may be added)."""
    nl, nr = lr(LOC_NUMS)
    return f"(list_has_all({nl}, {nr}) OR list_has_all({nr}, {nl}))"


def _address_levels(
    addr: str, present: Present, place_ok: str, *, tf: bool, address_fields: int
) -> list[Any]:
    al, ar = lr(addr)
    levels: list[Any] = [custom(f"{al} = {ar}", "same address", **tf_on(addr, tf))]
    if address_fields > 1 and present.has(LOC_LINES):
        tl, tr = lr(LOC_LINES)
        inside = " OR ".join(
            f"(len({lines}) > 1 AND len(list_filter({lines}, lambda x: NOT contains({other}, x))) = 0)"
            for lines, other in ((tl, ar), (tr, al))
        )
        levels.append(
            custom(
                f"({inside}) AND {_numbers_agree()} AND {place_ok}",
                "every address line of one is in the other's address (any order), numbers agree",
            )
        )

    if present.has(LOC_DETAIL):
        dl, dr = lr(LOC_DETAIL)
        levels.append(custom(f"{dl} = {dr} AND {place_ok}", "same street address (detail)"))
    near = (
        f"{_numbers_agree()} AND (jaro_winkler_similarity({al}, {ar}) >= {PLACE_JW} OR "
        f"(least(length({al}), length({ar})) >= 6 AND (contains({al}, {ar}) OR contains({ar}, {al}))))"
    )
    levels.append(custom(f"{place_ok} AND {near}", "near-identical address or one contains the other, numbers agree"))
    if place_ok != "true":
        # the same street and number in a city that does not agree: a mistyped or replaced city, or
        # one street name in two cities; its own level, so the data tells which
        levels.append(custom(near, "near-identical address, numbers agree, places differ"))
    return levels



# --------------------------------------------------------------------------------------------
# person names


def person_pair_comparison(first: MatchField, second: MatchField, present: Present, *, tf: bool) -> Any:
    """Two person-name fields of one record (given name and surname) compared together, and with
    the customer name of a record that writes the person's name in one field.

    Levels: no name on one side (null); both exact (term frequencies on the full name); the two
    swapped (given ↔ surname); the full name (in either order, so it does not matter which field
    is the surname) equals the other record's customer name (``丁`` + ``一宇`` ~ ``丁一宇``); same name
    in pinyin (homophones); both similar (Jaro-Winkler ≥ 0.92, then ≥ 0.88); the full name similar
    to the other's customer name; one exact and the other missing; the second exact; the first
    exact; else. The customer-name levels exist when the data has company / customer names.
    """
    a, b = first.columns["value"], second.columns["value"]
    al, ar = lr(a)
    bl, br = lr(b)
    cross = present.has(NAMES_COMPACT)

    def pair(s: str) -> str:
        return f"({side(a, s)} IS NOT NULL OR {side(b, s)} IS NOT NULL)"

    def whole(s: str) -> str:
        return f"{side(NAMES_COMPACT, s)} IS NOT NULL"

    comparable = f"({pair('l')} AND {pair('r')})"
    if cross:
        comparable += f" OR ({pair('l')} AND {whole('r')}) OR ({whole('l')} AND {pair('r')})"

    def jw(t: float) -> str:
        return f"jaro_winkler_similarity({al}, {ar}) >= {t} AND jaro_winkler_similarity({bl}, {br}) >= {t}"

    levels = [
        custom(f"NOT ({comparable})", "no name", is_null_level=True),
        custom(f"{al} = {ar} AND {bl} = {br}", "both names exact", **tf_on(PERSON_FULL, tf)),
        custom(f"{al} = {br} AND {bl} = {ar}", f"{first.field} and {second.field} swapped"),
    ]
    if cross:
        levels.append(custom(_full_vs_customer("="), "full name equals the other's customer name"))
    if present.has(PERSON_PIN):
        levels.append(custom(_pinyin_names(cross), "same name in pinyin"))
    levels += [
        custom(jw(NEAR_JW), "both names similar (Jaro-Winkler ≥ 0.92)"),
        custom(jw(SIMILAR_JW), "both names similar (Jaro-Winkler ≥ 0.88)"),
    ]
    if cross:
        levels.append(custom(_full_vs_customer("jw"), "full name similar to the other's customer name"))
    levels += [
        custom(
            f"({al} = {ar} AND ({bl} IS NULL OR {br} IS NULL)) OR ({bl} = {br} AND ({al} IS NULL OR {ar} IS NULL))",
            "one name exact, the other missing",
        ),
        custom(f"{bl} = {br}", f"same {second.field}", **tf_on(b, tf)),
        custom(f"{al} = {ar}", f"same {first.field}", **tf_on(a, tf)),
        else_level(),
    ]
    return comparison(first.field, f"person name ({first.field}, {second.field})", levels)


def _full_vs_customer(how: str) -> str:
    """A name pair's full name (either order) against the other record's customer name, both ways."""

    def test(full: str, name: str) -> str:
        if how == "=":
            return f"{full} = {name}"
        return f"jaro_winkler_similarity({full}, {name}) >= {PLACE_JW}"

    parts = []
    for x, y in (("l", "r"), ("r", "l")):
        name = side(NAMES_COMPACT, y)
        parts.append(
            f"({side(PERSON_FULL, x)} IS NOT NULL AND {side(PERSON_FULL, y)} IS NULL AND "
            f"({test(side(PERSON_FULL, x), name)} OR {test(side(PERSON_FULL_REV, x), name)}))"
        )
    return " OR ".join(parts)


def _pinyin_names(cross: bool) -> str:
    """Same name in pinyin: both name pairs (either order), or a pair and the other's customer name."""
    pl, pr = lr(PERSON_PIN)
    rev_l, rev_r = lr(PERSON_PIN_REV)
    out = f"(length({pl}) >= 4 AND ({pl} = {pr} OR {pl} = {rev_r}))"
    if cross:
        for x, y in (("l", "r"), ("r", "l")):
            other = side(NAMES_PIN, y)
            out += (
                f" OR ({side(PERSON_PIN, x)} IS NOT NULL AND {side(PERSON_PIN, y)} IS NULL AND length({other}) >= 4 "
                f"AND ({side(PERSON_PIN, x)} = {other} OR {side(PERSON_PIN_REV, x)} = {other}))"
            )
    return out


def person_name_comparison(plan: MatchField, *, tf: bool) -> Any:
    """One person-name field: exact (term frequencies), same pinyin, Jaro-Winkler ≥ 0.92 / ≥ 0.88, else."""
    from splink import comparison_level_library as cll

    value = plan.columns["value"]
    levels: list[Any] = [null_level(value), exact(value, tf=tf, label="exact name")]
    if plan.col("pinyin"):
        pl, pr = lr(helper(plan, PIN))
        levels.append(custom(f"{pl} = {pr}", "same pinyin"))
    levels += [cll.JaroWinklerLevel(value, NEAR_JW), cll.JaroWinklerLevel(value, SIMILAR_JW), else_level()]
    return comparison(plan.field, f"{plan.field}: person name", levels)


# --------------------------------------------------------------------------------------------
# phones, e-mail, IDs, postcode, dates, country


def phone_comparison(plans: list[MatchField], *, tf: bool) -> Any:
    """Phones (all phone fields of a record together): same main number, any shared number, same last 8.

    Every number of every phone field of one record is compared with every number of the other
    (a ledger's 联系电话 often holds the mobile another source keeps under 手机). The first level,
    exact E.164 on the first phone field, has term-frequency adjustments: a switchboard shared by a
    whole group weighs less than a personal mobile.
    """
    main = plans[0]

    def number(p: MatchField) -> str:
        return p.col("e164") or p.columns["value"]

    null = " OR ".join(
        "(" + " AND ".join(f"{side(number(p), s)} IS NULL" for p in plans) + ")" for s in ("l", "r")
    )
    pl, pr = lr(PHONES)
    levels: list[Any] = [
        custom(null, "no phone", is_null_level=True),
        exact(number(main), tf=tf, label=f"same {main.field} number"),
        custom(f"list_has_any({pl}, {pr})", "share a number"),
    ]
    last8 = [p for p in plans if p.col("last8")]
    if last8:
        levels.append(
            custom(
                any_pair(
                    last8, lambda a, b: f"{side(a.columns['last8'], 'l')} = {side(b.columns['last8'], 'r')}"
                ),
                "same last 8 digits",
            )
        )
    levels.append(else_level())
    names = ", ".join(p.field for p in plans)
    return comparison(main.field, f"phones ({names})", levels)


def email_comparison(plan: MatchField, *, tf: bool) -> Any:
    """E-mail: exact; same local part (term frequencies: ``info@`` says little); a similar local part
    at the same domain (a typing error); else."""
    from splink import comparison_level_library as cll

    value = plan.columns["value"]
    levels: list[Any] = [null_level(value), exact(value, tf=tf, label="same e-mail")]
    local, domain = plan.col("local"), plan.col("domain")
    if local:
        levels.append(exact(local, tf=tf, label="same local part"))
        if domain:
            ll, lr_ = lr(local)
            dl, dr = lr(domain)
            levels.append(
                custom(
                    f"{dl} = {dr} AND jaro_winkler_similarity({ll}, {lr_}) >= {SIMILAR_JW}",
                    "similar local part at the same domain",
                )
            )
    else:
        levels.append(cll.JaroWinklerLevel(value, NEAR_JW))
    levels.append(else_level())
    return comparison(plan.field, f"{plan.field}: e-mail", levels)


def id_comparison(plan: MatchField, *, tf: bool) -> Any:
    """A record or person ID: exact (term frequencies: an ID a whole household shares says less), one
    typing error (a transposition counts as one), two, else.

    The compared value is the standardized ID, or the raw one cleaned of spaces and punctuation when
    the standardizer rejected it (an ID that fails a foreign check digit is still identical in both
    records).
    """
    value = helper(plan, NORM_ID)
    vl, vr = lr(value)
    levels = [
        null_level(value),
        custom(f"{vl} = {vr}", f"same {plan.field}", **tf_on(value, tf)),
        custom(
            f"{half_agrees(vl, vr)} AND damerau_levenshtein({vl}, {vr}) <= 1",
            f"{plan.field}: one typing error",
        ),
        custom(
            f"least(length({vl}), length({vr})) >= 6 AND abs(length({vl}) - length({vr})) <= 2 "
            f"AND levenshtein({vl}, {vr}) <= 2",
            f"{plan.field}: two typing errors",
        ),
        else_level(),
    ]
    return comparison(plan.field, f"{plan.field}: {plan.kind.value}", levels)


def tax_id_comparison(plan: MatchField, *, tf: bool = False) -> Any:
    """A tax ID: the same valid ID; the same ID that fails its check in both records (identical text is
    still evidence); one typing error; two different valid IDs (m fixed, see :data:`FIXED_TAX_ID_M`);
    else."""
    value = plan.columns["value"]
    norm = helper(plan, NORM_ID)
    vl, vr = lr(value)
    nl, nr = lr(norm)
    return comparison(
        plan.field,
        f"{plan.field}: tax ID",
        [
            null_level(norm),
            custom(f"{vl} = {vr}", f"same {plan.field}"),
            custom(f"{nl} = {nr}", f"same {plan.field} as written (fails its check)", **tf_on(norm, tf)),
            custom(
                f"{half_agrees(nl, nr)} AND damerau_levenshtein({nl}, {nr}) <= 1",
                f"{plan.field}: one typing error",
            ),
            fixed_m(custom(f"{vl} <> {vr}", f"different valid {plan.field}"), FIXED_TAX_ID_M),
            else_level(),
        ],
    )


def postcode_comparison(plan: MatchField, *, tf: bool = False) -> Any:
    """Postcode: exact (term frequencies), one digit off, same leading digits (all but the last two), else."""
    from splink import comparison_level_library as cll

    value = plan.columns["value"]
    vl, vr = lr(value)
    return comparison(
        plan.field,
        f"{plan.field}: postcode",
        [
            null_level(value),
            exact(value, tf=tf, label="same postcode"),
            cll.LevenshteinLevel(value, 1),
            custom(
                f"length({vl}) > 2 AND left({vl}, length({vl}) - 2) = left({vr}, length({vr}) - 2)",
                "same leading digits",
            ),
            else_level(),
        ],
    )


def date_comparison(plan: MatchField) -> Any:
    """Date: Splink's date-of-birth comparison (exact, one character off, ≤ 1 month, ≤ 1 year, ≤ 10 years)."""
    from splink import comparison_library as cl

    value = plan.columns["value"]
    is_string = not plan.dtype.startswith(("DATE", "TIMESTAMP"))
    kwargs: dict[str, Any] = {"input_is_string": is_string}
    if is_string:
        kwargs["datetime_format"] = "%Y-%m-%d"
    return cl.DateOfBirthComparison(value, **kwargs)


def country_comparison(plan: MatchField) -> Any:
    """Country: same, else."""
    value = plan.columns["value"]
    return comparison(
        plan.field,
        f"{plan.field}: country",
        [null_level(value), exact(value, label="same country"), else_level()],
    )


def field_comparison(plan: MatchField, *, tf: bool) -> Any | None:
    """The comparison of a field compared on its own (names, phones and places are grouped elsewhere)."""
    kind = plan.kind
    if kind in (Kind.COMPANY_NAME, Kind.CUSTOMER_NAME, Kind.PERSON_NAME):
        return person_name_comparison(plan, tf=tf)
    if kind == Kind.EMAIL:
        return email_comparison(plan, tf=tf)
    if kind == Kind.COUNTRY:
        return country_comparison(plan)
    if kind == Kind.POSTCODE:
        return postcode_comparison(plan, tf=tf)
    if kind == Kind.DATE:
        return date_comparison(plan)
    if kind == Kind.TAX_ID:
        return tax_id_comparison(plan, tf=tf)
    if kind in ID_KINDS:
        return id_comparison(plan, tf=tf)
    return None
