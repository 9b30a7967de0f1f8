"""workbench: a notebook-based data-quality workbench for migrating customer master data into a new ERP.

Importing the package turns off the usage statistics of the libraries it drives (no network at run
time). See ``docs/architecture.md`` for the map of modules and tables.
"""

from __future__ import annotations

import os

# Library usage statistics off before any of them is imported (no telemetry, no network at run time).
for _name, _value in {
    "GX_ANALYTICS_ENABLED": "False",
    "YDATA_PROFILING_NO_ANALYTICS": "True",
}.items():
    os.environ.setdefault(_name, _value)

if os.environ.get("WORKBENCH_FORBID_NETWORK"):
    from workbench.engine.netguard import forbid_network

    forbid_network()

__version__ = "0.1.0"
