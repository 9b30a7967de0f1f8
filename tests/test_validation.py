"""GX suites: survival-checked loading, builders, checkpoints with business keys, offline Data Docs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from validation_fixtures import build_run_tables, golden_frame, make_config, write_generic_load_files

from workbench.core.targets.profiles import load_profile
from workbench.core.validation import (
    SuiteError,
    build_load_ready_suites,
    build_source_suite,
    load_suite,
    read_suite_file,
    validate_run,
)
from workbench.demo.generator import SUITES_DIR as DEMO_SUITES_DIR
from workbench.engine.connection import connect
from workbench.presentation.reports.datadocs import publish_data_docs, rewrite_page_offline
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
    assert publish_data_docs(outcome, ctx, con) == outcome.docs_index
    yield ctx, con, outcome
    con.close()


def test_analytics_are_off(validated) -> None:
    from workbench.core.validation.gx_context import new_context

    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
    assert new_context(None).config.analytics_enabled is False


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
    """The business pages (index and one page per suite) and GX's own site (analysts') open offline;
    failed personal-data values are masked in both."""
    from workbench.core.validation.checks import gx_docs_dir
    from workbench.presentation.reports.datadocs import page_name

    ctx, _, outcome = validated
    docs = ctx.paths.datadocs
    assert outcome.docs_index == docs / "index.html"
    gx_site = gx_docs_dir(ctx.paths)
    gx_pages = sorted(gx_site.rglob("*.html"))
    assert len(gx_pages) >= 1 + 2 * 5  # GX's index, a suite page and a validation page per suite
    for page in [*sorted(docs.rglob("*.html")), *gx_pages]:
        text = page.read_text(encoding="utf-8")
        assert find_external_references(text) == [], page
        assert "cdn.jsdelivr" not in text and "great-expectations-web-assets" not in text
    erp_page = (docs / page_name("source_erp")).read_text(encoding="utf-8")
    assert "91440000MA5D8XYZ1X" not in erp_page and "9144**********YZ1X" in erp_page  # masked for business
    gx_erp = (gx_site / outcome.pages["source_erp"]).read_text(encoding="utf-8")
    assert "91440000MA5D8XYZ1X" not in gx_erp
    for css in (gx_site / "static").rglob("*.css"):
        assert "https://" not in css.read_text(encoding="utf-8")
    index = outcome.docs_index.read_text(encoding="utf-8")
    for suite in ("source_erp", "source_crm", "standardized_customers", "load_ready_generic_customer"):
        assert f'data-suite="{suite}"' in index and f'href="{page_name(suite)}"' in index
    assert "/gx_datadocs" not in index  # GX's pages are not linked for business


def test_index_and_pages_agree_on_each_suite_status(validated) -> None:
    """One status per suite: failed when an error-severity rule failed, with warnings when only
    warnings failed; the index, the suite's page and the summary's table say the same."""
    import re

    from workbench.presentation.reports.datadocs import page_name, suite_status

    ctx, _, outcome = validated
    index = outcome.docs_index.read_text(encoding="utf-8")
    rows = dict(re.findall(r'data-suite="([^"]+)".*?data-status="(\w+)"', index))
    assert rows["source_erp"] == "warn" and rows["load_ready_generic_customer"] == "fail"
    for suite, status in rows.items():
        page = (ctx.paths.datadocs / page_name(suite)).read_text(encoding="utf-8")
        assert f'id="wb-suite-status" data-status="{status}"' in page, suite
        assert suite_status(outcome.results[outcome.results["suite"] == suite]) == status


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


# --------------------------------------------------------------------------------------------
# suites from the rule tables (expectations/*.yaml)

SUITES_BEFORE = Path(__file__).parent / "fixtures" / "validation" / "suites_before.json"


def _configs(tmp_path: Path) -> dict:
    """The configs whose generated suites were captured from the hand-written builders."""
    from validation_fixtures import every_kind_config

    import workbench.demo
    from workbench.project.config import load_config

    for sub in ("fx", "cn", "de"):
        (tmp_path / sub).mkdir()
    return {
        "demo": load_config(Path(workbench.demo.__file__).parent / "workbench.yaml", check_files=False),
        "intl": load_config(
            Path(__file__).parent / "fixtures/projects/intl/workbench.yaml", check_files=False
        ),
        "fixture": make_config(tmp_path / "fx"),
        "every_kind_cn": every_kind_config(tmp_path / "cn", "CN"),
        "every_kind_de": every_kind_config(tmp_path / "de", "DE"),
    }


def _generated_suites(tmp_path: Path) -> dict:
    from validation_fixtures import EVERY_RULE_PROFILE

    from workbench.core.targets.profiles import list_profiles, load_profile_file
    from workbench.core.validation import build_standardized_suite

    out: dict = {}
    for label, config in _configs(tmp_path).items():
        for s in config.sources:
            out[f"{label}/source_{s.name}"] = build_source_suite(s, config)
        out[f"{label}/standardized_customers"] = build_standardized_suite(config)
    profiles = {r.name: load_profile(r.name) for r in list_profiles()}
    profiles["every_rule"] = load_profile_file(EVERY_RULE_PROFILE)
    for name, profile in profiles.items():
        out[f"profile/{name}"] = build_load_ready_suites(profile)
    return out


def test_rule_tables_build_the_snapshot_suites(tmp_path) -> None:
    """suites_before.json holds the generated suites of five configs and every built-in profile (same
    expectations, order, kwargs, severities, descriptions and suite meta; key order too). First taken
    from the hand-written builders; retaken when the rules changed on purpose (issue 10/16: phone rule
    without look-ahead, postcodes by country, descriptions naming the column header, D.M.Y dates)."""
    before = json.loads(SUITES_BEFORE.read_text(encoding="utf-8"))
    now = _generated_suites(tmp_path)
    assert sorted(now) == sorted(before)
    for key, suites in before.items():
        assert json.dumps(now[key], ensure_ascii=False) == json.dumps(suites, ensure_ascii=False), key


def test_every_generated_suite_survives_loading(tmp_path) -> None:
    for key, suites in _generated_suites(tmp_path).items():
        for suite in suites if isinstance(suites, list) else [suites]:
            assert len(load_suite(suite, origin=key).expectations) == len(suite["expectations"]) > 0, key


def test_rule_tables_live_in_the_top_level_expectations_folder() -> None:
    from workbench.core.validation import RULES_DIR, STANDARDIZED_SUITE, load_rule_table

    assert Path(__file__).resolve().parents[1] / "expectations" == RULES_DIR
    assert sorted(p.stem for p in RULES_DIR.glob("*.yaml")) == ["load_ready", "source", STANDARDIZED_SUITE]
    assert load_rule_table(STANDARDIZED_SUITE).suite["name"] == STANDARDIZED_SUITE


def test_render_keeps_a_whole_placeholder_typed_and_fills_text() -> None:
    from workbench.core.validation.rules import render

    picklist = ["A", "B"]
    facts = {"name": "KUNNR", "length": 10, "allowed": picklist, "decimals": 2}
    out = render(
        {
            "column": "${name}",
            "max_value": "${length}",
            "value_set": "${allowed}",
            "regex": r"^\d{1,${decimals}}$",
        },
        facts,
    )
    assert out == {"column": "KUNNR", "max_value": 10, "value_set": ["A", "B"], "regex": r"^\d{1,2}$"}
    assert out["value_set"] is not picklist  # a copy: the suite does not share the profile's list
    assert render("${name} has at most ${length} characters", facts) == "KUNNR has at most 10 characters"


@pytest.mark.parametrize(
    ("expected", "value", "holds"),
    [
        ("phone", "phone", True),
        ("phone", "email", False),
        (["amount", "number"], "number", True),
        ({"not": ["id", "text"]}, "id", False),
        ({"not": ["id", "text"]}, "phone", True),
        ({"not": [None, 0]}, 2, True),
        ({"not": [None, 0]}, 0, False),
        (None, None, True),
        (0, None, False),
        ({"set": True}, ["x"], True),
        ({"set": True}, None, False),
        ({"set": False}, None, True),
        (True, True, True),
    ],
)
def test_when_conditions(expected, value, holds) -> None:
    from workbench.core.validation.rules import condition_holds

    assert condition_holds(expected, value) is holds


def test_rule_table_problems_name_section_row_and_allowed_values(tmp_path) -> None:
    from workbench.core.validation import RuleTableError, load_rule_table

    (tmp_path / "source.yaml").write_text(
        """
suite: {name: "source_${source}", dataset: "${table}", stage: ingest, keys: [], note: x}
first:
  - {type: expect_column_values_to_not_be_null, kwargs: {column: a}, severity: fatal,
     description_zh: a, description_en: a}
per_field:
  - {when: {colour: red}, type: expect_column_values_to_be_unique, kwargs: {column: "${fld}"},
     severity: error, description_zh: a, description_en: a}
  - {when: {kind: {maybe: 1}}, type: be_unique, kwargs: {column: "${field}"}, severity: error,
     description_en: a}
last: []
""",
        encoding="utf-8",
    )
    with pytest.raises(RuleTableError) as err:
        load_rule_table("source", tmp_path)
    text = str(err.value)
    assert "first[0].severity: 'fatal' is not one of ['error', 'warning']" in text
    assert "per_field[0].when: unknown fact 'colour'" in text and "'kind'" in text
    assert "per_field[0]: unknown placeholder ${fld}" in text
    assert "per_field[1]: missing key 'description_zh'" in text
    assert "per_field[1].type: 'be_unique' is not a GX expectation type" in text
    assert "per_field[1].when.kind: {'maybe': 1} is not a condition" in text
    with pytest.raises(RuleTableError, match="unknown rule table 'sources'"):
        load_rule_table("sources")


def test_a_changed_rule_table_changes_the_suite(tmp_path) -> None:
    """The tables are the rules: a project of the workbench edits a row, not code."""
    import shutil

    from workbench.core.validation import RULES_DIR

    shutil.copy(RULES_DIR / "source.yaml", tmp_path / "source.yaml")
    text = (tmp_path / "source.yaml").read_text(encoding="utf-8")
    (tmp_path / "source.yaml").write_text(
        text.replace("description_en: ${label} looks like a phone number", "description_en: ${label} rings"),
        encoding="utf-8",
    )
    config = make_config(tmp_path)
    suite = build_source_suite(config.source("erp"), config, rules_dir=tmp_path)
    phones = [e for e in suite["expectations"] if e["kwargs"].get("column") == "mobile"]
    assert [e["meta"]["description_en"] for e in phones] == ["手机 rings"]


def test_publish_without_gx_site_writes_the_business_pages(tmp_path) -> None:
    import pandas as pd

    from workbench.core.validation import FAILURE_COLUMNS, RESULT_COLUMNS, ValidationOutcome

    ctx = RunContext(make_config(tmp_path), RunPaths(tmp_path / "run").ensure())
    outcome = ValidationOutcome(pd.DataFrame(columns=RESULT_COLUMNS), pd.DataFrame(columns=FAILURE_COLUMNS))
    index = publish_data_docs(outcome, ctx)
    assert index == ctx.paths.datadocs / "index.html" == outcome.docs_index
    assert not ctx.paths.gx_datadocs.exists()  # no GX site was built: none is rewritten


def test_mask_page_replaces_longest_values_first() -> None:
    from workbench.presentation.reports.datadocs import mask_page

    page = "<td>13800138000</td><td>A&amp;B 1380013</td>"
    masked = mask_page(
        page, {"1380013": "138****", "13800138000": "138****8000", "A&B 1380013": "A&B 138****"}
    )
    assert masked == "<td>138****8000</td><td>A&amp;B 138****</td>"
