"""Fixes typed into an import fix worklist, taken back as project data (``fixes.csv``).

The team fills ``fix_value`` (and ``fix_field`` when another field is at fault) in the worklist of an
import round. :func:`take_worklist_fixes` turns each filled row into lines of the project's fixes
file (:func:`~workbench.core.mapping.approvals.fixes_file`, ``standardize.fixes_path``, default
``fixes.csv`` beside the config) with the columns
``source, source_id, field, value, reason, fixed_by, fixed_at``: ``field`` is the **canonical** field
the target field is mapped from (through the field mapping's ``source_field``; a value typed as the
target's code is translated back through the line's value map, a ``prefix:`` is removed), and
``source``/``source_id`` are the member records of the failed master (the crosswalk), one line each,
so the fix survives survivorship. The standardize stage applies the file on every later run and logs
each applied fix in the change log, so the corrected record is in the next load file.

A fix that cannot be expressed on a canonical field (a constant, a golden-only column such as the
master ID, a code no value mapping leads to) is not written and is returned with the reason, so
nothing typed in is lost in silence.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.mapping import (
    FIXES_COLUMNS,
    WILDCARD,
    MappingLine,
    MappingSet,
    fixes_file,
    load_mapping_set,
)
from workbench.core.mapping.files import read_csv_table
from workbench.core.targets.profiles import ProfileError, TargetProfile, load_project_profiles
from workbench.engine import catalog
from workbench.engine.connection import table_exists
from workbench.engine.files import write_bytes_atomic
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.project.context import RunContext

WORKLIST_COLUMNS_NEEDED = ("row_key", "master_id", "fix_field", "fix_value")
UNTRANSLATED_COLUMNS = ["row_key", "master_id", "fix_field", "fix_value", "why"]


class FixesError(WorkbenchError):
    """A filled-in worklist or the fixes file cannot be read."""


@dataclass
class FixesResult:
    """What :func:`take_worklist_fixes` did.

    Attributes:
        path: the fixes file.
        added: the lines written (one per member record of each fixed master).
        untranslated: filled rows that could not become fixes, with ``why``.
        filled: filled worklist rows read.
    """

    path: Path
    added: pd.DataFrame
    untranslated: pd.DataFrame
    filled: int

    def metrics(self) -> dict[str, int]:
        return {
            "worklist_fixes_filled": self.filled,
            "fix_lines_added": len(self.added),
            "fixes_not_translated": len(self.untranslated),
        }


def read_worklist(path: Path) -> pd.DataFrame:
    """The rows of a filled-in worklist (first sheet), every cell as text, empty cells as ``""``.

    Raises:
        FixesError: the file cannot be read or lacks the worklist's columns.
    """
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="calamine").fillna("")
    except Exception as exc:  # calamine raises its own error types
        raise FixesError(f"{path}: cannot read the worklist: {exc}") from exc
    missing = [c for c in WORKLIST_COLUMNS_NEEDED if c not in frame.columns]
    if missing:
        raise FixesError(f"{path}: not a fix worklist, the columns {missing} are missing")
    return frame.apply(lambda c: c.str.strip())


def take_worklist_fixes(
    ctx: RunContext,
    profile: TargetProfile,
    worklist: Path,
    *,
    fixed_by: str | None = None,
    now: dt.datetime | None = None,
) -> FixesResult:
    """Append the fixes filled into `worklist` to the project's fixes file (see the module docstring).

    Args:
        ctx: the run whose import round the worklist belongs to (its crosswalk names the records).
        profile: the profile of the load files.
        worklist: the filled-in worklist workbook.
        fixed_by: who fixed; default the worklist's ``fixed_by`` cell, else the OS user.
        now: the time recorded in ``fixed_at`` (default now).
    """
    rows = read_worklist(worklist)
    filled = rows[(rows["fix_value"] != "") & ((rows["fix_field"] != "") | (rows.get("field", "") != ""))]
    mapping = load_mapping_set(ctx.config, load_project_profiles(ctx.config))
    canonical = set(ctx.config.field_kinds())
    members = _members(ctx, sorted(set(filled["master_id"]) - {""}))
    when = (now or dt.datetime.now()).replace(microsecond=0).isoformat()
    who_default = fixed_by or _os_user()
    added, untranslated = [], []
    for r in filled.to_dict("records"):
        target = r["fix_field"] or r.get("field", "")
        try:
            field, value = translate_fix(profile, mapping, target, r["fix_value"], canonical)
        except ValueError as exc:
            untranslated.append((r["row_key"], r["master_id"], target, r["fix_value"], str(exc)))
            continue
        records = members.get(r["master_id"], [])
        if not records:
            untranslated.append(
                (r["row_key"], r["master_id"], target, r["fix_value"], "no source records for this master")
            )
            continue
        reason = " — ".join(
            x for x in (r.get("reason_label", ""), r.get("message", ""), r.get("comment", "")) if x
        )
        who = (fixed_by or r.get("fixed_by", "") or who_default).strip()
        added += [(source, source_id, field, value, reason, who, when) for source, source_id in records]
    new = pd.DataFrame(added, columns=FIXES_COLUMNS)
    path = fixes_file(ctx.config)
    if len(new):
        append_fixes(path, new)
    return FixesResult(path, new, pd.DataFrame(untranslated, columns=UNTRANSLATED_COLUMNS), len(filled))


def translate_fix(
    profile: TargetProfile, mapping: MappingSet, target_field: str, value: str, canonical: set[str]
) -> tuple[str, str]:
    """The canonical field and value a fix of `target_field` (a target field of `profile`) stands for.

    Raises:
        ValueError: the fix cannot be written on a canonical field (the message says why and what to do).
    """
    try:
        structure, field = profile.resolve_field(target_field)
    except ProfileError as exc:
        raise ValueError(f"unknown target field: {exc}") from exc
    line = next(
        (
            ln
            for ln in mapping.lines_for(profile.name)
            if (ln.structure, ln.field) == (structure.id, field.name)
        ),
        None,
    )
    if line is None and field.name == profile.key_field:
        line = next((ln for ln in mapping.lines_for(profile.name) if ln.field == field.name), None)
    if line is None:
        raise ValueError(f"{target_field} is not mapped: add a field mapping line instead of a fix")
    if line.steps[0].name == "constant":
        raise ValueError(
            f"{target_field} is the constant {line.steps[0].arg!r} in the field mapping: change the mapping"
        )
    source = next((s for s in line.sources if s in canonical), None)
    if source is None:
        raise ValueError(
            f"{target_field} is mapped from {'+'.join(line.sources)}, which is no canonical field of a source "
            "(a golden or derived column): fix the source field itself"
        )
    return source, _untransform(line, mapping, value)


def _untransform(line: MappingLine, mapping: MappingSet, value: str) -> str:
    """`value` as the canonical field holds it: value maps read backwards, prefixes removed."""
    for step in reversed(line.steps):
        if step.name == "prefix" and step.arg and value.startswith(step.arg):
            value = value[len(step.arg) :]
        elif step.name == "value_map":
            value = _legacy_code(mapping, step.arg or "", value)
    return value


def _legacy_code(mapping: MappingSet, map_name: str, value: str) -> str:
    table = mapping.value_maps.maps.get(map_name, {})
    legacy = sorted(k for k, targets in table.items() if value in targets and k != WILDCARD)
    if len(legacy) == 1:
        return legacy[0]  # typed as the target's code, as the worklist shows it
    if value in table and value != WILDCARD:
        return value  # typed as the legacy code
    if not legacy:
        raise ValueError(
            f"no legacy code maps to {value!r} in value map {map_name!r}: add a value mapping line "
            f"({map_name},<legacy code>,{value}) instead of a fix"
        )
    raise ValueError(
        f"several legacy codes map to {value!r} in value map {map_name!r} ({legacy}): type the legacy code"
    )


def _members(ctx: RunContext, master_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """master → its (source, source_id) records, from the crosswalk, in a stable order."""
    if not master_ids:
        return {}
    con = ctx.connect(read_only=True)
    try:
        if not table_exists(con, catalog.CROSSWALK.name):
            return {}
        rows = con.execute(
            f"select master_id, source, source_id from {catalog.CROSSWALK} where list_contains(?, master_id) "
            "order by master_id, source, source_id",
            [master_ids],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for master, source, source_id in rows:
        out.setdefault(master, []).append((source, source_id))
    return out


def read_fixes(path: Path) -> pd.DataFrame:
    """The fixes file (an empty table when it does not exist)."""
    if not Path(path).exists():
        return pd.DataFrame(columns=FIXES_COLUMNS)
    return read_csv_table(path, FIXES_COLUMNS, required=["source", "source_id", "field", "value"])[
        FIXES_COLUMNS
    ]


def append_fixes(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """Add `new` fix lines to the fixes file (atomically); a newer fix of the same record and field
    replaces the older line. Returns the whole file."""
    old = read_fixes(path)
    keys = ["source", "source_id", "field"]
    both = pd.concat([old, new[FIXES_COLUMNS]], ignore_index=True).drop_duplicates(keys, keep="last")
    write_bytes_atomic(Path(path), both.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
    return both.reset_index(drop=True)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
