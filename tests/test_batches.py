"""Batch plan: every golden record exactly once, rules from config, parents before children."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench.core.batches.plan import BatchPlanError, plan_batches, write_batch_plan
from workbench.engine.connection import connect
from workbench.project.settings.export import BatchRules

AS_OF = dt.date(2026, 11, 1)


def _golden() -> pd.DataFrame:
    rows = [
        # master, flags, is_test, status, parent, revenue, last activity, blacklist, vip
        ("M01", "", False, "active", None, 900.0, "2026-10-01", False, False),
        ("M02", "", False, "active", None, 500.0, "2026-09-01", False, False),
        ("M03", "", False, "active", None, 100.0, "2026-08-01", False, False),
        ("M04", "test", True, "active", None, 999.0, "2026-10-01", False, False),
        ("M05", "", False, "deregistered", None, 0.0, "2026-01-01", False, False),
        ("M06", "", False, "active", None, 0.0, "2023-01-01", False, False),  # dormant
        ("M07", "", False, "active", None, 0.0, "2025-03-01", False, False),  # 12..24 months: other
        ("M08", "", False, "active", None, 0.0, None, False, False),  # never active
        ("M09", "", False, "active", None, 50.0, "2026-10-01", True, False),  # blacklist
        ("M10", "", False, "active", None, 50.0, "2026-10-01", False, True),  # vip
        # group: parent M11 dormant, child M12 top revenue, grandchild M13 active
        ("M11", "", False, "active", None, 0.0, "2022-01-01", False, False),
        ("M12", "", False, "active", "M11", 800.0, "2026-10-01", False, False),
        ("M13", "", False, "active", "M12", 10.0, "2026-10-01", False, False),
        # child of an excluded parent stays in its batch with a note
        ("M14", "", False, "active", "M05", 10.0, "2026-10-01", False, False),
    ]
    cols = [
        "master_id",
        "flags",
        "is_test",
        "record_status",
        "parent_master_id",
        "activity_amount_12m",
        "last_activity_date",
        "blacklist",
        "vip",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["last_activity_date"] = pd.to_datetime(df["last_activity_date"]).dt.date
    return df.sample(frac=1.0, random_state=7)  # input order must not matter


def test_every_master_once_and_rules_applied():
    res = plan_batches(_golden(), BatchRules(top_revenue_n=2), AS_OF)
    plan = res.plan.set_index("master_id")
    assert sorted(plan.index) == sorted(_golden()["master_id"])
    assert plan.loc["M01", "batch"] == "01_top_revenue"
    assert plan.loc["M12", "batch"] == "01_top_revenue"  # 800 beats M02's 500
    assert plan.loc["M02", "batch"] == "02_active"
    assert plan.loc["M03", "batch"] == "02_active"
    assert plan.loc["M04", "batch"] == "excluded" and plan.loc["M04", "reason"] == "test"
    assert plan.loc["M05", "batch"] == "excluded" and plan.loc["M05", "reason"] == "deregistered"
    assert plan.loc["M06", "batch"] == "deferred_dormant"
    assert plan.loc["M07", "batch"] == "05_other"
    assert plan.loc["M08", "batch"] == "05_other" and plan.loc["M08", "reason"] == "no activity recorded"
    assert plan.loc["M09", "batch"] == "04_blacklist"
    assert plan.loc["M10", "batch"] == "03_vip"
    assert (plan["reason"] != "").all()


def test_parent_before_children():
    plan = plan_batches(_golden(), BatchRules(top_revenue_n=2), AS_OF).plan.set_index("master_id")
    # the dormant parent is pulled into the batch of its top-revenue child, one wave earlier
    assert plan.loc["M11", "batch"] == "01_top_revenue"
    assert "group parent of M12" in plan.loc["M11", "reason"]
    assert (plan.loc["M11", "wave"], plan.loc["M12", "wave"]) == (1, 2)
    # M13 stays active (batch 02) because its parent loads in an earlier batch
    assert plan.loc["M13", "batch"] == "02_active" and plan.loc["M13", "wave"] == 1
    assert "M05 is not loaded" in plan.loc["M14", "reason"]
    # parents never load after children
    order = plan["batch_order"] * 100 + plan["wave"]
    for child, parent in (("M12", "M11"), ("M13", "M12")):
        assert order[parent] < order[child]


def test_rules_come_from_config():
    rules = BatchRules(top_revenue_n=0, active_months=1, dormant_months=3, no_activity="dormant")
    plan = plan_batches(_golden(), rules, AS_OF).plan.set_index("master_id")
    assert (plan["batch"] == "01_top_revenue").sum() == 0
    assert plan.loc["M01", "batch"] == "02_active"  # 2026-10-01 is within 1 month
    assert plan.loc["M02", "batch"] == "05_other"  # 2 months: neither
    assert plan.loc["M08", "batch"] == "deferred_dormant"


def test_duplicate_master_is_refused():
    g = pd.concat([_golden(), _golden().head(1)])
    with pytest.raises(BatchPlanError, match="more than once"):
        plan_batches(g, BatchRules(), AS_OF)


def test_write_batch_plan_table_is_stable():
    res = plan_batches(_golden(), BatchRules(top_revenue_n=2), AS_OF)
    con = connect()
    write_batch_plan(con, res.plan)
    rows = con.sql("select * from batch_plan").fetchall()
    assert [d[0] for d in con.sql("select * from batch_plan").description] == [
        "master_id",
        "batch",
        "batch_order",
        "wave",
        "reason",
    ]
    assert len(rows) == 14
    again = plan_batches(_golden().sample(frac=1.0, random_state=1), BatchRules(top_revenue_n=2), AS_OF)
    pd.testing.assert_frame_equal(res.plan, again.plan)


def test_build_batch_plan_on_a_run_and_chart(tmp_path):
    from fixtures.export.helpers import make_run

    from workbench.core.batches.plan import build_batch_plan
    from workbench.presentation.charts.batches import batch_plan_figure

    ctx = make_run(tmp_path)
    res = build_batch_plan(ctx)
    con = ctx.connect()
    n_golden = con.sql("select count(*) from golden_customers").fetchall()[0][0]
    n_plan = con.sql("select count(distinct master_id), count(*) from batch_plan").fetchall()[0]
    con.close()
    assert n_plan == (n_golden, n_golden)
    assert (ctx.paths.tables / "batch_plan.csv").exists()
    m = res.metrics()
    assert m["masters"] == n_golden == m["to_load"] + m["deferred"] + m["excluded"]
    for language, word in (("zh", "批次"), ("en", "Batch plan")):
        fig = batch_plan_figure(res.plan, language)
        assert word in fig.layout.title.text
        shown = sum(sum(t.y) for t in fig.data)
        assert shown == n_golden  # every master is in the chart once


def test_parent_cycle_terminates():
    g = _golden()
    g.loc[g["master_id"] == "M01", "parent_master_id"] = "M02"
    g.loc[g["master_id"] == "M02", "parent_master_id"] = "M01"
    res = plan_batches(g, BatchRules(top_revenue_n=1), AS_OF)
    plan = res.plan.set_index("master_id")
    assert len(plan) == len(g)
    assert plan.loc["M02", "batch"] == "01_top_revenue"  # pulled forward as parent of M01
    assert any("cycle" in n for n in res.notes)
