"""Field and value mapping to a target profile, with coverage report, review workbook and sign-off.

This module owns the mapping tables a project keeps as CSV files business can edit in Excel:

* ``field_mapping_<profile>.csv`` — ``target_profile, target_field, source_field, transform, note``:
  target field (``FIELD`` or ``structure.FIELD``) ← canonical field or golden column (several joined
  with ``+``) through a transform chain (steps joined with ``|``, see :data:`TRANSFORMS`);
* ``value_mappings.csv`` — ``map_name, legacy_value, target_value, note``: legacy code → target value
  (``*`` as legacy value maps every other non-empty value);
* ``approvals.csv`` — ``mapping_version, approved_by, role, approved_at, comment``: sign-off.

The mapping version is the SHA-256 of the normalized mapping content (cells trimmed and NFC
normalized, blank and ``#`` comment lines dropped, rows sorted, the free-text ``note`` columns left
out), so re-saving a file in Excel or re-ordering its rows does not change it, but any change to what
is mapped does. It also owns applying a mapping to rows (:func:`map_rows`) and the coverage report.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.core.targets.profiles import ProfileError, TargetProfile
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

FIELD_MAPPING_COLUMNS = ["target_profile", "target_field", "source_field", "transform", "note"]
VALUE_MAPPING_COLUMNS = ["map_name", "legacy_value", "target_value", "note"]
APPROVAL_COLUMNS = ["mapping_version", "approved_by", "role", "approved_at", "comment"]
WILDCARD = "*"
# columns of golden_customers that are not canonical fields of std_customers
GOLDEN_ONLY_COLUMNS = ("master_id", "parent_master_id", "member_count", "sources", "match_type")

TRANSFORMS: dict[str, str] = {
    "copy": "the value as it is (the default when transform is empty)",
    "upper": "upper case",
    "lower": "lower case",
    "truncate:<n>": "cut to n characters (a business decision: the rest is lost)",
    "slice:<a>:<b>": "characters a..b-1 (e.g. slice:40:80 for the second 40-character name line)",
    "value_map:<map>": "legacy value → target value from value_mappings.csv; an unmapped value rejects the row",
    "constant:<v>": "always v (no source field)",
    "default:<v>": "v when the value is empty",
    "date:<fmt>": "a date written with strftime format fmt, e.g. date:%Y%m%d",
    "number:<d>": "a number with d decimals",
    "bool:<true>/<false>": "a boolean written as the two given texts, e.g. bool:True/False or bool:X/",
    "concat:<sep>": "several source fields (a+b+c) joined with sep, empty ones skipped; \\s = space",
    "first_nonempty": "the first non-empty of several source fields (a+b)",
    "phone:<e164|national|international>": "phone number format (phonenumbers, project region)",
    "when:<column>=<value>": "keep the value only when the record's column equals value (!= negates)",
    "prefix:<p>": "put p in front of a non-empty value",
    "strip_prefix:<p>": "remove p from the start",
}
_MULTI_SOURCE = ("concat", "first_nonempty")


class MappingError(WorkbenchError):
    """A mapping file is missing or invalid.

    Attributes:
        problems: one line per problem, naming the file, line, column, bad value and the fix.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the mapping files:\n{lines}")


class MappingNotApprovedError(WorkbenchError):
    """The mapping version in use has not been signed off (and draft mode is off)."""


class MappingCoverageError(WorkbenchError):
    """The coverage report has blocking issues (unmapped values, bad picklist values, …)."""


# --------------------------------------------------------------------------------------------
# mapping lines and transforms


@dataclass(frozen=True)
class Step:
    """One transform step: a name and its argument text."""

    name: str
    arg: str | None = None


@dataclass(frozen=True)
class MappingLine:
    """One row of a field mapping file, parsed."""

    profile: str
    target: str
    structure: str
    field: str
    sources: tuple[str, ...]
    steps: tuple[Step, ...]
    transform: str
    note: str
    file: str
    line: int

    @property
    def value_maps(self) -> list[str]:
        return [s.arg or "" for s in self.steps if s.name == "value_map"]

    @property
    def where(self) -> str:
        return f"{self.file}, line {self.line}"


def parse_transform(text: str) -> tuple[Step, ...]:
    """Parse a transform chain such as ``value_map:region|truncate:3``.

    Raises:
        ValueError: naming the unknown step or bad argument.
    """
    text = (text or "").strip()
    if not text:
        return (Step("copy"),)
    steps = []
    known = {k.split(":")[0] for k in TRANSFORMS}
    for part in text.split("|"):
        part = part.strip()
        name, _, arg = part.partition(":")
        name = name.strip()
        if name not in known:
            close = _close(name, sorted(known))
            raise ValueError(f"unknown transform {name!r}{close}; known: {', '.join(sorted(known))}")
        has_arg = ":" in part
        needs = {k.split(":")[0]: ":" in k for k in TRANSFORMS}
        if needs[name] and not has_arg and name != "concat":
            raise ValueError(f"transform {name!r} needs an argument, e.g. {_example(name)}")
        if name in ("truncate", "number") and not arg.strip().isdigit():
            raise ValueError(f"{name}:{arg} needs a whole number, e.g. {_example(name)}")
        if name == "slice" and not re.fullmatch(r"\d*:\d*", arg.strip()):
            raise ValueError(f"slice:{arg} needs start:end, e.g. slice:40:80")
        if name == "bool" and "/" not in arg:
            raise ValueError(f"bool:{arg} needs true/false texts, e.g. bool:True/False")
        if name == "phone" and arg.strip() not in ("e164", "national", "international"):
            raise ValueError(f"phone:{arg}: use phone:e164, phone:national or phone:international")
        if name == "when" and "=" not in arg:
            raise ValueError(f"when:{arg} needs column=value, e.g. when:customer_type=B2B")
        steps.append(Step(name, arg if has_arg else None))
    return tuple(steps)


def _example(name: str) -> str:
    return next(k for k in TRANSFORMS if k.split(":")[0] == name)


@dataclass
class ValueMaps:
    """The value mapping tables: map name → legacy value → target values (several = conflict)."""

    frame: pd.DataFrame
    maps: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ValueMaps:
        maps: dict[str, dict[str, list[str]]] = {}
        for name, legacy, target in frame[["map_name", "legacy_value", "target_value"]].itertuples(
            index=False
        ):
            targets = maps.setdefault(name, {}).setdefault(legacy, [])
            if target not in targets:
                targets.append(target)
        return cls(frame=frame, maps=maps)

    def conflicts(self) -> pd.DataFrame:
        rows = [
            (m, legacy, " | ".join(targets), len(targets))
            for m, values in sorted(self.maps.items())
            for legacy, targets in sorted(values.items())
            if len(targets) > 1
        ]
        return pd.DataFrame(rows, columns=["map_name", "legacy_value", "target_values", "targets"])


@dataclass
class MappingSet:
    """Everything mapped for a project: field lines per profile, value maps and the version."""

    lines: dict[str, list[MappingLine]]
    value_maps: ValueMaps
    field_frame: pd.DataFrame
    version: str
    files: list[Path]

    def lines_for(self, profile: str) -> list[MappingLine]:
        return self.lines.get(profile, [])


# --------------------------------------------------------------------------------------------
# reading mapping files


def read_csv_table(path: Path, columns: list[str], *, required: list[str] | None = None) -> pd.DataFrame:
    """Read a small CSV table that business edits in Excel (UTF-8, with or without BOM).

    Blank lines and lines whose first cell starts with ``#`` are skipped; cells are trimmed and NFC
    normalized. A ``line`` column holds each row's line number in the file.

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
    rows: list[list[str]] = []
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


def field_mapping_path(config, profile: str) -> Path:
    """Where the field mapping of `profile` lives: ``export.field_mappings[profile]`` if set, else
    ``<mapping_dir>/field_mapping_<profile>.csv`` (relative paths are under ``mapping_dir``)."""
    base = config.resolve(config.export.mapping_dir)
    custom = config.export.field_mappings.get(profile)
    if custom is None:
        return base / f"field_mapping_{profile}.csv"
    return custom if Path(custom).is_absolute() else base / custom


def value_mapping_paths(config) -> list[Path]:
    base = config.resolve(config.export.mapping_dir)
    return [p if Path(p).is_absolute() else base / p for p in config.export.value_mappings]


def approvals_path(config) -> Path:
    p = Path(config.export.approvals_path)
    return p if p.is_absolute() else config.resolve(config.export.mapping_dir) / p


def load_mapping_set(config, profiles: dict[str, TargetProfile]) -> MappingSet:
    """Read the project's mapping files for `profiles` and check them against the profiles.

    Raises:
        MappingError: listing every problem (file, line, column, value, fix).
    """
    field_files = {name: field_mapping_path(config, name) for name in profiles}
    return load_mapping_files(field_files, value_mapping_paths(config), profiles)


def load_mapping_files(
    field_files: dict[str, Path], value_files: list[Path], profiles: dict[str, TargetProfile]
) -> MappingSet:
    """Read field mapping files (one per profile) and value mapping files (see :func:`load_mapping_set`)."""
    problems: list[str] = []
    value_frames = []
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
        value_frames.append(frame)
    values = (
        pd.concat(value_frames, ignore_index=True)
        if value_frames
        else pd.DataFrame(columns=[*VALUE_MAPPING_COLUMNS, "line", "file"])
    )
    value_maps = ValueMaps.from_frame(values)
    lines: dict[str, list[MappingLine]] = {}
    field_frames = []
    for name, path in field_files.items():
        profile = profiles[name]
        try:
            frame = read_csv_table(path, FIELD_MAPPING_COLUMNS)
        except MappingError as exc:
            problems.extend(exc.problems)
            continue
        frame["file"] = str(path)
        field_frames.append(frame)
        parsed, found = _parse_lines(frame, path, profile, value_maps)
        lines[name] = parsed
        problems.extend(found)
    if problems:
        raise MappingError(problems)
    field_frame = (
        pd.concat(field_frames, ignore_index=True)
        if field_frames
        else pd.DataFrame(columns=[*FIELD_MAPPING_COLUMNS, "line", "file"])
    )
    version = compute_mapping_version(field_frame, values)
    return MappingSet(
        lines=lines,
        value_maps=value_maps,
        field_frame=field_frame,
        version=version,
        files=[*field_files.values(), *value_files],
    )


def _parse_lines(
    frame: pd.DataFrame, path: Path, profile: TargetProfile, value_maps: ValueMaps
) -> tuple[list[MappingLine], list[str]]:
    problems: list[str] = []
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
        first = steps[0].name
        if first == "constant" and sources:
            problems.append(f"{where}: transform constant takes no source_field (got {row.source_field!r})")
        if first != "constant" and not sources:
            problems.append(
                f"{where}: source_field is empty; name a canonical field or golden column, or use constant:<v>"
            )
        if len(sources) > 1 and first not in _MULTI_SOURCE:
            problems.append(
                f"{where}: several source fields {list(sources)} need concat:<sep> or first_nonempty as first step"
            )
        for s in steps:
            if s.name == "value_map" and s.arg not in value_maps.maps:
                problems.append(
                    f"{where}: value map {s.arg!r} is not in the value mapping files"
                    f"{_close(s.arg or '', sorted(value_maps.maps))}; add its lines to value_mappings.csv"
                )
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
    return out, problems


def compute_mapping_version(field_frame: pd.DataFrame, value_frame: pd.DataFrame) -> str:
    """SHA-256 (hex) of the normalized mapping content; notes and row order do not count."""
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


# --------------------------------------------------------------------------------------------
# applying a mapping


def to_text(values: pd.Series) -> pd.Series:
    """Values as text the way mappings see them: None for missing, ISO dates, 1 not 1.0, true/false."""
    if pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: None if pd.isna(v) else ("true" if v else "false")).astype(object)
    if pd.api.types.is_numeric_dtype(values):
        return values.map(_num_text).astype(object)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").where(values.notna(), None).astype(object)
    return values.map(_any_text).astype(object)


def _num_text(v) -> str | None:
    if v is None or pd.isna(v):
        return None
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def _any_text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _num_text(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()[:10]
    text = str(v)
    return text if text.strip() else None


@dataclass
class Applied:
    """Result of one mapping line on a frame: the values and, per row, an issue (or None)."""

    values: pd.Series
    issues: pd.Series


def apply_line(
    line: MappingLine, frame: pd.DataFrame, value_maps: ValueMaps, *, region: str = "CN"
) -> Applied:
    """Apply one mapping line to `frame` (which must hold the line's source columns and any
    ``when:`` columns). Returns text values (None = empty) and a per-row issue text."""
    n = len(frame)
    issues = pd.Series([None] * n, index=frame.index, dtype=object)
    if line.steps[0].name == "constant":
        values = pd.Series([line.steps[0].arg or ""] * n, index=frame.index, dtype=object)
        steps = line.steps[1:]
    elif line.steps[0].name in _MULTI_SOURCE:
        cols = [to_text(frame[s]) for s in line.sources]
        if line.steps[0].name == "concat":
            sep = (line.steps[0].arg or "").replace("\\s", " ")
            joined = (
                pd.concat(cols, axis=1).apply(
                    lambda r: sep.join(x for x in r if x is not None) or None, axis=1
                )
                if n
                else pd.Series([], dtype=object)
            )
            values = joined.astype(object)
        else:
            values = cols[0].copy()
            for c in cols[1:]:
                values = values.where(values.notna(), c)
        steps = line.steps[1:]
    else:
        values = to_text(frame[line.sources[0]])
        steps = line.steps
    for step in steps:
        values, problem = _apply_step(step, values, frame, value_maps, line, region)
        if problem is not None:
            issues = issues.where(issues.notna() | problem.isna(), problem)
    values = values.map(lambda v: v if v is None or str(v) != "" else None).astype(object)
    return Applied(values=values, issues=issues)


def _apply_step(step: Step, values: pd.Series, frame: pd.DataFrame, value_maps: ValueMaps, line, region):
    name, arg = step.name, step.arg or ""
    none = None
    if name == "copy":
        return values, none
    if name == "upper":
        return values.map(lambda v: None if v is None else v.upper()), none
    if name == "lower":
        return values.map(lambda v: None if v is None else v.lower()), none
    if name == "truncate":
        k = int(arg)
        return values.map(lambda v: None if v is None else v[:k]), none
    if name == "slice":
        a, b = (int(x) if x else None for x in arg.split(":"))
        return values.map(lambda v: None if v is None else (v[a:b] or None)), none
    if name == "default":
        return values.where(values.notna(), arg), none
    if name == "constant":
        return pd.Series([arg] * len(values), index=values.index, dtype=object), none
    if name == "prefix":
        return values.map(lambda v: None if v is None else arg + v), none
    if name == "strip_prefix":
        return values.map(lambda v: None if v is None else v.removeprefix(arg)), none
    if name == "bool":
        yes, _, no = arg.partition("/")
        truth = {
            "true": yes,
            "1": yes,
            "y": yes,
            "yes": yes,
            "是": yes,
            "false": no,
            "0": no,
            "n": no,
            "no": no,
            "否": no,
        }
        out = values.map(lambda v: None if v is None else truth.get(v.strip().lower(), "\x00"))
        bad = out == "\x00"
        problem = ("not a yes/no value: " + values.astype(str)).where(bad, None)
        return out.where(~bad, None), problem
    if name == "value_map":
        table = value_maps.maps.get(arg, {})
        other = table.get(WILDCARD)

        def look(v):
            if v is None or (not isinstance(v, str) and pd.isna(v)):  # missing stays missing, never 'nan'
                return None, None
            key = v.strip()
            targets = table.get(key) or other
            if not targets:
                return None, f"unmapped value {key!r} in value map {arg!r} (source {'+'.join(line.sources)})"
            if len(targets) > 1:
                return None, f"conflicting mappings for {key!r} in value map {arg!r}: {targets}"
            return targets[0], None

        looked = values.map(look)
        return looked.map(lambda t: t[0]), looked.map(lambda t: t[1])
    if name == "date":
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        out = parsed.dt.strftime(arg).where(parsed.notna(), None).astype(object)
        bad = values.notna() & parsed.isna()
        return out, ("not a date: " + values.astype(str)).where(bad, None)
    if name == "number":
        num = pd.to_numeric(values, errors="coerce")
        out = num.map(lambda v: None if pd.isna(v) else f"{v:.{int(arg)}f}").astype(object)
        bad = values.notna() & num.isna()
        return out, ("not a number: " + values.astype(str)).where(bad, None)
    if name == "phone":
        return values.map(_phone_formatter(arg, region)), none
    if name == "when":
        column, op, wanted = re.split(r"(!=|=)", arg, maxsplit=1)
        actual = to_text(frame[column.strip()]).fillna("")
        keep = actual == wanted.strip()
        if op == "!=":
            keep = ~keep
        return values.where(keep, None), none
    raise AssertionError(f"unhandled transform {name}")  # parse_transform guards the names


def _phone_formatter(fmt: str, region: str) -> Callable[[str | None], str | None]:
    import phonenumbers

    kind = {
        "e164": phonenumbers.PhoneNumberFormat.E164,
        "national": phonenumbers.PhoneNumberFormat.NATIONAL,
        "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    }[fmt]

    def fmt_one(v: str | None) -> str | None:
        if v is None:
            return None
        first = re.split(r"[;；/]", v)[0].strip()
        try:
            num = phonenumbers.parse(first, region)
        except phonenumbers.NumberParseException:
            return first
        text = phonenumbers.format_number(num, kind)
        return re.sub(r"[\s()-]", "", text) if fmt == "national" else text

    return fmt_one


def line_columns(line: MappingLine) -> list[str]:
    """Every column of the input that a line reads (its sources and ``when:`` columns)."""
    cols = list(line.sources)
    for s in line.steps:
        if s.name == "when":
            cols.append(re.split(r"!=|=", s.arg or "", maxsplit=1)[0].strip())
    return list(dict.fromkeys(cols))


@dataclass
class MappedRows:
    """Rows of one profile after mapping: one frame per structure plus the row issues."""

    frames: dict[str, pd.DataFrame]
    issues: pd.DataFrame  # master_id, structure, field, reason


def map_rows(
    records: pd.DataFrame,
    profile: TargetProfile,
    mapping: MappingSet,
    *,
    key_column: str = "master_id",
    region: str = "CN",
) -> MappedRows:
    """Map golden records to the profile's structures (before any profile check).

    Each structure gets one row per record (``key_column`` first, then the profile's fields in
    order, values as text or None); the key field is copied into every structure; a structure with
    ``explode`` gets one row per ``;``-separated value. Mapping problems (unmapped values, bad dates,
    conflicting mappings) are returned per record and field, never silently dropped.

    Raises:
        MappingError: a line reads a column that `records` does not have.
    """
    lines = mapping.lines_for(profile.name)
    missing = sorted({c for ln in lines for c in line_columns(ln) if c not in records.columns})
    if missing:
        where = {c: next(ln.where for ln in lines if c in line_columns(ln)) for c in missing}
        raise MappingError(
            [
                f"{where[c]}: source_field {c!r} is not a column of the records; check the spelling"
                for c in missing
            ]
        )
    keys = records[key_column].astype(str).reset_index(drop=True)
    recs = records.reset_index(drop=True)
    issue_rows: list[pd.DataFrame] = []
    values: dict[tuple[str, str], pd.Series] = {}
    for ln in lines:
        cols = line_columns(ln)
        # map each distinct input once, then join back
        if cols:
            distinct = recs[cols].drop_duplicates().reset_index(drop=True)
            applied = apply_line(ln, distinct, mapping.value_maps, region=region)
            distinct["__v"] = applied.values
            distinct["__i"] = applied.issues
            merged = recs[cols].merge(distinct, on=cols, how="left", sort=False)
            vals, iss = merged["__v"], merged["__i"]
        else:
            applied = apply_line(ln, recs.iloc[:, :0], mapping.value_maps, region=region)
            vals, iss = applied.values, applied.issues
        values[(ln.structure, ln.field)] = vals.reset_index(drop=True)
        hit = iss.notna().to_numpy()
        if hit.any():
            issue_rows.append(
                pd.DataFrame(
                    {
                        "master_id": keys[hit],
                        "structure": ln.structure,
                        "field": ln.field,
                        "reason": iss[hit].values,
                    }
                )
            )
    key_values = values.get((profile.main.id, profile.key_field), pd.Series([None] * len(recs), dtype=object))
    frames: dict[str, pd.DataFrame] = {}
    for s in profile.structures:
        data = {key_column: keys}
        for f in s.fields:
            if f.name == profile.key_field:
                data[f.name] = key_values
            else:
                data[f.name] = values.get((s.id, f.name), pd.Series([None] * len(recs), dtype=object))
        frame = pd.DataFrame(data)
        if s.explode:
            frame[s.explode] = frame[s.explode].map(
                lambda v: [p.strip() for p in v.split(";") if p.strip()] if isinstance(v, str) else [None]
            )
            frame = frame.explode(s.explode, ignore_index=True)
        if s.omit_when_empty:
            frame = frame[frame[s.omit_when_empty].notna().any(axis=1)].reset_index(drop=True)
        frames[s.id] = frame
    issues = (
        pd.concat(issue_rows, ignore_index=True)
        if issue_rows
        else pd.DataFrame(columns=["master_id", "structure", "field", "reason"])
    )
    return MappedRows(frames=frames, issues=issues)


# --------------------------------------------------------------------------------------------
# coverage


@dataclass
class Coverage:
    """The coverage report of a mapping set against a table of records."""

    version: str
    table: str
    records: int
    unmapped_values: pd.DataFrame
    required_without_source: pd.DataFrame
    not_in_picklist: pd.DataFrame
    conflicts: pd.DataFrame
    unknown_sources: pd.DataFrame
    required_empty: pd.DataFrame

    @property
    def blocking(self) -> dict[str, int]:
        """Counts of the issues that stop a non-draft export."""
        return {
            "unmapped_values": len(self.unmapped_values),
            "required_without_source": len(self.required_without_source),
            "not_in_picklist": len(self.not_in_picklist),
            "conflicts": len(self.conflicts),
            "unknown_sources": len(self.unknown_sources),
        }

    @property
    def ok(self) -> bool:
        return not any(self.blocking.values())

    def counts(self) -> dict[str, int]:
        return {**self.blocking, "required_empty_fields": len(self.required_empty)}

    def describe(self) -> str:
        parts = [f"{n} {k.replace('_', ' ')}" for k, n in self.blocking.items() if n]
        return ", ".join(parts) or "no blocking issues"


def compute_coverage(
    records: pd.DataFrame,
    profiles: dict[str, TargetProfile],
    mapping: MappingSet,
    *,
    table: str = "std_customers",
    region: str = "CN",
    extra_columns: tuple[str, ...] = GOLDEN_ONLY_COLUMNS,
) -> Coverage:
    """Check a mapping set against records (``std_customers`` rows or golden records).

    Args:
        records: the rows whose values the mappings must cover.
        profiles: the target profiles by name.
        mapping: the mapping set.
        table: name of the records' table (shown in the report).
        region: default phone region.
        extra_columns: columns a mapping may read that `records` lacks here but the export has
            (golden-only columns such as master_id); lines reading them are checked at export.
    """
    unmapped, req_missing, bad_pick, unknown, req_empty = [], [], [], [], []
    cols = set(records.columns)
    for name, profile in profiles.items():
        lines = mapping.lines_for(name)
        mapped = {(ln.structure, ln.field): ln for ln in lines}
        for s, f in profile.qualified_fields():
            ln = mapped.get((s.id, f.name))
            if (
                f.required
                and (s.mandatory or s is profile.main)
                and ln is None
                and not (f.name == profile.key_field and s is not profile.main)
            ):
                req_missing.append((name, s.id, f.name, f.caption))
        for ln in lines:
            st_, f = profile.resolve_field(f"{ln.structure}.{ln.field}")

            def outside(value: str | None, s=st_, f=f) -> list[str]:
                parts = (
                    [p.strip() for p in (value or "").split(";")] if s.explode == f.name else [value or ""]
                )
                return [p for p in parts if p and f.allowed is not None and p not in f.allowed]

            for st in ln.steps:
                if st.name in ("constant", "default") and outside(st.arg):
                    bad_pick.append(
                        (name, ln.structure, ln.field, st.name, "", st.arg, "; ".join(f.allowed or []), 0)
                    )
            if f.allowed:
                for m in ln.value_maps:
                    for legacy, targets in mapping.value_maps.maps.get(m, {}).items():
                        for t in targets:
                            if outside(t):
                                bad_pick.append(
                                    (name, ln.structure, ln.field, m, legacy, t, "; ".join(f.allowed), 0)
                                )
            need = line_columns(ln)
            absent = [c for c in need if c not in cols]
            if absent:
                for c in absent:
                    if c not in extra_columns:
                        unknown.append((name, ln.structure, ln.field, c, ln.where))
                continue
            grouped = (
                records[need]
                .astype(object)
                .where(records[need].notna(), None)
                .value_counts(dropna=False)
                .rename("count")
                .reset_index()
                if need
                else pd.DataFrame({"count": [len(records)]})
            )
            applied = apply_line(ln, grouped, mapping.value_maps, region=region)
            for i in range(len(grouped)):
                issue = applied.issues.iloc[i]
                count = int(grouped["count"].iloc[i])
                if issue and issue.startswith("unmapped value"):
                    legacy = to_text(grouped[need[0]].iloc[[i]]).iloc[0] if need else ""
                    unmapped.append(
                        (
                            name,
                            ln.structure,
                            ln.field,
                            "+".join(ln.sources),
                            ",".join(ln.value_maps),
                            legacy,
                            count,
                        )
                    )
            if f.allowed and not ln.value_maps and ln.steps[0].name != "constant":
                vals = applied.values
                for i in range(len(grouped)):
                    v = vals.iloc[i]
                    if v is not None and outside(v):
                        bad_pick.append(
                            (
                                name,
                                ln.structure,
                                ln.field,
                                "",
                                "+".join(ln.sources),
                                v,
                                "; ".join(f.allowed),
                                int(grouped["count"].iloc[i]),
                            )
                        )
            if f.required:
                empty = int(grouped["count"][applied.values.isna().to_numpy()].sum())
                if empty:
                    req_empty.append((name, ln.structure, ln.field, "+".join(ln.sources), empty))
    unmapped_df = pd.DataFrame(
        unmapped,
        columns=["profile", "structure", "target_field", "source_field", "map_name", "legacy_value", "count"],
    )
    unmapped_df = (
        unmapped_df.groupby(
            ["profile", "structure", "target_field", "source_field", "map_name", "legacy_value"],
            as_index=False,
            dropna=False,
        )["count"]
        .sum()
        .sort_values(
            ["profile", "map_name", "count", "legacy_value"],
            ascending=[True, True, False, True],
            ignore_index=True,
        )
    )
    return Coverage(
        version=mapping.version,
        table=table,
        records=len(records),
        unmapped_values=unmapped_df,
        required_without_source=pd.DataFrame(
            req_missing, columns=["profile", "structure", "target_field", "label"]
        ),
        not_in_picklist=pd.DataFrame(
            bad_pick,
            columns=[
                "profile",
                "structure",
                "target_field",
                "map_name",
                "legacy_value",
                "target_value",
                "allowed",
                "count",
            ],
        ).drop_duplicates(ignore_index=True),
        conflicts=mapping.value_maps.conflicts(),
        unknown_sources=pd.DataFrame(
            unknown, columns=["profile", "structure", "target_field", "source_field", "where"]
        ),
        required_empty=pd.DataFrame(
            req_empty, columns=["profile", "structure", "target_field", "source_field", "empty_rows"]
        ),
    )


# --------------------------------------------------------------------------------------------
# sign-off


def read_approvals(path: Path) -> pd.DataFrame:
    """The approvals file (an empty table when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=APPROVAL_COLUMNS)
    return read_csv_table(path, APPROVAL_COLUMNS, required=["mapping_version", "approved_by"])[
        APPROVAL_COLUMNS
    ]


def check_approval(
    version: str,
    approvals: pd.DataFrame,
    required_roles: list[str] | None = None,
    *,
    path: Path | str = "approvals.csv",
) -> pd.DataFrame:
    """The approvals of `version`; raise when it is not (fully) signed off.

    Raises:
        MappingNotApprovedError: naming the version in use, the approved versions and how to fix it.
    """
    mine = approvals[approvals["mapping_version"] == version]
    roles = set(mine["role"].str.strip().str.lower())
    missing_roles = [r for r in (required_roles or []) if r.lower() not in roles]
    if mine.empty or missing_roles:
        approved = sorted(set(approvals["mapping_version"]) - {""})
        latest = approvals.iloc[-1] if len(approvals) else None
        hint = (
            f"; the latest approval ({latest['approved_by']}, {latest['approved_at']}) is for version "
            f"{latest['mapping_version'][:12]}…"
            if latest is not None
            else "; no mapping version has been approved yet"
        )
        what = f"roles {missing_roles} have not approved it" if not mine.empty else "it is not approved"
        raise MappingNotApprovedError(
            f"the mappings in use are version {version} but {what} in {path}{hint} "
            f"(approved versions: {[v[:12] for v in approved]}). The mapping files changed since sign-off: "
            "review the mapping workbook and add an approval line for the version in use, "
            "or export with draft mode on (export.draft: true) to get files marked DRAFT"
        )
    return mine.reset_index(drop=True)


def approve_mappings(
    path: Path,
    version: str,
    approved_by: str,
    role: str,
    *,
    comment: str = "",
    approved_at: str | None = None,
) -> pd.DataFrame:
    """Append an approval line for `version` to the approvals file (written atomically)."""
    from workbench.engine.files import write_bytes_atomic

    if not approved_by.strip():
        raise WorkbenchError("an approval needs the approver's name (approved_by)")
    current = read_approvals(path)
    when = approved_at or dt.datetime.now().replace(microsecond=0).isoformat()
    row = pd.DataFrame(
        [[version, approved_by.strip(), role.strip(), when, comment.strip()]], columns=APPROVAL_COLUMNS
    )
    out = pd.concat([current, row], ignore_index=True)
    write_bytes_atomic(Path(path), out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
    return out


def _close(value: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------------
# the mapping stage: coverage against the standardized records, review workbook, sign-off status

SHEETS = {
    "zh": {
        "summary": "概要",
        "fields": "字段映射",
        "values": "值映射",
        "unmapped_values": "未映射的值",
        "required_without_source": "必填无来源",
        "not_in_picklist": "不在可选值内",
        "conflicts": "映射冲突",
        "unknown_sources": "未知来源字段",
        "required_empty": "必填为空",
        "approvals": "审批记录",
        "transforms": "转换说明",
    },
    "en": {
        "summary": "Summary",
        "fields": "Field mapping",
        "values": "Value mappings",
        "unmapped_values": "Unmapped values",
        "required_without_source": "Required no source",
        "not_in_picklist": "Not in picklist",
        "conflicts": "Conflicts",
        "unknown_sources": "Unknown sources",
        "required_empty": "Required empty",
        "approvals": "Approvals",
        "transforms": "Transforms",
    },
}
SUMMARY_LABELS = {
    "zh": {
        "version": "映射版本 (SHA-256)",
        "approved": "已审批",
        "yes": "是",
        "no": "否 — 导出只能以 DRAFT 草稿模式进行",
        "table": "检查的数据表",
        "records": "记录数",
        "profiles": "目标模板",
        "item": "项目",
        "value": "值",
    },
    "en": {
        "version": "mapping version (SHA-256)",
        "approved": "approved",
        "yes": "yes",
        "no": "no — export runs only in DRAFT mode",
        "table": "records checked",
        "records": "records",
        "profiles": "target profiles",
        "item": "item",
        "value": "value",
    },
}


@dataclass
class MappingReport:
    """What the mapping stage found and wrote."""

    mapping: MappingSet
    coverage: Coverage
    approvals: pd.DataFrame
    approved: bool
    approval_problem: str | None
    workbook: Path | None
    profiles: dict[str, TargetProfile]

    def metrics(self) -> dict:
        return {
            "mapping_version": self.mapping.version,
            "approved": self.approved,
            "profiles": sorted(self.profiles),
            "mapped_fields": {n: len(self.mapping.lines_for(n)) for n in sorted(self.profiles)},
            "value_mapping_rows": len(self.mapping.value_maps.frame),
            "records_checked": self.coverage.records,
            **{f"coverage_{k}": v for k, v in self.coverage.counts().items()},
            "unmapped_value_rows": int(self.coverage.unmapped_values["count"].sum()),
        }

    def issues(self) -> pd.DataFrame:
        """All coverage issues in one table (kind, profile, target field, detail, count)."""
        return coverage_issues(self.coverage)


def coverage_issues(coverage: Coverage) -> pd.DataFrame:
    """Flatten a coverage report into one table: kind, profile, target_field, detail, count."""
    parts = []
    c = coverage
    if len(c.unmapped_values):
        parts.append(
            pd.DataFrame(
                {
                    "kind": "unmapped_value",
                    "profile": c.unmapped_values["profile"],
                    "target_field": c.unmapped_values["structure"] + "." + c.unmapped_values["target_field"],
                    "detail": c.unmapped_values["map_name"]
                    + ": "
                    + c.unmapped_values["legacy_value"].astype(str),
                    "count": c.unmapped_values["count"],
                }
            )
        )
    if len(c.required_without_source):
        r = c.required_without_source
        parts.append(
            pd.DataFrame(
                {
                    "kind": "required_without_source",
                    "profile": r["profile"],
                    "target_field": r["structure"] + "." + r["target_field"],
                    "detail": r["label"],
                    "count": 0,
                }
            )
        )
    if len(c.not_in_picklist):
        r = c.not_in_picklist
        parts.append(
            pd.DataFrame(
                {
                    "kind": "not_in_picklist",
                    "profile": r["profile"],
                    "target_field": r["structure"] + "." + r["target_field"],
                    "detail": r["target_value"].astype(str) + " ∉ {" + r["allowed"] + "}",
                    "count": r["count"],
                }
            )
        )
    if len(c.conflicts):
        r = c.conflicts
        parts.append(
            pd.DataFrame(
                {
                    "kind": "conflict",
                    "profile": "",
                    "target_field": r["map_name"],
                    "detail": r["legacy_value"] + " → " + r["target_values"],
                    "count": r["targets"],
                }
            )
        )
    if len(c.unknown_sources):
        r = c.unknown_sources
        parts.append(
            pd.DataFrame(
                {
                    "kind": "unknown_source",
                    "profile": r["profile"],
                    "target_field": r["structure"] + "." + r["target_field"],
                    "detail": r["source_field"] + " (" + r["where"] + ")",
                    "count": 0,
                }
            )
        )
    if len(c.required_empty):
        r = c.required_empty
        parts.append(
            pd.DataFrame(
                {
                    "kind": "required_empty (rows rejected at export)",
                    "profile": r["profile"],
                    "target_field": r["structure"] + "." + r["target_field"],
                    "detail": r["source_field"],
                    "count": r["empty_rows"],
                }
            )
        )
    cols = ["kind", "profile", "target_field", "detail", "count"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def field_mapping_overview(profiles: dict[str, TargetProfile], mapping: MappingSet) -> pd.DataFrame:
    """Every target field of every profile with its mapping (empty when unmapped)."""
    rows = []
    for name, profile in profiles.items():
        by_field = {(ln.structure, ln.field): ln for ln in mapping.lines_for(name)}
        for s, f in profile.qualified_fields():
            ln = by_field.get((s.id, f.name))
            auto = f.name == profile.key_field and s is not profile.main
            rows.append(
                {
                    "profile": name,
                    "structure": s.id,
                    "sheet": s.sheet or "",
                    "target_field": f.name,
                    "label": f.label,
                    "type": f.type,
                    "length": f.length,
                    "required": f.required,
                    "allowed": "; ".join(f.allowed) if f.allowed else "",
                    "confirmed": f.confirmed,
                    "source_field": "+".join(ln.sources) if ln else ("(key of first sheet)" if auto else ""),
                    "transform": ln.transform if ln else "",
                    "note": ln.note if ln else "",
                    "mapped": bool(ln) or auto,
                }
            )
    return pd.DataFrame(rows)


def write_review_workbook(
    path: Path,
    profiles: dict[str, TargetProfile],
    mapping: MappingSet,
    coverage: Coverage,
    approvals: pd.DataFrame,
    *,
    approved: bool,
    language: str = "zh",
) -> Path:
    """The Excel workbook IT and business review: mappings, coverage issues, approvals (atomic)."""
    from workbench.engine.files import atomic_path

    names = SHEETS[language]
    lab = SUMMARY_LABELS[language]
    summary = pd.DataFrame(
        [
            (lab["version"], mapping.version),
            (lab["approved"], lab["yes"] if approved else lab["no"]),
            (lab["profiles"], ", ".join(profiles)),
            (lab["table"], coverage.table),
            (lab["records"], coverage.records),
            *[(k, v) for k, v in coverage.counts().items()],
        ],
        columns=[lab["item"], lab["value"]],
    )
    values = mapping.value_maps.frame.drop(columns=["line"], errors="ignore")
    sheets = {
        "summary": summary,
        "fields": field_mapping_overview(profiles, mapping),
        "values": values,
        "unmapped_values": coverage.unmapped_values,
        "required_without_source": coverage.required_without_source,
        "not_in_picklist": coverage.not_in_picklist,
        "conflicts": coverage.conflicts,
        "unknown_sources": coverage.unknown_sources,
        "required_empty": coverage.required_empty,
        "approvals": approvals,
        "transforms": pd.DataFrame(list(TRANSFORMS.items()), columns=["transform", "meaning"]),
    }
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="xlsxwriter") as writer:
        writer.book.set_properties({"created": dt.datetime(2000, 1, 1), "title": "mapping review"})
        for key, frame in sheets.items():
            frame = frame.astype(object).where(frame.notna(), "")
            frame.to_excel(writer, sheet_name=names[key], index=False)
            ws = writer.sheets[names[key]]
            ws.freeze_panes(1, 0)
            if len(frame.columns):
                ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
                ws.set_column(0, len(frame.columns) - 1, 18)
    return path


def read_records_for_coverage(con, table: str, mapping: MappingSet) -> pd.DataFrame:
    """Only the columns of `table` that the mapping lines read (keeps big tables cheap)."""
    from workbench.engine.connection import table_columns
    from workbench.engine.sql import ident

    have = table_columns(con, table)
    need = sorted(
        {c for lines in mapping.lines.values() for ln in lines for c in line_columns(ln)} & set(have)
    )
    if not need:
        count = con.sql(f"select count(*) from {ident(table)}").fetchall()[0][0]
        return pd.DataFrame(index=range(count))
    cols = ", ".join(ident(c) for c in need)
    return con.sql(f"select {cols} from {ident(table)}").df()


def review_mappings(ctx, *, table: str = "std_customers") -> MappingReport:
    """Stage ``mapping``: check the mapping files, compute coverage, write the review workbook.

    Writes ``tables/mapping_review.xlsx`` and the table ``mapping_coverage`` (see
    :func:`coverage_issues`). It does not stop on coverage issues: the report is the point; the
    export stage refuses to run on them.
    """
    from workbench.core.targets.profiles import load_project_profiles
    from workbench.engine.connection import table_exists

    config = ctx.config
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    con = ctx.connect()
    try:
        if not table_exists(con, table):
            raise WorkbenchError(f"table {table!r} is missing; run the standardize stage first")
        records = read_records_for_coverage(con, table, mapping)
        coverage = compute_coverage(
            records, profiles, mapping, table=table, region=config.project.default_region
        )
        issues = coverage_issues(coverage)
        con.register("__wb_cov", issues)
        con.execute(
            "create or replace table mapping_coverage as select kind::varchar kind, profile::varchar profile, "
            "target_field::varchar target_field, detail::varchar detail, count::bigint count from __wb_cov "
            "order by kind, profile, target_field, detail"
        )
        con.unregister("__wb_cov")
    finally:
        con.close()
    apath = approvals_path(config)
    approvals = read_approvals(apath)
    try:
        mine = check_approval(mapping.version, approvals, config.export.required_approval_roles, path=apath)
        approved, problem = True, None
    except MappingNotApprovedError as exc:
        mine, approved, problem = approvals, False, str(exc)
    workbook = write_review_workbook(
        ctx.paths.tables / "mapping_review.xlsx",
        profiles,
        mapping,
        coverage,
        approvals,
        approved=approved,
        language=config.project.language,
    )
    return MappingReport(
        mapping=mapping,
        coverage=coverage,
        approvals=mine,
        approved=approved,
        approval_problem=problem,
        workbook=workbook,
        profiles=profiles,
    )
