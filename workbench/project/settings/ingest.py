"""Settings of the `ingest:` section of ``workbench.yaml``: what the ingest does with suspicious rows.

Nothing a reader finds is turned into NULL or dropped in silence: a total row is quarantined, a
formula cell without a computed value quarantines its row (or is flagged), a cell with control
characters or an Excel error value is listed in ``ingest_issues``; every case is counted in
``ingest_summary``. The words that mark a total row ship as a data file
(``workbench/core/ingest/data/total_words.csv``); a project adds its own here.

Example::

    ingest:
      total_rows: quarantine        # or keep
      total_words: ["本月合计"]      # more words on top of the shipped table
      uncached_formulas: flag       # stage the row, the cell empty, and list it in ingest_issues
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestSettings(_Strict):
    """The `ingest:` section. Every key is optional."""

    total_rows: Literal["quarantine", "keep"] = Field(
        "quarantine",
        description=(
            "a row whose ID cell is empty (or a total word) and that holds a total word (合计, 小计, "
            "Total …) in a cell: quarantine it (reason `total row`), or keep it as data"
        ),
    )
    total_words: list[str] = Field(
        default_factory=list,
        description="more words that mark a total row, on top of the shipped table (case and spaces ignored)",
    )
    uncached_formulas: Literal["quarantine", "flag"] = Field(
        "quarantine",
        description=(
            "an Excel formula cell saved without its computed value: quarantine the row, or stage it "
            "with the cell empty and list the cell in ingest_issues"
        ),
    )
