"""Settings builder and blocking: comparisons per kind, evaluated on real pairs in DuckDB."""

from __future__ import annotations

import pandas as pd
import pytest
from linkage_fixtures import make_context
from pydantic import ValidationError

from workbench.core.linkage import blocking
from workbench.core.linkage.fields import Present
from workbench.core.linkage.settings_builder import (
    MatchField,
    MatchSettingsError,
    build_comparisons,
    build_settings,
    helper_columns,
    plan_fields,
)
from workbench.engine.connection import connect
from workbench.engine.sql import ident
from workbench.project.config import Kind
from workbench.project.settings.match import MatchSettings


def level_of(comparison, pairs: pd.DataFrame) -> list[str]:
    """The chart label of the level each pair falls into (first matching level, like Splink)."""
    levels = comparison.get_comparison("duckdb").as_dict()["comparison_levels"]
    cases = " ".join(
        f"WHEN {lv['sql_condition']} THEN '{lv['label_for_charts'].replace(chr(39), chr(39) * 2)}'"
        for lv in levels
        if lv["sql_condition"] != "ELSE"
    )
    con = connect()
    con.register("pairs", pairs)
    out = [r[0] for r in con.execute(f"SELECT CASE {cases} ELSE 'else' END FROM pairs").fetchall()]
    con.close()
    return out


def pairs_of(rows: list[tuple[dict, dict]], plans: list[MatchField] | None = None) -> pd.DataFrame:
    """Pairs as Splink compares them: ``<column>_l`` / ``<column>_r``, helper columns included."""
    helpers = helper_columns(plans or [])
    con = connect()
    sides = []
    for i in (0, 1):
        frame = pd.DataFrame([row[i] for row in rows])
        con.register("side", frame)
        extra = "".join(f", {sql} AS {ident(name)}" for name, sql in helpers.items())
        sides.append(con.execute(f"SELECT *{extra} FROM side").df())
        con.unregister("side")
    con.close()
    pairs = pd.concat([sides[0].add_suffix("_l"), sides[1].add_suffix("_r")], axis=1)
    for column in pairs.columns:  # an all-missing column would reach DuckDB untyped
        if pairs[column].isna().all():
            pairs[column] = pairs[column].astype("string")
    return pairs


def present_of(pairs: pd.DataFrame) -> Present:
    """Which columns of `pairs` hold data, as the match stage profiles its records: the model builds
    a level only for facts the data carries (and only over helper columns that exist)."""
    counts: dict[str, dict[str, int]] = {}
    for column in pairs.columns:
        base = column.removesuffix("_l").removesuffix("_r")
        counts.setdefault(base, {"s": 0})["s"] += int(pairs[column].notna().sum())
    return Present(counts, ("s",))


def comparisons_for(plans: list[MatchField], pairs: pd.DataFrame, *, tf: bool = False) -> list:
    """The generated comparisons of `plans` for the data in `pairs`."""
    return build_comparisons(plans, tf=tf, overrides={}, present=present_of(pairs))


def levels_of(comparison) -> list[dict]:
    return comparison.get_comparison("duckdb").as_dict()["comparison_levels"]


COMPANY = MatchField(
    "customer_name",
    Kind.COMPANY_NAME,
    {
        "value": "customer_name",
        "core": "customer_name_core",
        "pinyin": "customer_name_pinyin",
        "branch": "customer_name_branch",
    },
)


def company(core, pinyin, branch=None):
    return {
        "customer_name": core,
        "customer_name_core": core,
        "customer_name_pinyin": pinyin,
        "customer_name_branch": branch,
    }


def test_company_name_levels_cover_cjk_latin_pinyin_and_short_names():
    pairs = pairs_of(
        [
            (company("华瑞科技", "huaruikeji"), company("华瑞科技", "huaruikeji")),
            (company("华瑞科技", "huaruikeji"), company("Huaruikeji", "huaruikeji")),
            (company("华瑞", "huarui"), company("Hua Rui", None)),  # Latin side has no pinyin column value
            (company("华瑞科技", "huaruikeji"), company("华瑞科枝", "huaruikezhi")),
            (company("华瑞", "huarui"), company("华瑞恒通科技", "huaruihengtongkeji")),
            (company("华瑞科技", "huaruikeji"), company("东方物流", "dongfangwuliu")),
            (company(None, None), company("东方物流", "dongfangwuliu")),
            (company("华瑞科技", "huaruikeji"), company("huarui technology", "huaruitechnology")),
            (
                company("merlion electronics", "merlionelectronics"),
                company("merlion trading", "meriontrading"),
            ),
        ],
        [COMPANY],
    )
    # one comparison per fact: the company identity (names and branch markers together)
    (core,) = comparisons_for([COMPANY], pairs, tf=True)
    assert core.get_comparison("duckdb").output_column_name == "customer_name"
    labels = level_of(core, pairs)
    assert labels[0] == "exact name"
    assert labels[1] == "same pinyin / Latin spelling"
    assert labels[2] == "same pinyin / Latin spelling"
    assert labels[3].startswith("near-identical name")
    assert labels[4] == "one name contains the other (short name)"
    assert labels[5] == "else"
    assert labels[6] == "no name"
    assert labels[7].startswith("pinyin starts with the other name's first word")
    # two Latin names sharing a first word are no cross-script match (at most similar names)
    assert labels[8] == "else"


def test_branch_marker_is_evidence():
    pairs = pairs_of(
        [
            (company("华瑞科技", "x"), company("华瑞科技", "x")),
            (company("华瑞科技", "x", "上海分公司"), company("华瑞科技", "x", "上海分公司")),
            (company("华瑞科技", "x"), company("华瑞科技", "x", "上海分公司")),
            (company("华瑞科技", "x", "北京分公司"), company("华瑞科技", "x", "上海分公司")),
        ],
        [COMPANY],
    )
    # the branch marker is part of the company identity: the same name where one is a branch, or
    # two different branches, has its own levels ahead of the exact name (never the company itself)
    (identity,) = comparisons_for([COMPANY], pairs)
    assert level_of(identity, pairs) == [
        "exact name",
        "exact name",  # the same branch
        "same name, one is a branch",
        "same name, different branches",
    ]
    levels = {lv["label_for_charts"]: lv for lv in levels_of(identity)}
    # two registered branches are two entities: m is fixed (domain knowledge), never left to EM
    different = levels["same name, different branches"]
    assert different["fix_m_probability"] is True and different["m_probability"] < 0.01
    # without branch markers in the data there are no branch levels
    (plain,) = comparisons_for([COMPANY], pairs.iloc[:1])
    assert not any("branch" in lv["label_for_charts"] for lv in levels_of(plain))


def test_phone_levels_exact_any_of_last8():
    plan = MatchField(
        "mobile",
        Kind.PHONE,
        {"value": "mobile", "e164": "mobile_e164", "all": "mobile_all", "last8": "mobile_last8"},
    )
    (comparison,) = build_comparisons([plan], tf=True, overrides={})

    def phone(e164, all_, last8):
        return {"mobile_e164": e164, "mobile_all": all_, "mobile_last8": last8}

    pairs = pairs_of(
        [
            (phone("+8613800000001", "+8613800000001", "00000001"), phone("+8613800000001", "x", "00000001")),
            (
                phone("+8613800000001", "+8613800000001;+862155550000", "00000001"),
                phone("+862155550000", "+862155550000", "55550000"),
            ),
            (
                phone("+8613800000001", "+8613800000001", "00000001"),
                phone("+85213800000001", "y", "00000001"),
            ),
            (phone("+8613800000001", "+8613800000001", "00000001"), phone("+8613900000002", "z", "00000002")),
        ],
        [plan],
    )
    assert level_of(comparison, pairs) == [
        "same mobile number",
        "share a number",
        "same last 8 digits",
        "else",
    ]


def test_names_and_phones_compare_across_fields():
    short = MatchField(
        "short_name",
        Kind.COMPANY_NAME,
        {"value": "short_name", "core": "short_name_core", "pinyin": "short_name_pinyin"},
    )
    mobile = MatchField("mobile", Kind.PHONE, {"value": "mobile", "e164": "mobile_e164"})
    phone = MatchField("phone", Kind.PHONE, {"value": "phone", "e164": "phone_e164"})

    def rec(full, short_, mob, tel):
        return {
            **company(full, None),
            "short_name_core": short_,
            "short_name_pinyin": None,
            "mobile_e164": mob,
            "phone_e164": tel,
        }

    pairs = pairs_of(
        [
            # a ledger row with only the short name against a CRM row with only the full name
            (rec(None, "华瑞科技", None, "+8613800000001"), rec("华瑞科技", None, "+8613800000001", None)),
            # two companies with one short name but different full names
            (
                rec("华瑞恒通科技", "华瑞科技", "+8613800000001", None),
                rec("华瑞鑫达科技", "华瑞科技", None, "+8613900000009"),
            ),
        ],
        [COMPANY, short, mobile, phone],
    )
    comparisons = comparisons_for([COMPANY, short, mobile, phone], pairs)
    # all name fields are one comparison (the company identity), all phone fields another
    assert [c.get_comparison("duckdb").output_column_name for c in comparisons] == ["customer_name", "mobile"]
    names, phones = comparisons
    assert level_of(names, pairs) == [
        "short name equals the other's name",
        "same short name, different full names",
    ]
    assert level_of(phones, pairs) == ["share a number", "else"]


def test_email_tax_id_postcode_and_date_levels():
    plans = [
        MatchField("email", Kind.EMAIL, {"value": "email", "local": "email_local", "domain": "email_domain"}),
        MatchField("uscc", Kind.TAX_ID, {"value": "uscc", "raw": "uscc_raw"}),
        MatchField("postcode", Kind.POSTCODE, {"value": "postcode"}),
        MatchField("founded", Kind.DATE, {"value": "founded"}, dtype="DATE"),
    ]
    email, uscc, postcode, founded = build_comparisons(plans, tf=False, overrides={})
    assert [c.get_comparison("duckdb").output_column_name for c in (email, uscc, postcode)] == [
        "email",
        "uscc",
        "postcode",
    ]

    def mail(local, domain):
        return {"email": f"{local}@{domain}", "email_local": local, "email_domain": domain}

    e = pairs_of(
        [
            (mail("zhangwei", "x.cn"), mail("zhangwei", "x.cn")),
            (mail("zhangwei", "x.cn"), mail("zhangwei", "y.cn")),
            (mail("zhangwei", "x.cn"), mail("zhangwel", "x.cn")),
            (mail("info", "x.cn"), mail("info19", "y.cn")),
        ],
        plans[:1],
    )
    assert level_of(email, e) == [
        "same e-mail",
        "same local part",
        "similar local part at the same domain",
        "else",
    ]
    # the standardized value holds only valid IDs; the raw text is kept for one that fails its check
    u1, u2 = "91310115776529383U", "91440300708461136T"  # two valid USCCs

    def tax(value, raw):
        return {"uscc": value, "uscc_raw": raw}

    u = pairs_of(
        [
            (tax(u1, u1), tax(u1, f"{u1[:6]} {u1[6:]}")),
            (tax(None, "91310115776529383X"), tax(None, "9131 0115 7765 2938 3X")),
            (tax(u1, u1), tax(None, "91310115776529383X")),  # one typing error (the check fails)
            (tax(u1, u1), tax(u2, u2)),
            (tax(None, None), tax(u2, u2)),
            (tax(u1, u1), tax(None, "ABC")),
        ],
        plans[1:2],
    )
    assert level_of(uscc, u) == [
        "same uscc",
        "same uscc as written (fails its check)",
        "uscc: one typing error",
        "different valid uscc",
        "uscc__id is NULL",
        "else",
    ]
    levels = {lv["label_for_charts"]: lv for lv in levels_of(uscc)}
    # two different valid tax IDs: m is fixed (domain knowledge), never left to EM
    different = levels["different valid uscc"]
    assert different["fix_m_probability"] is True and different["m_probability"] < 0.01
    p = pairs_of(
        [
            ({"postcode": "200120"}, {"postcode": "200120"}),
            ({"postcode": "200120"}, {"postcode": "200121"}),
            ({"postcode": "200120"}, {"postcode": "200199"}),
            ({"postcode": "200120"}, {"postcode": "518000"}),
        ],
        plans[2:3],
    )
    labels = level_of(postcode, p)
    assert labels[0] == "same postcode" and labels[1].startswith("Levenshtein")
    assert labels[2] == "same leading digits" and labels[3] == "else"
    d = pairs_of(
        [
            ({"founded": pd.Timestamp("2001-02-03")}, {"founded": pd.Timestamp("2001-02-03")}),
            ({"founded": pd.Timestamp("2001-02-03")}, {"founded": pd.Timestamp("2001-02-20")}),
            ({"founded": pd.Timestamp("2001-02-03")}, {"founded": pd.Timestamp("1990-07-20")}),
        ],
        plans[3:],
    )
    labels = level_of(founded, d)
    assert labels[0].startswith("Exact") and "month" in labels[1] and labels[2] == "else"


def test_address_levels_use_components():
    plan = MatchField(
        "address",
        Kind.ADDRESS,
        {
            "value": "address",
            "city": "address_city",
            "district": "address_district",
            "detail": "address_detail",
        },
    )

    def addr(full, city, district, detail):
        return {"address": full, "address_city": city, "address_district": district, "address_detail": detail}

    a = addr("上海市浦东新区世纪大道100号", "上海市", "浦东新区", "世纪大道100号")
    pairs = pairs_of(
        [
            (a, a),
            (a, addr("上海市浦东新区世纪大道100号8楼", "上海市", "浦东新区", "世纪大道100号8楼")),
            (a, addr("上海市浦东新区世纪大道102号", "上海市", "浦东新区", "世纪大道102号")),
            (a, addr("上海市浦东新区张江路5号", "上海市", "浦东新区", "张江路5号")),
            (a, addr("上海市静安区南京西路1号", "上海市", "静安区", "南京西路1号")),
            (a, addr("深圳市南山区科技园路1号", "深圳市", "南山区", "科技园路1号")),
            (
                addr("Lindenallee 29, 80331 Muenchen", None, None, None),
                addr("Lindenallee 61, 80331 Muenchen", None, None, None),
            ),
            (
                addr("29 Robinson Road", None, None, None),
                addr("29 Robinson Road, Singapore 079903", None, None, None),
            ),
        ],
        [plan],
    )
    # one location comparison: address ⊃ district ⊃ city (no province level: the data has none)
    (comparison,) = comparisons_for([plan], pairs)
    assert "same province" not in [lv["label_for_charts"] for lv in levels_of(comparison)]
    assert level_of(comparison, pairs) == [
        "same address",
        "near-identical address or one contains the other, numbers agree",
        "same district",  # 100号 vs 102号: another building in the same district
        "same district",
        "same city",
        "different city or province",  # 上海市 vs 深圳市: a known conflict, a level of its own
        "else",  # Lindenallee 29 vs 61: near-identical text, another building
        "near-identical address or one contains the other, numbers agree",
    ]


def test_override_replaces_generated_comparison():
    override = {
        "output_column_name": "uscc",
        "comparison_levels": [
            {"sql_condition": "uscc_l IS NULL OR uscc_r IS NULL", "is_null_level": True},
            {"sql_condition": "uscc_l = uscc_r"},
            {"sql_condition": "ELSE"},
        ],
    }
    plans = [MatchField("uscc", Kind.TAX_ID, {"value": "uscc"})]
    settings = build_settings(
        plans, ["l.uscc = r.uscc"], link_type="dedupe_only", tf=False, overrides={"uscc": override}
    )
    assert settings["comparisons"][0]["comparison_levels"][1]["sql_condition"] == "uscc_l = uscc_r"
    assert settings["retain_intermediate_calculation_columns"] is True
    assert settings["unique_id_column_name"] == "record_key"


def test_plan_fields_uses_kinds_and_skips_ids_and_text(tmp_path):
    ctx = make_context(tmp_path)
    types = {
        c: "VARCHAR"
        for c in [
            "record_key",
            "customer_id",
            "customer_name",
            "customer_name_core",
            "customer_name_pinyin",
            "uscc",
            "mobile",
            "mobile_e164",
            "mobile_last8",
            "email",
            "address",
            "contact_name",
        ]
    }
    plans = {p.field: p for p in plan_fields(ctx.config, types)}
    assert "customer_id" not in plans  # the source's own ID column is never compared
    assert plans["customer_name"].match_column == "customer_name_core"
    assert plans["mobile"].columns == {"value": "mobile", "e164": "mobile_e164", "last8": "mobile_last8"}
    assert set(plans) == {"customer_name", "uscc", "mobile", "email", "address", "contact_name"}
    ctx2 = make_context(tmp_path, {"exclude_fields": ["nope"]})
    with pytest.raises(MatchSettingsError, match="nope"):
        plan_fields(ctx2.config, types)


def test_review_band_must_sit_below_threshold():
    with pytest.raises(ValidationError, match="review_min_probability"):
        MatchSettings(match_threshold=0.6, review_min_probability=0.8)


def test_blocking_counts_and_budget():
    con = connect()
    con.execute(
        "CREATE TABLE t AS SELECT i::VARCHAR AS record_key, (i % 2)::VARCHAR AS city, "
        "CASE WHEN i < 4 THEN 'same' ELSE i::VARCHAR END AS phone, (i % 3)::VARCHAR AS zip "
        "FROM range(200) r(i)"
    )
    plans = [
        MatchField("city", Kind.CITY, {"value": "city"}),
        MatchField("phone", Kind.PHONE, {"value": "phone"}),
        MatchField("zip", Kind.POSTCODE, {"value": "zip"}),
    ]
    keys = blocking.blocking_keys(plans)
    assert [k.name for k in keys] == ["city", "phone", "zip"]
    counts = {k.name: con.execute(blocking.count_pairs_sql("t", (k,))).fetchall()[0][0] for k in keys}
    assert counts == {"city": 2 * (100 * 99 // 2), "phone": 6, "zip": 2 * (67 * 66 // 2) + 66 * 65 // 2}
    choices = blocking.choose_blocking_rules(con, "t", keys, pairs_per_record=1, max_rules=5)
    chosen = {c.name: c.pairs for c in choices if c.chosen}
    # budget max(5000, 200): phone alone fits; city & zip are too coarse alone but fit together
    assert "phone" in chosen and "city" not in chosen and "zip" not in chosen
    assert (
        chosen["city & zip"]
        == con.execute(
            "SELECT count(*) FROM t a JOIN t b ON a.city = b.city AND a.zip = b.zip AND a.record_key < b.record_key"
        ).fetchall()[0][0]
    )
    con.close()


def test_field_keys_per_kind_most_specific_first():
    company = MatchField(
        "name", Kind.COMPANY_NAME, {"value": "name", "core": "name_core", "pinyin": "name_pinyin"}
    )
    assert [k.name for k in blocking.field_keys(company)] == [
        "name_core",
        "name__pin",
        "name__pin[1:5]",
        "name_core[1:2]",
    ]
    phone = MatchField("tel", Kind.PHONE, {"value": "tel", "e164": "tel_e164", "last8": "tel_last8"})
    assert [k.name for k in blocking.field_keys(phone)] == ["tel_e164", "tel_last8"]
    bare_phone = MatchField("tel", Kind.PHONE, {"value": "tel"})
    assert [k.name for k in blocking.field_keys(bare_phone)] == ["tel"]
    email = MatchField("email", Kind.EMAIL, {"value": "email", "local": "email_local"})
    assert [k.name for k in blocking.field_keys(email)] == ["email", "email_local"]
    address = MatchField("addr", Kind.ADDRESS, {"value": "addr", "detail": "addr_detail", "city": "addr_city"})
    assert [k.name for k in blocking.field_keys(address)] == ["addr", "addr_detail"]
    person = MatchField("contact", Kind.PERSON_NAME, {"value": "contact", "pinyin": "contact_pinyin"})
    assert [k.sql("l") for k in blocking.field_keys(person)] == ['l."contact"', 'l."contact_pinyin"']
    assert [k.name for k in blocking.field_keys(MatchField("zip", Kind.POSTCODE, {"value": "zip"}))] == ["zip"]
