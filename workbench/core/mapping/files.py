"""The mapping files: reading and checking the CSV tables business edits, and the mapping version.

A project keeps its mappings as CSV files business can edit in Excel (paths from
:class:`~workbench.project.paths.ProjectPaths`):

* ``field_mapping_<profile>.csv`` — ``target_profile, target_field, source_field, transform, note``:
  target field (``FIELD`` or ``structure.FIELD``) ← canonical field or golden column (several joined
  with ``+``) through a transform chain (steps joined with ``|``, see
  :data:`~workbench.core.mapping.transforms.TRANSFORMS`);
* ``value_mappings.csv`` — ``map_name, legacy_value, target_value, note[, target_label]``: legacy
  code → target value (``*`` as legacy value maps every other non-empty value); ``target_label`` is
  the target code's name where the target loads a code list first (U8 客户分类名称);
* ``approvals.csv`` — the sign-off (see :mod:`workbench.core.mapping.approvals`).

What is not there yet is not an error (a project starts without mappings): a profile without a
field mapping file is mapped by the profile's own defaults (:mod:`workbench.core.mapping.defaults`),
a missing value mapping file counts as empty, a field mapping line without source and transform is
a placeholder for an unmapped target field, and a value mapping line without target value is a
legacy code still to map. :class:`MappingSet` lists all of them, so the mapping stage can say what
is missing and the export writes DRAFT files until it is complete and signed off.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.core.mapping.defaults import ProjectColumns, default_lines, project_columns
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
VALUE_MAPPING_COLUMNS = ["map_name", "legacy_value", "target_value", "note", "target_label"]
VALUE_MAPPING_REQUIRED = ["map_name", "legacy_value", "target_value"]


@dataclass
class MappingSet:
    """Everything mapped for a project: field lines per profile, value maps and the version.

    Attributes:
        lines: the field mapping lines per profile.
        value_maps: the value maps (rows with a target value).
        field_frame: the rows of the field mapping files (and the default lines of defaulted profiles).
        version: :func:`compute_mapping_version` of all of it.
        files: the mapping files that exist and were read.
        missing: mapping files that do not exist (yet).
        defaulted: profiles mapped by the profile's own defaults (no field mapping file).
        placeholders: field mapping lines without source and transform (unmapped target fields).
        pending_values: value mapping rows without a target value (legacy codes still to map).
    """

    lines: dict[str, list[MappingLine]]
    value_maps: ValueMaps
    field_frame: pd.DataFrame
    version: str
    files: list[Path]
    missing: list[Path] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    placeholders: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FIELD_MAPPING_COLUMNS))
    pending_values: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VALUE_MAPPING_COLUMNS))

    def lines_for(self, profile: str) -> list[MappingLine]:
        """The field mapping lines of `profile` (empty when it has none)."""
        return self.lines.get(profile, [])

    @property
    def complete(self) -> bool:
        """Every mapping file exists, no profile runs on defaults, no legacy code waits for a target."""
        return not self.missing and not self.defaulted and self.pending_values.empty

    def gaps(self) -> list[str]:
        """What is missing, in words (empty when :attr:`complete`)."""
        out = [f"mapping file not found: {p}" for p in self.missing]
        out += [
            f"profile {n!r} is mapped by the profile's own defaults (no field mapping file)"
            for n in self.defaulted
        ]
        if len(self.pending_values):
            out.append(
                f"{len(self.pending_values)} legacy code(s) in the value mappings have no target value yet"
            )
        return out


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
    return load_mapping_files(field_files, paths.value_mappings, profiles, columns=project_columns(config))


def load_mapping_files(
    field_files: dict[str, Path],
    value_files: list[Path],
    profiles: dict[str, TargetProfile],
    *,
    columns: ProjectColumns | None = None,
) -> MappingSet:
    """Read field mapping files (one per profile) and value mapping files (see :func:`load_mapping_set`).

    Args:
        field_files: the field mapping file of each profile.
        value_files: the value mapping files.
        profiles: the target profiles by name.
        columns: the project's golden columns; given, a missing file is not an error (a missing field
            mapping file maps its profile by the profile's defaults); None: every file must exist.

    Raises:
        MappingError: listing every problem of every file.
    """
    problems: list[str] = []
    tolerant = columns is not None
    missing = [p for p in [*field_files.values(), *value_files] if tolerant and not Path(p).is_file()]
    values = _read_value_files([p for p in value_files if p not in missing], problems)
    pending = values[values["target_value"] == ""]
    values = values[values["target_value"] != ""].reset_index(drop=True)
    value_maps = ValueMaps.from_frame(values)
    value_missing = any(p in missing for p in value_files)
    known_maps = None if value_missing else set(value_maps.maps) | set(pending["map_name"])
    lines: dict[str, list[MappingLine]] = {}
    field_frames, placeholders, defaulted = [], [], []
    for name, path in field_files.items():
        if path in missing and columns is not None:
            try:
                lines[name] = default_lines(
                    profiles[name], columns, file=f"{profiles[name].name} (profile defaults)"
                )
            except MappingError as exc:
                problems.extend(exc.problems)
                continue
            defaulted.append(name)
            field_frames.append(_lines_frame(lines[name]))
            continue
        try:
            frame = read_csv_table(path, FIELD_MAPPING_COLUMNS)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        frame["file"] = str(path)
        empty = (frame["source_field"] == "") & (frame["transform"] == "")
        placeholders.append(frame[empty])
        frame = frame[~empty].reset_index(drop=True)
        field_frames.append(frame)
        lines[name] = _parse_lines(frame, path, profiles[name], known_maps, problems)
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
        files=[p for p in [*field_files.values(), *value_files] if p not in missing],
        missing=missing,
        defaulted=defaulted,
        placeholders=pd.concat(placeholders, ignore_index=True)
        if placeholders
        else pd.DataFrame(columns=[*FIELD_MAPPING_COLUMNS, "line", "file"]),
        pending_values=pending.reset_index(drop=True),
    )


def _lines_frame(lines: list[MappingLine]) -> pd.DataFrame:
    """Mapping lines as the rows of a field mapping file (for the version and the overview)."""
    return pd.DataFrame(
        [
            (ln.profile, ln.target, "+".join(ln.sources), ln.transform, ln.note, ln.line, ln.file)
            for ln in lines
        ],
        columns=[*FIELD_MAPPING_COLUMNS, "line", "file"],
    )


def _read_value_files(value_files: list[Path], problems: list[str]) -> pd.DataFrame:
    """The rows of every value mapping file (with ``line`` and ``file``); problems are appended.

    A row without ``target_value`` is kept (a legacy code still to map, e.g. from the scaffold).
    """
    frames = []
    for path in value_files:
        try:
            frame = read_csv_table(path, VALUE_MAPPING_COLUMNS, required=VALUE_MAPPING_REQUIRED)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        for row in frame.itertuples(index=False):
            if not row.map_name:
                problems.append(f"{path}, line {row.line}: map_name is empty; name the map, e.g. u8_region")
        frame["file"] = str(path)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*VALUE_MAPPING_COLUMNS, "line", "file"])
    return pd.concat(frames, ignore_index=True)


def _parse_lines(
    frame: pd.DataFrame, path: Path, profile: TargetProfile, known_maps: set[str] | None, problems: list[str]
) -> list[MappingLine]:
    """The valid lines of one field mapping file; the problems of the others are appended.

    `known_maps`: the value map names the value mapping files define (None: a value mapping file is
    missing, so references are not checked; their values come out unmapped and coverage lists them).
    """
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
        problems.extend(_source_problems(where, row.source_field, sources, steps, known_maps))
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
    where: str,
    source_field: str,
    sources: tuple[str, ...],
    steps: tuple[Step, ...],
    known_maps: set[str] | None,
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
        if known_maps is not None and s.name == "value_map" and s.arg not in known_maps:
            problems.append(
                f"{where}: value map {s.arg!r} is not in the value mapping files"
                f"{did_you_mean(s.arg or '', sorted(known_maps))}; add its lines to value_mappings.csv"
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
    label = value_frame["target_label"] if "target_label" in value_frame.columns else ""
    values = sorted(
        [
            [*r[:3], r[3]] if r[3] else list(r[:3])
            for r in value_frame[["map_name", "legacy_value", "target_value"]]
            .assign(target_label=label)
            .fillna("")
            .itertuples(index=False)
        ]
    )
    canonical = json.dumps(
        {"field_mapping": fields, "value_mappings": values}, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
