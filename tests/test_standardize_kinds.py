"""Per-kind standardizers on real messy values (each function called on a Series of distinct values)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench.core.standardize import (
    load_reference,
    standardize_addresses,
    standardize_amounts,
    standardize_company_names,
    standardize_countries,
    standardize_customer_names,
    standardize_customer_types,
    standardize_dates,
    standardize_emails,
    standardize_flags,
    standardize_person_names,
    standardize_phones,
    standardize_postcodes,
    standardize_regions,
    standardize_statuses,
    standardize_tax_ids,
    standardize_text,
)
from workbench.core.standardize.base import repair_mojibake
from workbench.project.settings.standardize import StandardizeSettings


def one(frame: pd.DataFrame, i: int = 0) -> dict:
    return frame.iloc[i].to_dict()


# --------------------------------------------------------------------------------------------
# phones


def test_phone_formats_become_e164_with_type_and_extension():
    raw = pd.Series(
        ["+86 138 0013 8000", "(021)6234-5678转123", "138-0013-8000", "021-62345678-123", "13800138000"]
    )
    out = standardize_phones(raw, "CN")
    assert out["value"].tolist() == [
        "+8613800138000",
        "+862162345678",
        "+8613800138000",
        "+862162345678",
        "+8613800138000",
    ]
    assert out["type"].tolist() == ["mobile", "landline", "mobile", "landline", "mobile"]
    assert out["ext"].tolist() == [None, "123", None, "123", None]
    assert out["last8"].iloc[1] == "62345678"
    assert out["__province"].iloc[1] == "上海市"  # the area code 021 tells the province
    # the plain national form needs no change; the spaced / bracketed forms are logged changes
    assert out["rule"].iloc[4] is None or out["valid_before"].iloc[4] is True
    assert out["valid_before"].tolist() == [False, False, False, False, True]
    assert "phone_extension" in out["rule"].iloc[1]


def test_phone_cell_with_several_numbers_is_split():
    out = standardize_phones(pd.Series(["0086-13800138000;13912345678", "13800138000/021-62345678"]), "CN")
    first = one(out)
    assert first["value"] == "+8613800138000"
    assert first["all"] == "+8613800138000;+8613912345678"
    assert first["issue"] == "multiple_numbers"
    assert "phone_split" in first["rule"]
    assert one(out, 1)["all"] == "+8613800138000;+862162345678"


@pytest.mark.parametrize("raw", ["11111111111", "13800000000", "00000000", "无", "0"])
def test_placeholder_phones_are_invalid(raw):
    row = one(standardize_phones(pd.Series([raw]), "CN"))
    assert row["valid"] is False
    assert row["issue"] == "placeholder"
    assert row["value"] is None
    assert row["rule"] == "reject_placeholder"


def test_phone_region_per_value_and_missing_values():
    values = pd.Series(["089/7654321", "(212) 555-0147", None, "   ", "abc"])
    out = standardize_phones(values, pd.Series(["DE", "US", "CN", "CN", "CN"]))
    assert out["value"].tolist()[:2] == ["+49897654321", "+12125550147"]
    assert out["valid"].tolist()[2:] == [None, None, False]
    assert out["rule"].tolist()[2:4] == [None, None]


def test_configured_placeholder_phone():
    settings = StandardizeSettings(placeholder_phones=["13912345678"])
    row = one(
        standardize_phones(
            pd.Series(["139 1234 5678"]), "CN", settings=settings, reference=load_reference(settings)
        )
    )
    assert row["issue"] == "placeholder"


# --------------------------------------------------------------------------------------------
# e-mail


def test_email_case_and_domain_typos():
    raw = pd.Series(
        [
            "Foo@QQ.COM",
            "abc@qq.con",
            "x@163.cm",
            "ａｂｃ＠gmial.com",
            "office@xyz.cm.cn",
            "a@hotmail.co",
            "zhang@example.com",
        ]
    )
    out = standardize_emails(raw)
    assert out["value"].tolist() == [
        "foo@qq.com",
        "abc@qq.com",
        "x@163.com",
        "abc@gmail.com",
        "office@xyz.com.cn",
        "a@hotmail.co",
        "zhang@example.com",
    ]
    assert out["issue"].tolist()[1:6] == ["domain_typo_fixed"] * 4 + ["possible_domain_typo"]
    assert out["rule"].iloc[0] == "email_case"
    assert "email_domain_typo" in out["rule"].iloc[1]
    assert out["rule"].iloc[6] is None
    assert out["domain"].iloc[3] == "gmail.com" and out["local"].iloc[3] == "abc"


def test_invalid_emails_without_dns():
    out = standardize_emails(pd.Series(["no-at-sign", "a@b@c", "abc.@qq.com", "a@qq.com;b@163.com"]))
    assert out["valid"].tolist() == [False, False, False, True]
    assert out["issue"].tolist()[:3] == ["missing_at", "invalid_syntax", "invalid_syntax"]
    assert out["issue"].iloc[3] == "multiple_values"


def test_email_typos_only_flagged_when_fixing_is_off():
    settings = StandardizeSettings(fix_email_typos=False)
    row = one(
        standardize_emails(pd.Series(["abc@qq.con"]), settings=settings, reference=load_reference(settings))
    )
    assert row["valid"] is False and row["issue"] == "domain_typo"


# --------------------------------------------------------------------------------------------
# company names


def test_fullwidth_and_bracketed_region_give_the_same_core():
    out = standardize_company_names(
        pd.Series(["上海ＡＢＣ科技有限公司", "ABC科技(上海)有限公司", "ABC科技（上海）有限責任公司"])
    )
    assert out["core"].tolist() == ["abc科技"] * 3
    assert out["region"].tolist() == ["上海市"] * 3
    assert out["legal_form"].tolist() == ["有限公司"] * 3
    assert out["value"].iloc[0] == "上海ABC科技有限公司"
    assert "fullwidth_to_halfwidth" in out["rule"].iloc[0]
    assert "traditional_to_simplified" in out["rule"].iloc[2]
    assert out["display"].iloc[1] == "ABC科技（上海）有限公司"
    assert out["script"].tolist() == ["mixed"] * 3
    assert out["pinyin"].iloc[0] == "abckeji"


def test_branch_group_and_latin_legal_forms():
    out = standardize_company_names(
        pd.Series(
            [
                "华瑞集团有限公司北京分公司",
                "華瑞科技股份有限公司",
                "Shanghai Huarui Technology Co., Ltd.",
                "Huarui Technology Co. Ltd",
                "Müller Maschinenbau GmbH",
            ]
        )
    )
    assert one(out)["branch"] == "北京市分公司"  # canonical place + marker (same in every script)
    assert one(out)["core"] == "华瑞"
    assert one(out)["legal_form"] == "集团有限公司"
    assert one(out, 1)["value"] == "华瑞科技股份有限公司"
    assert one(out, 1)["legal_form"] == "股份有限公司"
    assert out["core"].iloc[2] == out["core"].iloc[3] == "huarui technology"
    assert out["legal_form"].iloc[2] == out["legal_form"].iloc[3] == "Co. Ltd."
    assert out["region"].iloc[2] == "上海市"
    assert out["legal_form"].iloc[4] == "GmbH" and out["script"].iloc[4] == "latin"
    assert out["__industry"].iloc[1] == "科技服务"


def test_a_leading_brand_that_looks_like_a_city_is_kept():
    # 金华 is a city, but stripping it would leave only 科技: the core keeps it
    assert one(standardize_company_names(pd.Series(["金华科技有限公司"])))["core"] == "金华科技"


def test_name_of_only_a_legal_form_is_invalid_and_test_names_are_marked():
    out = standardize_company_names(pd.Series(["有限公司", "测试客户01", "Test Company Ltd"]))
    assert one(out)["valid"] is False and one(out)["issue"] == "no_name_core"
    assert out["__test"].tolist()[1:] == ["test_keyword", "test_keyword"]


def test_mojibake_is_flagged_or_repaired_never_a_crash():
    garbled = "上海市".encode().decode("gbk", errors="replace")  # UTF-8 read as GBK, a byte lost
    repairable = "上海华瑞科技".encode().decode("gbk")  # 涓婃捣鍗庣憺绉戞妧: every byte kept
    out = standardize_company_names(pd.Series([garbled, repairable]))
    assert one(out)["valid"] is False and one(out)["issue"] == "mojibake"
    assert one(out, 1)["value"] == "上海华瑞科技"
    assert one(out, 1)["issue"] == "mojibake_repaired"
    assert "mojibake_repair" in one(out, 1)["rule"]
    assert repair_mojibake("北京华瑞") == ("北京华瑞", False)


def test_reference_tables_can_be_extended(tmp_path):
    extra = tmp_path / "forms.csv"
    extra.write_text("variant,canonical,script,entity\n商号,商号,cjk,company\n", encoding="utf-8")
    settings = StandardizeSettings(extra_tables={"legal_forms": [extra]})
    reference = load_reference(settings, tmp_path)
    assert (
        one(standardize_company_names(pd.Series(["华瑞商号"]), settings=settings, reference=reference))[
            "legal_form"
        ]
        == "商号"
    )


# --------------------------------------------------------------------------------------------
# customer names (company or person) and person names


def test_customer_names_are_decided_per_value():
    out = standardize_customer_names(
        pd.Series(["张伟", "欧阳娜娜", "华瑞科技有限公司", "John Smith", "Acme Trading", "華瑞貿易"])
    )
    assert out["__entity"].tolist() == ["person", "person", "company", "person", "company", "company"]
    assert one(out)["pinyin"] == "zhangwei"
    assert one(out)["legal_form"] is None
    assert one(out, 2)["core"] == "华瑞科技"
    assert one(out, 5)["value"] == "华瑞贸易"


def test_person_names_spacing_case_and_pinyin():
    out = standardize_person_names(pd.Series(["张 三", "JOHN SMITH", "李四1", "王"]))
    assert out["value"].tolist()[:2] == ["张三", "John Smith"]
    assert out["pinyin"].tolist()[:2] == ["zhangsan", "johnsmith"]
    # a single Chinese character is a surname or given name of a split-name source: kept, with a warning
    assert out["issue"].tolist()[2:] == ["has_digits", "single_character"]
    assert out["valid"].tolist()[3] is True and out["value"].tolist()[3] == "王"



# --------------------------------------------------------------------------------------------
# addresses, regions, postcodes, countries


def test_chinese_addresses_are_parsed_with_codes():
    out = standardize_addresses(
        pd.Series(["上海市浦东新区张江路１００号", "深圳市 南山区 科技园", "北京朝阳区建国路88号"])
    )
    assert out["province"].tolist() == ["上海市", "广东省", "北京市"]
    assert out["city"].tolist() == ["上海市", "深圳市", "北京市"]
    assert out["district"].tolist() == ["浦东新区", "南山区", "朝阳区"]
    assert out["adcode"].tolist() == ["310115", "440305", "110105"]
    assert out["value"].iloc[0] == "上海市浦东新区张江路100号"
    assert out["detail"].iloc[0] == "张江路100号"


def test_latin_addresses_get_case_punctuation_and_abbreviations():
    out = standardize_addresses(pd.Series(["10 downing st", "350 Fifth Ave. ,New York"]))
    assert out["value"].tolist() == ["10 Downing Street", "350 Fifth Avenue, New York"]
    assert out["province"].tolist() == [None, None]


def test_regions_postcodes_countries():
    provinces = standardize_regions(pd.Series(["广东", "上海市", "Shanghai", "火星"]), "province")
    assert provinces["value"].tolist() == ["广东省", "上海市", "上海市", None]
    assert provinces["issue"].iloc[3] == "unknown_region"
    postcodes = standardize_postcodes(
        pd.Series(["200000", "50000", "SW1A 2AA"]), pd.Series(["CN", "CN", "GB"])
    )
    assert postcodes["value"].tolist() == ["200000", "050000", "SW1A 2AA"]
    assert postcodes["__province"].tolist() == ["上海市", "河北省", None]
    assert postcodes["issue"].iloc[1] == "leading_zero_restored"
    countries = standardize_countries(pd.Series(["中国", "China", "DE", "Atlantis"]))
    assert countries["value"].tolist() == ["CN", "CN", "DE", None]


# --------------------------------------------------------------------------------------------
# IDs


def test_uscc_checksum_and_region_code():
    out = standardize_tax_ids(
        pd.Series(
            [
                "91110000600037341L",
                "91110000600037341M",
                "9111 0000-6000 3734 1l",
                "111111111111111111",
                "123",
            ]
        ),
        "CN",
    )
    assert out["valid"].tolist() == [True, False, True, False, False]
    assert out["issue"].tolist()[1:] == ["uscc_bad_check", None, "all_same_digits", "uscc_bad_length"]
    assert out["region_code"].iloc[0] == "110000"
    assert out["type"].iloc[0] == "uscc" and out["country"].iloc[0] == "CN"
    assert out["value"].iloc[2] == "91110000600037341L"


def test_foreign_tax_ids_by_prefix_or_record_country():
    out = standardize_tax_ids(
        pd.Series(["DE129273398", "GB980780684", "129273398"]), pd.Series(["CN", "GB", "DE"])
    )
    assert out["valid"].tolist() == [True, True, True]
    assert out["type"].tolist() == ["de.vat", "gb.vat", "de.vat"]


# --------------------------------------------------------------------------------------------
# dates, amounts, codes, status, flags


def test_dates_in_several_formats():
    raw = pd.Series(
        [
            "2021-03-05",
            "2021/3/5",
            "20210305",
            "2021年3月5日",
            "05/03/2021",
            "44260",
            "1800-01-01",
            "abc",
            "2021-03-05 00:00:00",
        ]
    )
    out = standardize_dates(raw, reference_date=dt.date(2026, 11, 1))
    assert out["value"].tolist()[:6] == [dt.date(2021, 3, 5)] * 6
    assert out["issue"].tolist()[6:8] == ["out_of_range", "unparsed_date"]
    assert out["rule"].iloc[0] is None and out["rule"].iloc[1] == "date_format:%Y/%m/%d"
    assert out["valid_before"].tolist()[:2] == [True, False]
    assert out["valid_before"].iloc[8] is True  # an ISO timestamp at midnight is the same date


def test_month_first_dates_when_configured():
    out = standardize_dates(pd.Series(["05/03/2021"]), settings=StandardizeSettings(day_first=False))
    assert one(out)["value"] == dt.date(2021, 5, 3)


def test_amounts():
    out = standardize_amounts(
        pd.Series(["1200.50", "¥1,234.00", "1.234,50", "(500)", "3.5万", "RMB 12", "abc"])
    )
    assert out["value"].tolist()[:6] == [1200.5, 1234.0, 1234.5, -500.0, 35000.0, 12.0]
    assert out["rule"].iloc[0] is None and out["rule"].iloc[1] == "amount_format"
    assert out["issue"].iloc[6] == "not_a_number"


def test_status_words_and_custom_words():
    out = standardize_statuses(pd.Series(["注销", "吊销，未注销", "停用", "inactive", "正常", "火星"]))
    assert out["value"].tolist() == ["deregistered", "revoked", "suspended", "inactive", "active", None]
    assert out["issue"].iloc[5] == "unknown_status"
    settings = StandardizeSettings(status_words={"火星": "inactive"})
    custom = standardize_statuses(pd.Series(["火星"]), settings=settings, reference=load_reference(settings))
    assert one(custom)["value"] == "inactive"


def test_flags_customer_types_and_text():
    assert standardize_flags(pd.Series(["是", "否", "Y", "0", "maybe"]))["value"].tolist() == [
        True,
        False,
        True,
        False,
        None,
    ]
    assert standardize_customer_types(pd.Series(["Company", "Individual", "企业", "??"]))[
        "value"
    ].tolist() == ["B2B", "B2C", "B2B", None]
    text = standardize_text(pd.Series(["  备注　内容 ", "ok"]))
    assert text["value"].tolist() == ["备注 内容", "ok"]
    assert text["rule"].iloc[1] is None


def test_phone_province_hint_from_landlines_and_optionally_mobiles():
    raw = pd.Series(["13912345678", "0755-88886666"])
    assert standardize_phones(raw, "CN")["__province"].tolist() == [None, "广东省"]
    settings = StandardizeSettings(fill={"province_phone_types": ["landline", "mobile"]})
    out = standardize_phones(raw, "CN", settings=settings, reference=load_reference(settings))
    assert out["__province"].iloc[0] is not None  # the geocoder knows where 139 1234 was issued


# --------------------------------------------------------------------------------------------
# the shared helpers of the standardizers (base.py)


def test_per_value_skips_blanks_and_passes_the_region():
    from workbench.core.standardize.base import per_value, region_series

    values = pd.Series(["a", None, "  ", float("nan"), "b"], index=[10, 11, 12, 13, 14], dtype=object)
    assert per_value(values, lambda raw: {"value": raw.upper()}) == [
        {"value": "A"},
        {},
        {},
        {},
        {"value": "B"},
    ]
    regions = region_series("DE", values)
    assert regions.tolist() == ["DE"] * 5 and regions.index.equals(values.index)
    given = pd.Series(["CN", "DE", "US", "FR", None], index=values.index)
    assert region_series(given, values) is given
    assert per_value(values, lambda raw, reg: {"value": f"{raw}@{reg}"}, given) == [
        {"value": "a@CN"},
        {},
        {},
        {},
        {"value": "b@None"},
    ]


def test_rejected_and_result_from_records():
    from workbench.core.standardize.base import rejected, result_from_records

    assert rejected("too_short") == {"valid": False, "issue": "too_short", "rule": "reject_too_short"}
    assert rejected("uscc_bad_check", country="CN")["country"] == "CN"
    values = pd.Series(["Ab", "x", "  ", "same"], index=[3, 5, 7, 9], dtype=object)
    records = [
        {"value": "ab", "valid": True, "rule": "lower"},
        rejected("too_short"),
        {},
        {"value": "same", "valid": True},
    ]
    frame = result_from_records(records, values, ("extra",))
    assert list(frame.columns) == ["value", "valid", "issue", "rule", "extra", "valid_before"]
    assert frame.index.tolist() == [3, 5, 7, 9]
    assert frame["rule"].tolist() == ["lower", "reject_too_short", None, None]
    assert frame["valid_before"].tolist() == [False, False, None, True]
    assert frame["extra"].tolist() == [None] * 4  # None, never NaN


def test_resolve_reference_loads_defaults_only_when_not_given():
    from workbench.core.standardize.base import resolve_reference

    settings, reference = resolve_reference(None, None)
    assert isinstance(settings, StandardizeSettings) and "legal_forms" in reference.tables
    given = StandardizeSettings(status_words={"火星": "inactive"})
    assert resolve_reference(given, reference) == (given, reference)
