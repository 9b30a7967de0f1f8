"""The standardize stage on a generated demo project, checked against its ground truth.

Tolerances (stated here, asserted below): the planted defects a standardizer can see from the value
alone are caught at 95 % or better (bad USCC check characters, placeholder phones, phone formats,
several numbers in a cell, date formats, full-width and traditional names, bracketed regions,
mismatched postcodes, status words); test records and mojibake rows are all flagged. E-mail domain
typos are caught at 75 % or better: a letter dropped inside a company's own domain
(``fengyuanwagluokeji.cn``) cannot be told from a real domain without a list of known domains.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.core.ingest import ingest_sources
from workbench.core.standardize import standardize_customers
from workbench.core.standardize.base import has_traditional
from workbench.engine.connection import connect
from workbench.project.config import load_config

CUSTOMERS = 600


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from workbench.demo.generator import generate_demo

    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, customers=CUSTOMERS, seed=7)
    config = load_config(folder / "workbench.yaml")
    con = connect()
    ingest_sources(config, con)
    result = standardize_customers(config, con)
    truth = pd.read_csv(folder / "ground_truth.csv", dtype=str, keep_default_na=False)
    con.register("truth", truth)
    con.execute(
        "CREATE TEMP TABLE j AS SELECT t.defects, t.is_test AS gt_test, t.status AS gt_status, s.* "
        "FROM truth t JOIN std_customers s ON s._source = t.source AND s._row_number = CAST(t.file_row AS BIGINT)"
    )
    yield folder, config, con, result, truth
    con.close()


def rate(con, tag: str, condition: str) -> tuple[int, float]:
    n, ok = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {condition}) FROM j WHERE list_contains(string_split(defects, ';'), ?)",
        [tag],
    ).fetchall()[0]
    return int(n), (ok / n if n else 0.0)


def test_rows_in_equal_rows_out(demo):
    _, _, con, result, truth = demo
    staged = truth[(truth["expected_outcome"] == "staged") & (truth["source"] != "new")]
    assert result.balanced
    assert result.rows_out == len(staged)
    assert con.execute("SELECT count(*) FROM j").fetchall()[0][0] == len(staged)
    assert (
        con.execute("SELECT count(DISTINCT record_key) FROM std_customers").fetchall()[0][0]
        == result.rows_out
    )


@pytest.mark.parametrize(
    ("tag", "condition", "minimum"),
    [
        ("uscc_bad_check", "uscc_valid = false AND uscc_issue = 'uscc_bad_check'", 0.95),
        (
            "phone_placeholder",
            "coalesce(mobile_issue, '') = 'placeholder' OR coalesce(phone_issue, '') = 'placeholder'",
            0.95,
        ),
        ("phone_format", "coalesce(mobile_valid, phone_valid)", 0.95),
        ("phone_multi", "coalesce(mobile_all, '') LIKE '%;%' OR coalesce(phone_all, '') LIKE '%;%'", 0.95),
        ("date_format", "coalesce(created_date_valid, last_modified_valid)", 0.95),
        ("email_case", "email_valid AND email <> email_raw", 0.95),
        ("email_typo", "email_issue LIKE '%typo%'", 0.75),
        ("region_in_brackets", "customer_name_region IS NOT NULL", 0.95),
        ("legal_form_variant", "customer_name_legal_form IS NOT NULL", 0.95),
        ("postcode_mismatch", "postcode_province_match = false", 0.95),
        ("test_record", "is_test", 1.0),
        ("mojibake", "flags LIKE '%mojibake%'", 1.0),
    ],
)
def test_planted_defects_are_caught(demo, tag, condition, minimum):
    _, _, con, _, _ = demo
    n, got = rate(con, tag, condition)
    assert n > 0, f"the demo planted no {tag}"
    assert got >= minimum, f"{tag}: {got:.1%} of {n} rows, expected at least {minimum:.0%}"


def test_names_lose_fullwidth_and_traditional_characters(demo):
    _, _, con, _, _ = demo
    rows = con.execute(
        "SELECT coalesce(customer_name, short_name) FROM j WHERE list_has_any(string_split(defects, ';'), "
        "['fullwidth', 'name_traditional']) AND coalesce(customer_name, short_name) IS NOT NULL"
    ).fetchall()
    assert rows
    assert not [r[0] for r in rows if has_traditional(r[0]) or any("\uff01" <= ch <= "\uff5e" for ch in r[0])]


def test_few_false_alarms(demo):
    _, _, con, _, _ = demo
    not_test, flagged_test = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_test) FROM j WHERE gt_test = 'false'"
    ).fetchall()[0]
    assert flagged_test <= 0.01 * not_test
    clean, mismatched = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE postcode_province_match = false) FROM j "
        "WHERE NOT list_contains(string_split(defects, ';'), 'postcode_mismatch') AND postcode_raw IS NOT NULL"
    ).fetchall()[0]
    assert mismatched <= 0.01 * clean


def test_status_words_match_the_truth(demo):
    _, _, con, _, _ = demo
    for status in ("deregistered", "revoked"):
        n, ok = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE record_status = ? AND flags LIKE '%' || ? || '%') FROM j "
            "WHERE _source = 'erp' AND gt_status = ? AND status_raw IS NOT NULL",
            [status, status, status],
        ).fetchall()[0]
        assert n > 0 and ok / n >= 0.95, status


def test_validity_improves_and_matches_the_planted_defects(demo):
    _, _, con, result, _ = demo
    validity = result.validity
    assert (validity["n_valid_after"] >= validity["n_valid_before"]).all()
    # every row with a planted date format was not valid before and is valid after
    n, before = rate(
        con,
        "date_format",
        "NOT coalesce(created_date_valid AND created_date_raw = CAST(created_date AS VARCHAR), false)",
    )
    assert n > 0 and before >= 0.95
    metrics = result.metrics()
    assert metrics["validity"]["mobile"]["valid_after"] > metrics["validity"]["mobile"]["valid_before"]
    assert json.dumps(metrics)  # the stage records these as JSON


def test_every_change_is_in_the_change_log(demo):
    _, config, con, result, _ = demo
    kinds = config.field_kinds()
    text_fields = [f for f, k in kinds.items() if k.value not in ("date", "amount", "number", "flag")]
    for f in text_fields:
        missing = con.execute(
            f'SELECT count(*) FROM std_customers s WHERE "{f}_raw" IS NOT NULL AND trim("{f}_raw") <> \'\' '
            f'AND "{f}" IS DISTINCT FROM "{f}_raw" AND NOT EXISTS (SELECT 1 FROM change_log c '
            f"WHERE c.record_key = s.record_key AND c.field = ? AND c.rule NOT LIKE 'fill_%')",
            [f],
        ).fetchall()[0][0]
        assert missing == 0, f
    unexplained = con.execute(
        "SELECT count(*) FROM change_log WHERE rule IS NULL OR record_key NOT IN (SELECT record_key FROM std_customers)"
    ).fetchall()[0][0]
    assert unexplained == 0
    assert result.changes == con.execute("SELECT count(*) FROM change_log").fetchall()[0][0]


def test_province_fills_follow_their_rules(demo):
    _, _, con, _, _ = demo
    by_rule = dict(
        con.execute(
            "SELECT rule, count(*) FROM change_log WHERE field = 'province' AND rule LIKE 'fill_province:%' GROUP BY rule"
        ).fetchall()
    )
    assert by_rule.get("fill_province:address", 0) > 0 and by_rule.get("fill_province:tax_id", 0) > 0
    wrong = con.execute(
        "SELECT count(*) FROM change_log c JOIN std_customers s USING (record_key) "
        "WHERE c.rule = 'fill_province:address' AND s.province IS DISTINCT FROM s.address_province"
    ).fetchall()[0][0]
    assert wrong == 0


@pytest.mark.notebooks
def test_standardize_notebook_records_its_metrics(demo):
    from workbench.runner import run_project

    folder, _, _, _, _ = demo
    run = run_project(folder / "workbench.yaml", run_id="std1", stages=["audit", "standardize"])
    metrics = json.loads((Path(run.run_dir) / "metrics" / "standardize.json").read_text(encoding="utf-8"))
    assert metrics["balanced"] is True and metrics["rows_in"] == metrics["rows_out"] > 0
    assert metrics["changes"] > 0 and metrics["flagged"]["deregistered"] > 0
    assert metrics["validity"]["uscc"]["valid_after"] < 1.0  # the planted bad check characters stay invalid
