"""Per-field lookups: each field's distinct raw values, standardized once, as a scratch table.

For every canonical field the pipeline reads the distinct raw values of the base table (with the
record's country where the kind needs it, see :attr:`StdField.uses_context`), runs the standardizer
of the field's kind on them and stores the result as the field's lookup table
(:attr:`StdField.lookup`: ``raw``, ``ctx``, ``value``, ``valid``, ``valid_before``, ``issue``,
``rule``, the kind extras and internals, ``__test``). Large fields are cut into chunks that worker
processes share (``standardize.workers``); the result does not depend on the number of workers.

This module owns the dispatch from a field's standardizer name to the per-kind function, the
removal of control characters every kind shares (rule ``strip_control_chars``), and the test-record
probe for kinds whose standardizer does not report test records itself (never for a source's own
key: an ID of one repeated digit such as ``11`` is a real key).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from workbench.core.ingest.cells import CONTROL_CHARS
from workbench.core.standardize import (
    addresses,
    codes,
    company_names,
    customer_names,
    dates,
    emails,
    ids,
    person_names,
    phones,
)
from workbench.core.standardize.base import Reference, join_rules, load_reference
from workbench.core.standardize.fields import BASE_TABLE, SOURCE_KEY, TEST_APPLIES, StdField
from workbench.engine.catalog import temp
from workbench.engine.connection import registered
from workbench.engine.sql import ident
from workbench.project.config import Kind
from workbench.project.settings.standardize import StandardizeSettings

if TYPE_CHECKING:
    import duckdb

# the lookup columns every field has, around its kind extras and internals
_BASE_LOOKUP = ("value", "valid", "valid_before", "issue", "rule")


def lookup_columns(plan: StdField) -> tuple[str, ...]:
    """The standardizer output columns a field's lookup table keeps, in order."""
    return (*_BASE_LOOKUP, *plan.extras, *plan.internal, "__test")


def run_standardizer(
    standardizer: str,
    kind: Kind,
    values: pd.Series,
    context: pd.Series | None,
    settings: StandardizeSettings,
    reference: Reference,
    reference_date: dt.date | None,
) -> pd.DataFrame:
    """Run a field's standardizer on its distinct values, and mark test records.

    Control characters (NUL and other C0 controls) are removed first; a value that held one gets
    the rule ``strip_control_chars`` and does not count as valid before.

    Args:
        standardizer: the field's standardizer (its kind's value, ``customer_type``, or
            ``source_key`` for a source's own ID, which is never probed for test records).
        kind: the field's kind (decides which test patterns apply).
        values: the distinct raw values.
        context: per value, the record country (kinds read by country) or the date order ``dmy`` /
            ``mdy`` (dates); else ``None``.
        settings: the `standardize:` settings.
        reference: the reference tables.
        reference_date: the run's reference date (dates after it plus a year are invalid).

    Returns:
        The standardizer's result frame with a ``__test`` column (test-record reason or None).
    """
    raw_values = values
    values, stripped = _strip_control_chars(values)
    kw: dict[str, Any] = {"settings": settings, "reference": reference}
    region: Any = context if context is not None else (settings.default_region or "CN")
    dispatch: dict[str, Callable[[], pd.DataFrame]] = {
        "customer_type": lambda: codes.standardize_customer_types(values, **kw),
        SOURCE_KEY: lambda: ids.standardize_ids(values),
        Kind.ID.value: lambda: ids.standardize_ids(values),
        Kind.COMPANY_NAME.value: lambda: company_names.standardize_company_names(values, **kw),
        Kind.PERSON_NAME.value: lambda: person_names.standardize_person_names(values, **kw),
        Kind.CUSTOMER_NAME.value: lambda: customer_names.standardize_customer_names(values, **kw),
        Kind.PHONE.value: lambda: phones.standardize_phones(values, region, **kw),
        Kind.EMAIL.value: lambda: emails.standardize_emails(values, **kw),
        Kind.ADDRESS.value: lambda: addresses.standardize_addresses(values, **kw),
        Kind.PROVINCE.value: lambda: addresses.standardize_regions(values, "province", **kw),
        Kind.CITY.value: lambda: addresses.standardize_regions(values, "city", **kw),
        Kind.DISTRICT.value: lambda: addresses.standardize_regions(values, "district", **kw),
        Kind.POSTCODE.value: lambda: addresses.standardize_postcodes(values, region, **kw),
        Kind.COUNTRY.value: lambda: addresses.standardize_countries(values, **kw),
        Kind.TAX_ID.value: lambda: ids.standardize_tax_ids(values, region),
        Kind.PERSON_ID.value: lambda: ids.standardize_person_ids(values, region, **kw),
        Kind.DATE.value: lambda: _dates_by_order(values, context, settings, reference_date),
        Kind.AMOUNT.value: lambda: codes.standardize_amounts(values),
        Kind.NUMBER.value: lambda: codes.standardize_amounts(values),
        Kind.STATUS.value: lambda: codes.standardize_statuses(values, **kw),
        Kind.CODE.value: lambda: codes.standardize_codes(values, settings=settings),
        Kind.FLAG.value: lambda: codes.standardize_flags(values, **kw),
        Kind.URL.value: lambda: codes.standardize_urls(values),
        Kind.TEXT.value: lambda: codes.standardize_text(values, settings=settings),
    }
    frame = dispatch[standardizer]()
    applies = None if standardizer == SOURCE_KEY else TEST_APPLIES.get(kind)
    if stripped.any():
        frame = _mark_stripped(frame, stripped, raw_values)
    if "__test" not in frame.columns:
        tests = person_names.compile_test_patterns(reference, applies) if applies else []
        if tests:
            probe = values.map(lambda v: _digits(v) if kind == Kind.PHONE else str(v).strip())
            frame["__test"] = probe.map(lambda v: person_names.match_test_pattern(v, tests) if v else None)
        else:
            frame["__test"] = None
    return frame


def _strip_control_chars(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`values` without control characters, and which values held one."""
    has = values.map(lambda v: isinstance(v, str) and CONTROL_CHARS.search(v) is not None).astype(bool)
    if not has.any():
        return values, has
    cleaned = values.copy()
    cleaned[has] = values[has].map(lambda v: CONTROL_CHARS.sub("", v))
    return cleaned, has


def _mark_stripped(frame: pd.DataFrame, stripped: pd.Series, raw: pd.Series) -> pd.DataFrame:
    """Add the rule ``strip_control_chars`` to the values that held a control character."""
    frame = frame.copy()
    frame.loc[stripped, "rule"] = [join_rules("strip_control_chars", r) for r in frame.loc[stripped, "rule"]]
    frame.loc[stripped, "valid_before"] = False
    return frame


def _dates_by_order(
    values: pd.Series,
    context: pd.Series | None,
    settings: StandardizeSettings,
    reference_date: dt.date | None,
) -> pd.DataFrame:
    """Dates read in the order of their source (``dmy`` / ``mdy`` in `context`), else the settings'."""
    if context is None:
        return dates.standardize_dates(values, settings=settings, reference_date=reference_date)
    parts = []
    for order in sorted(set(context.tolist())):
        mask = (context == order).to_numpy()
        chosen = settings.model_copy(update={"day_first": order != "mdy"})
        parts.append(dates.standardize_dates(values[mask], settings=chosen, reference_date=reference_date))
    return pd.concat(parts).loc[values.index]


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def standardize_chunk(
    standardizer: str,
    kind: str,
    columns: tuple[str, ...],
    values: list[Any],
    context: list[Any] | None,
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
) -> dict[str, list[str | None]]:
    """Standardize a chunk of distinct values and return the lookup columns as text.

    Runs in a worker process for large fields (see ``standardize.workers``); everything it needs
    comes in its arguments, so it gives the same result wherever it runs.
    """
    reference = load_reference(settings, Path(base_dir))
    series = pd.Series(values, dtype=object)
    ctx = pd.Series(context, dtype=object) if context is not None else None
    frame = run_standardizer(standardizer, Kind(kind), series, ctx, settings, reference, reference_date)
    return {
        name: [_as_text(v) for v in (frame[name].tolist() if name in frame.columns else [None] * len(values))]
        for name in columns
    }


def _timed_chunk(*args: Any) -> tuple[dict[str, list[str | None]], float]:
    """:func:`standardize_chunk` and the CPU seconds it took (in the worker)."""
    started = time.process_time()
    columns = standardize_chunk(*args)
    return columns, time.process_time() - started


def _as_text(value: Any) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return None if value != value else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def fetch_distinct(con: duckdb.DuckDBPyConnection, plan: StdField) -> tuple[list[Any], list[Any] | None]:
    """The distinct raw values of a field (with the reading context where the kind needs it), sorted."""
    col = ident(plan.name)
    ctx = f", {plan.context_column} AS ctx" if plan.context_column else ""
    rows = con.execute(
        f"SELECT DISTINCT {col} AS raw{ctx} FROM {BASE_TABLE} WHERE {col} IS NOT NULL ORDER BY ALL"
    ).fetchall()
    values = [r[0] for r in rows]
    context = [r[1] for r in rows] if plan.uses_context else None
    return values, context


def store_lookup(
    con: duckdb.DuckDBPyConnection,
    plan: StdField,
    values: list[Any],
    context: list[Any] | None,
    columns: dict[str, list[str | None]],
) -> None:
    """Write a field's standardized distinct values as its lookup table (:attr:`StdField.lookup`)."""
    arrays: dict[str, pa.Array] = {
        "raw": pa.array(values, pa.string()),
        "ctx": pa.array(context if context is not None else [None] * len(values), pa.string()),
    }
    for name in lookup_columns(plan):
        arrays[name] = pa.array(columns[name], pa.string())
    selects = ["raw", "ctx", "value", "CAST(valid AS BOOLEAN) AS valid"]
    selects += ["CAST(valid_before AS BOOLEAN) AS valid_before", "issue", "rule"]
    selects += [ident(c) for c in (*plan.extras, *plan.internal, "__test")]
    with registered(con, temp(f"std_lk_{plan.position}_arrow"), pa.table(arrays)) as view:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {plan.lookup} AS SELECT {', '.join(selects)} FROM {view}")


def build_lookup(
    con: duckdb.DuckDBPyConnection,
    plan: StdField,
    settings: StandardizeSettings,
    reference_date: dt.date | None,
    base_dir: str = ".",
) -> int:
    """Standardize a field's distinct values (in this process) into its lookup table.

    Returns:
        The number of distinct values standardized.
    """
    values, context = fetch_distinct(con, plan)
    _standardize_field(con, plan, values, context, settings, base_dir, reference_date)
    return len(values)


def _standardize_field(
    con: duckdb.DuckDBPyConnection,
    plan: StdField,
    values: list[Any],
    context: list[Any] | None,
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
) -> None:
    columns = standardize_chunk(
        plan.standardizer,
        plan.kind.value,
        lookup_columns(plan),
        values,
        context,
        settings,
        base_dir,
        reference_date,
    )
    store_lookup(con, plan, values, context, columns)


Fetched = dict[str, tuple[list[Any], list[Any] | None]]


def build_lookups(
    con: duckdb.DuckDBPyConnection,
    plans: list[StdField],
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
    lap: Callable[..., None],
) -> dict[str, int]:
    """Standardize every field, in worker processes when the fields are large.

    The distinct values of all fields are cut into chunks that the workers share, so both cores
    stay busy across fields; the results are put back in chunk order (the outcome does not depend
    on the number of workers).

    Args:
        con: the connection holding the base table.
        plans: the fields to standardize.
        settings: the `standardize:` settings (workers, chunk size, the threshold for workers).
        base_dir: the folder the config's paths are relative to (reference tables).
        reference_date: the run's reference date.
        lap: records a step's time (``lap(name)``, or ``lap(name, seconds)`` for worker CPU time).

    Returns:
        The number of distinct values per field.
    """
    fetched: Fetched = {p.name: fetch_distinct(con, p) for p in plans}
    lap("distinct")
    total = sum(len(v) for v, _ in fetched.values())
    workers = settings.workers or os.cpu_count() or 1
    if workers <= 1 or total < settings.parallel_min_values:
        for p in plans:
            values, context = fetched[p.name]
            _standardize_field(con, p, values, context, settings, base_dir, reference_date)
            lap(f"field:{p.name}")
        return {p.name: len(fetched[p.name][0]) for p in plans}
    results = _standardize_in_workers(plans, fetched, workers, settings, base_dir, reference_date, lap)
    for p in plans:
        values, context = fetched[p.name]
        parts = [results.get(p.name, {})[k] for k in sorted(results.get(p.name, {}))]
        columns = {n: [x for part in parts for x in part[n]] for n in lookup_columns(p)}
        store_lookup(con, p, values, context, columns)
    lap("lookups")
    return {p.name: len(fetched[p.name][0]) for p in plans}


def _standardize_in_workers(
    plans: list[StdField],
    fetched: Fetched,
    workers: int,
    settings: StandardizeSettings,
    base_dir: str,
    reference_date: dt.date | None,
    lap: Callable[..., None],
) -> dict[str, dict[int, dict[str, list[str | None]]]]:
    """The lookup columns of every chunk of every field (field → chunk start → columns)."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    chunk = max(settings.parallel_chunk_size, 1)
    jobs: list[tuple[str, int]] = []
    futures: list[Future[tuple[dict[str, list[str | None]], float]]] = []
    # fork where the platform has it: the workers then need no re-import of the caller's script
    # (a script without a __main__ guard would run again under spawn); they never touch DuckDB
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        # biggest fields first, so the last chunks are small and the workers finish together
        for p in sorted(plans, key=lambda p: -len(fetched[p.name][0])):
            values, context = fetched[p.name]
            for start in range(0, len(values), chunk):
                jobs.append((p.name, start))
                futures.append(
                    pool.submit(
                        _timed_chunk,
                        p.standardizer,
                        p.kind.value,
                        lookup_columns(p),
                        values[start : start + chunk],
                        context[start : start + chunk] if context is not None else None,
                        settings,
                        base_dir,
                        reference_date,
                    )
                )
        results: dict[str, dict[int, dict[str, list[str | None]]]] = {}
        cpu: dict[str, float] = {}
        for (name, start), future in zip(jobs, futures, strict=True):
            results.setdefault(name, {})[start], seconds = future.result()
            cpu[name] = cpu.get(name, 0.0) + seconds
    lap("fields (parallel)")
    for name in sorted(cpu, key=lambda n: -cpu[n]):
        lap(f"cpu:{name}", cpu[name])
    return results
