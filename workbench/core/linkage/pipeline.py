"""The match stage: ``std_customers`` in; ``match_pairs``, ``crosswalk`` and ``review_queue`` out.

Steps (each a function of this package):

1. plan the compared fields from their kinds, copy the needed columns into the engine;
2. deterministic rules → always-match pairs;
3. blocking rules chosen from the data (or from config);
4. Splink model (link_and_dedupe across all customer sources): prior from the deterministic pairs,
   u by seeded sampling, m by EM passes; saved as ``splink/model.json``;
5. scores of the blocked pairs; labels from the previous review override them;
6. clusters (connected components), split where they would join different valid tax IDs or a
   pair labelled ``non_match``; stable master IDs from the project's registry;
7. tables ``match_pairs``, ``crosswalk`` (also ``tables/crosswalk.csv`` / ``.parquet``) and
   ``review_queue``; Splink charts as HTML in ``splink/``; accuracy against a ground truth when one
   is configured.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.linkage import blocking, clusters, deterministic, evaluation, labels, master_ids, predict
from workbench.core.linkage.settings_builder import build_settings, helper_columns, plan_fields
from workbench.core.linkage.training import TrainingReport, clamp_weights, train_model
from workbench.engine.connection import table_exists
from workbench.engine.files import atomic_path, write_text_atomic
from workbench.engine.splink_backend import Engine, create_engine
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import Kind, ProjectConfig
from workbench.project.context import RunContext

log = logging.getLogger(__name__)

STD_TABLE = "std_customers"
RECORDS = "wb_records"
TYPE_COLUMN = "customer_type"  # B2B / B2C (std_customers contract)
MODELLED = "wb_modelled"  # the records the model sees: test records (is_test) are left out
LINEAGE = ("record_key", "_source", "source_id", "_row_hash")
MAX_RECORDS_WITHOUT_BLOCKING = 2_000  # all pairs of this many records are still cheap to score


class MatchError(WorkbenchError):
    """The match stage cannot run on this input (missing table or columns)."""


@dataclass
class MatchResult:
    """What the match stage produced.

    Attributes:
        metrics: the figures the notebook records (``ctx.record_metrics("match", …)``).
        blocking: every evaluated blocking rule with its pair count and whether it was used.
        files: name → path of the files written (model, charts, crosswalk).
        accuracy: the full evaluation result when a ground truth was configured.
    """

    metrics: dict[str, Any]
    blocking: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def registry_path_for(config: ProjectConfig) -> Path:
    """The master ID registry of a project."""
    configured = config.match.registry_path
    return config.resolve(configured) if configured else config.output_dir / "master_id_registry.parquet"


def _std_types(con: Any) -> dict[str, str]:
    if not table_exists(con, STD_TABLE):
        raise MatchError(f"table {STD_TABLE!r} is not in the run database; run the standardize stage first")
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [STD_TABLE],
    ).fetchall()
    types = {r[0]: str(r[1]) for r in rows}
    missing = [c for c in LINEAGE if c not in types]
    if missing:
        raise MatchError(
            f"{STD_TABLE} lacks the lineage column(s) {missing}; rerun the standardize stage "
            "(see docs/architecture.md)"
        )
    return types


def _parent_field(config: ProjectConfig) -> set[str]:
    # the group-parent reference is shared by group members: evidence of a group, not of identity
    try:
        from workbench.core.golden.survivorship import resolve_parent_field

        parent = resolve_parent_field(config)
    except WorkbenchError:
        parent = None
    return {parent} if parent else set()


def _recency_fields(config: ProjectConfig) -> set[str]:
    # dates that only tell how recent a record is (survivorship.recency_fields: created, modified)
    # differ between copies of one customer by nature: they are not evidence of identity
    return set(config.survivorship.recency_fields or [])


def _conflict_columns(config: ProjectConfig, types: dict[str, str]) -> list[str]:
    kinds = config.field_kinds()
    names = config.match.conflict_fields
    if names is None:
        names = [f for f, k in kinds.items() if k == Kind.TAX_ID]
    for name in names:
        if name not in types:
            raise MatchError(
                f"{config.config_path}: match.conflict_fields: std_customers has no column {name!r}"
            )
    return list(names)


@dataclass
class MatchInputs:
    """What the match stage reads from std_customers: compared fields, rules and their columns."""

    plans: list
    rules: list
    conflict_columns: list[str]
    columns: list[str]
    helpers: dict[str, str]

    def select_sql(self, table: str) -> str:
        """SQL reading the needed columns of `table` plus the per-record helper columns."""
        cols = [ident(c) for c in self.columns]
        cols += [f"{sql} AS {ident(name)}" for name, sql in self.helpers.items()]
        return f"SELECT {', '.join(cols)} FROM {table}"


def plan_match_inputs(config: ProjectConfig, std_types: dict[str, str]) -> MatchInputs:
    """The compared fields, deterministic rules, conflict fields and every std_customers column they need.

    Args:
        config: the project config.
        std_types: column → DuckDB type of std_customers.
    """
    plans = plan_fields(config, std_types, excluded=_parent_field(config) | _recency_fields(config))
    rules = deterministic.resolve_rules(config, plans, std_types)
    conflict_cols = _conflict_columns(config, std_types)
    needed = list(LINEAGE)
    for p in plans:
        needed += p.all_columns
    for r in rules:
        needed += r.columns
    needed += conflict_cols
    needed += [f"{c}_valid" for c in conflict_cols if f"{c}_valid" in std_types]
    needed += [c for c in ("is_test", TYPE_COLUMN) if c in std_types]
    return MatchInputs(plans, rules, conflict_cols, list(dict.fromkeys(needed)), helper_columns(plans))


def read_std_types(ctx: RunContext) -> dict[str, str]:
    """Column → DuckDB type of the run's std_customers (checked to have the lineage columns)."""
    with ctx.connect(read_only=True) as con:
        return _std_types(con)


def match_customers(ctx: RunContext, *, charts: bool | None = None) -> MatchResult:
    """Run the match stage on the run's ``std_customers``.

    Args:
        ctx: the run.
        charts: save the Splink charts (default: ``match.charts.enabled``).

    Returns:
        The metrics, the blocking rules and the files written.

    Raises:
        MatchError: std_customers is missing or lacks columns.
        workbench.core.linkage.settings_builder.MatchSettingsError: the `match:` section names unknown
            fields or columns.
    """
    config = ctx.config
    settings = config.match
    seed = settings.seed if settings.seed is not None else config.project.seed
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    with ctx.connect() as wh:
        inputs = plan_match_inputs(config, _std_types(wh))
        records = wh.sql(f"{inputs.select_sql(STD_TABLE)} ORDER BY record_key").to_arrow_table()
    lap("read")
    engine = create_engine()
    try:
        result = _match_in_engine(
            ctx,
            engine,
            records,
            inputs.plans,
            inputs.rules,
            inputs.conflict_columns,
            seed,
            timings,
            lap,
            charts,
        )
    finally:
        engine.close()
    result.timings = timings
    result.metrics.update({f"seconds_{k}": v for k, v in timings.items()})
    return result


def _match_in_engine(
    ctx: RunContext,
    engine: Engine,
    records: Any,
    plans: list,
    rules: list,
    conflict_cols: list[str],
    seed: int,
    timings: dict[str, float],
    lap: Any,
    charts: bool | None,
) -> MatchResult:
    from splink import Linker

    config = ctx.config
    settings = config.match
    con = engine.con
    con.register("__wb_in", records)
    con.execute(f"CREATE TABLE {RECORDS} AS SELECT * FROM __wb_in")
    con.unregister("__wb_in")
    n_records = int(con.execute(f"SELECT count(*) FROM {RECORDS}").fetchall()[0][0])
    if n_records == 0:
        raise MatchError(f"{STD_TABLE} is empty: nothing to match")
    dup = con.execute(
        f"SELECT record_key FROM {RECORDS} GROUP BY record_key HAVING count(*) > 1 LIMIT 5"
    ).fetchall()
    if dup:
        raise MatchError(f"{STD_TABLE}.record_key is not unique: {[d[0] for d in dup]}; rerun standardize")
    test_filter = "NOT coalesce(is_test, false)" if "is_test" in _columns(con, RECORDS) else "true"
    if config.match.match_test_records:
        test_filter = "true"
    con.execute(f"CREATE VIEW {MODELLED} AS SELECT * FROM {RECORDS} WHERE {test_filter}")
    n_test = n_records - int(con.execute(f"SELECT count(*) FROM {MODELLED}").fetchall()[0][0])
    sources = [r[0] for r in con.execute(f"SELECT DISTINCT _source FROM {MODELLED} ORDER BY 1").fetchall()]
    if n_records - n_test < 2:
        raise MatchError(
            f"{STD_TABLE} has {n_records - n_test} record(s) that are not test records: nothing to match"
        )

    # review labels of earlier runs (read first: a bad labels file stops the run before training)
    known = {r[0] for r in con.execute(f"SELECT record_key FROM {RECORDS}").fetchall()}
    labels_path = config.resolve(settings.labels_path)
    label_df, labels_unknown = labels.read_labels(labels_path, known)
    con.register("__wb_labels_df", label_df)
    con.execute("CREATE TABLE wb_labels AS SELECT * FROM __wb_labels_df")
    con.unregister("__wb_labels_df")

    # deterministic rules
    con.execute(f"CREATE TABLE wb_det AS {deterministic.deterministic_edges_sql(MODELLED, rules)}")
    n_det = int(con.execute("SELECT count(*) FROM wb_det").fetchall()[0][0])
    lap("deterministic")

    # blocking
    keys = blocking.blocking_keys(plans)
    choices = blocking.choose_blocking_rules(
        con,
        MODELLED,
        keys,
        pairs_per_record=settings.blocking_pairs_per_record,
        max_rules=settings.max_blocking_rules,
    )
    if settings.blocking_rules is not None:
        for c in choices:
            c.chosen = False
        prediction_rules = list(settings.blocking_rules)
    else:
        prediction_rules = [c.rule for c in choices if c.chosen]
    # the deterministic rules also generate pairs, so the model scores them too
    prediction_rules += [deterministic.rule_blocking_sql(r) for r in rules]
    prediction_rules = list(dict.fromkeys(prediction_rules))
    if not prediction_rules:
        if n_records > MAX_RECORDS_WITHOUT_BLOCKING:
            raise MatchError(
                f"no blocking rule fits: every compared field is empty or too common to block on "
                f"({len(keys)} key(s) tried). Map an identifying column (name, phone, e-mail, tax ID) "
                "or set match.blocking_rules"
            )
        log.warning(
            "no blocking rule fits; all %d record pairs are compared", n_records * (n_records - 1) // 2
        )
        prediction_rules = ["1 = 1"]
    lap("blocking")

    # model
    link_type = "link_and_dedupe" if len(sources) > 1 else "dedupe_only"
    splink_settings = build_settings(
        plans,
        prediction_rules,
        link_type=link_type,
        tf=settings.term_frequency_adjustments,
        overrides=settings.comparisons,
        type_column=TYPE_COLUMN if TYPE_COLUMN in _columns(con, RECORDS) else None,
    )
    inputs = []
    for i, source in enumerate(sources):
        view = f"wb_src_{i}"
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {MODELLED} WHERE _source = {_literal(source)}")
        inputs.append(engine.db_api.register(view, dataset_display_name=source))
    linker = Linker(inputs if len(inputs) > 1 else inputs[0], splink_settings, log_level=None)
    training = train_model(
        linker,
        choices=choices,
        deterministic_rules=[deterministic.rule_blocking_sql(r) for r in rules],
        deterministic_pairs=n_det,
        settings=settings.training,
        seed=seed,
        records=n_records - n_test,
    )
    model, clamped = clamp_weights(linker.misc.save_model_to_json(), settings.training.max_level_weight)
    if clamped:
        log.info(
            "%d level weight(s) bounded to ±%s bits: %s",
            len(clamped),
            settings.training.max_level_weight,
            "; ".join(clamped),
        )
        linker = Linker(inputs if len(inputs) > 1 else inputs[0], model, log_level=None)
    training.clamped = clamped
    ctx.paths.splink.mkdir(parents=True, exist_ok=True)
    model_path = ctx.paths.splink / "model.json"
    write_text_atomic(model_path, json.dumps(model, ensure_ascii=False, indent=2, default=str))
    lap("training")

    # scores
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    pairs_scored = int(con.execute(f"SELECT count(*) FROM {blocked.physical_name}").fetchall()[0][0])
    prediction = linker.inference.predict(threshold_match_probability=settings.review_min_probability)
    pred_cols = [c.unquote().name for c in prediction.columns]
    lap("predict")

    con.execute(
        "CREATE TABLE wb_pairs AS "
        + predict.match_pairs_sql(
            prediction.physical_name,
            pred_cols,
            "wb_det",
            "wb_labels",
            threshold=settings.match_threshold,
            review_min=settings.review_min_probability,
        )
    )
    label_scores = con.execute(
        "SELECT p.record_key_l, p.record_key_r, p.model_probability AS match_probability FROM wb_pairs p "
        "JOIN wb_labels USING (record_key_l, record_key_r)"
    ).df()
    label_metrics = labels.measure_against_labels(label_df, label_scores, settings.match_threshold)

    # clusters
    con.execute(
        "CREATE TABLE wb_edges AS SELECT record_key_l, record_key_r FROM wb_pairs WHERE decision = 'match'"
    )
    cc = clusters.connected_components(engine.db_api, RECORDS, "wb_edges")
    con.execute(f"CREATE TABLE wb_cc AS SELECT record_key, cluster_id FROM {cc.physical_name}")
    split_items = _guard_clusters(con, conflict_cols)
    split_items += _split_oversized(con, settings.max_cluster_size, settings.match_threshold)
    lap("cluster")

    # master IDs
    rec = con.execute(
        f"SELECT r.record_key, r._source, r.source_id, r._row_hash, c.cluster FROM {RECORDS} r "
        "JOIN wb_final c USING (record_key) ORDER BY r.record_key"
    ).df()
    rec["identity"] = master_ids.record_identities(rec)
    rec = rec.rename(columns={"_source": "source"})
    registry_path = registry_path_for(config)
    registry = master_ids.read_registry(registry_path)
    rec["master_id"], registry = master_ids.assign_master_ids(
        rec,
        registry,
        run_id=ctx.run_id,
        prefix=settings.master_id_prefix,
        digits=settings.master_id_digits,
    )
    con.register("__wb_master_df", rec[["record_key", "master_id"]])
    con.execute("CREATE TABLE wb_master AS SELECT * FROM __wb_master_df")
    con.unregister("__wb_master_df")
    _build_outputs(con, split_items, settings.max_cluster_size)
    lap("master_ids")

    # write
    files: dict[str, Path] = {"model": model_path}
    with ctx.connect() as wh:
        for table in ("match_pairs", "crosswalk", "review_queue"):
            arrow = con.sql(f"SELECT * FROM wb_{table}").to_arrow_table()
            wh.register("__wb_out", arrow)
            wh.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM __wb_out")
            wh.unregister("__wb_out")
        ctx.paths.tables.mkdir(parents=True, exist_ok=True)
        for fmt in ("csv", "parquet"):
            out = ctx.paths.tables / f"crosswalk.{fmt}"
            with atomic_path(out) as tmp:
                options = "(FORMAT csv, HEADER true)" if fmt == "csv" else "(FORMAT parquet)"
                wh.execute(f"COPY (SELECT * FROM crosswalk ORDER BY record_key) TO '{tmp}' {options}")
            files[f"crosswalk_{fmt}"] = out
    master_ids.write_registry(registry_path, registry)
    files["registry"] = registry_path
    lap("write")

    metrics = _metrics(con, n_records, sources, pairs_scored, n_det, training, settings)
    metrics.update({"labels_used": len(label_df), "labels_unknown_records": labels_unknown})
    metrics.update(label_metrics)
    metrics["blocking_rules"] = len(prediction_rules)
    metrics["test_records_not_matched"] = n_test
    metrics["link_type"] = link_type

    accuracy = None
    if settings.ground_truth_path:
        accuracy = _evaluate(con, config)
        metrics.update(evaluation.flatten_metrics(accuracy))
    lap("evaluate")

    if charts if charts is not None else settings.charts.enabled:
        files.update(_save_charts(ctx, linker, prediction, con))
    lap("charts")
    blocking_df = pd.DataFrame(
        [{"rule": c.name, "sql": c.rule, "pairs": c.pairs, "chosen": c.chosen} for c in choices],
        columns=["rule", "sql", "pairs", "chosen"],
    )
    return MatchResult(metrics=metrics, blocking=blocking_df, files=files, accuracy=accuracy)


def _guard_clusters(con: Any, conflict_cols: list[str]) -> list[dict[str, Any]]:
    """Split clusters that join conflicting records; writes ``wb_final(record_key, cluster)``."""
    value_sql = (
        " UNION ALL ".join(
            f"SELECT record_key, {_literal(c)} AS field, CAST({ident(c)} AS VARCHAR) AS value FROM {RECORDS} "
            f"WHERE {ident(c)} IS NOT NULL"
            + (f" AND {ident(c + '_valid')}" if c + "_valid" in _columns(con, RECORDS) else "")
            for c in conflict_cols
        )
        or "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS field, NULL::VARCHAR AS value WHERE false"
    )
    con.execute(f"CREATE TABLE wb_conflict_values AS {value_sql}")
    bad = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT c.cluster_id FROM wb_conflict_values v JOIN wb_cc c USING (record_key) "
            "GROUP BY c.cluster_id, v.field HAVING count(DISTINCT v.value) > 1 "
            "UNION SELECT DISTINCT a.cluster_id FROM wb_labels l JOIN wb_cc a ON a.record_key = l.record_key_l "
            "JOIN wb_cc b ON b.record_key = l.record_key_r WHERE l.label = 'non_match' AND a.cluster_id = b.cluster_id "
            "ORDER BY 1"
        ).fetchall()
    ]
    con.execute("CREATE TABLE wb_final AS SELECT record_key, cluster_id AS cluster FROM wb_cc")
    con.execute("CREATE TABLE wb_split (record_key_l VARCHAR, record_key_r VARCHAR, reason VARCHAR)")
    items: list[dict[str, Any]] = []
    if not bad:
        return items
    con.register("__wb_bad", pd.DataFrame({"cluster_id": bad}))
    members = con.execute(
        "SELECT c.cluster_id, c.record_key FROM wb_cc c JOIN __wb_bad USING (cluster_id) ORDER BY 1, 2"
    ).df()
    values = con.execute(
        "SELECT v.record_key, v.field, v.value FROM wb_conflict_values v JOIN wb_cc c USING (record_key) "
        "JOIN __wb_bad USING (cluster_id) ORDER BY 1, 2"
    ).df()
    edges = con.execute(
        "SELECT c.cluster_id, p.record_key_l, p.record_key_r, p.edge_rank, coalesce(p.match_probability, 0), "
        "coalesce(p.match_weight, 0) FROM wb_pairs p JOIN wb_cc c ON c.record_key = p.record_key_l "
        "JOIN __wb_bad USING (cluster_id) WHERE p.decision = 'match' ORDER BY 1, 2, 3"
    ).fetchall()
    cannot = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT record_key_l, record_key_r FROM wb_labels WHERE label = 'non_match'"
        ).fetchall()
    }
    con.unregister("__wb_bad")
    value_map: dict[str, dict[str, str]] = {}
    for k, f, v in values.itertuples(index=False):
        value_map.setdefault(k, {})[f] = v
    edges_by: dict[str, list[clusters.Edge]] = {}
    for cid, left, right, rank, prob, weight in edges:
        edges_by.setdefault(cid, []).append(clusters.Edge(left, right, int(rank), float(prob), float(weight)))
    new_rows = []
    for cid, group in members.groupby("cluster_id", sort=True):
        keys = group["record_key"].tolist()
        rep, rejected = clusters.split_conflicting(keys, edges_by.get(cid, []), value_map, cannot)
        new_rows += [(k, f"{cid}~{rep[k]}") for k in keys]
        for edge, reason in rejected:
            items.append({"record_key_l": edge.left, "record_key_r": edge.right, "reason": reason})
    log.warning(
        "%d cluster(s) would join records with different %s or labelled non_match; split (%d link(s) cut, "
        "sent to review)",
        len(bad),
        "/".join(conflict_cols) or "values",
        len(items),
    )
    con.register("__wb_new", pd.DataFrame(new_rows, columns=["record_key", "cluster"]))
    con.execute(
        "UPDATE wb_final SET cluster = n.cluster FROM __wb_new n WHERE wb_final.record_key = n.record_key"
    )
    con.unregister("__wb_new")
    if items:
        con.register("__wb_items", pd.DataFrame(items))
        con.execute("INSERT INTO wb_split SELECT record_key_l, record_key_r, reason FROM __wb_items")
        con.unregister("__wb_items")
        con.execute(
            "UPDATE wb_pairs SET decision = 'split' FROM wb_split s "
            "WHERE wb_pairs.record_key_l = s.record_key_l AND wb_pairs.record_key_r = s.record_key_r"
        )
    return items


def _split_oversized(con: Any, max_size: int, threshold: float) -> list[dict[str, Any]]:
    """Break clusters above `max_size` by raising the model-link threshold (see clusters.split_oversized)."""
    big = [
        r[0]
        for r in con.execute(
            "SELECT cluster FROM wb_final GROUP BY cluster HAVING count(*) > ? ORDER BY 1", [max_size]
        ).fetchall()
    ]
    if not big:
        return []
    # 1 - (1 - t) / 10^k: 0.9 → 0.99 → 0.999 …
    thresholds = tuple(1 - (1 - threshold) / 10**k for k in range(1, 6))
    con.register("__wb_big", pd.DataFrame({"cluster": big}))
    members = con.execute(
        "SELECT f.cluster, f.record_key FROM wb_final f JOIN __wb_big USING (cluster) ORDER BY 1, 2"
    ).df()
    edges = con.execute(
        "SELECT f.cluster, p.record_key_l, p.record_key_r, p.edge_rank, coalesce(p.match_probability, 0), "
        "coalesce(p.match_weight, 0) FROM wb_pairs p JOIN wb_final f ON f.record_key = p.record_key_l "
        "JOIN wb_final g ON g.record_key = p.record_key_r AND g.cluster = f.cluster "
        "JOIN __wb_big b ON b.cluster = f.cluster WHERE p.decision = 'match' ORDER BY 1, 2, 3"
    ).fetchall()
    con.unregister("__wb_big")
    by_cluster: dict[str, list[clusters.Edge]] = {}
    for cid, left, right, rank, prob, weight in edges:
        by_cluster.setdefault(cid, []).append(
            clusters.Edge(left, right, int(rank), float(prob), float(weight))
        )
    new_rows: list[tuple[str, str]] = []
    items: list[dict[str, Any]] = []
    for cid, group in members.groupby("cluster", sort=True):
        keys = group["record_key"].tolist()
        rep, dropped, used = clusters.split_oversized(keys, by_cluster.get(cid, []), max_size, thresholds)
        new_rows += [(k, f"{cid}^{rep[k]}") for k in keys]
        items += [{"record_key_l": e.left, "record_key_r": e.right, "reason": why} for e, why in dropped]
        log.warning(
            "cluster of %d records split with model threshold %s (%d links cut)",
            len(keys),
            used,
            len(dropped),
        )
    con.register("__wb_new", pd.DataFrame(new_rows, columns=["record_key", "cluster"]))
    con.execute(
        "UPDATE wb_final SET cluster = n.cluster FROM __wb_new n WHERE wb_final.record_key = n.record_key"
    )
    con.unregister("__wb_new")
    if items:
        con.register("__wb_items", pd.DataFrame(items))
        con.execute("INSERT INTO wb_split SELECT record_key_l, record_key_r, reason FROM __wb_items")
        con.unregister("__wb_items")
        con.execute(
            "UPDATE wb_pairs SET decision = 'split' FROM wb_split s "
            "WHERE wb_pairs.record_key_l = s.record_key_l AND wb_pairs.record_key_r = s.record_key_r"
        )
    return items


def _literal(text: str) -> str:
    # for the few places where a value cannot be bound (view definitions, UNION of constants)
    return "'" + str(text).replace("'", "''") + "'"


def _columns(con: Any, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _build_outputs(con: Any, split_items: list[dict[str, Any]], max_cluster_size: int) -> None:
    """``wb_match_pairs``, ``wb_crosswalk`` and ``wb_review_queue`` in the engine."""
    pair_extra = [c for c in _columns(con, "wb_pairs") if c.startswith(("gamma_", "mw_", "bf_"))]
    extra = "".join(f", {ident(c)}" for c in sorted(pair_extra))
    con.execute(
        "CREATE TABLE wb_match_pairs AS SELECT record_key_l, record_key_r, match_probability, match_weight, "
        f"match_reason, decision, model_probability{extra} FROM wb_pairs ORDER BY record_key_l, record_key_r"
    )
    # a record's probability and reason: its strongest kept link inside its master record
    con.execute(
        f"""
        CREATE TABLE wb_crosswalk AS
        WITH kept AS (
          SELECT p.* FROM wb_pairs p
          JOIN wb_master a ON a.record_key = p.record_key_l
          JOIN wb_master b ON b.record_key = p.record_key_r
          WHERE p.decision = 'match' AND a.master_id = b.master_id),
        ends AS (
          SELECT record_key_l AS record_key, edge_rank, match_probability, match_reason, record_key_r AS other FROM kept
          UNION ALL
          SELECT record_key_r, edge_rank, match_probability, match_reason, record_key_l FROM kept),
        best AS (
          SELECT record_key,
                 arg_max(match_probability, (edge_rank, coalesce(match_probability, 0), other)) AS match_probability,
                 arg_max(match_reason, (edge_rank, coalesce(match_probability, 0), other)) AS match_reason
          FROM ends GROUP BY record_key)
        SELECT r._source AS source, r.source_id, r.record_key, m.master_id,
               b.match_probability, coalesce(b.match_reason, 'single') AS match_reason
        FROM {RECORDS} r JOIN wb_master m USING (record_key) LEFT JOIN best b USING (record_key)
        ORDER BY r.record_key
        """
    )
    con.execute(
        f"""
        CREATE TABLE wb_review_queue AS
        WITH pairs AS (
          SELECT 'pair:' || record_key_l || '|' || record_key_r AS item_id, 'pair' AS kind,
                 record_key_l, record_key_r, NULL::VARCHAR AS cluster_id, match_probability, match_weight,
                 'uncertain: model probability ' || round(match_probability, 3) AS reason
          FROM wb_pairs WHERE decision = 'review'),
        splits AS (
          SELECT 'cluster:' || s.record_key_l || '|' || s.record_key_r AS item_id, 'cluster' AS kind,
                 s.record_key_l, s.record_key_r, m.master_id AS cluster_id, p.match_probability, p.match_weight,
                 'link cut: ' || s.reason AS reason
          FROM wb_split s JOIN wb_master m ON m.record_key = s.record_key_l
          LEFT JOIN wb_pairs p ON p.record_key_l = s.record_key_l AND p.record_key_r = s.record_key_r),
        sizes AS (
          SELECT master_id, count(*) AS n, list(record_key ORDER BY record_key) AS members
          FROM wb_master GROUP BY master_id HAVING count(*) > {int(max_cluster_size)}),
        large AS (
          SELECT 'cluster:' || master_id AS item_id, 'cluster' AS kind, members[1] AS record_key_l,
                 members[2] AS record_key_r, master_id AS cluster_id, NULL::DOUBLE AS match_probability,
                 NULL::DOUBLE AS match_weight, 'large cluster: ' || n || ' records' AS reason
          FROM sizes)
        SELECT * FROM pairs UNION ALL SELECT * FROM splits UNION ALL SELECT * FROM large
        ORDER BY kind DESC, item_id
        """
    )
    del split_items


def _metrics(
    con: Any,
    n_records: int,
    sources: list[str],
    pairs_scored: int,
    n_det: int,
    training: TrainingReport,
    settings: Any,
) -> dict[str, Any]:
    q = {
        "pairs_above_threshold": "SELECT count(*) FROM wb_pairs WHERE model_probability >= ?",
        "pairs_in_review_band": "SELECT count(*) FROM wb_pairs WHERE decision = 'review'",
        "links": "SELECT count(*) FROM wb_pairs WHERE decision = 'match'",
        "links_cut_by_guard": "SELECT count(*) FROM wb_pairs WHERE decision = 'split'",
        "master_records": "SELECT count(DISTINCT master_id) FROM wb_master",
        "clusters": "SELECT count(*) FROM (SELECT master_id FROM wb_master GROUP BY 1 HAVING count(*) > 1)",
        "records_merged": "SELECT count(*) FROM wb_crosswalk WHERE match_reason <> 'single'",
        "largest_cluster": "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM wb_master GROUP BY master_id)",
        "review_items": "SELECT count(*) FROM wb_review_queue",
        "review_pairs": "SELECT count(*) FROM wb_review_queue WHERE kind = 'pair'",
        "review_clusters": "SELECT count(*) FROM wb_review_queue WHERE kind = 'cluster'",
        "crosswalk_rows": "SELECT count(*) FROM wb_crosswalk",
    }
    out: dict[str, Any] = {"records": n_records, "sources": len(sources), "pairs_scored": pairs_scored}
    for name, sql in q.items():
        params = [settings.match_threshold] if "?" in sql else []
        out[name] = int(con.execute(sql, params).fetchall()[0][0])
    out["deterministic_matches"] = n_det
    out["match_threshold"] = settings.match_threshold
    out["review_min_probability"] = settings.review_min_probability
    out.update(training.as_metrics())
    return out


def _evaluate(con: Any, config: ProjectConfig) -> dict[str, Any]:
    settings = config.match
    assert settings.ground_truth_path is not None
    truth = evaluation.read_ground_truth(
        config.resolve(settings.ground_truth_path), settings.ground_truth_entity_column
    )
    truth = truth.rename(columns={settings.ground_truth_entity_column: "entity_id"})
    if "record_key" not in truth.columns:
        keys = con.execute(f"SELECT _source AS source, source_id, record_key FROM {RECORDS}").df()
        truth = truth.merge(keys, on=["source", "source_id"], how="inner")
    con.register("__wb_truth_df", truth)
    con.execute("CREATE OR REPLACE TABLE wb_truth AS SELECT * FROM __wb_truth_df")
    con.unregister("__wb_truth_df")
    return evaluation.evaluate_clusters(con, "wb_master", "wb_truth", hard_cases=settings.hard_cases)


_WEB_FONT_LINK = re.compile(r"<link[^>]*fonts\.(?:googleapis|gstatic)\.com[^>]*>\s*", re.IGNORECASE)


def _strip_web_fonts(path: Path) -> None:
    # Splink's dashboards link Google Fonts, which would call a third party each time they open;
    # without the links the system font is used and the file opens fully offline
    text = path.read_text(encoding="utf-8")
    write_text_atomic(path, _WEB_FONT_LINK.sub("", text))


def _save_charts(ctx: RunContext, linker: Any, prediction: Any, con: Any) -> dict[str, Path]:
    """Splink's charts as self-contained HTML (scripts inlined: they open offline)."""
    cs = ctx.config.match.charts
    out: dict[str, Path] = {}
    folder = ctx.paths.splink
    charts = {
        "match_weights": linker.visualisations.match_weights_chart,
        "m_u_parameters": linker.visualisations.m_u_parameters_chart,
    }
    for name, make in charts.items():
        path = folder / f"{name}.html"
        write_text_atomic(path, make().to_html(inline=True))
        out[name] = path
    n = cs.waterfall_pairs
    if n:
        records = con.execute(
            f"SELECT * FROM {prediction.physical_name} ORDER BY abs(match_probability - 0.5), "
            f"record_key_l, record_key_r LIMIT {int(n)}"
        ).df()
        if not records.empty:
            recs = json.loads(records.to_json(orient="records", date_format="iso"))
            path = folder / "waterfall.html"
            write_text_atomic(path, linker.visualisations.waterfall_chart(recs).to_html(inline=True))
            out["waterfall"] = path
    if cs.comparison_viewer_pairs:
        path = folder / "comparison_viewer.html"
        with atomic_path(path) as tmp:
            linker.visualisations.comparison_viewer_dashboard(
                prediction, str(tmp), overwrite=True, num_example_rows=cs.comparison_viewer_pairs
            )
        _strip_web_fonts(path)
        out["comparison_viewer"] = path
    if cs.cluster_studio_clusters:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT master_id FROM wb_master GROUP BY master_id HAVING count(*) > 1 "
                f"ORDER BY count(*) DESC, master_id LIMIT {int(cs.cluster_studio_clusters)}"
            ).fetchall()
        ]
        if ids:
            con.execute(
                f"CREATE OR REPLACE TABLE wb_clustered AS SELECT m.master_id AS cluster_id, r.* "
                f"FROM {RECORDS} r JOIN wb_master m USING (record_key)"
            )
            clustered = linker._db_api.register("wb_clustered")
            path = folder / "cluster_studio.html"
            with atomic_path(path) as tmp:
                linker.visualisations.cluster_studio_dashboard(
                    prediction, clustered, str(tmp), cluster_ids=ids, overwrite=True
                )
            _strip_web_fonts(path)
            out["cluster_studio"] = path
    return out
