"""The one exception hierarchy of the package.

Every error the package raises on purpose derives from :class:`WorkbenchError`, so the CLI and the
notebooks can show its message (which names the file, row, column and a fix) instead of a traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every error raised on purpose by workbench."""


class ConfigError(WorkbenchError):
    """The project config file is missing, unreadable or invalid.

    Attributes:
        problems: every problem found, each a one-line message naming the file, key, value and fix.
    """

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the project config:\n{lines}")


class SourceError(WorkbenchError):
    """A source file cannot be read: missing, unreadable, wrong sheet, missing columns."""


class IngestBalanceError(WorkbenchError):
    """File rows do not equal staged plus quarantined rows for a source."""


class StageError(WorkbenchError):
    """A stage notebook failed or was called with bad parameters."""


class ReconciliationError(WorkbenchError):
    """Some source rows have no recorded outcome, or more than one."""
