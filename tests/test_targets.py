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
    assert sap.file.type == "xml2003" and [h.row for h in sap.file.header_rows] == [5, 6, 8]
    assert sap.file.data_start_row == 9
    assert [s.sheet for s in sap.structures] == [
        "General Data",
        "BP Roles",
        "Company Data",
        "Sales Data",
        "Tax Numbers",
    ]
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
