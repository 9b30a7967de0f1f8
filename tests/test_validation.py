"""GX suites: survival-checked loading, builders, checkpoints with business keys, offline Data Docs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from validation_fixtures import build_run_tables, golden_frame, make_config, write_generic_load_files

from workbench.core.targets.profiles import load_profile
from workbench.demo.generator import SUITES_DIR as DEMO_SUITES_DIR
from workbench.core.validation.suites import (
    SuiteError,
    build_load_ready_suites,
    build_source_suite,
    load_suite,
    read_suite_file,
    rewrite_page_offline,
    validate_run,
)
from workbench.engine.connection import connect
from workbench.presentation.reports.html import find_external_references
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

GOOD = {
    "type": "expect_column_values_to_not_be_null",
    "kwargs": {"column": "a"},
    "meta": {"severity": "error"},
}


def test_load_suite_keeps_every_entry() -> None:
    raw = {
        "name": "s",
        "expectations": [GOOD, {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}}],
    }
    assert len(load_suite(raw).expectations) == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "a"}},
            r"expectations\[1\] \(expect_column_values_to_be_purple\)",
        ),
        (
            {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            "GX 0.x key",
        ),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {}}, r"expectations\[1\].*column"),
        (
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "extra": 1},
            "unknown key",
        ),
    ],
)
def test_invalid_entries_are_named(entry: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite({"name": "s", "expectations": [GOOD, entry]}, origin="my_suite.json")


def test_an_entry_gx_drops_silently_is_caught(monkeypatch) -> None:
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.exceptions import InvalidExpectationConfigurationError

    original = ExpectationSuite._process_expectation

    def drop_second(self, exp):
        if isinstance(exp, dict) and exp["kwargs"].get("column") == "b":
            raise InvalidExpectationConfigurationError("simulated drop")
        return original(self, exp)

    monkeypatch.setattr(gx.ExpectationSuite, "_process_expectation", drop_second)
    second = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "b"}}
    with pytest.raises(SuiteError, match="2 expectations in the file but only 1 survived"):
        load_suite({"name": "s", "expectations": [GOOD, second]})


def test_demo_suite_files_load_whole() -> None:
    files = sorted(DEMO_SUITES_DIR.glob("*.json"))
    assert {f.stem for f in files} >= {"source_erp", "source_crm", "source_ledger", "standardized_customers"}
    for f in files:
        raw = read_suite_file(f)
        assert len(load_suite(f).expectations) == len(raw["expectations"]) > 0
        assert all("type" in e and "expectation_type" not in e for e in raw["expectations"])


def test_load_ready_suites_follow_the_target_profile() -> None:
    profile = load_profile("sap_s4_cockpit_customer")
    suites = {s["name"]: s for s in build_load_ready_suites(profile)}
    general = suites["load_ready_sap_s4_cockpit_customer_general"]["expectations"]
    kinds = {(e["type"], e["kwargs"].get("column")) for e in general}
    assert ("expect_column_values_to_not_be_null", "KUNNR") in kinds  # required
    assert ("expect_column_values_to_be_unique", "KUNNR") in kinds  # key
    lengths = {
        e["kwargs"]["column"]: e["kwargs"]["max_value"]
        for e in general
        if e["type"] == "expect_column_value_lengths_to_be_between"
    }
    assert lengths["KUNNR"] == 10 and lengths["COUNTRY"] == 3
    assert ("expect_column_values_to_match_strftime_format", "FOUND_DAT") in kinds
    roles = suites["load_ready_sap_s4_cockpit_customer_roles"]["expectations"]
    value_sets = [e["kwargs"]["value_set"] for e in roles if e["type"] == "expect_column_values_to_be_in_set"]
    assert value_sets == [["FLCU00", "FLCU01", "UKM000"]]  # picklist
    assert any(e["type"] == "expect_compound_columns_to_be_unique" for e in roles)
    for s in suites.values():
        assert len(load_suite(s).expectations) == len(s["expectations"])


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("val")
    config = make_config(tmp)
    con = connect()
    build_run_tables(con)
    root = tmp / "run"
    write_generic_load_files(root, golden_frame(), con.sql("select * from load_rows").df())
    # plant a value outside the generic profile's picklist in a load file
    path = root / "exports/generic/02.csv"
    text = path.read_bytes().decode("utf-8-sig").replace(",B2C,", ",Person,")
    path.write_bytes(text.encode("utf-8-sig"))
    ctx = RunContext(config, RunPaths(root).ensure())
    outcome = validate_run(ctx, con)
    yield ctx, con, outcome
    con.close()


def test_analytics_are_off(validated) -> None:
    from workbench.core.validation.suites import _new_context

    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
    assert _new_context(None).config.analytics_enabled is False


def test_failures_come_back_with_business_keys(validated) -> None:
    _, con, outcome = validated
    fails = con.sql("select * from validation_failures").df()
    dup = fails[
        (fails["suite"] == "source_erp") & (fails["expectation"] == "expect_column_values_to_be_unique")
    ]
    assert sorted(dup["record_key"]) == ["erp:6", "erp:7"]
    assert set(dup["source_id"]) == {"E5"} and set(dup["master_id"]) == {"M005"}
    bad_uscc = fails[(fails["column"] == "uscc") & (fails["suite"] == "source_erp")]
    assert bad_uscc["value"].tolist() == ["91440000MA5D8XYZ1X"]
    std = fails[fails["suite"] == "standardized_customers"]
    assert std["record_key"].tolist() == ["erp:5"] and std["master_id"].tolist() == ["M004"]
    load = fails[fails["suite"] == "load_ready_generic_customer"]
    assert load[["master_id", "file", "row_in_file", "value"]].values.tolist() == [
        ["M006", "exports/generic/02.csv", 3, "Person"]
    ]
    assert not outcome.success  # the load file breaks an error-severity expectation
    results = con.sql("select count(*) from validation_results where not success").fetchall()[0][0]
    assert results == 4  # erp duplicate id, erp uscc shape, std mobile validity, load picklist


def test_activity_source_ids_may_repeat(validated) -> None:
    _, con, _ = validated
    rows = con.sql(
        "select count(*) from validation_results where suite = 'source_tx' "
        "and expectation = 'expect_column_values_to_be_unique' and \"column\" = 'customer_code'"
    ).fetchall()
    assert rows == [(0,)]


def test_generated_load_suite_is_saved_with_the_run(validated) -> None:
    ctx, _, _ = validated
    saved = ctx.paths.root / "expectations" / "load_ready_generic_customer.json"
    assert json.loads(saved.read_text(encoding="utf-8"))["name"] == "load_ready_generic_customer"
    assert (ctx.paths.tables / "validation_failures.csv").exists()


def test_data_docs_are_offline(validated) -> None:
    ctx, _, outcome = validated
    pages = sorted(Path(ctx.paths.datadocs).rglob("*.html"))
    assert outcome.docs_index == ctx.paths.datadocs / "index.html"
    assert len(pages) >= 1 + 2 * 5  # index, a suite page and a validation page per suite
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert find_external_references(text) == [], page
        assert "cdn.jsdelivr" not in text and "great-expectations-web-assets" not in text
    erp_page = (ctx.paths.datadocs / outcome.pages["source_erp"]).read_text(encoding="utf-8")
    assert "91440000MA5D8XYZ1X" not in erp_page and "9144**********YZ1X" in erp_page  # masked for business
    for css in (ctx.paths.datadocs / "static").rglob("*.css"):
        assert "https://" not in css.read_text(encoding="utf-8")
    index = outcome.docs_index.read_text(encoding="utf-8")
    for suite in ("source_erp", "source_crm", "standardized_customers", "load_ready_generic_customer"):
        assert f">{suite}<" in index
        assert outcome.pages[suite] in index


def test_rewrite_fixes_static_depth_and_strips_cdn() -> None:
    page = (
        '<html><head><link rel="stylesheet" href="https://cdn.example/x.css">'
        '<link rel="icon" href="../../../static/images/favicon.ico"></head><body>'
        '<img src="https://assets.example/logo.png"><script src="https://code.jquery.com/j.js"></script>'
        "<script>$('#a').bootstrapTable({});</script>"
        '<button onclick="showAllValidations()">all</button></body></html>'
    )
    out, removed = rewrite_page_offline(page, "../../../../static/")
    assert len(removed) == 3
    assert 'href="../../../../static/images/favicon.ico"' in out
    assert 'src="../../../../static/images/logo-long.png"' in out
    assert "bootstrapTable" not in out and "function showAllValidations" in out


def test_source_suite_builder_uses_kinds(tmp_path) -> None:
    config = make_config(tmp_path)
    suite = build_source_suite(config.source("erp"), config)
    cols = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_match_regex", "uscc") in cols
    assert ("expect_column_values_to_match_regex", "email") in cols
    assert ("expect_column_values_to_be_unique", "customer_code") in cols
    assert suite["meta"]["workbench"]["dataset"] == "stg_erp"
