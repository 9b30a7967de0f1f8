"""Ingest: every source lands in stg_<source> with lineage; bad rows land in quarantine; rows balance."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.ingest import ingest_source, ingest_sources
from workbench.engine.connection import connect, table_columns
from workbench.errors import SourceError
from workbench.project.config import parse_config

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


def make_config(tmp_path: Path, *sources: dict):
    raw = {"project": {"name": "ingest test", "language": "en"}, "sources": list(sources)}
    return parse_config(raw, tmp_path / "workbench.yaml")


def source(name: str, path: str, columns: dict, **extra) -> dict:
    first = next(iter(columns))
    return {"name": name, "path": path, "id_column": first, "columns": columns, **extra}


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def md5_of(cells: list[str]) -> str:
    return hashlib.md5("\x1f".join(cells).encode("utf-8")).hexdigest()


ERP_COLUMNS = {"客户编码": {"field": "customer_id", "kind": "id"}, "客户名称": "customer_name"}


@pytest.fixture
def con():
    c = connect()
    yield c
    c.close()


# --------------------------------------------------------------------------------------------
# CSV


def test_utf8_csv_is_staged_with_lineage(tmp_path, con):
    (tmp_path / "erp.csv").write_text(
        "客户编码,客户名称,备注\nC1,上海华瑞科技有限公司,VIP\nC2,  ,\n", encoding="utf-8"
    )
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    summary = ingest_sources(config, con)
    assert summary.to_dict("records") == [
        {
            "source": "erp",
            "file": "erp.csv",
            "format": "csv",
            "encoding": "utf-8",
            "file_rows": 2,
            "staged_rows": 2,
            "quarantined_rows": 0,
            "balanced": True,
            "total_rows": 0,
            "uncached_formula_cells": 0,
            "excel_error_cells": 0,
            "control_char_cells": 0,
        }
    ]
    assert table_columns(con, "stg_erp") == [
        "_source",
        "_file",
        "_row_number",
        "_row_hash",
        "customer_id",
        "customer_name",
        "备注",
    ]
    got = rows(con, "select * from stg_erp order by _row_number")
    assert got[0][:3] == ("erp", "erp.csv", 2)
    assert got[0][4:] == ("C1", "上海华瑞科技有限公司", "VIP")
    # whitespace-only is kept as is, an empty cell is NULL
    assert got[1][2:3] + got[1][4:] == (3, "C2", "  ", None)
    assert [r[3] for r in got] == [md5_of(["C1", "上海华瑞科技有限公司", "VIP"]), md5_of(["C2", "  ", ""])]
    assert rows(con, "select * from stg_columns order by position") == [
        ("erp", 1, "客户编码", "customer_id", "id", True),
        ("erp", 2, "客户名称", "customer_name", "text", True),
        ("erp", 3, "备注", "备注", None, False),
    ]


def test_gbk_bad_line_goes_to_quarantine_and_rows_balance(tmp_path, con):
    shutil.copy(FIXTURES / "gbk_bad_line.csv", tmp_path / "erp.csv")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    result = ingest_source(config, "erp", con)
    assert result.encoding == "gb18030"
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (4, 3, 1)
    assert rows(con, "select _row_number, customer_id, customer_name from stg_erp order by 1") == [
        (2, "C001", "上海华瑞科技有限公司"),
        (3, "C002", "北京东方贸易有限公司"),
        (5, "C004", "广州南方物流有限公司"),
    ]
    [(number, reason, raw)] = rows(con, "select row_number, reason, raw_text from quarantine")
    offset = (FIXTURES / "gbk_bad_line.csv").read_bytes().index(b"\xff")
    assert number == 4
    assert reason == f"undecodable bytes for gb18030 at byte {offset}"
    assert raw.startswith("C003,深圳\\xff")
    assert rows(con, "select balanced from ingest_summary") == [(True,)]


def test_gb18030_only_characters_are_staged(tmp_path, con):
    text = "客户编码,客户名称\r\nC1,刘䶮科技有限公司\r\nC2,𠀾记餐饮有限公司\r\n"
    (tmp_path / "erp.csv").write_bytes(text.encode("gb18030"))
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    assert ingest_source(config, "erp", con).encoding == "gb18030"
    assert rows(con, "select customer_name from stg_erp order by _row_number") == [
        ("刘䶮科技有限公司",),
        ("𠀾记餐饮有限公司",),
    ]


def test_configured_gbk_reads_gb18030_characters(tmp_path, con):
    (tmp_path / "erp.csv").write_bytes("客户编码,客户名称\nC1,刘䶮科技\n".encode("gb18030"))
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, encoding="GBK"))
    result = ingest_source(config, "erp", con)
    assert (result.encoding, result.staged_rows) == ("gb18030", 1)


def test_bom_multiline_field_and_row_numbers(tmp_path, con):
    shutil.copy(FIXTURES / "utf8_bom_multiline.csv", tmp_path / "erp.csv")
    cols = {**ERP_COLUMNS, "地址": {"field": "address", "kind": "address"}}
    config = make_config(tmp_path, source("erp", "erp.csv", cols))
    result = ingest_source(config, "erp", con)
    assert result.encoding == "utf-8-sig"
    # the BOM is not part of the first header
    assert rows(con, "select header from stg_columns order by position")[0] == ("客户编码",)
    assert rows(con, "select _row_number, customer_id, address, 备注 from stg_erp order by 1") == [
        (2, "A1", "浙江省杭州市\n西湖区龙井路1号", "首批"),
        (4, "A2", "四川省成都市锦江区", "   "),
        (5, "A3", None, None),
    ]


def test_wrong_cell_count_and_blank_rows_are_quarantined(tmp_path, con):
    (tmp_path / "erp.csv").write_text(
        "客户编码,客户名称,城市\nC1,甲公司,上海\nC2,乙公司,北京,多余\n,,\nC3,丙公司\n \t, ,\nC4,丁公司,广州\n\n",
        encoding="utf-8",
    )
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    result = ingest_source(config, "erp", con)
    assert rows(con, "select row_number, reason, raw_text from quarantine order by row_number") == [
        (3, "expected 3 cells, found 4", "C2,乙公司,北京,多余"),
        (4, "blank row", ",,"),
        (5, "expected 3 cells, found 2", "C3,丙公司"),
        (6, "blank row", " \t, ,"),
        (8, "blank row", ""),
    ]
    assert rows(con, "select _row_number, customer_id from stg_erp order by 1") == [(2, "C1"), (7, "C4")]
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (7, 2, 5)


def test_header_row_below_title_lines(tmp_path, con):
    (tmp_path / "erp.csv").write_text(
        "客户清单\n导出日期: 2026-01-01\n客户编码,客户名称\nC1,甲公司\n", encoding="utf-8"
    )
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, header_row=3))
    assert ingest_source(config, "erp", con).file_rows == 1
    assert rows(con, "select _row_number, customer_id from stg_erp") == [(4, "C1")]


def test_semicolon_delimiter_and_crlf(tmp_path, con):
    (tmp_path / "erp.csv").write_bytes(b'id;name\r\n1;"A;B"\r\n2;C\r\n')
    config = make_config(
        tmp_path, source("erp", "erp.csv", {"id": "customer_id", "name": "customer_name"}, delimiter=";")
    )
    ingest_source(config, "erp", con)
    assert rows(con, "select customer_id, customer_name from stg_erp order by _row_number") == [
        ("1", "A;B"),
        ("2", "C"),
    ]


def test_activity_source_is_staged_too(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称\nC1,甲公司\n", encoding="utf-8")
    (tmp_path / "tx.csv").write_text("单据号,客户编码,单据日期\nT1,C1,2026-01-05\n", encoding="utf-8")
    tx = source(
        "tx",
        "tx.csv",
        {
            "客户编码": {"field": "customer_id", "kind": "id"},
            "单据日期": {"field": "doc_date", "kind": "date"},
        },
        role="activity",
        customer_source="erp",
    )
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS), tx)
    summary = ingest_sources(config, con)
    assert list(summary["source"]) == ["erp", "tx"]
    assert rows(con, "select 单据号, customer_id, doc_date from stg_tx") == [("T1", "C1", "2026-01-05")]


def test_keep_unmapped_false_drops_columns_but_hash_covers_the_row(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称,备注\nC1,甲公司,x\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, keep_unmapped=False))
    result = ingest_source(config, "erp", con)
    assert result.unmapped == ["备注"]
    assert table_columns(con, "stg_erp")[4:] == ["customer_id", "customer_name"]
    assert rows(con, "select _row_hash from stg_erp") == [(md5_of(["C1", "甲公司", "x"]),)]
    assert rows(con, "select header, field, mapped from stg_columns where position = 3") == [
        ("备注", None, False)
    ]


def test_empty_column_without_header_is_not_staged(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称,\nC1,甲公司,\nC2,乙公司,\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    ingest_source(config, "erp", con)
    assert table_columns(con, "stg_erp")[4:] == ["customer_id", "customer_name"]


# --------------------------------------------------------------------------------------------
# Excel


def write_ledger(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户台账"
    ws["A1"] = "XX贸易有限公司 客户台账"
    ws["A2"] = "制表日期: 2026-11-01"
    ws.append([])  # row 3 blank
    ws.append(["序号", "客户编码", "客户简称", "应收余额", "开户日期", "VIP"])  # row 4
    ws.append([1, "007", "华瑞", 1200.0, dt.date(2020, 1, 2), True])  # row 5
    ws.append([2, "008", "东方", 0.1 + 0.2, dt.datetime(2021, 3, 4, 0, 0), False])  # row 6
    ws.append([])  # row 7 blank, between data rows
    ws.append([3, "L0009", " 南方 ", 13800138000, dt.datetime(2022, 5, 6, 7, 8, 9), None])  # row 8
    other = wb.create_sheet("备注")
    other["A1"] = "x"
    wb.save(path)


LEDGER_COLUMNS = {"客户编码": {"field": "ledger_id", "kind": "id"}, "客户简称": "short_name"}


def test_xlsx_with_title_rows_and_header_on_row_4(tmp_path, con):
    write_ledger(tmp_path / "ledger.xlsx")
    config = make_config(
        tmp_path, source("ledger", "ledger.xlsx", LEDGER_COLUMNS, sheet="客户台账", header_row=4)
    )
    result = ingest_source(config, "ledger", con)
    assert (result.format, result.encoding) == ("xlsx", None)
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (4, 3, 1)
    got = rows(
        con,
        "select _row_number, 序号, ledger_id, short_name, 应收余额, 开户日期, VIP from stg_ledger order by 1",
    )
    assert got == [
        (5, "1", "007", "华瑞", "1200", "2020-01-02", "TRUE"),
        (6, "2", "008", "东方", "0.3", "2021-03-04", "FALSE"),
        (8, "3", "L0009", " 南方 ", "13800138000", "2022-05-06 07:08:09", None),
    ]
    assert rows(con, "select row_number, reason from quarantine") == [(7, "blank row")]
    hashes = rows(con, "select _row_hash from stg_ledger order by _row_number")
    assert hashes[0][0] == md5_of(["1", "007", "华瑞", "1200", "2020-01-02", "TRUE"])


def test_xlsx_sheet_by_index(tmp_path, con):
    write_ledger(tmp_path / "ledger.xlsx")
    config = make_config(tmp_path, source("ledger", "ledger.xlsx", LEDGER_COLUMNS, sheet=0, header_row=4))
    assert ingest_source(config, "ledger", con).staged_rows == 3


def test_wrong_sheet_name_lists_the_sheets(tmp_path, con):
    write_ledger(tmp_path / "ledger.xlsx")
    config = make_config(
        tmp_path, source("ledger", "ledger.xlsx", LEDGER_COLUMNS, sheet="客户台帐", header_row=4)
    )
    with pytest.raises(SourceError) as err:
        ingest_source(config, "ledger", con)
    msg = str(err.value)
    assert "ledger.xlsx" in msg and "'客户台帐'" in msg
    assert "['客户台账', '备注']" in msg
    assert "Did you mean '客户台账'?" in msg


def test_xlsx_that_is_really_csv(tmp_path, con):
    (tmp_path / "crm.xlsx").write_text("客户编码,客户名称\nC1,甲\n", encoding="utf-8")
    config = make_config(tmp_path, source("crm", "crm.xlsx", ERP_COLUMNS))
    with pytest.raises(SourceError, match=r"crm\.xlsx.*not an Excel workbook.*format: csv"):
        ingest_source(config, "crm", con)


def test_xlsx_header_row_beyond_the_data(tmp_path, con):
    write_ledger(tmp_path / "ledger.xlsx")
    config = make_config(tmp_path, source("ledger", "ledger.xlsx", LEDGER_COLUMNS, header_row=40))
    with pytest.raises(SourceError, match=r"header row 40 is beyond the data.*8 row"):
        ingest_source(config, "ledger", con)


# --------------------------------------------------------------------------------------------
# Parquet


def test_parquet_is_cast_to_text_in_file_order(tmp_path, con):
    table = pa.table(
        {
            "customer_ref": ["W-2", "W-1", None, "W-3"],
            "amount": [1.5, 2.0, None, None],
            "joined": pa.array([dt.date(2021, 1, 5), None, None, dt.date(2022, 2, 1)]),
            "note": ["", "x", None, " "],
        }
    )
    pq.write_table(table, tmp_path / "shop.parquet")
    config = make_config(tmp_path, source("shop", "shop.parquet", {"customer_ref": "customer_id"}))
    result = ingest_source(config, "shop", con)
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (4, 3, 1)
    assert rows(con, "select _row_number, customer_id, amount, joined, note from stg_shop order by 1") == [
        (1, "W-2", "1.5", "2021-01-05", None),
        (2, "W-1", "2.0", None, "x"),
        (4, "W-3", None, "2022-02-01", " "),
    ]
    assert rows(con, "select row_number, reason from quarantine") == [(3, "blank row")]
    types = dict(
        rows(
            con, "select column_name, data_type from information_schema.columns where table_name = 'stg_shop'"
        )
    )
    assert types == {
        "_source": "VARCHAR",
        "_file": "VARCHAR",
        "_row_number": "BIGINT",
        "_row_hash": "VARCHAR",
        "customer_id": "VARCHAR",
        "amount": "VARCHAR",
        "joined": "VARCHAR",
        "note": "VARCHAR",
    }


# --------------------------------------------------------------------------------------------
# errors


def test_missing_column_names_the_file_headers_and_a_suggestion(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编号,客户名称\nC1,甲\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    with pytest.raises(SourceError) as err:
        ingest_source(config, "erp", con)
    msg = str(err.value)
    assert "erp.csv" in msg
    assert "'客户编码' (did you mean '客户编号'?)" in msg
    assert "['客户编号', '客户名称']" in msg


def test_wrong_delimiter_gets_a_hint(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码;客户名称\nC1;甲\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    with pytest.raises(SourceError, match="try `delimiter: ';'`"):
        ingest_source(config, "erp", con)


def test_duplicate_headers_are_an_error(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称,电话,电话\nC1,甲,1,2\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    with pytest.raises(SourceError, match=r"duplicate column names: '电话' at columns \[3, 4\]"):
        ingest_source(config, "erp", con)


def test_missing_file(tmp_path, con):
    (tmp_path / "erp.csv").write_text("x\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    (tmp_path / "erp.csv").unlink()
    with pytest.raises(SourceError, match=r"source 'erp' \(.*erp\.csv\): file not found"):
        ingest_source(config, "erp", con)


def test_configured_encoding_that_is_wrong_names_the_line(tmp_path, con):
    lines = ["客户编码,客户名称"] + [f"C{i},甲乙丙公司{i}" for i in range(5)]
    (tmp_path / "erp.csv").write_bytes("\n".join(lines).encode("gbk"))
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, encoding="utf-8"))
    with pytest.raises(SourceError, match=r"header \(line 1\).*not valid utf-8.*encoding: auto"):
        ingest_source(config, "erp", con)
    # an ASCII header: the failing data line is named
    lines = ["id,name"] + [f"C{i},甲乙丙公司{i}" for i in range(5)]
    (tmp_path / "erp.csv").write_bytes("\n".join(lines).encode("gbk"))
    config = make_config(
        tmp_path, source("erp", "erp.csv", {"id": "customer_id", "name": "customer_name"}, encoding="utf-8")
    )
    with pytest.raises(
        SourceError, match=r"5 of 5 lines are not valid utf-8; the first is line 2.*encoding: auto"
    ):
        ingest_source(config, "erp", con)


def test_configured_legacy_encoding_on_a_utf8_file_is_refused(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称\nC1,甲公司\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, encoding="gb18030"))
    with pytest.raises(SourceError, match="valid UTF-8"):
        ingest_source(config, "erp", con)


def test_header_beyond_data_and_no_data_rows(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,客户名称\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    with pytest.raises(SourceError, match="no data rows below the header"):
        ingest_source(config, "erp", con)
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, header_row=3))
    with pytest.raises(SourceError, match=r"header row 3 is beyond the data: the file has 1 line"):
        ingest_source(config, "erp", con)


def test_failures_of_several_sources_are_reported_together(tmp_path, con):
    (tmp_path / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("y\n1\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("z\n1\n", encoding="utf-8")
    config = make_config(
        tmp_path,
        source("a", "a.csv", {"id": "customer_id"}),
        source("b", "b.csv", {"id": "customer_id"}),
        source("c", "c.csv", {"z": "customer_id"}),
    )
    with pytest.raises(SourceError, match=r"2 of 3 sources failed") as err:
        ingest_sources(config, con)
    assert "a.csv" in str(err.value) and "b.csv" in str(err.value)
    assert rows(con, "select source, staged_rows from ingest_summary") == [("c", 1)]


# --------------------------------------------------------------------------------------------
# reruns


def test_rerun_gives_identical_tables(tmp_path, con):
    shutil.copy(FIXTURES / "gbk_bad_line.csv", tmp_path / "erp.csv")
    write_ledger(tmp_path / "ledger.xlsx")
    config = make_config(
        tmp_path,
        source("erp", "erp.csv", ERP_COLUMNS),
        source("ledger", "ledger.xlsx", LEDGER_COLUMNS, header_row=4),
    )

    def snapshot():
        return {
            t: rows(con, f"select * from {t} order by all")
            for t in ("stg_erp", "stg_ledger", "quarantine", "ingest_summary", "stg_columns")
        }

    first_summary = ingest_sources(config, con)
    first = snapshot()
    second_summary = ingest_sources(config, con)
    assert snapshot() == first
    assert second_summary.equals(first_summary)
    assert len(first["quarantine"]) == 2  # not doubled by the rerun
    # a fresh database gives the same hashes
    other = connect()
    ingest_sources(config, other)
    assert rows(other, "select _row_number, _row_hash from stg_erp order by 1") == rows(
        con, "select _row_number, _row_hash from stg_erp order by 1"
    )
    other.close()


def test_sources_removed_from_config_are_cleaned(tmp_path, con):
    (tmp_path / "a.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id\n\n2\n", encoding="utf-8")
    both = make_config(
        tmp_path, source("a", "a.csv", {"id": "customer_id"}), source("b", "b.csv", {"id": "customer_id"})
    )
    ingest_sources(both, con)
    assert rows(con, "select count(*) from quarantine where source = 'b'") == [(1,)]
    only_a = make_config(tmp_path, source("a", "a.csv", {"id": "customer_id"}))
    ingest_sources(only_a, con)
    assert rows(con, "select source from ingest_summary") == [("a",)]
    assert rows(con, "select count(*) from quarantine") == [(0,)]
    assert rows(con, "select count(*) from information_schema.tables where table_name = 'stg_b'") == [(0,)]


# --------------------------------------------------------------------------------------------
# hardening: broken quotes, odd line ends, wide encodings, block boundaries, balance


def test_stray_quote_does_not_swallow_the_rest_of_the_file(tmp_path, con):
    (tmp_path / "erp.csv").write_text(
        'id,name,note\n1,甲公司,ok\n2,"乙公司,broken\n3,丙公司,ok\n4,丁公司,"two\nlines"\n',
        encoding="utf-8",
    )
    config = make_config(tmp_path, source("erp", "erp.csv", {"id": "customer_id", "name": "customer_name"}))
    result = ingest_source(config, "erp", con)
    assert rows(con, "select _row_number, customer_id, note from stg_erp order by 1") == [
        (2, "1", "ok"),
        (4, "3", "ok"),
        (5, "4", "two\nlines"),
    ]
    assert rows(con, "select row_number, reason, raw_text from quarantine") == [
        (
            3,
            "unbalanced quote: a quoted field opened on this line runs into the next lines",
            '2,"乙公司,broken',
        )
    ]
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (4, 3, 1)


def test_quote_left_open_to_the_end_of_the_file(tmp_path, con):
    # the stray quote is in the last column: the swallowed record would have the right cell count
    (tmp_path / "erp.csv").write_text(
        'id,name,note\n1,甲公司,"broken\n2,乙公司,ok\n3,丙公司,ok\n', encoding="utf-8"
    )
    config = make_config(tmp_path, source("erp", "erp.csv", {"id": "customer_id", "name": "customer_name"}))
    result = ingest_source(config, "erp", con)
    assert rows(con, "select _row_number, customer_id, note from stg_erp order by 1") == [
        (3, "2", "ok"),
        (4, "3", "ok"),
    ]
    assert rows(con, "select row_number, raw_text from quarantine") == [(2, '1,甲公司,"broken')]
    assert (result.file_rows, result.staged_rows, result.quarantined_rows) == (3, 2, 1)


def test_lone_cr_inside_an_unquoted_field_is_quarantined(tmp_path, con):
    (tmp_path / "erp.csv").write_bytes(b"id,name\n1,A\n2,B\rC\n3,D\n")
    config = make_config(tmp_path, source("erp", "erp.csv", {"id": "customer_id", "name": "customer_name"}))
    ingest_source(config, "erp", con)
    assert rows(con, "select _row_number, customer_id from stg_erp order by 1") == [(2, "1"), (4, "3")]
    [(number, reason, raw)] = rows(con, "select row_number, reason, raw_text from quarantine")
    assert (number, raw) == (3, "2,B\rC")
    assert reason.startswith("unparseable CSV: new-line character seen in unquoted field")


def test_cr_only_line_ends(tmp_path, con):
    (tmp_path / "erp.csv").write_bytes("客户编码,客户名称\r C1,甲\rC2,乙\r".replace(" ", "").encode("gbk"))
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    ingest_source(config, "erp", con)
    assert rows(con, "select _row_number, customer_id, customer_name from stg_erp order by 1") == [
        (2, "C1", "甲"),
        (3, "C2", "乙"),
    ]


def test_utf16_tab_separated_excel_text_export(tmp_path, con):
    text = "客户编码\t客户名称\r\nC1\t甲公司\r\nC2\t乙公司\r\n"
    (tmp_path / "erp.txt").write_bytes(text.encode("utf-16"))
    config = make_config(tmp_path, source("erp", "erp.txt", ERP_COLUMNS, delimiter="\\t"))
    result = ingest_source(config, "erp", con)
    assert result.encoding == "utf-16"
    assert rows(con, "select _row_number, customer_id, customer_name from stg_erp order by 1") == [
        (2, "C1", "甲公司"),
        (3, "C2", "乙公司"),
    ]


def test_block_boundaries_do_not_change_the_result(tmp_path, con, monkeypatch):
    from workbench.core.ingest import encodings

    # build the file and, independently, what each record should become
    chunks = ["客户编码,客户名称,地址\r\n".encode("gbk")]
    line = 2
    expected_staged, expected_quarantine = [], []
    for i in range(60):
        if i % 11 == 3:  # a quoted field over two lines
            chunks.append(f'C{i},多行公司{i},"第一行\r\n第二行{i}"\r\n'.encode("gbk"))
            expected_staged.append((line, f"C{i}"))
            line += 2
            continue
        if i == 25:  # bytes that are invalid in GB18030
            chunks.append(f"C{i},坏字节公司".encode("gbk") + b"\xff,x\r\n")
            expected_quarantine.append((line, "undecodable bytes for gb18030"))
        elif i % 17 == 7:
            chunks.append(f"C{i},多一格,x,y\r\n".encode("gbk"))
            expected_quarantine.append((line, "expected 3 cells, found 4"))
        else:
            chunks.append(f"C{i},公司{i},地址{i}\r\n".encode("gbk"))
            expected_staged.append((line, f"C{i}"))
        line += 1
    (tmp_path / "erp.csv").write_bytes(b"".join(chunks))
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS, encoding="gb18030"))

    def snapshot():
        ingest_source(config, "erp", con)
        return (
            rows(con, "select * from stg_erp order by _row_number"),
            rows(con, "select * from quarantine order by row_number"),
        )

    whole = snapshot()
    staged, quarantined = whole
    assert [(r[2], r[4]) for r in staged] == expected_staged
    assert [
        (r[2], r[3][: len(reason)]) for r, (_, reason) in zip(quarantined, expected_quarantine, strict=True)
    ] == (expected_quarantine)
    for chunk in (13, 37, 64):  # blocks that end inside lines and inside multi-line records
        monkeypatch.setattr(encodings, "CHUNK_BYTES", chunk)
        assert snapshot() == whole


def test_balance_is_checked_against_the_tables(tmp_path, con, monkeypatch):
    from workbench.core.ingest import staging
    from workbench.errors import IngestBalanceError

    (tmp_path / "erp.csv").write_text("客户编码,客户名称\nC1,甲\nC2,乙\n", encoding="utf-8")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    real = staging.read_csv_source

    def overcounting(spec, path):
        read = real(spec, path)
        read.file_rows += 1  # a row the reader saw but did not pass on
        return read

    monkeypatch.setattr(staging, "read_csv_source", overcounting)
    with pytest.raises(IngestBalanceError, match=r"'erp'.*3 file rows but 2 staged \+ 0 quarantined = 2"):
        ingest_source(config, "erp", con)
    assert rows(con, "select file_rows, staged_rows, balanced from ingest_summary") == [(3, 2, False)]


def test_one_summary_line_is_logged_per_source(tmp_path, con, caplog):
    shutil.copy(FIXTURES / "gbk_bad_line.csv", tmp_path / "erp.csv")
    config = make_config(tmp_path, source("erp", "erp.csv", ERP_COLUMNS))
    with caplog.at_level("INFO", logger="workbench.core.ingest"):
        ingest_sources(config, con)
    summaries = [r.getMessage() for r in caplog.records if "file rows =" in r.getMessage()]
    assert len(summaries) == 1
    assert summaries[0].startswith("ingest erp: 4 file rows = 3 staged + 1 quarantined (csv, gb18030)")


def test_intl_fixture_project_with_a_western_code_page():
    from workbench.project.config import load_config

    config = load_config(Path(__file__).parent / "fixtures" / "projects" / "intl" / "workbench.yaml")
    c = connect()
    summary = ingest_sources(config, c)
    assert summary["balanced"].all()
    names = [r[0] for r in rows(c, "select customer_name from stg_erp_de order by _row_number")]
    assert "Müller Maschinenbau GmbH" in names
    c.close()


def test_parquet_that_is_not_parquet(tmp_path, con):
    (tmp_path / "shop.parquet").write_text("a,b\n1,2\n", encoding="utf-8")
    config = make_config(tmp_path, source("shop", "shop.parquet", {"a": "customer_id"}))
    with pytest.raises(SourceError, match=r"shop\.parquet.*not a Parquet file.*text"):
        ingest_source(config, "shop", con)


def test_csv_that_is_really_excel(tmp_path, con):
    write_ledger(tmp_path / "ledger.csv")
    config = make_config(tmp_path, source("ledger", "ledger.csv", LEDGER_COLUMNS))
    with pytest.raises(SourceError, match=r"Excel workbook.*format: xlsx"):
        ingest_source(config, "ledger", con)


def test_check_headers_reads_headers_only_and_reports_every_source(tmp_path):
    from workbench.core.ingest import check_headers

    (tmp_path / "erp.csv").write_bytes("客户编码,客户名称\r\nC1,甲\r\n".encode("gbk"))
    write_ledger(tmp_path / "ledger.xlsx")
    pq.write_table(pa.table({"ref": ["a"], "name": ["b"]}), tmp_path / "shop.parquet")
    good = make_config(
        tmp_path,
        source("erp", "erp.csv", ERP_COLUMNS),
        source("ledger", "ledger.xlsx", LEDGER_COLUMNS, header_row=4),
        source("shop", "shop.parquet", {"ref": {"field": "customer_id", "kind": "id"}}),
    )
    found = check_headers(good)
    assert found["erp"] == ["客户编码", "客户名称"]
    assert found["ledger"][:3] == ["序号", "客户编码", "客户简称"]
    assert found["shop"] == ["ref", "name"]
    bad = make_config(
        tmp_path,
        source("erp", "erp.csv", {"客户代码": "customer_id"}),
        source("ledger", "ledger.xlsx", LEDGER_COLUMNS, header_row=3),
        source("shop", "shop.parquet", {"ref": "customer_id"}),
    )
    with pytest.raises(SourceError, match="2 of 3 sources have header problems") as err:
        check_headers(bad)
    assert "'客户代码' (did you mean '客户编码'?)" in str(err.value)
    assert "header row 3 of sheet '客户台账' is empty" in str(err.value)


def test_unmapped_header_that_clashes_with_a_field(tmp_path, con):
    (tmp_path / "erp.csv").write_text("客户编码,名称,customer_name\nC1,甲,x\n", encoding="utf-8")
    config = make_config(
        tmp_path, source("erp", "erp.csv", {"客户编码": "customer_id", "名称": "customer_name"})
    )
    with pytest.raises(SourceError, match=r"column 3 \('customer_name'\) would be staged as 'customer_name'"):
        ingest_source(config, "erp", con)
    config = make_config(
        tmp_path,
        source("erp", "erp.csv", {"客户编码": "customer_id", "名称": "customer_name"}, keep_unmapped=False),
    )
    assert ingest_source(config, "erp", con).staged_rows == 1


def test_only_the_named_sources_are_ingested(tmp_path, con):
    (tmp_path / "a.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id\n2\n", encoding="utf-8")
    config = make_config(
        tmp_path, source("a", "a.csv", {"id": "customer_id"}), source("b", "b.csv", {"id": "customer_id"})
    )
    summary = ingest_sources(config, con, sources=["b"])
    assert list(summary["source"]) == ["b"]
    assert rows(con, "select count(*) from information_schema.tables where table_name = 'stg_a'") == [(0,)]
    with pytest.raises(SourceError, match=r"no source named 'bb'.*Did you mean 'b'\?"):
        ingest_sources(config, con, sources=["bb"])


def test_a_source_named_columns_would_clobber_stg_columns(tmp_path, con):
    # the config loader refuses the name before the ingest ever sees it
    from workbench.errors import ConfigError

    (tmp_path / "a.csv").write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'columns' is reserved"):
        make_config(tmp_path, source("columns", "a.csv", {"id": "customer_id"}))


def test_the_staged_table_name_refuses_reserved_and_invalid_names():
    # the config refuses these names first; the ingest checks again for specs built in code
    from workbench.core.ingest.staging import _staged_table_name

    assert _staged_table_name("erp") == "stg_erp"
    with pytest.raises(SourceError, match="'columns' is reserved.*'stg_columns'.*'columns_src'"):
        _staged_table_name("columns")
    with pytest.raises(SourceError, match="invalid source name 'ERP'"):
        _staged_table_name("ERP")


def test_source_errors_name_the_source_once():
    from workbench.core.ingest.reading import source_errors

    label = "source 'erp' (erp.csv)"

    def raised(error: Exception) -> str:
        with pytest.raises(SourceError) as caught, source_errors(label):
            raise error
        return str(caught.value)

    assert raised(SourceError("no data rows")) == "source 'erp' (erp.csv): no data rows"
    assert raised(SourceError("source 'crm' (x): already named")) == "source 'crm' (x): already named"
    assert raised(PermissionError(13, "denied")) == "source 'erp' (erp.csv): cannot read the file (denied)"


def test_headers_are_read_without_the_data(tmp_path):
    from workbench.core.ingest import read_source_headers

    (tmp_path / "erp.csv").write_text("客户编码, 客户名称 \nC1,甲\n", encoding="utf-8")
    table = pa.table({"客户编码": ["C1"], "客户名称": ["甲"]})
    pq.write_table(table, tmp_path / "erp.parquet")
    config = make_config(
        tmp_path,
        source("erp", "erp.csv", ERP_COLUMNS),
        source("pq", "erp.parquet", ERP_COLUMNS, format="parquet"),
    )
    assert read_source_headers(config, "erp") == ["客户编码", "客户名称"]
    assert read_source_headers(config, "pq") == ["客户编码", "客户名称"]
