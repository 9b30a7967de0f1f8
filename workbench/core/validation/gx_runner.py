"""Running GX suites: one checkpoint per suite on a pandas frame, results with business keys.

This module owns the GX run: :func:`run_suites` validates pandas frames (GX cannot validate DuckDB
tables through its SQL data source) in an ephemeral context (:mod:`.gx_context`), asks for every
failed row with its key columns (``unexpected_index_column_names``) and builds the GX Data Docs
site into the run's ``datadocs`` folder. Making those pages open offline is presentation
(:mod:`workbench.presentation.datadocs`); the values to mask in them are worked out here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.validation.gx_context import DOCS_SITE, import_gx, new_context
from workbench.core.validation.results import (
    RESULT_COLUMNS,
    ExpectationRun,
    ValidationOutcome,
    describe,
    docs_replacements,
    failure_frame,
    failure_keys,
    result_row,
)
from workbench.core.validation.suite_files import load_suite
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.project.settings.report import MaskingSettings

log = logging.getLogger(__name__)


class ValidationError(WorkbenchError):
    """Validation cannot run: a table is missing or a suite does not fit its data."""


@dataclass
class SuiteCheck:
    """One suite to run on one dataset."""

    suite: dict[str, Any]
    data: pd.DataFrame
    dataset: str
    stage: str
    keys: list[str]


@dataclass
class _Collected:
    rows: list[dict[str, Any]]
    failures: list[pd.DataFrame]


def _checkpoint(context: Any, source: Any, check: SuiteCheck, suite: Any, with_docs: bool) -> Any:
    """The checkpoint that validates `check.data` with `suite` (and updates the Data Docs)."""
    gx = import_gx()
    asset = source.add_dataframe_asset(check.dataset)
    batch = asset.add_batch_definition_whole_dataframe("whole")
    vd = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"vd_{suite.name}", data=batch, suite=suite)
    )
    actions = [gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])] if with_docs else []
    return context.checkpoints.add(
        gx.Checkpoint(
            name=f"cp_{suite.name}",
            validation_definitions=[vd],
            actions=actions,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": check.keys},
        )
    )


def _collect_result(
    r: Any, suite_name: str, check: SuiteCheck, language: str, failures_limit: int, out: _Collected
) -> None:
    """Add one expectation result to the result rows and, when rows failed, to the failures."""
    cfg = r.expectation_config
    meta = cfg.meta or {}
    kwargs = cfg.kwargs
    run = ExpectationRun(
        suite=suite_name,
        stage=check.stage,
        dataset=check.dataset,
        expectation=cfg.type,
        column=kwargs.get("column") or ",".join(kwargs.get("column_list") or []),
        severity=meta.get("severity", "error"),
        description=describe(meta, language),
    )
    info = r.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) else False
    error = " ".join(str(info.get("exception_message") or "").split())[:300] if raised else None
    res = r.result or {}
    kept = (res.get("unexpected_index_list") or [])[:failures_limit]
    out.rows.append(result_row(run, r.success, res, len(kept), error))
    if kept and isinstance(kept[0], dict):
        out.failures.append(failure_frame(run, kept, check.keys))
    elif raised:
        log.warning("suite %s: %s on %s raised: %s", suite_name, cfg.type, run.column, error)


def find_pages(docs_dir: Path) -> dict[str, str]:
    """suite name → the newest validation page of that suite (relative to `docs_dir`)."""
    pages = {}
    root = docs_dir / "validations"
    if root.exists():
        for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            found = sorted(suite_dir.rglob("*.html"))
            if found:
                pages[suite_dir.name] = found[-1].relative_to(docs_dir).as_posix()
    return pages


def run_suites(
    checks: list[SuiteCheck],
    docs_dir: Path | None,
    *,
    run_name: str,
    language: str = "zh",
    failures_limit: int = 100_000,
    field_kinds: dict[str, Any] | None = None,
    masking: MaskingSettings | None = None,
) -> ValidationOutcome:
    """Run each suite as a checkpoint on its data; build the GX Data Docs into `docs_dir`.

    Failed values of personal-data columns (phones, e-mails, IDs by `field_kinds` and the
    `masking` settings) are listed in ``docs_replacements`` so the Data Docs pages, which business
    reads, can be masked; the failures table keeps them whole for the fix worklist.

    Args:
        checks: the suites and their data.
        docs_dir: Data Docs folder (``ctx.paths.datadocs``); ``None`` builds no docs.
        run_name: names the validation runs (the run id).
        language: language of the descriptions and the docs index.
        failures_limit: at most this many failed rows per expectation are returned.
        field_kinds: canonical field → kind, for masking the Data Docs.
        masking: ``report.masking``.

    Raises:
        ValidationError: a check's key columns are not in its data.
    """
    import_gx()  # before any other GX import: analytics off
    from great_expectations.core.run_identifier import RunIdentifier

    context = new_context(docs_dir)
    source = context.data_sources.add_pandas("workbench")
    collected = _Collected([], [])
    for check in checks:
        suite = context.suites.add(load_suite(check.suite, origin=check.suite.get("name")))
        missing_keys = [k for k in check.keys if k not in check.data.columns]
        if missing_keys:
            raise ValidationError(
                f"suite {suite.name}: key column(s) {missing_keys} are not in dataset {check.dataset}"
            )
        checkpoint = _checkpoint(context, source, check, suite, docs_dir is not None)
        data = check.data.reset_index(drop=True)
        result = checkpoint.run(batch_parameters={"dataframe": data}, run_id=RunIdentifier(run_name=run_name))
        for vr in result.run_results.values():
            for r in vr.results:
                _collect_result(r, suite.name, check, language, failures_limit, collected)
    results = pd.DataFrame(collected.rows, columns=RESULT_COLUMNS)
    failures = failure_keys(collected.failures)
    outcome = ValidationOutcome(results, failures, language=language)
    if docs_dir is not None and docs_dir.exists():
        outcome.docs_dir = docs_dir
        outcome.pages = find_pages(docs_dir)
        outcome.docs_replacements = (
            docs_replacements(failures, field_kinds or {}, masking) if field_kinds else {}
        )
    return outcome
