"""The standardize stage on a small hand-made project: tables, change log, flags, fills, activity."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from workbench.core.ingest import ingest_sources
from workbench.core.standardize import StandardizeError, standardize_customers
from workbench.engine.connection import connect, table_columns
from workbench.project.config import load_config

ERP = """\
客户编码,客户名称,手机,电话,邮箱,地址,邮编,统一社会信用代码,状态,建档日期,客户类型,国家
C1,上海ＡＢＣ科技有限公司,+86 138 0013 8000,(021)6234-5678转123,Foo@QQ.COM,上海市浦东新区张江路100号,200000,91110000600037341L,正常,2021/3/5,,中国
C2,ABC科技(上海)有限公司,0086-13800138000;13912345678,,abc@qq.con,北京朝阳区建国路88号,510000,91110000600037341M,注销,20210305,企业,CN
C3,张伟,13800000000,,,深圳市南山区科技园,518000,,吊销，未注销,2021年3月5日,,
C4,测试客户,11111111111,,test@example.com,,,,停用,05/03/2021,,
C5,華瑞貿易有限公司,,0755-88886666,,,,,,2021-03-05,,
C6,Müller Maschinenbau GmbH,+49 89 1234567,,h.mueller@mueller-mb.de,Leopoldstraße 12,80802,DE129273398,active,2019-03-01,,Deutschland
C7,{mojibake},13912345678,,,,,,,,,
"""
TRANSACTIONS = """\
单据号,客户编码,单据日期,金额
T1,C1,2026-10-01,"1,200.50"
T2,C1,2024-01-15,800
T3,C2,2020-01-01,300
T4,C6,2026-06-30,7200
T5,C9,2026-11-01,5
"""
CONFIG = """\
project:
  name: test
  default_region: CN
sources:
  - name: erp
    path: erp.csv
    id_column: 客户编码
    columns:
      客户编码: {field: customer_id, kind: id}
      客户名称: {field: customer_name, kind: customer_name}
      手机: {field: mobile, kind: phone}
      电话: {field: phone, kind: phone}
      邮箱: {field: email, kind: email}
      地址: {field: address, kind: address}
      邮编: {field: postcode, kind: postcode}
      统一社会信用代码: {field: uscc, kind: tax_id}
      状态: {field: status, kind: status}
      建档日期: {field: created_date, kind: date}
      客户类型: {field: customer_type, kind: code}
      国家: {field: country, kind: country}
  - name: web
    path: web.csv
    id_column: id
    columns:
      id: {field: customer_id, kind: id}
      name: {field: customer_name, kind: customer_name}
      email: {field: email, kind: email}
  - name: tx
    role: activity
    customer_source: erp
    path: tx.csv
    id_column: 客户编码
    columns:
      客户编码: {field: customer_id, kind: id}
      单据号: {field: document_no, kind: code}
      单据日期: {field: document_date, kind: date}
      金额: {field: amount, kind: amount}
"""


def make_project(tmp_path: Path, extra_config: str = "") -> Path:
    mojibake = "上海华瑞科技".encode().decode("gbk")
    (tmp_path / "erp.csv").write_text(ERP.format(mojibake=mojibake), encoding="utf-8")
    (tmp_path / "web.csv").write_text(
        "id,name,email\nW1, John Smith ,J.Smith@ACME.com\nW2,,\n", encoding="utf-8"
    )
    (tmp_path / "tx.csv").write_text(TRANSACTIONS, encoding="utf-8")
    (tmp_path / "workbench.yaml").write_text(CONFIG + textwrap.dedent(extra_config), encoding="utf-8")
    return tmp_path / "workbench.yaml"


@pytest.fixture
def run(tmp_path):
    config = load_config(make_project(tmp_path))
    con = connect()
    ingest_sources(config, con)
    result = standardize_customers(config, con)
    std = con.execute("SELECT * FROM std_customers").df().set_index("record_key")
    yield config, con, result, std
    con.close()


def test_rows_in_equal_rows_out_and_keys(run):
    _, con, result, std = run
    assert result.rows_in == {"erp": 7, "web": 2}
    assert result.rows_out == 9 and result.balanced
    assert list(std.index) == [f"erp:{i}" for i in range(2, 9)] + ["web:2", "web:3"]
    assert std.loc["web:2", "source_id"] == "W1"
    cols = table_columns(con, "std_customers")
    assert cols[:5] == ["record_key", "_source", "_row_number", "_row_hash", "source_id"]
    for name in (
        "mobile_e164",
        "mobile_all",
        "mobile_type",
        "mobile_ext",
        "mobile_last8",
        "email_local",
        "email_domain",
        "customer_name_core",
        "customer_name_legal_form",
        "customer_name_branch",
        "customer_name_region",
        "customer_name_pinyin",
        "customer_name_script",
        "customer_name_display",
        "address_province",
        "address_adcode",
        "uscc_region_code",
        "uscc_type",
        "uscc_country",
        "postcode_province_match",
        "customer_type",
        "record_status",
        "is_test",
        "is_stale",
        "last_activity_date",
        "activity_amount_12m",
        "activity_amount_total",
        "flags",
        "industry",
    ):
        assert name in cols, name
    assert not [c for c in cols if c.startswith("__")]


def test_values_and_validity(run):
    _, _, _, std = run
    assert std.loc["erp:2", "mobile"] == "+8613800138000"
    assert std.loc["erp:2", "phone_ext"] == "123"
    assert std.loc["erp:3", "mobile_all"] == "+8613800138000;+8613912345678"
    assert std.loc["erp:2", "customer_name_core"] == std.loc["erp:3", "customer_name_core"] == "abc科技"
    assert (
        bool(std.loc["erp:3", "uscc_valid"]) is False and std.loc["erp:3", "uscc_issue"] == "uscc_bad_check"
    )
    assert std.loc["erp:2", "uscc_region_code"] == "110000"
    assert std.loc["erp:6", "customer_name"] == "华瑞贸易有限公司"
    assert std.loc["erp:7", "uscc"] == "DE129273398"  # read with the record's country (Deutschland → DE)
    assert std.loc["erp:7", "mobile"] == "+49891234567"
    assert {str(std.loc[f"erp:{i}", "created_date"])[:10] for i in (2, 3, 4, 5, 6)} == {"2021-03-05"}
    assert std.loc["erp:3", "email"] == "abc@qq.com"
    # postcode 510000 is Guangdong, the address is in Beijing
    assert bool(std.loc["erp:3", "postcode_province_match"]) is False
    assert bool(std.loc["erp:2", "postcode_province_match"]) is True
    assert pd.isna(std.loc["erp:5", "address_valid"])  # missing, not invalid


def test_record_status_test_and_flags(run):
    _, _, result, std = run
    assert std.loc["erp:3", "record_status"] == "deregistered"
    assert std.loc["erp:4", "record_status"] == "revoked"
    assert std.loc["erp:5", "record_status"] == "suspended"
    assert std.loc["erp:8", "record_status"] == "unknown"
    assert bool(std.loc["erp:5", "is_test"]) is True
    assert "test:test_keyword" in std.loc["erp:5", "flags"]
    assert "mojibake" in std.loc["erp:8", "flags"]
    assert std.loc["erp:8", "customer_name"] == "上海华瑞科技"
    assert std.loc["erp:8", "customer_name_issue"] == "mojibake_repaired"
    assert result.flagged["deregistered"] == 1 and result.flagged["revoked"] == 1


def test_activity_stale_and_reference_date(run):
    _, _, result, std = run
    # no as_of_date: the newest activity date is the reference (T5 of an unknown customer counts)
    assert result.reference_date == dt.date(2026, 11, 1)
    assert std.loc["erp:2", "activity_amount_12m"] == pytest.approx(1200.5)
    assert std.loc["erp:2", "activity_amount_total"] == pytest.approx(2000.5)
    assert bool(std.loc["erp:2", "is_stale"]) is False
    assert bool(std.loc["erp:3", "is_stale"]) is True and "stale" in std.loc["erp:3", "flags"]
    assert bool(std.loc["erp:4", "is_stale"]) is True and "no_activity" in std.loc["erp:4", "flags"]
    assert std.loc["erp:4", "activity_amount_12m"] == 0
    # the web source has no activity source: unknown, not stale
    assert pd.isna(std.loc["web:2", "is_stale"])


def test_fills_are_logged(run):
    _, con, _, std = run
    assert std.loc["erp:3", "customer_type"] == "B2B"  # given: 企业
    assert std.loc["erp:2", "customer_type"] == "B2B"  # filled from the valid USCC
    assert std.loc["erp:4", "customer_type"] == "B2C"  # a person's name
    assert std.loc["erp:2", "industry"] == "科技服务"
    # C5 has no address: its province comes from the landline's area code (0755 → Guangdong)
    assert std.loc["erp:6", "address_province"] == "广东省"
    log = con.execute(
        "SELECT field, before, after, rule FROM change_log WHERE record_key = 'erp:6' AND rule LIKE 'fill_%' ORDER BY field"
    ).fetchall()
    assert ("address_province", None, "广东省", "fill_province:phone") in log
    given = con.execute(
        "SELECT count(*) FROM change_log WHERE record_key = 'erp:3' AND field = 'customer_type' AND rule LIKE 'fill_%'"
    ).fetchall()[0][0]
    assert given == 0


def test_every_change_is_in_the_change_log(run):
    config, con, result, _ = run
    # every text value that differs from its raw text has exactly one change-log row, and no other row exists
    text_fields = [
        "customer_name",
        "mobile",
        "phone",
        "email",
        "address",
        "postcode",
        "uscc",
        "status",
        "customer_type",
    ]
    for f in text_fields:
        diff = con.execute(
            f"SELECT record_key FROM std_customers WHERE {f}_raw IS NOT NULL AND trim({f}_raw) <> '' "
            f"AND {f} IS DISTINCT FROM {f}_raw ORDER BY record_key"
        ).fetchall()
        logged = con.execute(
            "SELECT record_key FROM change_log WHERE field = ? AND rule NOT LIKE 'fill_%' ORDER BY record_key",
            [f],
        ).fetchall()
        assert [r[0] for r in diff] == sorted(r[0] for r in logged), f
    rows = con.execute("SELECT count(*), count(rule) FROM change_log").fetchall()[0]
    assert rows[0] == rows[1] == result.changes
    assert result.changes_by_rule["phone_e164"] >= 3


def test_field_validity_before_and_after(run):
    _, con, _, _ = run
    validity = (
        con.execute("SELECT * FROM field_validity WHERE source = 'erp' ORDER BY field")
        .df()
        .set_index("field")
    )
    mobile = validity.loc["mobile"]
    assert (mobile.n, mobile.n_present) == (7, 6)  # C5 has no mobile
    assert mobile.n_valid_after == 4  # two placeholders
    assert mobile.n_valid_before == 1  # only 13912345678 is written plainly
    assert validity.loc["uscc", "n_valid_after"] == 2
    web = con.execute("SELECT field FROM field_validity WHERE source = 'web' ORDER BY field").fetchall()
    assert [r[0] for r in web] == ["customer_id", "customer_name", "email"]


def test_rerun_gives_identical_tables(run):
    config, con, _, _ = run
    first = con.execute("SELECT * FROM change_log").fetchall()
    std_first = con.execute("SELECT * FROM std_customers").fetchall()
    standardize_customers(config, con)
    assert con.execute("SELECT * FROM change_log").fetchall() == first
    assert con.execute("SELECT * FROM std_customers").fetchall() == std_first


def test_parallel_workers_give_the_same_result(tmp_path):
    extra = """\
    standardize:
      workers: 2
      parallel_min_values: 0
      parallel_chunk_size: 1000
    """
    config = load_config(make_project(tmp_path, extra))
    con = connect()
    ingest_sources(config, con)
    standardize_customers(config, con)
    parallel = con.execute("SELECT * FROM std_customers").fetchall()
    config.standardize.workers = 1
    standardize_customers(config, con)
    assert con.execute("SELECT * FROM std_customers").fetchall() == parallel


def test_credit_rating_fill_from_receivables(tmp_path):
    config_path = make_project(
        tmp_path,
        """\
        standardize:
          stale_months: 12
          fill:
            credit_rating:
              measure: activity_amount_12m
              bands: [{min: 5000, rating: A}, {min: 1000, rating: B}, {min: 0.01, rating: C}]
              default: D
        """,
    )
    config = load_config(config_path)
    con = connect()
    ingest_sources(config, con)
    standardize_customers(config, con)
    ratings = dict(con.execute("SELECT record_key, credit_rating FROM std_customers").fetchall())
    assert ratings["erp:2"] == "B" and ratings["erp:7"] == "A" and ratings["erp:4"] == "D"
    assert ratings["web:2"] is None
    rules = con.execute("SELECT DISTINCT rule FROM change_log WHERE field = 'credit_rating'").fetchall()
    assert rules == [("fill_credit_rating:activity_amount_12m",)]


def test_missing_staged_table_is_a_clear_error(tmp_path):
    config = load_config(make_project(tmp_path))
    con = connect()
    with pytest.raises(StandardizeError, match="run the audit stage"):
        standardize_customers(config, con)


def test_unknown_table_name_in_settings_is_refused(tmp_path):
    from workbench.errors import ConfigError

    path = make_project(tmp_path, "standardize:\n  tables: {legal_form: x.csv}\n")
    with pytest.raises(ConfigError, match="legal_forms"):
        load_config(path)


def _table_names(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_no_scratch_table_survives_a_run_or_a_failed_run(tmp_path):
    from workbench.engine.catalog import CHANGE_LOG, FIELD_VALIDITY, STD_CUSTOMERS, TEMP_PREFIX

    config = load_config(make_project(tmp_path))
    con = connect(tmp_path / "run.duckdb")
    ingest_sources(config, con)
    staged = _table_names(con)
    standardize_customers(config, con)
    assert _table_names(con) - staged == {STD_CUSTOMERS.name, CHANGE_LOG.name, FIELD_VALIDITY.name}
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    assert views == []
    # a fill into a date field fails after the base, the activity and the lookups were built
    config.standardize.fill.industry = True
    config.standardize.fill.industry_column = "created_date"
    with pytest.raises(StandardizeError, match="not text"):
        standardize_customers(config, con)
    assert not [n for n in _table_names(con) if n.startswith(TEMP_PREFIX)]
    con.close()
