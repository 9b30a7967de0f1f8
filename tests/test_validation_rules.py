"""Rules from the project (issue 10 §3), on the international fixture project that is not the demo.

Suites are generated from the project's config (kinds, fields, sources) and the rule tables; a
postcode is checked against its own country's format; a project adds its own suites in its folder;
no failure comes from a rule the project did not ask for (no ``C`` + 7 digits IDs, no 6-digit
postcodes on a German project).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workbench.core.validation import validate_run
from workbench.project.config import load_config
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

INTL = Path(__file__).parent / "fixtures" / "projects" / "intl"


def _run(project: Path, run_id: str = "r1") -> RunContext:
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers

    config = load_config(project / "workbench.yaml")
    ctx = RunContext(config, RunPaths(config.output_dir / "runs" / run_id).ensure())
    con = ctx.connect()
    try:
        ingest_sources(config, con)
        standardize_customers(config, con)
    finally:
        con.close()
    return ctx


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "intl"
    shutil.copytree(INTL, project, ignore=shutil.ignore_patterns("output"))
    return project


def _saved(ctx: RunContext) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(ctx.paths.expectations.glob("*.json"))}


@pytest.fixture(scope="module")
def intl(tmp_path_factory):
    ctx = _run(_copy(tmp_path_factory.mktemp("rules")))
    outcome = validate_run(ctx, stages=("ingest", "standardize"))
    return ctx, outcome


def test_suites_come_from_the_project_not_the_demo(intl) -> None:
    ctx, outcome = intl
    assert sorted(outcome.results["suite"].unique()) == [
        "source_erp_de", "source_orders", "source_webshop", "standardized_customers",
    ]
    regexes = [e["kwargs"].get("regex", "") for s in _saved(ctx).values() for e in s["expectations"]]
    assert not any("C[0-9]{7}" in r or r in (r"^\d{6}$", r"^(?:\d{6})$") for r in regexes)


def test_each_postcode_is_checked_against_its_own_country(intl) -> None:
    ctx, outcome = intl
    rules = [e for e in _saved(ctx)["source_erp_de"]["expectations"] if e["kwargs"].get("column") == "postcode"]
    by_country = {
        tuple(e["kwargs"]["row_condition"].get("parameter") or ()): e["kwargs"]["regex"]
        for e in rules if e["kwargs"].get("row_condition", {}).get("type") == "comparison"
    }
    assert by_country[("DE",)] == r"^(?:\d{5})$" and ("GB",) in by_country and ("US",) in by_country
    assert any(e["kwargs"].get("row_condition", {}).get("type") == "nullity" for e in rules)  # no country: DE
    postcode = outcome.results[outcome.results["column"] == "postcode"]
    assert len(postcode) >= 4 and postcode["success"].all()  # 80802, 10118, SW1A 2AA, 75001 are all right


def test_no_failure_from_a_rule_the_project_did_not_ask_for(intl) -> None:
    _, outcome = intl
    failed = outcome.results[~outcome.results["success"].astype(bool)]
    # the one failure: K-1006's phone, which standardizing rejects (kind phone, asked for by the config)
    assert failed[["suite", "column"]].values.tolist() == [["standardized_customers", "phone_valid"]]
    assert outcome.failures["record_key"].tolist() == ["erp_de:7"]
    assert outcome.failures["source_id"].tolist() == ["K-1006"]


def test_a_wrong_postcode_fails_its_country_s_rule(tmp_path) -> None:
    project = _copy(tmp_path)
    path = project / "kunden.csv"
    path.write_bytes(path.read_bytes().replace(b"K-1001;", b"K-1001;", 1).replace(b";80802;M", b";8080;M", 1))
    ctx = _run(project)
    outcome = validate_run(ctx, stages=("ingest",))
    failed = outcome.failures[(outcome.failures["column"] == "postcode")]
    assert failed[["source_id", "value"]].values.tolist() == [["K-1001", "8080"]]
    assert "DE" in failed["description"].iloc[0]


def test_a_project_adds_its_own_suites_in_its_folder(tmp_path) -> None:
    project = _copy(tmp_path)
    (project / "suites").mkdir()
    own = {
        "name": "vat_ids_present",
        "meta": {"workbench": {"dataset": "std_customers", "keys": ["record_key"], "stage": "standardize"}},
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "vat_id"},
             "meta": {"severity": "error", "description_en": "every customer has a VAT ID",
                      "description_zh": "每个客户都有增值税号"}},
        ],
    }
    (project / "suites" / "vat_ids_present.json").write_text(json.dumps(own), encoding="utf-8")
    text = (project / "workbench.yaml").read_text(encoding="utf-8")
    (project / "workbench.yaml").write_text(text + "\nreport:\n  expectations_dir: suites\n", encoding="utf-8")
    ctx = _run(project)
    outcome = validate_run(ctx, stages=("standardize",))
    mine = outcome.results[outcome.results["suite"] == "vat_ids_present"]
    assert len(mine) == 1 and not mine["success"].iloc[0] and int(mine["unexpected_count"].iloc[0]) > 0
    assert "standardized_customers" in set(outcome.results["suite"])  # the generated suites still run
    assert (ctx.paths.expectations / "vat_ids_present.json").exists()  # saved as applied


def test_an_own_suite_must_name_a_table_of_the_run(tmp_path) -> None:
    from workbench.core.validation import ValidationError

    project = _copy(tmp_path)
    (project / "suites").mkdir()
    bad = {"name": "x", "meta": {"workbench": {"dataset": "nope", "keys": ["k"]}},
           "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "k"}}]}
    (project / "suites" / "x.json").write_text(json.dumps(bad), encoding="utf-8")
    text = (project / "workbench.yaml").read_text(encoding="utf-8")
    (project / "workbench.yaml").write_text(text + "\nreport:\n  expectations_dir: suites\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"x.json: meta.workbench.dataset 'nope' is not a table of this run"):
        validate_run(_run(project), stages=("ingest",))
