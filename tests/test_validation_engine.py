"""Validation that scales: the SQL count of each expectation equals Great Expectations on the whole frame.

Great Expectations on a pandas frame of the whole table is the oracle here: every figure the
DuckDB engine reports (success, element and unexpected counts) must be GX's own, on data full of
the cases where Python and SQL semantics part (NULLs, full-width digits, the ideographic space,
trailing newlines, booleans, numbers, ``mostly``, row conditions, look-ahead regexes).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from workbench.core.validation.gx_context import import_gx, new_context
from workbench.core.validation.gx_runner import SuiteCheck, run_suites
from workbench.core.validation.sql_rules import Unsupported, python_regex_to_re2
from workbench.engine.connection import connect

ROWS = [
    # key, code, phone, zip, country, flag, amount, when, name
    (1, "C0000001", "13800138000", "80802", "DE", True, 10.0, "2024-01-31", "上海华瑞科技有限公司"),
    (2, "C0000002", "１３８００１３８０００", "1234", "DE", False, None, "2024-02-30", "华瑞"),
    (3, "C0000002", "138 0013 8000\n", "SW1A 2AA", "GB", None, -5.5, "31.01.2024", "Acme Ltd"),
    (4, None, "+86 138-0013-8000", "10118", "US", True, 1e6, "2024-13-01", "  "),
    (5, "c0000005", "123", None, None, True, 0.0, None, None),
    (6, "C0000006", "138\u30000013\u30008000", "100000", "CN", False, 3.0, "2024-12-01", "甲"),
    (7, "C0000007", "", "75001", "FR", True, 7.0, "2024-06-15", "Globex"),
    (8, "C0000007", "13800138000", "ABCDE", "DE", True, 7.0, "2024-06-15", "Globex"),
]
COLUMNS = ["k", "code", "phone", "zip", "country", "flag", "amount", "when", "name"]


def _cond(column: str, op: str, value: object) -> dict:
    return {"type": "comparison", "column": {"name": column}, "operator": op, "parameter": value}


EXPECTATIONS = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "code"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "zip", "mostly": 0.8}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "code"}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["code", "amount"]}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "code", "regex": r"^C[0-9]{7}$"}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "phone", "regex": r"^\d{11}$"}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "phone", "regex": r"\s"}},
    {"type": "expect_column_values_to_match_regex",  # a look-ahead: decided in Python, value by value
     "kwargs": {"column": "phone", "regex": r"^(?=(?:\D*\d){7})[0-9+\-\s]+$"}},
    {"type": "expect_column_values_to_not_match_regex", "kwargs": {"column": "name", "regex": r"^\s*$"}},
    {"type": "expect_column_values_to_match_regex",
     "kwargs": {"column": "zip", "regex": r"^(?:\d{5})$", "row_condition": _cond("country", "==", "DE")}},
    {"type": "expect_column_values_to_match_regex",
     "kwargs": {"column": "zip", "regex": r"^\d{5}$", "row_condition": _cond("country", "IN", ["US", "FR"])}},
    {"type": "expect_column_values_to_match_regex",
     "kwargs": {"column": "zip", "regex": r"^\d{6}$",
                "row_condition": {"type": "nullity", "column": {"name": "country"}, "is_null": True}}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "country", "value_set": ["DE", "US", "GB"]}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "flag", "value_set": [True]}},
    {"type": "expect_column_values_to_not_be_in_set", "kwargs": {"column": "country", "value_set": ["CN"]}},
    {"type": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "name", "min_value": 2, "max_value": 10}},
    {"type": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "name", "min_value": 2, "strict_min": True}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0, "max_value": 100}},
    {"type": "expect_column_values_to_match_strftime_format",
     "kwargs": {"column": "when", "strftime_format": "%Y-%m-%d", "mostly": 0.5}},
    {"type": "expect_column_to_exist", "kwargs": {"column": "zip"}},
    {"type": "expect_column_to_exist", "kwargs": {"column": "nope"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "missing_column"}},
    {"type": "expect_column_mean_to_be_between",  # no SQL translation: GX decides it on the column
     "kwargs": {"column": "amount", "min_value": 0, "max_value": 10}},
]


def _table(con) -> pd.DataFrame:
    frame = pd.DataFrame(ROWS * 3, columns=COLUMNS)
    frame["k"] = range(1, len(frame) + 1)
    con.register("t_frame", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM t_frame ORDER BY k")
    con.unregister("t_frame")
    return con.sql("SELECT * FROM t ORDER BY k").df()


def _gx_oracle(frame: pd.DataFrame, expectations: list[dict]) -> list[dict]:
    """GX on the whole frame: each expectation's success and counts, in suite order."""
    gx = import_gx()
    context = new_context(None)
    suite = context.suites.add(gx.ExpectationSuite(name="oracle", expectations=[dict(e) for e in expectations]))
    asset = context.data_sources.add_pandas("p").add_dataframe_asset("a")
    vd = context.validation_definitions.add(
        gx.ValidationDefinition(name="v", data=asset.add_batch_definition_whole_dataframe("w"), suite=suite)
    )
    result = vd.run(batch_parameters={"dataframe": frame},
                    result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["k"]})
    by_id = {e.id: i for i, e in enumerate(suite.expectations)}
    out: list[dict] = [{} for _ in expectations]
    for r in result.results:
        res = r.result or {}
        info = r.exception_info or {}
        nested = [v for v in info.values() if isinstance(v, dict)] if "raised_exception" not in info else [info]
        raised = any(v.get("raised_exception") for v in nested)
        out[by_id[r.expectation_config.id]] = {
            "success": bool(r.success),
            "element_count": res.get("element_count"),
            "unexpected_count": res.get("unexpected_count"),
            "unexpected": {int(x["k"]) for x in res.get("unexpected_index_list") or [] if isinstance(x, dict)},
            "raised": raised,
        }
    return out


@pytest.fixture(scope="module")
def validated():
    con = connect()
    frame = _table(con)
    suite = {"name": "engine_test", "expectations": [{**e, "meta": {"severity": "error"}} for e in EXPECTATIONS]}
    outcome = run_suites(con, [SuiteCheck(suite, "t", "t", "ingest", ["k"])], None, run_name="r", language="en",
                         failures_limit=2, seed=7, gx_rows=5, gx_failing=2)
    yield con, frame, outcome
    con.close()


def test_every_figure_is_gx_s_own(validated) -> None:
    _, frame, outcome = validated
    oracle = _gx_oracle(frame, EXPECTATIONS)
    results = outcome.results.sort_values("expectation_index").reset_index(drop=True)
    assert len(results) == len(EXPECTATIONS)
    for i, want in enumerate(oracle):
        got = results.iloc[i]
        label = f"{i}: {EXPECTATIONS[i]['type']} {EXPECTATIONS[i]['kwargs']}"
        assert bool(got["success"]) == want["success"], label
        if want["raised"]:
            assert got["error"], label
            continue
        for key in ("element_count", "unexpected_count"):
            if want[key] is not None:
                assert int(got[key]) == int(want[key]), (label, key)
    assert outcome.engine_stats["disagreements"] == 0


def test_engines_are_chosen_by_what_sql_can_say(validated) -> None:
    _, _, outcome = validated
    engine = dict(zip(outcome.results["expectation_index"], outcome.results["engine"], strict=True))
    assert engine[4] == "duckdb" and engine[5] == "duckdb"  # regexes RE2 runs as Python would
    assert engine[7] == "python"  # a look-ahead: Python decides each distinct value
    assert engine[18] == "python"  # strftime: datetime.strptime, as GX
    assert engine[22] == "gx"  # no SQL translation: GX on the column
    assert outcome.engine_stats["gx_rules"] == 1 and outcome.engine_stats["sql_rules"] == len(EXPECTATIONS) - 1


def test_failed_rows_are_a_bounded_seeded_sample_of_gx_s_rows(validated) -> None:
    con, frame, outcome = validated
    oracle = _gx_oracle(frame, EXPECTATIONS)
    fails = outcome.failures
    for i, want in enumerate(oracle):
        rows = fails[fails["expectation_index"] == i]
        assert len(rows) <= 2
        if want.get("unexpected") and not want["raised"]:
            assert len(rows) == min(2, len(want["unexpected"])), i
    again = run_suites(con, [SuiteCheck({"name": "engine_test", "expectations": EXPECTATIONS}, "t", "t", "ingest",
                                        ["k"])], None, run_name="r", failures_limit=2, seed=7, gx_rows=5, gx_failing=2)
    assert again.failures[["expectation_index", "value"]].equals(fails[["expectation_index", "value"]])


def test_a_rule_whose_sql_disagrees_with_gx_is_decided_by_gx(monkeypatch) -> None:
    from workbench.core.validation import sql_rules

    original = sql_rules._rule_not_null

    def wrong(rule, col, ctype, kw, params):  # a broken translation: flags nothing
        original(rule, col, ctype, kw, params)
        rule.unexpected = "FALSE"

    monkeypatch.setitem(sql_rules._RULE_BUILDERS, "expect_column_values_to_not_be_null", wrong)
    con = connect()
    frame = _table(con)
    suite = {"name": "s", "expectations": [EXPECTATIONS[0]]}
    outcome = run_suites(con, [SuiteCheck(suite, "t", "t", "ingest", ["k"])], None, run_name="r", seed=1)
    con.close()
    assert outcome.engine_stats["disagreements"] == 1
    row = outcome.results.iloc[0]
    assert row["engine"] == "gx" and int(row["unexpected_count"]) == int(frame["code"].isna().sum()) == 3


@pytest.mark.parametrize(
    "pattern",
    [r"^\d{5}$", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", r"\S+\s\S+", r"^\w+$", r"^[\w.-]+$", r"^a$|^b$", r"[]x]", r"^\D+$"],
)
def test_python_regexes_mean_the_same_in_re2(pattern) -> None:
    values = ["12345", "１２３４５", "a@b.cc", "a b", "a\u3000b", "x\n", "abc", "a", "b\n", "]", "é_1", "汉字", "-", ""]
    con = connect()
    re2 = python_regex_to_re2(pattern)
    got = [con.execute("SELECT regexp_matches($v, $p)", {"v": v, "p": re2}).fetchall()[0][0] for v in values]
    con.close()
    assert got == [re.search(pattern, v) is not None for v in values]


def test_constructs_re2_lacks_are_not_translated() -> None:
    for pattern in (r"(?=a)b", r"(a)\1", r"\bword\b", r"a++"):
        with pytest.raises(Unsupported):
            python_regex_to_re2(pattern)
