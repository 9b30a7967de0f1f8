"""The mapping files: reading and checking the CSV tables business edits, and the mapping version.

A project keeps its mappings as CSV files business can edit in Excel (paths from
:class:`~workbench.project.paths.ProjectPaths`):

* ``field_mapping_<profile>.csv`` — ``target_profile, target_field, source_field, transform, note``:
  target field (``FIELD`` or ``structure.FIELD``) ← canonical field or golden column (several joined
  with ``+``) through a transform chain (steps joined with ``|``, see
  :data:`~workbench.core.mapping.transforms.TRANSFORMS`);
* ``value_mappings.csv`` — ``map_name, legacy_value, target_value, note``: legacy code → target value
  (``*`` as legacy value maps every other non-empty value);
* ``approvals.csv`` — the sign-off (see :mod:`workbench.core.mapping.approvals`).

The mapping version is the SHA-256 of the normalized mapping content (cells trimmed and NFC
normalized, blank and ``#`` comment lines dropped, rows sorted, the free-text ``note`` columns left
out), so re-saving a file in Excel or re-ordering its rows does not change it, but any change to what
is mapped does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.mapping.errors import MappingError
from workbench.core.mapping.transforms import (
    MULTI_SOURCE,
    MappingLine,
    Step,
    ValueMaps,
    parse_transform,
)
from workbench.core.targets.profiles import ProfileError, TargetProfile, did_you_mean
from workbench.project.paths import ProjectPaths

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig

FIELD_MAPPING_COLUMNS = ["target_profile", "target_field", "source_field", "transform", "note"]
VALUE_MAPPING_COLUMNS = ["map_name", "legacy_value", "target_value", "note"]


@dataclass
class MappingSet:
    """Everything mapped for a project: field lines per profile, value maps and the version."""

    lines: dict[str, list[MappingLine]]
    value_maps: ValueMaps
    field_frame: pd.DataFrame
    version: str
    files: list[Path]

    def lines_for(self, profile: str) -> list[MappingLine]:
        """The field mapping lines of `profile` (empty when it has none)."""
        return self.lines.get(profile, [])


def read_csv_table(path: Path, columns: list[str], *, required: list[str] | None = None) -> pd.DataFrame:
    """Read a small CSV table that business edits in Excel (UTF-8, with or without BOM).

    Blank lines and lines whose first cell starts with ``#`` are skipped; cells are trimmed and NFC
    normalized. A ``line`` column holds each row's line number in the file.

    Args:
        path: the CSV file.
        columns: the columns of the table, in order (missing optional ones are added empty).
        required: the columns the header must have; default all of `columns`.

    Raises:
        MappingError: the file is missing, not UTF-8, or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise MappingError(
            [f"{path}: file not found; create it (columns: {', '.join(columns)}) or fix the path"]
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(
            [f"{path}: not UTF-8 ({exc}); in Excel use Save As → CSV UTF-8 (comma delimited)"]
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str | int]] = []
    for record in reader:
        line = reader.line_num
        cells = [unicodedata.normalize("NFC", c).strip() for c in record]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in (required or columns) if c not in header]
            if missing:
                raise MappingError(
                    [
                        f"{path}, line {line}: missing column(s) {missing}; the header must be {', '.join(columns)}"
                    ]
                )
            continue
        cells = (cells + [""] * len(header))[: len(header)]
        rows.append([*cells, line])
    frame = pd.DataFrame(rows, columns=[*(header or columns), "line"])
    for c in columns:
        if c not in frame.columns:
            frame[c] = ""
    return frame[[*columns, "line"]]


def load_mapping_set(config: ProjectConfig, profiles: dict[str, TargetProfile]) -> MappingSet:
    """Read the project's mapping files for `profiles` and check them against the profiles.

    Args:
        config: the project config (file locations from :class:`~workbench.project.paths.ProjectPaths`).
        profiles: the target profiles by name.

    Raises:
        MappingError: listing every problem (file, line, column, value, fix).
    """
    paths = ProjectPaths(config)
    field_files = {name: paths.field_mapping(name) for name in profiles}
    return load_mapping_files(field_files, paths.value_mappings, profiles)


def load_mapping_files(
    field_files: dict[str, Path], value_files: list[Path], profiles: dict[str, TargetProfile]
) -> MappingSet:
    """Read field mapping files (one per profile) and value mapping files (see :func:`load_mapping_set`).

    Raises:
        MappingError: listing every problem of every file.
    """
    problems: list[str] = []
    values = _read_value_files(value_files, problems)
    value_maps = ValueMaps.from_frame(values)
    lines: dict[str, list[MappingLine]] = {}
    field_frames = []
    for name, path in field_files.items():
        try:
            frame = read_csv_table(path, FIELD_MAPPING_COLUMNS)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        frame["file"] = str(path)
        field_frames.append(frame)
        lines[name] = _parse_lines(frame, path, profiles[name], value_maps, problems)
    if problems:
        raise MappingError(problems)
    field_frame = (
        pd.concat(field_frames, ignore_index=True)
        if field_frames
        else pd.DataFrame(columns=[*FIELD_MAPPING_COLUMNS, "line", "file"])
    )
    return MappingSet(
        lines=lines,
        value_maps=value_maps,
        field_frame=field_frame,
        version=compute_mapping_version(field_frame, values),
        files=[*field_files.values(), *value_files],
    )


def _read_value_files(value_files: list[Path], problems: list[str]) -> pd.DataFrame:
    """The rows of every value mapping file (with ``line`` and ``file``); problems are appended."""
    frames = []
    for path in value_files:
        try:
            frame = read_csv_table(path, VALUE_MAPPING_COLUMNS)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        for row in frame.itertuples(index=False):
            if not row.map_name:
                problems.append(f"{path}, line {row.line}: map_name is empty; name the map, e.g. u8_region")
            if row.target_value == "" and row.map_name:
                problems.append(
                    f"{path}, line {row.line}: no target_value for {row.map_name!r} / {row.legacy_value!r}; "
                    "fill it in or delete the line"
                )
        frame["file"] = str(path)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*VALUE_MAPPING_COLUMNS, "line", "file"])
    return pd.concat(frames, ignore_index=True)


def _parse_lines(
    frame: pd.DataFrame, path: Path, profile: TargetProfile, value_maps: ValueMaps, problems: list[str]
) -> list[MappingLine]:
    """The valid lines of one field mapping file; the problems of the others are appended."""
    out: list[MappingLine] = []
    seen: dict[tuple[str, str], int] = {}
    for row in frame.itertuples(index=False):
        where = f"{path}, line {row.line}"
        if row.target_profile != profile.name:
            problems.append(
                f"{where}: target_profile {row.target_profile!r} does not belong in this file; "
                f"write {profile.name!r} or move the line to the field mapping of {row.target_profile!r}"
            )
            continue
        try:
            structure, tfield = profile.resolve_field(row.target_field)
        except ProfileError as exc:
            problems.append(f"{where}: target_field: {exc}")
            continue
        try:
            steps = parse_transform(row.transform)
        except ValueError as exc:
            problems.append(f"{where}: transform {row.transform!r}: {exc}")
            continue
        sources = tuple(s.strip() for s in row.source_field.split("+") if s.strip())
        problems.extend(_source_problems(where, row.source_field, sources, steps, value_maps))
        key = (structure.id, tfield.name)
        if key in seen:
            problems.append(
                f"{where}: target field {structure.id}.{tfield.name} is already mapped on line {seen[key]}; "
                "map each target field once"
            )
            continue
        seen[key] = row.line
        out.append(
            MappingLine(
                profile=profile.name,
                target=row.target_field,
                structure=structure.id,
                field=tfield.name,
                sources=sources,
                steps=steps,
                transform=row.transform,
                note=row.note,
                file=str(path),
                line=int(row.line),
            )
        )
    return out


def _source_problems(
    where: str, source_field: str, sources: tuple[str, ...], steps: tuple[Step, ...], value_maps: ValueMaps
) -> list[str]:
    """Sources that do not fit the steps (constant with a source, several without concat …) and
    value maps that no value mapping file defines."""
    problems = []
    first = steps[0].name
    if first == "constant" and sources:
        problems.append(f"{where}: transform constant takes no source_field (got {source_field!r})")
    if first != "constant" and not sources:
        problems.append(
            f"{where}: source_field is empty; name a canonical field or golden column, or use constant:<v>"
        )
    if len(sources) > 1 and first not in MULTI_SOURCE:
        problems.append(
            f"{where}: several source fields {list(sources)} need concat:<sep> or first_nonempty as first step"
        )
    for s in steps:
        if s.name == "value_map" and s.arg not in value_maps.maps:
            problems.append(
                f"{where}: value map {s.arg!r} is not in the value mapping files"
                f"{did_you_mean(s.arg or '', sorted(value_maps.maps))}; add its lines to value_mappings.csv"
            )
    return problems


def compute_mapping_version(field_frame: pd.DataFrame, value_frame: pd.DataFrame) -> str:
    """SHA-256 (hex) of the normalized mapping content; notes and row order do not count.

    Args:
        field_frame: the rows of the field mapping files.
        value_frame: the rows of the value mapping files.
    """
    fields = sorted(
        [
            list(r)
            for r in field_frame[["target_profile", "target_field", "source_field", "transform"]].itertuples(
                index=False
            )
        ]
    )
    values = sorted(
        [list(r) for r in value_frame[["map_name", "legacy_value", "target_value"]].itertuples(index=False)]
    )
    canonical = json.dumps(
        {"field_mapping": fields, "value_mappings": values}, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
