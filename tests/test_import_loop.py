"""The real import-error loop: ERP logs → worklist and retry file; a fix typed in → fixes.csv."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from fixtures.export.helpers import DEMO_MAPPINGS, read_golden

from workbench.core.batches.plan import build_batch_plan
from workbench.core.export.fixes import read_fixes, translate_fix
from workbench.core.export.import_log import ImportLogError, read_load_history
from workbench.core.export.load_files import export_load_files, read_load_file
from workbench.core.mapping import load_mapping_set
from workbench.core.targets import load_profile, load_project_profiles
from workbench.presentation.workbooks.import_worklist import run_import_log
from workbench.project.config import parse_config
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

U8 = load_profile("yonyou_u8_customer")
SAP = load_profile("sap_s4_cockpit_customer")


def _project(tmp_path):
    """A project whose canonical fields are those of the export fixture, with a crosswalk of two
    source records per master (erp and crm) and its load files exported."""
    project = tmp_path / "project"
    shutil.copytree(DEMO_MAPPINGS, project / "mappings")
    columns = {
        "id": {"field": "customer_id", "kind": "id"},
        "name": {"field": "customer_name", "kind": "customer_name"},
        "region": {"field": "region_code", "kind": "code"},
        "class": {"field": "customer_class", "kind": "code"},
        "tax": {"field": "uscc", "kind": "tax_id"},
        "mobile": {"field": "mobile", "kind": "phone"},
    }
    raw = {
        "project": {"name": "t", "as_of_date": "2026-11-01"},
        "sources": [
            {"name": "erp", "path": "erp.csv", "id_column": "id", "columns": columns},
            {"name": "crm", "path": "crm.csv", "id_column": "id", "columns": columns},
        ],
    }
    config = parse_config(raw, project / "workbench.yaml", check_files=False)
    paths = RunPaths(config.output_dir / "runs" / "r1").ensure()
    (config.output_dir / "LATEST").write_text("r1", encoding="utf-8")
    ctx = RunContext(config=config, paths=paths)
    golden = read_golden()
    cw = pd.DataFrame(
        [
            (src, f"{src.upper()}-{m[1:]}", f"{src}:{i}", m, 1.0, "rule")
            for i, m in enumerate(golden["master_id"], start=2)
            for src in ("crm", "erp")
        ],
        columns=["source", "source_id", "record_key", "master_id", "match_probability", "match_reason"],
    )
    con = ctx.connect()
    con.register("g", golden)
    con.execute("create table golden_customers as select * from g")
    con.register("c", cw)
    con.execute("create table crosswalk as select * from c")
    con.close()
    build_batch_plan(ctx)
    export_load_files(ctx)
    return config, ctx


def _u8_log(ctx, tmp_path, rows):
    path = tmp_path / "u8_import_log.csv"
    pd.DataFrame(rows, columns=["row_key", "status", "message", "field"]).to_csv(path, index=False)
    return path


def test_erp_log_gives_worklist_retry_file_and_history(tmp_path):
    config, ctx = _project(tmp_path)
    log = _u8_log(
        ctx,
        tmp_path,
        [
            ("M000001", "成功", "", ""),
            ("M000002", "失败", "地区编码 2002 不存在", "cDCCode"),
            ("M000004", "error", "客户编码 M000004 已存在", "cCusCode"),
        ],
    )
    run = run_import_log(config, U8.name, [log])
    assert run.run_dir == ctx.paths.root and run.round is not None and run.round.iteration == 1
    assert (ctx.paths.import_logs / f"{U8.name}__round1__u8_import_log.csv").exists()  # kept in the run
    sheet = pd.read_excel(run.worklist, sheet_name=0, dtype=str)
    assert sorted(sheet["row_key"]) == ["M000002", "M000004"]
    assert set(sheet.loc[sheet["row_key"] == "M000002", "reason"]) == {"invalid_code"}
    # the retry file holds exactly the failed rows, as they were sent
    sent_again = [
        k
        for f in run.retry_files["file"]
        for k in read_load_file(ctx.paths.root / f, U8)["customer"]["cCusCode"]
    ]
    assert sorted(sent_again) == ["M000002", "M000004"]
    assert all("/retry/" in f and "__retry2" in f for f in run.retry_files["file"])
    history = read_load_history(ctx.project.load_history)
    con = ctx.connect()
    n_rows = con.sql("select count(*) from load_rows where profile = 'yonyou_u8_customer'").fetchall()[0][0]
    con.close()
    assert int(history.loc[history["iteration"] == 1, "rows_sent"].iloc[0]) == n_rows
    assert int(history.loc[history["iteration"] == 1, "rows_failed"].iloc[0]) == 2
    assert run.metrics()["failed_records"] == 2


def test_a_fix_typed_into_the_worklist_goes_into_fixes_csv_and_the_retry_file(tmp_path):
    config, ctx = _project(tmp_path)
    log = _u8_log(
        ctx,
        tmp_path,
        [
            ("M000002", "失败", "地区编码 2002 不存在", "cDCCode"),
            ("M000004", "失败", "客户编码 已存在", "cCusCode"),
            ("M000005", "失败", "所属分类码 不是末级分类", "cCCCode"),
        ],
    )
    first = run_import_log(config, U8.name, [log])
    sheet = pd.read_excel(first.worklist, sheet_name=0, dtype=str)
    sheet.loc[sheet["row_key"] == "M000002", ["fix_value", "fixed_by"]] = [
        "1101",
        "王会计",
    ]  # a U8 region code
    sheet.loc[sheet["row_key"] == "M000004", "fix_value"] = "M999"  # the key: not a source field
    sheet.loc[sheet["row_key"] == "M000005", "fix_value"] = "02"  # typed as the legacy class code
    sheet.to_excel(first.worklist, index=False)
    back = run_import_log(config, U8.name, [], worklist=first.worklist, fixed_by=None)
    fixes = read_fixes(ctx.config.resolve("fixes.csv"))
    # the U8 code 1101 goes back through the value map to the legacy code 0101, on both member records
    region = fixes[fixes["field"] == "region_code"]
    assert region[["source", "source_id", "value", "fixed_by"]].values.tolist() == [
        ["crm", "CRM-000002", "0101", "王会计"],
        ["erp", "ERP-000002", "0101", "王会计"],
    ]
    assert "invalid_code" not in region["reason"].iloc[0] and "地区编码" in region["reason"].iloc[0]
    klass = fixes[fixes["field"] == "customer_class"]
    assert set(klass["value"]) == {"02"} and len(klass) == 2
    assert back.fixes is not None and len(back.fixes.untranslated) == 1
    assert "master_id" in back.fixes.untranslated["why"].iloc[0]
    assert back.fixes.metrics() == {
        "worklist_fixes_filled": 3,
        "fix_lines_added": 4,
        "fixes_not_translated": 1,
    }
    # the retry files are written again with the typed fixes applied (target values), checked
    rows = pd.concat(
        [read_load_file(ctx.paths.root / f, U8)["customer"] for f in back.retry_files["file"]]
    ).set_index("cCusCode")
    assert rows.loc["M000002", "cDCCode"] == "1101" and rows.loc["M000005", "cCCCode"] == "02"
    # a second worklist adds to the file; the newest fix of a record and field wins
    sheet.loc[sheet["row_key"] == "M000002", "fix_value"] = "3101"
    sheet.to_excel(first.worklist, index=False)
    run_import_log(config, U8.name, [], worklist=first.worklist)
    again = read_fixes(ctx.config.resolve("fixes.csv"))
    assert len(again) == 4 and set(again.loc[again["field"] == "region_code", "value"]) == {"0301"}


def test_second_round_reads_the_logs_of_the_retry_file(tmp_path):
    config, ctx = _project(tmp_path)
    log = _u8_log(
        ctx, tmp_path, [("M000002", "失败", "地区编码 不存在", "cDCCode"), ("M000001", "成功", "", "")]
    )
    first = run_import_log(config, U8.name, [log])
    (retry,) = first.retry_files["file"]  # one failed row: one retry file
    log2 = tmp_path / "round2.csv"
    pd.DataFrame([("M000002", "成功", "", "")], columns=["row_key", "status", "message", "field"]).to_csv(
        log2, index=False
    )
    second = run_import_log(config, U8.name, [log2])
    assert second.round is not None and second.round.iteration == 2 and second.worklist is None
    h = read_load_history(ctx.project.load_history).drop_duplicates("iteration").set_index("iteration")
    assert h.loc[2, "rows_sent"] == 1 and h.loc[2, "rows_failed"] == 0
    assert "__retry2" in retry


def test_import_log_refuses_unknown_target_and_nothing_to_do(tmp_path):
    config, _ctx = _project(tmp_path)
    with pytest.raises(ImportLogError, match="did you mean 'yonyou_u8_customer'"):
        run_import_log(config, "yonyou_u8_custom", [tmp_path / "x.csv"])
    with pytest.raises(ImportLogError, match="give the ERP's import log"):
        run_import_log(config, U8.name, [])


def test_translate_fix_reads_value_maps_backwards_and_refuses_what_is_no_source_field(tmp_path):
    config, _ctx = _project(tmp_path)
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    canonical = set(config.field_kinds())
    assert translate_fix(U8, mapping, "cDCCode", "3101", canonical) == ("region_code", "0301")
    assert translate_fix(SAP, mapping, "tax.TAXNUM", "91310000MA1FL1234X", canonical) == (
        "uscc",
        "91310000MA1FL1234X",
    )
    with pytest.raises(ValueError, match="constant"):
        translate_fix(SAP, mapping, "company.BUKRS", "CN02", canonical)
    with pytest.raises(ValueError, match="no legacy code maps to '7777'"):
        translate_fix(U8, mapping, "cDCCode", "7777", canonical)
