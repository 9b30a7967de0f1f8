"""Match speed: the match stage against the same Splink settings run raw, on the same std table.

The demo project is generated, ingested and standardized (not timed in the ratio); then

- **workbench**: :func:`workbench.core.linkage.match_customers` (charts off): blocking analysis,
  deterministic rules, training, prediction, labels, clustering with the USCC guard, master IDs and
  registry, and the tables and files it writes;
- **raw Splink**: plain Splink calls on the same std_customers columns, with the settings the
  workbench built (its ``model.json``: same comparisons and blocking rules) and the same training
  calls (prior from the same rules, u with the same sample size and seed, the same EM passes),
  then ``predict`` and ``cluster_pairwise_predictions_at_threshold``.

The ratio workbench / raw is the workbench's overhead (goal ≤ 1.3×).

    .venv/bin/python benchmarks/bench_match_speed.py --customers 60000   # ≈ 100k rows
    .venv/bin/python benchmarks/bench_match_speed.py --customers 625000  # ≈ 1M rows
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from workbench.core.linkage import match_customers
from workbench.core.linkage.pipeline import plan_match_inputs, read_std_types
from workbench.engine.catalog import STD_CUSTOMERS
from workbench.engine.connection import connect
from workbench.engine.splink_backend import quiet_splink
from workbench.project.context import open_run


def prepare(folder: Path, customers: int, seed: int):
    """Generate, ingest and standardize the demo; returns the run and the times taken."""
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers
    from workbench.demo import generate_demo

    times = {}
    t0 = time.perf_counter()
    generate_demo(folder, customers=customers, seed=seed)
    times["generate"] = time.perf_counter() - t0
    ctx = open_run(folder / "workbench.yaml", folder / "output" / "runs" / "bench")
    t0 = time.perf_counter()
    with ctx.connect() as con:
        ingest_sources(ctx.config, con)
        times["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        standardize_customers(ctx.config, con)
        times["standardize"] = time.perf_counter() - t0
    return ctx, times


def untrained(model: dict) -> dict:
    """The settings as they were before training: trained m / u and the prior removed.

    (Starting from the trained values would let EM converge in one iteration, which is not what a
    plain Splink user pays.) Levels whose m is fixed by the settings keep it.
    """
    model = json.loads(json.dumps(model))
    model.pop("probability_two_random_records_match", None)
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("u_probability", None)
            if not level.get("fix_m_probability"):
                level.pop("m_probability", None)
    return model


def run_raw(ctx, model_path: Path, metrics: dict) -> tuple[float, int, int]:
    """Plain Splink on the same columns with the same settings and training calls.

    Returns:
        seconds, pairs predicted (at the review threshold), clusters.
    """
    from splink import DuckDBAPI, Linker
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    settings = ctx.config.match
    model = untrained(json.loads(model_path.read_text(encoding="utf-8")))
    t0 = time.perf_counter()
    inputs = plan_match_inputs(ctx.config, read_std_types(ctx))
    with ctx.connect(read_only=True) as wh:
        # the same columns and per-record helper columns (pinyin, phone lists …) the settings use
        table = wh.sql(inputs.select_sql(str(STD_CUSTOMERS))).to_arrow_table()
    con = connect()
    con.register("std_in", table)
    con.execute("CREATE TABLE std AS SELECT * FROM std_in")
    sources = [r[0] for r in con.execute("SELECT DISTINCT _source FROM std ORDER BY 1").fetchall()]
    db_api = DuckDBAPI(connection=con)
    frames = []
    for i, source in enumerate(sources):
        con.execute(f"CREATE VIEW s{i} AS SELECT * FROM std WHERE _source = '{source}'")
        frames.append(db_api.register(f"s{i}", dataset_display_name=source))
    linker = Linker(frames if len(frames) > 1 else frames[0], model, log_level=None)
    if metrics["prior_rules"]:
        linker.training.estimate_probability_two_random_records_match(
            metrics["prior_rules"], recall=settings.training.prior_recall
        )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=metrics["u_sample_pairs"],
        seed=settings.seed if settings.seed is not None else ctx.config.project.seed,
    )
    for rule in metrics["em_blocking_rules"]:
        if rule in metrics.get("em_failed_rules", []):
            continue
        linker.training.estimate_parameters_using_expectation_maximisation(
            {"blocking_rule": rule, "sql_dialect": "duckdb"}, max_pairs=settings.training.em_max_pairs
        )
    pred = linker.inference.predict(threshold_match_probability=settings.review_min_probability)
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes=db_api.register("std"),
        edges=pred,
        db_api=db_api,
        node_id_column_name="record_key",
        threshold_match_probability=settings.match_threshold,
    )
    n_pairs = int(con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchall()[0][0])
    n_clusters = int(
        con.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    )
    seconds = time.perf_counter() - t0
    con.close()
    return seconds, n_pairs, n_clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000, help="demo customers (≈ 1.6 rows each)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_splink()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "demo"
        ctx, prep = prepare(folder, args.customers, args.seed)
        print("prepared: " + ", ".join(f"{k} {v:.1f}s" for k, v in prep.items()))
        t0 = time.perf_counter()
        result = match_customers(ctx)
        ours = time.perf_counter() - t0
        m = result.metrics
        print(
            f"workbench match_customers: {m['records']:,} rows, {m['pairs_scored']:,} pairs scored, "
            f"{m['master_records']:,} master records in {ours:.1f}s"
        )
        print("  steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
        if "gt_pairwise_f1" in m:
            print(
                f"  accuracy against the demo ground truth: pairwise F1 {m['gt_pairwise_f1']:.4f} "
                f"(P {m['gt_pairwise_precision']:.4f}, R {m['gt_pairwise_recall']:.4f}), "
                f"cluster F1 {m['gt_cluster_f1']:.4f}"
            )
        ours_model = ours - result.timings.get("evaluate", 0.0)
        raw, n_pairs, n_clusters = run_raw(ctx, result.files["model"], m)
        print(
            f"raw Splink (same settings, same training calls): {n_pairs:,} pairs kept, {n_clusters:,} clusters in {raw:.1f}s"
        )
        print(f"ratio workbench / raw = {ours / raw:.2f}x (goal <= 1.3x)")
        if ours_model != ours:
            print(
                f"ratio without the accuracy evaluation (ground truth configured in the demo): "
                f"{ours_model / raw:.2f}x"
            )


if __name__ == "__main__":
    main()
