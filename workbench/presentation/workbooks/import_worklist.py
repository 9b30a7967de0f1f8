"""The import fix worklist workbook, and the import-error loop on a real ERP's logs.

The rows come from :func:`workbench.core.export.import_log.build_fix_worklist`; this module writes
them as a workbook with two sheets (the worklist, with the columns to fill highlighted, and the
failures by reason), sheet names in the project's language. The fix columns keep their English
names so :func:`~workbench.core.export.import_log.write_retry_files` and
:func:`~workbench.core.export.fixes.take_worklist_fixes` can read a filled-in worklist. Text cells
are stored as text (an edit cannot become a formula).

:func:`run_import_log` is ``workbench import-log``: the target ERP's logs of one round in, the fix
worklist and the retry file of the failed rows out; a filled-in worklist in, its fixes into the
project's ``fixes.csv`` and the retry file rewritten with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.export.fixes import FixesResult, take_worklist_fixes
from workbench.core.export.import_log import (
    RETRY_FILE_COLUMNS,
    WORKLIST_FIX_COLUMNS,
    FixWorklist,
    ImportLogError,
    LoopResult,
    RoundResult,
    import_log_round,
    read_load_history,
    write_retry_files,
)
from workbench.core.targets.profiles import did_you_mean, load_project_profiles
from workbench.engine.files import atomic_path
from workbench.project.context import RunContext
from workbench.project.paths import ProjectPaths, RunPaths

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig

FIXED_CREATED = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes
WORKLIST_SHEETS = {
    "zh": {"worklist": "修正清单", "summary": "按原因汇总"},
    "en": {"worklist": "Worklist", "summary": "By reason"},
}
FIX_FILL = "#FFF2CC"  # the columns the team fills in


def worklist_path(paths: RunPaths, profile: str, iteration: int = 1) -> Path:
    """Where the fix worklist of `profile` goes: ``review/import_fix_worklist_<profile>.xlsx``
    (``…_round<N>.xlsx`` for the worklist of round N > 1)."""
    suffix = "" if iteration <= 1 else f"_round{iteration}"
    return paths.review / f"import_fix_worklist_{profile}{suffix}.xlsx"


def write_fix_worklist(path: Path, worklist: FixWorklist, *, language: str = "zh") -> Path:
    """Write one fix worklist workbook (atomically).

    Args:
        path: the workbook to write.
        worklist: the rows and the summary by reason.
        language: ``zh`` or ``en`` (sheet names).

    Returns:
        `path`.
    """
    lab = WORKLIST_SHEETS[language]
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="xlsxwriter") as writer:
        writer.book.set_properties({"created": FIXED_CREATED, "title": "import fix worklist"})
        text = writer.book.add_format({"num_format": "@"})
        fill = writer.book.add_format({"bg_color": FIX_FILL, "num_format": "@"})
        frame = worklist.rows.astype(object).where(worklist.rows.notna(), "")
        frame.to_excel(writer, sheet_name=lab["worklist"], index=False)
        ws = writer.sheets[lab["worklist"]]
        quoted = writer.book.add_format({"num_format": "@", "quote_prefix": True})
        for r, row in enumerate(frame.itertuples(index=False), start=1):
            for c, v in enumerate(row):
                if isinstance(v, str) and v:
                    ws.write_string(r, c, v, quoted if v[0] in "=+-@\t\r" else text)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
        for i, c in enumerate(frame.columns):
            ws.set_column(i, i, 16, fill if c in WORKLIST_FIX_COLUMNS else text)
        worklist.summary.to_excel(writer, sheet_name=lab["summary"], index=False)
    return path


def write_fix_worklists(ctx: RunContext, loop: LoopResult) -> list[Path]:
    """Write the fix worklist of every round of `loop` that has one, in the project's language.

    Args:
        ctx: the run (worklists go to its ``review/`` folder, see :func:`worklist_path`).
        loop: :func:`~workbench.core.export.import_log.process_import_logs` output (or the demo's loop).

    Returns:
        The workbooks written, in round order.
    """
    language = ctx.config.project.language
    return [
        write_fix_worklist(worklist_path(ctx.paths, w.profile), w, language=language) for w in loop.worklists
    ]


@dataclass
class ImportLogRun:
    """What :func:`run_import_log` did.

    Attributes:
        run_dir: the run the logs belong to.
        profile: the target profile.
        round: the import round read (None: no logs given).
        worklist: the fix worklist written for that round (None: nothing failed).
        fixes: the fixes taken from a filled-in worklist (None: no worklist given).
        retry_files: retry files written (profile, source_file, file, rows, sha256).
        still_failing: rows of the retry that failed the profile's checks again (not written).
    """

    run_dir: Path
    profile: str
    round: RoundResult | None = None
    worklist: Path | None = None
    fixes: FixesResult | None = None
    retry_files: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RETRY_FILE_COLUMNS))
    still_failing: pd.DataFrame = field(default_factory=pd.DataFrame)

    def metrics(self) -> dict[str, Any]:
        """Figures to print: the round, failures by status, worklist, fixes, retry rows."""
        out: dict[str, Any] = {"profile": self.profile, "run": self.run_dir.name}
        if self.round is not None:
            failed = self.round.failures
            out.update(
                round=self.round.iteration,
                failed_log_lines=int((failed["status"] == "failed").sum()) if len(failed) else 0,
                failed_records=int(failed.loc[failed["status"] == "failed", "row_key"].nunique())
                if len(failed)
                else 0,
                reasons=failed.groupby("reason")["row_key"].nunique().to_dict() if len(failed) else {},
            )
        if self.worklist is not None:
            out["worklist"] = str(self.worklist)
        if self.fixes is not None:
            out.update(self.fixes.metrics(), fixes_file=str(self.fixes.path))
        out["retry_files"] = self.retry_files["file"].tolist()
        out["retry_rows"] = int(self.retry_files["rows"].sum()) if len(self.retry_files) else 0
        out["still_failing"] = len(self.still_failing)
        return out


def run_import_log(
    config: ProjectConfig,
    target: str,
    logs: list[Path],
    run_dir: Path | None = None,
    *,
    worklist: Path | None = None,
    fixed_by: str | None = None,
) -> ImportLogRun:
    """``workbench import-log``: one round of the target ERP's import logs, and/or a filled-in worklist.

    With `logs`: the logs are kept in the run (``import_logs/``), read (the formats
    :mod:`workbench.core.export.import_log` documents: SAP cockpit message list, U8/Kingdee import
    log as CSV/XLSX), each failure classified and traced to its master and source rows, the round
    recorded in the project's load history, the fix worklist written to ``review/`` and the retry
    file of the failed rows only written to ``exports/<profile>/retry/``.

    With `worklist` (a worklist of an earlier round, filled in by the team): its fixes are appended
    to the project's fixes file (canonical fields, the records of the crosswalk; applied by the
    standardize stage on every later run) and the retry files of that round are written again with
    the fixes applied and checked.

    Args:
        config: the project config.
        target: the target profile whose load files the logs are about.
        logs: the ERP's logs of one round (may be empty when only `worklist` is given).
        run_dir: the run the load files came from (default: the project's latest run).
        worklist: a filled-in worklist to take the fixes from.
        fixed_by: who fixed (default: the worklist's ``fixed_by`` cells, else the OS user).

    Raises:
        ImportLogError: unknown target, no logs and no worklist, a log that cannot be read.
    """
    profiles = load_project_profiles(config)
    if target not in profiles:
        raise ImportLogError(
            f"target {target!r} is not one of the project's profiles {sorted(profiles)}"
            f"{did_you_mean(target, sorted(profiles))} (export.profiles)"
        )
    if not logs and worklist is None:
        raise ImportLogError("give the ERP's import log files, or --worklist with a filled-in fix worklist")
    paths = RunPaths(Path(run_dir).resolve()) if run_dir else ProjectPaths(config).latest_run()
    ctx = RunContext(config=config, paths=paths.ensure())
    profile = profiles[target]
    out = ImportLogRun(run_dir=paths.root, profile=target)
    if worklist is not None:
        out.fixes = take_worklist_fixes(ctx, profile, Path(worklist), fixed_by=fixed_by)
        failures = pd.read_excel(worklist, sheet_name=0, dtype=str, engine="calamine")
        failures = failures.astype(object).where(failures.notna(), None)
        history = read_load_history(ctx.project.load_history)
        mine = history[(history["run_id"] == ctx.run_id) & (history["profile"] == target)]
        iteration = int(mine["iteration"].max()) + 1 if len(mine) else 2
        retried = write_retry_files(ctx, failures, profile, iteration=iteration, worklist=Path(worklist))
        out.retry_files, out.still_failing = retried.files, retried.still_failing
    if logs:
        result = import_log_round(ctx, profile, [Path(p) for p in logs])
        out.round = result
        if result.worklist is not None:
            out.worklist = write_fix_worklist(
                worklist_path(paths, target, result.iteration),
                result.worklist,
                language=config.project.language,
            )
        out.retry_files = pd.concat([out.retry_files, result.retry_files], ignore_index=True)
    return out
