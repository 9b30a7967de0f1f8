"""How the workbench imports Great Expectations and makes its (ephemeral) data context.

This module owns the GX settings every validation shares: analytics off (``GX_ANALYTICS_ENABLED``
and the context's own flag), progress bars off, in-memory stores, and one Data Docs site (``run``)
written into a folder of the run. ``import great_expectations`` takes seconds, so it happens here,
when a suite is loaded or run, and never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DOCS_SITE = "run"


def import_gx() -> Any:
    """Import great_expectations with analytics off (``GX_ANALYTICS_ENABLED``) and return it."""
    # GX 1.24 reads GX_ANALYTICS_ENABLED when a context's analytics_enabled is unset; we also set it
    # explicitly on every context we create (see new_context)
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    import great_expectations as gx

    return gx


def new_context(docs_dir: Path | None) -> Any:
    """An ephemeral GX context (analytics and progress bars off) with a Data Docs site in `docs_dir`.

    Args:
        docs_dir: the folder of the Data Docs site :data:`DOCS_SITE`; ``None`` builds no docs.
    """
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)
