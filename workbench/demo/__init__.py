"""The deterministic demo-data generator (`workbench demo`).

Public API: :func:`generate_demo` writes a whole demo project (legacy source files with planted
defects, a ground truth, the true entities and a ``workbench.yaml``); :class:`DemoRates` holds its
knobs; :data:`DEFECT_TAGS` is the fixed vocabulary of defect tags in ``ground_truth.csv``;
``generate_demo(..., hard=True)`` (knobs: :class:`HardRates`) writes the hard variant.
"""

from __future__ import annotations

from workbench.demo.generator import DemoSummary, generate_demo
from workbench.demo.rates import DEFECT_TAGS, HARD_DEMO_RATES, HARD_TAGS, DemoError, DemoRates, HardRates

__all__ = [
    "DEFECT_TAGS",
    "HARD_DEMO_RATES",
    "HARD_TAGS",
    "DemoError",
    "DemoRates",
    "DemoSummary",
    "HardRates",
    "generate_demo",
]
