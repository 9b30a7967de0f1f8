"""The deterministic demo-data generator (`workbench demo`).

Public API: :func:`generate_demo` writes a whole demo project (legacy source files with planted
defects, a ground truth, the true entities and a ``workbench.yaml``); :class:`DemoRates` holds its
knobs; :data:`DEFECT_TAGS` is the fixed vocabulary of defect tags in ``ground_truth.csv``.
"""

from __future__ import annotations

from workbench.demo.generator import DemoSummary, generate_demo
from workbench.demo.rates import DEFECT_TAGS, DemoError, DemoRates

__all__ = ["DEFECT_TAGS", "DemoError", "DemoRates", "DemoSummary", "generate_demo"]
