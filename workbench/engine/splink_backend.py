"""The engine seam: the one place that creates Splink's database API.

Everything else talks to Splink through the ``db_api`` made here, so another backend (Spark for data
that does not fit one machine) can be plugged in by changing this module only:

- :func:`create_engine` opens a fresh in-memory DuckDB connection (through
  :func:`workbench.engine.connection.connect`: offline settings, fixed threads) with its Splink API;
  the match stage copies its inputs in as Arrow tables and reads results back completely;
- :func:`splink_api` wraps a connection the caller already holds (e.g. the monitor stage scoring
  new records against the golden records of a run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb

from workbench.engine.connection import connect

log = logging.getLogger(__name__)

ENGINES = ("duckdb",)


@dataclass
class Engine:
    """A Splink database API and the connection behind it."""

    db_api: Any
    con: duckdb.DuckDBPyConnection
    name: str = "duckdb"

    def close(self) -> None:
        """Close the connection (and so every table Splink made in it)."""
        self.con.close()


def create_engine(name: str = "duckdb", *, threads: int | None = None) -> Engine:
    """Create the Splink database API on a new in-memory connection.

    Args:
        name: the backend; only ``duckdb`` today.
        threads: DuckDB worker threads (default: see :func:`workbench.engine.connection.connect`).

    Returns:
        The engine; close it when done.

    Raises:
        ValueError: an unknown backend name.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown linkage engine {name!r}; available: {', '.join(ENGINES)}")
    con = connect(None, threads=threads)
    return Engine(db_api=splink_api(con), con=con, name=name)


def splink_api(con: duckdb.DuckDBPyConnection) -> Any:
    """Splink's database API on an open DuckDB connection (Splink's chatter quietened).

    Args:
        con: the connection; the caller keeps owning it (and closes it).

    Returns:
        A ``splink.DuckDBAPI``.
    """
    quiet_splink()
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con)


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
