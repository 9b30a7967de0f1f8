"""The engine seam: the one place that creates Splink's database API.

Everything else in :mod:`workbench.linkage` talks to Splink through the ``db_api`` returned here,
so another backend (Spark for data that does not fit one machine) can be plugged in by changing
this module only. The DuckDB backend works on an in-memory connection opened through
:func:`workbench.db.connect` (offline settings, fixed threads); inputs are copied in as Arrow tables
and results are read back completely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from workbench.db import connect

log = logging.getLogger(__name__)

ENGINES = ("duckdb",)


@dataclass
class Engine:
    """A Splink database API and the connection behind it."""

    db_api: Any
    con: Any
    name: str = "duckdb"

    def close(self) -> None:
        self.con.close()


def create_engine(name: str = "duckdb", *, threads: int | None = None) -> Engine:
    """Create the Splink database API.

    Args:
        name: the backend; only ``duckdb`` today.
        threads: DuckDB worker threads (default: see :func:`workbench.db.connect`).

    Returns:
        The engine; close it when done.
    """
    if name != "duckdb":
        raise ValueError(f"unknown linkage engine {name!r}; available: {', '.join(ENGINES)}")
    quiet_splink()
    from splink import DuckDBAPI

    con = connect(None, threads=threads)
    return Engine(db_api=DuckDBAPI(connection=con), con=con, name=name)


def quiet_splink() -> None:
    """Keep Splink's per-step INFO chatter out of notebooks and logs (warnings still show)."""
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)
