"""Standardize speed: rows/s of `standardize_customers` on the generated demo (about 1M customer rows).

Generates the demo project (``generate_demo``; about 1.66 customer rows per customer), ingests it
into a DuckDB file, then times ``standardize_customers`` and prints the time, rows/s and the time
of each step. The baseline, measured in the same run on the same data with ``--baseline``, is the
same stage in one process (``standardize.workers: 1``), so the figure shows what the worker
processes add; the goal is under 2 minutes for 1M rows on a 2-core machine.

    .venv/bin/python benchmarks/bench_standardize.py --rows 1000000
    .venv/bin/python benchmarks/bench_standardize.py --rows 100000 --baseline
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from workbench.core.ingest import ingest_sources
from workbench.core.standardize import standardize_customers
from workbench.engine.connection import connect, table_exists
from workbench.project.config import load_config

ROWS_PER_CUSTOMER = 1.66  # ERP + CRM + ledger rows per generated customer (demo defaults)


def prepare(folder: Path, rows: int, seed: int) -> Path:
    """Generate the demo into `folder` (unless there) and ingest it into ``bench.duckdb``."""
    from workbench.demo.generator import generate_demo

    config_path = folder / "workbench.yaml"
    if not config_path.exists():
        started = time.perf_counter()
        generate_demo(folder, customers=max(50, round(rows / ROWS_PER_CUSTOMER)), seed=seed)
        print(f"generated the demo in {time.perf_counter() - started:.1f} s")
    database = folder / "bench.duckdb"
    config = load_config(config_path)
    con = connect(database)
    try:
        if not table_exists(con, "stg_erp"):
            started = time.perf_counter()
            ingest_sources(config, con)
            print(f"ingested in {time.perf_counter() - started:.1f} s")
    finally:
        con.close()
    return database


def time_run(config_path: Path, database: Path, *, workers: int | None) -> tuple[float, object]:
    config = load_config(config_path)
    if workers is not None:
        config.standardize.workers = workers
    con = connect(database)
    try:
        started = time.perf_counter()
        result = standardize_customers(config, con)
        return time.perf_counter() - started, result
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="customer rows to generate (about)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", type=Path, default=None, help="reuse this folder (default: a temporary one)")
    parser.add_argument("--baseline", action="store_true", help="also time the stage in one process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_std_") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        database = prepare(folder, args.rows, args.seed)
        cpu_before = (
            resource.getrusage(resource.RUSAGE_SELF).ru_utime
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        )
        seconds, result = time_run(folder / "workbench.yaml", database, workers=None)
        cpu = (
            resource.getrusage(resource.RUSAGE_SELF).ru_utime
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            - cpu_before
        )
        rows = result.rows_out  # type: ignore[attr-defined]
        print(
            f"standardize_customers: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s (CPU {cpu:.1f} s)"
        )
        print("steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))  # type: ignore[attr-defined]
        print(f"distinct values standardized: {sum(result.distinct_values.values()):,}")  # type: ignore[attr-defined]
        print(f"changes {result.changes:,}, fills {result.fills:,}, balanced {result.balanced}")  # type: ignore[attr-defined]
        if args.baseline:
            base_seconds, _ = time_run(folder / "workbench.yaml", database, workers=1)
            print(
                f"baseline (one process): {base_seconds:.1f} s = {rows / base_seconds:,.0f} rows/s; "
                f"workers: {base_seconds / seconds:.2f}x"
            )
        print(
            f"goal: 1M rows under 120 s -> {'met' if seconds * 1_000_000 / rows < 120 else 'NOT met'} (scaled)"
        )


if __name__ == "__main__":
    main()
