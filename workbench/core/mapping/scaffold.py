"""Mapping scaffolds: the mapping files of a new project, pre-filled from the target profiles.

:func:`write_mapping_scaffolds` (called by ``workbench init``) writes, for every target profile of
the project, ``field_mapping_<profile>.csv`` with one line per target field: the profile's default
line where the project has the source columns (:mod:`workbench.core.mapping.defaults`), else an
empty placeholder line (source and transform to fill in), ``note`` saying ``REQUIRED`` for required
fields. It also writes ``value_mappings.csv`` listing every distinct legacy code found, one line per
value map that reads the code's field (or, when no target field reads it yet, under a map named
after the field), with an empty ``target_value`` and the target's picklist or description in
``note``. An existing file is never overwritten. The files load as they are: the mapping stage
reports the placeholders and the codes still to map, and the export writes DRAFT files until they
are filled in and signed off.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.mapping.defaults import ProjectColumns, project_columns, resolve_default
from workbench.core.mapping.files import FIELD_MAPPING_COLUMNS, VALUE_MAPPING_COLUMNS
from workbench.core.mapping.transforms import parse_transform
from workbench.core.targets.profiles import Structure, TargetField, TargetProfile, load_project_profiles
from workbench.engine.files import write_bytes_atomic
from workbench.project.paths import ProjectPaths

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig


def write_mapping_scaffolds(
    config: ProjectConfig, out_dir: Path, legacy_values: dict[str, list[str]]
) -> list[Path]:
    """Write the field mapping of each target profile and the value mapping table for a new project.

    Args:
        config: the project config (its ``export.profiles`` and canonical fields).
        out_dir: the folder to write into (normally the project's ``export.mapping_dir``).
        legacy_values: canonical field → the distinct legacy codes found in the sources.

    Returns:
        The files written (an existing file is kept and not listed).
    """
    out_dir = Path(out_dir)
    columns = project_columns(config)
    profiles = load_project_profiles(config)
    written: list[Path] = []
    uses: list[tuple[str, str, TargetField, str]] = []  # (map, source field, target field, profile)
    for name, profile in profiles.items():
        path = out_dir / ProjectPaths(config).field_mapping(name).name
        rows = list(_field_rows(profile, columns, uses, set(legacy_values)))
        if _write_new(path, FIELD_MAPPING_COLUMNS, rows):
            written.append(path)
    value_file = out_dir / (
        ProjectPaths(config).value_mappings[0].name if config.export.value_mappings else "value_mappings.csv"
    )
    if _write_new(value_file, VALUE_MAPPING_COLUMNS, list(_value_rows(legacy_values, uses))):
        written.append(value_file)
    return written


def _field_rows(
    profile: TargetProfile,
    columns: ProjectColumns,
    uses: list[tuple[str, str, TargetField, str]],
    coded: set[str],
) -> Iterable[list[str]]:
    """One line per fillable target field: the default line, else a placeholder.

    A default that reads a value map is written only when legacy codes of its source field are
    known (they go into the value mapping table); otherwise the line stays a placeholder whose note
    suggests it, so the scaffold never names a value map that no file defines.
    """
    for structure, target in _targets(profile):
        qualified = f"{structure.id}.{target.name}" if _ambiguous(profile, target.name) else target.name
        resolved = resolve_default(target, columns)
        sources, transform = resolved if resolved else ((), "")
        maps = [
            s.arg or "" for s in (parse_transform(transform) if transform else ()) if s.name == "value_map"
        ]
        note = _note(target, resolved is not None)
        if maps and not (sources and sources[0] in coded):
            note = (
                _note(target, False)
                + f" | suggested: {'+'.join(sources)} with {transform} (no legacy codes found)"
            )
            sources, transform = (), ""
        uses.extend((m, sources[0], target, profile.name) for m in maps if sources)
        yield [profile.name, qualified, "+".join(sources), transform, note]


def _note(target: TargetField, filled: bool) -> str:
    parts = []
    if target.required:
        parts.append("REQUIRED" + ("" if filled else ": fill in source_field (or constant:<value>)"))
    if target.caption != target.name:
        parts.append(target.caption)
    if target.allowed:
        parts.append("allowed: " + "; ".join(target.allowed))
    if target.description:
        parts.append(target.description)
    if filled:
        parts.append("profile default")
    return " | ".join(parts)


def _value_rows(
    legacy_values: dict[str, list[str]], uses: list[tuple[str, str, TargetField, str]]
) -> Iterable[list[str]]:
    """Every legacy code once per value map that reads its field (or a map named after the field)."""
    seen: set[tuple[str, str]] = set()
    for field in sorted(legacy_values):
        codes = sorted({str(c).strip() for c in legacy_values[field] if str(c).strip()})
        maps: list[tuple[str, TargetField | None, str]] = [(m, t, p) for m, src, t, p in uses if src == field]
        maps = maps or [(field, None, "")]
        for map_name, target, profile in maps:
            note = _picklist_note(target, profile)
            for code in codes:
                if (map_name, code) not in seen:
                    seen.add((map_name, code))
                    yield [map_name, code, "", note, ""]


def _picklist_note(target: TargetField | None, profile: str) -> str:
    if target is None:
        return "no target field reads this field yet: use value_map:<this map> in a field mapping"
    where = f"{profile}.{target.name} ({target.caption})"
    if target.allowed:
        return f"{where}: one of {'; '.join(target.allowed)}"
    return f"{where}: {target.description or 'a code the target defines'}"


def _targets(profile: TargetProfile) -> Iterable[tuple[Structure, TargetField]]:
    for s, f in profile.qualified_fields():
        if not (f.name == profile.key_field and s is not profile.main):
            yield s, f


def _ambiguous(profile: TargetProfile, name: str) -> bool:
    return sum(1 for s in profile.structures if name in s.field_names) > 1


def _write_new(path: Path, header: list[str], rows: list[list[str]]) -> bool:
    """Write a UTF-8 (BOM) CSV unless `path` exists; whether it was written."""
    if path.exists():
        return False
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes_atomic(path, buf.getvalue().encode("utf-8-sig"))
    return True
