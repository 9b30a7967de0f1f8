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
  workbench init exports/ --out myproject   write a config and mapping scaffolds from legacy exports
  workbench check --config my.yaml       validate a project config, listing every problem
  workbench run --config my.yaml         run every stage notebook into output/runs/<run id>/
  workbench run --config my.yaml --stages audit,standardize
  workbench stages                       list the stages in order
  workbench dedup-check --config my.yaml --input new.csv
  workbench approve --config my.yaml --role business      sign off mappings and rules
  workbench import-log --config my.yaml --target sap_s4_cockpit_customer log.xlsx
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
    p.add_argument(
        "--hard",
        action="store_true",
        help="the hard variant: a fourth (B2C member) source, company groups, households, moved "
        "companies, brand-only names (see workbench/demo/README.md)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "init",
        help="write a project config (and mapping scaffolds) from a folder of legacy exports",
        description="Read each CSV / Excel / Parquet file's header and a sample of its rows, guess per "
        "column the field and kind, each source's ID column, region and date order, tell activity files "
        "from customer files, and write a commented workbench.yaml plus the mapping scaffolds "
        "(field mappings per target profile, value_mappings.csv with every legacy code found) into --out.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="legacy export files or folders of them")
    p.add_argument("--out", type=Path, required=True, help="the project folder (workbench.yaml is written here)")
    p.add_argument("--target", action="append", dest="targets", help="target profile (repeatable; default: the export defaults)")
    p.add_argument("--language", choices=["zh", "en"], help="report language (default: guessed from the headers)")
    p.add_argument("--region", help="default region, ISO 3166 code such as CN, US, AU (default: guessed)")
    p.add_argument("--name", help="project name (default: from the folder name)")
    p.add_argument("--force", action="store_true", help="replace an existing workbench.yaml (scaffolds are kept)")
    p.set_defaults(func=cmd_init)

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
    p = sub.add_parser(
        "approve",
        help="sign off the mappings, target profiles, fixes and batch rules of a project",
        description="Record one approval of everything that decides the load files (one per role in "
        "export.required_approval_roles, default it and business): the sign-off hash, the hash of each "
        "input, who, the role and when. A changed input voids the approvals.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument("--role", required=True, help="the approver's role (export.approval_roles: it, business)")
    p.add_argument("--name", help="the approver's name (default: the OS user)")
    p.add_argument("--comment", default="", help="free text recorded with the approval")
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser(
        "import-log",
        help="read the target ERP's import logs back: fix worklist, retry file, fixes",
        description="Read one round of the target's import logs (SAP message list, U8/Kingdee CSV/XLSX), "
        "classify each failure, write the fix worklist and the retry file of the failed rows; with "
        "--worklist, take the fixes typed into a worklist into the project's fixes.csv (applied by the "
        "standardize stage on every later run) and rewrite the retry file with them.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument("--target", required=True, help="the target profile the logs are about (one of export.profiles)")
    p.add_argument("logs", nargs="*", type=Path, metavar="LOG", help="the ERP's import logs of one round")
    p.add_argument("--run-dir", type=Path, help="the run whose files were imported (default: the latest run)")
    p.add_argument("--worklist", type=Path, help="a filled-in fix worklist to take the fixes from")
    p.add_argument("--fixed-by", help="who fixed (default: the worklist's fixed_by, else the OS user)")
    p.set_defaults(func=cmd_import_log)

    p = sub.add_parser(
        "mapping-review",
        help="take the edits of a returned mapping review workbook back into the mapping files",
        description="Read tables/mapping_review.xlsx as filled in by IT and business and update the "
        "project's field and value mapping CSVs; every change is listed. The mappings then need to be "
        "approved again.",
    )
    p.add_argument("--config", type=Path, required=True, help="the project's workbench.yaml")
    p.add_argument("workbook", type=Path, help="the returned review workbook")
    p.set_defaults(func=cmd_mapping_review)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the libraries (papermill, GX, Splink, sqlglot, ...) log their own steps at INFO: in the CLI only
    # their warnings show, unless --verbose; workbench's own progress lines stay at INFO
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("workbench").setLevel(logging.INFO)
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
        args.out,
        customers=args.customers,
        seed=args.seed,
        run=not args.no_run,
        run_id=args.run_id,
        hard=args.hard,
    )
    if result is not None:
        print_outputs(result.run_dir)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from workbench.core.onboarding import init_project

    result = init_project(
        args.out,
        args.inputs,
        targets=args.targets,
        language=args.language,
        region=args.region,
        name=args.name,
        overwrite=args.force,
    )
    for line in result.summary_lines():
        print(line)
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
        ("for analysts only (notebooks, Splink, GX)", "analyst"),
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


def cmd_approve(args: argparse.Namespace) -> int:
    from workbench.core.mapping import approve_mappings, project_sign_off
    from workbench.core.targets import load_project_profiles
    from workbench.project.config import load_config

    config = load_config(args.config, check_files=False)
    row = approve_mappings(config, args.role, args.name, args.comment)
    print(row.to_string(index=False))
    status = project_sign_off(config, load_project_profiles(config))
    if status.approved:
        print("signed off: every required role has approved the current inputs")
    else:
        print(f"still needed: {status.problem}")
    return 0


def cmd_import_log(args: argparse.Namespace) -> int:
    from workbench.presentation.workbooks.import_worklist import run_import_log
    from workbench.project.config import load_config

    if not args.logs and not args.worklist:
        raise WorkbenchError("import-log: give the ERP's log files (LOG ...) and/or --worklist FILE")
    result = run_import_log(
        load_config(args.config, check_files=False),
        args.target,
        list(args.logs),
        args.run_dir,
        worklist=args.worklist,
        fixed_by=args.fixed_by,
    )
    for key, value in result.metrics().items():
        print(f"  {key}: {value}")
    return 0


def cmd_mapping_review(args: argparse.Namespace) -> int:
    from workbench.presentation.workbooks.mapping_review import read_mapping_review
    from workbench.project.config import load_config

    result = read_mapping_review(args.workbook, load_config(args.config, check_files=False))
    if result.changes.empty:
        print("no change: the workbook agrees with the mapping files")
    else:
        print(result.changes.to_string(index=False))
    for path in result.written:
        print(f"wrote {path}")
    if result.written:
        print("the mappings changed: approve them again (workbench approve --role it|business)")
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise WorkbenchError(f"--param {text!r}: write it as NAME=VALUE, e.g. --param top_k=20")
    name, value = text.split("=", 1)
    return name.strip(), yaml.safe_load(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
