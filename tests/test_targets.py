"""Target profiles: the built-in files load, a project adds its own without code, errors are clear."""

from __future__ import annotations

import pytest
import yaml
from fixtures.export.helpers import make_run

from workbench.core.targets import (
    ProfileError,
    did_you_mean,
    list_profiles,
    load_profile,
    load_profile_file,
    load_project_profiles,
)

BUILTIN = ["generic", "kingdee_customer", "odoo_res_partner", "sap_s4_cockpit_customer", "yonyou_u8_customer"]


def test_builtin_profiles_load_and_say_how_reliable_they_are():
    assert [r.name for r in list_profiles()] == BUILTIN
    for name in BUILTIN:
        p = load_profile(name)
        assert "check" in p.reliability.lower()
        assert p.key_field in p.main.field_names
        assert any(f.required for f in p.main.fields)


def test_profile_formats():
    sap = load_profile("sap_s4_cockpit_customer")
    assert sap.file.type == "xml2003" and [h.row for h in sap.file.header_rows] == [1, 4, 5, 6, 7, 8]
    assert sap.file.hidden_rows == [4, 5, 6] and sap.file.data_start_row == 9
    assert [(h.row, h.content) for h in sap.file.header_rows if h.row in (5, 6, 8)] == [
        (5, "name"),
        (6, "tech_info"),
        (8, "label_description"),
    ]
    assert [s.sheet for s in sap.structures] == [
        "General Data",
        "BP Roles",
        "Company Data",
        "Withholding Tax Data",
        "Sales Data",
        "Output Tax",
        "Sales Partner",
        "Tax Numbers",
        "Bank Details",
    ]
    assert [i.sheet for i in sap.file.info_sheets] == ["Introduction", "Field List"]
    assert set(sap.file.document_properties) == {
        "APPLICATION",
        "OBJECT_NAME",
        "VERSION",
        "SYSTEM",
        "LANGUAGE",
    }
    u8 = load_profile("yonyou_u8_customer")
    assert u8.file.type == "xlsx" and u8.main.field("cCusCode").label == "客户编码"
    assert load_profile("kingdee_customer").file.encoding == "gbk"
    assert load_profile("generic").file.encoding == "utf-8-sig"
    assert load_profile("odoo_res_partner").file.encoding == "utf-8"


def test_resolve_field_qualified_and_ambiguous():
    sap = load_profile("sap_s4_cockpit_customer")
    s, f = sap.resolve_field("tax.TAXNUM")
    assert (s.id, f.length) == ("tax", 20)
    assert sap.resolve_field("BP_ROLE")[0].id == "roles"
    with pytest.raises(ProfileError, match="in several structures"):
        sap.resolve_field("KUNNR")
    with pytest.raises(ProfileError, match="did you mean 'TAXNUM'"):
        sap.resolve_field("TAXNUMM")


def _own_profile(tmp_path, **changes):
    raw = {
        "name": "acme_erp",
        "label": "ACME",
        "system": "ACME ERP 7",
        "reliability": "our own template v7; check it against each ACME release",
        "key_field": "CODE",
        "file": {
            "type": "csv",
            "encoding": "gbk",
            "header_rows": [{"row": 1, "content": "label"}],
            "data_start_row": 2,
        },
        "structures": [
            {
                "id": "main",
                "fields": [
                    {"name": "CODE", "label": "编码", "required": True, "length": 10},
                    {"name": "NAME", "label": "名称"},
                ],
            }
        ],
    }
    raw.update(changes)
    path = tmp_path / "acme_erp.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_project_adds_its_own_profile_by_config(tmp_path):
    path = _own_profile(tmp_path)
    ctx = make_run(tmp_path, export={"profiles": ["acme_erp", "generic"], "profile_paths": [str(path)]})
    profiles = load_project_profiles(ctx.config)
    assert list(profiles) == ["acme_erp", "generic"]
    assert profiles["acme_erp"].main.field("CODE").label == "编码"


def test_invalid_profile_lists_every_problem(tmp_path):
    path = _own_profile(
        tmp_path,
        key_field="KEY",
        structures=[
            {"id": "main", "explode": "ROLE", "fields": [{"name": "CODE"}]},
            {"id": "second", "fields": [{"name": "X", "allowed": []}]},
        ],
    )
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    msg = str(err.value)
    assert "acme_erp.yaml" in msg
    assert "exactly one structure" in msg
    assert "key_field 'KEY'" in msg
    assert "'ROLE' is not one of its fields" in msg


def test_unknown_profile_name_suggests(tmp_path):
    with pytest.raises(ProfileError, match="did you mean 'generic'"):
        load_profile("generik")


def test_did_you_mean_names_the_closest_option_only_when_close():
    assert did_you_mean("KUNR", ["KUNNR", "NAME1"]) == " (did you mean 'KUNNR'?)"
    assert did_you_mean("zzz", ["KUNNR", "NAME1"]) == ""
    assert did_you_mean("x", []) == ""


def test_profiles_keep_their_sourcing_and_flag_what_is_not_confirmed():
    for name in BUILTIN:
        p = load_profile(name)
        assert p.facts, name
        assert all(f.source for f in p.facts if f.status == "confirmed"), name
    sap = load_profile("sap_s4_cockpit_customer")
    unconfirmed = " ".join(f.fact for f in sap.notes())
    assert "VERSION" in unconfirmed and "REGION" in unconfirmed and "row 1" in unconfirmed
    u8 = load_profile("yonyou_u8_customer")
    assert [c.id for c in u8.code_lists] == ["customer_classes", "regions", "currencies"]
    for f in ("cCusExch_name", "cCusMngTypeCode", "cCCCode", "dCusDevDate", "cCusAbbName"):
        assert u8.main.field(f).required, f
    assert not u8.main.field("cCusExch_name").confirmed  # its caption is not confirmed
    kd = load_profile("kingdee_customer")
    assert [c.from_field for c in kd.code_lists] == ["FCustTypeId", "FPROVINCIAL", "FTRADINGCURRID"]


def test_code_list_and_layout_mistakes_are_listed(tmp_path):
    path = _own_profile(
        tmp_path,
        file={
            "type": "csv",
            "header_rows": [{"row": 1, "content": "name", "hidden": True}],
            "data_start_row": 2,
        },
        code_lists=[
            {
                "id": "classes",
                "label": "classes",
                "from_field": "NOPE",
                "code_field": "C",
                "name_field": "N",
                "fields": [{"name": "C"}],
            }
        ],
    )
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    msg = str(err.value)
    assert "no sheets and no hidden rows" in msg
    path = _own_profile(
        tmp_path,
        code_lists=[
            {
                "id": "classes",
                "label": "classes",
                "from_field": "NOPE",
                "code_field": "C",
                "name_field": "N",
                "fields": [{"name": "C"}],
            }
        ],
    )
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    msg = str(err.value)
    assert "code_lists.classes.from_field: 'NOPE' is not a field of the profile" in msg
    assert "code_lists.classes.name_field: 'N' is not one of its fields" in msg
