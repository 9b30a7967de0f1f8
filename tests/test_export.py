"""Export: sign-off gate, coverage gate, pre-write checks, formula guard, encodings, manifest."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
from fixtures.export.helpers import make_run, read_golden
from openpyxl import load_workbook

from workbench.core.batches.plan import build_batch_plan
from workbench.core.export.load_files import check_rows, export_load_files, guard_formula, read_load_file
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
            if f["profile"] != name:
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


def test_changed_mapping_is_refused_unless_draft(tmp_path):
    ctx = make_run(tmp_path)
    vm = ctx.config.resolve("mappings/value_mappings.csv")
    vm.write_text(
        vm.read_text(encoding="utf-8-sig").replace("u8_credit_grade,5,E", "u8_credit_grade,5,D"),
        encoding="utf-8",
    )
    build_batch_plan(ctx)
    with pytest.raises(MappingNotApprovedError) as err:
        export_load_files(ctx)
    msg = str(err.value)
    assert "approved versions" in msg and "the latest approval" in msg
    res = export_load_files(ctx, draft=True)
    assert res.draft and all("__DRAFT." in f for f in res.files["file"])
    assert res.mapping_version in msg
    manifest = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "DRAFT" and manifest["draft"] is True


def test_injected_unmapped_code_blocks_export(tmp_path):
    golden = read_golden()
    golden.loc[golden["master_id"] == "M000003", "credit_rating"] = "7"  # no such legacy code
    ctx = make_run(tmp_path, golden=golden)
    build_batch_plan(ctx)
    with pytest.raises(MappingCoverageError, match="1 unmapped values"):
        export_load_files(ctx)
    res = export_load_files(ctx, draft=True)
    unmapped = res.coverage.unmapped_values
    assert unmapped[["map_name", "legacy_value", "count"]].values.tolist() == [["u8_credit_grade", "7", 1]]
    rej = res.rejects[res.rejects["profile"] == "yonyou_u8_customer"]
    assert rej["master_id"].tolist() == ["M000003"] and "unmapped value '7'" in rej["reason"].iloc[0]
    con = ctx.connect()
    u8 = con.sql("select master_id from load_rows where profile = 'yonyou_u8_customer'").fetchall()
    sap = con.sql("select master_id from load_rows where profile = 'sap_s4_cockpit_customer'").fetchall()
    stored = con.sql("select * from reject_rows").df()
    con.close()
    assert ("M000003",) not in u8 and ("M000003",) in sap  # SAP does not map the credit rating
    assert len(stored) == len(res.rejects) and stored["batch"].notna().all()


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


def test_rerun_is_byte_identical_and_atomic(tmp_path, monkeypatch):
    ctx = make_run(tmp_path)
    first = _export(ctx).files[["file", "sha256"]].values.tolist()
    second = export_load_files(ctx).files[["file", "sha256"]].values.tolist()
    assert first == second
    # an interrupted xlsx write leaves neither a half file nor a temporary file
    import workbench.core.export.load_files as ex

    def boom(path, profile, frames):
        path.write_bytes(b"PK half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ex, "_write_xlsx", boom)
    target = next(ctx.paths.root / f for f, _ in first if f.endswith(".xlsx"))
    target.unlink()
    with pytest.raises(RuntimeError):
        export_load_files(ctx)
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if ".part" in p.name]
