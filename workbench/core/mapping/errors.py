"""The errors of the mapping phase: invalid mapping files, missing sign-off, blocking coverage."""

from __future__ import annotations

from workbench.errors import WorkbenchError


class MappingError(WorkbenchError):
    """A mapping file is missing or invalid.

    Attributes:
        problems: one line per problem, naming the file, line, column, bad value and the fix.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the mapping files:\n{lines}")


class MappingNotApprovedError(WorkbenchError):
    """The mapping version in use has not been signed off (and draft mode is off)."""


class MappingCoverageError(WorkbenchError):
    """The coverage report has blocking issues (unmapped values, bad picklist values, …)."""
