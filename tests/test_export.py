"""Export: sign-off gate, coverage gate, pre-write checks, formula guard, encodings, manifest."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from fixtures.export.helpers import make_run, read_golden
from openpyxl import load_workbook

from workbench.core.batches.plan import build_batch_plan
from workbench.core.export.load_files import (
    ExportIncompleteError,
    check_rows,
    export_load_files,
    guard_formula,
    incomplete_marker,
    read_load_file,
    staging_dir,
)
from workbench.core.export.writers import expected_xml2003_structure, read_xml2003_structure
from workbench.core.mapping import MappingCoverageError, MappingNotApprovedError
from workbench.core.targets import load_profile


def _export(ctx, **kw):
    build_batch_plan(ctx)
    return export_load_files(ctx, **kw)


def test_approved_demo_export_writes_checked_files(tmp_path):
    ctx = make_run(tmp_path)
    res = _export(ctx)
    assert not res.draft
    manifest = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "APPROVED" and manifest["mapping_version"] == res.mapping_version
    assert {f["profile"] for f in manifest["files"]} == {"sap_s4_cockpit_customer", "yonyou_u8_customer"}
    con = ctx.connect()
    load_rows = con.sql("select * from load_rows order by profile, file, row_in_file").df()
    plan = con.sql("select * from batch_plan").df()
    con.close()
    loadable = set(plan.loc[~plan["batch"].isin(["excluded", "deferred_dormant"]), "master_id"])
    for name in ("sap_s4_cockpit_customer", "yonyou_u8_customer"):
        profile = load_profile(name)
        mine = load_rows[load_rows["profile"] == name]
        # every loadable master is written once or rejected with a reason, never both
        rejected = set(res.rejects.loc[res.rejects["profile"] == name, "master_id"])
        assert set(mine["master_id"]) | rejected == loadable
        assert not set(mine["master_id"]) & rejected
        for f in manifest["files"]:
            if f["profile"] != name or f["kind"] != "customers":
                continue
            path = ctx.paths.root / f["file"]
            assert "DRAFT" not in path.name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            frames = read_load_file(path, profile)
            main = frames[profile.main.id]
            assert len(main) == f["rows"]
            # the file's rows are what load_rows says, in order
            rows = mine[mine["file"] == f["file"]]
            assert list(main["_row"]) == list(rows["row_in_file"])
            assert list(main[profile.key_field]) == list(rows["row_key"])
            # what was written passes the profile's checks when read back
            back = {s: fr.assign(master_id=fr[profile.key_field]) for s, fr in frames.items()}
            checked = check_rows(back, profile, formula_guard=False)
            assert checked.rejects.empty, checked.rejects


def test_sap_file_layout_and_parent_first(tmp_path):
    ctx = make_run(tmp_path)
    res = _export(ctx)
    profile = load_profile("sap_s4_cockpit_customer")
    top = next(
        f
        for f in res.files.to_dict("records")
        if f["profile"] == profile.name and f["batch"] == "01_top_revenue"
    )
    text = (ctx.paths.root / top["file"]).read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>')
    frames = read_load_file(ctx.paths.root / top["file"], profile)
    assert frames["general"]["_row"].iloc[0] == 9  # data from row 9, names in row 5
    roles = frames["roles"]
    assert sorted(roles.loc[roles["KUNNR"] == "M000001", "BP_ROLE"]) == ["FLCU00", "FLCU01"]
    assert "M000003" not in set(frames["tax"]["KUNNR"])  # an individual without USCC: no tax row
    assert frames["general"].set_index("KUNNR").loc["M000003", "NAME_LAST"] == "王芳"


def test_changed_mapping_gives_draft_files_or_is_refused(tmp_path):
    ctx = make_run(tmp_path)
    vm = ctx.config.resolve("mappings/value_mappings.csv")
    vm.write_text(
        vm.read_text(encoding="utf-8-sig").replace("u8_credit_grade,5,E", "u8_credit_grade,5,D"),
        encoding="utf-8",
    )
    build_batch_plan(ctx)
    res = export_load_files(ctx)  # default export.when_not_ready: draft
    assert res.draft and all("__DRAFT." in f for f in res.files["file"])
    (reason,) = res.reasons
    assert reason.code == "not_signed_off" and "value_mappings:value_mappings.csv" in reason.en
    assert "审批后有变更" in reason.zh
    manifest = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "DRAFT" and manifest["draft"] is True
    assert (
        manifest["draft_reasons"][0]["code"] == "not_signed_off"
        and res.metrics()["draft_reasons"] == manifest["draft_reasons"]
    )
    strict = make_run(tmp_path / "strict", export={"when_not_ready": "refuse"})
    vm2 = strict.config.resolve("mappings/value_mappings.csv")
    vm2.write_text(vm.read_text(encoding="utf-8"), encoding="utf-8")
    build_batch_plan(strict)
    with pytest.raises(MappingNotApprovedError) as err:
        export_load_files(strict)
    assert "value_mappings.csv" in str(err.value) and "changed since the latest approval" in str(err.value)
    assert not strict.paths.exports.exists()


def test_injected_unmapped_code_blocks_export(tmp_path):
    golden = read_golden()
    golden.loc[golden["master_id"] == "M000003", "credit_rating"] = "7"  # no such legacy code
    ctx = make_run(tmp_path, golden=golden, export={"when_not_ready": "refuse"})
    build_batch_plan(ctx)
    with pytest.raises(MappingCoverageError, match="1 unmapped values"):
        export_load_files(ctx)
    res = export_load_files(ctx, draft=True)
    assert {r.code for r in res.reasons} == {"forced", "coverage"}
    unmapped = res.coverage.unmapped_values
    assert unmapped[["map_name", "legacy_value", "count"]].values.tolist() == [["u8_credit_grade", "7", 1]]
    # in a draft the unmapped code is a gap of the mapping work: the record is written, the cell empty
    assert res.rejects[res.rejects["profile"] == "yonyou_u8_customer"].empty
    assert res.gaps.values.tolist() == [["yonyou_u8_customer", "cCusCreGrade", "unmapped_value", 1]]
    con = ctx.connect()
    u8 = con.sql("select master_id from load_rows where profile = 'yonyou_u8_customer'").fetchall()
    sap = con.sql("select master_id from load_rows where profile = 'sap_s4_cockpit_customer'").fetchall()
    con.close()
    assert ("M000003",) in u8 and ("M000003",) in sap


def test_gbk_and_length_rejects_and_formula_guard(tmp_path):
    golden = read_golden()
    golden.loc[golden["master_id"] == "M000005", "customer_name"] = "深圳𠮷祥贸易有限公司"  # 𠮷 is not in GBK
    golden.loc[golden["master_id"] == "M000001", "customer_name"] = "上海" + "长" * 120 + "有限公司"
    ctx = make_run(
        tmp_path,
        golden=golden,
        export={"profiles": ["kingdee_customer", "generic", "yonyou_u8_customer"], "draft": True},
    )
    res = _export(ctx)
    rej = res.rejects

    def reasons(profile, master):
        mine = rej[(rej["profile"] == profile) & (rej["master_id"] == master)]
        return " | ".join(mine["field"] + ": " + mine["reason"])

    assert "FName: character '𠮷' (U+20BB7) cannot be written in GBK" in reasons(
        "kingdee_customer", "M000005"
    )
    assert "FName: 126 characters, the maximum is 80" in reasons("kingdee_customer", "M000001")
    assert reasons("yonyou_u8_customer", "M000005") == ""  # xlsx holds any character
    assert "the maximum is 98" in reasons("yonyou_u8_customer", "M000001")
    # a rejected record is in no file of that profile
    con = ctx.connect()
    kd_rows = {
        r[0] for r in con.sql("select master_id from load_rows where profile='kingdee_customer'").fetchall()
    }
    con.close()
    assert not kd_rows & {"M000001", "M000005"} and "M000004" in kd_rows
    # CSV: formula cell neutralised with a leading quote, phone numbers left alone
    generic = next(ctx.paths.root / f for f in res.files["file"] if "generic__01_top" in f)
    rows = list(csv.reader(generic.read_text(encoding="utf-8-sig").splitlines()))
    row = next(r for r in rows if r[0] == "M000004")
    assert row[1] == '\'=HYPERLINK("http://x")'
    assert row[12] == "+8613600002222"
    assert generic.read_bytes().startswith(b"\xef\xbb\xbf")
    # XLSX: the cell is text with Excel's quote prefix, so it never runs as a formula
    u8file = next(ctx.paths.root / f for f in res.files["file"] if "yonyou_u8_customer__01_top" in f)
    ws = load_workbook(u8file)["客户档案"]
    cell = next(c for c in ws["B"] if c.value == '=HYPERLINK("http://x")')
    assert cell.data_type == "s" and cell.quotePrefix
    # GBK CSV decodes as GBK
    kdfile = next(ctx.paths.root / f for f in res.files["file"] if "kingdee_customer__01_top" in f)
    assert "M000004" in kdfile.read_bytes().decode("gbk")


def test_guard_formula_rules():
    import re

    safe = re.compile(r"^[+-]?[0-9][0-9 ]*$")
    assert guard_formula("=1+1", safe) == "'=1+1"
    assert guard_formula("@SUM(A1)", safe) == "'@SUM(A1)"
    assert guard_formula("-1+cmd|' /C calc'!A0", safe) == "'-1+cmd|' /C calc'!A0"
    assert guard_formula("\t=1", safe) == "'\t=1"
    assert guard_formula("+86 138 0013 8000", safe) == "+86 138 0013 8000"
    assert guard_formula("华瑞", safe) == "华瑞"


def test_rerun_is_byte_identical(tmp_path):
    ctx = make_run(tmp_path)
    first = _export(ctx).files[["file", "sha256"]].values.tolist()
    second = export_load_files(ctx).files[["file", "sha256"]].values.tolist()
    assert first == second


def test_a_failed_export_leaves_the_previous_set_or_nothing_and_a_marker(tmp_path, monkeypatch):
    import workbench.core.export.writers as writers

    ctx = make_run(tmp_path)
    build_batch_plan(ctx)
    real = writers._write_xlsx

    def boom(path, profile, frames, language):
        real(path, profile, frames, language)
        raise RuntimeError("disk full")

    # no previous export: a failure midway (after the SAP files) leaves no exports/ folder at all
    monkeypatch.setattr(writers, "_write_xlsx", boom)
    with pytest.raises(ExportIncompleteError) as err:
        export_load_files(ctx)
    assert "disk full" in str(err.value) and "exports/ holds nothing" in str(err.value)
    assert not ctx.paths.exports.exists() and not staging_dir(ctx.paths).exists()
    marker = json.loads(incomplete_marker(ctx.paths).read_text(encoding="utf-8"))
    assert marker["status"] == "incomplete" and "disk full" in marker["error"]
    # a complete export publishes the whole set with its manifest and removes the marker
    monkeypatch.setattr(writers, "_write_xlsx", real)
    good = export_load_files(ctx)
    assert not incomplete_marker(ctx.paths).exists()
    before = {
        p.relative_to(ctx.paths.exports): p.read_bytes() for p in ctx.paths.exports.rglob("*") if p.is_file()
    }
    assert Path("manifest.json") in before and len(before) == len(good.files) + 1
    # a failed rerun keeps the previous complete set untouched
    monkeypatch.setattr(writers, "_write_xlsx", boom)
    with pytest.raises(ExportIncompleteError, match="exports/ holds the previous complete set"):
        export_load_files(ctx)
    after = {
        p.relative_to(ctx.paths.exports): p.read_bytes() for p in ctx.paths.exports.rglob("*") if p.is_file()
    }
    assert after == before and incomplete_marker(ctx.paths).exists()
    assert [p.name for p in ctx.paths.root.iterdir() if p.name.startswith(".exports")] == []
    # a stage that builds on the export refuses the run while the marker is there
    from workbench.project.readiness import missing_inputs
    from workbench.project.stages import stage_spec

    refusals = missing_inputs(stage_spec("validate"), ctx.config, ctx.paths)
    assert any("exports.INCOMPLETE.json" in r for r in refusals)


def test_sap_file_has_the_template_structure_of_the_profile(tmp_path):
    ctx = make_run(tmp_path)
    res = _export(ctx)
    sap = load_profile("sap_s4_cockpit_customer")
    files = res.files[(res.files["profile"] == sap.name) & (res.files["kind"] == "customers")]
    assert len(files) > 1
    expected = expected_xml2003_structure(sap)
    assert (
        expected["sheet_order"][:2] == ["Introduction", "Field List"] and len(expected["sheet_order"]) == 11
    )
    for f in files["file"]:
        got = read_xml2003_structure(ctx.paths.root / f)
        assert got["document_properties"] == expected["document_properties"]
        assert got["document_properties"]["APPLICATION"] == "SLO"
        assert [s["name"] for s in got["sheets"]] == expected["sheet_order"]
        for sheet in got["sheets"]:
            if sheet["name"] not in expected["header_rows"]:
                continue
            assert sheet["hidden_rows"] == expected["hidden_rows"] == [4, 5, 6]
            heads = {n: cells for n, cells in sheet["rows"].items() if n < expected["data_start_row"]}
            want = {n: cells for n, cells in expected["header_rows"][sheet["name"]].items()}
            assert heads.keys() == want.keys() == {1, 4, 5, 6, 7, 8}
            for n, cells in want.items():
                assert (heads[n] + [""] * len(cells))[: len(cells)] == cells, (sheet["name"], n)
        general = next(s for s in got["sheets"] if s["name"] == "General Data")["rows"]
        assert general[5][0] == "KUNNR" and general[6][0] == "KUNNR;;;C;10;0" and general[7][0] == "Key"
        assert general[8][0] == "Customer Number*\nlegacy customer key" and general[4][0] == "S_CUST_GEN"
        intro = next(s for s in got["sheets"] if s["name"] == "Introduction")["rows"]
        text = " ".join(c for cells in intro.values() for c in cells)
        assert "[unconfirmed]" in text and "VERSION" in text  # the unconfirmed facts are in the file
        field_list = next(s for s in got["sheets"] if s["name"] == "Field List")["rows"]
        assert ["", "General Data (mandatory)"] in field_list.values()
        assert ["", "Sales Data"] in field_list.values()


def test_u8_and_kingdee_files_carry_required_columns_and_code_lists_first(tmp_path):
    ctx = make_run(tmp_path, export={"profiles": ["yonyou_u8_customer", "kingdee_customer"]})
    res = _export(ctx)
    manifest = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    u8 = load_profile("yonyou_u8_customer")
    u8_files = res.files[res.files["profile"] == u8.name]
    customers = u8_files[u8_files["kind"] == "customers"]
    wb = load_workbook(ctx.paths.root / customers["file"].iloc[0], read_only=True)
    assert wb.sheetnames == ["客户档案", "说明"]
    header = [c for c in next(wb["客户档案"].iter_rows(values_only=True))]
    assert {"币种", "客户管理类型编码", "国内", "所属分类码", "发展日期"} <= set(header)
    notes = " ".join(str(r[0]) for r in wb["说明"].iter_rows(values_only=True) if r[0])
    assert "[unconfirmed]" in notes and "load_order" in notes
    wb.close()
    rows = pd.concat([read_load_file(ctx.paths.root / f, u8)["customer"] for f in customers["file"]])
    assert (rows["cCusExch_name"] == "人民币").all() and (rows["cCusMngTypeCode"] == "999").all()
    # the code lists hold every code the customers use, with names from the value mappings
    lists = u8_files[u8_files["kind"] == "code_list"]
    assert [f.split("__")[2].split(".")[0] for f in lists["file"]] == [
        "customer_classes",
        "regions",
        "currencies",
    ]
    classes = pd.read_excel(
        ctx.paths.root / next(f for f in lists["file"] if "customer_classes" in f), dtype=str
    )
    assert set(classes["分类编码"]) == set(rows["cCCCode"])
    assert (
        classes.set_index("分类编码").loc["0101", "分类名称"] == "01"
    )  # the legacy code when no target_label
    regions = pd.read_excel(ctx.paths.root / next(f for f in lists["file"] if "regions" in f), dtype=str)
    assert set(regions["地区编码"]) == set(rows["cDCCode"].dropna())
    # load order: each profile's code lists before its customer files
    order = [s for s in manifest["load_order"] if s["profile"] == u8.name]
    kinds = [s["kind"] for s in order]
    assert kinds == sorted(kinds) and kinds[0] == "code_list" and kinds[-1] == "customers"
    assert [s["step"] for s in manifest["load_order"]] == list(range(1, len(manifest["load_order"]) + 1))
    # Kingdee: GBK CSV code lists, and the notes beside the files
    kd = res.files[(res.files["profile"] == "kingdee_customer") & (res.files["kind"] == "code_list")]
    assert {f.split("__")[2].split(".")[0] for f in kd["file"]} == {"customer_types", "regions"}
    types = (ctx.paths.root / next(f for f in kd["file"] if "customer_types" in f)).read_bytes().decode("gbk")
    assert types.splitlines()[:2] == ["FNumber,FName", "编码,名称"]
    assert "currencies: no codes used" in " ".join(manifest["code_list_issues"])
    notes_file = manifest["profiles"]["kingdee_customer"]["notes_file"]
    assert "[unconfirmed]" in (ctx.paths.root / notes_file).read_text(encoding="utf-8-sig")
    # validation reads only the customer files through load_rows
    con = ctx.connect()
    assert con.sql("select count(*) from export_files where kind = 'code_list'").fetchall()[0][0] == len(
        lists
    ) + len(kd)
    con.close()
