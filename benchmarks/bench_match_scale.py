"""Match accuracy and cost as the customer base grows: the demo at ~100k, ~300k and ~1M source rows.

For each size the demo generator writes a project (``customers`` ≈ rows / 1.65: the default demo has
about 1.65 customer-source rows per customer; 1.95 in the hard variant), and the stages run
in-process through their stage functions (``workbench.stages.audit.run(ctx)`` → ``standardize`` →
``match``, Splink charts off) in a run opened with ``workbench.project.context.open_run``. The
match stage measures itself against the demo's ground truth (``match.ground_truth_path``).

Each size runs in a child process of its own, so its peak RSS is its own. Printed per size: source
rows, pairs scored, pairwise P / R / F1 (and cluster F1), seconds per step and peak RSS; the last
line is JSON with ``"match_f1"`` (and P, R, pairs, seconds, RSS) per size. The baseline is the
smallest size of the same run: issue 17 asks that F1 at 1M stays within 0.005 of F1 at 100k.

    .venv/bin/python benchmarks/bench_match_scale.py --rows 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROWS_PER_CUSTOMER = {False: 1.65, True: 1.95}  # customer-source rows per customer (measured, see docstring)


def run_size(rows: int, folder: Path, seed: int, hard: bool) -> dict[str, Any]:
    """Generate the demo for about `rows` source rows and run audit → standardize → match (in this process)."""
    import logging

    from workbench.demo import generate_demo
    from workbench.project.context import open_run
    from workbench.stages import audit, match, standardize

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    customers = max(50, round(rows / ROWS_PER_CUSTOMER[hard]))
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    summary = generate_demo(folder, customers=customers, seed=seed, hard=hard)
    times["generate"] = time.perf_counter() - t0
    config_path = folder / "workbench.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.setdefault("match", {})["charts"] = {"enabled": False}  # Splink's HTML charts: not the match
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ctx = open_run(config_path, folder / "output" / "runs" / "scale", show_splink_charts=False)
    metrics: dict[str, Any] = {}
    for stage in (audit, standardize, match):
        t0 = time.perf_counter()
        result = stage.run(ctx)
        times[stage.__name__.rsplit(".", 1)[-1]] = time.perf_counter() - t0
        metrics = result.metrics
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    return {
        "customers": customers,
        "rows": summary.customer_rows,
        "records": metrics.get("records"),
        "pairs_scored": metrics.get("pairs_scored"),
        "precision": metrics.get("gt_pairwise_precision"),
        "recall": metrics.get("gt_pairwise_recall"),
        "f1": metrics.get("gt_pairwise_f1"),
        "cluster_f1": metrics.get("gt_cluster_f1"),
        "group_false_merges": metrics.get("gt_group_members_false_merges"),
        "prior": metrics.get("prior_probability"),
        "blocking_rules": metrics.get("blocking_rules"),
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "peak_rss_mb": round(peak / 2**20),
    }


def _child(args: argparse.Namespace) -> None:
    out = run_size(args.child, args.folder, args.seed, args.hard)
    print("RESULT " + json.dumps(out))


def _fmt(v: Any, spec: str = ".4f") -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hard", action="store_true", help="the hard variant of the demo")
    parser.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    results: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for rows in args.rows:
            folder = base / f"demo_{rows}"
            shutil.rmtree(folder, ignore_errors=True)
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(rows),
                "--folder",
                str(folder),
                "--seed",
                str(args.seed),
            ]
            proc = subprocess.run(cmd + (["--hard"] if args.hard else []), capture_output=True, text=True)
            if proc.returncode:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"size {rows}: the run failed (exit {proc.returncode})")
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            r = results[rows] = json.loads(line[len("RESULT ") :])
            s = r["seconds"]
            print(
                f"~{rows:,} rows: {r['rows']:,} source rows ({r['customers']:,} customers), {r['pairs_scored']:,} pairs "
                f"scored; P {_fmt(r['precision'])} R {_fmt(r['recall'])} F1 {_fmt(r['f1'])} (cluster F1 "
                f"{_fmt(r['cluster_f1'])}); generate {s['generate']}s, audit {s['audit']}s, standardize "
                f"{s['standardize']}s, match {s['match']}s; peak RSS {r['peak_rss_mb']:,} MB",
                flush=True,
            )
    first = results[args.rows[0]]
    print(
        f"\n{'rows':>10} {'pairs scored':>13} {'P':>7} {'R':>7} {'F1':>7} {'ΔF1':>8} {'match s':>8} {'RSS MB':>7}"
    )
    for r in results.values():
        delta = (r["f1"] or 0) - (first["f1"] or 0)
        print(
            f"{r['rows']:>10,} {r['pairs_scored']:>13,} {_fmt(r['precision']):>7} {_fmt(r['recall']):>7} "
            f"{_fmt(r['f1']):>7} {delta:>+8.4f} {r['seconds']['match']:>8} {r['peak_rss_mb']:>7,}"
        )
    print(
        f"total {time.perf_counter() - started:.0f}s (ΔF1 against the smallest size of this run; goal |ΔF1| <= 0.005)"
    )
    print(
        json.dumps(
            {
                "match_f1": {str(k): v["f1"] for k, v in results.items()},
                "match_precision": {str(k): v["precision"] for k, v in results.items()},
                "match_recall": {str(k): v["recall"] for k, v in results.items()},
                "pairs_scored": {str(k): v["pairs_scored"] for k, v in results.items()},
                "sizes": results,
                "hard": args.hard,
            }
        )
    )


if __name__ == "__main__":
    main()
