"""The engine seam: the one place that creates Splink's database API.

Everything else in :mod:`workbench.core.linkage` talks to Splink through the ``db_api`` returned here,
so another backend (Spark for data that does not fit one machine) can be plugged in by changing
this module only. The DuckDB backend works on an in-memory connection opened through
:func:`workbench.engine.connection.connect` (offline settings, fixed threads); inputs are copied in as Arrow tables
and results are read back completely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from workbench.engine.connection import connect

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
        threads: DuckDB worker threads (default: see :func:`workbench.engine.connection.connect`).

    Returns:
        The engine; close it when done.
    """
    if name != "duckdb":
        raise ValueError(f"unknown linkage engine {name!r}; available: {', '.join(ENGINES)}")
    quiet_splink()
    from splink import DuckDBAPI

    con = connect(None, threads=threads)
    return Engine(db_api=DuckDBAPI(connection=con), con=con, name=name)


# loggers whose warnings repeat, per EM pass, facts the match stage reports once itself
# (levels never observed, parameters left at their defaults): see training.TrainingReport
_REPETITIVE = (
    "splink.internals.expectation_maximisation",
    "splink.internals.em_sampling",
    "splink.internals.settings",
    "splink.internals.linker",
    "splink.internals.estimate_u",
)


def quiet_splink() -> None:
    """Keep Splink's per-step chatter out of notebooks and logs (its other warnings still show)."""
    logging.getLogger("splink").setLevel(logging.WARNING)
    for name in _REPETITIVE:
        logging.getLogger(name).setLevel(logging.ERROR)
