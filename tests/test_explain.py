"""The explain view of a master record: members, golden fields with rules, match evidence, waterfall."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_survivorship import load, make_config, std_row

from workbench.core.golden.explain import UnknownMasterError, build_waterfall, explain_master
from workbench.core.golden.survivorship import build_golden_tables
from workbench.engine.connection import connect
from workbench.presentation.reports.master_explanation import explanation_view, render_master_explanation


@pytest.fixture
def con():
    c = connect()
    rows = [
        std_row(
            "erp:2",
            source_id="C001",
            customer_name="华瑞集团有限公司",
            mobile="+8613800138000",
            last_modified="2020-01-01",
        ),
        std_row(
            "crm:2",
            source_id="A1",
            customer_name="Huarui Group Co., Ltd.",
            mobile="+8613912345678",
            last_modified="2024-01-01",
        ),
        std_row("erp:3", source_id="C002", customer_name="华瑞集团有限公司北京分公司", parent_code="C001"),
    ]
    pairs = [
        ("crm:2", "erp:2", 0.97, 5.0, "model", "match"),
        ("crm:2", "erp:3", 0.10, -3.2, "model", "non_match"),
    ]
    load(c, rows, {"erp:2": "M1", "crm:2": "M1", "erp:3": "M2"}, pairs)
    # Splink's intermediate columns, as the match stage keeps them for waterfalls
    c.execute("ALTER TABLE match_pairs ADD COLUMN gamma_name INTEGER")
    c.execute("ALTER TABLE match_pairs ADD COLUMN bf_name DOUBLE")
    c.execute("ALTER TABLE match_pairs ADD COLUMN gamma_mobile INTEGER")
    c.execute("ALTER TABLE match_pairs ADD COLUMN bf_mobile DOUBLE")
    c.execute("UPDATE match_pairs SET gamma_name = 2, bf_name = 64.0, gamma_mobile = 0, bf_mobile = 0.25")
    build_golden_tables(c, make_config())
    yield c
    c.close()


def test_explain_a_merged_master(con):
    ex = explain_master(con, "M1", make_config())
    assert ex.members["record_key"].tolist() == ["crm:2", "erp:2"]
    assert set(ex.members.columns) >= {"source", "source_id", "match_probability", "customer_name", "mobile"}
    fields = ex.fields.set_index("field")
    assert fields.loc["customer_name", "record_key"] == "erp:2"
    assert fields.loc["customer_name", "rule"] == "source_priority"
    assert fields.loc["customer_name", "rules"] == "valid_value > source_priority"
    assert fields.loc["mobile", ["value", "rule"]].tolist() == ["+8613912345678", "most_recent"]
    # only the pair inside the master is evidence; the cross-master pair is not
    assert ex.evidence[["record_key_l", "record_key_r"]].values.tolist() == [["crm:2", "erp:2"]]
    assert ex.children == ["M2"] and ex.parent_master_id is None
    html = render_master_explanation(ex, "en")
    assert "Explanation of master M1" in html and "Huarui Group" in html


def test_explanation_view_renders_in_the_notebook_language(con):
    ex = explain_master(con, "M1")
    view = explanation_view(ex, "zh")
    assert view is not None and view.explanation is ex
    html = view._repr_html_()
    assert "主记录 M1 的解释" in html and "逐项比较" in html  # the waterfall table is shown
    assert "<script" not in html
    assert explanation_view(None, "en") is None
    assert "Explanation of master M1" in render_master_explanation(ex, "fr")  # unknown language: English


def test_waterfall_adds_up_to_the_pair_weight(con):
    ex = explain_master(con, "M1")
    wf = ex.waterfall
    assert wf["comparison"].tolist() == ["prior", "name", "mobile"]
    assert wf["match_weight"].tolist()[1:] == [6.0, -2.0]  # log2(64), log2(0.25)
    assert math.isclose(wf["cumulative_weight"].iloc[-1], 5.0)
    assert math.isclose(wf["match_weight"].iloc[0], 1.0)  # prior = 5 - 6 + 2


def test_waterfall_empty_without_splink_columns():
    pairs = pd.DataFrame(
        [("a:1", "b:1", 0.9, 3.0, "same_uscc", "match")],
        columns=[
            "record_key_l",
            "record_key_r",
            "match_probability",
            "match_weight",
            "match_reason",
            "decision",
        ],
    )
    assert build_waterfall(pairs).empty


def test_unknown_master_suggests_close_ids(con):
    with pytest.raises(UnknownMasterError, match="Did you mean M1"):
        explain_master(con, "M11")
