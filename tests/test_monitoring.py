"""Run history (metrics, trends across runs) and the master-data change log."""

from __future__ import annotations

import pandas as pd
import pytest
from validation_fixtures import (
    build_run_tables,
    golden_frame,
    make_config,
    std_frame,
    write_generic_load_files,
)

from workbench.core.monitoring.history import (
    MasterEditError,
    apply_master_edit,
    collect_run_metrics,
    compare_runs,
    metric_trend,
    publish_master,
    read_change_log,
    read_history,
    record_run_metrics,
)
from workbench.core.validation.reconcile import reconcile_run
from workbench.engine.connection import connect
from workbench.presentation.charts.monitoring import (
    disposition_trend_figure,
    field_trend_figure,
    quality_trend_figure,
)
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths


@pytest.fixture
def project(tmp_path):
    config = make_config(tmp_path)
    con = connect()
    build_run_tables(con)
    write_generic_load_files(tmp_path, golden_frame(), con.sql("select * from load_rows").df())
    reconcile_run(con, config, tmp_path)
    yield config, con, tmp_path
    con.close()


def _metric(df, metric, field=""):
    sel = df[(df["metric"] == metric) & (df["field"] == field)]
    assert len(sel) == 1, (metric, field)
    return sel["value"].iloc[0]


def test_metrics_match_an_independent_computation(project) -> None:
    config, con, _ = project
    m = collect_run_metrics(con, config)
    golden, std = golden_frame(), std_frame()
    assert _metric(m, "completeness", "email") == pytest.approx(golden["email"].notna().mean())
    assert _metric(m, "completeness", "uscc") == pytest.approx(golden["uscc"].notna().mean())
    present = std["mobile_valid"].dropna().astype(bool)
    assert _metric(m, "validity", "mobile") == pytest.approx(present.mean())
    mob = golden["mobile"].dropna()
    assert _metric(m, "uniqueness", "mobile") == pytest.approx(mob.nunique() / len(mob))
    assert _metric(m, "match_rate") == pytest.approx(6 / 10)  # M001, M002, M005 hold two rows each
    assert _metric(m, "disposition", "quarantined") == 2 and _metric(m, "unaccounted_rows") == 0
    assert _metric(m, "load_failure_rate") == pytest.approx(1 / 5)  # M005 rejected, 4 loaded


def test_two_runs_show_a_trend(project) -> None:
    config, con, root = project
    ctx1 = RunContext(config, RunPaths(root / "runs" / "20260101-000000").ensure())
    hist = ctx1.project.run_history
    assert hist == config.output_dir / "history.duckdb"
    record_run_metrics(ctx1, con)
    con.execute("update golden_customers set email = 'new@x.cn' where master_id = 'M003'")
    ctx2 = RunContext(config, RunPaths(root / "runs" / "20260102-000000").ensure())
    record_run_metrics(ctx2, con)
    record_run_metrics(ctx2, con)  # recording a run again replaces its rows
    history = read_history(hist)
    assert sorted(history["run_id"].unique()) == ["20260101-000000", "20260102-000000"]
    assert history.groupby("run_id").size().nunique() == 1
    trend = metric_trend(history, "completeness")
    assert list(trend.index) == ["20260101-000000", "20260102-000000"]
    assert trend["email"].diff().iloc[-1] == pytest.approx(1 / 7)
    change = compare_runs(history)
    email = change[(change["metric"] == "completeness") & (change["field"] == "email")]
    assert email["change"].tolist() == [pytest.approx(1 / 7)]
    fig = field_trend_figure(history, "completeness", language="zh")
    email = [t for t in fig.data if t.name == "email"][0]
    assert list(email.x) == ["20260101-000000", "20260102-000000"] and email.y[1] > email.y[0]
    assert len(quality_trend_figure(history, "en").data[0].x) == 2
    assert {t.name for t in disposition_trend_figure(history, "en").data} >= {
        "loaded",
        "merged",
        "quarantined",
    }


def test_empty_history_gives_an_empty_chart(tmp_path) -> None:
    history = read_history(tmp_path / "none.duckdb")
    assert history.empty
    assert len(quality_trend_figure(history, "en").data) == 0


@pytest.fixture
def master(project, tmp_path):
    _, con, _ = project
    db = tmp_path / "history.duckdb"
    assert publish_master(db, con, "r1") == 7
    return db, con


@pytest.mark.parametrize("why", ["", "   ", None])
def test_an_edit_without_a_reason_is_refused(master, why) -> None:
    db, _ = master
    with pytest.raises(MasterEditError, match="give the reason"):
        apply_master_edit(db, "M001", "mobile", "13900000000", "alice", why)
    assert read_change_log(db).empty


def test_edits_are_logged_and_survive_republishing(master) -> None:
    db, con = master
    row = apply_master_edit(db, "M001", "mobile", "13900000000", "alice", "customer called, ticket 42")
    assert (row["before"], row["after"], row["who"]) == ("13800138001", "13900000000", "alice")
    log = read_change_log(db, "M001")
    assert log[["field", "before", "after", "why"]].values.tolist() == [
        ["mobile", "13800138001", "13900000000", "customer called, ticket 42"]
    ]
    publish_master(db, con, "r2")  # a new run's golden records still carry the old mobile
    check = connect(db, read_only=True)
    try:
        assert check.sql("select mobile from master_customers where master_id = 'M001'").fetchall() == [
            ("13900000000",)
        ]
    finally:
        check.close()


def test_unknown_master_or_field_is_named(master) -> None:
    db, _ = master
    with pytest.raises(MasterEditError, match="Did you mean 'mobile'"):
        apply_master_edit(db, "M001", "mobil", "1", "alice", "typo test")
    with pytest.raises(MasterEditError, match="no master record 'M999'"):
        apply_master_edit(db, "M999", "mobile", "1", "alice", "why not")
    with pytest.raises(MasterEditError, match="cannot edit field 'master_id'"):
        apply_master_edit(db, "M001", "master_id", "M2", "alice", "renumber")
    assert read_change_log(db).empty


def test_duplicate_check_finds_the_planted_copies(tmp_path) -> None:
    """New demo customers that copy existing ones get that customer's master ID; new ones get `new`."""
    from validation_fixtures import build_demo_run

    from workbench.core.monitoring.history import check_new_customers

    ctx = build_demo_run(tmp_path, through="golden")
    project = ctx.config.base_dir
    answers = check_new_customers(ctx.config.config_path, project / "new_customers.csv")
    truth = pd.read_csv(project / "ground_truth.csv", dtype=str)
    new = truth[truth["source"] == "new"].assign(row_number=lambda d: d["file_row"].astype(int))
    assert sorted(answers["row_number"]) == sorted(new["row_number"])  # every input row answered
    old = truth[truth["source"] != "new"].assign(record_key=lambda d: d["source"] + ":" + d["file_row"])
    con = connect(ctx.paths.warehouse, read_only=True)
    try:
        crosswalk = con.sql("select record_key, master_id from crosswalk").df()
    finally:
        con.close()
    masters = old.merge(crosswalk, on="record_key").groupby("entity_id")["master_id"].apply(set).to_dict()
    merged = new.merge(answers, on="row_number")
    copies = merged[merged["entity_id"].isin(masters)]
    fresh = merged[~merged["entity_id"].isin(masters)]
    assert len(copies) >= 5 and len(fresh) >= 3
    found = [r.decision == "existing" and r.master_id in masters[r.entity_id] for r in copies.itertuples()]
    assert sum(found) / len(copies) >= 0.85  # planted copies found with the right master
    wrong_master = [
        r.decision == "existing" and r.master_id not in masters[r.entity_id] for r in copies.itertuples()
    ]
    assert not any(wrong_master)
    assert (fresh["decision"] != "existing").mean() >= 0.85  # really new customers are not matched
    found_rows = answers[answers["decision"] == "existing"]
    assert found_rows["reason"].str.len().gt(0).all() and found_rows["match_probability"].ge(0.9).all()


def test_duplicate_check_reads_a_model_field_the_new_customers_lack(tmp_path) -> None:
    """The hard demo's model compares the member source's person ID; the new customers' file follows
    the ERP's columns, which have none: their side gets NULL and the model's helper columns exist."""
    from workbench.core.monitoring.history import _model_inputs
    from workbench.demo import generate_demo
    from workbench.project.config import load_config

    generate_demo(tmp_path / "hard", customers=60, seed=3, hard=True)
    config = load_config(tmp_path / "hard" / "workbench.yaml")
    con = connect()
    con.execute("CREATE TABLE std AS SELECT 'new:2' AS record_key, 'erp' AS _source, '华瑞科技' AS customer_name")
    con.execute("CREATE TABLE gold AS SELECT 'M1' AS master_id, '华瑞科技' AS customer_name, "
                "'11010519491231002X' AS id_number")
    types = {t: dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                                 f"WHERE table_name = '{t}'").fetchall()) for t in ("std", "gold")}
    model = {"comparisons": [{"comparison_levels": [
        {"sql_condition": '"id_number__id_l" = "id_number__id_r"'},
        {"sql_condition": '"customer_name_l" = "customer_name_r"'},
    ]}]}
    inputs = _model_inputs(model, config, types["std"], types["gold"])
    assert "id_number__id" in inputs.helpers
    new = con.execute(inputs.select(types["std"], "record_key", "new", "std")).df()
    gold = con.execute(inputs.select(types["gold"], "master_id", "golden", "gold")).df()
    con.close()
    assert new["id_number__id"].isna().all() and gold["id_number__id"].notna().all()
