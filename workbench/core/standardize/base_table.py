"""The base table of a standardize run: every staged customer row once, with its reading context.

:data:`~workbench.core.standardize.fields.BASE_TABLE` stacks the ``stg_<source>`` tables of the
customer sources (rows in = rows out) with, per row:

- ``record_key``, lineage and ``source_id`` (the source's ID, trimmed, control characters removed,
  so ``C100<NUL>`` and an activity row's ``C100`` are the same customer);
- one column per canonical field: the staged column, or for a field the source builds from several
  columns (``sources[].combine``) the trimmed non-empty parts joined by the separator, or NULL;
- ``__country``: the source's region (``sources[].region``, else the default region), replaced by
  the record's own country field when it has one (:func:`add_country_context`);
- ``__day_first``: ``dmy`` or ``mdy``, the date order of the source (:func:`source_day_first`).

This module owns that table; the pipeline joins the lookups of the standardized values to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.core.ingest.cells import CONTROL_CHARS_SQL
from workbench.core.standardize.base import Reference, StandardizeError
from workbench.core.standardize.fields import BASE_TABLE, StdField
from workbench.core.standardize.regional import source_day_first, source_region
from workbench.engine.catalog import staged
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.sql import ident, literal
from workbench.project.config import CombineSpec, ProjectConfig, SourceSpec

if TYPE_CHECKING:
    import duckdb


def clean_id_sql(column: str) -> str:
    """SQL of a source ID as compared everywhere: trimmed, without control characters."""
    return f"trim(regexp_replace({column}, {literal(CONTROL_CHARS_SQL)}, '', 'g'))"


def combine_sql(spec: CombineSpec) -> str:
    """SQL joining a combined field's parts: trimmed, empty parts skipped with their separator."""
    parts = [f"nullif(trim({ident(p)}), '')" for p in spec.parts]
    pieces = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        earlier = " OR ".join(f"{p} IS NOT NULL" for p in parts[:i])
        pieces.append(
            f"CASE WHEN {part} IS NOT NULL THEN (CASE WHEN {earlier} THEN {literal(spec.separator)} "
            f"ELSE '' END) || {part} END"
        )
    return f"nullif(concat({', '.join(pieces)}), '')"


def build_base(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    plans: list[StdField],
    reference: Reference,
    *,
    combined: bool = True,
) -> dict[str, int]:
    """Stack the staged customer tables into :data:`BASE_TABLE` (one row per staged row).

    Args:
        con: the run database.
        config: the project config.
        plans: the canonical fields.
        reference: the reference tables (the date order of a region).
        combined: compute the combined fields now; ``False`` leaves them NULL for
            :func:`add_combined_fields` (so fixes of their parts can be applied first).

    Returns:
        Rows per source.

    Raises:
        StandardizeError: a staged table is missing or lacks a configured field.
    """
    selects: list[str] = []
    params: list[Any] = []
    for order, spec in enumerate(config.customer_sources):
        table = _checked_table(con, spec)
        staged_fields = spec.staged_field_kinds()
        cols = []
        for p in plans:
            if p.name in staged_fields:
                cols.append(ident(p.name))
            elif combined and p.name in spec.combine:
                cols.append(f"{combine_sql(spec.combine[p.name])} AS {ident(p.name)}")
            else:
                cols.append(f"CAST(NULL AS VARCHAR) AS {ident(p.name)}")
        selects.append(
            "SELECT _source || ':' || CAST(_row_number AS VARCHAR) AS record_key, _source, "
            f"CAST(? AS INTEGER) AS __source_order, _row_number, _row_hash, "
            f"{clean_id_sql(ident(spec.id_field))} AS source_id, CAST(? AS VARCHAR) AS __country, "
            "CAST(? AS VARCHAR) AS __day_first" + "".join(f", {c}" for c in cols) + f" FROM {ident(table)}"
        )
        day_first = source_day_first(config, spec, reference)
        params.extend([order, source_region(config, spec), "dmy" if day_first else "mdy"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BASE_TABLE} AS " + " UNION ALL ".join(selects), params)
    rows = con.execute(f"SELECT _source, count(*) FROM {BASE_TABLE} GROUP BY _source").fetchall()
    counts = dict.fromkeys((s.name for s in config.customer_sources), 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


def add_combined_fields(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> list[tuple[str, str]]:
    """Compute the combined fields of every source in :data:`BASE_TABLE` (after their parts' fixes).

    Returns:
        ``(source, field)`` of every combined field computed.
    """
    done: list[tuple[str, str]] = []
    for spec in config.customer_sources:
        for name, combine in spec.combine.items():
            con.execute(
                f"UPDATE {BASE_TABLE} SET {ident(name)} = {combine_sql(combine)} WHERE _source = ?",
                [spec.name],
            )
            done.append((spec.name, name))
    return done


def add_country_context(con: duckdb.DuckDBPyConnection, plan: StdField) -> None:
    """The record country in the base table: the standardized country field, else the source's region."""
    col = ident(plan.name)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {BASE_TABLE} AS SELECT b.* REPLACE "
        f"(coalesce(l.value, b.__country) AS __country) "
        f"FROM {BASE_TABLE} b LEFT JOIN {plan.lookup} l ON l.raw = b.{col}"
    )


def _checked_table(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> str:
    table = staged(spec.name)
    if not table_exists(con, table):
        raise StandardizeError(
            f"the customer source {spec.name!r} has no staged table {table!r}; run the audit stage first"
        )
    columns = set(table_columns(con, table))
    missing = [f for f in spec.staged_field_kinds() if f not in columns]
    if missing:
        raise StandardizeError(
            f"{table} lacks the field(s) {missing} that the config maps for source {spec.name!r}; "
            "rerun the audit stage with this config"
        )
    return table
