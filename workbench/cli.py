"""The ``workbench`` command line.

Thin: each subcommand parses its arguments, calls one package function and prints the result.
Errors the package raises on purpose (:class:`~workbench.errors.WorkbenchError`) are printed as
their message, without a traceback, and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import WorkbenchError

EPILOG = """\
A migration project is one config file (workbench.yaml); see README.md and
docs/configuration.md. Typical use:

  workbench demo                         generate the demo project and run every stage
  workbench check --config my.yaml       validate a project config, listing every problem
  workbench run --config my.yaml         run every stage notebook into output/runs/<run id>/
  workbench run --config my.yaml --stages audit,standardize
  workbench stages                       list the stages in order
  workbench dedup-check --config my.yaml --input new.csv
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Data-quality workbench for migrating customer master data into a new ERP: "
        "audit, standardize, map, match, build golden records, plan batches, export, validate, monitor.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "demo",
        help="generate the bundled demo migration and run every stage on it",
        description="Generate the legacy exports of a fictional company (GBK ERP CSV, CRM XLSX, hand-kept "
        "ledger XLSX, transactions), with planted defects and a ground-truth file, write its "
        "workbench.yaml, then run every stage (unless --no-run). Deterministic by --seed.",
    )
    p.add_argument(
        "--out", type=Path, default=Path("data/demo"), help="folder for the demo project (default: data/demo)"
    )
    p.add_argument("--customers", type=int, default=2000, help="number of true customers (default: 2000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--no-run", action="store_true", help="only generate the files, do not run the stages")
    p.add_argument("--run-id", help="name of the run folder (default: the clock)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run",
        help="run the stage notebooks of a project headless (papermill)",
        description="Execute the stage notebooks in order into <output dir>/runs/<run id>/: executed "
        "notebooks, an HTML export of each, metrics as JSON, and each stage's reports and tables.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument("--stages", help="comma-separated stage ids to run (default: all; see `workbench stages`)")
    p.add_argument(
        "--run-id",
        help="the run folder to run in (an existing one is continued); default: a run of some stages "
        "continues the latest run when it has their inputs, otherwise a new run named by the clock",
    )
    p.add_argument("--new", action="store_true", help="always start a new run folder")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a notebook parameter (YAML value) in every selected stage that declares it; "
        "a name no stage declares is refused",
    )
    p.add_argument("--no-html", action="store_true", help="skip the HTML export of the executed notebooks")
    p.add_argument(
        "--no-notebooks",
        action="store_true",
        help="run each stage's code in this process instead of its notebook (no kernel start, no "
        "executed notebooks; for large projects and benchmarks)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "check",
        help="validate a project config and list every problem at once",
        description="Load workbench.yaml, check its schema, names, kinds and that every source file "
        "exists; with --headers also open each source and check that the mapped columns are there.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument("--headers", action="store_true", help="also read each source's header row")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "stages",
        help="list the stages in run order",
        description="List the stages (declared in workbench/project/stages.py) with their notebooks and inputs.",
    )
    p.set_defaults(func=cmd_stages)

    p = sub.add_parser(
        "dedup-check",
        help="check new customer records against the golden master (duplicate check on create)",
        description="Standardize the new records in --input with the project's rules and match them "
        "against the golden master of a run with its trained model; print, for each row, the "
        "existing master ID with probability and reason, or 'new'.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument(
        "--input", type=Path, required=True, help="file of new customers (same columns as a source)"
    )
    p.add_argument(
        "--source", help="which configured source's column mapping the input follows (default: the first)"
    )
    p.add_argument("--run-dir", type=Path, help="run folder with the golden master (default: the latest run)")
    p.add_argument("--out", type=Path, help="write the result as CSV here (default: print it)")
    p.set_defaults(func=cmd_dedup_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # papermill logs every notebook's paths and kernel at INFO; the runner prints its own lines
        logging.getLogger("papermill").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_demo(args: argparse.Namespace) -> int:
    # the one import of workbench.demo outside it: `workbench demo` is the demo's entry point
    from workbench.demo.run import generate_and_run

    _, result = generate_and_run(
        args.out, customers=args.customers, seed=args.seed, run=not args.no_run, run_id=args.run_id
    )
    if result is not None:
        print_outputs(result.run_dir)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    overrides = dict(_parse_param(p) for p in args.param)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
    return _run(
        args.config,
        run_id=args.run_id,
        stages=stages,
        new=args.new,
        overrides=overrides,
        export_html=not args.no_html,
        notebooks=not args.no_notebooks,
    )


def _run(config_path: Path, **kwargs: Any) -> int:
    from workbench.runner import run_project

    result = run_project(config_path, progress=print, **kwargs)
    print_outputs(result.run_dir)
    return 0


def print_outputs(run_dir: Path) -> None:
    """Print where a run's outputs are."""
    print(f"\noutputs of run {run_dir.name}:")
    for label, sub in [
        ("run folder", ""),
        ("reports for business", "reports"),
        ("executed notebooks (HTML)", "html"),
        ("tables (CSV / Parquet / Excel)", "tables"),
        ("load-ready files", "exports"),
        ("Data Docs", "datadocs"),
        ("metrics (JSON)", "metrics"),
        ("database (DuckDB)", "warehouse.duckdb"),
    ]:
        path = run_dir / sub if sub else run_dir
        if path.exists():
            print(f"  {label:32s} {path}")


def cmd_check(args: argparse.Namespace) -> int:
    from workbench.project.config import load_config

    config = load_config(args.config)
    print(f"{args.config}: OK — {len(config.sources)} source(s): {', '.join(s.name for s in config.sources)}")
    if args.headers:
        from workbench.core.ingest import check_headers

        check_headers(config)
        print("every mapped column is present in its file")
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    from workbench.project.stages import STAGES

    for n, stage in enumerate(STAGES, start=1):
        needs = f"  needs: {', '.join(stage.needs)}" if stage.needs else ""
        print(f"{n:2d}. {stage.id:14s} {stage.notebook:34s} workbench/stages/{stage.id}.py{needs}")
    return 0


def cmd_dedup_check(args: argparse.Namespace) -> int:
    from workbench.core.monitoring.history import check_new_customers

    result = check_new_customers(args.config, args.input, run_dir=args.run_dir)
    if args.out:
        from workbench.engine.files import atomic_path

        with atomic_path(args.out) as tmp:
            result.to_csv(tmp, index=False, encoding="utf-8-sig")
        print(f"wrote {len(result)} rows to {args.out}")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 200, "display.width", 200):
            print(result.to_string(index=False))
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise WorkbenchError(f"--param {text!r}: write it as NAME=VALUE, e.g. --param top_k=20")
    name, value = text.split("=", 1)
    return name.strip(), yaml.safe_load(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
