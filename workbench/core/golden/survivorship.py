"""Golden records (phase 5): survivorship rules, provenance and the group parent relation.

This module owns the tables ``golden_customers`` and ``golden_provenance`` (contracts in
``docs/architecture.md``). It reads ``std_customers``, ``crosswalk`` and, when present,
``match_pairs``.

How a golden value is chosen: the member records of a master that hold a value for a field are
ranked by the field's rule chain (config ``survivorship:``, see
:mod:`workbench.project.settings.survivorship`), ties fall through to the next rule and finally to
``record_key``. The winning record gives the value *and* its kind extras together (e.g. ``mobile``
with ``mobile_e164`` and ``mobile_type``), so a golden row never mixes parts of different values.
Everything runs as one grouped DuckDB query per table (``arg_min`` over a struct of rank keys), no
per-master Python.

``golden_provenance`` holds one row per golden field that has a value: the record and source it came
from and the rule that decided it, which is the first rule of the chain that told the two best
candidates apart, or ``single_value`` (one member holds a value), ``unanimous`` (all members that
hold a value agree) or ``record_key`` (every rule tied). Aggregated columns name their rule
(``max``, ``sum``) and list every contributing record in ``record_key`` (``;``-separated), and
``parent_master_id`` names the member that holds the parent reference (rule ``parent_reference``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.engine.catalog import (
    CROSSWALK,
    GOLDEN_CUSTOMERS,
    GOLDEN_PROVENANCE,
    MATCH_PAIRS,
    STD_CUSTOMERS,
    temp,
)
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.config import Kind, ProjectConfig
from workbench.project.settings.survivorship import RULE_NAMES, FieldRule, RecordColumn, SurvivorshipSettings

log = logging.getLogger(__name__)

# scratch TEMP tables of one build (dropped when it ends)
MEMBERS_TABLE = temp("golden_members")  # crosswalk joined to std_customers, with rank helpers
WINNERS_TABLE = temp("golden_winners")  # per master: the winning record of every field
RUNNER_UP_TABLE = temp("golden_runner_up")  # per master and field: the best other value's rank key
PARENTS_TABLE = temp("golden_parents")  # master → parent master
REVIEWED_TABLE = temp("golden_reviewed")  # masters joined by a review label
ACTIVITY_TABLE = temp("golden_activity")  # activity figures per master
SCRATCH_TABLES = (
    MEMBERS_TABLE,
    WINNERS_TABLE,
    RUNNER_UP_TABLE,
    PARENTS_TABLE,
    REVIEWED_TABLE,
    ACTIVITY_TABLE,
)

FIELD_SUFFIXES = ("raw", "valid", "issue")  # per-field columns of std_customers that are not extras
LINEAGE = ("record_key", "_source", "_row_number", "_row_hash", "source_id")
RECORD_TEXT_COLUMNS: tuple[RecordColumn, ...] = ("customer_type", "record_status")
RECORD_BOOL_COLUMNS: tuple[RecordColumn, ...] = ("is_test", "is_stale")
RECORD_COLUMNS = RECORD_TEXT_COLUMNS + RECORD_BOOL_COLUMNS
ACTIVITY_COLUMNS = ("last_activity_date", "activity_amount_12m", "activity_amount_total")
TAIL_COLUMNS = ("flags", "parent_master_id", "member_count", "sources", "match_type")
ORG_NAME_KINDS = (Kind.CUSTOMER_NAME, Kind.COMPANY_NAME)
NO_RANK = 1_000_000_000  # rank of a record a rule cannot place (no date, unlisted source)


class SurvivorshipError(WorkbenchError):
    """Golden records cannot be built: bad survivorship config or inconsistent input tables."""


@dataclass(frozen=True)
class SurvivingField:
    """How one golden field is chosen (built from config and the columns of std_customers)."""

    field: str
    kind: str  # the field's kind, or `record` for the record-level columns
    extras: tuple[str, ...]
    rules: tuple[str, ...]
    source_priority: tuple[str, ...]
    recency_columns: tuple[str, ...]
    valid_column: str | None = None
    unknown_values: tuple[str, ...] = ()
    boolean: bool = False


@dataclass
class GoldenResult:
    """What :func:`build_golden_tables` wrote, with the figures a stage records."""

    masters: int
    merged_masters: int
    reviewed_masters: int
    members: int
    provenance_rows: int
    fields_with_provenance: int
    parent_field: str | None
    parent_links: int
    parent_refs: int
    parent_refs_unresolved: int
    parent_cycles_dropped: int
    seconds: float
    plans: list[SurvivingField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_metrics(self) -> dict[str, Any]:
        """The figures for ``ctx.record_metrics("golden", ...)``."""
        return {
            "masters": self.masters,
            "merged_masters": self.merged_masters,
            "reviewed_masters": self.reviewed_masters,
            "single_masters": self.masters - self.merged_masters - self.reviewed_masters,
            "members": self.members,
            "provenance_rows": self.provenance_rows,
            "fields_with_provenance": self.fields_with_provenance,
            "parent_field": self.parent_field,
            "parent_links": self.parent_links,
            "parent_refs": self.parent_refs,
            "parent_refs_unresolved": self.parent_refs_unresolved,
            "parent_cycles_dropped": self.parent_cycles_dropped,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------------------------
# planning: which columns, which rules


def plan_fields(config: ProjectConfig, std_columns: Sequence[str]) -> list[SurvivingField]:
    """Decide the rule chain, extras and options of every golden field.

    Args:
        config: the project config (fields and kinds, the ``survivorship:`` section).
        std_columns: the columns of ``std_customers``.

    Returns:
        One plan per canonical field (config order), then the ``extra_fields``, then the
        record-level columns (``customer_type``, ``record_status``, ``is_test``, ``is_stale``).

    Raises:
        SurvivorshipError: listing every problem of the ``survivorship:`` section at once.
    """
    check_survivorship(config, std_columns)
    planner = _Planner.of(config, std_columns)
    plans = planner.field_plans() + planner.extra_field_plans() + planner.record_plans()
    for p in plans:
        if "most_recent" in p.rules and not p.recency_columns:
            log.warning(
                "field %r uses most_recent but no date column is known; set survivorship.recency_fields",
                p.field,
            )
    return plans


def check_survivorship(config: ProjectConfig, std_columns: Sequence[str]) -> None:
    """Check the ``survivorship:`` section against the config's fields, sources and std_customers.

    Raises:
        SurvivorshipError: listing every problem at once (file, key, bad value, what is allowed).
    """
    settings = config.survivorship
    cols = list(std_columns)
    kinds = {f: k.value for f, k in config.field_kinds().items()}
    sources = [s.name for s in config.customer_sources]
    problems = [
        *_rule_chain_problems(settings),
        *_field_name_problems(settings, kinds),
        *_source_problems(settings, sources),
        *_column_problems(settings, kinds, cols),
    ]
    if problems:
        raise SurvivorshipError(
            f"{config.config_path}: {len(problems)} problem(s) in the survivorship setup:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _rule_chain_problems(settings: SurvivorshipSettings) -> list[str]:
    """Unknown kinds in ``kind_rules`` and empty rule chains."""
    known_kinds = {k.value for k in Kind}
    problems: list[str] = []
    for kind, chain in settings.kind_rules.items():
        if kind not in known_kinds:
            problems.append(
                f"survivorship.kind_rules: unknown kind {kind!r}; known kinds: {', '.join(sorted(known_kinds))}"
            )
        if not chain:
            problems.append(f"survivorship.kind_rules.{kind}: give at least one rule of {RULE_NAMES}")
    for column, chain in settings.record_rules.items():
        if not chain:
            problems.append(f"survivorship.record_rules.{column}: give at least one rule of {RULE_NAMES}")
    return problems


def _field_name_problems(settings: SurvivorshipSettings, kinds: dict[str, str]) -> list[str]:
    """``fields`` entries that name a record-level column or no field."""
    allowed = set(kinds) | set(settings.extra_fields)
    problems: list[str] = []
    for name in settings.fields:
        if name in RECORD_COLUMNS:
            problems.append(
                f"survivorship.fields.{name}: a record-level column; set its rules under `record_rules`"
            )
        elif name not in allowed:
            problems.append(
                f"survivorship.fields: {name!r} is not a canonical field.{_did_you_mean(name, allowed)} "
                f"Known fields: {', '.join(sorted(allowed))}"
            )
    return problems


def _source_problems(settings: SurvivorshipSettings, sources: list[str]) -> list[str]:
    """Source priority lists (of the section and of each field) that name no customer source."""
    priority_lists = [("survivorship.source_priority", settings.source_priority)] + [
        (f"survivorship.fields.{n}.source_priority", r.source_priority or [])
        for n, r in settings.fields.items()
    ]
    return [
        f"{where}: {s!r} is not a customer source.{_did_you_mean(s, sources)} "
        f"Customer sources: {', '.join(sources)}"
        for where, names in priority_lists
        for s in names
        if s not in sources
    ]


def _column_problems(settings: SurvivorshipSettings, kinds: dict[str, str], cols: list[str]) -> list[str]:
    """Recency and extra columns std_customers lacks, unknown required fields, missing or clashing fields."""
    colset = set(cols)
    recency_lists = [("survivorship.recency_fields", settings.recency_fields or [])] + [
        (f"survivorship.fields.{n}.recency_fields", r.recency_fields or [])
        for n, r in settings.fields.items()
    ]
    problems = [
        f"{where}: {STD_CUSTOMERS} has no column {c!r}.{_did_you_mean(c, cols)} "
        "Name date fields of the customer sources or last_activity_date"
        for where, names in recency_lists
        for c in names
        if c not in colset
    ]
    problems += [
        f"survivorship.extra_fields: {STD_CUSTOMERS} has no column {name!r}.{_did_you_mean(name, cols)}"
        for name in settings.extra_fields
        if name not in colset
    ]
    problems += [
        f"survivorship.required_fields: {name!r} is not a canonical field.{_did_you_mean(name, list(kinds))}"
        for name in settings.required_fields
        if name not in kinds and name not in settings.extra_fields
    ]
    missing = [f for f in kinds if f not in colset]
    if missing:
        problems.append(
            f"{STD_CUSTOMERS} lacks the canonical field(s) {missing}; rerun the standardize stage with this config"
        )
    clashes = sorted(({"master_id"} | set(TAIL_COLUMNS) | set(ACTIVITY_COLUMNS)) & set(kinds))
    if clashes:
        problems.append(
            f"canonical field(s) {clashes} have the name of a {GOLDEN_CUSTOMERS} column; rename the field(s)"
        )
    return problems


@dataclass(frozen=True)
class _Planner:
    """Builds the :class:`SurvivingField` plans of a checked config (see :func:`plan_fields`)."""

    settings: SurvivorshipSettings
    kinds: dict[str, str]
    columns: frozenset[str]
    default_priority: tuple[str, ...]
    default_recency: tuple[str, ...]
    extras_of: dict[str, list[str]]

    @classmethod
    def of(cls, config: ProjectConfig, std_columns: Sequence[str]) -> _Planner:
        """The planner of a config whose ``survivorship:`` section passed :func:`check_survivorship`."""
        settings = config.survivorship
        cols = list(std_columns)
        kinds = {f: k.value for f, k in config.field_kinds().items()}
        sources = [s.name for s in config.customer_sources]
        recency = settings.recency_fields
        if recency is None:
            # default: every date field, then the newest activity
            recency = [f for f, k in kinds.items() if k == Kind.DATE.value and f in cols]
            recency += ["last_activity_date"] if "last_activity_date" in cols else []
        return cls(
            settings=settings,
            kinds=kinds,
            columns=frozenset(cols),
            default_priority=tuple(settings.source_priority)
            + tuple(s for s in sources if s not in settings.source_priority),
            default_recency=tuple(recency),
            extras_of=_assign_extras(cols, list(kinds) + list(settings.extra_fields)),
        )

    def make(
        self, name: str, kind: str, chain: Sequence[str], rule: FieldRule | None, **options: Any
    ) -> SurvivingField:
        """One plan: the field's own source priority and recency columns, else the section's."""
        priority = self.default_priority
        if rule and rule.source_priority:
            priority = tuple(rule.source_priority) + tuple(
                s for s in self.default_priority if s not in rule.source_priority
            )
        recency = tuple(rule.recency_fields) if rule and rule.recency_fields else self.default_recency
        return SurvivingField(
            field=name,
            kind=kind,
            extras=tuple(self.extras_of.get(name, ())),
            rules=tuple(chain),
            source_priority=priority,
            recency_columns=recency,
            valid_column=f"{name}_valid" if f"{name}_valid" in self.columns else None,
            **options,
        )

    def field_plans(self) -> list[SurvivingField]:
        """The canonical fields, by their field rule, else their kind's, else the default chain."""
        plans = []
        for name, kind in self.kinds.items():
            if name in RECORD_COLUMNS:
                # a source gives this record-level column (e.g. CRM account type → customer_type): the
                # standardized column is the record-level one, chosen by `record_rules`
                continue
            rule = self.settings.fields.get(name)
            chain = rule.rules if rule else self.settings.kind_rules.get(kind, self.settings.default_rules)
            plans.append(self.make(name, kind, chain, rule, boolean=kind == Kind.FLAG.value))
        return plans

    def extra_field_plans(self) -> list[SurvivingField]:
        """The ``extra_fields`` that are not canonical fields (kind ``extra``)."""
        plans = []
        for name in self.settings.extra_fields:
            if name in self.kinds:
                continue
            rule = self.settings.fields.get(name)
            plans.append(self.make(name, "extra", rule.rules if rule else self.settings.default_rules, rule))
        return plans

    def record_plans(self) -> list[SurvivingField]:
        """The record-level columns std_customers has (kind ``record``), by ``record_rules``."""
        plans = []
        for name in RECORD_TEXT_COLUMNS + RECORD_BOOL_COLUMNS:
            if name not in self.columns:
                log.warning("%s has no column %r; golden %s will be NULL", STD_CUSTOMERS, name, name)
                continue
            plans.append(
                self.make(
                    name,
                    "record",
                    self.settings.record_rules[name],
                    None,
                    unknown_values=tuple(self.settings.unknown_values) if name in RECORD_TEXT_COLUMNS else (),
                    boolean=name in RECORD_BOOL_COLUMNS,
                )
            )
        return plans


def _assign_extras(columns: Sequence[str], fields: Sequence[str]) -> dict[str, list[str]]:
    """Kind extras of each field: std columns named ``<field>_<suffix>`` (longest field name wins)."""
    fieldset = set(fields)
    reserved = set(LINEAGE) | set(RECORD_TEXT_COLUMNS) | set(RECORD_BOOL_COLUMNS) | set(ACTIVITY_COLUMNS)
    out: dict[str, list[str]] = {}
    by_length = sorted(fields, key=len, reverse=True)
    for col in columns:
        if col in fieldset or col in reserved or col.startswith("_"):
            continue
        owner = next((f for f in by_length if col.startswith(f + "_")), None)
        if owner is None or col[len(owner) + 1 :] in FIELD_SUFFIXES:
            continue
        out.setdefault(owner, []).append(col)
    return out


def resolve_parent_field(config: ProjectConfig) -> str | None:
    """The field that holds the group parent's source ID, or ``None`` when there is none.

    ``survivorship.parent_field: auto`` picks the one field of kind ``id`` that is not the ID column
    of a customer source; with none or several such fields, no parent relation is built (and a
    warning names the candidates).
    """
    setting = config.survivorship.parent_field
    kinds = config.field_kinds()
    if setting is None:
        return None
    if setting != "auto":
        if setting not in kinds:
            raise SurvivorshipError(
                f"{config.config_path}: survivorship.parent_field: {setting!r} is not a canonical field."
                f"{_did_you_mean(setting, list(kinds))} Name a field of kind `id`, or null for none"
            )
        return setting
    id_fields = {s.id_field for s in config.customer_sources if s.id_column in s.columns}
    candidates = [f for f, k in kinds.items() if k == Kind.ID and f not in id_fields]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        log.warning(
            "several id fields could hold the group parent (%s); set survivorship.parent_field",
            ", ".join(candidates),
        )
    return None


# --------------------------------------------------------------------------------------------
# SQL builders (pure)


@dataclass
class _Sql:
    """SQL text plus its bound parameters, built together so they stay in step."""

    params: list[Any] = field(default_factory=list)

    def bind(self, value: Any) -> str:
        """Add `value` as the next parameter; returns its placeholder."""
        self.params.append(value)
        return "?"


def _ranked_keys(plan: SurvivingField, i: int, aliases: _Aliases, *, prefix: str = "") -> list[tuple[str, str]]:
    """(rule name, SQL rank expression on the members table) per key component; smaller wins.

    `prefix` qualifies the members columns (e.g. ``m.``) when the query joins other tables.
    """
    v = f"{prefix}__v{i}"
    keys: list[tuple[str, str]] = []
    for rule in plan.rules:
        if rule == "valid_value":
            if not (plan.valid_column or plan.unknown_values):
                continue  # nothing tells valid from invalid: the rule cannot rank this field
            ok = f"{prefix}__ok{i}"
            keys.append((rule, f"CASE WHEN {ok} THEN 0 WHEN {ok} IS NULL THEN 1 ELSE 2 END"))
        elif rule == "source_priority":
            keys.append((rule, prefix + aliases.source_rank[plan.source_priority]))
        elif rule == "most_recent":
            if plan.recency_columns:
                rec = prefix + aliases.recency[plan.recency_columns]
                keys.append((rule, f"coalesce(date_diff('day', {rec}, DATE '9999-12-31'), {NO_RANK})"))
        elif rule == "most_complete":
            filled = [v] + [f"{prefix}__x{i}_{j}" for j in range(len(plan.extras))]
            keys.append((rule, "-(" + " + ".join(f"({c} IS NOT NULL)::INTEGER" for c in filled) + ")"))
            keys.append((rule, f"-length(CAST({v} AS VARCHAR))"))
        elif rule == "most_frequent":
            keys.append((rule, f"-{prefix}__freq{i}"))
        elif rule == "any_true":
            keys.append((rule, f"CASE WHEN {v} THEN 0 ELSE 1 END"))
        elif rule == "all_true":
            keys.append((rule, f"CASE WHEN {v} THEN 1 ELSE 0 END"))
        else:  # pragma: no cover - settings restrict the names
            raise SurvivorshipError(f"unknown survivorship rule {rule!r}; use one of {RULE_NAMES}")
    return keys


@dataclass
class _Aliases:
    source_rank: dict[tuple[str, ...], str]
    recency: dict[tuple[str, ...], str]


def build_members_sql(
    plans: Sequence[SurvivingField], std_columns: Sequence[str], parent_field: str | None
) -> tuple[str, list[Any], _Aliases]:
    """SQL that creates the members table: crosswalk joined to std_customers, with rank helpers.

    Every column gets a generated name (``__v<i>`` value, ``__x<i>_<j>`` extras, ``__ok<i>``
    validity, ``__freq<i>`` frequency, ``__src<j>`` source rank, ``__rec<j>`` recency), so no field
    name can clash with a helper column.
    """
    sql = _Sql()
    std = set(std_columns)
    src_lists = list(dict.fromkeys(p.source_priority for p in plans))
    rec_lists = list(dict.fromkeys(p.recency_columns for p in plans if p.recency_columns))
    aliases = _Aliases(
        source_rank={lst: f"__src{j}" for j, lst in enumerate(src_lists)},
        recency={lst: f"__rec{j}" for j, lst in enumerate(rec_lists)},
    )
    select = [
        "c.master_id AS master_id",
        "s.record_key AS __rk",
        "s._source AS __source",
        "s.source_id AS __sid",
    ]
    for j, lst in enumerate(src_lists):
        select.append(
            f"coalesce(list_position({sql.bind(list(lst))}::VARCHAR[], s._source), {NO_RANK}) AS __src{j}"
        )
    for j, lst in enumerate(rec_lists):
        dates = ", ".join(f"TRY_CAST(s.{ident(c)} AS DATE)" for c in lst)
        select.append(f"greatest({dates}) AS __rec{j}" if len(lst) > 1 else f"{dates} AS __rec{j}")
    for i, p in enumerate(plans):
        col = f"s.{ident(p.field)}"
        select.append(f"TRY_CAST({col} AS BOOLEAN) AS __v{i}" if p.boolean else f"{col} AS __v{i}")
        for j, x in enumerate(p.extras):
            select.append(f"s.{ident(x)} AS __x{i}_{j}")
        if p.valid_column:
            select.append(f"TRY_CAST(s.{ident(p.valid_column)} AS BOOLEAN) AS __ok{i}")
        elif p.unknown_values:
            unknown = sql.bind(list(p.unknown_values))
            select.append(
                f"CASE WHEN {col} IS NOT NULL THEN NOT list_contains({unknown}::VARCHAR[], {col}) END AS __ok{i}"
            )
    for name in ACTIVITY_COLUMNS:
        expr = f"s.{ident(name)}" if name in std else "NULL"
        cast = "DATE" if name == "last_activity_date" else "DOUBLE"
        select.append(f"TRY_CAST({expr} AS {cast}) AS __{name}")
    if parent_field:
        select.append(f"nullif(trim(CAST(s.{ident(parent_field)} AS VARCHAR)), '') AS __parent_ref")
    # most_frequent: how many members of the master hold the same value (a grouped count joined
    # back, which DuckDB runs much faster than a window partitioned by master and value)
    freq = [i for i, p in enumerate(plans) if "most_frequent" in p.rules]
    counts = "".join(
        f" LEFT JOIN (SELECT master_id, __v{i} AS v, count(*) AS n FROM base WHERE __v{i} IS NOT NULL "
        f"GROUP BY ALL) f{i} ON f{i}.master_id = base.master_id AND f{i}.v = base.__v{i}"
        for i in freq
    )
    text = (
        f"CREATE OR REPLACE TEMP TABLE {MEMBERS_TABLE} AS WITH base AS MATERIALIZED (SELECT "
        + ",\n  ".join(select)
        + f"\nFROM {CROSSWALK} c JOIN {STD_CUSTOMERS} s ON s.record_key = c.record_key) "
        + "SELECT base.*"
        + "".join(f", f{i}.n AS __freq{i}" for i in freq)
        + f" FROM base{counts}"
    )
    return text, sql.params, aliases


def _key_sql(plan: SurvivingField, i: int, aliases: _Aliases, *, prefix: str = "") -> str:
    """The rank key of field `i` as a struct; the smallest key wins (record_key breaks ties)."""
    parts = [f"k{j} := {e}" for j, (_, e) in enumerate(_ranked_keys(plan, i, aliases, prefix=prefix))]
    return "struct_pack(" + ", ".join([*parts, f"rk := {prefix}__rk"]) + ")"


def build_winners_sql(plans: Sequence[SurvivingField], aliases: _Aliases) -> str:
    """SQL that creates one row per master: the winning record of every field and its rank key.

    Per field ``i``: ``__w<i>`` = struct (rk, src, v, x0…) of the winner, ``__k<i>`` = its rank key,
    ``__n<i>`` = how many members hold a value.
    """
    aggs = [
        "master_id",
        "count(*) AS member_count",
        "string_agg(DISTINCT __source, ';' ORDER BY __source) AS sources",
    ]
    for i, p in enumerate(plans):
        key = _key_sql(p, i, aliases)
        payload = (
            "struct_pack("
            + ", ".join(
                ["rk := __rk", "src := __source", f"v := __v{i}"]
                + [f"x{j} := __x{i}_{j}" for j in range(len(p.extras))]
            )
            + ")"
        )
        cond = f"FILTER (WHERE __v{i} IS NOT NULL)"
        aggs.append(f"arg_min({payload}, {key}) {cond} AS __w{i}")
        aggs.append(f"min({key}) {cond} AS __k{i}")
        aggs.append(f"count(__v{i}) AS __n{i}")
    return (
        f"CREATE OR REPLACE TEMP TABLE {WINNERS_TABLE} AS SELECT "
        + ",\n  ".join(aggs)
        + f"\nFROM {MEMBERS_TABLE} GROUP BY master_id"
    )


def build_runner_up_sql(plans: Sequence[SurvivingField], aliases: _Aliases) -> str:
    """SQL that creates, per merged master and field, the rank key of the best *other* value.

    Comparing the winner's key with this runner-up's key tells which rule made the golden value win
    (members that hold the same value as the winner do not count).
    """
    aggs = ["m.master_id"]
    for i, p in enumerate(plans):
        key = _key_sql(p, i, aliases, prefix="m.")
        aggs.append(
            f"min({key}) FILTER (WHERE m.__v{i} IS NOT NULL AND m.__v{i} IS DISTINCT FROM w.__w{i}.v) AS __r{i}"
        )
    return (
        f"CREATE OR REPLACE TEMP TABLE {RUNNER_UP_TABLE} AS SELECT "
        + ",\n  ".join(aggs)
        + f"\nFROM {MEMBERS_TABLE} m JOIN {WINNERS_TABLE} w ON w.master_id = m.master_id "
        "WHERE w.member_count > 1 GROUP BY m.master_id"
    )


def _rule_label_sql(plan: SurvivingField, i: int, aliases: _Aliases, sql: _Sql) -> str:
    """SQL giving the rule that decided field `i` (winners ``w`` joined to runner-ups ``r``)."""
    whens = [f"WHEN w.__n{i} = 1 THEN 'single_value'", f"WHEN r.__r{i} IS NULL THEN 'unanimous'"]
    for j, (rule, _) in enumerate(_ranked_keys(plan, i, aliases)):
        whens.append(f"WHEN w.__k{i}.k{j} IS DISTINCT FROM r.__r{i}.k{j} THEN {sql.bind(rule)}")
    return "CASE " + " ".join(whens) + " ELSE 'record_key' END"


def build_parent_sql(plan: SurvivingField, i: int, aliases: _Aliases) -> str:
    """SQL of (master_id, p): per master the parent's master_id ``p.pm`` and the member ``p.rk``.

    A member's parent reference is looked up in the crosswalk within the member's own source; a
    reference that points back into its own master is not a parent. Among several members with a
    parent, the field's rule chain picks one (ties by record_key, then the parent's master_id).
    """
    keys = _ranked_keys(plan, i, aliases, prefix="m.")
    key = (
        "struct_pack("
        + ", ".join(
            [f"k{j} := {e}" for j, (_, e) in enumerate(keys)] + ["rk := m.__rk", "pm := px.master_id"]
        )
        + ")"
    )
    return (
        "SELECT m.master_id, "
        f"arg_min(struct_pack(pm := px.master_id, rk := m.__rk, src := m.__source), {key}) AS p "
        f"FROM {MEMBERS_TABLE} m JOIN {CROSSWALK} px "
        "ON px.source = m.__source AND CAST(px.source_id AS VARCHAR) = m.__parent_ref "
        "WHERE px.master_id <> m.master_id GROUP BY m.master_id"
    )


# --------------------------------------------------------------------------------------------
# the stage


def build_golden_records(ctx: Any) -> GoldenResult:
    """Build ``golden_customers`` and ``golden_provenance`` in the run's database.

    Args:
        ctx: the run (:class:`workbench.project.context.RunContext`).

    Returns:
        Counts and timings; ``result.as_metrics()`` is what the stage records.
    """
    con = ctx.connect()
    try:
        return build_golden_tables(con, ctx.config)
    finally:
        con.close()


def build_golden_tables(con: Any, config: ProjectConfig) -> GoldenResult:
    """Build ``golden_customers`` and ``golden_provenance`` from std_customers and the crosswalk.

    Args:
        con: a DuckDB connection holding ``std_customers`` and ``crosswalk`` (and ``match_pairs``
            when the match stage ran).
        config: the project config.

    Returns:
        Counts and timings of the build.

    Raises:
        SurvivorshipError: a table is missing, the crosswalk does not hold every std_customers row
            exactly once, or the survivorship config is wrong.
    """
    started = time.perf_counter()
    std_columns = _check_inputs(con)
    plans = plan_fields(config, std_columns)
    parent_field = resolve_parent_field(config)
    notes: list[str] = []
    try:
        parent_counts = _build_in_scratch(con, config, plans, std_columns, parent_field, notes)
    finally:
        for t in SCRATCH_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")
    result = _golden_result(con, plans, parent_field, parent_counts, notes, started)
    for note in notes:
        log.warning(note)
    log.info(
        "golden records: %d masters (%d merged, %d reviewed) from %d rows in %.2fs",
        result.masters,
        result.merged_masters,
        result.reviewed_masters,
        result.members,
        result.seconds,
    )
    return result


def _check_inputs(con: Any) -> list[str]:
    """Check std_customers and the crosswalk; returns the std_customers columns."""
    for table in (STD_CUSTOMERS, CROSSWALK):
        if not table_exists(con, table.name):
            raise SurvivorshipError(f"table {table.name!r} is missing; run the {table.written_by} stage first")
    std_columns = table_columns(con, STD_CUSTOMERS.name)
    for needed in ("record_key", "_source", "source_id"):
        if needed not in std_columns:
            raise SurvivorshipError(f"{STD_CUSTOMERS} has no column {needed!r}; rerun the standardize stage")
    check_crosswalk(con)
    return std_columns


def _build_in_scratch(
    con: Any,
    config: ProjectConfig,
    plans: list[SurvivingField],
    std_columns: list[str],
    parent_field: str | None,
    notes: list[str],
) -> dict[str, int]:
    """The scratch tables (members, winners, runner-ups, parents, reviewed, activity), then both tables.

    Returns:
        The parent reference counts (see :func:`_resolve_parents`).
    """
    members_sql, params, aliases = build_members_sql(plans, std_columns, parent_field)
    con.execute(members_sql, params)
    con.execute(build_winners_sql(plans, aliases))
    con.execute(build_runner_up_sql(plans, aliases))
    parent_counts = {"refs": 0, "unresolved": 0, "cycles": 0}
    parent_join = ""
    if parent_field:
        p_index = next(i for i, p in enumerate(plans) if p.field == parent_field)
        parent_counts = _resolve_parents(con, plans[p_index], p_index, aliases, notes)
        parent_join = f"LEFT JOIN {PARENTS_TABLE} gp ON gp.master_id = w.master_id"
    reviewed_join = ""
    if _find_reviewed(con):
        reviewed_join = f"LEFT JOIN {REVIEWED_TABLE} rv ON rv.master_id = w.master_id"
    else:
        notes.append(f"no {MATCH_PAIRS} table: match_type is single or merged (no review labels known)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ACTIVITY_TABLE} AS {_activity_sql()}")
    golden_sql, golden_params = _golden_select_sql(
        plans, config, parent_join=parent_join, reviewed_join=reviewed_join
    )
    provenance_sql, provenance_params = _provenance_select_sql(plans, aliases, parent_join=parent_join)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {GOLDEN_CUSTOMERS} AS {golden_sql}", golden_params)
        con.execute(f"CREATE OR REPLACE TABLE {GOLDEN_PROVENANCE} AS {provenance_sql}", provenance_params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return parent_counts


def _find_reviewed(con: Any) -> bool:
    """Create the reviewed-masters table from the review labels in match_pairs; False without match_pairs."""
    if not table_exists(con, MATCH_PAIRS.name):
        return False
    pair_columns = table_columns(con, MATCH_PAIRS.name)
    for needed in ("record_key_l", "record_key_r", "match_reason"):
        if needed not in pair_columns:
            raise SurvivorshipError(f"{MATCH_PAIRS} has no column {needed!r}; rerun the match stage")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {REVIEWED_TABLE} AS SELECT DISTINCT a.master_id "
        f"FROM {MATCH_PAIRS} mp JOIN {CROSSWALK} a ON a.record_key = mp.record_key_l "
        f"JOIN {CROSSWALK} b ON b.record_key = mp.record_key_r "
        "WHERE a.master_id = b.master_id AND starts_with(mp.match_reason, 'review:')"
    )
    return True


def _golden_result(
    con: Any,
    plans: list[SurvivingField],
    parent_field: str | None,
    parent_counts: dict[str, int],
    notes: list[str],
    started: float,
) -> GoldenResult:
    """The counts of the tables just built."""
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE match_type = 'merged'), "
        f"count(*) FILTER (WHERE match_type = 'reviewed'), coalesce(sum(member_count), 0), "
        f"count(parent_master_id) FROM {GOLDEN_CUSTOMERS}"
    ).fetchall()[0]
    prov = con.execute(f"SELECT count(*), count(DISTINCT field) FROM {GOLDEN_PROVENANCE}").fetchall()[0]
    return GoldenResult(
        masters=int(counts[0]),
        merged_masters=int(counts[1]),
        reviewed_masters=int(counts[2]),
        members=int(counts[3]),
        provenance_rows=int(prov[0]),
        fields_with_provenance=int(prov[1]),
        parent_field=parent_field,
        parent_links=int(counts[4]),
        parent_refs=parent_counts["refs"],
        parent_refs_unresolved=parent_counts["unresolved"],
        parent_cycles_dropped=parent_counts["cycles"],
        seconds=time.perf_counter() - started,
        plans=plans,
        notes=notes,
    )


def _resolve_parents(
    con: Any, plan: SurvivingField, i: int, aliases: _Aliases, notes: list[str]
) -> dict[str, int]:
    """Create the parents table (master → parent master) and count the parent references."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PARENTS_TABLE} AS " + build_parent_sql(plan, i, aliases))
    mutual = (
        f"SELECT a.master_id FROM {PARENTS_TABLE} a JOIN {PARENTS_TABLE} b "
        "ON a.p.pm = b.master_id AND b.p.pm = a.master_id"
    )
    cycles = con.execute(f"SELECT count(*) FROM ({mutual})").fetchall()[0][0]
    if cycles:
        # two masters naming each other as parent: the data contradicts itself, keep neither link
        con.execute(f"DELETE FROM {PARENTS_TABLE} WHERE master_id IN ({mutual})")
        notes.append(f"{cycles} master(s) named each other as parent; those parent links were dropped")
    refs, unresolved = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {CROSSWALK} px "
        "WHERE px.source = m.__source AND CAST(px.source_id AS VARCHAR) = m.__parent_ref)) "
        f"FROM {MEMBERS_TABLE} m WHERE m.__parent_ref IS NOT NULL"
    ).fetchall()[0]
    if unresolved:
        notes.append(
            f"{unresolved} parent reference(s) in {plan.field!r} name no row of their source; "
            "those customers keep no parent"
        )
    return {"refs": int(refs), "unresolved": int(unresolved), "cycles": int(cycles)}


def check_crosswalk(con: Any) -> None:
    """Check that the crosswalk holds every std_customers row exactly once, and nothing else.

    Raises:
        SurvivorshipError: naming up to ten offending record keys and what to do.
    """
    checks = (
        (
            f"SELECT record_key, count(*) FROM {CROSSWALK} GROUP BY record_key HAVING count(*) > 1 "
            "ORDER BY record_key LIMIT 10",
            f"record_key(s) listed more than once in {CROSSWALK}",
        ),
        (
            f"SELECT record_key FROM {CROSSWALK} WHERE master_id IS NULL OR record_key IS NULL "
            "ORDER BY record_key LIMIT 10",
            f"{CROSSWALK} rows without master_id or record_key",
        ),
        (
            f"SELECT s.record_key FROM {STD_CUSTOMERS} s ANTI JOIN {CROSSWALK} c ON c.record_key = s.record_key "
            "ORDER BY s.record_key LIMIT 10",
            f"{STD_CUSTOMERS} rows missing from {CROSSWALK}",
        ),
        (
            f"SELECT c.record_key FROM {CROSSWALK} c ANTI JOIN {STD_CUSTOMERS} s ON c.record_key = s.record_key "
            "ORDER BY c.record_key LIMIT 10",
            f"{CROSSWALK} rows with no {STD_CUSTOMERS} row",
        ),
    )
    problems = []
    for sql, problem in checks:
        keys = [r[0] for r in con.execute(sql).fetchall()]
        if keys:
            problems.append(f"{problem}: {keys}")
    if problems:
        raise SurvivorshipError(
            f"the {CROSSWALK} must hold every {STD_CUSTOMERS} row exactly once: "
            + "; ".join(problems)
            + ". Rerun the standardize and match stages of this run in order"
        )


def _golden_select_sql(
    plans: Sequence[SurvivingField], config: ProjectConfig, *, parent_join: str, reviewed_join: str
) -> tuple[str, list[Any]]:
    sql = _Sql()
    settings = config.survivorship
    select = ["w.master_id"]
    by_name = {p.field: i for i, p in enumerate(plans)}
    for i, p in enumerate(plans):
        if p.kind == "record":
            continue
        select.append(f"w.__w{i}.v AS {ident(p.field)}")
        select.extend(f"w.__w{i}.x{j} AS {ident(x)}" for j, x in enumerate(p.extras))

    def record(name: str, typ: str) -> str:
        if name in by_name:
            return f"w.__w{by_name[name]}.v AS {name}"
        return f"NULL::{typ} AS {name}"

    select += [
        record("customer_type", "VARCHAR"),
        record("record_status", "VARCHAR"),
        record("is_test", "BOOLEAN"),
        record("is_stale", "BOOLEAN"),
        "act.last_activity_date",
        "act.activity_amount_12m",
        "act.activity_amount_total",
    ]
    reasons: list[str] = []
    if "is_test" in by_name:
        reasons.append(f"CASE WHEN w.__w{by_name['is_test']}.v THEN 'test' END")
    if "record_status" in by_name:
        status = f"w.__w{by_name['record_status']}.v"
        reasons.append(
            f"CASE WHEN list_contains({sql.bind(list(settings.invalid_statuses))}::VARCHAR[], {status}) "
            f"THEN {status} END"
        )
    kinds = config.field_kinds()
    # the customer's own name: customer/company name fields; person names only when there are none
    # (a person_name next to a company name is usually the contact person)
    name_fields = [f for f, k in kinds.items() if k in ORG_NAME_KINDS and f in by_name] or [
        f for f, k in kinds.items() if k == Kind.PERSON_NAME and f in by_name
    ]
    if name_fields:
        all_missing = " AND ".join(f"w.__w{by_name[f]} IS NULL" for f in name_fields)
        reasons.append(f"CASE WHEN {all_missing} THEN 'missing_name' END")
    for f in settings.required_fields:
        reasons.append(f"CASE WHEN w.__w{by_name[f]} IS NULL THEN {sql.bind('missing_' + f)} END")
    flags = f"nullif(concat_ws(';', {', '.join(reasons)}), '')" if reasons else "NULL::VARCHAR"
    select += [
        f"{flags} AS flags",
        "gp.p.pm AS parent_master_id" if parent_join else "NULL::VARCHAR AS parent_master_id",
        "w.member_count",
        "w.sources",
        "CASE WHEN w.member_count = 1 THEN 'single' "
        + ("WHEN rv.master_id IS NOT NULL THEN 'reviewed' " if reviewed_join else "")
        + "ELSE 'merged' END AS match_type",
    ]
    text = (
        "SELECT "
        + ",\n  ".join(select)
        + f"\nFROM {WINNERS_TABLE} w LEFT JOIN {ACTIVITY_TABLE} act ON act.master_id = w.master_id "
        + f"{parent_join} {reviewed_join}\nORDER BY w.master_id"
    )
    return text, sql.params


def _activity_sql() -> str:
    """Activity per master: newest date, amounts summed once per source account.

    Two std rows with the same source and source ID carry the same activity (activity sources link by
    source ID), so amounts are taken once per (source, source_id) before they are summed.
    """
    return (
        "SELECT master_id, max(lad) AS last_activity_date, "
        "arg_min(rk, struct_pack(d := date_diff('day', lad, DATE '9999-12-31'), rk := rk)) "
        "FILTER (WHERE lad IS NOT NULL) AS lad_rk, "
        "string_agg(DISTINCT src, ';' ORDER BY src) FILTER (WHERE lad IS NOT NULL) AS lad_src, "
        "sum(a12) AS activity_amount_12m, "
        "string_agg(rks, ';' ORDER BY rks) FILTER (WHERE a12 IS NOT NULL) AS a12_rk, "
        "string_agg(DISTINCT src, ';' ORDER BY src) FILTER (WHERE a12 IS NOT NULL) AS a12_src, "
        "sum(atot) AS activity_amount_total, "
        "string_agg(rks, ';' ORDER BY rks) FILTER (WHERE atot IS NOT NULL) AS atot_rk, "
        "string_agg(DISTINCT src, ';' ORDER BY src) FILTER (WHERE atot IS NOT NULL) AS atot_src "
        "FROM (SELECT master_id, __source AS src, min(__rk) AS rk, "
        "string_agg(__rk, ';' ORDER BY __rk) AS rks, max(__last_activity_date) AS lad, "
        "max(__activity_amount_12m) AS a12, max(__activity_amount_total) AS atot "
        f"FROM {MEMBERS_TABLE} GROUP BY master_id, __source, coalesce(__sid, __rk)) "
        "GROUP BY master_id"
    )


def _provenance_select_sql(
    plans: Sequence[SurvivingField], aliases: _Aliases, *, parent_join: str
) -> tuple[str, list[Any]]:
    """One pass over the winners: per master a list of (field, value, record, source, rule), unnested.

    The masters are sorted before the list is unnested, so the rows come out ordered by master_id and
    then field (in golden column order) without sorting the much longer provenance table.
    """
    sql = _Sql()
    entries = []
    for i, p in enumerate(plans):
        name = sql.bind(p.field)  # parameters are bound in the order they appear in the text
        label = _rule_label_sql(p, i, aliases, sql)
        entries.append(
            f"struct_pack(field := {name}, value := CAST(w.__w{i}.v AS VARCHAR), record_key := w.__w{i}.rk, "
            f"source := w.__w{i}.src, rule := {label})"
        )
    for name, value, rk, src, rule in (
        ("last_activity_date", "last_activity_date", "lad_rk", "lad_src", "max"),
        ("activity_amount_12m", "activity_amount_12m", "a12_rk", "a12_src", "sum"),
        ("activity_amount_total", "activity_amount_total", "atot_rk", "atot_src", "sum"),
    ):
        entries.append(
            f"struct_pack(field := {sql.bind(name)}, value := CAST(act.{value} AS VARCHAR), "
            f"record_key := act.{rk}, source := act.{src}, rule := {sql.bind(rule)})"
        )
    if parent_join:
        entries.append(
            "struct_pack(field := 'parent_master_id', value := gp.p.pm, record_key := gp.p.rk, "
            "source := gp.p.src, rule := 'parent_reference')"
        )
    per_master = (
        f"SELECT w.master_id, [{', '.join(entries)}] AS e FROM {WINNERS_TABLE} w "
        f"LEFT JOIN {RUNNER_UP_TABLE} r ON r.master_id = w.master_id "
        f"LEFT JOIN {ACTIVITY_TABLE} act ON act.master_id = w.master_id {parent_join} ORDER BY w.master_id"
    )
    text = (
        "SELECT master_id, e.field, e.value, e.record_key, e.source, e.rule "
        f"FROM (SELECT master_id, unnest(e) AS e FROM ({per_master})) WHERE e.value IS NOT NULL"
    )
    return text, sql.params


def _did_you_mean(value: str, options: Sequence[str] | set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


# --------------------------------------------------------------------------------------------
# readers for the notebook and reports


def count_match_types(con: Any) -> pd.DataFrame:
    """Golden records by match type: ``match_type, masters, members`` (single, merged, reviewed)."""
    return con.execute(
        f"SELECT match_type, count(*) AS masters, sum(member_count)::BIGINT AS members FROM {GOLDEN_CUSTOMERS} "
        "GROUP BY match_type ORDER BY CASE match_type WHEN 'single' THEN 1 WHEN 'merged' THEN 2 ELSE 3 END"
    ).df()


def count_deciding_rules(con: Any) -> pd.DataFrame:
    """How golden values were decided: ``field, rule, value_count`` from golden_provenance."""
    return con.execute(
        f"SELECT field, rule, count(*) AS value_count FROM {GOLDEN_PROVENANCE} GROUP BY field, rule "
        "ORDER BY field, value_count DESC, rule"
    ).df()


def sample_golden(con: Any, n: int = 10, *, match_type: str | None = None, seed: int = 42) -> pd.DataFrame:
    """A reproducible sample of golden records (optionally of one match type), ordered by master_id."""
    where, params = ("WHERE match_type = ?", [match_type]) if match_type else ("", [])
    return (
        con.execute(
            f"SELECT * FROM {GOLDEN_CUSTOMERS} {where} ORDER BY hash(master_id, ?), master_id LIMIT ?",
            [*params, seed, n],
        )
        .df()
        .sort_values("master_id", kind="mergesort")
        .reset_index(drop=True)
    )


def pick_master(con: Any, master_id: str = "") -> str | None:
    """The master to explain: `master_id` when given, else the merged master with most members.

    Without merged masters a reviewed, then a single one is taken (ties by master_id); None when
    golden_customers is empty.
    """
    if master_id:
        return master_id
    rows = con.execute(
        f"SELECT master_id FROM {GOLDEN_CUSTOMERS} ORDER BY CASE match_type WHEN 'merged' THEN 1 "
        "WHEN 'reviewed' THEN 2 ELSE 3 END, member_count DESC, master_id LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def read_provenance(con: Any, master_id: str) -> pd.DataFrame:
    """The provenance rows of one master: ``field, value, record_key, source, rule``."""
    return con.execute(
        f"SELECT field, value, record_key, source, rule FROM {GOLDEN_PROVENANCE} WHERE master_id = ? "
        "ORDER BY field",
        [master_id],
    ).df()
