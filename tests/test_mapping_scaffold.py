"""A project without mappings: profile defaults, scaffolds from `init`, and the review workbook round trip."""

from __future__ import annotations

import csv
import json
import shutil

import pandas as pd
import pytest
from fixtures.export.helpers import DEMO_MAPPINGS, read_golden
from openpyxl import load_workbook

from workbench.core.batches.plan import build_batch_plan
from workbench.core.export.load_files import export_load_files, read_load_file
from workbench.core.mapping import load_mapping_set, project_columns, resolve_default, review_mappings
from workbench.core.mapping.scaffold import write_mapping_scaffolds
from workbench.core.targets import load_profile, load_project_profiles
from workbench.presentation.workbooks.mapping_review import (
    ReviewWorkbookError,
    read_mapping_review,
    write_mapping_review,
)
from workbench.project.config import parse_config
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

COLUMNS = {
    "编号": {"field": "customer_id", "kind": "id"},
    "名称": {"field": "customer_name", "kind": "customer_name"},
    "简称": {"field": "short_name", "kind": "company_name"},
    "类别": {"field": "customer_class", "kind": "code"},
    "地区": {"field": "region_code", "kind": "code"},
    "信用": {"field": "credit_rating", "kind": "code"},
    "税号": {"field": "uscc", "kind": "tax_id"},
    "联系人": {"field": "contact_name", "kind": "person_name"},
    "手机": {"field": "mobile", "kind": "phone"},
    "电话": {"field": "phone", "kind": "phone"},
    "邮箱": {"field": "email", "kind": "email"},
    "地址": {"field": "address", "kind": "address"},
    "邮编": {"field": "postcode", "kind": "postcode"},
    "建档": {"field": "created_date", "kind": "date"},
}


def _config(tmp_path, export=None):
    raw = {
        "project": {"name": "new", "as_of_date": "2026-11-01"},
        "sources": [{"name": "erp", "path": "erp.csv", "id_column": "编号", "columns": COLUMNS}],
        "export": export or {},
    }
    return parse_config(raw, tmp_path / "project" / "workbench.yaml", check_files=False)


def _run(tmp_path, export=None):
    config = _config(tmp_path, export)
    ctx = RunContext(config=config, paths=RunPaths(tmp_path / "run").ensure())
    golden = read_golden()
    con = ctx.connect()
    con.register("g", golden)
    con.execute("create table golden_customers as select * from g")
    con.execute("create table std_customers as select * exclude (master_id, parent_master_id) from g")
    con.unregister("g")
    con.close()
    return ctx


def test_profile_defaults_resolve_against_the_project_columns(tmp_path):
    cols = project_columns(_config(tmp_path))
    sap = load_profile("sap_s4_cockpit_customer")
    assert resolve_default(sap.main.field("NAMORG1"), cols) == (
        ("customer_name",),
        "when:customer_type=B2B|slice:0:40",
    )
    # @kind.extra candidates: the address field's parsed parts, then a city field (none here)
    assert resolve_default(sap.main.field("CITY1"), cols) == (("address_city",), "slice:0:40")
    assert resolve_default(sap.main.field("COUNTRY"), cols) == (("uscc_country",), "default:CN")
    assert resolve_default(sap.structure("tax").field("TAXNUM"), cols) == (("uscc",), "")
    assert resolve_default(sap.main.field("BU_GROUP"), cols) is None  # project-specific: no default
    u8 = load_profile("yonyou_u8_customer")
    assert resolve_default(u8.main.field("cCusAbbName"), cols) == (
        ("short_name", "customer_name_core", "customer_name"),
        "first_nonempty|slice:0:60",
    )
    assert resolve_default(u8.main.field("cCusExch_name"), cols) == ((), "constant:人民币")


def test_mapping_stage_and_draft_export_run_without_any_mapping_file(tmp_path):
    ctx = _run(tmp_path, {"profiles": ["sap_s4_cockpit_customer", "yonyou_u8_customer", "generic"]})
    report = review_mappings(ctx)  # does not fail: says what is missing
    m = report.metrics()
    assert not m["ready_for_export"] and m["default_mapped_profiles"] == [
        "sap_s4_cockpit_customer",
        "yonyou_u8_customer",
        "generic",
    ]
    assert any("value_mappings.csv" in f for f in m["missing_files"])
    assert m["mapped_fields"]["generic"] >= 15
    build_batch_plan(ctx)
    res = export_load_files(ctx)
    assert res.draft and {r.code for r in res.reasons} >= {
        "mapping_file_missing",
        "profile_defaults",
        "not_signed_off",
    }
    manifest = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "DRAFT" and manifest["draft_reasons"] == [r.as_dict() for r in res.reasons]
    assert all("__DRAFT." in f for f in res.files["file"])
    # every loadable master is in the draft files: mapping gaps leave cells empty, they do not reject
    con = ctx.connect()
    loadable = {
        r[0]
        for r in con.sql(
            "select master_id from batch_plan where batch not in ('excluded', 'deferred_dormant')"
        ).fetchall()
    }
    written = con.sql("select profile, master_id from load_rows").df()
    con.close()
    for name in ("sap_s4_cockpit_customer", "yonyou_u8_customer", "generic"):
        assert set(written.loc[written["profile"] == name, "master_id"]) == loadable, name
    gaps = res.gaps.set_index(["profile", "field"])
    assert gaps.loc[("sap_s4_cockpit_customer", "general.BU_GROUP"), "kind"] == "required_without_source"
    assert gaps.loc[("yonyou_u8_customer", "cCCCode"), "kind"] == "unmapped_value"  # no value mappings yet
    assert res.metrics()["draft_gap_cells"] == int(res.gaps["rows"].sum()) > 0
    u8 = load_profile("yonyou_u8_customer")
    f = next(
        ctx.paths.root / x for x in res.files.loc[res.files["kind"] == "customers", "file"] if "yonyou" in x
    )
    rows = read_load_file(f, u8)["customer"]
    assert rows["cCusName"].notna().all() and (rows["cCusExch_name"] == "人民币").all()


def _rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_scaffolds_are_prefilled_loadable_and_never_overwritten(tmp_path):
    config = _config(tmp_path, {"profiles": ["yonyou_u8_customer", "sap_s4_cockpit_customer"]})
    out = config.resolve("mappings")
    legacy = {"customer_class": ["01", "02", "09", "01"], "region_code": ["0101"], "industry": ["A", "B"]}
    written = write_mapping_scaffolds(config, out, legacy)
    assert [p.name for p in written] == [
        "field_mapping_yonyou_u8_customer.csv",
        "field_mapping_sap_s4_cockpit_customer.csv",
        "value_mappings.csv",
    ]
    u8 = _rows(out / "field_mapping_yonyou_u8_customer.csv")
    by = {r["target_field"]: r for r in u8}
    assert len(u8) == len(load_profile("yonyou_u8_customer").main.fields)  # every target field listed
    assert by["cCusName"]["source_field"] == "customer_name" and "REQUIRED" in by["cCusName"]["note"]
    assert by["cCCCode"]["transform"] == "value_map:u8_customer_class"
    assert by["cTrade"]["source_field"] == "" and by["cTrade"]["transform"] == ""  # unmapped, listed
    sap = {r["target_field"]: r for r in _rows(out / "field_mapping_sap_s4_cockpit_customer.csv")}
    # a value map whose legacy codes are unknown is suggested in the note, not written
    assert by["cCusCreGrade"]["transform"] == "" and "suggested: credit_rating" in by["cCusCreGrade"]["note"]
    assert sap["BU_GROUP"]["source_field"] == "" and sap["BU_GROUP"]["note"].startswith("REQUIRED: fill in")
    assert "general.KUNNR" in sap and "company.BUKRS" in sap  # ambiguous names are qualified
    values = pd.read_csv(out / "value_mappings.csv", dtype=str, keep_default_na=False)
    klass = values[values["map_name"] == "u8_customer_class"]
    assert klass["legacy_value"].tolist() == ["01", "02", "09"] and (klass["target_value"] == "").all()
    grade = values[values["map_name"] == "industry"]  # read by no target field yet: listed under its own name
    assert grade["legacy_value"].tolist() == ["A", "B"] and "no target field" in grade["note"].iloc[0]
    assert "u8_region" in set(values["map_name"])
    # the scaffolds load as they are: placeholders and codes to map are counted, not errors
    ms = load_mapping_set(config, load_project_profiles(config))
    assert not ms.complete and len(ms.pending_values) == len(values) and len(ms.placeholders) > 0
    assert "u8_customer_class" not in ms.value_maps.maps
    # never overwritten
    (out / "value_mappings.csv").write_text(
        "map_name,legacy_value,target_value,note\nx,1,2,mine\n", encoding="utf-8"
    )
    assert write_mapping_scaffolds(config, out, legacy) == []
    assert "mine" in (out / "value_mappings.csv").read_text(encoding="utf-8")


def test_review_workbook_goes_out_and_comes_back_into_the_mapping_files(tmp_path):
    ctx = _run(tmp_path)
    shutil.copytree(DEMO_MAPPINGS, ctx.config.resolve("mappings"))
    golden_cls = "77"  # a legacy code no value mapping has
    con = ctx.connect()
    con.execute(
        "update std_customers set customer_class = ? where customer_name like '%华瑞科技%'", [golden_cls]
    )
    con.close()
    report = review_mappings(ctx)
    path = write_mapping_review(ctx, report)
    wb = load_workbook(path)
    fields, values = wb["字段映射"], wb["值映射"]
    assert fields.freeze_panes == "A2" and values.freeze_panes == "A2"
    assert wb["填写说明"]["A1"].value.startswith("本工作簿")
    head = [c.value for c in values[1]]
    tv = head.index("target_value") + 1
    # every text cell is text; the editable columns are text-formatted
    assert all(
        c.data_type == "s"
        for row in fields.iter_rows(min_row=2)
        for c in row
        if c.value is not None and isinstance(c.value, str)
    )
    assert fields.cell(2, [c.value for c in fields[1]].index("source_field") + 1).number_format == "@"
    # dropdowns: the allowed credit grades on the u8_credit_grade rows, the project's columns on source_field
    dvs = values.data_validations.dataValidation
    grade_rows = [r for r in range(2, values.max_row + 1) if values.cell(r, 1).value == "u8_credit_grade"]
    assert any(
        dv.formula1 == '"A,B,C,D,E"' and f"{values.cell(grade_rows[0], tv).coordinate}" in str(dv.sqref)
        for dv in dvs
    )
    assert any("_lists" in (dv.formula1 or "") for dv in fields.data_validations.dataValidation)
    # the unmapped legacy code is listed for business to fill
    rows = {(values.cell(r, 1).value, values.cell(r, 2).value): r for r in range(2, values.max_row + 1)}
    new = rows[("u8_customer_class", golden_cls)]
    assert values.cell(new, head.index("status") + 1).value == "unmapped"
    # business edits: a new code, a changed code, a changed field mapping, a typed formula stays text
    values.cell(new, tv).value = "0201"
    values.cell(rows[("u8_credit_grade", "1")], tv).value = "B"
    fhead = [c.value for c in fields[1]]
    frow = next(
        r
        for r in range(2, fields.max_row + 1)
        if fields.cell(r, fhead.index("target_field") + 1).value == "cTrade"
    )
    fields.cell(frow, fhead.index("source_field") + 1).value = "customer_name_core"
    fields.cell(frow, fhead.index("transform") + 1).value = "slice:0:60"
    wb.save(path)
    back = read_mapping_review(path, ctx.config)
    assert sorted(p.name for p in back.written) == [
        "field_mapping_yonyou_u8_customer.csv",
        "value_mappings.csv",
    ]
    changes = back.changes
    assert len(changes) == 3 and set(changes["column"]) == {"(new line)", "target_value"}
    vm = ctx.project.value_mappings[0].read_text(encoding="utf-8-sig")
    assert "u8_credit_grade,1,B" in vm and f"u8_customer_class,{golden_cls},0201" in vm
    assert "# customer type → SAP BP grouping" in vm  # comment lines kept
    ms = load_mapping_set(ctx.config, load_project_profiles(ctx.config))
    line = next(ln for ln in ms.lines_for("yonyou_u8_customer") if ln.field == "cTrade")
    assert line.sources == ("customer_name_core",) and line.transform == "slice:0:60"
    assert ms.value_maps.maps["u8_customer_class"][golden_cls] == ["0201"]
    # reading the same workbook again changes nothing
    assert read_mapping_review(path, ctx.config).changes.empty


def test_a_formula_typed_into_the_review_workbook_is_refused(tmp_path):
    ctx = _run(tmp_path)
    shutil.copytree(DEMO_MAPPINGS, ctx.config.resolve("mappings"))
    path = write_mapping_review(ctx, review_mappings(ctx))
    wb = load_workbook(path)
    ws = wb["值映射"]
    ws.cell(2, [c.value for c in ws[1]].index("target_value") + 1).value = "=1+1"  # a formula cell
    wb.save(path)
    before = ctx.project.value_mappings[0].read_bytes()
    with pytest.raises(ReviewWorkbookError, match="holds a formula '=1\\+1'"):
        read_mapping_review(path, ctx.config)
    assert ctx.project.value_mappings[0].read_bytes() == before
