"""The engine seam: SQL text helpers, atomic files, frame registration."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from workbench.engine.connection import connect, registered, table_columns, table_exists
from workbench.engine.files import atomic_path, write_text_atomic
from workbench.engine.sql import copy_to, ident, literal, literal_list
from workbench.errors import WorkbenchError


def test_literal_and_ident_quote_what_they_must():
    con = connect()
    name = "O'Brien"
    assert con.execute(f"select {literal(name)}").fetchall() == [(name,)]
    assert literal(None) == "NULL"
    values = ["a", "b'c"]
    assert con.execute(f"select {literal_list(values)}").fetchall() == [(values,)]
    column = '我的 "列"'
    con.execute(f"create table t ({ident(column)} varchar)")
    assert table_columns(con, "t") == ['我的 "列"'] and table_exists(con, "t")
    with pytest.raises(WorkbenchError):
        literal("a\x00b")


def test_copy_to_a_path_with_an_apostrophe(tmp_path):
    folder = tmp_path / "O'Neil's run"
    folder.mkdir()
    con = connect()
    con.execute(copy_to("select 1 as x", folder / "out.csv", "HEADER, DELIMITER ','"))
    assert (folder / "out.csv").read_text().splitlines() == ["x", "1"]


def test_registered_frame_is_gone_after_the_block():
    con = connect()
    with registered(con, "__wb_frame", pd.DataFrame({"a": [1, 2]})) as name:
        assert con.execute(f"select sum(a) from {name}").fetchall() == [(3,)]
    with pytest.raises(duckdb.CatalogException):
        con.execute("select * from __wb_frame").fetchall()


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
