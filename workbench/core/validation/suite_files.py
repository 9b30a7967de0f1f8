"""GX suite files: reading, saving, and loading with a survival check.

This module owns the suite file format, GX 1.x JSON (``name``, ``expectations`` with ``type``,
``kwargs`` and ``meta``, and ``meta``), and the check that makes loading safe: building a suite
from dicts makes GX log and *drop* an invalid entry instead of raising, so :func:`load_suite`
checks every entry first (naming each bad one and the fix) and then that as many expectations
survived as the input had.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.validation.gx_context import import_gx
from workbench.engine.files import read_data_file, write_text_atomic
from workbench.errors import WorkbenchError

ENTRY_KEYS = {"type", "kwargs", "meta", "id", "notes", "description", "rendered_content"}


class SuiteError(WorkbenchError):
    """A suite file is unreadable, or some of its expectations do not survive loading."""


def read_suite_file(path: Path | str) -> dict[str, Any]:
    """Read a suite JSON file.

    Raises:
        SuiteError: the file is missing or not a JSON object with ``name`` and ``expectations``.
    """
    path = Path(path)
    raw = read_data_file(path, SuiteError, what="suite file")
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise SuiteError(f"{path}: a suite file holds an object with `name` and an `expectations` list")
    return raw


def _entry_problem(entry: Any, where: str) -> str | None:
    """What is wrong with one suite entry (None when GX accepts it)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if not isinstance(entry, dict):
        return f"{where}: must be an object with `type`, `kwargs` and optional `meta`"
    if "expectation_type" in entry:
        return f"{where}: `expectation_type` is the GX 0.x key; GX 1.x calls it `type` — rename it"
    where = f"{where} ({entry.get('type')})"
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        return f"{where}: unknown key(s) {unknown}; allowed are type, kwargs, meta, notes"
    try:
        ExpectationConfiguration(**entry).to_domain_obj()
    except Exception as exc:  # GX raises several unrelated types here; we report them all
        msg = " ".join(str(exc).split())
        return f"{where}: {msg[:300]}"
    return None


def check_suite_entries(raw: dict[str, Any], origin: str) -> list[str]:
    """Every problem of a suite's entries, each naming the entry (index and type) and the fix."""
    import_gx()  # registers the expectation classes
    problems = []
    if not raw.get("name") or not isinstance(raw.get("name"), str):
        problems.append(f"{origin}: the suite needs a non-empty `name`")
    for i, entry in enumerate(raw.get("expectations") or []):
        problem = _entry_problem(entry, f"{origin}: expectations[{i}]")
        if problem:
            problems.append(problem)
    return problems


def load_suite(source: Path | str | dict[str, Any], *, origin: str | None = None) -> Any:
    """Load a suite and check that every expectation in it survived.

    Args:
        source: a suite file path or an already parsed suite dict.
        origin: name used in messages (default: the file path or the suite name).

    Returns:
        A ``great_expectations.ExpectationSuite`` with exactly as many expectations as the input.

    Raises:
        SuiteError: naming every entry that is invalid or was dropped by GX.
    """
    raw = read_suite_file(source) if isinstance(source, str | Path) else source
    origin = origin or (str(source) if isinstance(source, str | Path) else str(raw.get("name")))
    problems = check_suite_entries(raw, origin)
    if problems:
        raise SuiteError(
            f"{origin}: {len(problems)} invalid expectation(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    gx = import_gx()
    entries = raw["expectations"]
    suite = gx.ExpectationSuite(
        name=raw["name"],
        expectations=[dict(e) for e in entries],
        meta=dict(raw.get("meta") or {}),
    )
    if len(suite.expectations) != len(entries):
        raise SuiteError(
            f"{origin}: {len(entries)} expectations in the file but only {len(suite.expectations)} survived "
            "loading; GX dropped the others (see the log for the reason) — fix or remove them"
        )
    return suite


def suite_to_dict(suite: Any) -> dict[str, Any]:
    """A suite as the 1.x JSON dict (``name``, ``expectations`` with ``type``/``kwargs``/``meta``, ``meta``)."""
    data: dict[str, Any] = suite.to_json_dict()
    for e in data.get("expectations", []):
        e.pop("id", None)
    data.pop("id", None)
    return data


def save_suite(raw: dict[str, Any], path: Path | str) -> Path:
    """Write a suite dict as pretty JSON (UTF-8, atomic) after checking it loads whole."""
    load_suite(raw, origin=str(path))
    write_text_atomic(Path(path), json.dumps(raw, ensure_ascii=False, indent=2) + "\n")
    return Path(path)
