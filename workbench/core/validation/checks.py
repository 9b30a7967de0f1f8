"""What a run validates: each suite with its data, and the technical validation of a run.

This module owns which suite runs on which data: sources (``stg_<name>``) use the project's
``source_<name>.json`` or a suite generated from the config; ``std_customers`` uses
``standardized_customers.json`` or a generated one; each exported target profile gets load-ready
suites generated from the profile (saved to ``<run>/expectations/``) and run on the load files read
back from disk. :func:`validate_run` runs them and writes ``validation_results``,
``validation_failures`` (also ``tables/validation_failures.csv``) and the GX Data Docs.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.validation.gx_runner import SuiteCheck, run_suites
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
    log.info("no suite file %s: using a suite generated from the config", path)
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


def _source_checks(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> list[SuiteCheck]:
    checks = []
    for s in config.sources:
        table = staged(s.name)
        if not table_exists(con, table):
            continue
        suite = suite_for(f"source_{s.name}", config, partial(build_source_suite, s, config))
        if suite is None:
            continue
        keys = [k for k in [*SOURCE_KEYS, s.id_field] if k in table_columns(con, table)]
        data = con.sql(f"SELECT * FROM {table} ORDER BY _row_number").df()
        checks.append(SuiteCheck(suite, data, table, "ingest", keys))
    return checks


def _standardized_checks(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> list[SuiteCheck]:
    if not table_exists(con, STD_CUSTOMERS.name):
        return []
    suite = suite_for(STANDARDIZED_SUITE, config, partial(build_standardized_suite, config))
    if suite is None:
        return []
    data = con.sql(f"SELECT * FROM {STD_CUSTOMERS} ORDER BY record_key").df()
    return [SuiteCheck(suite, data, STD_CUSTOMERS.name, "standardize", list(STANDARDIZED_KEYS))]


def _load_ready_checks(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths
) -> list[SuiteCheck]:
    from workbench.core.targets.profiles import load_project_profiles

    if not table_exists(con, LOAD_ROWS.name):
        return []
    checks = []
    exported = {r[0] for r in con.sql(f"SELECT DISTINCT profile FROM {LOAD_ROWS}").fetchall()}
    for name, profile in load_project_profiles(config).items():
        if name not in exported:
            continue
        frames = load_ready_frames(con, config, paths.root, profile)
        for suite in build_load_ready_suites(profile):
            dataset = suite["meta"][META_KEY]["dataset"]
            sid = dataset.removeprefix(f"load_{profile.name}_")
            save_suite(suite, paths.expectations / f"{suite['name']}.json")
            if sid in frames:
                checks.append(SuiteCheck(suite, frames[sid], dataset, "export", list(LOAD_READY_KEYS)))
    return checks


def collect_checks(
    con: duckdb.DuckDBPyConnection, config: ProjectConfig, paths: RunPaths, *, stages: tuple[str, ...]
) -> list[SuiteCheck]:
    """The suites of a run and their data, for the phases in `stages` that have written their tables.

    Generated load-ready suites are saved into ``paths.expectations``.
    """
    checks: list[SuiteCheck] = []
    if "ingest" in stages:
        checks += _source_checks(con, config)
    if "standardize" in stages:
        checks += _standardized_checks(con, config)
    if "export" in stages:
        checks += _load_ready_checks(con, config, paths)
    return checks


def validate_run(
    ctx: RunContext, con: duckdb.DuckDBPyConnection | None = None, *, stages: tuple[str, ...] = STAGES
) -> ValidationOutcome:
    """Run every suite of a run at its phase and write the results (stage ``validate``).

    Writes ``validation_results`` and ``validation_failures`` (also
    ``tables/validation_failures.csv``) and the GX Data Docs into ``<run>/datadocs``; to make those
    pages open offline, pass the outcome to
    :func:`workbench.presentation.datadocs.publish_data_docs`.

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
        docs = ctx.paths.datadocs
        if docs.exists():
            shutil.rmtree(docs)  # Data Docs of an earlier validation of this run
        docs.mkdir(parents=True, exist_ok=True)
        outcome = run_suites(
            checks,
            docs,
            run_name=ctx.run_id,
            language=config.report.language or config.project.language,
            failures_limit=config.report.failures_limit,
            field_kinds={f: k.value for f, k in config.field_kinds().items()},
            masking=config.report.masking,
        )
        store_outcome(con, outcome)
        with atomic_path(ctx.paths.tables / "validation_failures.csv") as tmp:
            outcome.failures.to_csv(tmp, index=False, encoding="utf-8-sig")
    finally:
        if own:
            con.close()
    return outcome
