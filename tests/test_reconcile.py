"""Reconciliation: every source row gets exactly one disposition, or the run fails naming the rows."""

from __future__ import annotations

import pytest
from validation_fixtures import (
    EXPECTED,
    build_run_tables,
    golden_frame,
    make_config,
    write_generic_load_files,
)

from workbench.core.validation.reconcile import build_dispositions, reconcile_run
from workbench.engine.connection import connect
from workbench.errors import ReconciliationError


@pytest.fixture
def run(tmp_path):
    config = make_config(tmp_path)
    con = connect()
    build_run_tables(con)
    write_generic_load_files(tmp_path, golden_frame(), con.sql("select * from load_rows").df())
    yield config, con, tmp_path
    con.close()


def test_every_row_gets_its_expected_disposition(run) -> None:
    config, con, root = run
    result = reconcile_run(con, config, root)
    got = {r.record_key: (r.disposition, r.master_id) for r in result.dispositions.itertuples()}
    assert got == EXPECTED
    stored = con.sql("select count(*), count(distinct record_key) from dispositions").fetchall()[0]
    assert stored == (12, 12)
    assert result.ok


def test_reasons_name_the_cause(run) -> None:
    config, con, root = run
    d = reconcile_run(con, config, root).dispositions.set_index("record_key")
    assert d.loc["erp:5", "reason"] == "test record"
    assert "customer_name" in d.loc["erp:6", "reason"] and "generic" in d.loc["erp:6", "reason"]
    assert d.loc["crm:6", "reason"] == "wrong number of cells"
    assert d.loc["crm:2", "reason"] == "merged into M001 (loaded as erp:2)"
    assert d.loc["erp:2", "batch"] == "01_top_revenue"


def test_totals_balance_with_the_file_rows(run) -> None:
    config, con, root = run
    totals = reconcile_run(con, config, root).totals.set_index("source")
    assert totals.loc["erp", "total"] == 7 and totals.loc["erp", "file_rows"] == 7
    assert totals.loc["crm", "quarantined"] == 1 and totals.loc["crm", "merged"] == 2
    assert totals["balanced"].all()


def test_a_row_lost_by_the_match_stage_fails_loudly(run) -> None:
    config, con, root = run
    con.execute("delete from crosswalk where record_key = 'crm:3'")
    with pytest.raises(ReconciliationError, match=r"crm:3 \(source crm, row 3\): not in the crosswalk"):
        reconcile_run(con, config, root)
    problems = con.sql("select record_key, problem from reconciliation_problems").fetchall()
    assert problems[0][0] == "crm:3"
    assert "4 rows with an outcome but the file has 5 rows" in problems[1][1]


def test_a_loadable_master_missing_from_the_files_fails(run) -> None:
    config, con, root = run
    con.execute("delete from load_rows where master_id = 'M007'")
    with pytest.raises(ReconciliationError, match=r"crm:5.*neither in a load file nor rejected"):
        reconcile_run(con, config, root)


def test_a_row_counted_twice_fails(run) -> None:
    config, con, _ = run
    con.execute("insert into crosswalk select * from crosswalk where record_key = 'erp:3'")
    _, problems = build_dispositions(con, config)
    assert problems["record_key"].tolist() == ["erp:3"]
    assert "2 times" in problems["problem"].iloc[0]


def test_a_staged_row_also_quarantined_fails(run) -> None:
    config, con, root = run
    con.execute("insert into quarantine values ('erp', 'erp.csv', 3, 'bad', 'x')")
    with pytest.raises(ReconciliationError, match="erp:3"):
        reconcile_run(con, config, root)


def test_checksums_catch_a_changed_value_in_a_load_file(run) -> None:
    config, con, root = run
    path = root / "exports/generic/02.csv"
    text = path.read_bytes().decode("utf-8-sig").replace("wxm@qq.com", "other@qq.com")
    path.write_bytes(text.encode("utf-8-sig"))
    result = reconcile_run(con, config, root)
    sums = result.checksums.set_index("target_field")
    assert not sums.loc["email", "match"] and sums.loc["email", "mismatch_examples"] == "M006"
    assert sums.loc["customer_code", "match"] and sums.loc["customer_code", "masters"] == 4
    assert not result.ok


def test_missing_export_tables_are_named(tmp_path) -> None:
    config = make_config(tmp_path)
    con = connect()
    build_run_tables(con, with_exports=False)
    with pytest.raises(ReconciliationError, match="load_rows"):
        reconcile_run(con, config, tmp_path)


def test_a_rerun_replaces_the_tables(run) -> None:
    config, con, root = run
    reconcile_run(con, config, root)
    con.execute(
        "update batch_plan set batch = 'deferred_dormant', reason = 'dormant' where master_id = 'M007'"
    )
    con.execute("delete from load_rows where master_id = 'M007'")
    reconcile_run(con, config, root)
    rows = con.sql("select disposition, reason from dispositions where record_key = 'crm:5'").fetchall()
    assert rows == [("deferred", "dormant")]
    assert (root / "tables" / "dispositions.csv").read_text(encoding="utf-8-sig").count("\n") == 13
