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
from typing import Any

import pandas as pd

from workbench.engine.catalog import staged
from workbench.engine.connection import table_exists
from workbench.engine.sql import ident
from workbench.errors import ReconciliationError

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


def _exported_batches(config) -> list[str]:
    from workbench.core.batches.plan import LOADABLE_ROLES

    names = config.export.batches.names.model_dump()
    return list(config.export.export_batches or [names[r] for r in LOADABLE_ROLES])


def staged_rows_sql(con, config) -> str:
    """SQL of every staged customer row: ``source, row_number, record_key, source_id``."""
    parts = []
    for s in config.customer_sources:
        table = staged(s.name)
        if not table_exists(con, table):
            raise ReconciliationError(
                f"table {table} is missing: source {s.name!r} was not ingested in this run; run the ingest stage"
            )
        name = s.name.replace("'", "''")
        parts.append(
            f"SELECT '{name}' AS source, CAST(_row_number AS BIGINT) AS row_number, "
            f"'{name}:' || CAST(_row_number AS VARCHAR) AS record_key, "
            f"trim(CAST({ident(s.id_field)} AS VARCHAR)) AS source_id FROM {table}"
        )
    if not parts:
        raise ReconciliationError("the config lists no customer source; nothing to reconcile")
    return " UNION ALL ".join(parts)


def build_dispositions(con, config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every customer source row its disposition (nothing is written).

    Args:
        con: the run database (needs ``stg_*``, ``crosswalk``, ``batch_plan``, ``load_rows``,
            ``reject_rows``; ``quarantine`` and ``golden_provenance`` when present).
        config: the project config.

    Returns:
        ``(dispositions, problems)``: the dispositions (ordered by source, row number) and the rows
        that could not be accounted for (``record_key, source, row_number, problem``).
    """
    for t in ("crosswalk", "batch_plan", "load_rows"):
        if not table_exists(con, t):
            raise ReconciliationError(
                f"table {t!r} is missing from the run database; run the stage that writes it "
                "(match → crosswalk, batches → batch_plan, export → load_rows) before reconciling"
            )
    names = config.export.batches.names
    sources = [s.name for s in config.customer_sources]
    staged = staged_rows_sql(con, config)
    has_q = table_exists(con, "quarantine")
    has_rej = table_exists(con, "reject_rows")
    has_prov = table_exists(con, "golden_provenance")
    exported = _exported_batches(config)
    # the profiles this run exported: a master of an exported batch must be in each one's files
    profiles_sql = "SELECT DISTINCT profile FROM load_rows" + (
        " UNION SELECT DISTINCT profile FROM reject_rows" if has_rej else ""
    )
    profiles = [r[0] for r in con.sql(profiles_sql + " ORDER BY 1").fetchall()]
    quarantine = (
        "SELECT source, CAST(row_number AS BIGINT) AS row_number, "
        "source || ':' || CAST(row_number AS VARCHAR) AS record_key, NULL::VARCHAR AS source_id, "
        "reason FROM quarantine WHERE source IN (SELECT unnest(?::VARCHAR[]))"
        if has_q
        else "SELECT NULL::VARCHAR source, NULL::BIGINT row_number, NULL::VARCHAR record_key, "
        "NULL::VARCHAR source_id, NULL::VARCHAR reason WHERE false"
    )
    rejects = (
        "SELECT master_id, string_agg(DISTINCT profile || ': ' || field || ' — ' || reason, '; ' "
        "ORDER BY profile || ': ' || field || ' — ' || reason) AS why FROM reject_rows GROUP BY master_id"
        if has_rej
        else "SELECT NULL::VARCHAR master_id, NULL::VARCHAR why WHERE false"
    )
    primary = (
        "SELECT master_id, arg_min(record_key, (-n, record_key)) AS primary_key FROM ("
        "  SELECT c.master_id, c.record_key, count(p.field) AS n FROM crosswalk c"
        "  LEFT JOIN golden_provenance p ON p.master_id = c.master_id AND p.record_key = c.record_key"
        "  GROUP BY ALL) GROUP BY master_id"
        if has_prov
        else "SELECT master_id, min(record_key) AS primary_key FROM crosswalk GROUP BY master_id"
    )
    sql = f"""
    WITH staged AS ({staged}),
    q AS ({quarantine}),
    cw AS (SELECT record_key, any_value(master_id) AS master_id, count(*) AS n_cw
           FROM crosswalk GROUP BY record_key),
    bp AS (SELECT master_id, any_value(batch) AS batch, any_value(reason) AS reason, count(*) AS n_bp
           FROM batch_plan GROUP BY master_id),
    rej AS ({rejects}),
    loaded AS (SELECT master_id, list(DISTINCT profile ORDER BY profile) AS profiles,
                      count(DISTINCT profile) AS n_profiles, min(batch) AS load_batch
               FROM load_rows GROUP BY master_id),
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
    params: list = [sources] if has_q else []
    params += [names.dormant, names.excluded, exported, len(profiles)]
    raw = con.execute(sql, params).df()

    def reason(r) -> str | None:
        d = r.disposition
        if d == "quarantined":
            return r.q_reason
        if d in ("deferred", "excluded"):
            if r.batch in (names.dormant, names.excluded):
                return r.plan_reason if isinstance(r.plan_reason, str) and r.plan_reason else r.batch
            return f"batch {r.batch} is not exported in this run (export.export_batches)"
        if d == "rejected":
            return r.why
        if d == "merged":
            return f"merged into {r.master_id} (loaded as {r.primary_key})"
        return None

    raw["reason"] = [reason(r) for r in raw.itertuples(index=False)] if len(raw) else []
    problems = _problems(raw, profiles)
    # a row appearing twice (e.g. a staged row also quarantined) is a problem too
    dup = raw[raw.duplicated("record_key", keep=False)]
    if len(dup):
        extra = dup.drop_duplicates("record_key").assign(
            problem="the row has more than one outcome (staged and quarantined, or staged twice)"
        )
        problems = pd.concat([problems, extra[["record_key", "source", "row_number", "problem"]]])
    ghosts = con.sql(
        f"SELECT record_key, split_part(record_key, ':', 1) AS source, NULL::BIGINT AS row_number, "
        f"'in the crosswalk but no such source row was staged' AS problem FROM crosswalk "
        f"WHERE record_key NOT IN (SELECT record_key FROM ({staged})) ORDER BY record_key"
    ).df()
    if len(ghosts):
        problems = pd.concat([problems, ghosts])
    disp = raw[raw["disposition"].notna()].drop_duplicates("record_key")
    disp = disp.assign(batch=disp["batch"].where(disp["disposition"] != "quarantined", None))
    disp = disp[DISPOSITION_COLUMNS].reset_index(drop=True)
    disp["row_number"] = disp["row_number"].astype("int64")
    return disp, problems.reset_index(drop=True)


def _problems(raw: pd.DataFrame, profiles: list[str]) -> pd.DataFrame:
    rows = []
    for r in raw[raw["disposition"].isna()].itertuples(index=False):
        if r.master_id is None or pd.isna(r.master_id):
            why = "not in the crosswalk (no master ID): the match stage lost the row"
        elif r.n_cw > 1:
            why = f"in the crosswalk {int(r.n_cw)} times"
        elif r.batch is None or pd.isna(r.batch):
            why = f"master {r.master_id} has no batch in batch_plan"
        elif r.n_bp > 1:
            why = f"master {r.master_id} is in batch_plan {int(r.n_bp)} times"
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
    return pd.DataFrame(rows, columns=["record_key", "source", "row_number", "problem"])


def disposition_totals(con, config, dispositions: pd.DataFrame) -> pd.DataFrame:
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
    if table_exists(con, "ingest_summary"):
        files = con.sql("SELECT source, sum(file_rows) AS file_rows FROM ingest_summary GROUP BY source").df()
        pivot = pivot.join(files.set_index("source")["file_rows"].astype("int64"), how="left")
        pivot["balanced"] = pivot["file_rows"] == pivot["total"]
    else:
        pivot["file_rows"] = pd.NA
        pivot["balanced"] = True
    out = pivot.reset_index().rename(columns={"index": "source"})
    out.columns.name = None
    return out


def key_field_checksums(con, config, run_root: Path) -> pd.DataFrame:
    """Compare the key fields copied 1:1 from golden records with what the load files hold.

    A key field is a target field whose mapping line copies one golden column unchanged
    (transform ``copy``). For each profile and such field: the masters in the load files, an
    order-independent checksum (SHA-256 of the sorted ``master_id<TAB>value`` lines) on the golden
    side and on the file side, and the masters whose values differ.

    Returns:
        ``profile, structure, target_field, golden_column, masters, golden_checksum, file_checksum,
        mismatches, mismatch_examples, match`` (empty when nothing was exported).
    """
    from workbench.core.export.load_files import read_load_file
    from workbench.core.mapping.mapping import load_mapping_set, to_text
    from workbench.core.targets.profiles import load_project_profiles

    cols = [
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
    load_rows = con.sql("SELECT * FROM load_rows ORDER BY profile, file, row_in_file").df()
    if load_rows.empty:
        return pd.DataFrame(columns=cols)
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    golden = con.sql("SELECT * FROM golden_customers ORDER BY master_id").df()
    out = []
    for name, profile in profiles.items():
        lines = [
            ln
            for ln in mapping.lines_for(name)
            if len(ln.sources) == 1
            and [s.name for s in ln.steps] == ["copy"]
            and ln.sources[0] in golden.columns
        ]
        mine = load_rows[load_rows["profile"] == name]
        if mine.empty or not lines:
            continue
        file_values: dict[tuple[str, str], dict[str, str | None]] = {}
        for file, rows in mine.groupby("file", sort=True):
            frames = read_load_file(run_root / file, profile)
            by_row = dict(zip(rows["row_in_file"].astype(int), rows["master_id"], strict=True))
            key_to_master = dict(zip(rows["row_key"].astype(str), rows["master_id"], strict=False))
            for s in profile.structures:
                frame = frames.get(s.id)
                if frame is None or frame.empty:
                    continue
                if s.id == profile.main.id:
                    masters = frame["_row"].map(by_row)
                else:
                    masters = frame[profile.key_field].astype(str).map(key_to_master)
                for ln in lines:
                    if ln.structure != s.id:
                        continue
                    store = file_values.setdefault((s.id, ln.field), {})
                    for m, v in zip(masters, frame[ln.field], strict=True):
                        if isinstance(m, str) and m not in store:
                            store[m] = _unguard(v)
        for ln in lines:
            store = file_values.get((ln.structure, ln.field), {})
            ids = sorted(store)
            g = golden.set_index("master_id", drop=False).reindex(ids)
            g_text = dict(zip(ids, to_text(g[ln.sources[0]].reset_index(drop=True)), strict=True))
            diff = [m for m in ids if (g_text[m] or None) != (store[m] or None)]
            out.append(
                {
                    "profile": name,
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
            )
    return pd.DataFrame(out, columns=cols)


def _unguard(value) -> str | None:
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


def _store(con, table: str, frame: pd.DataFrame, select: str = "SELECT * FROM __wb_frame") -> None:
    """Replace `table` with `frame` (registered explicitly: a replacement scan would read an
    existing table of the same name instead of the frame)."""
    con.register("__wb_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select}")
    finally:
        con.unregister("__wb_frame")


def reconcile_run(con, config, run_root: Path | None = None) -> ReconciliationResult:
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
    unbalanced = totals[~totals["balanced"].astype(bool)]
    for r in unbalanced.itertuples(index=False):
        problems = pd.concat(
            [
                problems,
                pd.DataFrame(
                    [
                        {
                            "record_key": None,
                            "source": r.source,
                            "row_number": None,
                            "problem": f"source {r.source}: {r.total} rows with an outcome but the file has "
                            f"{r.file_rows} rows",
                        }
                    ]
                ),
            ]
        )
    _store(con, "reconciliation_problems", problems)
    if len(problems):
        named = problems.head(MAX_NAMED_ROWS)
        lines = [
            f"  - {r.record_key or r.source}"
            + (f" (source {r.source}, row {int(r.row_number)})" if pd.notna(r.row_number) else "")
            + f": {r.problem}"
            for r in named.itertuples(index=False)
        ]
        more = (
            f"\n  … and {len(problems) - len(named)} more (table reconciliation_problems)"
            if len(problems) > len(named)
            else ""
        )
        raise ReconciliationError(
            f"{len(problems)} source row(s) are not accounted for exactly once:\n"
            + "\n".join(lines)
            + more
            + "\nFix the stage that lost them (see each reason) and rerun; nothing may be dropped silently."
        )
    checksums = key_field_checksums(con, config, run_root) if run_root is not None else pd.DataFrame()
    _store(
        con,
        "dispositions",
        dispositions,
        "SELECT source::VARCHAR source, source_id::VARCHAR source_id, record_key::VARCHAR record_key, "
        "row_number::BIGINT row_number, disposition::VARCHAR disposition, master_id::VARCHAR master_id, "
        "batch::VARCHAR batch, reason::VARCHAR reason FROM __wb_frame ORDER BY source, row_number",
    )
    _store(con, "reconciliation_totals", totals)
    if not checksums.empty:
        _store(con, "reconciliation_checksums", checksums)
    if run_root is not None:
        from workbench.engine.files import atomic_path

        with atomic_path(Path(run_root) / "tables" / "dispositions.csv") as tmp:
            dispositions.to_csv(tmp, index=False, encoding="utf-8-sig")
    log.info("reconciliation: %s", {d: int((dispositions.disposition == d).sum()) for d in DISPOSITIONS})
    return ReconciliationResult(dispositions, totals, checksums, problems)
