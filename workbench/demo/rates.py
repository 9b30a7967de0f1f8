"""The knobs of the demo generator: population shares, source coverage and defect rates.

This module owns :class:`DemoRates` and the fixed vocabulary of planted defect tags
(:data:`DEFECT_TAGS`) that ``ground_truth.csv`` uses. Rates are probabilities per eligible row
(a row is eligible when the defect can apply to it, e.g. ``uscc_missing`` only to rows of Chinese
companies); a positive rate plants the defect on at least one row even in a tiny demo.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from workbench.errors import WorkbenchError


class DemoError(WorkbenchError):
    """The demo generator was called with parameters it cannot honour."""


# tag → what was planted. The order is the order of the tags in ground_truth.csv's `defects`.
DEFECT_TAGS: dict[str, str] = {
    "fullwidth": "ASCII digits, letters or brackets written full-width (８８号, （上海）)",
    "legal_form_variant": "legal form written another way (有限公司 ↔ 有限责任公司, Co., Ltd. → Co. Ltd)",
    "typo": "one character of the name dropped, doubled or swapped with its neighbour",
    "name_traditional": "name written in traditional characters",
    "region_in_brackets": "region moved between prefix and brackets (上海华瑞… ↔ 华瑞(上海)…)",
    "romanised_name": "CRM keeps the romanised English name of a Chinese company",
    "short_name": "only the short name (字号 + 行业, e.g. 华瑞科技) is given",
    "mojibake": "name is UTF-8 text decoded as GBK (valid bytes, garbage text such as 涓婃捣)",
    "phone_format": "phone written in another format (+86 138 0013 8000, (021)6234-5678转123, …)",
    "phone_multi": "two numbers in one cell (13800138000;13912345678, 13800138000/021-62345678)",
    "phone_placeholder": "a placeholder instead of the phone (13800000000, 00000000, 无)",
    "phone_missing": "the mobile / phone cell is empty although the customer has one",
    "mobile_changed": "an older mobile of the contact (the customer's current one differs)",
    "email_typo": "typo in the e-mail domain (qq.con, 163.cm, gmial.com)",
    "email_case": "e-mail written in upper or mixed case",
    "email_missing": "the e-mail cell is empty although the customer has one",
    "uscc_bad_check": "USCC with a wrong check character",
    "uscc_missing": "the USCC cell is empty although the company has one",
    "address_format": "address written another way (without province / city, with 中国, with spaces)",
    "address_changed": "an older address of the customer (the current one differs)",
    "address_missing": "the address cell is empty",
    "postcode_mismatch": "postcode of another province",
    "date_format": "date not in ISO form (2021/3/5, 20210305, 2021年3月5日, text in Excel)",
    "status_missing": "the status cell is empty",
    "duplicate_in_source": "a second row of the same customer in the same source, under another ID",
    "test_record": "a test customer (测试客户, test, 11111111111)",
    "bad_bytes": "bytes that are invalid in GBK / GB18030 (ingest quarantines the row)",
    "bad_cells": "an unquoted delimiter gives the row one cell too many (ingest quarantines it)",
    # the hard variant only (generate_demo(hard=True), knobs in HardRates)
    "brand_only": "only the trade name (字号) is given (康成 for 康成科技(北京)有限公司)",
    "legal_form_dropped": "the legal form is left out (Guangzhou Yuncheng Chemical, 运成化工(广州))",
    "brand_homophone": "a character of the trade name replaced by a homophone (华瑞 → 华锐)",
    "brand_typo": "a character of the trade name replaced by another character (华瑞 → 华端)",
    "gufen_variant": "股份 dropped or kept against the registered name (…股份有限公司 → …有限公司, 康成股份)",
    "moved": "the customer moved: an older address, mobile and switchboard under the same name",
    "branch_marker_dropped": "a branch written under its parent's name, without the branch marker",
    "nested_branch": "a branch of a branch (…上海分公司浦东营业部, … Shanghai Branch Pudong Office)",
    "shared_phone": "the row's switchboard is also another customer's (group member or household)",
    "shared_building": "the row's building (road and number) is also another group member's",
    "household": "a member of a household: another customer lives at the same home (a true non-match)",
    "shared_id": "the ID number is another household member's (several people under one ID)",
    "id_typo": "one digit of the ID number mistyped",
    "name_swap": "given name and surname swapped (名 in the 姓 column)",
    "street_swap": "the two street lines swapped (地址1 ↔ 地址2)",
}
# the tags planted only by the hard variant
HARD_TAGS = tuple(list(DEFECT_TAGS)[list(DEFECT_TAGS).index("brand_only") :])


@dataclass(frozen=True)
class DemoRates:
    """Shares and rates of the demo data; every field has a sensible default.

    The hard variant starts from :data:`HARD_DEMO_RATES` and adds the knobs of :class:`HardRates`.
    """

    # population (shares of `customers`)
    individual_share: float = 0.15
    foreign_share: float = 0.05
    test_share: float = 0.003
    group_share: float = 0.025  # of the Chinese companies: heads of a group
    # new_customers.csv: rows per customer, and the share of them that copy an existing customer
    new_customer_share: float = 0.05
    new_copy_share: float = 0.6
    # which source holds a customer (by type), and second rows in the same source
    erp_share: float = 0.92
    crm_share_company: float = 0.5
    crm_share_individual: float = 0.3
    crm_share_foreign: float = 0.8
    ledger_share_company: float = 0.22
    ledger_share_individual: float = 0.05
    ledger_share_foreign: float = 0.1
    erp_duplicate: float = 0.025
    crm_duplicate: float = 0.015
    ledger_duplicate: float = 0.01
    # true attributes of customers
    deregistered: float = 0.05
    revoked: float = 0.03
    dormant: float = 0.10
    never_active: float = 0.5  # of deregistered / revoked customers: no transaction at all
    blacklist: float = 0.02
    vip: float = 0.05
    # row defects (per eligible row)
    fullwidth: float = 0.03
    legal_form_variant: float = 0.05
    typo: float = 0.03
    name_traditional: float = 0.02
    region_in_brackets: float = 0.04
    romanised_name: float = 0.35  # CRM rows of Chinese companies
    phone_format: float = 0.15
    phone_multi: float = 0.03
    phone_placeholder: float = 0.01
    phone_missing: float = 0.04
    mobile_changed: float = 0.04
    email_typo: float = 0.02
    email_case: float = 0.04
    email_missing: float = 0.08
    uscc_bad_check: float = 0.01
    uscc_missing: float = 0.03
    crm_uscc_missing: float = 0.3  # the CRM often lacks the tax ID
    address_format: float = 0.15
    address_changed: float = 0.04
    address_missing: float = 0.02
    postcode_mismatch: float = 0.01
    date_format: float = 0.3
    status_missing: float = 0.05
    mojibake_rows: int = 2
    max_destructive: int = 2  # at most this many of missing/changed/typo defects on one row

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", float) and not 0 <= value <= 1:
                raise DemoError(f"DemoRates.{f.name} = {value!r}: a rate must be between 0 and 1")
            if f.type in ("int", int) and value < 0:
                raise DemoError(f"DemoRates.{f.name} = {value!r}: must not be negative")


@dataclass(frozen=True)
class HardRates:
    """The knobs of the hard variant (``generate_demo(hard=True)``): look-alike non-matches and hard
    matches. Shares of entities first, then rates per eligible row (as in :class:`DemoRates`)."""

    # groups
    same_trade_group: float = 0.5  # groups headed by a company of the subsidiaries' own trade (not a 集团)
    local_member: float = 0.5  # branches and subsidiaries in the parent's city
    share_phone: float = 0.5  # group members in the parent's city that share its switchboard
    share_building: float = 0.6  # of the others in the parent's city: share its building
    nested_branch: float = 0.6  # groups with two branches or more: the second is a branch of the first
    # people: a member system (members.csv) and households
    household_share: float = 0.3  # individuals living with another customer (one home)
    household_same_surname: float = 0.7  # household members with the head's surname
    household_same_phone: float = 0.8  # household members who give the home's landline
    members_share: float = 0.8  # individuals in the member system
    members_duplicate: float = 0.04
    # row defects
    brand_only: float = 0.3  # ledger rows of Chinese companies
    legal_form_dropped: float = 0.3  # CRM rows of Chinese companies
    brand_homophone: float = 0.04
    brand_typo: float = 0.03
    gufen_variant: float = 0.5  # rows of 股份有限公司 companies
    moved: float = 0.06
    branch_marker_dropped: float = 0.15
    shared_id: float = 0.6  # member-system rows of household members who are not the head
    id_typo: float = 0.02
    name_swap: float = 0.04
    street_swap: float = 0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0 <= value <= 1:
                raise DemoError(f"HardRates.{f.name} = {value!r}: a rate must be between 0 and 1")


# the demo rates of the hard variant: more romanised and short names, more groups, more changes
HARD_DEMO_RATES = DemoRates(
    individual_share=0.25,
    group_share=0.08,
    crm_share_individual=0.4,
    ledger_share_company=0.35,
    romanised_name=0.6,
    mobile_changed=0.08,
    address_changed=0.06,
    typo=0.04,
)
