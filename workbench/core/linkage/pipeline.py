"""The match stage: ``std_customers`` in; ``match_pairs``, ``crosswalk`` and ``review_queue`` out.

:func:`match_customers` runs these steps, each a small function of this package, on the scratch
tables of :mod:`workbench.core.linkage.scratch` inside Splink's own in-memory engine:

1. :func:`plan_match_inputs`: the compared fields from their kinds; :func:`load_records` copies the
   needed columns into the engine and :func:`profile_columns` records which of them hold data (per
   source), so no level, blocking key or EM pass is built on a fact the data does not carry;
   :func:`load_labels` reads the review labels of earlier runs by their stable record keys;
2. :func:`find_deterministic_pairs`: deterministic rules (the same valid company tax ID) →
   always-match pairs;
3. :func:`choose_prediction_rules`: blocking rules chosen from the data by their measured pair
   counts (within a budget per record) and the share of the deterministic pairs they find (or
   from config);
4. :func:`train_linker`: the Splink model (link_and_dedupe across all customer sources): a first
   prior from the deterministic pairs, u by seeded sampling (a sample that grows with the data),
   m by EM passes blocked on columns two sources share, plus the training half of the review
   labels; untrained levels get justified values; weights bounded; saved as ``splink/model.json``;
5. :func:`score_pairs`: scores of the blocked pairs, the prior re-estimated from them and the
   threshold chosen from the estimated precision–recall curve (see
   :mod:`workbench.core.linkage.thresholds`); :func:`decide_pairs`: labels from the previous
   review override the scores;
6. :func:`build_clusters`: connected components, then the guards that look at whole clusters
   (see :mod:`workbench.core.linkage.clusters`): oversized clusters, different company IDs,
   different person IDs with different names, branch vs head office, ``non_match`` labels, weak
   bridges;
7. :func:`assign_masters`: stable master IDs from the project's registry;
8. :func:`build_outputs` and :func:`write_outputs`: the tables ``match_pairs``, ``crosswalk``
   (also ``tables/crosswalk.csv`` / ``.parquet``) and ``review_queue``; accuracy against a ground
   truth when one is configured; the blind measure against the held-out review labels.

Splink's own charts are not drawn here: the caller may pass a `chart_writer` (the match stage passes
:func:`workbench.presentation.splink_charts.save_splink_charts`), which is handed the trained linker
and its predictions as a :class:`ScoredModel` while the engine is still open.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.core.linkage import (
    blocking,
    clusters,
    deterministic,
    evaluation,
    labels,
    master_ids,
    predict,
    scoring,
)
from workbench.core.linkage.fields import (
    COMPANY_ID,
    NAME_BRANCH,
    NORM_ID,
    PERSON_FULL,
    PERSON_FULL_REV,
    PERSON_ID,
    PIN,
    MatchField,
    Present,
    helper,
    is_company_name,
)
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
    TRAIN_LABELS,
    TRUTH,
    source_view,
)
from workbench.core.linkage.settings_builder import build_settings, helper_columns, person_pairs, plan_fields
from workbench.core.linkage.training import (
    Coverage,
    TrainingReport,
    clamp_weights,
    floor_m,
    neutral_untrained,
    train_model,
)
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
        guards: per cluster guard, the clusters it split and the links it cut.
        threshold_curve: the estimated precision–recall curve the threshold was chosen from.
        levels: every comparison level with its trained m, u and weight.
    """

    metrics: dict[str, Any]
    blocking: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    guards: pd.DataFrame = field(default_factory=pd.DataFrame)
    threshold_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)


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
    """What the match stage reads from std_customers: compared fields, rules, guards and their columns."""

    plans: list[MatchField]
    rules: list[DeterministicRule]
    conflict_columns: list[str]
    columns: list[str]
    helpers: dict[str, str]
    guards: clusters.GuardColumns = field(default_factory=clusters.GuardColumns)
    parent_fields: set[str] = field(default_factory=set)

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
    present: Present = field(default_factory=Present)
    labels_used: int = 0
    labels_unknown: int = 0
    labels_holdout: int = 0
    deterministic_pairs: int = 0
    prediction_rules: int = 0
    blocking_recall: float | None = None
    link_type: str = ""
    fields_without_data: list[str] = field(default_factory=list)
    person_tax_fields: list[str] = field(default_factory=list)
    label_metrics: dict[str, Any] = field(default_factory=dict)
    training: TrainingReport = field(default_factory=TrainingReport)
    scores: scoring.Scores | None = None
    guards: clusters.GuardReport = field(default_factory=clusters.GuardReport)


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
        The metrics, the blocking rules, the guards, the threshold curve and the files written.

    Raises:
        MatchError: std_customers is missing or lacks columns.
        workbench.core.linkage.fields.MatchSettingsError: the `match:` section names unknown
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
    facts.present = profile_columns(con, facts.sources)
    inputs, facts.fields_without_data = drop_empty(inputs, facts.present, parent_references(con, inputs))
    inputs, facts.person_tax_fields = person_tax_ids(con, inputs)
    label_df, facts.labels_unknown = load_labels(con, ctx.project.review_labels, settings.label_holdout_share)
    facts.labels_used, facts.labels_holdout = len(label_df), int(label_df["holdout"].sum())
    facts.deterministic_pairs = find_deterministic_pairs(con, inputs.rules)
    clock.lap("deterministic")
    choices, prediction_rules = choose_prediction_rules(con, inputs, settings, facts)
    facts.prediction_rules = len(prediction_rules)
    clock.lap("blocking")
    linker, model, new_linker = train_linker(ctx, engine, inputs, facts, choices, prediction_rules)
    clock.lap("training")
    scores = score_pairs(con, linker, model, new_linker, settings, facts)
    write_text_atomic(ctx.paths.model, json.dumps(scores.model, ensure_ascii=False, indent=2, default=str))
    clock.lap("predict")
    facts.label_metrics = decide_pairs(con, scores, label_df)
    build_clusters(con, engine.db_api, inputs, settings, facts)
    clock.lap("cluster")
    registry = assign_masters(con, ctx)
    build_outputs(con, settings.max_cluster_size)
    clock.lap("master_ids")
    files = write_outputs(ctx, con, ctx.paths.model, registry)
    clock.lap("write")
    metrics = _metrics(con, facts)
    accuracy = None
    if settings.ground_truth_path:
        accuracy = _evaluate(con, ctx)
        metrics.update(evaluation.flatten_metrics(accuracy))
    clock.lap("evaluate")
    if chart_writer is not None:
        files.update(chart_writer(ctx, ScoredModel(scores.linker, scores.prediction, engine.db_api, con)))
    clock.lap("charts")
    return MatchResult(
        metrics=metrics,
        blocking=_blocking_table(choices),
        files=files,
        accuracy=accuracy,
        guards=facts.guards.table(),
        threshold_curve=scores.curve,
        levels=level_table(scores.model),
    )


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


def _conflict_columns(config: ProjectConfig, types: dict[str, str], plans: list[MatchField]) -> list[str]:
    """The columns whose two different values keep records apart: configured, else company IDs."""
    names = config.match.conflict_fields
    if names is None:
        return [helper(p, COMPANY_ID) for p in plans if p.kind == Kind.TAX_ID]
    for name in names:
        if name not in types:
            raise MatchError(
                f"{config.config_path}: match.conflict_fields: {STD_CUSTOMERS} has no column {name!r}"
            )
    return list(names)


def _guard_columns(
    plans: list[MatchField], conflict: list[str], types: dict[str, str], helpers: dict[str, str]
) -> clusters.GuardColumns:
    companies = [p for p in plans if is_company_name(p)]
    persons = [p for p in plans if p.kind == Kind.PERSON_NAME]
    paired = person_pairs(plans)
    names = [PERSON_FULL] if paired else []
    # the customer's own name first (a pair, else the customer name), then any person field
    names += [p.match_column for p in companies] + [p.columns["value"] for p in persons]
    return clusters.GuardColumns(
        conflict=tuple(conflict),
        validity={c: f"{c}_valid" for c in conflict if f"{c}_valid" in types},
        person_ids=tuple(helper(p, NORM_ID) for p in plans if PERSON_ID is not None and p.kind == PERSON_ID),
        names=tuple(names),
        names_rev=(PERSON_FULL_REV,) if paired else (),
        birth_dates=tuple(p.columns["value"] for p in plans if p.kind == Kind.DATE),
        company_cores=tuple(p.match_column for p in companies),
        company_pinyin=tuple(helper(p, PIN) for p in companies if helper(p, PIN) in helpers),
        branch=NAME_BRANCH if NAME_BRANCH in helpers else None,
    )


def plan_match_inputs(config: ProjectConfig, std_types: dict[str, str]) -> MatchInputs:
    """The compared fields, deterministic rules, guards and every std_customers column they need.

    Args:
        config: the project config.
        std_types: column → DuckDB type of std_customers.
    """
    plans = plan_fields(config, std_types, excluded=_recency_fields(config))
    helpers = helper_columns(plans)
    rules = deterministic.resolve_rules(config, plans, std_types, set(helpers))
    conflict_cols = _conflict_columns(config, std_types, plans)
    needed = list(LINEAGE)
    for p in plans:
        needed += p.all_columns
    for r in rules:
        needed += [c for c in r.columns if c in std_types]
    needed += [c for c in conflict_cols if c in std_types]
    needed += [f"{c}_valid" for c in conflict_cols if f"{c}_valid" in std_types]
    needed += [c for c in ("is_test", TYPE_COLUMN) if c in std_types]
    return MatchInputs(
        plans,
        rules,
        conflict_cols,
        list(dict.fromkeys(needed)),
        helpers,
        _guard_columns(plans, conflict_cols, std_types, helpers),
        _parent_field(config) & {p.field for p in plans},
    )


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


def profile_columns(con: duckdb.DuckDBPyConnection, sources: list[str]) -> Present:
    """Which columns of the modelled records hold values, per source (one ``GROUP BY``)."""
    columns = [c for c in table_columns(con, MODELLED) if c not in LINEAGE]
    if not columns:
        return Present({}, tuple(sources))
    counts = ", ".join(f"count({ident(c)})" for c in columns)
    rows = con.execute(
        f"SELECT _source, {counts} FROM {MODELLED} GROUP BY _source ORDER BY _source"
    ).fetchall()
    out: dict[str, dict[str, int]] = {c: {} for c in columns}
    for row in rows:
        for c, n in zip(columns, row[1:], strict=True):
            out[c][str(row[0])] = int(n)
    return Present(out, tuple(sources))


def parent_references(con: duckdb.DuckDBPyConnection, inputs: MatchInputs) -> set[str]:
    """The group-parent fields whose values are mostly source IDs of other records.

    Such a field names the group a record belongs to (members share it): evidence of a group,
    not of identity, so it is not compared. A field the parent-field rule picked that does not
    hold source IDs (a social security number, say) is compared like any ID.
    """
    out = set()
    for name in sorted(inputs.parent_fields):
        total, refs = con.execute(
            f"SELECT count({ident(name)}), count(*) FILTER (WHERE CAST({ident(name)} AS VARCHAR) IN "
            f"(SELECT CAST(source_id AS VARCHAR) FROM {RECORDS} WHERE source_id IS NOT NULL)) FROM {MODELLED}"
        ).fetchall()[0]
        if total and refs >= 0.5 * total:
            out.add(name)
        else:
            log.info("field %s does not hold source IDs of other records; compared as an ID", name)
    return out


PERSON_ID_SHARE = 0.5  # a tax ID field whose values are mostly not company IDs holds people's IDs


def person_tax_ids(con: duckdb.DuckDBPyConnection, inputs: MatchInputs) -> tuple[MatchInputs, list[str]]:
    """Tax ID fields that hold people's IDs, compared as person IDs (never a deterministic rule).

    A field whose present values are mostly not valid company IDs (``data/tax_id_holders.csv``:
    resident ID cards mapped as tax IDs, say, of which a few pass a USCC check by chance) is a
    person-ID field: its company-ID rule and conflict column are dropped, it is compared with edit
    distances like a person ID, and the person guard reads it.
    """
    person: list[MatchField] = []
    for p in inputs.plans:
        if p.kind != Kind.TAX_ID:
            continue
        total, company = con.execute(
            f"SELECT count({ident(helper(p, NORM_ID))}), count({ident(helper(p, COMPANY_ID))}) FROM {MODELLED}"
        ).fetchall()[0]
        if total and company < PERSON_ID_SHARE * total:
            person.append(p)
    if not person:
        return inputs, []
    kind = PERSON_ID or Kind.ID
    names = {p.field for p in person}
    drop = {helper(p, COMPANY_ID) for p in person}
    log.info(
        "tax ID field(s) %s hold mostly no company IDs: compared as person IDs", ", ".join(sorted(names))
    )
    guards = replace(
        inputs.guards,
        conflict=tuple(c for c in inputs.guards.conflict if c not in drop),
        person_ids=inputs.guards.person_ids + tuple(helper(p, NORM_ID) for p in person),
    )
    return (
        replace(
            inputs,
            plans=[replace(p, kind=kind) if p.field in names else p for p in inputs.plans],
            rules=[r for r in inputs.rules if not set(r.columns) & drop],
            conflict_columns=[c for c in inputs.conflict_columns if c not in drop],
            guards=guards,
        ),
        sorted(names),
    )


def drop_empty(
    inputs: MatchInputs, present: Present, parents: set[str] | None = None
) -> tuple[MatchInputs, list[str]]:
    """The inputs without group-parent references, fields that hold no value at all, and extras that hold none."""
    plans: list[MatchField] = []
    dropped: list[str] = []
    for p in inputs.plans:
        if p.field in (parents or set()):
            continue
        if not present.has(p.columns["value"]) and not present.has(p.col("raw")):
            dropped.append(p.field)
            continue
        kept = {r: c for r, c in p.columns.items() if r == "value" or present.has(c)}
        plans.append(replace(p, columns=kept))
    if dropped:
        log.info("fields without any value are not compared: %s", ", ".join(dropped))
    return replace(inputs, plans=plans), dropped


def load_labels(
    con: duckdb.DuckDBPyConnection, labels_path: Path, holdout_share: float
) -> tuple[pd.DataFrame, int]:
    """``LABELS``: the review labels of earlier runs that name records of this run.

    Labels name records by their stable identities (see :mod:`workbench.core.linkage.labels`);
    read before training, so a bad labels file stops the run early.

    Returns:
        The labels (``record_key_l, record_key_r, label, holdout``) and how many named unknown records.
    """
    keys = con.execute(
        f"SELECT record_key, _source, source_id, _row_hash FROM {RECORDS} ORDER BY record_key"
    ).df()
    identities = dict(zip(master_ids.record_identities(keys), keys["record_key"], strict=True))
    label_df, unknown = labels.read_labels(labels_path, identities, holdout_share=holdout_share)
    with registered(con, temp("labels_df"), label_df) as frame:
        con.execute(
            f"CREATE TABLE {LABELS} AS SELECT record_key_l::VARCHAR AS record_key_l, "
            f"record_key_r::VARCHAR AS record_key_r, label::VARCHAR AS label, holdout::BOOLEAN AS holdout FROM {frame}"
        )
    return label_df, unknown


# --------------------------------------------------------------------------------------------
# 2.–3. deterministic rules and blocking


def find_deterministic_pairs(con: duckdb.DuckDBPyConnection, rules: list[DeterministicRule]) -> int:
    """``DETERMINISTIC``: the star edges of every deterministic rule; returns their number."""
    con.execute(f"CREATE TABLE {DETERMINISTIC} AS {deterministic.deterministic_edges_sql(MODELLED, rules)}")
    return _count(con, DETERMINISTIC)


def choose_prediction_rules(
    con: duckdb.DuckDBPyConnection, inputs: MatchInputs, settings: MatchSettings, facts: _Facts
) -> tuple[list[blocking.BlockingChoice], list[str]]:
    """The blocking rules that generate the pairs to score (chosen from the data unless configured).

    Rules are chosen by their pair counts within the budget; when more fit than
    ``match.max_blocking_rules``, those that find the most deterministic pairs not yet found come
    first (those pairs are true matches, a sample of what the rules must find). The deterministic
    rules are added, so the model scores their pairs too. Sets ``facts.blocking_recall``: the
    share of the deterministic pairs the other rules find.

    Returns:
        Every evaluated candidate (``chosen`` marks the rules used) and the Splink SQL rules.

    Raises:
        MatchError: no rule fits and there are too many records to compare all pairs.
    """
    n_records = facts.records
    keys = blocking.blocking_keys(inputs.plans)
    choices = blocking.choose_blocking_rules(
        con,
        MODELLED,
        keys,
        pairs_per_record=settings.blocking_pairs_per_record,
        max_rules=settings.max_blocking_rules,
        truth_pairs=DETERMINISTIC if facts.deterministic_pairs else None,
    )
    if settings.blocking_rules is not None:
        for c in choices:
            c.chosen = False
        rules = list(settings.blocking_rules)
    else:
        rules = [c.rule for c in choices if c.chosen]
    if facts.deterministic_pairs and rules:
        facts.blocking_recall = blocking.rules_recall(con, MODELLED, DETERMINISTIC, rules)
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
        [
            {"rule": c.name, "sql": c.rule, "pairs": c.pairs, "chosen": c.chosen, "finds_rule_pairs": c.found}
            for c in choices
        ],
        columns=["rule", "sql", "pairs", "chosen", "finds_rule_pairs"],
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


def _training_labels(con: duckdb.DuckDBPyConnection) -> int:
    """``TRAIN_LABELS``: the match labels of the training half, in Splink's pairwise-labels format."""
    con.execute(
        f"CREATE TABLE {TRAIN_LABELS} AS SELECT a._source AS source_dataset_l, l.record_key_l AS unique_id_l, "
        f"b._source AS source_dataset_r, l.record_key_r AS unique_id_r FROM {LABELS} l "
        f"JOIN {MODELLED} a ON a.record_key = l.record_key_l JOIN {MODELLED} b ON b.record_key = l.record_key_r "
        "WHERE l.label = 'match' AND NOT l.holdout ORDER BY 2, 4"
    )
    return _count(con, TRAIN_LABELS)


def train_linker(
    ctx: RunContext,
    engine: Engine,
    inputs: MatchInputs,
    facts: _Facts,
    choices: list[blocking.BlockingChoice],
    prediction_rules: list[str],
) -> tuple[Any, dict[str, Any], Callable[[dict[str, Any]], Any]]:
    """Build the Splink model, train it, give untrained levels justified values and bound the weights.

    Sets ``facts.link_type`` and ``facts.training``.

    Returns:
        The trained linker, its model (JSON form) and a function that builds a linker from a model.
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
        present=facts.present,
    )
    sources = _register_sources(engine.con, engine.db_api, facts.sources)
    linker = _new_linker(sources, splink_settings)
    deterministic_rules = [deterministic.rule_blocking_sql(r) for r in inputs.rules]
    present = facts.present
    facts.training = train_model(
        linker,
        choices=choices,
        deterministic_rules=deterministic_rules,
        deterministic_pairs=facts.deterministic_pairs,
        settings=settings.training,
        seed=settings.seed if settings.seed is not None else config.project.seed,
        records=facts.records - facts.test_records,
        usable=lambda c: all(present.in_both_sides(k.name) for k in c.keys),
        coverage=Coverage(
            comparisons={
                p.field: present.sources_of(p.columns["value"]) | present.sources_of(p.col("raw") or "")
                for p in inputs.plans
            },
            key_sources={k.name: present.sources_of(k.name) for c in choices for k in c.keys},
        ),
        labels_table=TRAIN_LABELS,
        label_pairs=_training_labels(engine.con),
    )
    model, facts.training.neutral = neutral_untrained(
        linker.misc.save_model_to_json(), facts.training.u_pairs
    )
    model, facts.training.floored = floor_m(model, settings.training.min_m)
    model, clamped = clamp_weights(model, settings.training.max_level_weight)

    if clamped:
        log.info("%d level weight(s) bounded to ±%s bits", len(clamped), settings.training.max_level_weight)
    facts.training.clamped = clamped
    return _new_linker(sources, model), model, lambda m: _new_linker(sources, m)


def level_table(model: dict[str, Any]) -> pd.DataFrame:
    """Every comparison level of a model: ``comparison, level, m, u, weight, tf_column, fixed_m``."""
    import math

    rows = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            rows.append(
                {
                    "comparison": comparison.get("output_column_name"),
                    "level": level.get("label_for_charts"),
                    "m": m,
                    "u": u,
                    "weight": math.log2(m / u) if m and u else None,
                    "tf_column": level.get("tf_adjustment_column"),
                    "fixed_m": bool(level.get("fix_m_probability")),
                }
            )
    return pd.DataFrame(rows, columns=["comparison", "level", "m", "u", "weight", "tf_column", "fixed_m"])


# --------------------------------------------------------------------------------------------
# 5. scores and decisions


def score_pairs(
    con: duckdb.DuckDBPyConnection,
    linker: Any,
    model: dict[str, Any],
    new_linker: Callable[[dict[str, Any]], Any],
    settings: MatchSettings,
    facts: _Facts,
) -> scoring.Scores:
    """Score the blocked pairs, re-estimate the prior from them and choose the threshold.

    See :func:`workbench.core.linkage.scoring.score_blocked_pairs`; sets ``facts.scores``.
    """
    modelled = facts.records - facts.test_records
    facts.scores = scoring.score_blocked_pairs(
        con, linker, model, new_linker, settings=settings, total_pairs=modelled * (modelled - 1) // 2
    )
    return facts.scores


def decide_pairs(
    con: duckdb.DuckDBPyConnection, scores: scoring.Scores, label_df: pd.DataFrame
) -> dict[str, Any]:
    """``PAIRS``: scores, deterministic pairs and labels decided (see :mod:`workbench.core.linkage.predict`).

    Returns:
        The model measured against the held-out review labels (see :func:`labels.measure_against_labels`).
    """
    prediction = scores.prediction
    pred_cols = [c.unquote().name for c in prediction.columns]
    con.execute(
        f"CREATE TABLE {PAIRS} AS "
        + predict.match_pairs_sql(
            prediction.physical_name,
            pred_cols,
            DETERMINISTIC,
            LABELS,
            threshold=scores.threshold,
            review_min=scores.review_min,
        )
    )
    holdout = label_df[label_df["holdout"]]
    label_scores = con.execute(
        f"SELECT least(record_key_l, record_key_r) AS record_key_l, greatest(record_key_l, record_key_r) AS record_key_r, "
        f"match_probability FROM {prediction.physical_name} p WHERE EXISTS (SELECT 1 FROM {LABELS} l WHERE l.holdout "
        "AND l.record_key_l = least(p.record_key_l, p.record_key_r) AND l.record_key_r = greatest(p.record_key_l, p.record_key_r))"
    ).df()
    return labels.measure_against_labels(holdout, label_scores, scores.threshold)


# --------------------------------------------------------------------------------------------
# 6.–7. clusters and master IDs


def build_clusters(
    con: duckdb.DuckDBPyConnection, db_api: Any, inputs: MatchInputs, settings: MatchSettings, facts: _Facts
) -> None:
    """``CLUSTERS``: the linked records' components, rebuilt by the guards (cut links in ``SPLIT``)."""
    scores = facts.scores
    assert scores is not None
    report = facts.guards
    clusters.cluster_links(con, db_api)
    clusters.split_large_clusters(con, settings.max_cluster_size, scores.threshold, report)
    scorer = (
        scoring.missing_edge_scorer(scores.linker, db_api, scores.prediction)
        if settings.clustering.score_inside_pairs
        else None
    )
    clusters.score_inside_pairs(con, scores.prediction.physical_name, scorer, report)
    clusters.find_conflicts(con, inputs.guards, scores.threshold, settings.clustering.strong_link_probability)

    clusters.guard_clusters(
        con,
        threshold=scores.threshold,
        min_mean=settings.clustering.min_mean_probability,
        strong=settings.clustering.strong_link_probability,
        report=report,
    )


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
                 'link cut (' || s.guard || '): ' || s.reason AS reason
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


def _metrics(con: duckdb.DuckDBPyConnection, facts: _Facts) -> dict[str, Any]:
    pairs, masters = PAIRS, MASTERS
    crosswalk, queue = OUTPUTS[CROSSWALK], OUTPUTS[REVIEW_QUEUE]
    scores = facts.scores
    assert scores is not None
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
        "pairs_scored": scores.pairs_blocked,
        "pairs_per_record": round(scores.pairs_blocked / max(facts.records, 1), 2),
    }
    for name, sql in q.items():
        params = [scores.threshold] if "?" in sql else []
        out[name] = int(con.execute(sql, params).fetchall()[0][0])
    out["deterministic_matches"] = facts.deterministic_pairs
    out.update(facts.training.as_metrics())
    out.update(scores.as_metrics())
    out.update(facts.guards.as_metrics())
    out.update(
        {
            "labels_used": facts.labels_used,
            "labels_held_out": facts.labels_holdout,
            "labels_unknown_records": facts.labels_unknown,
        }
    )
    out.update(facts.label_metrics)
    out["blocking_rules"] = facts.prediction_rules
    out["blocking_recall_of_rule_pairs"] = facts.blocking_recall
    out["fields_without_data"] = facts.fields_without_data
    out["tax_id_fields_holding_person_ids"] = facts.person_tax_fields

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
