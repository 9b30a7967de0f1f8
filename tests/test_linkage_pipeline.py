"""The match stage end to end on synthetic std_customers (a few hundred rows, real Splink)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from linkage_fixtures import make_context, make_std, write_std

from workbench.core.linkage import match_customers
from workbench.core.linkage.review_queue import save_decision
from workbench.presentation.splink_charts import save_splink_charts

NO_CHARTS = {"charts": {"enabled": False}}


def crosswalk(ctx) -> pd.DataFrame:
    with ctx.connect() as con:
        return con.execute("SELECT * FROM crosswalk ORDER BY record_key").df()


def table(ctx, name: str) -> pd.DataFrame:
    with ctx.connect() as con:
        return con.execute(f"SELECT * FROM {name}").df()


@pytest.fixture(scope="module")
def synthetic():
    return make_std(n_entities=50, seed=11)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, synthetic):
    std, truth = synthetic
    tmp = tmp_path_factory.mktemp("match")
    truth.to_csv(tmp / "truth.csv", index=False)
    ctx = make_context(tmp, {"ground_truth_path": "truth.csv"})
    write_std(ctx, std)
    return ctx, match_customers(ctx, chart_writer=save_splink_charts)


def test_crosswalk_has_every_row_once_with_contract_columns(first_run, synthetic):
    ctx, result = first_run
    std, _ = synthetic
    cw = crosswalk(ctx)
    assert list(cw.columns) == [
        "source",
        "source_id",
        "record_key",
        "master_id",
        "match_probability",
        "match_reason",
    ]
    assert sorted(cw["record_key"]) == sorted(std["record_key"])
    assert cw["record_key"].is_unique and cw["master_id"].notna().all()
    assert cw["master_id"].str.fullmatch(r"M\d{8}").all()
    singles = cw.groupby("master_id")["record_key"].transform("size") == 1
    assert (cw.loc[singles, "match_reason"] == "single").all()
    assert cw.loc[~singles, "match_reason"].isin(["model", "same_uscc", "same_email_phone_name"]).all()
    csv = pd.read_csv(result.files["crosswalk_csv"], dtype=str)
    assert csv["master_id"].tolist() == cw["master_id"].tolist()
    assert (
        pd.read_parquet(result.files["crosswalk_parquet"])["record_key"].tolist() == cw["record_key"].tolist()
    )
    assert result.metrics["crosswalk_rows"] == len(std)


def test_accuracy_against_ground_truth_and_metrics(first_run):
    ctx, result = first_run
    m = result.metrics
    # floors, not hard-coded values: the synthetic duplicates are easy, branches must stay apart
    assert m["gt_pairwise_f1"] >= 0.9
    assert m["gt_cluster_f1"] >= 0.9
    assert m["gt_cross_script_recall"] >= 0.75
    assert m["gt_group_members_false_merges"] == 0
    for key in (
        "pairs_scored",
        "pairs_above_threshold",
        "clusters",
        "master_records",
        "deterministic_matches",
    ):
        assert m[key] > 0, key
    assert m["review_items"] == m["review_pairs"] + m["review_clusters"]
    model = json.loads(result.files["model"].read_text(encoding="utf-8"))
    assert model["link_type"] == "link_and_dedupe"
    assert 0 < model["probability_two_random_records_match"] < 0.1
    assert m["prior_source"] == "deterministic rules"
    assert len(m["em_blocking_rules"]) >= 2


def test_match_pairs_and_review_queue_follow_the_contract(first_run):
    ctx, result = first_run
    pairs = table(ctx, "match_pairs")
    assert list(pairs.columns[:6]) == [
        "record_key_l",
        "record_key_r",
        "match_probability",
        "match_weight",
        "match_reason",
        "decision",
    ]
    assert (pairs["record_key_l"] < pairs["record_key_r"]).all()
    assert not pairs.duplicated(["record_key_l", "record_key_r"]).any()
    assert any(c.startswith("bf_") for c in pairs.columns)  # waterfall evidence for the explain view
    model = pairs[pairs["match_reason"] == "model"]
    assert ((model["decision"] == "match") == (model["match_probability"] >= 0.9)).all()
    queue = table(ctx, "review_queue")
    assert list(queue.columns) == [
        "item_id",
        "kind",
        "record_key_l",
        "record_key_r",
        "cluster_id",
        "match_probability",
        "match_weight",
        "reason",
    ]
    assert queue["item_id"].is_unique
    band = pairs[pairs["decision"] == "review"]
    assert len(queue[queue["kind"] == "pair"]) == len(band)


def test_rerun_gives_identical_ids_and_new_rows_keep_old_ids(tmp_path, synthetic):
    std, _ = synthetic
    ctx = make_context(tmp_path, NO_CHARTS)
    write_std(ctx, std)
    match_customers(ctx)
    before = crosswalk(ctx)
    match_customers(ctx)
    assert crosswalk(ctx)["master_id"].tolist() == before["master_id"].tolist()
    assert ctx.project.master_id_registry.exists()
    # new rows arrive (a bigger extract: new customers and new duplicates)
    bigger, _ = make_std(n_entities=60, seed=11)
    write_std(ctx, bigger)
    match_customers(ctx)
    after = crosswalk(ctx).set_index("record_key")
    old = before.set_index("record_key")["master_id"]
    same = after.loc[old.index, "master_id"] == old
    assert same.mean() >= 0.98, after.loc[old.index][~same]
    new_ids = set(after["master_id"]) - set(old)
    assert new_ids and min(new_ids) > max(old)


def test_different_valid_uscc_never_merge(tmp_path, synthetic):
    std, _ = synthetic
    std = std.copy()
    a, b = std.index[std["_source"] == "erp"][:2]
    # b copies a's e-mail, mobile and name core (the configured contact rule fires) but keeps its USCC
    for col in (
        "email",
        "email_local",
        "email_domain",
        "mobile",
        "mobile_e164",
        "mobile_all",
        "mobile_last8",
    ):
        std.loc[b, col] = std.loc[a, col]
    std.loc[b, "customer_name_core"] = std.loc[a, "customer_name_core"]
    assert std.loc[a, "uscc"] != std.loc[b, "uscc"]
    # the default rules are only same_<tax ID> (contact details are evidence, not a rule), so the
    # contact rule a migration team might add is configured here: it links a and b, and the
    # company-ID guard must still keep them apart
    rules = [
        {"name": "same_uscc", "columns": ["uscc__company"]},
        {"name": "same_email_mobile_name", "columns": ["email", "mobile_e164", "customer_name_core"]},
    ]
    ctx = make_context(tmp_path, {**NO_CHARTS, "deterministic_rules": rules})
    write_std(ctx, std)
    result = match_customers(ctx)
    cw = crosswalk(ctx).set_index("record_key")
    ka, kb = std.loc[a, "record_key"], std.loc[b, "record_key"]
    assert cw.loc[ka, "master_id"] != cw.loc[kb, "master_id"]
    queue = table(ctx, "review_queue")
    cluster_items = queue[queue["kind"] == "cluster"]
    assert not cluster_items.empty and cluster_items["reason"].str.contains("uscc").all()
    # the rule's link that would join b to a's part is the one cut (a star edge: a's group may be
    # linked through a's duplicate), and it goes to review naming both USCCs
    ua, ub = std.loc[a, "uscc"], std.loc[b, "uscc"]
    assert any(ua in r and ub in r and "company_id" in r for r in cluster_items["reason"])
    assert cluster_items[["record_key_l", "record_key_r"]].isin([kb]).any(axis=None)
    assert result.metrics["links_cut_by_guard"] >= 1
    assert result.metrics["guard_company_id_links_cut"] >= 1
    # no master record holds two different valid USCCs
    with ctx.connect() as con:
        bad = con.execute(
            "SELECT master_id FROM crosswalk JOIN std_customers USING (record_key) WHERE uscc IS NOT NULL "
            "GROUP BY master_id HAVING count(DISTINCT uscc) > 1"
        ).fetchall()
    assert bad == []


def test_labels_override_the_model_in_the_next_run(tmp_path, synthetic):
    std, _ = synthetic
    # every label held out (label_holdout_share 1): all of them measure the model, none trains it
    ctx = make_context(tmp_path, {**NO_CHARTS, "label_holdout_share": 1.0})
    write_std(ctx, std)
    match_customers(ctx)
    pairs = table(ctx, "match_pairs")
    merged = pairs[(pairs["match_reason"] == "model") & (pairs["decision"] == "match")].iloc[0]
    cw = crosswalk(ctx).set_index("record_key")
    singles = cw[cw.groupby("master_id")["master_id"].transform("size") == 1].index[:2]
    labels_path = ctx.config.base_dir / "review_labels.csv"
    save_decision(labels_path, merged["record_key_l"], merged["record_key_r"], "non_match", "qa")
    save_decision(labels_path, singles[0], singles[1], "match", "qa")
    result = match_customers(ctx)
    cw2 = crosswalk(ctx).set_index("record_key")
    assert cw2.loc[merged["record_key_l"], "master_id"] != cw2.loc[merged["record_key_r"], "master_id"]
    assert cw2.loc[singles[0], "master_id"] == cw2.loc[singles[1], "master_id"]
    assert cw2.loc[singles[0], "match_reason"] == "review:match"
    m = result.metrics
    assert m["labels_used"] == 2 and m["labels_held_out"] == 2
    # the model linked the non_match pair (FP) and did not link the match pair (FN)
    assert (m["label_fp"], m["label_fn"]) == (1, 1)
    assert m["label_precision"] == 0.0
    reasons = table(ctx, "match_pairs").set_index(["record_key_l", "record_key_r"])["match_reason"]
    assert reasons[(merged["record_key_l"], merged["record_key_r"])] == "review:non_match"


def test_charts_are_saved_offline(tmp_path, synthetic):
    std, _ = synthetic
    ctx = make_context(tmp_path, {"charts": {"waterfall_pairs": 5, "cluster_studio_clusters": 3}})
    write_std(ctx, std.head(60))
    result = match_customers(ctx, chart_writer=save_splink_charts)
    for name in ("match_weights", "m_u_parameters", "waterfall", "comparison_viewer", "cluster_studio"):
        html = result.files[name].read_text(encoding="utf-8")
        assert "<html" in html.lower(), name
        # nothing is loaded from the network when the file opens (scripts are inlined, no web fonts)
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html, re.I), name
        assert "fonts.googleapis.com" not in html, name


def test_charts_follow_the_chart_settings(tmp_path, synthetic):
    std, _ = synthetic
    ctx = make_context(tmp_path, NO_CHARTS)
    write_std(ctx, std.head(60))
    result = match_customers(ctx, chart_writer=save_splink_charts)
    assert set(result.files) == {"model", "crosswalk_csv", "crosswalk_parquet", "registry"}
    assert not ctx.paths.splink.joinpath("match_weights.html").exists()
    assert "seconds_charts" in result.metrics


def test_outputs_are_written_into_a_folder_with_an_apostrophe(tmp_path, synthetic):
    """COPY … TO quotes the path: a project folder such as ``O'Brien's data`` works."""
    std, _ = synthetic
    folder = tmp_path / "O'Brien's data"
    folder.mkdir()
    ctx = make_context(folder, NO_CHARTS)
    write_std(ctx, std.head(60))
    result = match_customers(ctx)
    assert "'" in str(result.files["crosswalk_csv"])
    cw = crosswalk(ctx)
    assert pd.read_csv(result.files["crosswalk_csv"], dtype=str)["record_key"].tolist() == cw["record_key"].tolist()
    assert pd.read_parquet(result.files["crosswalk_parquet"])["master_id"].tolist() == cw["master_id"].tolist()
    assert not list(result.files["crosswalk_csv"].parent.glob(".*part*"))  # no temporary file left


def test_demo_project_end_to_end_accuracy_floor(tmp_path):
    """The real pipeline on a small generated demo: config → ingest → standardize → match."""
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers
    from workbench.demo import generate_demo
    from workbench.project.context import open_run

    generate_demo(tmp_path, customers=150, seed=5)
    ctx = open_run(tmp_path / "workbench.yaml", tmp_path / "output" / "runs" / "t")
    with ctx.connect() as con:
        ingest_sources(ctx.config, con)
        standardize_customers(ctx.config, con)
        n_std = con.execute("SELECT count(*) FROM std_customers").fetchall()[0][0]
    assert ctx.config.match.ground_truth_path is not None  # the demo config names its ground truth
    result = match_customers(ctx)
    m = result.metrics
    assert m["crosswalk_rows"] == n_std
    # floors well under the measured figures (about 0.99): they catch a broken model, not noise
    assert m["gt_pairwise_f1"] >= 0.95, m
    assert m["gt_cluster_f1"] >= 0.95, m
    assert m["gt_group_members_false_merges"] <= 1, m


def test_summaries_and_figures_of_a_run(first_run):
    from workbench.core.linkage import summary
    from workbench.presentation.charts.linkage import (
        accuracy_figure,
        cluster_size_figure,
        embed_html,
        probability_figure,
    )

    ctx, result = first_run
    with ctx.connect(read_only=True) as con:
        decisions = summary.count_decisions(con)
        histogram = summary.probability_histogram(con)
        sizes = summary.cluster_sizes(con)
        largest = summary.list_largest_clusters(con, 3)
        n_pairs = con.execute("SELECT count(*) FROM match_pairs").fetchall()[0][0]
        n_rows = con.execute("SELECT count(*) FROM crosswalk").fetchall()[0][0]
    assert decisions["pairs"].sum() == n_pairs
    assert (sizes["members"] * sizes["master_records"]).sum() == n_rows
    assert largest["members"].max() == sizes["members"].max()
    fig = probability_figure(histogram, 0.9, 0.5, "en")
    assert sum(sum(t.y) for t in fig.data) == histogram["pairs"].sum()
    assert cluster_size_figure(sizes, "zh").data[0].y.tolist() == sizes["master_records"].tolist()
    table = summary.accuracy_table(result.accuracy)
    assert table.loc[table["scope"] == "pairwise", "f1"].item() == result.metrics["gt_pairwise_f1"]
    assert len(accuracy_figure(table, "en").data) == 3
    assert "iframe" in embed_html(result.files.get("match_weights")).data
    assert "not found" in embed_html(None, language="en").data


def test_strip_web_fonts_keeps_everything_else(tmp_path):
    from workbench.presentation.splink_charts import strip_web_fonts

    page = tmp_path / "dashboard.html"
    page.write_text(
        '<html><head><link href="https://fonts.googleapis.com/css?family=Roboto" rel="stylesheet">\n'
        '<link rel="preconnect" href="https://fonts.gstatic.com"><style>p {}</style></head>'
        "<body><p>华瑞</p></body></html>",
        encoding="utf-8",
    )
    strip_web_fonts(page)
    assert page.read_text(encoding="utf-8") == "<html><head><style>p {}</style></head><body><p>华瑞</p></body></html>"


def test_splink_api_wraps_an_open_connection():
    from workbench.engine.connection import connect
    from workbench.engine.splink_backend import create_engine, splink_api

    con = connect()
    con.execute("CREATE TABLE t AS SELECT 'a' AS record_key")
    api = splink_api(con)
    assert api.register("t").physical_name == "t"
    con.close()
    engine = create_engine()
    try:
        assert engine.db_api is not None and engine.con.execute("SELECT 1").fetchall() == [(1,)]
    finally:
        engine.close()
    with pytest.raises(ValueError, match="unknown linkage engine 'spark'"):
        create_engine("spark")
