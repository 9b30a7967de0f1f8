"""Onboarding a new project: ``workbench init`` writes a config from a folder of legacy exports.

The public API is re-exported here; the code lives in one module per concern:

- :mod:`~workbench.core.onboarding.project`: :func:`init_project` and :class:`InitResult`;
- :mod:`~workbench.core.onboarding.sample`: a file's format, encoding, delimiter, sheet, header row
  and a sample of its rows;
- :mod:`~workbench.core.onboarding.headers`: column headers → fields (``data/header_words.csv``);
- :mod:`~workbench.core.onboarding.evidence`: what a column's values say about its kind;
- :mod:`~workbench.core.onboarding.guess`: the field and kind of each column, the ID column,
  activity files;
- :mod:`~workbench.core.onboarding.writer`: the commented ``workbench.yaml``.
"""

from workbench.core.onboarding.guess import ColumnGuess
from workbench.core.onboarding.project import InitResult, init_project
from workbench.core.onboarding.sample import FileSample, discover_inputs, read_sample

__all__ = ["ColumnGuess", "FileSample", "InitResult", "discover_inputs", "init_project", "read_sample"]
