"""The match stage: ``std_customers`` in; ``match_pairs``, ``crosswalk`` and ``review_queue`` out.

:func:`match_customers` runs these steps, each a small function of this package, on the scratch
tables of :mod:`workbench.core.linkage.scratch` inside Splink's own in-memory engine:

1. :func:`plan_match_inputs`: the compared fields from their kinds; :func:`load_records` copies the
   needed columns into the engine; :func:`load_labels` the review labels of earlier runs;
2. :func:`find_deterministic_pairs`: deterministic rules → always-match pairs;
3. :func:`choose_prediction_rules`: blocking rules chosen from the data (or from config);
4. :func:`train_linker`: the Splink model (link_and_dedupe across all customer sources): prior from
   the deterministic pairs, u by seeded sampling, m by EM passes; saved as ``splink/model.json``;
5. :func:`score_pairs` and :func:`decide_pairs`: scores of the blocked pairs; labels from the
   previous review override them;
6. :func:`build_clusters`: connected components, split where they would join different valid tax
   IDs or a pair labelled ``non_match``, or where they grow too large;
7. :func:`assign_masters`: stable master IDs from the project's registry;
8. :func:`build_outputs` and :func:`write_outputs`: the tables ``match_pairs``, ``crosswalk``
   (also ``tables/crosswalk.csv`` / ``.parquet``) and ``review_queue``; accuracy against a ground
   truth when one is configured.

Splink's own charts are not drawn here: the caller may pass a `chart_writer` (the match stage passes
:func:`workbench.presentation.splink_charts.save_splink_charts`), which is handed the trained linker
and its predictions as a :class:`ScoredModel` while the engine is still open.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.core.linkage import blocking, clusters, deterministic, evaluation, labels, master_ids, predict
from workbench.core.linkage.scratch import (
    CLUSTERED,
    CLUSTERS,
    DETERMINISTIC,
    LABELS,
    MASTERS,
    MODELLED,
    OUTPUTS,
    PAIRS,
    RECORDS,
    SPLIT,
    TRUTH,
    source_view,
)
from workbench.core.linkage.settings_builder import MatchField, build_settings, helper_columns, plan_fields
from workbench.core.linkage.training import TrainingReport, clamp_weights, train_model
from workbench.engine.catalog import CROSSWALK, MATCH_PAIRS, REVIEW_QUEUE, STD_CUSTOMERS, temp
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.files import atomic_path, write_text_atomic
from workbench.engine.splink_backend import Engine, create_engine
from workbench.engine.sql import copy_to, ident, literal
from workbench.errors import WorkbenchError
from workbench.project.config import Kind, ProjectConfig
from workbench.project.context import RunContext
from workbench.project.settings.match import DeterministicRule, MatchSettings

log = logging.getLogger(__name__)

TYPE_COLUMN = "customer_type"  # B2B / B2C (std_customers contract)
LINEAGE = ("record_key", "_source", "source_id", "_row_hash")
MAX_RECORDS_WITHOUT_BLOCKING = 2_000  # all pairs of this many records are still cheap to score
CROSSWALK_FILES = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet"}  # tables/crosswalk.<ext>


class MatchError(WorkbenchError):
    """The match stage cannot run on this input (missing table or columns)."""


@dataclass
class MatchResult:
    """What the match stage produced.

    Attributes:
        metrics: the figures the stage records (``metrics/match.json``).
        blocking: every evaluated blocking rule with its pair count and whether it was used.
        files: name → path of the files written (model, crosswalk, registry, and the charts of the
            `chart_writer`).
        accuracy: the full evaluation result when a ground truth was configured.
        timings: seconds per step.
    """

    metrics: dict[str, Any]
    blocking: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class ScoredModel:
    """The trained linker and its scored pairs, while the match engine is open.

    This is what Splink draws its charts from; a `chart_writer` of :func:`match_customers` gets it,
    and it is valid only during that call (the engine closes when the match ends).

    Attributes:
        linker: the trained ``splink.Linker``.
        predictions: the Splink dataframe of the scored pairs.
        db_api: the Splink database API of the engine.
        con: the engine's connection.
    """

    linker: Any
    predictions: Any
    db_api: Any
    con: duckdb.DuckDBPyConnection

    def pairs_nearest_even(self, n: int) -> list[dict[str, Any]]:
        """The `n` scored pairs whose probability is closest to 0.5 (ties by record keys), as JSON records."""
        records = self.con.execute(
            f"SELECT * FROM {self.predictions.physical_name} ORDER BY abs(match_probability - 0.5), "
            f"record_key_l, record_key_r LIMIT {int(n)}"
        ).df()
        if records.empty:
            return []
        rows: list[dict[str, Any]] = json.loads(records.to_json(orient="records", date_format="iso"))
        return rows

    def largest_cluster_ids(self, n: int) -> list[str]:
        """The master IDs of the `n` largest merged clusters (ties by master ID)."""
        return [
            r[0]
            for r in self.con.execute(
                f"SELECT master_id FROM {MASTERS} GROUP BY master_id HAVING count(*) > 1 "
                f"ORDER BY count(*) DESC, master_id LIMIT {int(n)}"
            ).fetchall()
        ]

    def register_clusters(self) -> Any:
        """Every record with its master ID as ``cluster_id``, registered with Splink (cluster studio)."""
        self.con.execute(
            f"CREATE OR REPLACE TABLE {CLUSTERED} AS SELECT m.master_id AS cluster_id, r.* "
            f"FROM {RECORDS} r JOIN {MASTERS} m USING (record_key)"
        )
        return self.db_api.register(CLUSTERED)


ChartWriter = Callable[[RunContext, ScoredModel], dict[str, Path]]


@dataclass
class MatchInputs:
    """What the match stage reads from std_customers: compared fields, rules and their columns."""

    plans: list[MatchField]
    rules: list[DeterministicRule]
    conflict_columns: list[str]
    columns: list[str]
    helpers: dict[str, str]

    def select_sql(self, table: str) -> str:
        """SQL reading the needed columns of `table` plus the per-record helper columns."""
        cols = [ident(c) for c in self.columns]
        cols += [f"{sql} AS {ident(name)}" for name, sql in self.helpers.items()]
        return f"SELECT {', '.join(cols)} FROM {table}"


@dataclass
class _Facts:
    """What the steps found on the way, for the metrics."""

    records: int = 0
    test_records: int = 0
    sources: list[str] = field(default_factory=list)
    labels_used: int = 0
    labels_unknown: int = 0
    deterministic_pairs: int = 0
    prediction_rules: int = 0
    link_type: str = ""
    pairs_scored: int = 0
    label_metrics: dict[str, Any] = field(default_factory=dict)
    training: TrainingReport = field(default_factory=TrainingReport)


@dataclass
class _Clock:
    """Seconds per step, each lap measured from the end of the previous one."""

    start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap as step `name`."""
        self.timings[name] = round(time.perf_counter() - self.start - sum(self.timings.values()), 3)


# --------------------------------------------------------------------------------------------
# the stage


def match_customers(ctx: RunContext, *, chart_writer: ChartWriter | None = None) -> MatchResult:
    """Run the match stage on the run's ``std_customers``.

    Args:
        ctx: the run.
        chart_writer: draws Splink's charts from the trained model while the engine is open and
            returns the files it wrote (they join ``result.files``); None: no charts.

    Returns:
        The metrics, the blocking rules and the files written.

    Raises:
        MatchError: std_customers is missing or lacks columns.
        workbench.core.linkage.settings_builder.MatchSettingsError: the `match:` section names unknown
            fields or columns.
    """
    clock = _Clock()
    with ctx.connect() as wh:
        inputs = plan_match_inputs(ctx.config, _std_types(wh))
        records = wh.sql(f"{inputs.select_sql(str(STD_CUSTOMERS))} ORDER BY record_key").to_arrow_table()
    clock.lap("read")
    engine = create_engine()
    try:
        result = _match_in_engine(ctx, engine, records, inputs, clock, chart_writer)
    finally:
        engine.close()
    result.timings = clock.timings
    result.metrics.update({f"seconds_{k}": v for k, v in clock.timings.items()})
    return result


def _match_in_engine(
    ctx: RunContext,
    engine: Engine,
    records: Any,
    inputs: MatchInputs,
    clock: _Clock,
    chart_writer: ChartWriter | None,
) -> MatchResult:
    """The steps of the module docstring, in order, inside the engine."""
    settings = ctx.config.match
    con = engine.con
    facts = load_records(con, records, match_test_records=settings.match_test_records)
    label_df, facts.labels_unknown = load_labels(con, ctx.project.review_labels)
    facts.labels_used = len(label_df)
    facts.deterministic_pairs = find_deterministic_pairs(con, inputs.rules)
    clock.lap("deterministic")
    choices, prediction_rules = choose_prediction_rules(con, inputs, settings, facts.records)
    facts.prediction_rules = len(prediction_rules)
    clock.lap("blocking")
    linker = train_linker(ctx, engine, inputs, facts, choices, prediction_rules)
    model_path = ctx.paths.model
    clock.lap("training")
    prediction, facts.pairs_scored = score_pairs(con, linker, settings)
    clock.lap("predict")
    facts.label_metrics = decide_pairs(con, prediction, label_df, settings)
    build_clusters(con, engine.db_api, inputs.conflict_columns, settings)
    clock.lap("cluster")
    registry = assign_masters(con, ctx)
    build_outputs(con, settings.max_cluster_size)
    clock.lap("master_ids")
    files = write_outputs(ctx, con, model_path, registry)
    clock.lap("write")
    metrics = _metrics(con, facts, settings)
    accuracy = None
    if settings.ground_truth_path:
        accuracy = _evaluate(con, ctx)
        metrics.update(evaluation.flatten_metrics(accuracy))
    clock.lap("evaluate")
    if chart_writer is not None:
        files.update(chart_writer(ctx, ScoredModel(linker, prediction, engine.db_api, con)))
    clock.lap("charts")
    return MatchResult(metrics=metrics, blocking=_blocking_table(choices), files=files, accuracy=accuracy)


# --------------------------------------------------------------------------------------------
# 1. inputs


def read_std_types(ctx: RunContext) -> dict[str, str]:
    """Column → DuckDB type of the run's std_customers (checked to have the lineage columns)."""
    with ctx.connect(read_only=True) as con:
        return _std_types(con)


def _std_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not table_exists(con, STD_CUSTOMERS.name):
        raise MatchError(
            f"table {STD_CUSTOMERS.name!r} is not in the run database; run the standardize stage first"
        )
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [STD_CUSTOMERS.name],
    ).fetchall()
    types = {r[0]: str(r[1]) for r in rows}
    missing = [c for c in LINEAGE if c not in types]
    if missing:
        raise MatchError(
            f"{STD_CUSTOMERS} lacks the lineage column(s) {missing}; rerun the standardize stage "
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
                f"{config.config_path}: match.conflict_fields: {STD_CUSTOMERS} has no column {name!r}"
            )
    return list(names)


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


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def load_records(con: duckdb.DuckDBPyConnection, records: Any, *, match_test_records: bool) -> _Facts:
    """Copy the records into ``RECORDS``; ``MODELLED`` is the view of those the model sees.

    Args:
        con: the engine's connection.
        records: the Arrow table of the needed std_customers columns.
        match_test_records: also model the records flagged ``is_test``.

    Returns:
        The record counts and the sources (in name order).

    Raises:
        MatchError: no records, a record_key that is not unique, or fewer than two records to match.
    """
    with registered(con, temp("in"), records) as incoming:
        con.execute(f"CREATE TABLE {RECORDS} AS SELECT * FROM {incoming}")
    n_records = _count(con, RECORDS)
    if n_records == 0:
        raise MatchError(f"{STD_CUSTOMERS} is empty: nothing to match")
    dup = con.execute(
        f"SELECT record_key FROM {RECORDS} GROUP BY record_key HAVING count(*) > 1 LIMIT 5"
    ).fetchall()
    if dup:
        raise MatchError(
            f"{STD_CUSTOMERS}.record_key is not unique: {[d[0] for d in dup]}; rerun standardize"
        )
    has_test_flag = "is_test" in table_columns(con, RECORDS)
    test_filter = "NOT coalesce(is_test, false)" if has_test_flag and not match_test_records else "true"
    con.execute(f"CREATE VIEW {MODELLED} AS SELECT * FROM {RECORDS} WHERE {test_filter}")
    n_test = n_records - _count(con, MODELLED)
    sources = [r[0] for r in con.execute(f"SELECT DISTINCT _source FROM {MODELLED} ORDER BY 1").fetchall()]
    if n_records - n_test < 2:
        raise MatchError(
            f"{STD_CUSTOMERS} has {n_records - n_test} record(s) that are not test records: nothing to match"
        )
    return _Facts(records=n_records, test_records=n_test, sources=sources)


def load_labels(con: duckdb.DuckDBPyConnection, labels_path: Path) -> tuple[pd.DataFrame, int]:
    """``LABELS``: the review labels of earlier runs that name records of this run.

    Read before training, so a bad labels file stops the run early.

    Returns:
        The labels and how many labels named unknown records.
    """
    known = {r[0] for r in con.execute(f"SELECT record_key FROM {RECORDS}").fetchall()}
    label_df, unknown = labels.read_labels(labels_path, known)
    with registered(con, temp("labels_df"), label_df) as frame:
        con.execute(f"CREATE TABLE {LABELS} AS SELECT * FROM {frame}")
    return label_df, unknown


# --------------------------------------------------------------------------------------------
# 2.–3. deterministic rules and blocking


def find_deterministic_pairs(con: duckdb.DuckDBPyConnection, rules: list[DeterministicRule]) -> int:
    """``DETERMINISTIC``: the star edges of every deterministic rule; returns their number."""
    con.execute(f"CREATE TABLE {DETERMINISTIC} AS {deterministic.deterministic_edges_sql(MODELLED, rules)}")
    return _count(con, DETERMINISTIC)


def choose_prediction_rules(
    con: duckdb.DuckDBPyConnection, inputs: MatchInputs, settings: MatchSettings, n_records: int
) -> tuple[list[blocking.BlockingChoice], list[str]]:
    """The blocking rules that generate the pairs to score (chosen from the data unless configured).

    The deterministic rules are added, so the model scores their pairs too.

    Returns:
        Every evaluated candidate (``chosen`` marks the rules used) and the Splink SQL rules.

    Raises:
        MatchError: no rule fits and there are too many records to compare all pairs.
    """
    keys = blocking.blocking_keys(inputs.plans)
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
        rules = list(settings.blocking_rules)
    else:
        rules = [c.rule for c in choices if c.chosen]
    rules += [deterministic.rule_blocking_sql(r) for r in inputs.rules]
    rules = list(dict.fromkeys(rules))
    if rules:
        return choices, rules
    if n_records > MAX_RECORDS_WITHOUT_BLOCKING:
        raise MatchError(
            f"no blocking rule fits: every compared field is empty or too common to block on "
            f"({len(keys)} key(s) tried). Map an identifying column (name, phone, e-mail, tax ID) "
            "or set match.blocking_rules"
        )
    log.warning("no blocking rule fits; all %d record pairs are compared", n_records * (n_records - 1) // 2)
    return choices, ["1 = 1"]


def _blocking_table(choices: list[blocking.BlockingChoice]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"rule": c.name, "sql": c.rule, "pairs": c.pairs, "chosen": c.chosen} for c in choices],
        columns=["rule", "sql", "pairs", "chosen"],
    )


# --------------------------------------------------------------------------------------------
# 4. the model


def _register_sources(con: duckdb.DuckDBPyConnection, db_api: Any, sources: list[str]) -> list[Any]:
    """One Splink input per source: a view of its modelled records, shown under the source's name."""
    inputs = []
    for i, source in enumerate(sources):
        view = source_view(i)
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {MODELLED} WHERE _source = {literal(source)}")
        inputs.append(db_api.register(view, dataset_display_name=source))
    return inputs


def _new_linker(inputs: list[Any], settings: dict[str, Any] | str) -> Any:
    from splink import Linker

    return Linker(inputs if len(inputs) > 1 else inputs[0], settings, log_level=None)


def train_linker(
    ctx: RunContext,
    engine: Engine,
    inputs: MatchInputs,
    facts: _Facts,
    choices: list[blocking.BlockingChoice],
    prediction_rules: list[str],
) -> Any:
    """Build the Splink model, train it, bound its weights and save it (``RunPaths.model``).

    Sets ``facts.link_type`` and ``facts.training``.

    Returns:
        The trained linker.
    """
    config = ctx.config
    settings = config.match
    facts.link_type = "link_and_dedupe" if len(facts.sources) > 1 else "dedupe_only"
    splink_settings = build_settings(
        inputs.plans,
        prediction_rules,
        link_type=facts.link_type,
        tf=settings.term_frequency_adjustments,
        overrides=settings.comparisons,
        type_column=TYPE_COLUMN if TYPE_COLUMN in table_columns(engine.con, RECORDS) else None,
    )
    sources = _register_sources(engine.con, engine.db_api, facts.sources)
    linker = _new_linker(sources, splink_settings)
    deterministic_rules = [deterministic.rule_blocking_sql(r) for r in inputs.rules]
    facts.training = train_model(
        linker,
        choices=choices,
        deterministic_rules=deterministic_rules,
        deterministic_pairs=facts.deterministic_pairs,
        settings=settings.training,
        seed=settings.seed if settings.seed is not None else config.project.seed,
        records=facts.records - facts.test_records,
    )
    limit = settings.training.max_level_weight
    model, clamped = clamp_weights(linker.misc.save_model_to_json(), limit)
    if clamped:
        log.info("%d level weight(s) bounded to ±%s bits: %s", len(clamped), limit, "; ".join(clamped))
        linker = _new_linker(sources, model)
    facts.training.clamped = clamped
    write_text_atomic(ctx.paths.model, json.dumps(model, ensure_ascii=False, indent=2, default=str))
    return linker


# --------------------------------------------------------------------------------------------
# 5. scores and decisions


def score_pairs(con: duckdb.DuckDBPyConnection, linker: Any, settings: MatchSettings) -> tuple[Any, int]:
    """Score the blocked pairs (those from the review band up are kept).

    Returns:
        Splink's predictions and how many pairs the blocking rules generated.
    """
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    pairs_scored = _count(con, blocked.physical_name)
    prediction = linker.inference.predict(threshold_match_probability=settings.review_min_probability)
    return prediction, pairs_scored


def decide_pairs(
    con: duckdb.DuckDBPyConnection, prediction: Any, label_df: pd.DataFrame, settings: MatchSettings
) -> dict[str, Any]:
    """``PAIRS``: scores, deterministic pairs and labels decided (see :mod:`workbench.core.linkage.predict`).

    Returns:
        The model measured against the review labels (see :func:`labels.measure_against_labels`).
    """
    pred_cols = [c.unquote().name for c in prediction.columns]
    con.execute(
        f"CREATE TABLE {PAIRS} AS "
        + predict.match_pairs_sql(
            prediction.physical_name,
            pred_cols,
            DETERMINISTIC,
            LABELS,
            threshold=settings.match_threshold,
            review_min=settings.review_min_probability,
        )
    )
    label_scores = con.execute(
        f"SELECT p.record_key_l, p.record_key_r, p.model_probability AS match_probability FROM {PAIRS} p "
        f"JOIN {LABELS} USING (record_key_l, record_key_r)"
    ).df()
    return labels.measure_against_labels(label_df, label_scores, settings.match_threshold)


# --------------------------------------------------------------------------------------------
# 6.–7. clusters and master IDs


def build_clusters(
    con: duckdb.DuckDBPyConnection, db_api: Any, conflict_columns: list[str], settings: MatchSettings
) -> None:
    """``CLUSTERS``: the linked records' components, split by the guards (cut links in ``SPLIT``)."""
    clusters.cluster_links(con, db_api)
    clusters.guard_conflicts(con, conflict_columns)
    clusters.split_large_clusters(con, settings.max_cluster_size, settings.match_threshold)


def assign_masters(con: duckdb.DuckDBPyConnection, ctx: RunContext) -> master_ids.Registry:
    """``MASTERS``: a stable master ID per cluster, from the project's registry.

    Returns:
        The registry updated with this run (written by :func:`write_outputs`).
    """
    settings = ctx.config.match
    rec = con.execute(
        f"SELECT r.record_key, r._source, r.source_id, r._row_hash, c.cluster FROM {RECORDS} r "
        f"JOIN {CLUSTERS} c USING (record_key) ORDER BY r.record_key"
    ).df()
    rec["identity"] = master_ids.record_identities(rec)
    rec = rec.rename(columns={"_source": "source"})
    registry = master_ids.read_registry(ctx.project.master_id_registry)
    rec["master_id"], registry = master_ids.assign_master_ids(
        rec,
        registry,
        run_id=ctx.run_id,
        prefix=settings.master_id_prefix,
        digits=settings.master_id_digits,
    )
    with registered(con, temp("masters_df"), rec[["record_key", "master_id"]]) as frame:
        con.execute(f"CREATE TABLE {MASTERS} AS SELECT * FROM {frame}")
    return registry


# --------------------------------------------------------------------------------------------
# 8. outputs


def build_outputs(con: duckdb.DuckDBPyConnection, max_cluster_size: int) -> None:
    """The scratch copies of ``match_pairs``, ``crosswalk`` and ``review_queue`` (``scratch.OUTPUTS``)."""
    pair_extra = [c for c in table_columns(con, PAIRS) if c.startswith(("gamma_", "mw_", "bf_"))]
    extra = "".join(f", {ident(c)}" for c in sorted(pair_extra))
    con.execute(
        f"CREATE TABLE {OUTPUTS[MATCH_PAIRS]} AS SELECT record_key_l, record_key_r, match_probability, "
        f"match_weight, match_reason, decision, model_probability{extra} FROM {PAIRS} "
        "ORDER BY record_key_l, record_key_r"
    )
    con.execute(f"CREATE TABLE {OUTPUTS[CROSSWALK]} AS {_crosswalk_sql()}")
    con.execute(f"CREATE TABLE {OUTPUTS[REVIEW_QUEUE]} AS {_review_queue_sql(max_cluster_size)}")


def _crosswalk_sql() -> str:
    # a record's probability and reason: its strongest kept link inside its master record
    return f"""
        WITH kept AS (
          SELECT p.* FROM {PAIRS} p
          JOIN {MASTERS} a ON a.record_key = p.record_key_l
          JOIN {MASTERS} b ON b.record_key = p.record_key_r
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
        FROM {RECORDS} r JOIN {MASTERS} m USING (record_key) LEFT JOIN best b USING (record_key)
        ORDER BY r.record_key
        """


def _review_queue_sql(max_cluster_size: int) -> str:
    return f"""
        WITH pairs AS (
          SELECT 'pair:' || record_key_l || '|' || record_key_r AS item_id, 'pair' AS kind,
                 record_key_l, record_key_r, NULL::VARCHAR AS cluster_id, match_probability, match_weight,
                 'uncertain: model probability ' || round(match_probability, 3) AS reason
          FROM {PAIRS} WHERE decision = 'review'),
        splits AS (
          SELECT 'cluster:' || s.record_key_l || '|' || s.record_key_r AS item_id, 'cluster' AS kind,
                 s.record_key_l, s.record_key_r, m.master_id AS cluster_id, p.match_probability, p.match_weight,
                 'link cut: ' || s.reason AS reason
          FROM {SPLIT} s JOIN {MASTERS} m ON m.record_key = s.record_key_l
          LEFT JOIN {PAIRS} p ON p.record_key_l = s.record_key_l AND p.record_key_r = s.record_key_r),
        sizes AS (
          SELECT master_id, count(*) AS n, list(record_key ORDER BY record_key) AS members
          FROM {MASTERS} GROUP BY master_id HAVING count(*) > {int(max_cluster_size)}),
        large AS (
          SELECT 'cluster:' || master_id AS item_id, 'cluster' AS kind, members[1] AS record_key_l,
                 members[2] AS record_key_r, master_id AS cluster_id, NULL::DOUBLE AS match_probability,
                 NULL::DOUBLE AS match_weight, 'large cluster: ' || n || ' records' AS reason
          FROM sizes)
        SELECT * FROM pairs UNION ALL SELECT * FROM splits UNION ALL SELECT * FROM large
        ORDER BY kind DESC, item_id
        """


def write_outputs(
    ctx: RunContext, con: duckdb.DuckDBPyConnection, model_path: Path, registry: master_ids.Registry
) -> dict[str, Path]:
    """Copy the output tables to the run database, write the crosswalk files and the registry.

    Returns:
        name → path of the files written (with the model's).
    """
    files: dict[str, Path] = {"model": model_path}
    with ctx.connect() as wh:
        for table, scratch in OUTPUTS.items():
            arrow = con.sql(f"SELECT * FROM {scratch}").to_arrow_table()
            with registered(wh, temp("out"), arrow) as frame:
                wh.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {frame}")
        for fmt, options in CROSSWALK_FILES.items():
            out = ctx.paths.tables / f"crosswalk.{fmt}"
            with atomic_path(out) as tmp:
                wh.execute(copy_to(f"SELECT * FROM {CROSSWALK} ORDER BY record_key", tmp, options))
            files[f"crosswalk_{fmt}"] = out
    registry_path = ctx.project.master_id_registry
    master_ids.write_registry(registry_path, registry)
    files["registry"] = registry_path
    return files


def _metrics(con: duckdb.DuckDBPyConnection, facts: _Facts, settings: MatchSettings) -> dict[str, Any]:
    pairs, masters = PAIRS, MASTERS
    crosswalk, queue = OUTPUTS[CROSSWALK], OUTPUTS[REVIEW_QUEUE]
    q = {
        "pairs_above_threshold": f"SELECT count(*) FROM {pairs} WHERE model_probability >= ?",
        "pairs_in_review_band": f"SELECT count(*) FROM {pairs} WHERE decision = 'review'",
        "links": f"SELECT count(*) FROM {pairs} WHERE decision = 'match'",
        "links_cut_by_guard": f"SELECT count(*) FROM {pairs} WHERE decision = 'split'",
        "master_records": f"SELECT count(DISTINCT master_id) FROM {masters}",
        "clusters": f"SELECT count(*) FROM (SELECT master_id FROM {masters} GROUP BY 1 HAVING count(*) > 1)",
        "records_merged": f"SELECT count(*) FROM {crosswalk} WHERE match_reason <> 'single'",
        "largest_cluster": (
            f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM {masters} GROUP BY master_id)"
        ),
        "review_items": f"SELECT count(*) FROM {queue}",
        "review_pairs": f"SELECT count(*) FROM {queue} WHERE kind = 'pair'",
        "review_clusters": f"SELECT count(*) FROM {queue} WHERE kind = 'cluster'",
        "crosswalk_rows": f"SELECT count(*) FROM {crosswalk}",
    }
    out: dict[str, Any] = {
        "records": facts.records,
        "sources": len(facts.sources),
        "pairs_scored": facts.pairs_scored,
    }
    for name, sql in q.items():
        params = [settings.match_threshold] if "?" in sql else []
        out[name] = int(con.execute(sql, params).fetchall()[0][0])
    out["deterministic_matches"] = facts.deterministic_pairs
    out["match_threshold"] = settings.match_threshold
    out["review_min_probability"] = settings.review_min_probability
    out.update(facts.training.as_metrics())
    out.update({"labels_used": facts.labels_used, "labels_unknown_records": facts.labels_unknown})
    out.update(facts.label_metrics)
    out["blocking_rules"] = facts.prediction_rules
    out["test_records_not_matched"] = facts.test_records
    out["link_type"] = facts.link_type
    return out


def _evaluate(con: duckdb.DuckDBPyConnection, ctx: RunContext) -> dict[str, Any]:
    settings = ctx.config.match
    truth_path = ctx.project.ground_truth
    assert truth_path is not None
    truth = evaluation.read_ground_truth(truth_path, settings.ground_truth_entity_column)
    truth = truth.rename(columns={settings.ground_truth_entity_column: "entity_id"})
    if "record_key" not in truth.columns:
        keys = con.execute(f"SELECT _source AS source, source_id, record_key FROM {RECORDS}").df()
        truth = truth.merge(keys, on=["source", "source_id"], how="inner")
    with registered(con, temp("truth_df"), truth) as frame:
        con.execute(f"CREATE OR REPLACE TABLE {TRUTH} AS SELECT * FROM {frame}")
    return evaluation.evaluate_clusters(con, MASTERS, TRUTH, hard_cases=settings.hard_cases)
