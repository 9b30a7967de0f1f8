"""Golden records: survivorship rules, provenance, parent relation, activity, match type."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.core.golden.survivorship import (
    SurvivorshipError,
    build_golden_tables,
    plan_fields,
    resolve_parent_field,
)
from workbench.engine.connection import connect
from workbench.engine.sql import ident
from workbench.project.config import ColumnSpec, parse_config

FIELDS = {
    "customer_id": "id",
    "customer_name": "customer_name",
    "contact_name": "person_name",
    "mobile": "phone",
    "email": "email",
    "uscc": "tax_id",
    "address": "address",
    "parent_code": "id",
    "last_modified": "date",
    "blacklist": "flag",
}
EXTRAS = {
    "customer_name": ["core", "legal_form"],
    "mobile": ["e164", "last8"],
    "email": ["domain"],
    "address": ["province", "city", "detail"],
}


def make_config(survivorship: dict | None = None, sources: tuple[str, ...] = ("erp", "crm")):
    columns = {f.upper(): {"field": f, "kind": k} for f, k in FIELDS.items()}
    raw: dict[str, Any] = {
        "project": {"name": "t"},
        "sources": [
            {"name": s, "path": f"{s}.csv", "id_column": "CUSTOMER_ID", "columns": columns} for s in sources
        ],
    }
    if survivorship is not None:
        raw["survivorship"] = survivorship
    return parse_config(raw, Path("/tmp/wb/workbench.yaml"), check_files=False)


def std_row(record_key: str, **values: Any) -> dict[str, Any]:
    """One std_customers row; fields not given are NULL, given fields are valid unless `<f>_valid`."""
    source, row = record_key.split(":")
    out: dict[str, Any] = {
        "record_key": record_key,
        "_source": source,
        "_row_number": int(row),
        "_row_hash": "h" + record_key,
        "source_id": values.pop("source_id", f"{source.upper()}{row}"),
    }
    for f in FIELDS:
        v = values.pop(f, None)
        out[f"{f}_raw"] = None if v is None else str(v)
        out[f] = v
        out[f"{f}_valid"] = values.pop(f"{f}_valid", None if v is None else True)
        out[f"{f}_issue"] = None
        for x in EXTRAS.get(f, []):
            out[f"{f}_{x}"] = values.pop(f"{f}_{x}", None)
    out["customer_type"] = values.pop("customer_type", "B2B")
    out["record_status"] = values.pop("record_status", "active")
    out["is_test"] = values.pop("is_test", False)
    out["is_stale"] = values.pop("is_stale", False)
    out["last_activity_date"] = values.pop("last_activity_date", None)
    out["activity_amount_12m"] = values.pop("activity_amount_12m", None)
    out["activity_amount_total"] = values.pop("activity_amount_total", None)
    out["flags"] = None
    assert not values, f"unknown keys {values}"
    return out


def load(con, rows: list[dict], masters: dict[str, str], pairs: list[tuple] | None = None) -> None:
    std = pd.DataFrame(rows)
    for c in ("last_modified", "last_activity_date"):
        std[c] = pd.to_datetime(std[c]).dt.date
    std["blacklist"] = std["blacklist"].astype("boolean")
    std["activity_amount_12m"] = std["activity_amount_12m"].astype("float64")
    std["activity_amount_total"] = std["activity_amount_total"].astype("float64")
    con.register("std_df", std)
    con.execute("CREATE OR REPLACE TABLE std_customers AS SELECT * FROM std_df")
    con.unregister("std_df")
    cw = pd.DataFrame(
        [
            {
                "source": r["_source"],
                "source_id": r["source_id"],
                "record_key": r["record_key"],
                "master_id": masters[r["record_key"]],
                "match_probability": 1.0,
                "match_reason": "model",
            }
            for r in rows
        ]
    )
    con.register("cw_df", cw)
    con.execute("CREATE OR REPLACE TABLE crosswalk AS SELECT * FROM cw_df")
    con.unregister("cw_df")
    if pairs is not None:
        mp = pd.DataFrame(
            pairs,
            columns=[
                "record_key_l",
                "record_key_r",
                "match_probability",
                "match_weight",
                "match_reason",
                "decision",
            ],
        )
        con.register("mp_df", mp)
        con.execute("CREATE OR REPLACE TABLE match_pairs AS SELECT * FROM mp_df")
        con.unregister("mp_df")


def golden(con) -> dict[str, dict[str, Any]]:
    df = con.sql("SELECT * FROM golden_customers ORDER BY master_id").df()
    return {r["master_id"]: r for r in df.to_dict("records")}


def provenance(con) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "SELECT master_id, field, value, record_key, source, rule FROM golden_provenance"
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


@pytest.fixture
def con():
    c = connect()
    yield c
    c.close()


def test_source_priority_and_valid_value_pick_the_name(con):
    rows = [
        std_row("erp:2", customer_name="华瑞科技有限公司", customer_name_core="华瑞科技"),
        std_row("crm:2", customer_name="Huarui Technology Co., Ltd.", customer_name_core="huarui technology"),
        # M2: the ERP name is invalid, so the CRM name wins although ERP comes first
        std_row("erp:3", customer_name="涓婃捣", customer_name_valid=False, customer_name_core="涓婃捣"),
        std_row("crm:3", customer_name="上海华瑞", customer_name_core="华瑞"),
    ]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1", "erp:3": "M2", "crm:3": "M2"})
    build_golden_tables(con, make_config())
    g, p = golden(con), provenance(con)
    assert g["M1"]["customer_name"] == "华瑞科技有限公司"
    assert g["M1"]["customer_name_core"] == "华瑞科技"  # extras come with the value
    assert p[("M1", "customer_name")] == ("华瑞科技有限公司", "erp:2", "erp", "source_priority")
    assert g["M2"]["customer_name"] == "上海华瑞"
    assert g["M2"]["customer_name_core"] == "华瑞"
    assert p[("M2", "customer_name")][1:] == ("crm:3", "crm", "valid_value")


def test_configured_source_priority_reverses_the_choice(con):
    rows = [std_row("erp:2", customer_name="甲公司"), std_row("crm:2", customer_name="乙公司")]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1"})
    build_golden_tables(con, make_config({"source_priority": ["crm", "erp"]}))
    assert golden(con)["M1"]["customer_name"] == "乙公司"


def test_most_recent_phone_with_its_extras(con):
    rows = [
        std_row(
            "erp:2",
            mobile="+8613800138000",
            mobile_e164="+8613800138000",
            mobile_last8="00138000",
            last_modified="2020-01-01",
        ),
        std_row(
            "crm:2",
            mobile="+8613912345678",
            mobile_e164="+8613912345678",
            mobile_last8="12345678",
            last_modified="2024-05-01",
        ),
        std_row("crm:3", mobile=None, last_modified="2025-01-01"),
    ]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1", "crm:3": "M1"})
    build_golden_tables(con, make_config())
    g = golden(con)["M1"]
    assert (g["mobile"], g["mobile_e164"], g["mobile_last8"]) == (
        "+8613912345678",
        "+8613912345678",
        "12345678",
    )
    assert provenance(con)[("M1", "mobile")] == ("+8613912345678", "crm:2", "crm", "most_recent")


def test_most_complete_address_and_most_frequent_uscc(con):
    uscc_a, uscc_b = "91310000MA1FL8TQ3X", "91440300MA5DC1234Y"
    rows = [
        std_row(
            "erp:2",
            address="上海市浦东新区张江路1号",
            address_province="上海市",
            address_city="上海市",
            address_detail="张江路1号",
            uscc=uscc_b,
        ),
        std_row("crm:2", address="张江路1号", address_detail="张江路1号", uscc=uscc_a),
        std_row(
            "crm:3", address="浦东张江路1号", address_city="上海市", address_detail="张江路1号", uscc=uscc_a
        ),
    ]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1", "crm:3": "M1"})
    build_golden_tables(con, make_config())
    g, p = golden(con)["M1"], provenance(con)
    assert g["address"] == "上海市浦东新区张江路1号" and g["address_province"] == "上海市"
    assert p[("M1", "address")][3] == "most_complete"
    assert g["uscc"] == uscc_a
    # the two crm rows agree; the earlier record_key of the two wins the tie
    assert p[("M1", "uscc")] == (uscc_a, "crm:2", "crm", "most_frequent")


def test_any_true_flag_and_tie_break_by_record_key(con):
    rows = [
        std_row("erp:5", blacklist=False, email="a@x.cn"),
        std_row("erp:4", blacklist=True, email="b@x.cn"),
        std_row("erp:6", blacklist=False, email="c@x.cn"),
    ]
    load(con, rows, {"erp:5": "M1", "erp:4": "M1", "erp:6": "M1"})
    build_golden_tables(con, make_config())
    g, p = golden(con)["M1"], provenance(con)
    assert bool(g["blacklist"]) is True
    assert p[("M1", "blacklist")] == ("true", "erp:4", "erp", "any_true")
    # every rule ties on the e-mail (same source, no dates, same completeness and length)
    assert p[("M1", "email")] == ("b@x.cn", "erp:4", "erp", "record_key")
    assert g["email"] == "b@x.cn"


def test_per_field_rules_from_config(con):
    rows = [
        std_row("erp:2", email="long.name@company.com", last_modified="2020-01-01"),
        std_row("crm:2", email="x@y.cn", last_modified="2024-01-01"),
    ]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1"})
    build_golden_tables(con, make_config({"fields": {"email": ["most_complete"]}}))
    assert golden(con)["M1"]["email"] == "long.name@company.com"
    build_golden_tables(con, make_config())  # default for e-mail: most recent
    assert golden(con)["M1"]["email"] == "x@y.cn"


def test_parent_relation_through_the_crosswalk(con):
    rows = [
        std_row("erp:2", source_id="C001", customer_name="华瑞集团有限公司"),
        std_row("erp:3", source_id="C002", customer_name="华瑞集团有限公司北京分公司", parent_code="C001"),
        std_row(
            "crm:2", source_id="A9", customer_name="华瑞(深圳)电子有限公司", parent_code="C001"
        ),  # other source
        std_row("erp:4", source_id="C003", customer_name="华瑞电子", parent_code="C999"),  # no such row
        std_row(
            "erp:5", source_id="C004", customer_name="华瑞集团", parent_code="C001"
        ),  # merged into parent
    ]
    load(con, rows, {"erp:2": "M1", "erp:5": "M1", "erp:3": "M2", "crm:2": "M3", "erp:4": "M4"})
    result = build_golden_tables(con, make_config())
    g = golden(con)
    assert result.parent_field == "parent_code"
    assert g["M2"]["parent_master_id"] == "M1"
    assert pd.isna(g["M1"]["parent_master_id"])  # a reference into its own master is not a parent
    assert pd.isna(g["M3"]["parent_master_id"])  # crm has no row C001
    assert pd.isna(g["M4"]["parent_master_id"])
    assert result.parent_links == 1
    assert result.parent_refs == 4 and result.parent_refs_unresolved == 2
    assert provenance(con)[("M2", "parent_master_id")] == ("M1", "erp:3", "erp", "parent_reference")


def test_masters_naming_each_other_as_parent_keep_no_link(con):
    rows = [
        std_row("erp:2", source_id="C1", parent_code="C2"),
        std_row("erp:3", source_id="C2", parent_code="C1"),
        std_row("erp:4", source_id="C3", parent_code="C1"),
    ]
    load(con, rows, {"erp:2": "M1", "erp:3": "M2", "erp:4": "M3"})
    result = build_golden_tables(con, make_config())
    g = golden(con)
    assert pd.isna(g["M1"]["parent_master_id"]) and pd.isna(g["M2"]["parent_master_id"])
    assert g["M3"]["parent_master_id"] == "M1"
    assert result.parent_cycles_dropped == 2 and result.parent_links == 1
    assert not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE starts_with(table_name, '__wb_')"
    ).fetchall()[0][0]


def test_parent_field_auto_and_off():
    assert resolve_parent_field(make_config()) == "parent_code"
    assert resolve_parent_field(make_config({"parent_field": None})) is None
    with pytest.raises(SurvivorshipError, match="parent_cod"):
        resolve_parent_field(make_config({"parent_field": "parent_cod"}))


def test_activity_is_summed_once_per_source_account(con):
    rows = [
        # two ERP rows with the same customer code carry the same activity: count it once
        std_row(
            "erp:2",
            source_id="C1",
            last_activity_date="2026-01-01",
            activity_amount_12m=100.0,
            activity_amount_total=500.0,
        ),
        std_row(
            "erp:3",
            source_id="C1",
            last_activity_date="2026-01-01",
            activity_amount_12m=100.0,
            activity_amount_total=500.0,
        ),
        std_row(
            "erp:4",
            source_id="C2",
            last_activity_date="2026-03-01",
            activity_amount_12m=50.0,
            activity_amount_total=50.0,
        ),
        std_row("crm:2"),
    ]
    load(con, rows, {k: "M1" for k in ("erp:2", "erp:3", "erp:4", "crm:2")})
    build_golden_tables(con, make_config())
    g, p = golden(con)["M1"], provenance(con)
    assert g["activity_amount_12m"] == 150.0 and g["activity_amount_total"] == 550.0
    assert pd.Timestamp(g["last_activity_date"]).date() == dt.date(2026, 3, 1)
    assert p[("M1", "last_activity_date")] == ("2026-03-01", "erp:4", "erp", "max")
    assert p[("M1", "activity_amount_12m")] == ("150.0", "erp:2;erp:3;erp:4", "erp", "sum")


def test_match_type_members_sources_and_flags(con):
    rows = [
        std_row("erp:2", customer_name="甲"),
        std_row("crm:2", customer_name="甲"),
        # the ERP (first in source priority) knows the customer is deregistered; the newer CRM row does not
        std_row("erp:3", customer_name="乙", record_status="deregistered"),
        std_row("crm:3", customer_name="乙", last_modified="2025-06-01"),
        std_row("erp:4", customer_name="测试客户", is_test=True),
        std_row("erp:5", customer_name=None, contact_name="张伟", record_status="unknown"),
        std_row("crm:5", customer_name=None, record_status="revoked", last_modified="2025-01-01"),
    ]
    masters = {
        "erp:2": "M1",
        "crm:2": "M1",
        "erp:3": "M2",
        "crm:3": "M2",
        "erp:4": "M3",
        "erp:5": "M4",
        "crm:5": "M4",
    }
    pairs = [
        ("crm:2", "erp:2", 0.99, 9.0, "model", "match"),
        ("crm:3", "erp:3", 1.0, None, "review:match", "match"),
        ("crm:5", "erp:5", 0.9, 4.0, "model", "match"),
    ]
    load(con, rows, masters, pairs)
    result = build_golden_tables(con, make_config())
    g = golden(con)
    assert [g[m]["match_type"] for m in ("M1", "M2", "M3", "M4")] == [
        "merged",
        "reviewed",
        "single",
        "merged",
    ]
    assert [g[m]["member_count"] for m in ("M1", "M2", "M3", "M4")] == [2, 2, 1, 2]
    assert g["M1"]["sources"] == "crm;erp"
    assert pd.isna(g["M1"]["flags"])
    assert g["M2"]["record_status"] == "deregistered" and g["M2"]["flags"] == "deregistered"
    assert g["M3"]["is_test"] and g["M3"]["flags"] == "test"
    # 'unknown' loses to a known status; no name at all is a reason too
    assert g["M4"]["record_status"] == "revoked"
    assert g["M4"]["flags"] == "revoked;missing_name"
    assert (result.masters, result.merged_masters, result.reviewed_masters, result.members) == (4, 2, 1, 7)


def test_provenance_covers_every_golden_value(con):
    rows = [
        std_row(
            "erp:2",
            customer_name="甲公司",
            mobile="+8613800138000",
            email="a@b.cn",
            blacklist=False,
            last_modified="2021-01-01",
        ),
        std_row("crm:2", customer_name="甲", address="北京市朝阳区", uscc="91110000MA00000000"),
        std_row("erp:3", customer_name="乙公司", last_activity_date="2026-01-01", activity_amount_total=1.0),
    ]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1", "erp:3": "M2"})
    build_golden_tables(con, make_config())
    gdf = con.sql("SELECT * FROM golden_customers").df()
    fields = list(FIELDS) + [
        "customer_type",
        "record_status",
        "is_test",
        "is_stale",
        "last_activity_date",
        "activity_amount_12m",
        "activity_amount_total",
        "parent_master_id",
    ]
    expected = {(r["master_id"], f) for r in gdf.to_dict("records") for f in fields if not pd.isna(r[f])}
    prov = provenance(con)
    assert set(prov) == expected
    # a provenance value is the golden value, and the record it names holds that value
    for f in FIELDS:
        q = ident(f)
        bad = con.execute(
            f"SELECT count(*) FROM golden_provenance p JOIN std_customers s ON s.record_key = p.record_key "
            f"JOIN golden_customers g ON g.master_id = p.master_id WHERE p.field = ? AND "
            f"(CAST(s.{q} AS VARCHAR) IS DISTINCT FROM p.value OR CAST(g.{q} AS VARCHAR) IS DISTINCT FROM p.value "
            "OR s._source <> p.source)",
            [f],
        ).fetchall()[0][0]
        assert bad == 0, f


def test_golden_columns_follow_the_contract(con):
    load(con, [std_row("erp:2", customer_name="甲")], {"erp:2": "M1"})
    build_golden_tables(con, make_config())
    cols = [r[0] for r in con.execute("DESCRIBE golden_customers").fetchall()]
    types = {r[0]: r[1] for r in con.execute("DESCRIBE golden_customers").fetchall()}
    assert cols[0] == "master_id"
    assert cols[-12:] == [
        "customer_type",
        "record_status",
        "is_test",
        "is_stale",
        "last_activity_date",
        "activity_amount_12m",
        "activity_amount_total",
        "flags",
        "parent_master_id",
        "member_count",
        "sources",
        "match_type",
    ]
    for f, extras in EXTRAS.items():
        i = cols.index(f)
        assert cols[i + 1 : i + 1 + len(extras)] == [f"{f}_{x}" for x in extras]
    assert "customer_name_valid" not in cols and "mobile_raw" not in cols
    assert types["blacklist"] == "BOOLEAN"
    prov_cols = [r[0] for r in con.execute("DESCRIBE golden_provenance").fetchall()]
    assert prov_cols == ["master_id", "field", "value", "record_key", "source", "rule"]


def test_same_result_whatever_the_input_order(con):
    rows = [
        std_row("erp:2", customer_name="甲", email="a@x.cn"),
        std_row("erp:3", customer_name="甲", email="b@x.cn"),
        std_row("crm:2", customer_name="乙", email="c@x.cn", last_modified="2022-01-01"),
        std_row("crm:3", customer_name="丙", email="d@x.cn", last_modified="2022-01-01"),
    ]
    masters = {r["record_key"]: "M1" for r in rows}
    load(con, rows, masters)
    build_golden_tables(con, make_config())
    first = (con.sql("SELECT * FROM golden_customers").df(), con.sql("SELECT * FROM golden_provenance").df())
    load(con, list(reversed(rows)), masters)
    build_golden_tables(con, make_config())
    second = (con.sql("SELECT * FROM golden_customers").df(), con.sql("SELECT * FROM golden_provenance").df())
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_crosswalk_must_hold_every_row_once(con):
    rows = [std_row("erp:2", customer_name="甲"), std_row("erp:3", customer_name="乙")]
    load(con, rows, {"erp:2": "M1", "erp:3": "M2"})
    con.execute("DELETE FROM crosswalk WHERE record_key = 'erp:3'")
    with pytest.raises(SurvivorshipError, match=r"missing from crosswalk: \['erp:3'\]"):
        build_golden_tables(con, make_config())
    con.execute("INSERT INTO crosswalk VALUES ('erp', 'ERP2', 'erp:2', 'M9', 1.0, 'model')")
    with pytest.raises(SurvivorshipError, match="more than once"):
        build_golden_tables(con, make_config())


def test_config_problems_are_reported_together():
    config = make_config(
        {
            "fields": {"emial": ["most_recent"]},
            "source_priority": ["erp", "crn"],
            "kind_rules": {"phones": []},
        }
    )
    std_cols = [c for r in [std_row("erp:1")] for c in r]
    with pytest.raises(SurvivorshipError) as err:
        plan_fields(config, std_cols)
    text = str(err.value)
    assert "'emial'" in text and "Did you mean 'email'" in text
    assert "'crn'" in text and "Did you mean 'crm'" in text
    assert "unknown kind 'phones'" in text


def test_check_survivorship_names_missing_columns_and_clashes():
    from workbench.core.golden.survivorship import check_survivorship

    config = make_config({"recency_fields": ["changed_at"], "extra_fields": ["industry"]})
    std_cols = [c for c in std_row("erp:1") if c != "mobile"]
    with pytest.raises(SurvivorshipError) as err:
        check_survivorship(config, std_cols)
    text = str(err.value)
    assert "3 problem(s)" in text
    assert "survivorship.recency_fields: std_customers has no column 'changed_at'" in text
    assert "survivorship.extra_fields: std_customers has no column 'industry'" in text
    assert "std_customers lacks the canonical field(s) ['mobile']" in text
    check_survivorship(make_config(), list(std_row("erp:1")))  # a good setup passes


def test_unknown_rule_name_is_refused_at_load():
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="most_recnet"):
        make_config({"fields": {"email": ["most_recnet"]}})


def test_plans_default_rules_by_kind():
    std_cols = list(std_row("erp:1"))
    plans = {p.field: p for p in plan_fields(make_config(), std_cols)}
    assert plans["customer_name"].rules == ("valid_value", "source_priority")
    assert plans["mobile"].rules[1:] == ("most_recent", "most_complete")
    assert plans["uscc"].rules[0] == "valid_value"
    assert plans["blacklist"].rules == ("any_true",) and plans["blacklist"].boolean
    assert plans["mobile"].extras == ("mobile_e164", "mobile_last8")
    assert plans["mobile"].recency_columns == ("last_modified", "last_activity_date")
    assert plans["is_test"].rules == ("all_true",)


@pytest.mark.notebooks
def test_golden_notebook_records_its_metrics(tmp_path):
    """Smoke test: the stage notebook runs headless on a tiny run and records the golden metrics."""
    import yaml

    from workbench.project.paths import RunPaths
    from workbench.project.stages import stage_spec
    from workbench.runner import execute_stage

    columns = {f.upper(): {"field": f, "kind": k} for f, k in FIELDS.items()}
    raw = {
        "project": {"name": "t", "language": "en"},
        "sources": [
            {"name": s, "path": f"{s}.csv", "id_column": "CUSTOMER_ID", "columns": columns}
            for s in ("erp", "crm")
        ],
    }
    for s in ("erp", "crm"):
        (tmp_path / f"{s}.csv").write_text(",".join(columns) + "\n", encoding="utf-8")
    config_path = tmp_path / "workbench.yaml"
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    paths = RunPaths(tmp_path / "output" / "runs" / "r1").ensure()
    con = connect(paths.warehouse)
    rows = [
        std_row("erp:2", source_id="C1", customer_name="华瑞集团有限公司"),
        std_row("crm:2", source_id="A1", customer_name="Huarui Group"),
        std_row("erp:3", source_id="C2", customer_name="华瑞北京分公司", parent_code="C1"),
    ]
    load(
        con,
        rows,
        {"erp:2": "M1", "crm:2": "M1", "erp:3": "M2"},
        [("crm:2", "erp:2", 0.9, 3.0, "model", "match")],
    )
    con.close()
    stage = stage_spec("golden")
    outcome = execute_stage(
        stage, {"config_path": str(config_path), "run_dir": str(paths.root)}, paths, export_html=False
    )
    assert outcome.status == "ok", outcome.error
    metrics = json.loads(paths.metrics_file("golden").read_text(encoding="utf-8"))
    assert (metrics["masters"], metrics["merged_masters"], metrics["members"], metrics["parent_links"]) == (
        2,
        1,
        3,
        1,
    )
    assert metrics["fields_with_provenance"] >= 5


def test_golden_figures_in_both_languages(con):
    from workbench.core.golden.survivorship import count_deciding_rules, count_match_types
    from workbench.presentation.charts.golden import deciding_rule_figure, match_type_figure

    rows = [std_row("erp:2", customer_name="甲"), std_row("crm:2", customer_name="乙"), std_row("erp:3")]
    load(con, rows, {"erp:2": "M1", "crm:2": "M1", "erp:3": "M2"})
    build_golden_tables(con, make_config())
    counts = count_match_types(con)
    assert counts.values.tolist() == [["single", 1, 1], ["merged", 1, 2]]
    zh, en = match_type_figure(counts, "zh"), match_type_figure(counts, "en")
    assert list(zh.data[0].x) == ["单一来源", "自动合并"] and list(en.data[0].x) == ["single", "merged"]
    rules = count_deciding_rules(con)
    fig = deciding_rule_figure(rules, "en")
    by_rule = {t.name: dict(zip(t.y, t.x, strict=True)) for t in fig.data}
    assert by_rule["source_priority"]["customer_name"] == 1 and by_rule["single_value"]["customer_name"] == 0


def test_a_source_field_named_like_a_record_column(con):
    """The demo CRM maps its account type to the canonical field customer_type (kind code)."""
    config = make_config()
    config.sources[1].columns["TYPE"] = ColumnSpec(field="customer_type", kind="code")
    rows = [std_row("erp:2", customer_type="unknown"), std_row("crm:2", customer_type="B2C")]
    for r in rows:
        r["customer_type_raw"], r["customer_type_valid"] = r["customer_type"], r["customer_type"] != "unknown"
    load(con, rows, {"erp:2": "M1", "crm:2": "M1"})
    build_golden_tables(con, config)
    cols = [r[0] for r in con.execute("DESCRIBE golden_customers").fetchall()]
    assert cols.count("customer_type") == 1
    assert golden(con)["M1"]["customer_type"] == "B2C"
    assert provenance(con)[("M1", "customer_type")][1:] == ("crm:2", "crm", "valid_value")


def test_golden_on_the_demo_with_true_clusters(tmp_path):
    """Real ingest and standardize of a small demo; clusters from the ground truth (so this measures
    survivorship, not matching): golden values agree with the true entities."""
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize.pipeline import standardize_customers
    from workbench.demo import generate_demo
    from workbench.project.config import load_config

    generate_demo(tmp_path, customers=120, seed=7)
    config = load_config(tmp_path / "workbench.yaml")
    con = connect()
    ingest_sources(config, con)
    standardize_customers(config, con)
    gt, ent = (str(tmp_path / f) for f in ("ground_truth.csv", "entities.csv"))
    con.execute(f"CREATE TABLE gt AS SELECT * FROM read_csv('{gt}', all_varchar = true)")
    con.execute(f"CREATE TABLE ent AS SELECT * FROM read_csv('{ent}', all_varchar = true)")
    con.execute(
        "CREATE OR REPLACE TABLE crosswalk AS SELECT s._source AS source, s.source_id, s.record_key, "
        "'M' || gt.entity_id AS master_id, 1.0 AS match_probability, 'truth' AS match_reason "
        "FROM std_customers s JOIN gt ON s.record_key = gt.source || ':' || gt.file_row"
    )
    result = build_golden_tables(con, config)
    n_std = con.execute("SELECT count(*) FROM std_customers").fetchall()[0][0]
    assert result.members == n_std and result.merged_masters > 20
    agree = con.execute(
        """SELECT
          avg((g.uscc = e.uscc)::INT) FILTER (WHERE g.uscc IS NOT NULL AND e.uscc IS NOT NULL),
          avg((g.blacklist = (e.blacklist = 'true'))::INT) FILTER (WHERE g.blacklist IS NOT NULL),
          avg((g.vip = (e.vip = 'true'))::INT) FILTER (WHERE g.vip IS NOT NULL),
          avg((g.is_test = (e.is_test = 'true'))::INT),
          avg((g.customer_type = e.customer_type)::INT) FILTER (WHERE g.customer_type IS NOT NULL),
          avg((g.flags LIKE '%' || e.status || '%')::INT) FILTER (WHERE e.status IN ('deregistered', 'revoked')),
          count(*) FILTER (WHERE g.parent_master_id IS NOT NULL),
          count(*) FILTER (WHERE g.parent_master_id IS NOT NULL AND g.parent_master_id <> 'M' || e.parent_entity_id)
        FROM golden_customers g JOIN ent e ON g.master_id = 'M' || e.entity_id"""
    ).fetchall()[0]
    uscc, blacklist, vip, test, ctype, invalid_flagged, parents, wrong_parents = agree
    assert uscc == 1.0
    assert blacklist >= 0.98 and vip >= 0.98 and test >= 0.98
    assert ctype >= 0.95
    assert invalid_flagged >= 0.9
    assert parents > 0 and wrong_parents == 0
    con.close()
