"""The stages: one module per stage id, each exposing ``run(ctx) -> StageResult``.

The list, order and inputs of the stages are declared once in :mod:`workbench.project.stages`;
the contract is :mod:`workbench.stages.contract`. Notebooks call ``<stage>.run(ctx)`` and show
parts of the result (``result.show("<view>")``).
"""

from workbench.stages.contract import StageResult, stage

__all__ = ["StageResult", "stage"]
