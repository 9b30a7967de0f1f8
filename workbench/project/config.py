"""The project config: one YAML file that describes a whole migration project.

This module owns the schema of ``workbench.yaml`` and its loader. The loader checks the file in one
pass and reports *every* problem at once, each naming the file, the key, the bad value and a
suggestion (:class:`~workbench.errors.ConfigError`). Paths in the file are relative to the file.

Phase-specific sections (``standardize``, ``match``, …) are typed models owned by their phase
packages and imported here, so that a wrong key anywhere in the file is caught at load time.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import ConfigError, SourceError
from workbench.project.settings import (
    ExportSettings,
    MatchSettings,
    ReportSettings,
    StandardizeSettings,
    SurvivorshipSettings,
)
from workbench.project.settings.ingest import IngestSettings

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
LINEAGE_COLUMNS = ("_source", "_file", "_row_number", "_row_hash")
# stg_<name> of these would clash with tables the workbench writes itself
RESERVED_SOURCE_NAMES = frozenset({"columns", "customers", "summary"})


class Kind(StrEnum):
    """What a canonical field holds; it decides how the field is profiled, standardized and matched."""

    ID = "id"
    COMPANY_NAME = "company_name"
    PERSON_NAME = "person_name"
    CUSTOMER_NAME = "customer_name"  # company or person, not known in advance
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    POSTCODE = "postcode"
    COUNTRY = "country"
    TAX_ID = "tax_id"  # Unified Social Credit Code or another national tax / company ID
    PERSON_ID = "person_id"  # a person's national ID: resident ID card, SSN, passport number
    DATE = "date"
    AMOUNT = "amount"
    NUMBER = "number"
    STATUS = "status"
    CODE = "code"
    FLAG = "flag"
    URL = "url"
    TEXT = "text"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnSpec(_Strict):
    """How one source column maps to a canonical field."""

    field: str = Field(pattern=NAME_PATTERN, description="canonical field name (snake_case)")
    kind: Kind = Field(Kind.TEXT, description="what the field holds; decides standardizing and matching")
    description: str = Field("", description="free text for the reviewers")


class CombineSpec(_Strict):
    """A field built from several fields of the same source (e.g. an address from three columns).

    The parts stay fields of their own (the staged table keeps every column); the combined field is
    their trimmed, non-empty values joined by ``separator``, standardized by its kind like any
    field, and its ``<field>_raw`` in ``std_customers`` is the joined text.
    """

    parts: list[str] = Field(
        min_length=2,
        alias="from",
        description="the fields (of this source's `columns`) joined, in order",
    )
    kind: Kind | None = Field(
        None, description="kind of the combined field; default: the kind named like the field, else text"
    )
    separator: str = Field(" ", description="put between two non-empty parts")


class DatabaseSpec(_Strict):
    """A source read from a database (``format: postgres``) instead of a file."""

    connection_env: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of the environment variable holding the connection string (a libpq URL such "
        "as postgresql://user@host/db, or key=value pairs); the password stays in the environment (or "
        "~/.pgpass) and is never written to the config, the run folder, the logs or the reports",
    )
    table: str | None = Field(
        None, description="table or view to read, optionally with its schema (legacy.customers)"
    )
    query: str | None = Field(None, description="a SELECT to read instead of a table")

    @property
    def what(self) -> str:
        """The table, or ``query``: how the source is named in messages (never the connection)."""
        return self.table or "query"


class SourceSpec(_Strict):
    """One legacy export."""

    name: str = Field(pattern=NAME_PATTERN, description="short source name, e.g. erp, crm")
    path: Path | None = Field(
        None, description="the file, relative to the config file (not for a database source)"
    )
    role: Literal["customers", "activity"] = Field(
        "customers", description="customers: customer records; activity: transactions / receivables"
    )
    format: Literal["csv", "xlsx", "parquet", "postgres"] | None = Field(
        None, description="default: from the file extension; postgres: read `database:`"
    )
    database: DatabaseSpec | None = Field(None, description="format postgres: where to read the rows")
    encoding: str = Field(
        "auto", description="auto (UTF-8, UTF-8 BOM, GBK/GB18030, …) or a Python codec name"
    )
    delimiter: str = Field(",", description="CSV cell separator")
    sheet: str | int | None = Field(None, description="Excel sheet name or 0-based index; default the first")
    header_row: int = Field(1, ge=1, description="1-based row number of the header in the file/sheet")
    id_column: str = Field(description="header of the column holding the source's customer ID")
    customer_source: str | None = Field(
        None, description="activity sources only: the customer source whose IDs the id_column holds"
    )
    columns: dict[str, ColumnSpec] = Field(
        description="header → {field, kind}; `header: field` means kind text"
    )
    keep_unmapped: bool = Field(True, description="stage columns not listed in `columns` as text")
    combine: dict[str, CombineSpec] = Field(
        default_factory=dict,
        description="field → {from: [fields], kind, separator}: a field built from several columns",
    )
    region: str | None = Field(
        None,
        pattern=r"^[A-Z]{2}$",
        description=(
            "ISO 3166 country of this source's records where no country field says otherwise "
            "(phones, postcodes, tax and person IDs, date order); default standardize.default_region"
        ),
    )
    day_first: bool | None = Field(
        None,
        description="read 05/03/2021 in this source as 5 March (false: 3 May); default from the region",
    )
    label: str = Field("", description="a longer name for reports")

    @field_validator("format", mode="before")
    @classmethod
    def _lower_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand_columns(cls, value: Any) -> Any:
        # `列名: field_name` is shorthand for {field: field_name, kind: text}
        if isinstance(value, dict):
            return {k: ({"field": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @field_validator("combine", mode="before")
    @classmethod
    def _shorthand_combine(cls, value: Any) -> Any:
        # `address: [street_number, street, suburb]` is shorthand for {from: [...]}
        if isinstance(value, dict):
            return {k: ({"from": v} if isinstance(v, list) else v) for k, v in value.items()}
        return value

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        if self.database is not None:
            return "postgres"
        if self.path is None:
            return ""
        suffix = self.path.suffix.lower().lstrip(".")
        return {"xls": "xlsx", "xlsm": "xlsx", "pq": "parquet", "txt": "csv", "tsv": "csv"}.get(
            suffix, suffix
        )

    @property
    def origin(self) -> str:
        """Where the rows come from, as recorded in the ingest tables and messages: the file as
        written in the config, or ``postgres:<table or query> ($<connection_env>)`` (never the
        connection string)."""
        if self.database is not None:
            return f"postgres:{self.database.what} (${self.database.connection_env})"
        return str(self.path)

    @property
    def id_field(self) -> str:
        return self.columns[self.id_column].field

    def fields_of_kind(self, *kinds: Kind | str) -> list[str]:
        """Staged fields of this source (from `columns`) whose kind is one of `kinds`."""
        wanted = {Kind(k) for k in kinds}
        return [c.field for c in self.columns.values() if c.kind in wanted]

    def staged_field_kinds(self) -> dict[str, Kind]:
        """Kinds of the fields staged from a file column (`columns`), in column order."""
        return {c.field: c.kind for c in self.columns.values()}

    def combined_kinds(self) -> dict[str, Kind]:
        """Kinds of the fields built from several columns (`combine`)."""
        return {name: combined_kind(name, spec) for name, spec in self.combine.items()}

    def field_kinds(self) -> dict[str, Kind]:
        """Kinds of every canonical field of this source: staged fields, then combined ones."""
        return {**self.staged_field_kinds(), **self.combined_kinds()}


class ProjectSpec(_Strict):
    name: str = Field(description="project name shown in reports")
    language: Literal["zh", "en"] = Field("zh", description="language of reports and charts for business")
    default_region: str = Field("CN", pattern=r"^[A-Z]{2}$", description="ISO 3166 country for phones")
    seed: int = Field(42, description="seeds every random step (sampling, training) so reruns are identical")
    as_of_date: dt.date | None = Field(
        None, description="reference date for activity and staleness; default: the newest activity date"
    )


class OutputSpec(_Strict):
    dir: Path = Field(Path("output"), description="where runs are written: <dir>/runs/<run id>/")


class ProjectConfig(_Strict):
    """The whole project config, with paths resolved against the config file's folder."""

    project: ProjectSpec = Field(description="name, language, default region, seed, reference date")
    sources: list[SourceSpec] = Field(description="the legacy exports, one entry each")
    output: OutputSpec = Field(OutputSpec(), description="where outputs go")
    stages: list[str] | None = Field(None, description="stage ids to run; default all")
    ingest: IngestSettings = IngestSettings()
    standardize: StandardizeSettings = StandardizeSettings()
    match: MatchSettings = MatchSettings()
    survivorship: SurvivorshipSettings = SurvivorshipSettings()
    export: ExportSettings = ExportSettings()
    report: ReportSettings = ReportSettings()

    config_path: Path = Field(Path("workbench.yaml"), exclude=True)

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent

    @property
    def output_dir(self) -> Path:
        return _resolve(self.base_dir, self.output.dir)

    def source_path(self, source: SourceSpec) -> Path:
        """The source's file (a database source has none: refused with its name)."""
        if source.path is None:
            raise SourceError(f"source {source.name!r} reads a database; it has no file")
        return _resolve(self.base_dir, source.path)

    def resolve(self, path: Path | str) -> Path:
        """Resolve a path written in the config file against the config file's folder."""
        return _resolve(self.base_dir, Path(path))

    @property
    def customer_sources(self) -> list[SourceSpec]:
        return [s for s in self.sources if s.role == "customers"]

    @property
    def activity_sources(self) -> list[SourceSpec]:
        return [s for s in self.sources if s.role == "activity"]

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(f"no source named {name!r}; known: {[s.name for s in self.sources]}")

    def field_kinds(self) -> dict[str, Kind]:
        """Kinds of every canonical field of the customer sources (first definition wins)."""
        kinds: dict[str, Kind] = {}
        for s in self.customer_sources:
            for f, k in s.field_kinds().items():
                kinds.setdefault(f, k)
        return kinds


def _resolve(base: Path, path: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def combined_kind(name: str, spec: CombineSpec) -> Kind:
    """The kind of a combined field: the configured one, else the kind named like the field, else text."""
    if spec.kind is not None:
        return spec.kind
    try:
        return Kind(name)
    except ValueError:
        return Kind.TEXT


# --------------------------------------------------------------------------------------------
# loading


def load_config(path: str | Path, *, check_files: bool = True) -> ProjectConfig:
    """Read and validate a project config file.

    Args:
        path: the YAML file.
        check_files: also check that every source file exists.

    Returns:
        The validated config, with ``config_path`` set to the absolute path of the file.

    Raises:
        ConfigError: listing every problem found, each with the key, value and a suggestion.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(
            str(path), ["the config file does not exist; create it (see README) or fix the path"]
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text ({exc}); save the file as UTF-8"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}invalid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    return parse_config(raw, path, check_files=check_files)


def parse_config(raw: Any, path: Path, *, check_files: bool = True) -> ProjectConfig:
    """Validate an already parsed config mapping (see :func:`load_config`)."""
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["the file must hold a mapping with `project:` and `sources:` keys"])
    problems: list[str] = []
    config: ProjectConfig | None = None
    try:
        config = ProjectConfig.model_validate({**raw, "config_path": path})
    except ValidationError as exc:
        problems.extend(_describe_validation_error(exc, raw))
    # go on with every source that is valid on its own, to find the semantic problems too
    sources: list[tuple[int, SourceSpec]] = []
    for i, item in enumerate(raw.get("sources") or [] if isinstance(raw.get("sources"), list) else []):
        try:
            sources.append((i, SourceSpec.model_validate(item)))
        except ValidationError:
            problems.extend(_raw_source_problems(i, item, path.parent, check_files=check_files))
    all_sources_valid = len(sources) == len(raw.get("sources") or [])
    stages = raw.get("stages") if isinstance(raw.get("stages"), list) else None
    problems.extend(
        _semantic_problems(
            sources,
            path.parent,
            stages,
            check_files=check_files,
            complete=all_sources_valid,
            all_names=[str(x.get("name")) for x in raw.get("sources") or [] if isinstance(x, dict)],
        )
    )
    if problems:
        raise ConfigError(str(path), problems)
    assert config is not None
    return config


def _describe_validation_error(exc: ValidationError, raw: dict) -> list[str]:
    out = []
    for err in exc.errors():
        loc = _format_loc(err["loc"], raw)
        value = err.get("input")
        typ = err["type"]
        if typ == "extra_forbidden":
            key = str(err["loc"][-1])
            allowed = _allowed_keys(err["loc"][:-1], raw)
            hint = _did_you_mean(key, allowed)
            out.append(f"{loc}: unknown key {key!r}.{hint} Allowed keys: {', '.join(sorted(allowed))}")
        elif typ == "missing":
            out.append(f"{loc}: required key is missing; add it")
        elif typ == "enum" or typ == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            options = re.findall(r"'([^']+)'", expected)
            hint = _did_you_mean(str(value), options)
            out.append(f"{loc}: {value!r} is not allowed.{hint} Expected one of: {expected}")
        elif typ == "string_pattern_mismatch":
            out.append(
                f"{loc}: {value!r} is not a valid name; use lower-case letters, digits and _ "
                f"(start with a letter, at most 40 characters), e.g. {_slug(str(value))!r}"
            )
        else:
            out.append(f"{loc}: {err['msg']} (got {value!r})")
    return out


def _semantic_problems(
    sources: list[tuple[int, SourceSpec]],
    base_dir: Path,
    stages: list | None,
    *,
    check_files: bool,
    complete: bool = True,
    all_names: list[str] | None = None,
) -> list[str]:
    """The problems a schema cannot see: names, kinds across sources, roles, files, stage ids."""
    names = [s.name for _, s in sources]
    known_names = names + [n for n in (all_names or []) if n not in names]
    problems = _source_list_problems(sources, complete)
    kinds: dict[str, tuple[str, Kind]] = {}
    for i, s in sources:
        where = f"sources[{i}] ({s.name})"
        problems += _column_problems(s, where)
        problems += _combine_problems(s, where)
        problems += _kind_conflicts(s, where, kinds)
        problems += _role_problems(s, where, sources, known_names)
        problems += _file_problems(s, where, base_dir, check_files=check_files)
    return problems + _stage_problems(stages)


def _source_list_problems(sources: list[tuple[int, SourceSpec]], complete: bool) -> list[str]:
    problems: list[str] = []
    names = [s.name for _, s in sources]
    if not sources and complete:
        problems.append("sources: no valid source is listed; add at least one customer source")
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"sources: the name {dup!r} is used twice; source names must be unique")
    for i, s in sources:
        if s.name in RESERVED_SOURCE_NAMES:
            problems.append(
                f"sources[{i}].name: {s.name!r} is reserved (its staged table would clash with "
                f"stg_{s.name}); choose another name, e.g. {s.name + '_src'!r}"
            )
    if complete and sources and not any(s.role == "customers" for _, s in sources):
        problems.append("sources: no source has role `customers`; at least one must")
    return problems


def _column_problems(s: SourceSpec, where: str) -> list[str]:
    problems: list[str] = []
    if s.id_column not in s.columns:
        hint = _did_you_mean(s.id_column, list(s.columns))
        problems.append(
            f"{where}.id_column: {s.id_column!r} is not one of the listed `columns`.{hint} "
            f"List the ID column under `columns` with kind `id`"
        )
    fields = [c.field for c in s.columns.values()]
    for dup in sorted({f for f in fields if fields.count(f) > 1}):
        cols = [c for c, spec in s.columns.items() if spec.field == dup]
        problems.append(
            f"{where}.columns: the columns {cols} all map to the field {dup!r}; map each to its own field"
        )
    for f in fields:
        if f.startswith("_"):
            problems.append(f"{where}.columns: field {f!r} starts with _, which is kept for lineage columns")
    return problems


def _combine_problems(s: SourceSpec, where: str) -> list[str]:
    """A combined field is built from fields of the same source and is not one of them."""
    problems: list[str] = []
    staged = s.staged_field_kinds()
    for name, spec in s.combine.items():
        key = f"{where}.combine.{name}"
        if not re.fullmatch(NAME_PATTERN, name):
            problems.append(f"{key}: {name!r} is not a valid field name; use e.g. {_slug(name)!r}")
        if name in staged:
            problems.append(
                f"{key}: {name!r} is already the field of a column; give the combined field its own "
                f"name, or map that column to another field"
            )
        for part in spec.parts:
            if part not in staged:
                hint = _did_you_mean(part, list(staged))
                problems.append(
                    f"{key}.from: {part!r} is not a field of this source's `columns`.{hint} "
                    f"List the fields (not the headers) to join"
                )
        dups = sorted({p for p in spec.parts if spec.parts.count(p) > 1})
        if dups:
            problems.append(f"{key}.from: {dups} listed twice; list each part once")
    return problems


def _kind_conflicts(s: SourceSpec, where: str, kinds: dict[str, tuple[str, Kind]]) -> list[str]:
    """One field has one kind in every customer source (`kinds` collects the first one seen)."""
    if s.role != "customers":
        return []
    problems: list[str] = []
    entries = [(f"columns.{col}", spec.field, spec.kind) for col, spec in s.columns.items()]
    entries += [(f"combine.{name}", name, kind) for name, kind in s.combined_kinds().items()]
    for key, field, kind in entries:
        prev = kinds.get(field)
        if prev and prev[1] != kind:
            problems.append(
                f"{where}.{key}: field {field!r} has kind {kind.value!r} here but "
                f"{prev[1].value!r} in source {prev[0]!r}; one field has one kind in all sources"
            )
        else:
            kinds[field] = (s.name, kind)
    return problems


def _role_problems(
    s: SourceSpec, where: str, sources: list[tuple[int, SourceSpec]], known_names: list[str]
) -> list[str]:
    if s.role != "activity":
        if s.customer_source:
            return [f"{where}.customer_source: only sources with role `activity` take this key"]
        return []
    problems: list[str] = []
    example = next((o.name for _, o in sources if o.role == "customers"), "erp")
    if not s.customer_source:
        problems.append(
            f"{where}.customer_source: an activity source must name the customer source whose IDs "
            f"its `id_column` holds, e.g. customer_source: {example!r}"
        )
    elif s.customer_source not in known_names:
        hint = _did_you_mean(s.customer_source, known_names)
        problems.append(f"{where}.customer_source: no source named {s.customer_source!r}.{hint}")
    if not s.fields_of_kind(Kind.DATE):
        problems.append(f"{where}.columns: an activity source needs a column of kind `date`")
    return problems


def _file_problems(s: SourceSpec, where: str, base_dir: Path, *, check_files: bool) -> list[str]:
    import codecs

    if s.file_format == "postgres" or s.database is not None:
        return _database_problems(s, where, check_files=check_files)
    problems: list[str] = []
    if s.path is None:
        return [f"{where}.path: missing; give the export file (or `format: postgres` and `database:`)"]
    if s.file_format not in ("csv", "xlsx", "parquet"):
        problems.append(
            f"{where}.format: cannot tell the format of {str(s.path)!r}; set `format:` to csv, xlsx or parquet"
        )
    if s.encoding != "auto":
        try:
            codecs.lookup(s.encoding)
        except LookupError:
            problems.append(
                f"{where}.encoding: unknown encoding {s.encoding!r}; use auto, utf-8, utf-8-sig, gbk or gb18030"
            )
    if check_files and not _resolve(base_dir, s.path).exists():
        problems.append(
            f"{where}.path: file not found: {_resolve(base_dir, s.path)}; check the path "
            "(relative to the config file)"
        )
    return problems


def _database_problems(s: SourceSpec, where: str, *, check_files: bool) -> list[str]:
    db = s.database
    if s.file_format != "postgres":
        return [f"{where}.database: only a source with `format: postgres` reads a database"]
    if db is None:
        return [f"{where}.database: missing; give connection_env and a table or a query"]
    problems: list[str] = []
    if s.path is not None:
        problems.append(f"{where}.path: a database source has no file; remove `path:`")
    if (db.table is None) == (db.query is None):
        problems.append(f"{where}.database: give exactly one of `table:` and `query:`")
    if check_files and not os.environ.get(db.connection_env):
        problems.append(
            f"{where}.database.connection_env: the environment variable {db.connection_env} is not set; "
            "export it with the connection string (e.g. postgresql://user@host:5432/db) before the run"
        )
    return problems


def _stage_problems(stages: list | None) -> list[str]:
    if stages is None:
        return []
    from workbench.project.stages import STAGE_IDS

    known = list(STAGE_IDS)
    return [
        f"stages: unknown stage {st!r}.{_did_you_mean(st, known)} Known: {', '.join(known)}"
        for st in stages
        if st not in known
    ]


def _raw_source_problems(i: int, item: Any, base_dir: Path, *, check_files: bool) -> list[str]:
    """The checks that still make sense on a source entry that did not validate."""
    if not isinstance(item, dict):
        return []
    where = f"sources[{i}] ({item.get('name', '?')})"
    problems = []
    raw_columns = item.get("columns")
    columns: dict[str, Any] = raw_columns if isinstance(raw_columns, dict) else {}
    id_column = item.get("id_column")
    if columns and isinstance(id_column, str) and id_column not in columns:
        hint = _did_you_mean(id_column, list(columns))
        problems.append(f"{where}.id_column: {id_column!r} is not one of the listed `columns`.{hint}")
    fields = [v if isinstance(v, str) else (v or {}).get("field") for v in columns.values()]
    for dup in sorted({f for f in fields if f and fields.count(f) > 1}):
        problems.append(
            f"{where}.columns: several columns map to the field {dup!r}; map each to its own field"
        )
    if check_files and isinstance(item.get("path"), str):
        p = _resolve(base_dir, Path(item["path"]))
        if not p.exists():
            problems.append(
                f"{where}.path: file not found: {p}; check the path (relative to the config file)"
            )
    return problems


def _format_loc(loc: tuple, raw: dict) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if (
                isinstance(node, list)
                and item < len(node)
                and isinstance(node[item], dict)
                and "name" in node[item]
            ):
                label += f" ({node[item]['name']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts) or "(top level)"


def _allowed_keys(loc: tuple, raw: dict) -> list[str]:
    model: Any = ProjectConfig
    for item in loc:
        if isinstance(item, int) or model is None:
            continue
        field = model.model_fields.get(str(item)) if hasattr(model, "model_fields") else None
        if field is None:
            # a dict key such as a column name under `columns`
            model = ColumnSpec if model is SourceSpec and item != "columns" else model
            continue
        model = _model_of(field.annotation)
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [k for k in model.model_fields if k != "config_path"]


def _model_of(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(value: str, options: list[str]) -> str:
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
    return slug if slug and slug[0].isalpha() else f"s_{slug}"
