"""The table catalog: every table the workbench persists, its key and the stage that writes it.

Code names a table only through this module: ``catalog.STD_CUSTOMERS`` (a :class:`Table`, which
formats as its name in SQL: ``f"SELECT * FROM {STD_CUSTOMERS}"``), ``catalog.staged(source)`` for
the per-source staging tables, and :func:`temp` for the scratch tables a step creates and drops
(one prefix, ``__wb_``, so they are easy to tell from the contract tables and from Splink's
``__splink__`` tables). The column contracts are in ``docs/architecture.md``.

Three databases hold tables: ``run`` (the run's ``warehouse.duckdb``), ``history`` (the project's
run history) and ``load_history`` (the project's import rounds); see
:class:`workbench.project.paths.ProjectPaths`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEMP_PREFIX = "__wb_"
STAGED_PREFIX = "stg_"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Table:
    """One persisted table: its name, key columns, the stage that writes it and its database."""

    name: str
    key: tuple[str, ...]
    written_by: str
    description: str
    database: str = "run"

    def __str__(self) -> str:
        return self.name


def _t(name: str, key: tuple[str, ...], written_by: str, description: str, database: str = "run") -> Table:
    return Table(name, key, written_by, description, database)


# -- audit (ingest + profile)
STAGED_COLUMNS = _t("stg_columns", ("source", "position"), "audit", "the column map as applied at ingest")
QUARANTINE = _t("quarantine", ("source", "row_number"), "audit", "rows that could not be parsed, with reason")
INGEST_SUMMARY = _t("ingest_summary", ("source",), "audit", "file rows = staged + quarantined, per source")
PROFILE_COLUMNS = _t("profile_columns", ("source", "field"), "audit", "per column: type, nulls, distinct …")
PROFILE_TOP_VALUES = _t("profile_top_values", ("source", "field", "rank"), "audit", "most frequent values")
PROFILE_PATTERNS = _t("profile_patterns", ("source", "field", "rank"), "audit", "most frequent shape masks")
PROFILE_DUPLICATES = _t("profile_duplicates", ("source", "check", "key"), "audit", "duplicate IDs and rows")
PROFILE_KEY_OVERLAPS = _t(
    "profile_key_overlaps", ("key_kind", "source_a", "source_b"), "audit", "keys shared between sources"
)
# -- standardize
STD_CUSTOMERS = _t("std_customers", ("record_key",), "standardize", "one standardized row per source row")
CHANGE_LOG = _t(
    "change_log", ("record_key", "field", "rule"), "standardize", "every changed value: before, after, rule"
)
FIELD_VALIDITY = _t("field_validity", ("source", "field"), "standardize", "valid share before and after")
# -- mapping
MAPPING_COVERAGE = _t(
    "mapping_coverage", (), "mapping", "mapping gaps and conflicts: a list of findings, no unique key"
)
# -- match
MATCH_PAIRS = _t(
    "match_pairs", ("record_key_l", "record_key_r"), "match", "scored pairs with decision and reason"
)
CROSSWALK = _t("crosswalk", ("record_key",), "match", "every customer source row → its master ID")
REVIEW_QUEUE = _t("review_queue", ("item_id",), "match", "uncertain pairs and suspicious clusters")
# -- golden
GOLDEN_CUSTOMERS = _t("golden_customers", ("master_id",), "golden", "one surviving record per master")
GOLDEN_PROVENANCE = _t(
    "golden_provenance", ("master_id", "field"), "golden", "source record and rule of every golden value"
)
# -- batches
BATCH_PLAN = _t("batch_plan", ("master_id",), "batches", "every master in exactly one batch")
# -- export
LOAD_ROWS = _t("load_rows", ("profile", "file", "row_in_file"), "export", "every row written to a load file")
REJECT_ROWS = _t(
    "reject_rows", ("profile", "master_id", "field", "reason"), "export", "masters not written, with why"
)
EXPORT_FILES = _t("export_files", ("profile", "file"), "export", "load files with rows, bytes and sha256")
# -- validate
VALIDATION_RESULTS = _t(
    "validation_results", ("suite", "expectation", "column"), "validate", "one row per expectation"
)
VALIDATION_FAILURES = _t(
    "validation_failures", ("suite", "expectation", "column"), "validate", "failed rows with business keys"
)
DISPOSITIONS = _t("dispositions", ("record_key",), "validate", "the one outcome of every source row")
RECONCILIATION_TOTALS = _t("reconciliation_totals", ("source",), "validate", "outcomes counted per source")
RECONCILIATION_CHECKSUMS = _t(
    "reconciliation_checksums", ("profile", "structure", "target_field"), "validate", "golden vs file checksums"
)
RECONCILIATION_PROBLEMS = _t(
    "reconciliation_problems", ("record_key", "problem"), "validate", "rows with no or several outcomes"
)
SAMPLE_PLAN = _t("sample_plan", (), "validate", "size and method of the business acceptance sample")
BUSINESS_SAMPLE = _t("business_sample", ("sample_no",), "validate", "the masters drawn for business review")
SAMPLE_VERDICTS = _t("sample_verdicts", ("sample_no",), "validate", "business verdicts read back")
# -- project databases (across runs)
RUN_METRICS = _t(
    "run_metrics", ("run_id", "metric", "scope", "field"), "monitor", "quality metrics of every run", "history"
)
MASTER_CUSTOMERS = _t("master_customers", ("master_id",), "monitor", "the published customer master", "history")
MASTER_CHANGE_LOG = _t("master_change_log", ("edit_id",), "monitor", "edits of the published master", "history")
LOAD_ITERATIONS = _t(
    "load_iterations", ("run_id", "profile", "iteration"), "export", "import rounds of every run", "load_history"
)
LOAD_ITERATION_REASONS = _t(
    "load_iteration_reasons", ("run_id", "profile", "iteration", "reason"), "export", "failures by reason",
    "load_history",
)

TABLES: tuple[Table, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Table))
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def staged(source: str) -> str:
    """The staging table of a source: ``stg_<source>`` (every column VARCHAR, lineage first)."""
    if not _NAME.fullmatch(source):
        raise ValueError(f"invalid source name {source!r} for a table; use lower-case letters, digits and _")
    return f"{STAGED_PREFIX}{source}"


def temp(name: str) -> str:
    """A scratch table or registered frame: ``__wb_<name>``; drop it when the step is done."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid scratch table name {name!r}")
    return f"{TEMP_PREFIX}{name}"


def writer_of(table: str) -> str:
    """The stage that writes `table` (``stg_<source>`` tables are written by ``audit``)."""
    if table.startswith(STAGED_PREFIX) and table not in BY_NAME:
        return "audit"
    try:
        return BY_NAME[table].written_by
    except KeyError:
        raise KeyError(f"{table!r} is not in the table catalog (workbench/engine/catalog.py)") from None
