"""What a run validates: each suite with its data, and the technical validation of a run.

This module owns which suite runs on which data: sources (``stg_<name>``) use the project's
``source_<name>.json`` or a suite generated from the config; ``std_customers`` uses
``standardized_customers.json`` or a generated one; each exported target profile gets load-ready
suites generated from the profile (saved to ``<run>/expectations/``) and run on the load files read
back from disk (each copied into a scratch table); a project's own further suites in
``report.expectations_dir`` run on the run tables they name. The postcode rules see the countries
present in the standardized records. Every suite applied is saved in ``<run>/expectations/``.
:func:`validate_run` runs them (:func:`~workbench.core.validation.gx_runner.run_suites`) and writes
``validation_results``, ``validation_failures`` (also ``tables/validation_failures.csv``) and GX's
own Data Docs site (for analysts; the business pages are :mod:`workbench.presentation.reports.datadocs`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.validation.gx_runner import SuiteCheck, ValidationError, frame_relation, run_suites
from workbench.core.validation.results import ValidationOutcome, store_outcome
from workbench.core.validation.rules import META_KEY
from workbench.core.validation.suite_builder import (
    STANDARDIZED_SUITE,
    build_load_ready_suites,
    build_source_suite,
    build_standardized_suite,
)
from workbench.core.validation.suite_files import load_suite, read_suite_file, save_suite
from workbench.engine.catalog import LOAD_ROWS, STD_CUSTOMERS, staged
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.files import atomic_path
from workbench.engine.sql import ident
from workbench.project.paths import ProjectPaths, RunPaths

if TYPE_CHECKING:
    import duckdb

    from workbench.core.targets.profiles import TargetProfile
    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

STAGES = ("ingest", "standardize", "export")  # the phases whose tables are validated
SOURCE_KEYS = ["_source", "_row_number"]  # and the source's ID field
STANDARDIZED_KEYS = ["record_key", "_source", "source_id"]
LOAD_READY_KEYS = ["master_id", "_file", "_row"]


def suite_for(
    name: str, config: ProjectConfig, builder: Callable[[], dict[str, Any]]
) -> dict[str, Any] | None:
    """The project's suite file ``<expectations dir>/<name>.json``, or a generated one.

    Returns None when the file is missing and ``report.generate_missing_suites`` is off.
    """
    folder = ProjectPaths(config).suites_dir
    path = folder / f"{name}.json" if folder else None
    if path is not None and path.is_file():
        raw = read_suite_file(path)
        load_suite(raw, origin=str(path))  # survival check with the file name in messages
        return raw
    if not config.report.generate_missing_suites:
        log.warning("no suite file %s and generate_missing_suites is off: %s is not validated", path, name)
        return None
    if path is not None:
        log.info("no suite file %s: suite %s is generated from the config", path, name)
    else:
        log.debug("suite %s is generated from the config (no report.expectations_dir)", name)
    return builder()


def load_ready_frames(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, run_root: Path, profile: TargetProfile
) -> dict[str, pd.DataFrame]:
    """Rows of every load file of `profile`, read back from disk, per structure, with master IDs.

    Each frame has the profile's fields, ``_row`` (row a person sees), ``_file`` (relative to the run
    folder) and ``master_id`` (from ``load_rows``).
    """
    from workbench.core.export.load_files import read_load_file

    if not table_exists(con, LOAD_ROWS.name):
        return {}
    rows = con.execute(
        f"SELECT file, row_in_file, master_id, row_key FROM {LOAD_ROWS} WHERE profile = ? "
        "ORDER BY file, row_in_file",
        [profile.name],
    ).df()
    parts: dict[str, list[pd.DataFrame]] = {s.id: [] for s in profile.structures}
    for file, lr in rows.groupby("file", sort=True):
        frames = read_load_file(run_root / str(file), profile)
        by_row = dict(zip(lr["row_in_file"].astype(int), lr["master_id"], strict=True))
        by_key = dict(zip(lr["row_key"].astype(str), lr["master_id"], strict=False))
        for sid, frame in frames.items():
            frame = frame.copy()
            if sid == profile.main.id:
                frame["master_id"] = frame["_row"].map(by_row)
            else:
                frame["master_id"] = frame[profile.key_field].astype(str).map(by_key)
            frame["_file"] = file
            parts[sid].append(frame)
    return {sid: pd.concat(p, ignore_index=True) for sid, p in parts.items() if p}


def _countries(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, source: str | None
) -> dict[str, list[str]] | None:
    """Standardized country → the cell texts standing for it (of one source, or the codes for the
    standardized set), from ``std_customers``; None without a country field or standardized records."""
    from workbench.project.config import Kind

    field = next((f for f, k in config.field_kinds().items() if k == Kind.COUNTRY), None)
    if field is None or not table_exists(con, STD_CUSTOMERS.name):
        return None
    columns = table_columns(con, STD_CUSTOMERS.name)
    raw = f"{field}_raw"
    if field not in columns or raw not in columns:
        return None
    f, r = ident(field), ident(raw)
    if source is None:
        rows = con.execute(
            f"SELECT DISTINCT {f}, {f} FROM {STD_CUSTOMERS} WHERE {f} IS NOT NULL ORDER BY 1"
        ).fetchall()
    else:
        rows = con.execute(
            f"SELECT DISTINCT {f}, {r} FROM {STD_CUSTOMERS} WHERE {f} IS NOT NULL AND {r} IS NOT NULL "
            "AND _source = ? ORDER BY 1, 2",
            [source],
        ).fetchall()
    out: dict[str, list[str]] = {}
    for code, text in rows:
        out.setdefault(str(code), []).append(str(text))
    return out


def _saved(suite: dict[str, Any], paths: RunPaths) -> dict[str, Any]:
    """The suite, saved as applied in this run (``<run>/expectations/<name>.json``)."""
    save_suite(suite, paths.expectations / f"{suite['name']}.json")
    return suite


def _source_checks(con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths) -> list[SuiteCheck]:
    checks = []
    for s in config.sources:
        table = staged(s.name)
        if not table_exists(con, table):
            continue
        countries = _countries(con, config, s.name)
        suite = suite_for(f"source_{s.name}", config, partial(build_source_suite, s, config, countries=countries))
        if suite is None:
            continue
        keys = [k for k in [*SOURCE_KEYS, s.id_field] if k in table_columns(con, table)]
        checks.append(SuiteCheck(_saved(suite, paths), table, table, "ingest", keys))
    return checks


def _standardized_checks(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths
) -> list[SuiteCheck]:
    if not table_exists(con, STD_CUSTOMERS.name):
        return []
    countries = _countries(con, config, None)
    suite = suite_for(STANDARDIZED_SUITE, config, partial(build_standardized_suite, config, countries=countries))
    if suite is None:
        return []
    return [SuiteCheck(_saved(suite, paths), STD_CUSTOMERS.name, STD_CUSTOMERS.name, "standardize",
                       list(STANDARDIZED_KEYS))]


def _load_ready_checks(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths
) -> list[SuiteCheck]:
    from workbench.core.targets.profiles import load_project_profiles

    if not table_exists(con, LOAD_ROWS.name):
        return []
    checks: list[SuiteCheck] = []
    exported = {r[0] for r in con.sql(f"SELECT DISTINCT profile FROM {LOAD_ROWS}").fetchall()}
    for name, profile in load_project_profiles(config).items():
        if name not in exported:
            continue
        frames = load_ready_frames(con, config, paths.root, profile)
        for suite in build_load_ready_suites(profile):
            dataset = suite["meta"][META_KEY]["dataset"]
            sid = dataset.removeprefix(f"load_{profile.name}_")
            _saved(suite, paths)
            if sid in frames:
                relation = frame_relation(con, frames.pop(sid), f"load_{len(checks)}")
                checks.append(SuiteCheck(suite, relation, dataset, "export", list(LOAD_READY_KEYS)))
    return checks


GENERATED_PREFIXES = ("source_", "load_ready_")


def _added_checks(con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths) -> list[SuiteCheck]:
    """The project's own further suites: every suite file in ``report.expectations_dir`` that does not
    replace a generated one runs on the run table its ``meta.workbench.dataset`` names."""
    folder = ProjectPaths(config).suites_dir
    if folder is None or not folder.is_dir():
        return []
    replaced = {f"source_{s.name}" for s in config.sources} | {STANDARDIZED_SUITE}
    checks = []
    for path in sorted(folder.glob("*.json")):
        if path.stem in replaced or path.stem.startswith(GENERATED_PREFIXES):
            continue
        raw = read_suite_file(path)
        load_suite(raw, origin=str(path))
        meta = (raw.get("meta") or {}).get(META_KEY) or {}
        dataset, keys = meta.get("dataset"), meta.get("keys")
        if not isinstance(dataset, str) or not isinstance(keys, list):
            raise ValidationError(
                f"{path}: a project's own suite names its table and key columns in meta.workbench: "
                '{"dataset": "std_customers", "keys": ["record_key"], "stage": "standardize"}'
            )
        if not table_exists(con, dataset):
            raise ValidationError(
                f"{path}: meta.workbench.dataset {dataset!r} is not a table of this run; use one of the "
                "run's tables (stg_<source>, std_customers, golden_customers, crosswalk …)"
            )
        checks.append(SuiteCheck(_saved(raw, paths), dataset, dataset, str(meta.get("stage") or "project"),
                                 [str(k) for k in keys]))
    return checks


def collect_checks(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths, *, stages: tuple[str, ...]
) -> list[SuiteCheck]:
    """The suites of a run and their datasets, for the phases in `stages` that wrote their tables.

    Every suite applied is saved into ``paths.expectations``; the project's own further suites
    (:func:`_added_checks`) always run.
    """
    checks: list[SuiteCheck] = []
    if "ingest" in stages:
        checks += _source_checks(con, config, paths)
    if "standardize" in stages:
        checks += _standardized_checks(con, config, paths)
    if "export" in stages:
        checks += _load_ready_checks(con, config, paths)
    return checks + _added_checks(con, config, paths)


def gx_docs_dir(paths: RunPaths) -> Path:
    """The folder of GX's own Data Docs site of a run (analysts' pages, not linked for business)."""
    return paths.gx_datadocs


def validate_run(
    ctx: RunContext, con: duckdb.DuckDBPyConnection | None = None, *, stages: tuple[str, ...] = STAGES
) -> ValidationOutcome:
    """Run every suite of a run at its phase and write the results (stage ``validate``).

    Writes ``validation_results`` and ``validation_failures`` (also
    ``tables/validation_failures.csv``) and GX's own site (:func:`gx_docs_dir`); the business Data
    Docs are written from the outcome by :func:`workbench.presentation.reports.datadocs.publish_data_docs`.

    Args:
        ctx: the run.
        con: the run database (default: opened from the run, and closed again).
        stages: the phases to validate (``ingest``, ``standardize``, ``export``).
    """
    config = ctx.config
    own = con is None
    con = con or ctx.connect()
    try:
        checks = collect_checks(con, config, ctx.paths, stages=stages)
        docs = gx_docs_dir(ctx.paths)
        if docs.exists():
            shutil.rmtree(docs)  # GX's site of an earlier validation of this run
        docs.mkdir(parents=True, exist_ok=True)
        report = config.report
        outcome = run_suites(
            con,
            checks,
            docs,
            run_name=ctx.run_id,
            language=report.language or config.project.language,
            failures_limit=report.failures_limit,
            seed=config.project.seed,
            gx_rows=report.gx_sample_rows,
            gx_failing=report.gx_sample_failing,
            field_kinds={f: k.value for f, k in config.field_kinds().items()},
            masking=report.masking,
        )
        for c in checks:
            if c.relation.startswith("__wb_"):
                con.execute(f"DROP TABLE IF EXISTS {ident(c.relation)}")
        store_outcome(con, outcome)
        with atomic_path(ctx.paths.tables / "validation_failures.csv") as tmp:
            outcome.failures.to_csv(tmp, index=False, encoding="utf-8-sig")
    finally:
        if own:
            con.close()
    return outcome
