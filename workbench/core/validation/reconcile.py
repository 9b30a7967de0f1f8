"""Reconciliation (phase 7, logical validation): every source row gets exactly one disposition.

This module owns the ``dispositions`` table (docs/architecture.md): one row per row of every
customer source file — staged or quarantined — with its outcome:

- ``loaded``: the row is the primary record of master M, loaded in batch B (in every exported
  target profile);
- ``merged``: the row was merged into master M, which is loaded under its primary record;
- ``deferred``: M sits in the deferred (dormant) batch, or in a batch this run does not export;
- ``excluded``: M was excluded by the batch plan (reason given);
- ``rejected``: M failed the pre-write checks of a target profile (profile, field and reason given);
- ``quarantined``: the row could not be parsed at ingest (reason given).

The primary record of a master is the member that gave the most golden fields (``golden_provenance``),
ties broken by record key. A run in which any row is unaccounted for — not in the crosswalk, a
master without a batch, a loaded batch whose master is in no load file and not rejected, a row
counted twice, totals that differ from the file's rows — raises
:class:`~workbench.errors.ReconciliationError` naming the rows.

It also writes ``reconciliation_totals`` (rows per source and disposition) and
``reconciliation_checksums`` (key fields copied 1:1 from the golden records into the load files:
count and an order-independent checksum on both sides, and the masters that differ).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.engine import catalog
from workbench.engine.catalog import (
    BATCH_PLAN,
    CROSSWALK,
    GOLDEN_CUSTOMERS,
    GOLDEN_PROVENANCE,
    INGEST_SUMMARY,
    LOAD_ROWS,
    QUARANTINE,
    RECONCILIATION_CHECKSUMS,
    RECONCILIATION_PROBLEMS,
    RECONCILIATION_TOTALS,
    REJECT_ROWS,
    staged,
)
from workbench.engine.connection import registered, table_exists
from workbench.engine.files import atomic_path
from workbench.engine.sql import ident, literal
from workbench.errors import ReconciliationError
from workbench.project.paths import RunPaths

if TYPE_CHECKING:
    import duckdb

    from workbench.core.mapping import MappingLine, MappingSet
    from workbench.core.targets.profiles import TargetProfile
    from workbench.project.config import ProjectConfig

log = logging.getLogger(__name__)

DISPOSITIONS = ("loaded", "merged", "deferred", "excluded", "rejected", "quarantined")
DISPOSITION_COLUMNS = [
    "source",
    "source_id",
    "record_key",
    "row_number",
    "disposition",
    "master_id",
    "batch",
    "reason",
]
MAX_NAMED_ROWS = 20
PROBLEM_COLUMNS = ["record_key", "source", "row_number", "problem"]
CHECKSUM_COLUMNS = [
    "profile",
    "structure",
    "target_field",
    "golden_column",
    "masters",
    "golden_checksum",
    "file_checksum",
    "mismatches",
    "mismatch_examples",
    "match",
]
FRAME = catalog.temp("frame")


@dataclass
class ReconciliationResult:
    """What :func:`reconcile_run` found and wrote."""

    dispositions: pd.DataFrame
    totals: pd.DataFrame  # source × disposition counts, plus file rows and a balanced flag
    checksums: pd.DataFrame
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return self.problems.empty and bool(self.checksums.empty or self.checksums["match"].all())

    @property
    def counts(self) -> dict[str, int]:
        return {d: int((self.dispositions["disposition"] == d).sum()) for d in DISPOSITIONS}

    def metrics(self) -> dict[str, Any]:
        """Figures the ``validate`` stage records."""
        sums = self.checksums
        return {
            "source_rows": len(self.dispositions),
            "dispositions": self.counts,
            "unaccounted_rows": len(self.problems),
            "balanced": bool(self.totals["balanced"].astype(bool).all()),
            "checksum_fields": len(sums),
            "checksums_match": bool(sums.empty or sums["match"].all()),
        }


def _exported_batches(config: ProjectConfig) -> list[str]:
    from workbench.core.batches.plan import LOADABLE_ROLES

    names = config.export.batches.names.model_dump()
    return list(config.export.export_batches or [names[r] for r in LOADABLE_ROLES])


def staged_rows_sql(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> str:
    """SQL of every staged customer row: ``source, row_number, record_key, source_id``."""
    parts = []
    for s in config.customer_sources:
        table = staged(s.name)
        if not table_exists(con, table):
            raise ReconciliationError(
                f"table {table} is missing: source {s.name!r} was not ingested in this run; run the ingest stage"
            )
        parts.append(
            f"SELECT {literal(s.name)} AS source, CAST(_row_number AS BIGINT) AS row_number, "
            f"{literal(s.name + ':')} || CAST(_row_number AS VARCHAR) AS record_key, "
            f"trim(CAST({ident(s.id_field)} AS VARCHAR)) AS source_id FROM {table}"
        )
    if not parts:
        raise ReconciliationError("the config lists no customer source; nothing to reconcile")
    return " UNION ALL ".join(parts)


REQUIRED_TABLES = (CROSSWALK, BATCH_PLAN, LOAD_ROWS)


def _quarantine_sql(has_quarantine: bool) -> str:
    """Quarantined rows of the customer sources (parameter: the source names)."""
    if not has_quarantine:
        return (
            "SELECT NULL::VARCHAR source, NULL::BIGINT row_number, NULL::VARCHAR record_key, "
            "NULL::VARCHAR source_id, NULL::VARCHAR reason WHERE false"
        )
    return (
        "SELECT source, CAST(row_number AS BIGINT) AS row_number, "
        "source || ':' || CAST(row_number AS VARCHAR) AS record_key, NULL::VARCHAR AS source_id, "
        f"reason FROM {QUARANTINE} WHERE source IN (SELECT unnest(?::VARCHAR[]))"
    )


def _rejects_sql(has_rejects: bool) -> str:
    """Per master, why a target profile rejected it (profile, field, reason)."""
    if not has_rejects:
        return "SELECT NULL::VARCHAR master_id, NULL::VARCHAR why WHERE false"
    return (
        "SELECT master_id, string_agg(DISTINCT profile || ': ' || field || ' — ' || reason, '; ' "
        f"ORDER BY profile || ': ' || field || ' — ' || reason) AS why FROM {REJECT_ROWS} GROUP BY master_id"
    )


def _primary_sql(has_provenance: bool) -> str:
    """Per master, its primary record: the member that gave most golden fields, then by record key."""
    if not has_provenance:
        return f"SELECT master_id, min(record_key) AS primary_key FROM {CROSSWALK} GROUP BY master_id"
    return (
        "SELECT master_id, arg_min(record_key, (-n, record_key)) AS primary_key FROM ("
        f"  SELECT c.master_id, c.record_key, count(p.field) AS n FROM {CROSSWALK} c"
        f"  LEFT JOIN {GOLDEN_PROVENANCE} p ON p.master_id = c.master_id AND p.record_key = c.record_key"
        "  GROUP BY ALL) GROUP BY master_id"
    )


def _dispositions_sql(staged_rows: str, quarantine: str, rejects: str, primary: str) -> str:
    """Every staged or quarantined row with what decides its disposition, and the disposition.

    Parameters (after the quarantine's): the dormant and excluded batch names, the exported
    batches and the number of exported profiles.
    """
    return f"""
    WITH staged AS ({staged_rows}),
    q AS ({quarantine}),
    cw AS (SELECT record_key, any_value(master_id) AS master_id, count(*) AS n_cw
           FROM {CROSSWALK} GROUP BY record_key),
    bp AS (SELECT master_id, any_value(batch) AS batch, any_value(reason) AS reason, count(*) AS n_bp
           FROM {BATCH_PLAN} GROUP BY master_id),
    rej AS ({rejects}),
    loaded AS (SELECT master_id, list(DISTINCT profile ORDER BY profile) AS profiles,
                      count(DISTINCT profile) AS n_profiles, min(batch) AS load_batch
               FROM {LOAD_ROWS} GROUP BY master_id),
    prim AS ({primary}),
    rows AS (
      SELECT s.source, s.source_id, s.record_key, s.row_number, cw.master_id, cw.n_cw, bp.batch,
             bp.reason AS plan_reason, bp.n_bp, rej.why, loaded.n_profiles, loaded.profiles,
             prim.primary_key, NULL::VARCHAR AS q_reason
      FROM staged s
      LEFT JOIN cw USING (record_key)
      LEFT JOIN bp ON bp.master_id = cw.master_id
      LEFT JOIN rej ON rej.master_id = cw.master_id
      LEFT JOIN loaded ON loaded.master_id = cw.master_id
      LEFT JOIN prim ON prim.master_id = cw.master_id
      UNION ALL
      SELECT source, source_id, record_key, row_number, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, reason FROM q
    )
    SELECT *, CASE
        WHEN q_reason IS NOT NULL THEN 'quarantined'
        WHEN master_id IS NULL OR n_cw > 1 OR batch IS NULL OR n_bp > 1 THEN NULL
        WHEN batch = ? THEN 'deferred'
        WHEN batch = ? THEN 'excluded'
        WHEN NOT list_contains(?::VARCHAR[], batch) THEN 'deferred'
        WHEN why IS NOT NULL THEN 'rejected'
        WHEN coalesce(n_profiles, 0) < ? THEN NULL
        WHEN record_key = primary_key THEN 'loaded'
        ELSE 'merged' END AS disposition
    FROM rows
    ORDER BY source, row_number, record_key
    """


def _reason(r: Any, dormant: str, excluded: str) -> str | None:
    """The reason shown with a disposition (None for a loaded row)."""
    d = r.disposition
    if d == "quarantined":
        return r.q_reason
    if d in ("deferred", "excluded"):
        if r.batch in (dormant, excluded):
            return r.plan_reason if isinstance(r.plan_reason, str) and r.plan_reason else r.batch
        return f"batch {r.batch} is not exported in this run (export.export_batches)"
    if d == "rejected":
        return r.why
    if d == "merged":
        return f"merged into {r.master_id} (loaded as {r.primary_key})"
    return None


def _extra_problems(
    con: duckdb.DuckDBPyConnection, raw: pd.DataFrame, staged_rows: str
) -> list[pd.DataFrame]:
    """Rows with several outcomes, and crosswalk rows that no staged row stands for."""
    extra = []
    # a row appearing twice (e.g. a staged row also quarantined) is a problem too
    dup = raw[raw.duplicated("record_key", keep=False)]
    if len(dup):
        twice = dup.drop_duplicates("record_key").assign(
            problem="the row has more than one outcome (staged and quarantined, or staged twice)"
        )
        extra.append(twice[PROBLEM_COLUMNS])
    ghosts = con.sql(
        f"SELECT record_key, split_part(record_key, ':', 1) AS source, NULL::BIGINT AS row_number, "
        f"'in the crosswalk but no such source row was staged' AS problem FROM {CROSSWALK} "
        f"WHERE record_key NOT IN (SELECT record_key FROM ({staged_rows})) ORDER BY record_key"
    ).df()
    if len(ghosts):
        extra.append(ghosts)
    return extra


def build_dispositions(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every customer source row its disposition (nothing is written).

    Args:
        con: the run database (needs ``stg_*``, ``crosswalk``, ``batch_plan``, ``load_rows``,
            ``reject_rows``; ``quarantine`` and ``golden_provenance`` when present).
        config: the project config.

    Returns:
        ``(dispositions, problems)``: the dispositions (ordered by source, row number) and the rows
        that could not be accounted for (``record_key, source, row_number, problem``).
    """
    for t in REQUIRED_TABLES:
        if not table_exists(con, t.name):
            raise ReconciliationError(
                f"table {t.name!r} is missing from the run database; run the stage that writes it "
                f"(match → {CROSSWALK}, batches → {BATCH_PLAN}, export → {LOAD_ROWS}) before reconciling"
            )
    names = config.export.batches.names
    staged_rows = staged_rows_sql(con, config)
    has_q = table_exists(con, QUARANTINE.name)
    has_rej = table_exists(con, REJECT_ROWS.name)
    # the profiles this run exported: a master of an exported batch must be in each one's files
    profiles_sql = f"SELECT DISTINCT profile FROM {LOAD_ROWS}" + (
        f" UNION SELECT DISTINCT profile FROM {REJECT_ROWS}" if has_rej else ""
    )
    profiles = [r[0] for r in con.sql(profiles_sql + " ORDER BY 1").fetchall()]
    sql = _dispositions_sql(
        staged_rows,
        _quarantine_sql(has_q),
        _rejects_sql(has_rej),
        _primary_sql(table_exists(con, GOLDEN_PROVENANCE.name)),
    )
    params: list[Any] = [[s.name for s in config.customer_sources]] if has_q else []
    params += [names.dormant, names.excluded, _exported_batches(config), len(profiles)]
    raw = con.execute(sql, params).df()
    raw["reason"] = (
        [_reason(r, names.dormant, names.excluded) for r in raw.itertuples(index=False)] if len(raw) else []
    )
    problems = _problems(raw, profiles)
    for extra in _extra_problems(con, raw, staged_rows):
        problems = pd.concat([problems, extra])
    disp = raw[raw["disposition"].notna()].drop_duplicates("record_key")
    disp = disp.assign(batch=disp["batch"].where(disp["disposition"] != "quarantined", None))
    disp = disp[DISPOSITION_COLUMNS].reset_index(drop=True)
    disp["row_number"] = disp["row_number"].astype("int64")
    return disp, problems.reset_index(drop=True)


def _problems(raw: pd.DataFrame, profiles: list[str]) -> pd.DataFrame:
    rows = []
    for r in raw[raw["disposition"].isna()].itertuples(index=False):
        if r.master_id is None or pd.isna(r.master_id):
            why = f"not in the {CROSSWALK} (no master ID): the match stage lost the row"
        elif r.n_cw > 1:
            why = f"in the {CROSSWALK} {int(r.n_cw)} times"
        elif r.batch is None or pd.isna(r.batch):
            why = f"master {r.master_id} has no batch in {BATCH_PLAN}"
        elif r.n_bp > 1:
            why = f"master {r.master_id} is in {BATCH_PLAN} {int(r.n_bp)} times"
        else:
            have = (
                list(r.profiles)
                if isinstance(r.profiles, list | tuple) or hasattr(r.profiles, "tolist")
                else []
            )
            missing = [p for p in profiles if p not in have]
            why = (
                f"master {r.master_id} of exported batch {r.batch} is neither in a load file nor rejected "
                f"for profile(s) {missing}"
            )
        rows.append(
            {"record_key": r.record_key, "source": r.source, "row_number": r.row_number, "problem": why}
        )
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def disposition_totals(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, dispositions: pd.DataFrame
) -> pd.DataFrame:
    """Rows per source and disposition, with the file's row count and whether they balance.

    Columns: ``source``, one column per disposition, ``total``, ``file_rows`` (from
    ``ingest_summary`` when present) and ``balanced``.
    """
    pivot = (
        dispositions.pivot_table(index="source", columns="disposition", values="record_key", aggfunc="count")
        .reindex(columns=list(DISPOSITIONS))
        .fillna(0)
        .astype("int64")
    )
    pivot = pivot.reindex([s.name for s in config.customer_sources], fill_value=0)
    pivot["total"] = pivot.sum(axis=1)
    if table_exists(con, INGEST_SUMMARY.name):
        files = con.sql(
            f"SELECT source, sum(file_rows) AS file_rows FROM {INGEST_SUMMARY} GROUP BY source"
        ).df()
        pivot = pivot.join(files.set_index("source")["file_rows"].astype("int64"), how="left")
        pivot["balanced"] = pivot["file_rows"] == pivot["total"]
    else:
        pivot["file_rows"] = pd.NA
        pivot["balanced"] = True
    out = pivot.reset_index().rename(columns={"index": "source"})
    out.columns.name = None
    return out


def _copy_lines(mapping: MappingSet, profile: str, golden_columns: pd.Index) -> list[MappingLine]:
    """The mapping lines of `profile` that copy one golden column unchanged (transform ``copy``)."""
    return [
        ln
        for ln in mapping.lines_for(profile)
        if len(ln.sources) == 1 and [s.name for s in ln.steps] == ["copy"] and ln.sources[0] in golden_columns
    ]


def _file_values(
    rows: pd.DataFrame, profile: TargetProfile, lines: list[MappingLine], run_root: Path
) -> dict[tuple[str, str], dict[str, str | None]]:
    """(structure, target field) → master → the value in the load files (first occurrence wins).

    Args:
        rows: the profile's ``load_rows``.
        profile: the target profile.
        lines: the copy lines to compare.
        run_root: the run folder the load files are relative to.
    """
    from workbench.core.export.load_files import read_load_file

    values: dict[tuple[str, str], dict[str, str | None]] = {}
    for file, file_rows in rows.groupby("file", sort=True):
        frames = read_load_file(run_root / str(file), profile)
        by_row = dict(zip(file_rows["row_in_file"].astype(int), file_rows["master_id"], strict=True))
        key_to_master = dict(zip(file_rows["row_key"].astype(str), file_rows["master_id"], strict=False))
        for s in profile.structures:
            frame = frames.get(s.id)
            if frame is None or frame.empty:
                continue
            if s.id == profile.main.id:
                masters = frame["_row"].map(by_row)
            else:
                masters = frame[profile.key_field].astype(str).map(key_to_master)
            for ln in (ln for ln in lines if ln.structure == s.id):
                store = values.setdefault((s.id, ln.field), {})
                for m, v in zip(masters, frame[ln.field], strict=True):
                    if isinstance(m, str) and m not in store:
                        store[m] = _unguard(v)
    return values


def _checksum_row(profile: str, ln: MappingLine, golden: pd.DataFrame, store: dict[str, str | None]) -> dict:
    """The ``reconciliation_checksums`` row of one copied field."""
    from workbench.core.mapping import to_text

    ids = sorted(store)
    g = golden.set_index("master_id", drop=False).reindex(ids)
    g_text = dict(zip(ids, to_text(g[ln.sources[0]].reset_index(drop=True)), strict=True))
    diff = [m for m in ids if (g_text[m] or None) != (store[m] or None)]
    return {
        "profile": profile,
        "structure": ln.structure,
        "target_field": ln.field,
        "golden_column": ln.sources[0],
        "masters": len(ids),
        "golden_checksum": _checksum(ids, g_text),
        "file_checksum": _checksum(ids, store),
        "mismatches": len(diff),
        "mismatch_examples": ";".join(diff[:MAX_NAMED_ROWS]),
        "match": not diff,
    }


def key_field_checksums(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, run_root: Path
) -> pd.DataFrame:
    """Compare the key fields copied 1:1 from golden records with what the load files hold.

    A key field is a target field whose mapping line copies one golden column unchanged
    (transform ``copy``). For each profile and such field: the masters in the load files, an
    order-independent checksum (SHA-256 of the sorted ``master_id<TAB>value`` lines) on the golden
    side and on the file side, and the masters whose values differ.

    Returns:
        ``profile, structure, target_field, golden_column, masters, golden_checksum, file_checksum,
        mismatches, mismatch_examples, match`` (empty when nothing was exported).
    """
    from workbench.core.mapping import load_mapping_set
    from workbench.core.targets.profiles import load_project_profiles

    load_rows = con.sql(f"SELECT * FROM {LOAD_ROWS} ORDER BY profile, file, row_in_file").df()
    if load_rows.empty:
        return pd.DataFrame(columns=CHECKSUM_COLUMNS)
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    golden = con.sql(f"SELECT * FROM {GOLDEN_CUSTOMERS} ORDER BY master_id").df()
    out = []
    for name, profile in profiles.items():
        lines = _copy_lines(mapping, name, golden.columns)
        mine = load_rows[load_rows["profile"] == name]
        if mine.empty or not lines:
            continue
        file_values = _file_values(mine, profile, lines, run_root)
        for ln in lines:
            out.append(_checksum_row(name, ln, golden, file_values.get((ln.structure, ln.field), {})))
    return pd.DataFrame(out, columns=CHECKSUM_COLUMNS)


def _unguard(value: Any) -> str | None:
    """The value without the formula guard the export adds (a leading ``'`` before = + - @)."""
    if not isinstance(value, str):
        return None
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _checksum(ids: list[str], values: dict[str, str | None]) -> str:
    h = hashlib.sha256()
    for m in ids:
        h.update(f"{m}\t{values.get(m) or ''}\n".encode())
    return h.hexdigest()[:16]


def _store(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, select: str | None = None
) -> None:
    """Replace `table` with `frame` (registered explicitly: a replacement scan would read an
    existing table of the same name instead of the frame).

    Args:
        con: the run database.
        table: the table to replace.
        frame: its rows.
        select: the query over the registered frame (:data:`FRAME`); default all of it.
    """
    with registered(con, FRAME, frame):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select or f'SELECT * FROM {FRAME}'}")


def _unbalanced_problems(totals: pd.DataFrame) -> list[dict[str, Any]]:
    """One problem per source whose rows with an outcome do not add up to the file's rows."""
    return [
        {
            "record_key": None,
            "source": r.source,
            "row_number": None,
            "problem": f"source {r.source}: {r.total} rows with an outcome but the file has "
            f"{r.file_rows} rows",
        }
        for r in totals[~totals["balanced"].astype(bool)].itertuples(index=False)
    ]


def _unaccounted_error(problems: pd.DataFrame) -> ReconciliationError:
    """The error naming the rows not accounted for exactly once (at most :data:`MAX_NAMED_ROWS`)."""
    named = problems.head(MAX_NAMED_ROWS)
    lines = [
        f"  - {r.record_key or r.source}"
        + (f" (source {r.source}, row {int(r.row_number)})" if pd.notna(r.row_number) else "")
        + f": {r.problem}"
        for r in named.itertuples(index=False)
    ]
    more = (
        f"\n  … and {len(problems) - len(named)} more (table {RECONCILIATION_PROBLEMS})"
        if len(problems) > len(named)
        else ""
    )
    return ReconciliationError(
        f"{len(problems)} source row(s) are not accounted for exactly once:\n"
        + "\n".join(lines)
        + more
        + "\nFix the stage that lost them (see each reason) and rerun; nothing may be dropped silently."
    )


def reconcile_run(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, run_root: Path | None = None
) -> ReconciliationResult:
    """Reconcile a run: write ``dispositions``, totals and checksums; fail loudly on any gap.

    Args:
        con: the run database.
        config: the project config.
        run_root: the run folder (to read the load files for the checksums); ``None`` skips them.

    Raises:
        ReconciliationError: rows without an outcome or with several, or totals that do not
            equal the file rows; the message names the rows (at most 20, then a count).
    """
    dispositions, problems = build_dispositions(con, config)
    totals = disposition_totals(con, config, dispositions)
    for problem in _unbalanced_problems(totals):
        problems = pd.concat([problems, pd.DataFrame([problem])])
    _store(con, RECONCILIATION_PROBLEMS.name, problems)
    if len(problems):
        raise _unaccounted_error(problems)
    checksums = key_field_checksums(con, config, run_root) if run_root is not None else pd.DataFrame()
    _store(
        con,
        catalog.DISPOSITIONS.name,
        dispositions,
        "SELECT source::VARCHAR source, source_id::VARCHAR source_id, record_key::VARCHAR record_key, "
        "row_number::BIGINT row_number, disposition::VARCHAR disposition, master_id::VARCHAR master_id, "
        f"batch::VARCHAR batch, reason::VARCHAR reason FROM {FRAME} ORDER BY source, row_number",
    )
    _store(con, RECONCILIATION_TOTALS.name, totals)
    if not checksums.empty:
        _store(con, RECONCILIATION_CHECKSUMS.name, checksums)
    if run_root is not None:
        with atomic_path(RunPaths(Path(run_root)).tables / "dispositions.csv") as tmp:
            dispositions.to_csv(tmp, index=False, encoding="utf-8-sig")
    log.info("reconciliation: %s", {d: int((dispositions.disposition == d).sum()) for d in DISPOSITIONS})
    return ReconciliationResult(dispositions, totals, checksums, problems)
