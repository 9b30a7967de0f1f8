"""Mapping tables: transforms, version hash, sign-off, coverage report, review workbook."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from fixtures.export.helpers import DEMO_MAPPINGS, make_run, read_golden
from openpyxl import load_workbook

from workbench.core.mapping import (
    ApprovalError,
    MappingError,
    MappingNotApprovedError,
    ValueMaps,
    apply_line,
    approve_mappings,
    check_approval,
    compute_coverage,
    coverage_issues,
    load_mapping_files,
    load_mapping_set,
    parse_transform,
    project_sign_off,
    read_approvals,
    review_mappings,
    signoff_hash,
)
from workbench.core.targets import load_profile, load_project_profiles
from workbench.core.targets.profiles import BUILTIN_DIR
from workbench.presentation.workbooks.mapping_review import SHEETS, review_sheets, write_mapping_review
from workbench.project.settings.export import ExportSettings

DEFAULT = ExportSettings().profiles


def _profiles(names=DEFAULT):
    return {n: load_profile(n) for n in names}


def _load(folder, names=DEFAULT):
    return load_mapping_files(
        {n: folder / f"field_mapping_{n}.csv" for n in names},
        [folder / "value_mappings.csv"],
        _profiles(names),
    )


def _line(tmp_path, target, source, transform, values=""):
    (tmp_path / "vm.csv").write_text("map_name,legacy_value,target_value,note\n" + values, encoding="utf-8")
    (tmp_path / "fm.csv").write_text(
        f"target_profile,target_field,source_field,transform,note\ngeneric,{target},{source},{transform},\n",
        encoding="utf-8",
    )
    ms = load_mapping_files({"generic": tmp_path / "fm.csv"}, [tmp_path / "vm.csv"], _profiles(["generic"]))
    return ms.lines["generic"][0], ms.value_maps


def _apply(tmp_path, frame, target, source, transform, values=""):
    line, vm = _line(tmp_path, target, source, transform, values)
    res = apply_line(line, frame, vm)
    return list(res.values), list(res.issues)


def test_shipped_demo_mappings_are_approved(tmp_path):
    # every shipped field mapping file is valid against its profile
    _load(DEMO_MAPPINGS)
    _load(DEMO_MAPPINGS, ["generic", "kingdee_customer", "odoo_res_partner"])
    # the demo's approvals sign exactly the demo's inputs (mappings, built-in profiles, batch rules),
    # one approval per required role, recorded by approve_mappings
    ctx = make_run(tmp_path)
    status = project_sign_off(ctx.config, load_project_profiles(ctx.config))
    assert status.approved, status.problem
    assert sorted(status.signed["role"]) == ["business", "it"] and status.refused.empty


def test_transforms(tmp_path):
    f = pd.DataFrame(
        {"a": ["01", "02", None, "x"], "b": ["B", None, "C", "D"], "t": ["B2B", "B2C", "B2B", "B2B"]}
    )
    vals = "m,01,A,\nm,02,B,\n"
    assert _apply(tmp_path, f, "credit_rating", "a", "value_map:m", vals) == (
        ["A", "B", None, None],
        [None, None, None, "unmapped value 'x' in value map 'm' (source a)"],
    )
    assert _apply(tmp_path, f, "credit_rating", "a", "value_map:m", vals + "m,*,Z,\n")[0] == [
        "A",
        "B",
        None,
        "Z",
    ]
    assert _apply(tmp_path, f, "address", "a+b", "concat:-")[0] == ["01-B", "02", "C", "x-D"]
    assert _apply(tmp_path, f, "address", "a+b", "first_nonempty")[0] == ["01", "02", "C", "x"]
    assert _apply(tmp_path, f, "address", "b", "when:t=B2B|lower")[0] == ["b", None, "c", "d"]
    assert _apply(tmp_path, f, "address", "b", "default:-|when:t!=B2B")[0] == [None, "-", None, None]
    assert _apply(tmp_path, f, "address", "", "constant:CN")[0] == ["CN"] * 4
    d = pd.DataFrame({"d": ["2021/3/5", "2021-03-05", None, "junk"]})
    v, i = _apply(tmp_path, d, "created_date", "d", "date:%Y%m%d")
    assert v == ["20210305", "20210305", None, None] and i[3] == "not a date: junk"
    p = pd.DataFrame({"p": ["+8613800138000", "+862162345678", "+4930123456"]})
    assert _apply(tmp_path, p, "mobile", "p", "phone:national")[0] == [
        "13800138000",
        "02162345678",
        "030123456",
    ]
    s = pd.DataFrame({"s": ["abcdefgh"]})
    assert _apply(tmp_path, s, "address", "s", "slice:2:5|upper")[0] == ["CDE"]
    b = pd.DataFrame({"b": [True, False, None]})
    assert _apply(tmp_path, b, "address", "b", "bool:X/")[0] == ["X", None, None]


def test_bad_transform_and_unknown_fields_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'value_map'"):
        parse_transform("valuemap:x")
    (tmp_path / "vm.csv").write_text("map_name,legacy_value,target_value,note\nm,1,A,\n", encoding="utf-8")
    (tmp_path / "fm.csv").write_text(
        "target_profile,target_field,source_field,transform,note\n"
        "generic,customer_nam,customer_name,,typo\n"
        "generic,credit_rating,credit_rating,value_map:nope,\n"
        "generic,address,address,,\n"
        "generic,address,address,upper,twice\n"
        "generic,tax_id,a+b,copy,\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as err:
        load_mapping_files({"generic": tmp_path / "fm.csv"}, [tmp_path / "vm.csv"], _profiles(["generic"]))
    p = err.value.problems
    assert len(p) == 4
    assert "fm.csv, line 2" in p[0] and "did you mean 'customer_name'" in p[0]
    assert "line 3" in p[1] and "'nope'" in p[1]
    assert "line 5" in p[2] and "already mapped on line 4" in p[2]
    assert "line 6" in p[3] and "concat" in p[3]


def test_version_ignores_order_notes_and_bom_but_not_content(tmp_path):
    base = _load(DEMO_MAPPINGS).version
    folder = tmp_path / "m"
    shutil.copytree(DEMO_MAPPINGS, folder)
    fm = folder / "field_mapping_yonyou_u8_customer.csv"
    lines = fm.read_text(encoding="utf-8-sig").splitlines()
    reordered = [lines[0], *reversed(lines[1:])]
    reordered = [ln.replace("客户编码 = 主数据编号", "another note") for ln in reordered]
    fm.write_text("\n".join(reordered) + "\n\n", encoding="utf-8")  # no BOM, blank line at the end
    assert _load(folder).version == base
    vm = folder / "value_mappings.csv"
    vm.write_text(
        vm.read_text(encoding="utf-8-sig").replace("u8_credit_grade,1,A", "u8_credit_grade,1,B"),
        encoding="utf-8",
    )
    assert _load(folder).version != base


def _approved_run(tmp_path, **export):
    ctx = make_run(tmp_path, export=export or None)
    return ctx, load_project_profiles(ctx.config)


def _status(ctx):
    return project_sign_off(ctx.config, load_project_profiles(ctx.config))


def test_a_changed_input_voids_the_sign_off_and_the_refusal_names_it(tmp_path):
    ctx, _profiles_ = _approved_run(tmp_path)
    assert _status(ctx).approved
    # a reordered, re-noted mapping file is the same input
    fm = ctx.project.field_mapping("yonyou_u8_customer")
    lines = fm.read_text(encoding="utf-8-sig").splitlines()
    fm.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    assert _status(ctx).approved
    # a changed value mapping voids it and the refusal says which file
    vm = ctx.project.value_mappings[0]
    vm.write_text(
        vm.read_text(encoding="utf-8-sig").replace("u8_credit_grade,5,E", "u8_credit_grade,5,D"),
        encoding="utf-8",
    )
    status = _status(ctx)
    assert not status.approved and [i.key for i in status.changed] == ["value_mappings:value_mappings.csv"]
    assert "value_mappings:value_mappings.csv" in status.problem and str(vm) in status.problem
    with pytest.raises(MappingNotApprovedError, match="value_mappings.csv"):
        check_approval(status)


def test_the_sign_off_covers_profiles_fixes_and_batch_rules(tmp_path):
    # a project copy of a built-in profile with one length changed: the profile in use changed
    own = tmp_path / "project" / "profiles" / "yonyou_u8_customer.yaml"
    own.parent.mkdir(parents=True)
    text = (BUILTIN_DIR / "yonyou_u8_customer.yaml").read_text(encoding="utf-8")
    own.write_text(text, encoding="utf-8")
    ctx, _ = _approved_run(tmp_path, profile_paths=["profiles/yonyou_u8_customer.yaml"])
    assert _status(ctx).approved  # same content as the built-in profile that was signed
    own.write_text(
        text.replace(
            "{name: cCusName, label: 客户名称, length: 98", "{name: cCusName, label: 客户名称, length: 60"
        ),
        encoding="utf-8",
    )
    status = _status(ctx)
    assert not status.approved and [i.key for i in status.changed] == ["profile:yonyou_u8_customer"]
    assert str(own) in status.problem
    own.unlink()
    # the fixes file
    ctx2 = make_run(tmp_path / "b")
    fixes = ctx2.config.resolve("fixes.csv")
    fixes.write_text(
        "source,source_id,field,value,reason,fixed_by,fixed_at\nerp,C1,region_code,0101,,,\n",
        encoding="utf-8",
    )
    assert [i.key for i in _status(ctx2).changed] == ["fixes"]
    # who fixed and when is not what decides the load
    fixes.write_text(
        "source,source_id,field,value,reason,fixed_by,fixed_at\nerp,C1,region_code,0101,x,Li,2026-11-02\n",
        encoding="utf-8",
    )
    assert [i.key for i in _status(ctx2).changed] == ["fixes"]
    fixes.unlink()
    assert _status(ctx2).approved
    # the batch plan rules
    ctx3 = make_run(tmp_path / "c", export={"batches": {"top_revenue_n": 10}})
    assert [i.key for i in _status(ctx3).changed] == ["batch_rules"]


def test_approve_records_role_name_hash_and_per_input_hashes(tmp_path, monkeypatch):
    ctx = make_run(tmp_path)
    ctx.project.approvals.unlink()
    status = _status(ctx)
    assert not status.approved and "nothing has been approved yet" in status.problem
    monkeypatch.setattr("getpass.getuser", lambda: "lilei")
    row = approve_mappings(ctx.config, "business", comment="workshop 3", approved_at="2026-10-01T09:00:00")
    assert row[["approved_by", "role", "approved_at"]].values.tolist() == [
        ["lilei", "business", "2026-10-01T09:00:00"]
    ]
    inputs = json.loads(row["inputs"].iloc[0])
    assert (
        set(inputs) == {i.key for i in status.inputs} and signoff_hash(inputs) == row["signoff_hash"].iloc[0]
    )
    one = _status(ctx)
    assert not one.approved and one.missing_roles == ["it"] and "roles ['it']" in one.problem
    approve_mappings(ctx.config, "IT", name="Han Meimei")
    both = _status(ctx)
    assert both.approved and sorted(both.signed["approved_by"]) == ["Han Meimei", "lilei"]
    with pytest.raises(ApprovalError, match="role 'boss' is not one of"):
        approve_mappings(ctx.config, "boss", name="x")
    with pytest.raises(ApprovalError, match="role '' is not one of"):
        approve_mappings(ctx.config, "", name="x")


def test_role_less_unknown_role_and_hand_written_approvals_are_refused(tmp_path):
    ctx = make_run(tmp_path)
    path = ctx.project.approvals
    path.unlink()
    approve_mappings(ctx.config, "business", name="Li")
    current = _status(ctx).hash
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{current},Anyone,,2026-11-01T00:00:00,,\n")  # the hash from the refusal, no role
        fh.write(f"{current},Boss,boss,2026-11-01T00:00:00,,\n")  # unknown role
        fh.write(f"{current},Wang,it,2026-11-01T00:00:00,,\n")  # by hand: no inputs
    status = _status(ctx)
    assert not status.approved and status.missing_roles == ["it"]
    assert status.refused["why"].tolist() == [
        "no role",
        "role 'boss' is not one of ['business', 'it']",
        "not recorded by `workbench approve` (its inputs do not give its hash)",
    ]
    assert "refused approval lines: line 3 (Anyone): no role" in status.problem
    # with no required roles, one valid approval is enough (and a refused one still does not count)
    ctx2 = make_run(tmp_path / "b", export={"required_approval_roles": []})
    ctx2.project.approvals.write_text(
        path.read_text(encoding="utf-8-sig").splitlines()[0] + "\n", encoding="utf-8"
    )
    with ctx2.project.approvals.open("a", encoding="utf-8") as fh:
        fh.write(f"{current},Anyone,,2026-11-01T00:00:00,,\n")
    assert not _status(ctx2).approved
    approve_mappings(ctx2.config, "it", name="Wang")
    assert _status(ctx2).approved


def test_former_approvals_layout_is_read_and_refused(tmp_path):
    ctx = make_run(tmp_path)
    ctx.project.approvals.write_text(
        "mapping_version,approved_by,role,approved_at,comment\nabc,Li,business,2026-10-01T00:00:00,\n",
        encoding="utf-8",
    )
    status = _status(ctx)
    assert not status.approved and status.refused["why"].iloc[0].startswith("not recorded")
    assert read_approvals(ctx.project.approvals)["signoff_hash"].tolist() == ["abc"]


def test_approving_incomplete_mappings_is_refused(tmp_path):
    ctx = make_run(tmp_path)
    ctx.project.field_mapping("yonyou_u8_customer").unlink()
    with pytest.raises(ApprovalError, match="not complete.*field_mapping_yonyou_u8_customer.csv"):
        approve_mappings(ctx.config, "it", name="Wang")


def test_coverage_report(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(DEMO_MAPPINGS, folder)
    vm = folder / "value_mappings.csv"
    vm.write_text(
        vm.read_text(encoding="utf-8-sig")
        + "u8_credit_grade,9,Z,not a U8 grade\nu8_region,0101,99,conflict\n",
        encoding="utf-8",
    )
    fm = folder / "field_mapping_yonyou_u8_customer.csv"
    fm.write_text(
        "\n".join(ln for ln in fm.read_text(encoding="utf-8-sig").splitlines() if ",cCusName," not in ln),
        encoding="utf-8",
    )
    ms = _load(folder)
    records = read_golden()
    records.loc[records["master_id"].isin(["M000001", "M000002"]), "customer_class"] = "77"
    cov = compute_coverage(records, _profiles(), ms)
    u = cov.unmapped_values
    # one legacy value with its count, once per target field that maps it
    assert set(u["map_name"]) == {"u8_customer_class", "sap_customer_classification", "sap_customer_group"}
    assert (u["legacy_value"] == "77").all() and (u["count"] == 2).all()
    assert cov.required_without_source[["profile", "target_field"]].values.tolist() == [
        ["yonyou_u8_customer", "cCusName"]
    ]
    bad = cov.not_in_picklist
    assert bad[["target_field", "legacy_value", "target_value"]].values.tolist() == [
        ["cCusCreGrade", "9", "Z"]
    ]
    assert cov.conflicts[["map_name", "legacy_value", "target_values"]].values.tolist() == [
        ["u8_region", "0101", "1101 | 99"]
    ]
    assert not cov.ok and cov.blocking["unmapped_values"] == 3
    # the flat issue table: one row per issue, the parts in report order
    without_uscc = compute_coverage(records.drop(columns=["uscc"]), _profiles(), ms)
    flat = coverage_issues(without_uscc)
    assert list(flat.columns) == ["kind", "profile", "target_field", "detail", "count"]
    assert list(dict.fromkeys(flat["kind"])) == [
        "unmapped_value",
        "required_without_source",
        "not_in_picklist",
        "conflict",
        "unknown_source",
        "required_empty (rows rejected at export)",
    ]
    rows = [tuple(r) for r in flat.drop(columns="detail").itertuples(index=False)]
    assert rows[0] == ("unmapped_value", "sap_s4_cockpit_customer", "general.KUKLA", 2)
    assert rows[5] == ("conflict", "", "u8_region", 2)
    assert flat["detail"].iloc[4] == "Z ∉ {A; B; C; D; E}"
    assert flat["detail"].iloc[6].startswith("uscc (") and flat["count"].iloc[6] == 0
    assert list(flat["count"].iloc[-1:]) == [1]
    # with no profiles only the value maps' own conflicts are left
    assert coverage_issues(compute_coverage(records.iloc[:0], {}, ms))["kind"].tolist() == ["conflict"]


def test_mapping_stage_writes_review_workbook(tmp_path):
    golden = read_golden()
    golden.loc[golden["master_id"] == "M000003", "region_code"] = "42"  # injected unmapped code
    ctx = make_run(tmp_path, golden=golden)
    con = ctx.connect()
    con.execute(
        "create table std_customers as select * exclude (master_id, parent_master_id) from golden_customers"
    )
    con.close()
    rep = review_mappings(ctx)
    assert rep.approved
    assert rep.coverage.unmapped_values[["map_name", "legacy_value", "count"]].values.tolist() == [
        ["u8_region", "42", 1]
    ]
    assert rep.metrics()["coverage_unmapped_values"] == 1
    workbook = write_mapping_review(ctx, rep)
    assert workbook == ctx.paths.tables / "mapping_review.xlsx"
    sheets = review_sheets(rep, "en")
    assert list(sheets) == list(SHEETS["en"])
    assert sheets["summary"].iloc[2].tolist() == ["approved", "yes"]
    assert list(sheets["approvals"]["approved_by"]) == list(rep.sign_off.approvals["approved_by"])
    wb = load_workbook(workbook, read_only=True)
    assert wb.sheetnames[:5] == ["填写说明", "概要", "字段映射", "值映射", "未映射的值"]
    rows = list(wb["未映射的值"].iter_rows(values_only=True))
    assert rows[1][-2:] == ("42", 1)
    con = ctx.connect()
    stored = con.sql(
        "select kind, detail, count from mapping_coverage where kind = 'unmapped_value'"
    ).fetchall()
    con.close()
    assert stored == [("unmapped_value", "u8_region: 42", 1)]
    # the same code blocks the export (see test_export for the non-draft refusal)
    ms = load_mapping_set(ctx.config, rep.profiles)
    assert ms.version == rep.mapping.version


def test_value_maps_conflicts_listing():
    vm = ValueMaps.from_frame(
        pd.DataFrame(
            {"map_name": ["m", "m", "m"], "legacy_value": ["1", "1", "2"], "target_value": ["A", "B", "A"]}
        )
    )
    assert vm.conflicts()[["legacy_value", "targets"]].values.tolist() == [["1", 2]]
