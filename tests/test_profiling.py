"""Profiling SQL, pattern masks, duplicates, key overlaps, the audit charts and the profile report.

Every test builds tiny staged tables in an in-memory DuckDB (the ingest contract of
docs/architecture.md) and checks what the real computation returns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pytest

from workbench.core import ingest
from workbench.core import profiling as P
from workbench.engine.connection import connect, table_exists
from workbench.errors import WorkbenchError
from workbench.presentation.charts import profile as charts
from workbench.presentation.reports.html import find_external_references
from workbench.presentation.reports.profile_report import build_profile_report, write_profile_report
from workbench.project.config import LINEAGE_COLUMNS, parse_config
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

# --------------------------------------------------------------------------------------------
# fixtures

CONFIG = {
    "project": {"name": "测试项目", "language": "zh"},
    "sources": [
        {
            "name": "erp",
            "path": "erp.csv",
            "id_column": "客户编码",
            "columns": {
                "客户编码": {"field": "customer_id", "kind": "id"},
                "客户名称": {"field": "customer_name", "kind": "customer_name"},
                "手机": {"field": "mobile", "kind": "phone"},
                "电话": {"field": "phone", "kind": "phone"},
                "邮箱": {"field": "email", "kind": "email"},
                "税号": {"field": "uscc", "kind": "tax_id"},
                "建档日期": {"field": "created_date", "kind": "date"},
            },
        },
        {
            "name": "crm",
            "path": "crm.xlsx",
            "id_column": "Account ID",
            "columns": {
                "Account ID": {"field": "account_id", "kind": "id"},
                "Account Name": {"field": "customer_name", "kind": "customer_name"},
                "Mobile": {"field": "mobile", "kind": "phone"},
                "Email": {"field": "email", "kind": "email"},
                "Tax ID": {"field": "uscc", "kind": "tax_id"},
            },
        },
        {
            "name": "ledger",
            "path": "ledger.xlsx",
            "id_column": "序号",
            "columns": {"序号": {"field": "ledger_no", "kind": "id"}, "简称": "short_name"},
        },
        {
            "name": "tx",
            "path": "tx.csv",
            "role": "activity",
            "customer_source": "erp",
            "id_column": "客户编码",
            "columns": {
                "客户编码": {"field": "customer_id", "kind": "id"},
                "单据日期": {"field": "doc_date", "kind": "date"},
                "金额": {"field": "amount", "kind": "amount"},
            },
        },
    ],
}

ERP_ROWS = [
    # customer_id, customer_name, mobile, phone, email, uscc, created_date, 备注 (unmapped)
    (
        "C001",
        "上海华瑞科技有限公司",
        "13800138000",
        "(021)6234-5678转123",
        "Li@QQ.com",
        "91310000MA1FL8XX1A",
        "2021-03-05",
        "VIP",
    ),
    (
        "C002",
        "北京恒信贸易有限公司",
        "138-0013-8001",
        None,
        "wang@163.com ",
        "91110000 1234567890",
        "2021/3/5",
        None,
    ),
    ("C003 ", "华瑞（深圳）电子有限公司", "13800138002;13912345678", "  ", None, None, "20210305", None),
    (
        "C003",
        "ＡＢＣ贸易",
        "+86 139 1234 5679",
        "+86 21 6234 5678",
        "x@y.cn",
        "91440300-ma5xxxxx9b",
        "2021年3月5日",
        None,
    ),
    (
        "C001",
        "上海华瑞科技有限公司",
        "13800138000",
        "(021)6234-5678转123",
        "Li@QQ.com",
        "91310000MA1FL8XX1A",
        "2021-03-05",
        "VIP",
    ),
]

CRM_ROWS = [
    ("A1", "Shanghai Huarui Technology Co., Ltd.", "+86 138 0013 8000", " li@qq.com", "91310000MA1FL8XX1A"),
    ("A2", "Beijing Hengxin", "0086-13800138001", "WANG@163.COM", "911100001234567890"),
    ("A3", "Foo GmbH", "13912345678/021-62345678", None, None),
    ("A4", "测试", "12", "nobody@example.com", "DE123456789"),
]


def _stg(con, name: str, fields: list[str], rows: list[tuple]) -> None:
    """A staged table as the ingest writes it: lineage columns first, every cell VARCHAR."""
    cols = ", ".join(f'"{f}" VARCHAR' for f in fields)
    con.execute(
        f"CREATE TABLE stg_{name} (_source VARCHAR, _file VARCHAR, _row_number BIGINT, _row_hash VARCHAR, {cols})"
    )
    for i, row in enumerate(rows, start=2):
        cells = ["" if c is None else c for c in row]
        con.execute(
            f"INSERT INTO stg_{name} VALUES (?, ?, ?, md5(array_to_string(?::VARCHAR[], chr(31))), "
            + ", ".join("?" for _ in fields)
            + ")",
            [name, f"{name}.csv", i, cells, *row],
        )


@pytest.fixture
def config(tmp_path: Path):
    return parse_config(CONFIG, tmp_path / "workbench.yaml", check_files=False)


@pytest.fixture
def con():
    c = connect()
    yield c
    c.close()


@pytest.fixture
def staged(con, config):
    """The four staged sources plus stg_columns, quarantine and ingest_summary."""
    erp_fields = ["customer_id", "customer_name", "mobile", "phone", "email", "uscc", "created_date", "备注"]
    _stg(con, "erp", erp_fields, ERP_ROWS)
    _stg(con, "crm", ["account_id", "customer_name", "mobile", "email", "uscc"], CRM_ROWS)
    _stg(con, "ledger", ["ledger_no", "short_name"], [("L0001", "华瑞科技"), ("L0002", "恒信")])
    _stg(
        con,
        "tx",
        ["customer_id", "doc_date", "amount"],
        [("C001", "2026-01-02", "100.50"), ("C001", "2026-01-02", "100.50"), ("C002", "2025-12-31", "-3")],
    )
    con.execute(
        "CREATE TABLE stg_columns (source VARCHAR, position INTEGER, header VARCHAR, field VARCHAR, "
        "kind VARCHAR, mapped BOOLEAN)"
    )
    headers = {s.name: list(s.columns.items()) for s in config.sources}
    for source, items in headers.items():
        for pos, (header, spec) in enumerate(items, start=1):
            con.execute(
                "INSERT INTO stg_columns VALUES (?, ?, ?, ?, ?, true)",
                [source, pos, header, spec.field, spec.kind.value],
            )
    con.execute("INSERT INTO stg_columns VALUES ('erp', 8, '备注', '备注', NULL, false)")
    con.execute(
        "CREATE TABLE quarantine (source VARCHAR, file VARCHAR, row_number BIGINT, reason VARCHAR, raw_text VARCHAR)"
    )
    con.execute(
        "INSERT INTO quarantine VALUES ('erp', 'erp.csv', 7, 'undecodable bytes for gb18030 at byte 12', "
        "'C009,\\xff\\xfe,13800000000'), ('erp', 'erp.csv', 9, 'expected 8 cells, found 9', 'a,b,c')"
    )
    con.execute(
        "CREATE TABLE ingest_summary (source VARCHAR, file VARCHAR, format VARCHAR, encoding VARCHAR, "
        "file_rows BIGINT, staged_rows BIGINT, quarantined_rows BIGINT, balanced BOOLEAN)"
    )
    con.execute(
        "INSERT INTO ingest_summary VALUES ('erp', 'erp.csv', 'csv', 'gb18030', 7, 5, 2, true), "
        "('crm', 'crm.xlsx', 'xlsx', NULL, 4, 4, 0, true), ('ledger', 'ledger.xlsx', 'xlsx', NULL, 2, 2, 0, true), "
        "('tx', 'tx.csv', 'csv', 'utf-8', 3, 3, 0, true)"
    )
    return con


@pytest.fixture
def ctx(config, tmp_path: Path) -> RunContext:
    return RunContext(config=config, paths=RunPaths(tmp_path / "run").ensure())


def _table(con, rows: dict[str, list]) -> None:
    df = pd.DataFrame(rows)
    con.register("df_view", df)
    con.execute("CREATE TABLE t AS SELECT * FROM df_view")
    con.unregister("df_view")


# --------------------------------------------------------------------------------------------
# pattern masks


TRICKY = [
    "138-0013-8000",
    "13800138000",
    "ＡＢ１２（上海）ab",
    " \u3000x",
    "Éa Ж",
    "かな한",
    "𠀀𝐀",
    "",
    "tab\there",
]
EXPECTED_MASKS = [
    "999-9999-9999",
    "99999999999",
    "ＡＡ９９（汉汉）aa",
    "__a",
    "Aa_A",
    "LLL",
    "汉A",
    "",
    "aaa_aaaa",
]


def test_mask_expression_maps_each_character_class(con):
    got = con.execute(
        f"SELECT v, {P.mask_expression('v')} FROM unnest(?::VARCHAR[]) t(v)", [TRICKY]
    ).fetchall()
    assert [m for _, m in got] == EXPECTED_MASKS
    assert got[0][1] != got[1][1]  # runs are kept: a formatted mobile differs from a plain one


def test_mask_values_agrees_with_the_sql_mask(con):
    assert P.mask_values(pa.array(TRICKY)).to_pylist() == EXPECTED_MASKS
    chunked = pa.chunked_array([pa.array(TRICKY[:3]), pa.array(TRICKY[3:])])
    assert P.mask_values(chunked).to_pylist() == EXPECTED_MASKS
    sliced = pa.array(TRICKY).slice(2, 3)  # offsets that do not start at 0
    assert P.mask_values(sliced).to_pylist() == EXPECTED_MASKS[2:5]
    assert P.mask_values(pa.array([], type=pa.string())).to_pylist() == []
    with pytest.raises(WorkbenchError, match="NULL"):
        P.mask_values(pa.array(["a", None]))


def test_mask_rules_are_data(con):
    rules = (P.MaskRule("#", first="0", last="9"),)
    expr = P.mask_expression("v", rules)
    got = con.execute(f"SELECT {expr} FROM (SELECT 'a1-2' AS v)").fetchall()[0][0]
    assert got == "a#-#"
    assert P.mask_values(pa.array(["a1-2"]), rules).to_pylist() == ["a#-#"]
    with pytest.raises(WorkbenchError, match="one character"):
        P.mask_expression("v", (P.MaskRule("99", first="0", last="9"),))
    with pytest.raises(WorkbenchError, match="matches nothing"):
        P.mask_expression("v", (P.MaskRule("9"),))


def test_pattern_frequencies_counts_masks(con):
    _table(con, {"tel": ["13800138000", "13900139000", "138-0013-8000", None, "13800138000"]})
    df = P.pattern_frequencies(con, "t", "tel", k=5)
    assert df["pattern"].tolist() == ["99999999999", "999-9999-9999"]
    assert df["count"].tolist() == [3, 1]
    assert df["share"].tolist() == pytest.approx([0.75, 0.25])
    assert df["example"].tolist() == ["13800138000", "138-0013-8000"]
    assert P.pattern_frequencies(con, "t", "tel", k=1)["pattern"].tolist() == ["99999999999"]


def test_build_pattern_frequencies_sql_checks_the_column():
    with pytest.raises(WorkbenchError, match="no column"):
        P.build_pattern_frequencies_sql("t", "nope", ["tel"], 3)
    with pytest.raises(WorkbenchError, match="positive whole number"):
        P.build_pattern_frequencies_sql("t", "tel", ["tel"], 0)


# --------------------------------------------------------------------------------------------
# column profile


def test_profile_columns_statistics_and_types(con):
    _table(
        con,
        {
            "code": ["1", "02", "3", "4", None, "  "],
            "amount": ["1.5", "2", "-3.25", "1e3", "7", None],
            "day": ["2021-03-05", "2021/3/5", "20210305", "2021年3月5日", "2021-03-05 10:00:00", None],
            "name": ["上海", "上海", "北京", "\u3000", None, None],
            'we"ird': ["x", "x", "x", "y", "0x1F", None],
        },
    )
    df = P.profile_columns(con, "t").set_index("field")
    code = df.loc["code"]
    assert (code["rows"], code["nulls"], code["blanks"], code["filled"]) == (6, 1, 1, 4)
    assert code["null_rate"] == pytest.approx(1 / 6) and code["fill_rate"] == pytest.approx(4 / 6)
    assert code["inferred_type"] == "integer" and code["distinct"] == 5
    assert (code["min_length"], code["max_length"]) == (1, 2)
    assert (code["min_value"], code["max_value"]) == ("1", "4")  # by value: "02" is 2, blanks skipped
    assert (df.loc["amount", "min_value"], df.loc["amount", "max_value"]) == ("-3.25", "1000")
    assert (df.loc["day", "min_value"], df.loc["day", "max_value"]) == ("2021-03-05", "2021-03-05")
    assert (df.loc["name", "min_value"], df.loc["name", "max_value"]) == ("\u3000", "北京")  # text order
    assert df.loc["amount", "inferred_type"] == "decimal"
    assert df.loc["amount", "integer_rate"] == pytest.approx(2 / 5)
    assert df.loc["day", "inferred_type"] == "date" and df.loc["day", "date_rate"] == 1.0
    name = df.loc["name"]
    assert name["inferred_type"] == "text" and name["blanks"] == 1  # U+3000 alone is blank
    assert name["avg_length"] == pytest.approx(7 / 4)  # lengths count characters, not bytes
    assert name["top_values"].startswith("上海 (2)")
    assert not name["unique"] and df.loc["amount", "unique"]
    assert df.loc['we"ird', "inferred_type"] == "text"  # hex is not an integer
    assert list(df["position"]) == [1, 2, 3, 4, 5]


def test_type_threshold_decides_the_inferred_type(con):
    _table(con, {"n": ["1", "2", "3", "x"]})
    assert P.profile_columns(con, "t")["inferred_type"].tolist() == ["text"]
    assert P.profile_columns(con, "t", type_threshold=0.7)["inferred_type"].tolist() == ["integer"]
    with pytest.raises(WorkbenchError, match="type_threshold"):
        P.profile_columns(con, "t", type_threshold=0)


def test_all_null_column_is_empty(con):
    con.execute("CREATE TABLE t AS SELECT 'a' AS x, NULL::VARCHAR AS y FROM range(3)")
    df = P.profile_columns(con, "t").set_index("field")
    assert df.loc["y", "inferred_type"] == "empty" and df.loc["y", "nulls"] == 3
    assert df.loc["y", "distinct"] == 0 and df.loc["y", "top_values"] == ""


def test_profile_table_top_values_and_patterns(con):
    _table(con, {"s": ["b", "a", "b", "c", "a", "d", None]})
    prof = P.profile_table(con, "t", top_k=2)
    assert prof.top_values[["value", "count", "rank"]].values.tolist() == [["a", 2, 1], ["b", 2, 2]]
    assert prof.top_values["share"].tolist() == pytest.approx([2 / 7, 2 / 7])
    assert prof.patterns[["pattern", "count", "distinct_values"]].values.tolist() == [["a", 6, 4]]
    assert prof.columns.loc[0, "patterns"] == 1


def test_profile_ignores_lineage_columns_and_checks_names(staged):
    df = P.profile_columns(staged, "stg_erp")
    assert not set(LINEAGE_COLUMNS) & set(df["field"])
    assert "备注" in set(df["field"])
    with pytest.raises(WorkbenchError, match="has no column"):
        P.profile_columns(staged, "stg_erp", ["customer_id", "nope"])
    with pytest.raises(WorkbenchError, match="does not exist"):
        P.profile_columns(staged, "stg_missing")


def test_builders_return_sql_and_params(con):
    _table(con, {"a": ["1", "x", None]})
    q = P.build_value_counts_sql("t", ["a"], ["a"])
    con.execute(f"CREATE TEMP TABLE v AS {q.sql}", q.params)
    assert sorted(con.execute("SELECT value, n FROM v").fetchall()) == [("1", 1), ("x", 1)]
    stats = P.build_column_stats_sql("v")
    row = con.execute(stats.sql, stats.params).fetchall()[0]
    assert row[:4] == (0, 2, 0, 2)  # pos, present, blanks, distinct
    top = P.build_top_values_sql("v", [0], 1)
    assert con.execute(top.sql, top.params).fetchall() == [(0, 1, "1", 1)]
    con.execute(f"CREATE TEMP TABLE m AS SELECT *, {P.mask_expression('value')} AS pattern FROM v")
    pats = P.build_patterns_sql("m", 5)
    assert [r[2] for r in con.execute(pats.sql, pats.params).fetchall()] == ["9", "a"]
    with pytest.raises(WorkbenchError, match="no columns"):
        P.build_top_values_sql("v", [], 3)


@pytest.mark.parametrize("k", [0, -1, True, 2.5])
def test_top_k_must_be_a_positive_whole_number(k):
    from workbench.core.profiling.sql import check_top_k

    with pytest.raises(WorkbenchError, match="positive whole number"):
        check_top_k(k)
    with pytest.raises(WorkbenchError, match="positive whole number"):
        P.build_patterns_sql("m", k)


def test_scratch_tables_do_not_survive_a_profile(staged, config):
    P.profile_sources(config, staged)
    sql = "SELECT table_name FROM information_schema.tables WHERE starts_with(table_name, '__wb_')"
    assert staged.execute(sql).fetchall() == []


# --------------------------------------------------------------------------------------------
# duplicates and overlaps


def test_duplicate_keys_finds_ids_and_identical_rows(staged):
    dups = P.duplicate_keys(staged, "stg_erp", "customer_id")
    ids = dups[dups["check"] == "duplicate_id"]
    assert ids[["key", "rows", "row_numbers"]].values.tolist() == [["C001", 2, "2;6"], ["C003", 2, "4;5"]]
    same = dups[dups["check"] == "duplicate_row"]
    assert same["rows"].tolist() == [2] and same["row_numbers"].tolist() == ["2;6"]
    only_rows = P.duplicate_keys(staged, "stg_tx", None)
    assert set(only_rows["check"]) == {"duplicate_row"} and only_rows["row_numbers"].tolist() == ["2;3"]
    q = P.build_duplicate_ids_sql("stg_erp", "customer_id", ["customer_id", "_row_number"])
    assert "trim" in q.sql and q.params == []
    with pytest.raises(WorkbenchError, match="no column"):
        P.build_duplicate_rows_sql("stg_erp", ["customer_id"])


def test_key_overlaps_normalises_and_splits_keys(staged, config):
    df = P.key_overlaps(staged, config).set_index(["key_kind", "source_a", "source_b"])
    assert sorted(df.index) == [
        ("email", "erp", "crm"),
        ("phone", "erp", "crm"),
        ("tax_id", "erp", "crm"),
    ]  # ledger has no key fields, tx is an activity source
    phone = df.loc[("phone", "erp", "crm")]
    # erp: 13800138000, 02162345678, 13800138001, 13800138002, 13912345678, 13912345679 (6)
    # crm: 13800138000, 13800138001, 13912345678, 02162345678 ("12" is too short) (4)
    assert (phone["keys_a"], phone["keys_b"], phone["shared_keys"]) == (6, 4, 4)
    assert phone["jaccard"] == pytest.approx(4 / 6)
    assert phone["fields_a"] == "mobile;phone" and phone["fields_b"] == "mobile"
    email = df.loc[("email", "erp", "crm")]
    assert (email["keys_a"], email["keys_b"], email["shared_keys"]) == (3, 3, 2)
    tax = df.loc[("tax_id", "erp", "crm")]
    assert (tax["keys_a"], tax["keys_b"], tax["shared_keys"]) == (3, 3, 2)


def test_key_overlap_pairs_without_shared_keys_are_reported(con, config):
    _stg(
        con,
        "erp",
        ["customer_id", "customer_name", "mobile", "phone", "email", "uscc", "created_date"],
        [("1", "a", "13800138000", None, None, None, None)],
    )
    _stg(
        con,
        "crm",
        ["account_id", "customer_name", "mobile", "email", "uscc"],
        [("2", "b", "13900139000", None, None)],
    )
    _stg(con, "ledger", ["ledger_no", "short_name"], [("L1", "x")])
    df = P.key_overlaps(con, config)
    phone = df[df["key_kind"] == "phone"].iloc[0]
    assert (phone["shared_keys"], phone["jaccard"]) == (0, 0.0)


def test_key_overlaps_needs_staged_tables(con, config):
    with pytest.raises(WorkbenchError, match="run the ingest"):
        P.key_overlaps(con, config)


# --------------------------------------------------------------------------------------------
# all sources


def test_profile_sources_saves_tables_and_reruns_identically(staged, config):
    result = P.profile_sources(config, staged, top_k=3)
    for name in (
        "profile_columns",
        "profile_top_values",
        "profile_patterns",
        "profile_duplicates",
        "profile_key_overlaps",
    ):
        assert table_exists(staged, name)
    cols = result.columns.set_index(["source", "field"])
    assert cols.loc[("erp", "mobile"), "header"] == "手机" and cols.loc[("erp", "mobile"), "kind"] == "phone"
    assert not cols.loc[("erp", "备注"), "mapped"] and cols.loc[
        ("erp", "备注"), "fill_rate"
    ] == pytest.approx(0.4)
    assert len(result.columns) == 8 + 5 + 2 + 3
    assert result.top_values.groupby(["source", "field"])["rank"].max().max() <= 3
    summary = result.duplicate_summary.set_index("source")
    assert summary.loc["erp", "duplicate_ids"] == 2 and summary.loc["tx", "duplicate_ids"] == 0
    assert summary.loc["crm", "surplus_duplicate_rows"] == 0  # sources without duplicates are listed
    assert summary.loc["tx", "surplus_duplicate_rows"] == 1
    first = {t: staged.execute(f"SELECT * FROM {t}").fetchall() for t in result.tables.values()}
    P.profile_sources(config, staged, top_k=3)
    second = {t: staged.execute(f"SELECT * FROM {t}").fetchall() for t in result.tables.values()}
    assert first == second
    loaded = P.read_profile_tables(staged)
    assert loaded.columns["field"].tolist() == result.columns["field"].tolist()


def test_profile_sources_names_a_source_that_was_not_ingested(con, config):
    with pytest.raises(WorkbenchError, match="'erp' has no staged table"):
        P.profile_sources(config, con)
    with pytest.raises(WorkbenchError, match="run the audit stage"):
        P.read_profile_tables(con)


def test_audit_metrics(staged, config):
    result = P.profile_sources(config, staged)
    metrics = P.build_audit_metrics(ingest.read_ingest_summary(staged), result, "r/profile.html")
    assert metrics["rows"]["erp"] == {"file": 7, "staged": 5, "quarantined": 2}
    assert metrics["quarantined_total"] == 2 and metrics["columns_profiled"] == 18
    assert metrics["duplicate_ids"] == {"erp": 2, "crm": 0, "ledger": 0, "tx": 0}
    assert metrics["overlaps"]["erp~crm:phone"] == 4
    # erp mapped cells: 5 rows × 7 fields = 35; missing: phone 1 NULL + 1 blank, email 1, uscc 1
    assert metrics["null_rate"]["erp"] == pytest.approx(4 / 35, abs=1e-6)
    json.dumps(metrics)  # recordable as JSON


def test_quarantine_readers(staged):
    assert ingest.read_quarantine(staged)["row_number"].tolist() == [7, 9]
    reasons = ingest.quarantine_reasons(staged)
    assert "undecodable bytes for gb18030" in reasons["reason"].tolist()


def test_choose_field(staged, config):
    cols = P.profile_sources(config, staged).columns
    assert P.choose_field(cols) == ("erp", "mobile")
    assert P.choose_field(cols, "crm") == ("crm", "mobile")
    assert P.choose_field(cols, "erp", "email") == ("erp", "email")
    with pytest.raises(WorkbenchError, match="no field 'mail'"):
        P.choose_field(cols, "erp", "mail")


# --------------------------------------------------------------------------------------------
# charts


@pytest.mark.parametrize("language", ["zh", "en"])
def test_figures_hold_the_profile(staged, config, language):
    result = P.profile_sources(config, staged)
    summary = ingest.read_ingest_summary(staged, config)
    heat = charts.figure_missing_heatmap(result.columns, language)
    trace = heat.data[0]
    assert list(trace.y) == ["erp", "crm", "ledger", "tx"]
    erp_phone = trace.z[0][list(trace.x).index("phone")]
    assert erp_phone == pytest.approx(0.4)  # 1 NULL + 1 blank of 5
    bars = charts.figure_completeness(result.columns, language)
    assert [t.name for t in bars.data] == ["erp", "crm", "ledger", "tx"]
    pats = charts.figure_patterns(result.patterns, "erp", "mobile", language)
    assert "99999999999" in list(pats.data[0].y)
    top = charts.figure_top_values(result.top_values, "erp", "customer_name", language)
    assert list(top.data[0].y)[0] == "上海华瑞科技有限公司"
    overlap = charts.figure_key_overlap(result.overlaps, language)
    assert len(overlap.data) == 3
    rows = charts.figure_row_counts(summary, language)
    assert [list(t.y) for t in rows.data] == [[5, 4, 2, 3], [2, 0, 0, 0]]
    dups = charts.figure_duplicates(result.duplicate_summary, language)
    assert list(dups.data[0].y) == [2, 0, 0, 0]
    titles = {f.layout.title.text for f in (heat, bars, pats, top, overlap, rows, dups)}
    has_cjk = any(re.search(r"[\u4e00-\u9fff]", t) for t in titles)
    assert has_cjk == (language == "zh")
    for fig in (heat, bars, pats, top, overlap, rows, dups):
        assert isinstance(fig, go.Figure) and "Noto Sans CJK SC" in fig.layout.font.family


def test_figures_handle_missing_data_and_reject_bad_language(staged, config):
    result = P.profile_sources(config, staged)
    empty = charts.figure_patterns(result.patterns, "erp", "nope", "en")
    assert empty.layout.annotations[0].text == "No data"
    with pytest.raises(ValueError, match="language 'fr'"):
        charts.figure_missing_heatmap(result.columns, "fr")


# --------------------------------------------------------------------------------------------
# report


def test_profile_report_is_offline_bilingual_and_masked(staged, config, ctx):
    P.profile_sources(ctx, staged)
    path = write_profile_report(ctx, staged)
    assert path == ctx.paths.reports / "profile.html"
    page = path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page and '<html lang="zh-CN">' in page
    assert find_external_references(page) == []
    assert page.count("plotly.js v") == 1  # inlined once for every figure
    assert "数据审计与画像报告" in page and "测试项目" in page and "上海华瑞科技有限公司" in page
    assert "含有按 gb18030 编码无法解码的字节" in page  # quarantine reasons are shown, in the reader's language
    assert "13800138000" not in page and "138****8000" in page  # phones are masked
    assert "\\xff" not in page  # raw text of quarantined rows is hidden while masking is on
    english = build_profile_report(ctx, staged, language="en").render()
    assert "Audit &amp; profile report" in english and '<html lang="en">' in english


def test_profile_report_unmasked_shows_values(staged, config, ctx, tmp_path):
    ctx.config.report.masking.enabled = False
    P.profile_sources(ctx, staged)
    page = write_profile_report(ctx, staged, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "13800138000" in page and "C009" in page


def _phone_keys(con, region: str, values: list[str]) -> list[str]:
    inner = "SELECT unnest(?::VARCHAR[]) AS part"
    for step in P.key_normalizers(region)["phone"]:
        inner = f"SELECT *, {step} FROM ({inner})"
    return [r[0] for r in con.execute(f"SELECT key FROM ({inner})", [values]).fetchall()]


def test_phone_keys_follow_the_project_region(con):
    cn = [
        "+86 138 0013 8000",
        "0086-13800138000",
        "8613800138000",
        "(021)6234-5678转123",
        "+86 21 6234 5678",
        "１３８００１３８０００",
    ]
    assert _phone_keys(con, "CN", cn) == ["13800138000"] * 3 + ["02162345678"] * 2 + ["13800138000"]
    de = ["+49 89 1234567", "089/7654321", "+49 (0)89 1234567", "0049 89 1234567", "(212) 555-0147 ext. 12"]
    assert _phone_keys(con, "DE", de) == [
        "0891234567",
        "0897654321",
        "0891234567",
        "0891234567",
        "2125550147",
    ]
    with pytest.raises(WorkbenchError, match="unknown region"):
        P.key_normalizers("XX")


# --------------------------------------------------------------------------------------------
# the stage notebook


@pytest.mark.notebooks
def test_audit_notebook_runs_on_a_project_that_is_not_the_demo(tmp_path: Path):
    """Runs notebooks/10_audit_sources.ipynb with papermill on the international fixture project."""
    import shutil

    from workbench.runner import run_project

    project = tmp_path / "intl"
    shutil.copytree(Path(__file__).parent / "fixtures" / "projects" / "intl", project)
    result = run_project(project / "workbench.yaml", run_id="audit1", stages=["audit"], export_html=True)
    metrics = json.loads((result.run_dir / "metrics" / "audit.json").read_text(encoding="utf-8"))
    assert metrics["rows"]["erp_de"] == {"file": 11, "staged": 10, "quarantined": 1}
    assert metrics["quarantined_total"] == 1 and metrics["columns_profiled"] == 23
    assert metrics["overlaps"]["erp_de~webshop:email"] == 2  # case differences do not hide a match
    assert metrics["overlaps"]["erp_de~webshop:phone"] == 1  # +49 (0)89 1234567 = +49 89 1234567
    report = Path(metrics["report_path"])
    assert report == result.run_dir / "reports" / "profile.html"
    page = report.read_text(encoding="utf-8")
    assert find_external_references(page) == [] and '<html lang="en">' in page
    assert "No duplicate IDs and no identical rows were found." in page
    exported = (result.run_dir / "analyst" / "html" / "10_audit_sources.html").read_text(encoding="utf-8")
    assert '<script src="http' not in exported and "plotly.js v" in exported
