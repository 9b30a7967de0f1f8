"""Profile the demo ERP source with the workbench and with ydata-profiling (minimal mode), same data.

Generates the demo migration with enough customers for the ERP export to hold about ``--rows``
rows, ingests only the ERP source into an in-memory DuckDB, then times, on exactly the same
columns and rows:

- ``workbench.core.profiling.profile_columns(con, "stg_erp")``: types, NULL/blank rates, distinct
  counts, lengths, min/max, top values and pattern masks of every column (the first call, so it
  includes building the mask lookup table);
- ``ydata_profiling.ProfileReport(df, minimal=True).to_json()`` on the same table as a pandas
  DataFrame (loading the DataFrame is not timed).

It prints both times and the ratio (goal: the workbench at least 30x faster). Offline: ydata's
analytics are switched off before it is imported and every non-local connection is refused.

Usage::

    python benchmarks/bench_profile.py                  # ~1,000,000 ERP rows
    python benchmarks/bench_profile.py --rows 200000    # quicker
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ["YDATA_PROFILING_NO_ANALYTICS"] = "True"  # before ydata_profiling is imported anywhere
os.environ.setdefault("WORKBENCH_FORBID_NETWORK", "1")


def _cpu_seconds() -> float:
    """CPU time of this process, all threads (wall time alone misleads on a busy machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="ERP rows to aim for (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=42, help="demo seed")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to generate (default: a temp folder)"
    )
    parser.add_argument("--skip-ydata", action="store_true", help="time only the workbench")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a demo already generated in --workdir (skip generating)"
    )
    args = parser.parse_args(argv)

    from workbench.engine.netguard import forbid_network

    forbid_network()
    with tempfile.TemporaryDirectory(prefix="bench_profile_") as tmp:
        work = args.workdir or Path(tmp)
        return run(work, args.rows, args.seed, skip_ydata=args.skip_ydata, reuse=args.reuse)


def run(work: Path, rows: int, seed: int, *, skip_ydata: bool, reuse: bool = False) -> int:
    import duckdb
    import pandas as pd

    from workbench.core.ingest import ingest_sources
    from workbench.core.profiling import profile_columns
    from workbench.demo.generator import generate_demo
    from workbench.engine.connection import connect
    from workbench.project.config import LINEAGE_COLUMNS, load_config

    demo_dir = work / "demo"
    if reuse and (demo_dir / "workbench.yaml").exists():
        print(f"reusing the demo in {demo_dir}")
    else:
        # how many customers give `rows` ERP rows: measured on a small pilot with the same seed
        pilot = generate_demo(work / "pilot", customers=2000, seed=seed)
        customers = max(2000, math.ceil(rows * 2000 / pilot.rows["erp"]))
        started = time.perf_counter()
        generate_demo(demo_dir, customers=customers, seed=seed)
        print(f"generated the demo ({customers:,} customers) in {time.perf_counter() - started:.1f} s")

    config = load_config(demo_dir / "workbench.yaml")
    con = connect()
    started = time.perf_counter()
    summary = ingest_sources(config, con, sources=["erp"])
    staged = int(summary.loc[summary["source"] == "erp", "staged_rows"].iloc[0])
    print(f"ingested erp: {staged:,} rows in {time.perf_counter() - started:.1f} s")

    columns = [c for c in con.execute("DESCRIBE stg_erp").df()["column_name"] if c not in LINEAGE_COLUMNS]
    df = con.sql(
        "SELECT * EXCLUDE (_source, _file, _row_number, _row_hash) FROM stg_erp ORDER BY _row_number"
    ).df()
    print(f"table: {len(df):,} rows x {len(columns)} columns (all text)")

    started, cpu = time.perf_counter(), _cpu_seconds()
    profile = profile_columns(con, "stg_erp")
    t_workbench, c_workbench = time.perf_counter() - started, _cpu_seconds() - cpu
    print(
        f"workbench profile_columns: {t_workbench:.2f} s wall, {c_workbench:.2f} s CPU "
        f"({len(profile)} columns profiled)"
    )
    if skip_ydata:
        return 0

    import ydata_profiling
    from ydata_profiling import ProfileReport

    started, cpu = time.perf_counter(), _cpu_seconds()
    report = ProfileReport(df, minimal=True, progress_bar=False)
    report.to_json()
    t_ydata, c_ydata = time.perf_counter() - started, _cpu_seconds() - cpu
    print(f"ydata-profiling minimal  : {t_ydata:.2f} s wall, {c_ydata:.2f} s CPU")
    print(f"ratio (ydata / workbench): {t_ydata / t_workbench:.1f}x wall-clock  (goal >= 30x)")
    print(f"ratio of CPU time        : {c_ydata / c_workbench:.1f}x")
    print(
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, pandas {pd.__version__}, "
        f"ydata-profiling {ydata_profiling.__version__}, "
        f"threads {con.execute('SELECT current_setting(?)', ['threads']).fetchall()[0][0]}, "
        f"{os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
