"""Shared fixtures. Every test runs offline: the network guard is on in this process and in kernels."""

from __future__ import annotations

import os

os.environ.setdefault("WORKBENCH_FORBID_NETWORK", "1")
os.environ.setdefault("WORKBENCH_THREADS", "2")

from workbench.engine.netguard import forbid_network  # noqa: E402

forbid_network()
