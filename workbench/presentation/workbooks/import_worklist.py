"""The import fix worklist workbook: the failures of an import round, for the team to fix.

The rows come from :func:`workbench.core.export.import_log.build_fix_worklist`; this module writes
them as a workbook with two sheets (the worklist, with the columns to fill highlighted, and the
failures by reason), sheet names in the project's language. The fix columns keep their English
names so :func:`~workbench.core.export.import_log.write_retry_files` can read a filled-in worklist.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.export.import_log import WORKLIST_FIX_COLUMNS, FixWorklist, LoopResult
from workbench.engine.files import atomic_path

if TYPE_CHECKING:
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths

FIXED_CREATED = dt.datetime(2000, 1, 1)  # workbook metadata, so reruns give identical bytes
WORKLIST_SHEETS = {
    "zh": {"worklist": "修正清单", "summary": "按原因汇总"},
    "en": {"worklist": "Worklist", "summary": "By reason"},
}
FIX_FILL = "#FFF2CC"  # the columns the team fills in


def worklist_path(paths: RunPaths, profile: str) -> Path:
    """Where the fix worklist of `profile` goes: ``review/import_fix_worklist_<profile>.xlsx``."""
    return paths.review / f"import_fix_worklist_{profile}.xlsx"


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
